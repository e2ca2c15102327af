"""CIFAR-10 and CIFAR-100 image classification (Krizhevsky, Learning Multiple Layers of Features from
Tiny Images, 2009) under the NAS-Bench-360 and DNArch protocols.

The files and their reader are the suite's one CIFAR reader (``tasks.common.cifar``: the python
pickles, extracted or inside the official ``.tar.gz``); the tasks here differ by protocol:

- ``cifar10``: CIFAR-10 under NAS-Bench-360's CIFAR-10 loader (``load_cifar10_train_data``, the
  protocol of its CIFAR-100 task on CIFAR-10): the first 40,000 training images train, the last
  10,000 validate (``val_split=0.2`` by position), the 10,000 test images test; NAS-Bench-360's
  CIFAR-10 mean and std; RandomCrop(32, 4) and a horizontal flip on training batches, and no Cutout
  (NAS-Bench-360 adds Cutout(16) for CIFAR-100 only).
- ``cifar10-dnarch`` and ``cifar100-dnarch``: the DNArch paper's protocol (Romero & Zeghidour, DNArch:
  Learning Convolutional Neural Architectures by Backpropagation, arXiv:2302.05400, Appendix D.2):
  45,000 / 5,000 / 10,000, images "normalized to have zero mean and unit variance across the entire
  dataset" (per-channel dataset statistics: the usual published constants).
  [A] The 45,000/5,000 cut is S4's ``split_train_val(0.1)`` (``random_split``, seed 42), the loader
  lineage the DNArch paper follows for LRA; the paper names no augmentation, so none by default
  (``augment=True`` adds NAS-Bench-360's transform for the release).

Images stay uint8 in memory and are normalised batch by batch (``LazySplit``). Cross-entropy;
accuracy, error form 0-1 error. Budgets below ``paper`` take the first images of each split.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from nasbench.contracts import TaskData, TaskShape
from nasbench.tasks.common.cifar import (
    CIFAR10,
    CIFAR100,
    CifarFiles,
    CifarSource,
    image_split,
    locate,
    read_cifar,
    write_cifar_fixture,
)
from nasbench.tasks.common.classification import ClassificationTask
from nasbench.tasks.common.provenance import mark_fixture, source_of
from nasbench.tasks.common.splits import check_counts, random_split_indices, split_lengths, take_first

__all__ = ["CIFAR10", "CIFAR100", "CifarConfig", "CifarSource", "CifarTask", "Cifar10", "Cifar10DNArch",
           "Cifar100DNArch"]


@dataclass(frozen=True)
class CifarConfig:
    n_train: int | None = None  # None: the whole split of the protocol
    n_val: int | None = None
    n_test: int | None = None
    augment: bool = True
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("cifar", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


class CifarTask(CifarFiles, ClassificationTask):
    """A CIFAR release under one protocol; subclasses set ``source``, ``protocol`` and the names."""

    family = "cifar"
    Config = CifarConfig
    protocol: ClassVar[str]  # "nb360": first 80 % / last 20 % by position; "dnarch": 45k/5k random_split(42)
    fixture_classes: ClassVar[tuple[int, ...]]
    default_augment: ClassVar[bool]
    budgets = {"smoke": dict(n_train=256, n_val=64, n_test=64), "small": dict(n_train=5000, n_val=1000, n_test=2000),
               "paper": {}}
    unit = "images"

    @classmethod
    def config_fields(cls, budget: str) -> dict[str, Any]:
        return dict(augment=cls.default_augment, **cls.budgets[budget])

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=2, in_channels=3, input_size=(32, 32), output="classes", num_outputs=self.source.classes)

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
    protocol, paper_protocol = "nb360", "NAS-Bench-360 protocol"
    paper_sizes = "40,000/10,000/10,000"
    fixture_classes = tuple(range(10))
    default_augment = True


class Cifar10DNArch(CifarTask):
    name = "cifar10-dnarch"
    description = "CIFAR-10 as DNArch trains it: 32x32 RGB images, 10 classes, 0-1 error"
    smoke_overrides = ("n_train=16", "n_val=4", "n_test=4")
    citation = "Krizhevsky, 2009 (data); protocol of Romero & Zeghidour, DNArch, 2023 (Appendix D.2)"
    source = CIFAR10
    protocol, paper_protocol = "dnarch", "DNArch protocol"
    paper_sizes = "45,000/5,000/10,000"
    fixture_classes = tuple(range(10))
    default_augment = False


class Cifar100DNArch(CifarTask):
    name = "cifar100-dnarch"
    description = "CIFAR-100 as DNArch trains it: 32x32 RGB images, 100 classes, 0-1 error"
    smoke_overrides = ("n_train=16", "n_val=4", "n_test=4")
    citation = "Krizhevsky, 2009 (data); protocol of Romero & Zeghidour, DNArch, 2023 (Appendix D.2)"
    source = CIFAR100
    protocol, paper_protocol = "dnarch", "DNArch protocol"
    paper_sizes = "45,000/5,000/10,000"
    fixture_classes = (3, 27, 51, 75)
    default_augment = False
