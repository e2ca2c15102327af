"""The Pathfinder "snakes" generator (Linsley, Kim et al., Learning long-range spatial dependencies with
horizontal gated recurrent units, NeurIPS 2018, arXiv:1805.08315; drewlinsley/pathfinder ``snakes2.py``
and ``snakes.py`` at ab9c130, MIT), re-implemented from its description (LRA's appendix and the snakes
code's documented settings) with the
parameters LRA used (docstrings of ``lra_benchmarks/data/pathfinder.py``).

One image: a label ~ U{0, 1}; a paddle margin from ``paddle_margin_list``; two target snakes of
``contour_length`` paddles grown side by side from two seeds ``seed_distance`` apart (retried until
both complete); ``num_distractor_snakes`` distractor snakes of ``distractor_length`` paddles (those
that fail after their retrials are left out); two markers (disks of ``marker_radius``) at a tip of
snake A and at the far tip of snake A (label 1) or of snake B (label 0); pixel-wise maxima; the
image rescaled to 0..255 by its own min and max and saved as an 8-bit PNG.

A paddle is a line of ``paddle_length`` and ``paddle_thickness`` drawn by PIL at ``antialias_scale``
times the resolution and Lanczos-downsampled (contrast: snake contrast x paddle contrast for the
targets, the snake contrast for distractors); its occupancy mask is the same line dilated by a disk
of ``margin * antialias_scale``, downsampled. A snake grows from a pivot: the next paddle's head is
drawn on the circle of radius ``length + margin`` around ``pivot + (length + 2 margin) * direction``,
with probability proportional to (1 - occupancy dilated by a disk of ``margin``) times
max(cos(min(continuity * turn, pi / 2)), 0)^2, and is rejected when occupancy + its mask exceeds 1.8
(``max_paddle_retrial`` + 1 tries). The mask of a paddle joins the occupancy only when the next one
is placed, so consecutive paddles may touch.

Semantics are those of the original commit (Python 2, ``scipy.misc.imresize`` byte-scaling to uint8
before the Lanczos resize), not of the later NumPy-2 compatibility commit (which makes the markers
invisible, spec 3.3). Dilation is a maximum filter (``cv2.dilate``); a line-shaped structuring
element keeps, as ``astype(uint8)`` does, only the mask pixels equal to 1.

Departures [A]: draws come from a per-image ``RandomState`` and ``random.Random`` seeded from
(generator seed, image index), in the original's order, so images are reproducible and any prefix of
a data set is the smaller data set; PIL's line rasterisation and PNG encoder are today's, so pixels
can differ from the released images by rounding while the process is the same.
"""
from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

Coord = list  # [row, column] of ints


@dataclass(frozen=True)
class SnakeParams:
    """The generator's arguments (``snakes2_wrapper.Args``) that LRA sets."""

    window_size: int
    padding: int
    antialias_scale: int
    paddle_margin_list: tuple[int, ...]
    paddle_length: int
    paddle_thickness: float
    marker_radius: float
    seed_distance: int
    continuity: float
    contour_length: int
    distractor_length: int
    num_distractor_snakes: int
    snake_contrast_list: tuple[float, ...]
    paddle_contrast_list: tuple[float, ...] = (1.0,)
    max_distractor_contour_retrial: int = 4
    max_paddle_retrial: int = 2
    use_single_paddles: bool = False  # snakes2_wrapper.py sets False before generating

    def metadata(self, margin: int) -> list:
        """Fields 4.. of a metadata row (after subpath, file name, index and label)."""
        return [self.continuity, self.contour_length, self.distractor_length, self.paddle_length,
                self.paddle_thickness, margin, len(self.paddle_contrast_list)]


DIFFICULTIES = {"curv_baseline": 6, "curv_contour_length_9": 9, "curv_contour_length_14": 14}


def pathfinder_params(resolution: int, difficulty: str = "curv_contour_length_14") -> SnakeParams:
    """LRA's Pathfinder32 ("Pathfinder") and Pathfinder128 ("Path-X") settings. Distractor length and
    count use integer division, as ``//`` in the 32 docstring and Python 2 ``/`` in the 128 one."""
    length = DIFFICULTIES[difficulty]
    distractor = length // 3
    if resolution == 32:
        return SnakeParams(window_size=32, padding=1, antialias_scale=2, paddle_margin_list=(1,), paddle_length=2,
                           paddle_thickness=0.5, marker_radius=1.5, seed_distance=7, continuity=1.0,
                           contour_length=length, distractor_length=distractor,
                           num_distractor_snakes=20 // distractor, snake_contrast_list=(2.0,),
                           paddle_contrast_list=(0.75,))
    if resolution == 128:  # antialias_scale is set to 4, then overwritten by 2
        return SnakeParams(window_size=128, padding=1, antialias_scale=2, paddle_margin_list=(2, 3), paddle_length=5,
                           paddle_thickness=1.5, marker_radius=3, seed_distance=20, continuity=1.8,
                           contour_length=length, distractor_length=distractor,
                           num_distractor_snakes=35 // distractor, snake_contrast_list=(0.9,))
    raise ValueError(f"LRA generated Pathfinder at 32 and 128 pixels only, not {resolution}")


# -- image primitives -----------------------------------------------------------------------------
def bytescale(image: np.ndarray) -> np.ndarray:
    """``scipy.misc.bytescale``: min -> 0, max -> 255, rounded; uint8 input passes unchanged."""
    if image.dtype == np.uint8:
        return image
    low, high = float(image.min()), float(image.max())
    scale = 255.0 / ((high - low) or 1.0)
    return (np.clip((image - low) * scale, 0, 255) + 0.5).astype(np.uint8)


def lanczos_resize(image: np.ndarray, size: int) -> np.ndarray:
    """``scipy.misc.imresize(image, (size, size), interp='lanczos')``: bytescale, then PIL's Lanczos."""
    resized = Image.fromarray(bytescale(image), mode="L").resize((size, size), resample=Image.Resampling.LANCZOS)
    return np.asarray(resized)


def dilate(image: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """``cv2.dilate(image, footprint.astype(uint8))``: the maximum over the footprint's nonzero cells."""
    cells = footprint.astype(np.uint8) != 0
    if not cells.any():
        return np.zeros_like(image, dtype=float)
    return ndimage.maximum_filter(np.asarray(image, dtype=float), footprint=cells, mode="constant", cval=0.0)


def disk(radius: int) -> np.ndarray:
    """The (2r+1)^2 structuring element with x^2 + y^2 <= r^2."""
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return (x ** 2 + y ** 2 <= radius ** 2).astype(float)


def translate(coord: Sequence, orientation: float, distance: float) -> Coord:
    """Move ``distance`` along ``orientation`` (radians; rows grow with sin), rounding up."""
    return [int(math.ceil(coord[0] + distance * math.sin(orientation))),
            int(math.ceil(coord[1] + distance * math.cos(orientation)))]


def flip(orientation: float) -> float:
    return orientation + math.pi if orientation < 0 else orientation - math.pi


def available(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the cells that ``ceil(mask - 0.3)`` leaves free."""
    return np.nonzero(np.ceil(mask - 0.3) == 0)


def outside(size: int, *coords: Sequence) -> bool:
    return any(not (0 <= c[0] < size and 0 <= c[1] < size) for c in coords)


def encode_png(image: np.ndarray) -> bytes:
    """``scipy.misc.imsave``: byte-scaled by the image's own min and max, 8-bit grey PNG."""
    buffer = io.BytesIO()
    Image.fromarray(bytescale(image), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


# -- the process ----------------------------------------------------------------------------------
@dataclass
class Snake:
    """A growing snake: its image, the mask of its newest paddle (not yet in the occupancy), the
    pivot and orientation the next paddle grows from, and its two tips."""

    image: np.ndarray
    segment_mask: np.ndarray
    pivot: Coord
    orientation: float
    origin: Coord
    tip: Coord | None = None


class SnakeDrawer:
    """Draws Pathfinder images with ``params``; ``rng`` (numpy RandomState) and ``shuffler`` (Python
    random) take the draws of the original's ``np.random`` and ``random``."""

    def __init__(self, params: SnakeParams, rng: np.random.RandomState, shuffler: random.Random):
        self.p, self.rng, self.shuffler = params, rng, shuffler
        self.size = params.window_size
        self.set_margin(params.paddle_margin_list[0])

    def set_margin(self, margin: int) -> None:
        self.margin = margin
        self.small_struct, self.large_struct = disk(margin), disk(margin * self.p.antialias_scale)

    def blank(self) -> np.ndarray:
        return np.zeros((self.size, self.size))

    def pick(self, values: Sequence, strict: bool = False):
        """One of ``values``; a draw is made when there is more than one (``strict``) or at least one."""
        if len(values) > (1 if strict else 0):
            return values[self.rng.randint(low=0, high=len(values))]
        return values[0]

    def paddle(self, start: Coord, orientation: float, contrast: float = 1.0, canvas: int | None = None):
        """(line image, occupancy mask) of one paddle from ``start`` along ``orientation`` on a square
        ``canvas`` (default the window)."""
        p, aa, canvas = self.p, self.p.antialias_scale, canvas or self.size
        half = p.paddle_length + int(math.ceil(p.paddle_thickness)) + self.margin
        centre = half * aa
        head = translate([centre, centre], orientation, p.paddle_length * aa)
        blown = Image.new("F", (2 * centre + 1, 2 * centre + 1), "black")
        ImageDraw.Draw(blown).line([(centre, centre), (head[1], head[0])], fill="white",
                                   width=int(round(p.paddle_thickness * aa)))
        blown = np.asarray(blown)
        line = lanczos_resize(blown, 2 * half + 1) / 255.0 * contrast
        mask = lanczos_resize(dilate(blown, self.large_struct).astype(np.uint8), 2 * half + 1) / 255.0
        return place(line, start, half, canvas), place(mask, start, half, canvas)

    def seed_snake(self, image: np.ndarray, mask: np.ndarray, contrast: float, stop: float | None) -> Snake | None:
        """The first paddle of a distractor: a tail where the oriented paddle fits, away from the border."""
        p, m = self.p, self.margin
        for _ in range(p.max_paddle_retrial + 1):
            orientation = self.rng.randint(low=-180, high=180) * math.pi / 180
            struct = self.paddle([p.paddle_length + m + 1] * 2, orientation, canvas=(p.paddle_length + m) * 2 + 1)[1]
            lined = mask.copy()
            lined[0, :] = lined[-1, :] = lined[:, 0] = lined[:, -1] = 1
            free = available(dilate(lined, struct))
            if stop is not None and len(available(mask)[0]) / mask.size < stop:
                return None
            if len(free[0]) == 0:
                return None
            pick = self.rng.randint(low=0, high=len(free[0]))
            tail = [int(free[0][pick]), int(free[1][pick])]
            head = translate(tail, orientation, p.paddle_length)
            pivot = translate(head, flip(orientation), p.paddle_length + m)
            if not outside(self.size, head, pivot):
                line, segment = self.paddle(tail, orientation, contrast)
                return Snake(np.maximum(image, line), segment, pivot, orientation, tail)
        return None

    def extend(self, snake: Snake, mask: np.ndarray, contrast: float) -> np.ndarray | None:
        """Grow ``snake`` by one paddle; the new occupancy (with the previous paddle), or None."""
        p, m = self.p, self.margin
        pivot = translate(snake.pivot, snake.orientation, p.paddle_length + 2 * m)
        candidates = endpoint_distribution(pivot, snake.orientation, p.paddle_length + m,
                                           dilate(mask, self.small_struct), p.continuity)
        if candidates is None:
            return None
        coords, orientations, cmf = candidates
        for _ in range(p.max_paddle_retrial + 1):
            index = int(np.argmax(cmf - self.rng.rand() > 0))
            head = [int(v) for v in coords[index]]
            line, segment = self.paddle(head, flip(orientations[index]), contrast)
            if np.max(mask + segment) < 1.8:
                mask = np.maximum(mask, snake.segment_mask)
                snake.image, snake.segment_mask = np.maximum(snake.image, line), segment
                snake.pivot, snake.orientation, snake.tip = pivot, float(orientations[index]), head
                return mask
        return None

    def make_snake(self, image: np.ndarray, mask: np.ndarray, segments: int, contrasts: Sequence[float],
                   stop: float | None) -> tuple[np.ndarray, np.ndarray, bool]:
        """A distractor of ``segments`` paddles; (image, occupancy, success), unchanged on failure."""
        snake = self.seed_snake(image, mask, self.pick(contrasts), stop)
        if snake is None:
            return image, mask, False
        grown = mask
        for _ in range(segments - 1):
            grown = self.extend(snake, grown, self.pick(contrasts))
            if grown is None:
                return image, mask, False
        return snake.image, np.maximum(grown, snake.segment_mask), True

    def distractors(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``num_distractor_snakes`` distractors, each retried ``max_distractor_contour_retrial`` times and
        left out when it still fails; the search stops below 1 % free cells."""
        p = self.p
        for _ in range(p.num_distractor_snakes):
            for _ in range(p.max_distractor_contour_retrial + 1):
                image, mask, ok = self.make_snake(image, mask, p.distractor_length, p.snake_contrast_list, 0.01)
                if ok:
                    break
        return image

    def target_seeds(self, contrasts: Sequence[float]) -> tuple[list[Snake], np.ndarray] | None:
        """The first paddles of the two target snakes: A anywhere ``2 * seed_distance`` from the border
        where its paddle fits, B's tail ``seed_distance`` from A's at a random angle."""
        p, m, size = self.p, self.margin, self.size
        mask = self.blank()
        mask[: p.padding, :] = mask[-p.padding:, :] = mask[:, : p.padding] = mask[:, -p.padding:] = 1
        first = self._seed_a(mask, contrasts[0] * self.pick(p.paddle_contrast_list, strict=True))
        if first is None:
            return None
        contrast = contrasts[1] * self.pick(p.paddle_contrast_list, strict=True)
        for _ in range(p.max_paddle_retrial + 1):
            orientation = self.rng.randint(low=-180, high=180) * math.pi / 180
            angle = self.rng.randint(0, 360) * math.pi / 180
            tail = [int(np.round(first.origin[0] + p.seed_distance * math.sin(angle))),
                    int(np.round(first.origin[1] + p.seed_distance * math.cos(angle)))]
            head = translate(tail, orientation, p.paddle_length)
            pivot = translate(head, flip(orientation), p.paddle_length + m)
            if not outside(size, head, pivot):
                line, segment = self.paddle(tail, orientation, contrast)
                return [first, Snake(line, segment, pivot, orientation, tail)], mask
        return None

    def _seed_a(self, mask: np.ndarray, contrast: float) -> Snake | None:
        p, m, d = self.p, self.margin, 2 * self.p.seed_distance
        for _ in range(p.max_paddle_retrial + 1):
            orientation = self.rng.randint(low=-180, high=180) * math.pi / 180
            struct = self.paddle([p.paddle_length + m + 1] * 2, orientation, canvas=(p.paddle_length + m) * 2 + 1)[1]
            lined = mask.copy()
            lined[:d, :] = lined[self.size - d:, :] = lined[:, :d] = lined[:, self.size - d:] = 1
            free = available(dilate(lined, struct))
            if len(free[0]) == 0:
                return None
            pick = self.rng.randint(low=0, high=len(free[0]))
            tail = [int(free[0][pick]), int(free[1][pick])]
            head = translate(tail, orientation, p.paddle_length)
            pivot = translate(head, flip(orientation), p.paddle_length + m)
            if not outside(self.size, head, pivot):
                line, segment = self.paddle(tail, orientation, contrast)
                return Snake(line, segment, pivot, orientation, tail)
        return None

    def two_snakes(self) -> tuple[list[Snake], np.ndarray] | None:
        """Both target snakes grown paddle by paddle in turn; None when either gets stuck."""
        p = self.p
        contrasts = list(p.snake_contrast_list) * 2
        self.shuffler.shuffle(contrasts)
        seeded = self.target_seeds(contrasts[:2])
        if seeded is None:
            return None
        snakes, mask = seeded
        for _ in range(p.contour_length - 1):
            paddle_contrast = self.pick(p.paddle_contrast_list)
            for snake, snake_contrast in zip(snakes, contrasts):
                mask = self.extend(snake, mask, paddle_contrast * snake_contrast)
                if mask is None:
                    return None
        return snakes, np.maximum(mask, snakes[-1].segment_mask)

    def marker(self, coord: Sequence) -> np.ndarray:
        """``draw_circle``: a disk of ``marker_radius`` drawn at the anti-aliasing scale, Lanczos-downsampled
        to uint8."""
        aa, size = self.p.antialias_scale, self.size
        y, x = np.ogrid[-coord[0] * aa:(size - coord[0]) * aa, -coord[1] * aa:(size - coord[1]) * aa]
        return lanczos_resize((x ** 2 + y ** 2 <= (self.p.marker_radius * aa) ** 2).astype(float), size)

    def sample(self) -> tuple[np.ndarray, int, int]:
        """(float image before byte-scaling, label, margin) of one image."""
        label = int(self.rng.randint(low=0, high=2))
        self.set_margin(self.pick(self.p.paddle_margin_list))
        drawn = None
        while drawn is None:
            drawn = self.two_snakes()
        snakes, mask = drawn
        image = np.maximum(snakes[0].image, snakes[1].image)
        if self.p.num_distractor_snakes > 0:
            image = self.distractors(image, mask)
        first, second = self.marker_tips(snakes, label)
        markers = np.maximum(self.marker(first), self.marker(second)) / 255.0
        return np.maximum(image, markers), label, self.margin

    def marker_tips(self, snakes: list[Snake], label: int) -> tuple[Coord, Coord]:
        """The first tip of a random target snake, and the far tip of the same snake (label 1) or of
        the other one (label 0)."""
        origin = int(self.rng.randint(0, 2))
        terminal = origin if label == 1 else 1 - origin
        return snakes[origin].origin, snakes[terminal].tip


def place(patch: np.ndarray, centre: Sequence, half: int, size: int) -> np.ndarray:
    """A ``size`` x ``size`` float32 canvas with ``patch`` (2 half + 1 square) centred on ``centre``,
    clipped at the borders."""
    canvas = np.zeros((size, size), dtype=np.float32)
    top, left = centre[0] - half, centre[1] - half
    r0, r1 = max(top, 0), min(centre[0] + half, size - 1)
    c0, c1 = max(left, 0), min(centre[1] + half, size - 1)
    if r0 <= r1 and c0 <= c1:
        canvas[r0:r1 + 1, c0:c1 + 1] = patch[r0 - top:r1 - top + 1, c0 - left:c1 - left + 1]
    return canvas


def endpoint_distribution(centre: Coord, orientation: float, radius: float, occupancy: np.ndarray,
                          continuity: float):
    """(unique candidate heads, their orientations, cumulative probabilities) on the circle of
    ``radius`` around ``centre`` (one sample per pixel of arc), or None at a dead end."""
    height, width = occupancy.shape
    step = 360.0 / (2 * radius * math.pi)
    angles = np.arange(0, 360, step) * math.pi / 180
    ys, xs = centre[0] + radius * np.sin(angles), centre[1] + radius * np.cos(angles)
    inside = (ys < height) & (ys >= 0) & (xs < width) & (xs >= 0)
    coords = np.stack([ys, xs], axis=1).astype(int)[inside]
    if len(coords) == 0:
        return None
    coords = np.unique(coords, axis=0)
    offsets = coords - np.asarray(centre)
    orientations = np.arctan2(offsets[:, 0], offsets[:, 1])
    turn = np.abs(orientations - orientation)
    turn = np.minimum(np.minimum(turn, 2 * np.pi - turn) * continuity, 0.5 * np.pi)
    pmf = (1 - occupancy[coords[:, 0], coords[:, 1]]) * np.maximum(np.cos(turn), 0) ** 2
    total = pmf.sum()
    if total < 1e-4:
        return None
    return coords, orientations, np.cumsum(pmf / total)


def image_seed(seed: int, index: int) -> tuple[np.random.RandomState, random.Random]:
    """The generators of image ``index`` of a data set drawn from ``seed``."""
    state = np.random.SeedSequence([seed, index]).generate_state(4)
    return np.random.RandomState(state), random.Random(int(state[0]) << 32 | int(state[1]))


def draw_image(params: SnakeParams, seed: int, index: int) -> tuple[bytes, int, int]:
    """(PNG bytes, label, margin) of image ``index``."""
    drawer = SnakeDrawer(params, *image_seed(seed, index))
    image, label, margin = drawer.sample()
    return encode_png(image), label, margin
