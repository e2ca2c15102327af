"""CIFAR-10 and CIFAR-100 image classification (spec/datasets.md 2.1; Krizhevsky, 2009).

The files and their reader are NAS-Bench-360's (``nasbench.tasks.nb360.cifar100``: the python pickles,
extracted or inside the official ``.tar.gz``); the tasks here differ by protocol:

- ``cifar10``: CIFAR-10 under the NAS-Bench-360 protocol of its CIFAR-100 task (the NB360 ``cifar100``
  task is the same protocol on CIFAR-100): the first 40,000 training images train, the last 10,000
  validate (``val_split=0.2`` by position), the 10,000 test images test; NAS-Bench-360's CIFAR-10
  mean and std; RandomCrop(32, 4), horizontal flip and Cutout(16) on training batches.
- ``cifar10-dnarch`` and ``cifar100-dnarch``: the DNArch paper's protocol (Appendix D.2): 45,000 /
  5,000 / 10,000, images "normalized to have zero mean and unit variance across the entire
  dataset" (per-channel dataset statistics: the usual published constants).
  [A] The 45,000/5,000 cut is S4's ``split_train_val(0.1)`` (``random_split``, seed 42), the loader
  lineage the DNArch paper follows for LRA; the paper names no augmentation, so none by default
  (``augment=True`` adds NAS-Bench-360's).

Images stay uint8 in memory and are normalised batch by batch (``LazySplit``). Cross-entropy;
accuracy, error form 0-1 error. Budgets below ``paper`` take the first images of each split.
"""
from __future__ import annotations

import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np
import torch

from nasbench.contracts import DataFile, TaskData, TaskShape
from nasbench.errors import MissingDataError
from nasbench.tasks.classification import ClassificationTask, check_counts, mark_fixture, random_split_indices, \
    source_of, split_lengths, take_first
from nasbench.tasks.nb360.cifar100 import (cutout, normalise, random_crop_flip, read_cifar_pickles,
                                           synthetic_images, write_cifar_pickle)
from nasbench.tasks.nb360.common import LazySplit, OfficialFile
from nasbench.tasks.nb360.download import download_all, verify_official


@dataclass(frozen=True)
class CifarSource:
    """One CIFAR release: archive, folder, batch names, label key and published statistics."""

    archive: str
    md5: str
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: str
    classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def url(self) -> str:
        return f"https://www.cs.toronto.edu/~kriz/{self.archive}"


CIFAR10 = CifarSource("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py",
                      tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), "labels", 10,
                      (0.49139968, 0.48215827, 0.44653124), (0.24703233, 0.24348505, 0.26158768))  # NB360 load_data.py
CIFAR100 = CifarSource("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python",
                       ("train",), ("test",), "fine_labels", 100,
                       (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))  # NB360 load_data.py


def official_file(source: CifarSource) -> OfficialFile:
    """The archive as ``nasbench data <task> --download`` fetches and checks it."""
    return OfficialFile(source.archive, source.url, f"CIFAR python version ({source.archive})", md5=source.md5)


def locate(folder: Path, source: CifarSource, task: str) -> Path:
    """The extracted folder when present, else the archive; MissingDataError naming both otherwise."""
    for candidate in (folder / source.folder, folder / source.archive):
        if candidate.exists():
            return candidate
    raise MissingDataError(folder / source.archive, f"{source.archive} (md5 {source.md5}) or its extracted "
                           f"{source.folder}/ folder", f"run `nasbench data {task} --download` (fetches {source.url} "
                           f"into {folder}), or place the file there; --set task.data_dir=DIR looks elsewhere")


Arrays = tuple[np.ndarray, np.ndarray]


def read_cifar(folder: Path, source: CifarSource, task: str) -> tuple[Arrays, Arrays]:
    """((train images, labels), (test images, labels)), images (N, 3, 32, 32) uint8."""
    root = locate(folder, source, task)
    fix = f"delete {root} and run `nasbench data {task} --download`"
    return (read_cifar_pickles(root, list(source.train), source.label_key, fix),
            read_cifar_pickles(root, list(source.test), source.label_key, fix))


def write_cifar_fixture(root: Path, source: CifarSource, seed: int, n_train: int, n_test: int,
                        classes: tuple[int, ...], extracted: bool) -> None:
    """The release's batches (training images spread over its training batches) of synthetic
    class-coloured striped images, as the official ``.tar.gz`` or extracted."""
    rng = np.random.default_rng(seed)
    folder = root / source.folder
    for names, n in ((source.train, n_train), (source.test, n_test)):
        for name, count in zip(names, np.array_split(np.arange(n), len(names))):
            labels = rng.choice(classes, len(count))
            extra = {b"coarse_labels": [int(v) // 5 for v in labels]} if source.classes == 100 else None
            write_cifar_pickle(folder / name, synthetic_images(labels, rng), labels, source.label_key, extra)
    meta = ("batches.meta", {b"label_names": [f"class_{i}".encode() for i in range(10)]}) if source.classes == 10 else \
        ("meta", {b"fine_label_names": [f"class_{i}".encode() for i in range(100)]})
    (folder / meta[0]).write_bytes(pickle.dumps(meta[1], protocol=2))
    if not extracted:
        with tarfile.open(root / source.archive, "w:gz") as tar:
            tar.add(folder, arcname=source.folder)
        for member in folder.iterdir():
            member.unlink()
        folder.rmdir()


def image_split(name: str, images: np.ndarray, labels: np.ndarray, source: CifarSource, augment: bool) -> LazySplit:
    """uint8 images normalised with ``source``'s statistics batch by batch; with ``augment``, randomly
    drawn training batches get RandomCrop(32, 4), a horizontal flip and Cutout(16) (NB360)."""
    pixels, targets = torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)

    def fetch(idx: np.ndarray, generator: torch.Generator | None):
        x = pixels[idx]
        if generator is None:
            return normalise(x, source.mean, source.std), targets[idx]
        x = normalise(random_crop_flip(x.float(), generator).round().to(torch.uint8), source.mean, source.std)
        return cutout(x, 16, generator), targets[idx]

    return LazySplit(name, len(labels), fetch, targets=targets, randomize=augment)


@dataclass(frozen=True)
class CifarConfig:
    n_train: int | None = None  # None: the whole split of the protocol
    n_val: int | None = None
    n_test: int | None = None
    augment: bool = True
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("cifar", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


BUDGETS = {"smoke": dict(n_train=256, n_val=64, n_test=64), "small": dict(n_train=5000, n_val=1000, n_test=2000),
           "paper": {}}


class CifarTask(ClassificationTask):
    """A CIFAR release under one protocol; subclasses set ``source``, ``protocol`` and the names."""

    family = "cifar"
    Config = CifarConfig
    source: ClassVar[CifarSource]
    protocol: ClassVar[str]  # "nb360": first 80 % / last 20 % by position; "dnarch": 45k/5k random_split(42)
    fixture_classes: ClassVar[tuple[int, ...]]
    default_augment: ClassVar[bool]

    def __init__(self, config: CifarConfig):
        config.validate()
        super().__init__(config)

    @classmethod
    def default_config(cls, budget: str) -> CifarConfig:
        return CifarConfig(augment=cls.default_augment, **BUDGETS[budget])

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        paper = "40,000/10,000/10,000" if cls.protocol == "nb360" else "45,000/5,000/10,000"
        b = BUDGETS[budget]
        if not b:
            return f"{paper} images ({cls.protocol} protocol)"
        return f"the first {b['n_train']}/{b['n_val']}/{b['n_test']} train/val/test images (paper {paper})"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=2, in_channels=3, input_size=(32, 32), output="classes", num_outputs=self.source.classes)

    def data_dir(self) -> Path:
        """One copy of each release serves every protocol: ``<data root>/cifar/<release folder>``."""
        from nasbench.data import data_root

        return Path(self.config.data_dir).expanduser() if self.config.data_dir else data_root() / "cifar"

    def data_files(self) -> list[DataFile]:
        return [DataFile(self.data_dir() / self.source.archive,
                         f"{self.source.archive} (md5 {self.source.md5}; or the extracted {self.source.folder}/)")]

    def download(self, log: Callable[[str], None] = print) -> None:
        download_all(self.name, [official_file(self.source)], self.data_dir(), log)

    def verify(self) -> list[str]:
        """The archive's published md5 (official copies), then every batch read."""
        root = locate(self.data_dir(), self.source, self.name)
        lines = []
        if root.suffix == ".gz" and source_of(self.data_dir()) == "official":
            lines = verify_official(self.name, self.data_dir(), [official_file(self.source)])
        (train_x, _), (test_x, _) = read_cifar(self.data_dir(), self.source, self.name)
        return lines + [f"ok  {root}  ({len(train_x)} training and {len(test_x)} test images read)"]

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        (train_x, train_y), (test_x, test_y) = read_cifar(self.data_dir(), self.source, self.name)
        train_idx, val_idx = self.split_indices(len(train_y))
        c = self.config
        where = locate(self.data_dir(), self.source, self.name)
        train_idx = take_first(train_idx, c.n_train, "training", where)
        val_idx = take_first(val_idx, c.n_val, "validation", where)
        test_idx = take_first(np.arange(len(test_y)), c.n_test, "test", where)
        splits = (image_split("train", train_x[train_idx], train_y[train_idx], self.source, c.augment),
                  image_split("val", train_x[val_idx], train_y[val_idx], self.source, False),
                  image_split("test", test_x[test_idx], test_y[test_idx], self.source, False))
        detail = {"files": [str(where)], "protocol": self.protocol}
        return TaskData(*splits, source_of(self.data_dir()), detail)

    def split_indices(self, total: int) -> tuple[np.ndarray, np.ndarray]:
        if self.protocol == "nb360":
            cut = int(0.8 * total)  # NB360 val_split=0.2, index slicing without shuffling
            return np.arange(cut), np.arange(cut, total)
        train, val = random_split_indices(total, split_lengths(total, 0.1), seed=42)
        return train.numpy(), val.numpy()

    def write_fixture(self, root: Path, seed: int = 0, n_train: int = 320, n_test: int = 64,
                      extracted: bool = False) -> None:
        """The official archive (or its folder) of synthetic images of a few classes; a fixture."""
        write_cifar_fixture(root, self.source, seed, n_train, n_test, self.fixture_classes, extracted)
        mark_fixture(root, type(self).__name__)


class Cifar10(CifarTask):
    name = "cifar10"
    description = "CIFAR-10: 32x32 RGB images, 10 classes, 0-1 error (NAS-Bench-360 loader)"
    smoke_overrides = ("n_train=16", "n_val=4", "n_test=4")
    citation = "Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009; protocol of NAS-Bench-360"
    source = CIFAR10
    protocol = "nb360"
    fixture_classes = tuple(range(10))
    default_augment = True


class Cifar10DNArch(CifarTask):
    name = "cifar10-dnarch"
    description = "CIFAR-10 as DNArch trains it: 32x32 RGB images, 10 classes, 0-1 error"
    smoke_overrides = ("n_train=16", "n_val=4", "n_test=4")
    citation = "Krizhevsky, 2009 (data); protocol of Romero & Zeghidour, DNArch, 2023 (Appendix D.2)"
    source = CIFAR10
    protocol = "dnarch"
    fixture_classes = tuple(range(10))
    default_augment = False


class Cifar100DNArch(CifarTask):
    name = "cifar100-dnarch"
    description = "CIFAR-100 as DNArch trains it: 32x32 RGB images, 100 classes, 0-1 error"
    smoke_overrides = ("n_train=16", "n_val=4", "n_test=4")
    citation = "Krizhevsky, 2009 (data); protocol of Romero & Zeghidour, DNArch, 2023 (Appendix D.2)"
    source = CIFAR100
    protocol = "dnarch"
    fixture_classes = (3, 27, 51, 75)
    default_augment = False

