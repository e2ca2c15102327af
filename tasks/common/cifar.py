"""The one CIFAR reader: the CIFAR-10 and CIFAR-100 python releases (Krizhevsky, Learning Multiple
Layers of Features from Tiny Images, 2009), their fixtures, and the NAS-Bench-360 training transform.

Files: ``cifar-10-python.tar.gz`` (``cifar-10-batches-py/data_batch_{1..5}``, ``test_batch``, labels
``b'labels'``) and ``cifar-100-python.tar.gz`` (``cifar-100-python/{train,test,meta}``, labels
``b'fine_labels'``), read as they are or extracted: python pickles with ``b'data'`` uint8 (N, 3072) =
1024 R, 1024 G, 1024 B row-major 32x32. The tasks ``cifar100`` and ``spherical`` (NAS-Bench-360),
``cifar10``, ``cifar10-dnarch``, ``cifar100-dnarch`` and LRA ``image`` all read them through here.

The NAS-Bench-360 transform (``backbone/data_utils/load_data.py``): ToTensor, Normalize with the
release's statistics; training images add RandomCrop(32, padding=4) and RandomHorizontalFlip before
ToTensor and, for CIFAR-100 only, Cutout(16) after Normalize (its CIFAR-10 loader has no Cutout:
``CifarSource.nb360_cutout``). Images stay uint8 in memory and are normalised batch by batch
(``LazySplit``; same values).
"""
from __future__ import annotations

import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from nasbench.contracts import DataFile
from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.common.download import OfficialFile, download_all, download_fix, verify_official
from nasbench.tasks.common.members import open_members
from nasbench.tasks.common.provenance import source_of
from nasbench.tasks.common.splits import LazySplit


@dataclass(frozen=True)
class CifarSource:
    """One CIFAR release: archive, folder, batch names, label key and published statistics."""

    archive: str
    md5: str
    size_note: str
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: str
    classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    nb360_cutout: int  # Cutout length of NAS-Bench-360's training transform for this release; 0: none
    member_md5: tuple[tuple[str, str], ...] = ()  # extracted members' published md5 (torchvision)

    @property
    def url(self) -> str:
        return f"https://www.cs.toronto.edu/~kriz/{self.archive}"

    @property
    def official_file(self) -> OfficialFile:
        """The archive as ``nasbench data <task> --download`` fetches and checks it."""
        return OfficialFile(self.archive, self.url, f"CIFAR python version ({self.archive}, {self.size_note})",
                            md5=self.md5)


CIFAR10 = CifarSource("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", "163 MiB", "cifar-10-batches-py",
                      tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), "labels", 10,
                      (0.49139968, 0.48215827, 0.44653124), (0.24703233, 0.24348505, 0.26158768),  # NB360 load_data.py
                      nb360_cutout=0)
CIFAR100 = CifarSource("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85", "161 MiB", "cifar-100-python",
                       ("train",), ("test",), "fine_labels", 100,
                       (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761), nb360_cutout=16,  # NB360 load_data.py
                       member_md5=(("train", "16019d7e3df5f24257cddd939b257f8d"),
                                   ("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),
                                   ("meta", "7973b15100ade9c7d40fb424638fde48")))

Arrays = tuple[np.ndarray, np.ndarray]


# -- reading -----------------------------------------------------------------------------------------
def locate(folder: Path, source: CifarSource, task: str) -> Path:
    """The extracted folder when present, else the archive; MissingDataError naming both otherwise."""
    for candidate in (folder / source.folder, folder / source.archive):
        if candidate.exists():
            return candidate
    raise MissingDataError(folder / source.archive, f"{source.archive} (md5 {source.md5}) or its extracted "
                           f"{source.folder}/ folder", download_fix(task, [source.official_file], folder))


def read_cifar(folder: Path, source: CifarSource, task: str) -> tuple[Arrays, Arrays]:
    """((train images, labels), (test images, labels)), images (N, 3, 32, 32) uint8."""
    root = locate(folder, source, task)
    fix = f"delete {root} and run `nasbench data {task} --download`"
    return (read_cifar_pickles(root, list(source.train), source.label_key, fix),
            read_cifar_pickles(root, list(source.test), source.label_key, fix))


def read_cifar_pickles(root: Path, members: Sequence[str], label_key: str = "fine_labels",
                       fix: str = "download the CIFAR python archive again") -> Arrays:
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


class CifarFiles:
    """The files side of a task that reads the release ``source`` from the folder every such task
    shares, ``<data root>/cifar`` (one copy serves the ``cifar10*`` tasks and LRA Image alike)."""

    source: ClassVar[CifarSource]
    name: ClassVar[str]
    config: object

    def data_dir(self) -> Path:
        from nasbench.data import data_root

        configured = getattr(self.config, "data_dir", None)
        return Path(configured).expanduser() if configured else data_root() / "cifar"

    def data_files(self) -> list[DataFile]:
        s = self.source
        return [DataFile(self.data_dir() / s.archive, f"{s.archive} (md5 {s.md5}; or the extracted {s.folder}/)")]

    def download(self, log: Callable[[str], None] = print) -> None:
        download_all(self.name, [self.source.official_file], self.data_dir(), log)

    def verify(self) -> list[str]:
        """The archive's published md5 (official copies), then every batch read."""
        root = locate(self.data_dir(), self.source, self.name)
        lines = []
        if root.suffix == ".gz" and source_of(self.data_dir()) == "official":
            lines = verify_official(self.name, self.data_dir(), [self.source.official_file])
        (train_x, _), (test_x, _) = read_cifar(self.data_dir(), self.source, self.name)
        return lines + [f"ok  {root}  ({len(train_x)} training and {len(test_x)} test images read)"]


# -- fixtures ----------------------------------------------------------------------------------------
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


def write_cifar_fixture(root: Path, source: CifarSource, seed: int, n_train: int, n_test: int,
                        classes: Sequence[int], extracted: bool = False) -> None:
    """The release's batches (training images spread over its training batches) of synthetic
    class-coloured textured images, as the official ``.tar.gz`` or extracted."""
    rng = np.random.default_rng(seed)
    folder = root / source.folder
    for names, n in ((source.train, n_train), (source.test, n_test)):
        for name, count in zip(names, np.array_split(np.arange(n), len(names))):
            labels = rng.choice(classes, len(count))
            extra = {b"coarse_labels": [int(v) // 5 for v in labels]} if source.classes == 100 else None
            write_cifar_pickle(folder / name, synthetic_images(labels, rng), labels, source.label_key, extra)
    meta = ("batches.meta", {b"label_names": [f"class_{i}".encode() for i in range(10)]}) if source.classes == 10 else \
        ("meta", {b"fine_label_names": [f"class_{i}".encode() for i in range(100)],
                  b"coarse_label_names": [f"super_{i}".encode() for i in range(20)]})
    (folder / meta[0]).write_bytes(pickle.dumps(meta[1], protocol=2))
    if not extracted:
        with tarfile.open(root / source.archive, "w:gz") as tar:
            tar.add(folder, arcname=source.folder)
        for member in folder.iterdir():
            member.unlink()
        folder.rmdir()


# -- the NAS-Bench-360 transform ---------------------------------------------------------------------
def normalise(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """ToTensor (/255) then Normalize(mean, std), on (N, 3, H, W) uint8 or float pixel values."""
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


def image_split(name: str, images: np.ndarray, labels: np.ndarray, source: CifarSource, augment: bool) -> LazySplit:
    """uint8 images normalised with ``source``'s statistics batch by batch; with ``augment``, randomly
    drawn training batches get NAS-Bench-360's RandomCrop(32, 4), horizontal flip and, where its
    loader for this release has it, Cutout."""
    pixels, targets = torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)

    def fetch(idx: np.ndarray, generator: torch.Generator | None):
        x = pixels[idx]
        if generator is None:
            return normalise(x, source.mean, source.std), targets[idx]
        x = normalise(random_crop_flip(x, generator), source.mean, source.std)  # uint8 in: whole-pixel crops
        return (cutout(x, source.nb360_cutout, generator) if source.nb360_cutout else x), targets[idx]

    return LazySplit(name, len(labels), fetch, targets=targets, randomize=augment)
