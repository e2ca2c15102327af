"""LRA Pathfinder (32 x 32) and Path-X (128 x 128) (Tay et al., Long Range Arena, ICLR 2021,
arXiv:2011.04006; the DNArch paper, Romero & Zeghidour, arXiv:2302.05400, Appendix D.1).

Official layout (the LRA release, ``lra_release/lra_release/pathfinder{32,128}/``), in the task's data
folder: ``pathfinder<res>/<difficulty>/imgs/<batch>/sample_<i>.png`` (8-bit grey) and
``pathfinder<res>/<difficulty>/metadata/<batch>.npy``, one row per image: image folder, file name,
index, label, then the generator's settings. The release's metadata files are text (whitespace-
separated rows) despite the name; the generator's own are ``np.save`` string arrays; both are read.
LRA uses the hard difficulty, ``curv_contour_length_14``. S4's blacklisted empty image is skipped.

Splits (S4 ``PathFinder``): every listed row in metadata order (files by batch number), split by
``random_split`` with seed 42 into 80 / 10 / 10 % (160,000 / 20,000 / 20,000 of the release's 200,000
images); budgets below ``paper`` take the first ``n_train`` / ``n_val`` / ``n_test`` rows of those same
splits, so a small run reads a subset of S4's own train, validation and test images. [A] Generated data
and fixtures are drawn image by image as far as a run needs: there the first ``n_train + n_val + n_test``
images are the data set and ``random_split`` (seed 42) cuts them into exactly those counts (at the
``paper`` budget, 200,000 images: S4's split). Preprocessing: ToTensor then Normalize(0.5, 0.5), so
pixels lie in [-1, 1], raster-scanned to (1, 1024) or (1, 16384); images stay uint8 in memory and are
normalised batch by batch. Two classes, cross-entropy, accuracy.

Without official files the snakes generator (``pathfinder_generator``, LRA's settings) writes the same
layout into ``<data dir>/generated/``, 1,000 images per batch, metadata as text rows; each image is
drawn from its own seed, so a larger request keeps the images already drawn. A sidecar records the
settings and a sha256 per batch (metadata and images), checked on every load.
"""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, ClassVar, Literal

import numpy as np
import torch

from nasbench.contracts import DataFile, TaskData, TaskShape
from nasbench.data import atomic_write_bytes, atomic_write_text
from nasbench.errors import ConfigError, CorruptDataError, MissingDataError
from nasbench.tasks.common.classification import ClassificationTask
from nasbench.tasks.common.progress import progress
from nasbench.tasks.common.provenance import folder_lock, mark_fixture, source_of
from nasbench.tasks.common.splits import LazySplit, check_counts, random_split_indices, split_lengths, take_first
from nasbench.tasks.lra import pathfinder_generator as gen

BLACKLIST = {"pathfinder32/curv_baseline/imgs/0/sample_172.png"}  # an empty image in the release (S4)
IMAGES_PER_BATCH = 1000
GENERATOR_VERSION = "snakes2-ab9c130-port-1"
GENERATED_SEED = 0
SIDECAR = "generated.json"
Difficulty = Literal["curv_baseline", "curv_contour_length_9", "curv_contour_length_14"]


@dataclass(frozen=True)
class PathfinderConfig:
    n_train: int = 160000
    n_val: int = 20000
    n_test: int = 20000
    difficulty: Difficulty = "curv_contour_length_14"  # LRA's "hard"
    source: Literal["auto", "official", "generated"] = "auto"
    generate_workers: int = 2
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("pathfinder", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)
        if self.difficulty not in gen.DIFFICULTIES or self.generate_workers < 1:
            raise ConfigError(f"pathfinder: difficulty must be one of {sorted(gen.DIFFICULTIES)} and "
                              f"generate_workers >= 1, got {self.difficulty!r}, {self.generate_workers}")

    @property
    def total(self) -> int:
        return self.n_train + self.n_val + self.n_test


@dataclass(frozen=True)
class Row:
    """One metadata row: the image's path below the difficulty folder and its label."""

    path: str
    label: int


def read_metadata(path: Path) -> list[Row]:
    """Rows of a metadata file, text (the LRA release) or an ``np.save`` string array (the generator)."""
    raw = path.read_bytes()
    if raw.startswith(b"\x93NUMPY"):  # bytes under Python 2 (the original generator), str under Python 3
        array = np.atleast_2d(np.load(io.BytesIO(raw), allow_pickle=False))
        fields = [[v.decode() if isinstance(v, bytes) else str(v) for v in row] for row in array]
    else:
        fields = [line.split() for line in raw.decode("utf-8").splitlines() if line.strip()]
    rows = []
    for number, f in enumerate(fields, 1):
        if len(f) < 4 or f[3] not in ("0", "1"):
            raise CorruptDataError(path, f"row {number} is {f[:4]}, expected folder, file, index, label (0/1)",
                                   "download or generate the data again")
        rows.append(Row(f"{f[0]}/{f[1]}", int(f[3])))
    return rows


def list_images(folder: Path, prefix: str) -> list[Row]:
    """Every row of ``folder/metadata/*.npy`` in batch order, without the blacklisted image."""
    files = sorted((folder / "metadata").glob("*.npy"), key=lambda p: int(p.stem))
    rows = [row for f in files for row in read_metadata(f)]
    return [row for row in rows if f"{prefix}/{row.path}" not in BLACKLIST]


class Pathfinder(ClassificationTask):
    name = "pathfinder"
    description = "LRA Pathfinder: are two dots joined by a dashed path, 32x32 as 1,024 pixels, 0-1 error"
    smoke_overrides = ("n_train=8", "n_val=2", "n_test=2")
    family = "lra"
    citation = ("Tay et al., Long Range Arena, ICLR 2021; Linsley, Kim et al., Learning long-range spatial "
                "dependencies with horizontal gated recurrent units, NeurIPS 2018 (data); preprocessing of Gu et "
                "al., S4, ICLR 2022")
    Config = PathfinderConfig
    resolution: ClassVar[int] = 32
    budgets: ClassVar[dict] = {"smoke": dict(n_train=64, n_val=8, n_test=8),
                               "small": dict(n_train=1600, n_val=200, n_test=200), "paper": {}}
    paper_sizes, unit, paper_protocol = "160,000/20,000/20,000", "images", "LRA, S4"
    budget_remark = "generated data draws only these"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=1, in_channels=1, input_size=(self.resolution ** 2,), output="classes", num_outputs=2)

    @property
    def prefix(self) -> str:
        return f"pathfinder{self.resolution}/{self.config.difficulty}"

    def official_folder(self) -> Path:
        return self.data_dir() / self.prefix

    def generated_folder(self) -> Path:
        return self.data_dir() / "generated" / self.prefix

    def data_files(self) -> list[DataFile]:
        return [DataFile(self.official_folder() / "metadata", f"LRA {self.prefix} metadata folder (with imgs/)")]

    def _use_official(self) -> bool:
        return self.config.source in ("auto", "official") and (self.official_folder() / "metadata").is_dir()

    # -- generation --------------------------------------------------------------------------------
    def can_generate(self) -> bool:
        return True

    def generate(self, log: Callable[[str], None] = print) -> None:
        folder = self.generated_folder()
        with folder_lock(folder, exclusive=True):
            info = _read_sidecar(folder) or {"generator": GENERATOR_VERSION, "seed": GENERATED_SEED,
                                              "params": vars(self.params()), "count": 0, "batches": {}}
            if info["count"] >= self.config.total:
                log(f"{self.name}: {info['count']} generated images already in {folder}")
                return
            log(f"{self.name}: generating images {info['count']}..{self.config.total - 1} with the snakes "
                f"generator ({self.config.generate_workers} workers) -> {folder}")
            self._extend(folder, info, self.config.total, log)

    def params(self) -> gen.SnakeParams:
        return gen.pathfinder_params(self.resolution, self.config.difficulty)

    def _extend(self, folder: Path, info: dict, total: int, log: Callable[[str], None]) -> None:
        """Draw images ``info['count']..total - 1`` batch by batch; the sidecar follows each batch, so
        an interrupted generation resumes where it stopped."""
        draw = partial(gen.draw_image, self.params(), info["seed"])
        with multiprocessing.get_context("fork").Pool(self.config.generate_workers) as pool:
            batches = range(info["count"] // IMAGES_PER_BATCH, -(-total // IMAGES_PER_BATCH))
            for batch in progress(batches, len(batches), f"{self.name} batches"):
                first = batch * IMAGES_PER_BATCH
                start, stop = max(info["count"], first), min(total, first + IMAGES_PER_BATCH)
                drawn = pool.map(draw, range(start, stop), chunksize=8)
                lines = _metadata_lines(folder, batch) if start > first else []
                for index, (png, label, margin) in zip(range(start, stop), drawn):
                    j = index - first
                    atomic_write_bytes(folder / "imgs" / str(batch) / f"sample_{j}.png", png)
                    lines.append(" ".join(map(str, [f"imgs/{batch}", f"sample_{j}.png", j, label,
                                                    *self.params().metadata(margin)])))
                atomic_write_text(folder / "metadata" / f"{batch}.npy", "\n".join(lines) + "\n")
                info["batches"][str(batch)] = _batch_digest(folder, batch)
                info["count"] = stop
                atomic_write_text(folder / SIDECAR, json.dumps(info, indent=2))
                log(f"{self.name}: {stop}/{total} images")

    def verify(self) -> list[str]:
        if self._use_official():
            rows = list_images(self.official_folder(), self.prefix)
            return [f"ok  {self.official_folder()}  ({len(rows)} metadata rows; no published checksums)"]
        info = self._check_generated()
        return [f"ok  {self.generated_folder()}  batch {b} sha256={h[:12]}…  (generated)"
                for b, h in info["batches"].items()]

    def _check_generated(self) -> dict:
        folder = self.generated_folder()
        info = _read_sidecar(folder)
        if info is None or info["count"] < self.config.total:
            raise MissingDataError(folder / "metadata", f"{self.config.total} generated {self.prefix} images",
                                   f"run `nasbench data {self.name} --generate` (or place the LRA release files)")
        for batch, digest in info["batches"].items():
            if _batch_digest(folder, int(batch)) != digest:
                raise CorruptDataError(folder / "metadata" / f"{batch}.npy", "sha256 of the batch (metadata and "
                                       "images) differs from the one recorded at generation",
                                       f"delete {folder} and run `nasbench data {self.name} --generate`")
        return info

    def write_fixture(self, root: Path, seed: int = 0, metadata: Literal["text", "npy"] = "text") -> None:
        """The official layout at the config's total image count, drawn by the generator from ``seed``,
        metadata as text rows (the LRA release) or ``np.save`` arrays (the generator); a fixture."""
        folder = root / self.prefix
        draw = partial(gen.draw_image, self.params(), seed)
        rows = []
        for j, (png, label, margin) in enumerate(map(draw, range(self.config.total))):
            (folder / "imgs" / "0").mkdir(parents=True, exist_ok=True)
            (folder / "imgs" / "0" / f"sample_{j}.png").write_bytes(png)
            rows.append(["imgs/0", f"sample_{j}.png", j, label, *self.params().metadata(margin)])
        (folder / "metadata").mkdir(parents=True, exist_ok=True)
        if metadata == "npy":
            np.save(folder / "metadata" / "0.npy", np.array(rows).astype(str))
        else:
            (folder / "metadata" / "0.npy").write_text("".join(" ".join(map(str, r)) + "\n" for r in rows))
        mark_fixture(root, type(self).__name__)

    # -- loading -----------------------------------------------------------------------------------
    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        if self._use_official():
            folder, source = self.official_folder(), source_of(self.data_dir())
            splits, detail = self._splits(folder, whole=source == "official"), {"folder": str(folder)}
        else:
            folder, source = self._generated(allow_generate, log), "generated"
            with folder_lock(folder, exclusive=False):
                info = self._check_generated()
                splits = self._splits(folder, whole=False)
            detail = {"folder": str(folder), "generator": GENERATOR_VERSION, "seed": info["seed"],
                      "batch_sha256": info["batches"]}
        return TaskData(*splits, source, {**detail, "difficulty": self.config.difficulty})

    def _splits(self, folder: Path, whole: bool) -> list[LazySplit]:
        rows = list_images(folder, self.prefix)
        parts = self.split_indices(len(rows), whole, folder / "metadata")
        return [pixel_split(name, *self._read(folder, rows, idx)) for name, idx in zip(("train", "val", "test"), parts)]

    def split_indices(self, listed: int, whole: bool, where: Path) -> list[torch.Tensor]:
        """Row indices of train / val / test. ``whole`` (official data): S4's ``random_split`` of every
        listed row into 80 / 10 / 10 % with seed 42, each split then taking its first ``n`` rows.
        Otherwise (generated data and fixtures) [A]: the first ``n_train + n_val + n_test`` rows are the
        data set, split by ``random_split`` with seed 42 into exactly those counts."""
        c = self.config
        if whole:
            parts = random_split_indices(listed, split_lengths(listed, 0.1, 0.1), seed=42)
            wanted = zip(parts, (c.n_train, c.n_val, c.n_test), ("training", "validation", "test"))
            return [take_first(part, n, what, where) for part, n, what in wanted]
        if listed < c.total:
            raise CorruptDataError(where, f"lists {listed} images, {c.total} are needed",
                                   "lower task.n_train/n_val/n_test or generate the data again")
        return random_split_indices(c.total, [c.n_train, c.n_val, c.n_test], seed=42)

    def _generated(self, allow_generate: bool, log) -> Path:
        if self.config.source == "official":
            raise MissingDataError(self.official_folder() / "metadata", f"LRA {self.prefix} images and metadata",
                                   f"extract lra_release.gz and copy lra_release/{self.prefix} into "
                                   f"{self.data_dir() / f'pathfinder{self.resolution}'}, or use "
                                   f"--set task.source=generated")
        info = _read_sidecar(self.generated_folder())
        if info is None or info["count"] < self.config.total:
            if not allow_generate:
                raise MissingDataError(self.generated_folder() / "metadata", f"generated {self.prefix} images",
                                       f"run `nasbench data {self.name} --generate`")
            self.generate(log)
        return self.generated_folder()

    def _read(self, folder: Path, rows: list[Row], idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The listed images ``rows[idx]`` as uint8 (N, H * W) and their labels."""
        side, picked = self.resolution, [rows[i] for i in idx.tolist()]
        pixels = np.empty((len(picked), side * side), dtype=np.uint8)
        for i, row in enumerate(picked):
            image = gen.decode_png((folder / row.path).read_bytes())
            if image.shape != (side, side):
                raise CorruptDataError(folder / row.path, f"image is {image.shape}, expected {(side, side)}",
                                       "download or generate the data again")
            pixels[i] = image.reshape(-1)
        return torch.from_numpy(pixels), torch.tensor([row.label for row in picked], dtype=torch.long)


class PathX(Pathfinder):
    name = "pathx"
    description = "LRA Path-X: Pathfinder at 128x128 (16,384 pixels), 0-1 error"
    smoke_overrides = ("n_train=4", "n_val=2", "n_test=2")
    citation = Pathfinder.citation
    resolution = 128
    budgets = {"smoke": dict(n_train=16, n_val=2, n_test=2), "small": dict(n_train=160, n_val=20, n_test=20),
               "paper": {}}


def pixel_split(name: str, pixels: torch.Tensor, labels: torch.Tensor) -> LazySplit:
    """uint8 pixels (N, L) kept in memory; batches are ToTensor + Normalize(0.5, 0.5): (B, 1, L) in [-1, 1]."""

    def fetch(idx: np.ndarray, generator: torch.Generator | None):
        index = torch.as_tensor(idx)
        return ((pixels[index].float() / 255.0 - 0.5) / 0.5).unsqueeze(1), labels[index]

    return LazySplit(name, len(labels), fetch, targets=labels)


def _metadata_lines(folder: Path, batch: int) -> list[str]:
    path = folder / "metadata" / f"{batch}.npy"
    return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _batch_digest(folder: Path, batch: int) -> str:
    """sha256 over a batch's metadata file and its images, in row order."""
    digest = hashlib.sha256()
    meta = folder / "metadata" / f"{batch}.npy"
    digest.update(meta.read_bytes())
    for row in read_metadata(meta):
        digest.update((folder / row.path).read_bytes())
    return digest.hexdigest()


def _read_sidecar(folder: Path) -> dict | None:
    try:
        return json.loads((folder / SIDECAR).read_text())
    except (OSError, ValueError):
        return None
