"""LRA Image: sequential grey-scale CIFAR-10 (Tay et al., Long Range Arena, ICLR 2021, arXiv:2011.04006; the
DNArch paper's Appendix D.1, arXiv:2302.05400).

Files: the CIFAR-10 python pickles, read by the suite's CIFAR reader (``tasks.common.cifar``) from the
same folder as the ``cifar10`` tasks (``<data root>/cifar``: ``cifar-10-python.tar.gz`` or
``cifar-10-batches-py/``).

Preprocessing (S4 ``CIFAR10(grayscale=True)``, which the DNArch paper follows): PIL's ``convert("L")``
(ITU-R 601-2 luma in fixed point, as ``torchvision.transforms.Grayscale``), raster scan to a sequence
of 1024, then ``Normalize(122.6 / 255, 61.0 / 255)`` ("zero mean and unit variance across the entire
dataset"): inputs (N, 1, 1024) real values. ``encoding='tokens'`` gives the LRA original instead:
the grey levels as 256 token ids (N, 1024). Split: 45,000 / 5,000 by S4's ``random_split`` with seed
42 (LRA: TFDS ``train[:90%]`` / ``train[90%:]``), the 10,000 test images test. Ten classes,
cross-entropy, accuracy. Budgets below ``paper`` take the first images of each split.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch

from nasbench.contracts import Split, TaskData, TaskShape
from nasbench.tasks.common.cifar import CIFAR10, CifarFiles, locate, read_cifar, write_cifar_fixture
from nasbench.tasks.common.classification import ClassificationTask
from nasbench.tasks.common.provenance import mark_fixture, source_of
from nasbench.tasks.common.splits import check_counts, random_split_indices, split_lengths, take_first

GREY_MEAN, GREY_STD = 122.6, 61.0  # S4, in grey levels (122.6 / 255 and 61.0 / 255 after ToTensor)


@dataclass(frozen=True)
class ImageConfig:
    n_train: int | None = None  # None: all 45,000
    n_val: int | None = None  # None: all 5,000
    n_test: int | None = None  # None: all 10,000
    encoding: Literal["normalized", "tokens"] = "normalized"  # S4/DNArch, or LRA's 256 grey-level tokens
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("image", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


def rgb_to_grey(images: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) uint8 -> (N, H, W) uint8 as Pillow's ``convert("L")``: L = R 299/1000 + G 587/1000
    + B 114/1000 in 16-bit fixed point with rounding."""
    r, g, b = (images[:, i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


class Image(CifarFiles, ClassificationTask):
    name = "image"
    description = "LRA Image: grayscale CIFAR-10 as a 1D sequence of 1,024 pixels, 0-1 error"
    smoke_overrides = ("n_train=16", "n_val=4", "n_test=4")
    family = "lra"
    citation = ("Tay et al., Long Range Arena, ICLR 2021; Krizhevsky, 2009 (data); preprocessing of Gu et al., "
                "S4, ICLR 2022")
    Config = ImageConfig
    source = CIFAR10
    budgets = {"smoke": dict(n_train=256, n_val=64, n_test=64), "small": dict(n_train=5000, n_val=1000, n_test=2000),
               "paper": {}}
    paper_sizes, unit, paper_protocol = "45,000/5,000/10,000", "images", "LRA, S4"

    @property
    def shape(self) -> TaskShape:
        tokens = self.config.encoding == "tokens"
        return TaskShape(dims=1, in_channels=1, input_size=(1024,), output="classes", num_outputs=10,
                         vocab_size=256 if tokens else None)

    def encode(self, images: np.ndarray) -> torch.Tensor:
        grey = torch.from_numpy(rgb_to_grey(images).reshape(len(images), -1))
        if self.config.encoding == "tokens":
            return grey.long()
        return ((grey.float() - GREY_MEAN) / GREY_STD).unsqueeze(1)

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        (train_x, train_y), (test_x, test_y) = read_cifar(self.data_dir(), CIFAR10, self.name)
        train_idx, val_idx = random_split_indices(len(train_y), split_lengths(len(train_y), 0.1), seed=42)
        c, where = self.config, locate(self.data_dir(), CIFAR10, self.name)
        parts = {"train": (train_x, train_y, take_first(train_idx, c.n_train, "training", where)),
                 "val": (train_x, train_y, take_first(val_idx, c.n_val, "validation", where)),
                 "test": (test_x, test_y, take_first(torch.arange(len(test_y)), c.n_test, "test", where))}
        splits = [Split(name, self.encode(x[idx.numpy()]), torch.from_numpy(y[idx.numpy()]))
                  for name, (x, y, idx) in parts.items()]
        detail = {"files": [str(where)], "encoding": c.encoding}
        return TaskData(*splits, source_of(self.data_dir()), detail)

    def write_fixture(self, root: Path, seed: int = 0, n_train: int = 320, n_test: int = 64) -> None:
        """The CIFAR-10 release's batches of synthetic images (the files of the ``cifar10`` tasks)."""
        write_cifar_fixture(root, CIFAR10, seed, n_train, n_test, tuple(range(10)))
        mark_fixture(root, type(self).__name__)
