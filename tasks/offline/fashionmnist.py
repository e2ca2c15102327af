"""Fashion-MNIST: a real image task that runs offline (Xiao, Rasul & Vollgraf, 2017).

An ADDITION of this suite for experiments on machines without the benchmark files; it belongs to
none of the published benchmarks (NAS-Bench-360, LRA, DNArch), and its numbers compare with no
published table.

Files: the four standard IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``), gzipped or not, in the task's data folder,
or else where Debian's ``dataset-fashion-mnist`` package installs them
(``/usr/share/datasets/fashion-mnist``). IDX: a big-endian header (two zero bytes, the type code
0x08 = unsigned byte, the number of dimensions, then each dimension as a 32-bit integer) and the
raw bytes.

Splits [A] (the NAS-Bench-360 CIFAR rule): the first 50,000 training images train, the last 10,000
validate, the 10,000 test images test; budgets below ``paper`` take the first images of each split.
Pixels / 255, normalised by the mean and standard deviation of the training images read. Ten
classes, cross-entropy, accuracy.
"""
from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from nasbench.contracts import DataFile, Split, TaskData, TaskShape
from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.common.classification import ClassificationTask
from nasbench.tasks.common.provenance import mark_fixture, source_of
from nasbench.tasks.common.splits import check_counts, take_first

DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")
# sha256 of the decompressed files (measured on Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1,
# whose sizes match the official files: 47,040,016 / 60,008 / 7,840,016 / 10,008 bytes)
FILES = {
    "train_images": ("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train_labels": ("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "test_images": ("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "test_labels": ("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped when its name ends in .gz) as a uint8 array of its dimensions."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != UBYTE:
        raise CorruptDataError(path, f"header {raw[:4]!r} is not an unsigned-byte IDX header", "fetch the file again")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4: 4 + 4 * ndim])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).copy()  # writable, for torch
    if body.size != int(np.prod(dims)):
        raise CorruptDataError(path, f"holds {body.size} bytes after the header, dimensions {dims} need "
                               f"{int(np.prod(dims))}", "fetch the file again")
    return body.reshape(dims)


def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX form of a uint8 array (gzipped when the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)


@dataclass(frozen=True)
class FashionMNISTConfig:
    n_train: int | None = None  # None: all 50,000
    n_val: int | None = None  # None: all 10,000
    n_test: int | None = None  # None: all 10,000
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("fashionmnist", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


class FashionMNIST(ClassificationTask):
    name = "fashionmnist"
    description = "Fashion-MNIST (offline real data): 28x28 grayscale, 10 classes, 0-1 error"
    smoke_overrides = ("n_train=16", "n_val=4", "n_test=4")
    family = "offline"
    citation = ("Xiao, Rasul & Vollgraf, Fashion-MNIST, arXiv:1708.07747, 2017 (an offline addition of this suite, "
                "not part of a published benchmark)")
    Config = FashionMNISTConfig
    budgets = {"smoke": dict(n_train=256, n_val=64, n_test=64), "small": dict(n_train=5000, n_val=1000, n_test=2000),
               "paper": {}}
    paper_sizes, unit = "50,000/10,000/10,000", "images"
    paper_protocol = "offline addition; no published protocol"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=2, in_channels=1, input_size=(28, 28), output="classes", num_outputs=10)

    def folder(self) -> Path:
        """The configured or default data folder; Debian's folder when only it holds the files."""
        own = self.data_dir()
        if self.config.data_dir is None and self._find(own) is None and self._find(DEBIAN_FOLDER) is not None:
            return DEBIAN_FOLDER
        return own

    @staticmethod
    def _find(folder: Path) -> dict[str, Path] | None:
        found = {}
        for key, (name, _) in FILES.items():
            path = next((p for p in (folder / name, folder / f"{name}.gz") if p.exists()), None)
            if path is None:
                return None
            found[key] = path
        return found

    def paths(self) -> dict[str, Path]:
        found = self._find(self.folder())
        if found is None:
            missing = next(k for k, (n, _) in FILES.items() if not any((self.folder() / f).exists()
                                                                      for f in (n, f"{n}.gz")))
            raise MissingDataError(self.folder() / f"{FILES[missing][0]}.gz", "the four Fashion-MNIST IDX files",
                                   f"`apt-get install dataset-fashion-mnist` (installs {DEBIAN_FOLDER}), or copy "
                                   f"the files into {self.data_dir()} (or --set task.data_dir=DIR)")
        return found

    def data_files(self) -> list[DataFile]:
        return [DataFile(self.folder() / f"{name}.gz", f"Fashion-MNIST {name} (gzipped or not)")
                for name, _ in FILES.values()]

    def verify(self) -> list[str]:
        import hashlib

        lines = []
        for key, path in self.paths().items():
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            digest = hashlib.sha256(raw).hexdigest()
            if source_of(self.folder()) == "official" and digest != FILES[key][1]:
                raise CorruptDataError(path, f"sha256 of the content is {digest}, expected {FILES[key][1]}",
                                       "fetch the file again")
            lines.append(f"ok  {path}  content sha256={digest[:12]}…")
        return lines

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        paths, c = self.paths(), self.config
        images = {k: read_idx(paths[f"{k}_images"]) for k in ("train", "test")}
        labels = {k: read_idx(paths[f"{k}_labels"]).astype(np.int64) for k in ("train", "test")}
        for k in images:
            if images[k].ndim != 3 or len(images[k]) != len(labels[k]):
                raise CorruptDataError(paths[f"{k}_images"], f"{images[k].shape} images for {len(labels[k])} labels",
                                       "fetch the files again")
        where, cut = paths["train_images"], len(labels["train"]) - len(labels["train"]) // 6  # 60,000 -> 50,000
        train_idx = take_first(np.arange(cut), c.n_train, "training", where)
        val_idx = take_first(np.arange(cut, len(labels["train"])), c.n_val, "validation", where)
        test_idx = take_first(np.arange(len(labels["test"])), c.n_test, "test", paths["test_images"])
        pixels = torch.from_numpy(images["train"][train_idx]).float() / 255.0
        mean, std = pixels.mean().item(), pixels.std().item()

        def split(name: str, x: np.ndarray, y: np.ndarray) -> Split:
            return Split(name, ((torch.from_numpy(x).float() / 255.0 - mean) / std).unsqueeze(1), torch.from_numpy(y))

        splits = (split("train", images["train"][train_idx], labels["train"][train_idx]),
                  split("val", images["train"][val_idx], labels["train"][val_idx]),
                  split("test", images["test"][test_idx], labels["test"][test_idx]))
        detail = {"files": [str(p) for p in paths.values()], "normaliser": {"mean": mean, "std": std},
                  "note": "offline addition; not part of a published benchmark"}
        return TaskData(*splits, source_of(self.folder()), detail)

    def write_fixture(self, root: Path, seed: int = 0, n_train: int = 360, n_test: int = 60) -> None:
        """The four IDX files (gzipped) of synthetic 28 x 28 images: a class-specific bar pattern plus
        noise; marked as a fixture."""
        rng = np.random.default_rng(seed)
        for split, n in (("train", n_train), ("t10k", n_test)):
            labels = rng.integers(0, 10, n)
            write_idx(root / f"{split}-images-idx3-ubyte.gz", fixture_images(labels, rng))
            write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels.astype(np.uint8))
        mark_fixture(root, type(self).__name__)


def fixture_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 (N, 28, 28): class c lights rows 2c+4 .. 2c+7 (a bar whose height gives the class), noise."""
    images = rng.normal(40, 20, (len(labels), 28, 28))
    for i, c in enumerate(labels):
        images[i, 2 * c + 4: 2 * c + 8, 4:24] += 160
    return np.clip(images, 0, 255).astype(np.uint8)
