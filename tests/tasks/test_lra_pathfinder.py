"""The Pathfinder snakes generator (LRA settings, the original's image primitives) and the
Pathfinder / Path-X loader on generated data and on fixtures in the release layout."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.lra import pathfinder_generator as gen
from nasbench.tasks.lra.pathfinder import Pathfinder, PathfinderConfig, PathX, read_metadata

SMALL = dict(n_train=8, n_val=2, n_test=2)


def test_lra_settings():
    p32, p128 = gen.pathfinder_params(32), gen.pathfinder_params(128)
    assert (p32.window_size, p32.padding, p32.antialias_scale, p32.paddle_margin_list, p32.paddle_length) == \
        (32, 1, 2, (1,), 2)
    assert (p32.paddle_thickness, p32.marker_radius, p32.seed_distance, p32.continuity) == (0.5, 1.5, 7, 1.0)
    assert (p32.contour_length, p32.distractor_length, p32.num_distractor_snakes) == (14, 4, 5)
    assert (p32.snake_contrast_list, p32.paddle_contrast_list, p32.use_single_paddles) == ((2.0,), (0.75,), False)
    assert (p128.window_size, p128.antialias_scale, p128.paddle_margin_list, p128.paddle_length) == (128, 2, (2, 3), 5)
    assert (p128.paddle_thickness, p128.marker_radius, p128.seed_distance, p128.continuity) == (1.5, 3, 20, 1.8)
    assert (p128.distractor_length, p128.num_distractor_snakes, p128.snake_contrast_list) == (4, 8, (0.9,))
    assert (p32.max_distractor_contour_retrial, p32.max_paddle_retrial) == (4, 2)
    assert gen.pathfinder_params(32, "curv_baseline").contour_length == 6


def test_primitives_keep_the_originals_semantics():
    assert gen.bytescale(np.array([[0.5, 1.0], [2.0, 1.25]])).tolist() == [[0, 85], [255, 128]]
    assert gen.bytescale(np.zeros((2, 2))).tolist() == [[0, 0], [0, 0]]  # constant image: all zeros
    image = np.zeros((1, 9))
    image[0, 5] = 1.0
    # cv2.dilate takes src(x + offset) over the kernel's nonzero cells: a kernel cell right of the
    # anchor moves a point one column to the left; cells below 1 vanish in astype(uint8)
    kernel = np.array([[0, 0, 0], [0, 0, 1.0], [0, 0.99, 0]])
    assert np.flatnonzero(gen.dilate(image, kernel)[0]).tolist() == [4]
    assert gen.translate([3, 3], 0.0, 2.5) == [3, 6] and gen.translate([3, 3], 0.3, 1.0) == [4, 4]  # ceil
    assert gen.flip(0.5) == pytest.approx(0.5 - math.pi) and gen.flip(-0.5) == pytest.approx(math.pi - 0.5)
    assert gen.disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def test_next_paddle_prefers_straight_continuations_and_free_cells():
    occupancy = np.zeros((40, 40))
    coords, orientations, cmf = gen.endpoint_distribution([20, 20], 0.0, 5.0, occupancy, continuity=1.0)
    pmf = np.diff(np.concatenate([[0.0], cmf]))
    assert cmf[-1] == pytest.approx(1.0) and np.all(pmf >= 0)
    assert orientations[np.argmax(pmf)] == 0.0 and [20, 25] in coords.tolist()  # straight ahead (columns)
    assert np.all(pmf[np.abs(orientations) > math.pi / 2 - 1e-9] < 1e-20)  # no turning back past 90 degrees
    occupancy[:, 24:] = 1.0
    _, _, blocked = gen.endpoint_distribution([20, 20], 0.0, 5.0, occupancy, continuity=1.0)
    assert blocked[-1] == pytest.approx(1.0)
    assert gen.endpoint_distribution([20, 20], 0.0, 5.0, np.ones((40, 40)), 1.0) is None


@pytest.fixture(scope="module")
def drawn32():
    """Twelve 32 x 32 images of seed 0: (png, label, margin)."""
    params = gen.pathfinder_params(32)
    return [gen.draw_image(params, 0, i) for i in range(12)]


def test_images_have_the_lra_shape_both_labels_and_visible_markers(drawn32):
    labels = {label for _, label, _ in drawn32}
    assert labels == {0, 1}
    for png, _, margin in drawn32:
        image = Image.open(__import__("io").BytesIO(png))
        assert image.mode == "L" and image.size == (32, 32) and margin == 1
        pixels = np.asarray(image)
        assert pixels.min() == 0 and pixels.max() == 255
        assert (pixels > 0).mean() > 0.1  # snakes and distractors, not an empty canvas


def test_markers_sit_on_the_same_snake_exactly_for_label_one():
    params = gen.pathfinder_params(32)
    for index in range(3):
        drawer = gen.SnakeDrawer(params, *gen.image_seed(1, index))
        drawn = None
        while drawn is None:
            drawn = drawer.two_snakes()
        snakes, _ = drawn
        tips = {label: [drawer.marker_tips(snakes, label) for _ in range(6)] for label in (0, 1)}
        for first, second in tips[1]:
            assert any(s.origin == first and s.tip == second for s in snakes)
        for first, second in tips[0]:
            assert any(a.origin == first and b.tip == second for a, b in (snakes, snakes[::-1]))
            assert not any(s.origin == first and s.tip == second for s in snakes)


def test_images_are_reproducible_per_index(drawn32):
    params = gen.pathfinder_params(32)
    assert gen.draw_image(params, 0, 3) == drawn32[3]
    assert gen.draw_image(params, 1, 3) != drawn32[3]


def test_pathx_image_has_the_lra_shape():
    png, label, margin = gen.draw_image(gen.pathfinder_params(128), 0, 0)
    pixels = gen.decode_png(png)
    assert pixels.shape == (128, 128) and pixels.dtype == np.uint8 and label in (0, 1) and margin in (2, 3)


@pytest.mark.parametrize("metadata", ["text", "npy"])
def test_release_layout_loads_with_the_s4_split(tmp_path, metadata):
    task = Pathfinder(PathfinderConfig(**SMALL, data_dir=str(tmp_path)))
    task.write_fixture(tmp_path, seed=0, metadata=metadata)
    rows = read_metadata(tmp_path / "pathfinder32" / "curv_contour_length_14" / "metadata" / "0.npy")
    assert len(rows) == 12 and rows[0].path == "imgs/0/sample_0.png"
    data = task.load(allow_generate=False)
    assert data.data_source == "fixture" and [len(s) for s in (data.train, data.val, data.test)] == [8, 2, 2]
    order = torch.randperm(12, generator=torch.Generator().manual_seed(42))  # torch random_split, seed 42
    folder = tmp_path / "pathfinder32" / "curv_contour_length_14"
    first = gen.decode_png((folder / rows[int(order[0])].path).read_bytes()).reshape(-1)
    x, y = next(data.train.batches(8))
    assert x.shape == (8, 1, 1024) and float(x.min()) == -1.0 and float(x.max()) == 1.0
    torch.testing.assert_close(x[0, 0], torch.tensor((first / 255.0 - 0.5) / 0.5, dtype=torch.float32))
    assert y.tolist() == [rows[int(i)].label for i in order[:8]]


def test_python2_metadata_arrays_are_read(tmp_path):
    rows = [["imgs/3", "sample_0.png", "0", "1", "1.0", "14"], ["imgs/3", "sample_1.png", "1", "0", "1.0", "14"]]
    np.save(tmp_path / "3.npy", np.array(rows).astype(bytes))
    assert [(r.path, r.label) for r in read_metadata(tmp_path / "3.npy")] == [("imgs/3/sample_0.png", 1),
                                                                               ("imgs/3/sample_1.png", 0)]


def test_generated_data_is_checksummed_and_extended_in_place(tmp_path):
    config = PathfinderConfig(n_train=4, n_val=1, n_test=1, data_dir=str(tmp_path), generate_workers=1)
    data = Pathfinder(config).load(log=lambda _: None)
    folder = tmp_path / "generated" / "pathfinder32" / "curv_contour_length_14"
    assert data.data_source == "generated" and len(data.train) == 4
    lines = (folder / "metadata" / "0.npy").read_text().splitlines()
    assert len(lines) == 6 and len(lines[0].split()) == 11  # subpath, file, index, label + 7 settings
    first = (folder / "imgs" / "0" / "sample_0.png").read_bytes()
    bigger = PathfinderConfig(n_train=6, n_val=1, n_test=1, data_dir=str(tmp_path), generate_workers=1)
    Pathfinder(bigger).generate(log=lambda _: None)
    assert json.loads((folder / "generated.json").read_text())["count"] == 8
    assert (folder / "imgs" / "0" / "sample_0.png").read_bytes() == first
    (folder / "imgs" / "0" / "sample_2.png").write_bytes(first)
    with pytest.raises(CorruptDataError) as info:
        Pathfinder(bigger).load(allow_generate=False)
    assert "sha256" in str(info.value) and "nasbench data pathfinder --generate" in str(info.value)


def test_missing_release_files_name_the_fix(tmp_path):
    with pytest.raises(MissingDataError) as info:
        PathX(PathfinderConfig(**SMALL, data_dir=str(tmp_path), source="official")).load()
    assert "pathfinder128/curv_contour_length_14" in str(info.value) and "task.source=generated" in str(info.value)
    assert PathX(PathX.default_config("paper")).shape.input_size == (16384,)
