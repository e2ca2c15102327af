"""NAS-Bench-360 CIFAR-100 (Tu et al., NAS-Bench-360: Benchmarking Neural Architecture Search on
Diverse Tasks, NeurIPS 2022 Datasets and Benchmarks, arXiv:2110.05668; data: Krizhevsky, 2009).

Files: ``cifar-100-python.tar.gz`` (md5 eb9058c3a382ffc7106e4002c42a8d85), read as it is or
extracted (``cifar-100-python/{train,test,meta}``) by the suite's CIFAR reader (``tasks.common.cifar``).
Splits: NAS-Bench-360 ``val_split=0.2`` by position: the first 40,000 training images train, the
last 10,000 validate; the official 10,000 test images test.
Preprocessing: ToTensor (/255) and Normalize(mean (0.5071, 0.4867, 0.4408), std (0.2675, 0.2565,
0.2761)); training batches add RandomCrop(32, padding=4), RandomHorizontalFlip and Cutout(16)
(after normalisation), as ``backbone/data_utils/load_data.py``.
Loss: cross entropy. Metric: accuracy; error form 0-1 error.
Departures: images stay uint8 in memory and are normalised batch by batch (same values). In
NAS-Bench-360 the validation subset shares the training transform (it is a ``Subset`` of the
augmented training set); here validation images are not augmented, so validation scores are
deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nasbench.contracts import TaskData, TaskShape
from nasbench.errors import CorruptDataError
from nasbench.tasks.common.cifar import CIFAR100, image_split, locate, read_cifar, write_cifar_fixture
from nasbench.tasks.common.classification import ClassificationTask
from nasbench.tasks.common.download import file_digest, missing, verify_official
from nasbench.tasks.common.provenance import mark_fixture, source_of
from nasbench.tasks.common.splits import check_counts, first_n
from nasbench.tasks.nb360.base import NB360Task

ARCHIVE = CIFAR100.official_file
FOLDER = CIFAR100.folder
FIXTURE_CLASSES = (4, 29, 54, 79)  # one per texture (label % 4): a few of the 100 labels, so a fixture can be learnt


@dataclass(frozen=True)
class Cifar100Config:
    n_train: int | None = None  # None: all 40,000
    n_val: int | None = None  # None: all 10,000
    n_test: int | None = None  # None: all 10,000
    val_fraction: float = 0.2  # NAS-Bench-360 val_split: the last 20 % of train validates
    augment: bool = True
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("cifar100", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


class Cifar100(ClassificationTask, NB360Task):
    name = "cifar100"
    description = "NAS-Bench-360 CIFAR-100: 32x32 images, 100 classes, 0-1 error"
    smoke_overrides = ("n_train=64", "n_val=16", "n_test=16")
    citation = "Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; Krizhevsky, 2009 (data)"
    Config = Cifar100Config
    files = (ARCHIVE,)
    budgets = {"smoke": dict(n_train=256, n_val=64, n_test=64), "small": dict(n_train=5000, n_val=1000, n_test=2000),
               "paper": {}}
    paper_sizes, unit = "40,000/10,000/10,000", "images"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=2, in_channels=3, input_size=(32, 32), output="classes", num_outputs=100)

    def verify(self) -> list[str]:
        folder = self.data_dir() / FOLDER
        if not folder.is_dir():
            return verify_official(self.name, self.data_dir(), [ARCHIVE])
        lines = []  # an extracted copy: the member checksums published with torchvision
        for member, md5 in CIFAR100.member_md5:
            path = folder / member
            if not path.exists():
                raise missing(self.name, path, [ARCHIVE], f"extracted CIFAR-100 batch {member!r}")
            if source_of(self.data_dir()) == "fixture":
                lines.append(f"fixture  {path}  (synthetic test data; official checksums do not apply)")
            elif (actual := file_digest(path, "md5")) != md5:
                raise CorruptDataError(path, f"md5 is {actual}, expected {md5}",
                                       f"run `nasbench data {self.name} --download`")
            else:
                lines.append(f"ok  {path}  md5={md5}")
        return lines

    def locate(self) -> Path:
        """The extracted folder when present, else the archive; MissingDataError when neither."""
        return locate(self.data_dir(), CIFAR100, self.name)

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        (train_x, train_y), (test_x, test_y) = read_cifar(self.data_dir(), CIFAR100, self.name)
        root, c = self.locate(), self.config
        cut = int((1 - c.val_fraction) * len(train_y))  # NAS-Bench-360: index slicing, no shuffle
        n_tr = first_n(c.n_train, cut, "training images", root)
        n_va = first_n(c.n_val, len(train_y) - cut, "validation images", root)
        n_te = first_n(c.n_test, len(test_y), "test images", root)
        splits = (image_split("train", train_x[:n_tr], train_y[:n_tr], CIFAR100, c.augment),
                  image_split("val", train_x[cut: cut + n_va], train_y[cut: cut + n_va], CIFAR100, False),
                  image_split("test", test_x[:n_te], test_y[:n_te], CIFAR100, False))
        return TaskData(*splits, source_of(self.data_dir()), {"files": [str(root)]})

    def write_fixture(self, root: Path, seed: int = 0, n_train: int = 320, n_test: int = 64,
                      extracted: bool = False) -> None:
        """The official tar.gz (or, with ``extracted``, its folder) of synthetic images; a few classes."""
        write_cifar_fixture(root, CIFAR100, seed, n_train, n_test, FIXTURE_CLASSES, extracted)
        mark_fixture(root, self.name)
