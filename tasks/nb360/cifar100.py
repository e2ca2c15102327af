"""NAS-Bench-360 CIFAR-100 (spec/datasets.md 2.1; Tu et al. 2022, Krizhevsky 2009).

Files: ``cifar-100-python.tar.gz`` (md5 eb9058c3a382ffc7106e4002c42a8d85), read as it is or
extracted (``cifar-100-python/{train,test,meta}``); python pickles with ``b'data'`` uint8
(N, 3072) = 1024 R, 1024 G, 1024 B row-major 32x32, and ``b'fine_labels'`` 0-99.
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

``read_cifar_pickles`` and ``write_cifar_pickle`` are public: the CIFAR-10 tasks reuse them.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from nasbench.contracts import MetricSpec, Split, Task, TaskData, TaskShape
from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.nb360 import common, metrics
from nasbench.tasks.nb360.common import LazySplit, OfficialFile
from nasbench.tasks.nb360.download import download_all, file_digest, verify_official
from nasbench.tasks.nb360.members import open_members

ARCHIVE = OfficialFile("cifar-100-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                       "CIFAR-100 python version (161 MiB)", md5="eb9058c3a382ffc7106e4002c42a8d85")
FOLDER = "cifar-100-python"
MEMBER_MD5 = {"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
              "meta": "7973b15100ade9c7d40fb424638fde48"}  # torchvision's published checksums
MEAN, STD = (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)
FIXTURE_CLASSES = (4, 29, 54, 79)  # one per texture (label % 4); the labels a fixture uses (a few of the 100, so it can be learnt)


def read_cifar_pickles(root: Path, members: Sequence[str], label_key: str = "fine_labels",
                       fix: str = "download the CIFAR python archive again") -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 from CIFAR python batches.

    ``root`` is the extracted folder (``cifar-100-python/`` or ``cifar-10-batches-py/``), a folder
    above it, or the ``.tar.gz`` archive; ``members`` are batch names (``train``, ``data_batch_1``);
    ``label_key`` is ``fine_labels`` (CIFAR-100) or ``labels`` (CIFAR-10)."""
    source = open_members(root)
    images, labels = [], []
    for member in members:
        name = source.find(member)
        if name is None:
            raise MissingDataError(root / member, f"CIFAR python batch {member!r}", fix)
        batch = pickle.loads(source.read(name), encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072 or label_key.encode() not in batch:
            raise CorruptDataError(source.where(name), f"expected b'data' (N, 3072) and b'{label_key}'", fix)
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[label_key.encode()], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def write_cifar_pickle(path: Path, images: np.ndarray, labels: np.ndarray, label_key: str = "fine_labels",
                       extra: dict | None = None) -> None:
    """One batch in the official layout (bytes keys, ``b'data'`` (N, 3072) uint8)."""
    batch = {b"batch_label": b"fixture batch", label_key.encode(): [int(v) for v in labels],
             b"data": np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), 3072),
             b"filenames": [f"fixture_{i:05d}.png".encode() for i in range(len(images))], **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(batch, protocol=2))


def synthetic_images(labels: np.ndarray, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """uint8 (N, 3, size, size): a class colour times a class texture (smooth, horizontal or
    vertical stripes, checkerboard; period 4 px, random phase), plus noise. Texture survives the
    spherical projection's per-channel rescaling; colour helps on plain CIFAR."""
    yy, xx = np.mgrid[:size, :size]
    images = np.empty((len(labels), 3, size, size))
    for i, label in enumerate(labels):
        colour = np.random.default_rng(int(label)).uniform(0.2, 0.8, 3)
        dy, dx = rng.integers(0, 4, 2)
        texture = [np.cos(np.pi * (xx + yy) / size + dx), ((yy + dy) // 2) % 2, ((xx + dx) // 2) % 2,
                   ((xx + dx) // 2 + (yy + dy) // 2) % 2][int(label) % 4]
        images[i] = colour[:, None, None] * (0.55 + 0.45 * texture) + rng.normal(0, 0.05, (3, size, size))
    return (np.clip(images, 0, 1) * 255).astype(np.uint8)


@dataclass(frozen=True)
class Cifar100Config:
    n_train: int | None = None  # None: all 40,000
    n_val: int | None = None  # None: all 10,000
    n_test: int | None = None  # None: all 10,000
    val_fraction: float = 0.2  # NAS-Bench-360 val_split: the last 20 % of train validates
    augment: bool = True
    data_dir: str | None = None

    def validate(self) -> None:
        common.check_counts("cifar100", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


BUDGETS = {"smoke": dict(n_train=256, n_val=64, n_test=64), "small": dict(n_train=5000, n_val=1000, n_test=2000),
           "paper": {}}


def normalise(images: torch.Tensor, mean=MEAN, std=STD) -> torch.Tensor:
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    return (images.float() / 255.0 - m) / s


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """RandomCrop(size, padding) with zero padding, then RandomHorizontalFlip(0.5), per image
    (one gather: row and column indices of every output pixel)."""
    n, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)
    oy, ox = torch.randint(0, 2 * padding + 1, (2, n, 1), generator=generator)
    flip = torch.rand(n, 1, generator=generator) < 0.5
    rows = oy + torch.arange(h)
    cols = ox + torch.where(flip, torch.arange(w - 1, -1, -1), torch.arange(w))
    return padded[torch.arange(n).view(n, 1, 1, 1), torch.arange(c).view(1, c, 1, 1),
                  rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]


def cutout(x: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    """Zero a length x length square (clipped at the border) around a uniform centre, per image."""
    n, _, h, w = x.shape
    cy, cx = torch.randint(0, h, (n,), generator=generator), torch.randint(0, w, (n,), generator=generator)
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    inside = ((rows >= cy.view(n, 1, 1) - length // 2) & (rows < cy.view(n, 1, 1) + length // 2)
              & (cols >= cx.view(n, 1, 1) - length // 2) & (cols < cx.view(n, 1, 1) + length // 2))
    return x * (~inside).unsqueeze(1)


def cifar_split(name: str, images: np.ndarray, labels: np.ndarray, augment: bool) -> LazySplit:
    """uint8 images normalised batch by batch; crop/flip/cutout on randomly drawn training batches."""
    pixels, targets = torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)

    def fetch(idx: np.ndarray, generator: torch.Generator | None):
        x = pixels[idx]
        if generator is None:
            return normalise(x), targets[idx]
        x = normalise(random_crop_flip(x, generator))  # uint8 in, crops of whole pixels
        return cutout(x, 16, generator), targets[idx]

    return LazySplit(name, len(labels), fetch, targets=targets, randomize=augment)


class Cifar100(Task):
    name = "cifar100"
    description = "NAS-Bench-360 CIFAR-100: 32x32 images, 100 classes, 0-1 error"
    smoke_overrides = ("n_train=64", "n_val=16", "n_test=16")
    family = "nb360"
    citation = "Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; Krizhevsky, 2009 (data)"
    Config = Cifar100Config
    metric = MetricSpec(name="accuracy", direction="max", error_name="0-1 error")

    def __init__(self, config: Cifar100Config):
        config.validate()
        super().__init__(config)

    @classmethod
    def default_config(cls, budget: str) -> Cifar100Config:
        return Cifar100Config(**BUDGETS[budget])

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        return common.count_notes(BUDGETS, budget, "40,000/10,000/10,000", "images")

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=2, in_channels=3, input_size=(32, 32), output="classes", num_outputs=100)

    def data_files(self):
        return [ARCHIVE.data_file(self.data_dir())]

    def verify(self) -> list[str]:
        folder = self.data_dir() / FOLDER
        if not folder.is_dir():
            return verify_official(self.name, self.data_dir(), [ARCHIVE])
        lines = []  # an extracted copy: the member checksums published with torchvision
        for member, md5 in MEMBER_MD5.items():
            path = folder / member
            if not path.exists():
                raise common.missing(self.name, path, [ARCHIVE], f"extracted CIFAR-100 batch {member!r}")
            if common.source_of(self.data_dir()) == "fixture":
                lines.append(f"fixture  {path}  (synthetic test data; official checksums do not apply)")
            elif (actual := file_digest(path, "md5")) != md5:
                raise CorruptDataError(path, f"md5 is {actual}, expected {md5}", f"run `nasbench data {self.name} --download`")
            else:
                lines.append(f"ok  {path}  md5={md5}")
        return lines

    def download(self, log: Callable[[str], None] = print) -> None:
        download_all(self.name, [ARCHIVE], self.data_dir(), log)

    def locate(self) -> Path:
        """The extracted folder when present, else the archive; MissingDataError when neither."""
        for candidate in (self.data_dir() / FOLDER, self.data_dir() / ARCHIVE.name):
            if candidate.exists():
                return candidate
        raise common.missing(self.name, self.data_dir() / ARCHIVE.name, [ARCHIVE])

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        root, c = self.locate(), self.config
        fix = common.download_fix(self.name, [ARCHIVE], self.data_dir())
        train_x, train_y = read_cifar_pickles(root, ["train"], fix=fix)
        test_x, test_y = read_cifar_pickles(root, ["test"], fix=fix)
        cut = int((1 - c.val_fraction) * len(train_y))  # NAS-Bench-360: index slicing, no shuffle
        n_tr = common.first_n(c.n_train, cut, "training images", root)
        n_va = common.first_n(c.n_val, len(train_y) - cut, "validation images", root)
        n_te = common.first_n(c.n_test, len(test_y), "test images", root)
        splits = (cifar_split("train", train_x[:n_tr], train_y[:n_tr], c.augment),
                  cifar_split("val", train_x[cut: cut + n_va], train_y[cut: cut + n_va], False),
                  cifar_split("test", test_x[:n_te], test_y[:n_te], False))
        return TaskData(*splits, common.source_of(self.data_dir()), {"files": [str(root)]})

    def write_fixture(self, root: Path, seed: int = 0, n_train: int = 320, n_test: int = 64,
                      extracted: bool = False) -> None:
        """The official tar.gz (or, with ``extracted``, its folder) of synthetic images; a few classes."""
        import tarfile

        rng = np.random.default_rng(seed)
        folder = root / FOLDER
        for member, n in (("train", n_train), ("test", n_test)):
            labels = rng.choice(FIXTURE_CLASSES, n)
            write_cifar_pickle(folder / member, synthetic_images(labels, rng), labels,
                               extra={b"coarse_labels": [int(v) // 5 for v in labels]})
        (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": [f"class_{i}".encode() for i in range(100)],
                                                    b"coarse_label_names": [f"super_{i}".encode() for i in range(20)]}))
        if not extracted:
            with tarfile.open(root / ARCHIVE.name, "w:gz") as tar:
                tar.add(folder, arcname=FOLDER)
            for member in folder.iterdir():
                member.unlink()
            folder.rmdir()
        common.write_fixture_marker(root, self.name)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        return metrics.accuracy(outputs, split.targets)
