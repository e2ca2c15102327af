"""NAS-Bench-360 Spherical CIFAR-100 (Tu et al., NAS-Bench-360, NeurIPS 2022 Datasets and Benchmarks,
arXiv:2110.05668; projection of Cohen et al., Spherical CNNs, ICLR 2018, arXiv:1801.10130).

File: ``s2_cifar100.gz``, a gzip-compressed pickle ``{'train': {'images': uint8 (50000, 3, 60, 60),
'labels': (50000,)}, 'test': {'images': (10000, 3, 60, 60), 'labels': (10000,)}}`` (the
gunzipped ``s2_cifar100`` left by ``download_datasets.sh`` is read too).
Splits: ``val_split=0.2`` by position: first 40,000 train, last 10,000 validate, official test.
Preprocessing: none; NAS-Bench-360's backbone feeds the raw 0-255 values as float32
(``scale='raw'``); ORCA divides by 255 (``scale='unit'``).
Loss: cross entropy. Metric: accuracy; error form 0-1 error.
Generation: without the official file, ``nasbench data spherical --generate`` projects a CIFAR-100
copy (``task.cifar_dir``, default the ``cifar100`` task's folder) with the documented process
(``s2_projection``) into ``generated/s2_cifar100.gz`` with a sidecar holding its sha256; runs
record ``generated`` (process-faithful; the random rotations differ from the official file's),
or ``fixture`` when the CIFAR copy was a fixture.
Departures: images stay uint8 in memory and become float batch by batch (same values).
"""
from __future__ import annotations

import gzip
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch

from nasbench.contracts import TaskData, TaskShape
from nasbench.data import atomic_write_bytes, atomic_write_text, data_root, sha256_file
from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.common.cifar import read_cifar_pickles, synthetic_images
from nasbench.tasks.common.classification import ClassificationTask
from nasbench.tasks.common.download import OfficialFile, download_fix, verify_official
from nasbench.tasks.common.provenance import mark_fixture, source_of
from nasbench.tasks.common.splits import LazySplit, check_counts, first_n
from nasbench.tasks.nb360.base import S3, NB360Task
from nasbench.tasks.nb360.cifar100 import FIXTURE_CLASSES, Cifar100, Cifar100Config
from nasbench.tasks.nb360.s2_projection import project_images

OFFICIAL = OfficialFile("s2_cifar100.gz", f"{S3}/spherical/s2_cifar100.gz",
                        "gzip pickle {'train','test'}: {'images' uint8 (N, 3, 60, 60), 'labels'} (272 MB)")
GUNZIPPED = "s2_cifar100"


@dataclass(frozen=True)
class SphericalConfig:
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    val_fraction: float = 0.2
    scale: Literal["raw", "unit"] = "raw"  # raw 0-255 (NAS-Bench-360 backbone) or /255 (ORCA)
    source: Literal["auto", "official", "generated"] = "auto"
    cifar_dir: str | None = None  # CIFAR-100 copy to project; None: the cifar100 task's folder
    projection_seed: int = 0
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("spherical", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


def read_s2_pickle(path: Path) -> dict:
    """The official dict, from the gzip file or its gunzipped copy."""
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as handle:
            data = pickle.load(handle, encoding="latin1")
        return {part: {k: np.asarray(data[part][k]) for k in ("images", "labels")} for part in ("train", "test")}
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError) as exc:
        raise CorruptDataError(path, f"not the Spherical CIFAR-100 pickle ({type(exc).__name__}: {exc})",
                               "run `nasbench data spherical --download` again") from exc


def write_s2_pickle(path: Path, data: dict) -> None:
    atomic_write_bytes(path, gzip.compress(pickle.dumps(data, protocol=4), compresslevel=6))


def spherical_split(name: str, images: np.ndarray, labels: np.ndarray, scale: str) -> LazySplit:
    pixels, targets = torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels.astype(np.int64))
    factor = 1.0 if scale == "raw" else 1.0 / 255.0
    return LazySplit(name, len(labels), lambda idx, g: (pixels[idx].float() * factor, targets[idx]), targets=targets)


class Spherical(ClassificationTask, NB360Task):
    name = "spherical"
    description = "NAS-Bench-360 Spherical: CIFAR-100 projected on the sphere, 60x60, 0-1 error"
    smoke_overrides = ("n_train=64", "n_val=16", "n_test=16")
    citation = ("Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; "
                "Cohen et al., Spherical CNNs, ICLR 2018 (projection)")
    Config = SphericalConfig
    files = (OFFICIAL,)
    budgets = {"smoke": dict(n_train=128, n_val=32, n_test=32), "small": dict(n_train=5000, n_val=1000, n_test=2000),
               "paper": {}}
    paper_sizes, unit = "40,000/10,000/10,000", "images"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=2, in_channels=3, input_size=(60, 60), output="classes", num_outputs=100)

    # -- files -----------------------------------------------------------------------------------
    def official_path(self) -> Path | None:
        for name in (OFFICIAL.name, GUNZIPPED):
            if (self.data_dir() / name).exists():
                return self.data_dir() / name
        return None

    def generated_path(self) -> Path:
        return self.data_dir() / "generated" / OFFICIAL.name

    def verify(self) -> list[str]:
        if self.config.source != "generated" and self.official_path() is not None:
            return verify_official(self.name, self.data_dir(), [OFFICIAL]) if self.official_path().suffix else [
                f"ok  {self.official_path()}  (gunzipped copy; no checksum published)"]
        sidecar = self._check_generated()
        return [f"ok  {self.generated_path()}  sha256={sidecar['sha256'][:12]}…  (generated from {sidecar['cifar']})"]

    def can_generate(self) -> bool:
        return True

    def cifar_task(self) -> Cifar100:
        folder = self.config.cifar_dir or str(data_root() / "nb360" / "cifar100")
        return Cifar100(Cifar100Config(data_dir=folder))

    def generate(self, log: Callable[[str], None] = print) -> None:
        cifar = self.cifar_task()
        root = cifar.locate()
        log(f"spherical: projecting CIFAR-100 from {root} (bandwidth 30, one rotation per 500 images)")
        rng = np.random.default_rng(self.config.projection_seed)
        data = {}
        for part in ("train", "test"):
            images, labels = read_cifar_pickles(root, [part])
            data[part] = {"images": project_images(images, rng), "labels": labels}
        path = self.generated_path()
        write_s2_pickle(path, data)
        sidecar = {"sha256": sha256_file(path), "cifar": str(root), "seed": self.config.projection_seed,
                   "cifar_source": source_of(cifar.data_dir()), "process": "s2cnn gendata, 3 channels"}
        atomic_write_text(path.with_suffix(".json"), json.dumps(sidecar, indent=2))
        log(f"spherical: written {path}")

    def _check_generated(self) -> dict:
        path = self.generated_path()
        try:
            sidecar = json.loads(path.with_suffix(".json").read_text())
        except (OSError, ValueError):
            raise self._missing() from None
        if not path.exists() or sha256_file(path) != sidecar["sha256"]:
            raise CorruptDataError(path, "missing or sha256 differs from the one recorded when it was generated",
                                   "run `nasbench data spherical --generate` again")
        return sidecar

    def _missing(self) -> MissingDataError:
        fix = (download_fix(self.name, [OFFICIAL], self.data_dir()) +
               f"; or project a CIFAR-100 copy with `nasbench data spherical --generate` "
               f"(looked for in {self.cifar_task().data_dir()}, set task.cifar_dir)")
        return MissingDataError(self.data_dir() / OFFICIAL.name, OFFICIAL.description, fix)

    # -- loading ---------------------------------------------------------------------------------
    def _resolve(self, allow_generate: bool, log) -> tuple[Path, str]:
        official = self.official_path()
        if self.config.source != "generated" and official is not None:
            return official, source_of(self.data_dir())
        if self.config.source == "official":
            raise self._missing()
        if not self.generated_path().exists():
            if not allow_generate:
                raise self._missing()
            self.generate(log)
        sidecar = self._check_generated()
        return self.generated_path(), "fixture" if sidecar["cifar_source"] == "fixture" else "generated"

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        path, source = self._resolve(allow_generate, log)
        data, c = read_s2_pickle(path), self.config
        (train_x, train_y), (test_x, test_y) = ((data[p]["images"], data[p]["labels"]) for p in ("train", "test"))
        if train_x.shape[1:] != (3, 60, 60) or train_x.dtype != np.uint8:
            raise CorruptDataError(path, f"train images are {train_x.dtype} {train_x.shape}, "
                                         f"expected uint8 (N, 3, 60, 60)",
                                   "download or generate the file again")
        cut = int((1 - c.val_fraction) * len(train_y))
        n_tr = first_n(c.n_train, cut, "training images", path)
        n_va = first_n(c.n_val, len(train_y) - cut, "validation images", path)
        n_te = first_n(c.n_test, len(test_y), "test images", path)
        splits = (spherical_split("train", train_x[:n_tr], train_y[:n_tr], c.scale),
                  spherical_split("val", train_x[cut: cut + n_va], train_y[cut: cut + n_va], c.scale),
                  spherical_split("test", test_x[:n_te], test_y[:n_te], c.scale))
        return TaskData(*splits, source, {"files": [str(path)]})

    def write_fixture(self, root: Path, seed: int = 0, n_train: int = 160, n_test: int = 32) -> None:
        """The official file, made by the documented projection from synthetic CIFAR-like images.
        All images share one rotation (one chunk), so a few hundred images are learnable."""
        rng = np.random.default_rng(seed)
        labels = rng.choice(FIXTURE_CLASSES, n_train + n_test)
        images = project_images(synthetic_images(labels, rng), rng, chunk=n_train + n_test)
        data = {"train": {"images": images[:n_train], "labels": labels[:n_train]},
                "test": {"images": images[n_train:], "labels": labels[n_train:]}}
        write_s2_pickle(root / OFFICIAL.name, data)
        mark_fixture(root, self.name)
