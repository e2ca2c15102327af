"""NAS-Bench-360 DeepSEA (filtered, 36 chromatin features) (Tu et al., NAS-Bench-360, NeurIPS 2022 Datasets
and Benchmarks, arXiv:2110.05668; data: Zhou & Troyanskaya, Nature Methods 2015).

File: ``deepsea_filtered.npz`` with ``x_train`` (71753, 1000, 4), ``y_train`` (71753, 36),
``x_val`` (2490, 1000, 4), ``y_val``, ``x_test`` (149400, 1000, 4), ``y_test``; x one-hot DNA,
one byte per element [inferred from the 860 MB size].
Reading: each array is streamed from its zip member and only the first n rows a budget uses are
read (the archive is not extracted and unused rows never reach memory). Arrays the official loader's
``np.load`` also reads but that cannot be cut as a stream (Fortran order, ``.npy`` format 3.0) are
read whole, then cut.
Splits: the file's train / val / test.
Preprocessing: permute to (N, 4, 1000); inputs stay one byte per base in memory and become
float32 batch by batch; labels float for the loss.
Loss: ``BCEWithLogitsLoss`` (NAS-Bench-360 backbone; ``pos_weight=None``); ORCA/DASH weight
positives by 4 (``--set task.pos_weight=4.0``).
Metric: mean over the 36 labels of the per-label ROC AUC of sigmoid outputs (``test_mAUC``);
error form 1-AUROC (scikit-learn ``roc_auc_score`` per label). A label without both classes in a
split is left out of the mean (ORCA's ``nanmean``; NAS-Bench-360's scikit-learn call is undefined there).
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from nasbench.contracts import MetricSpec, Split, TaskData, TaskShape
from nasbench.errors import CorruptDataError
from nasbench.tasks.common.download import OfficialFile
from nasbench.tasks.common.provenance import mark_fixture
from nasbench.tasks.common.splits import LazySplit, check_counts, first_n
from nasbench.tasks.nb360 import metrics
from nasbench.tasks.nb360.base import S3, NB360Task
from nasbench.tasks.nb360.losses import weighted_bce

FILES = (OfficialFile("deepsea_filtered.npz", f"{S3}/deepsea/deepsea_filtered.npz",
                      "npz with x_{train,val,test} one-hot (N, 1000, 4) and y_{train,val,test} (N, 36) (860 MB)"),)
LABELS, LENGTH = 36, 1000
FIXTURE_LABELS = [0, 7, 14, 21, 28, 35]
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


@dataclass(frozen=True)
class DeepSEAConfig:
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    pos_weight: float | None = None  # ORCA/DASH: 4.0
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("deepsea", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


def read_npz_rows(path: Path, key: str, n: int | None) -> np.ndarray:
    """The first ``n`` rows (all when None) of array ``key`` in an npz, C-ordered. A C-ordered array
    in format 1.0 or 2.0 is streamed from its member and only those rows are read; any other array
    ``np.load`` reads (Fortran order, format 3.0) is read whole, as ``np.load`` does, then cut."""
    fix = "run `nasbench data deepsea --download` again"
    with zipfile.ZipFile(path) as archive:
        if f"{key}.npy" not in archive.namelist():
            raise CorruptDataError(path, f"array {key!r} not found (has {sorted(archive.namelist())})", fix)
        with archive.open(f"{key}.npy") as member:
            version = np.lib.format.read_magic(member)
            if version in HEADER_READERS:
                shape, fortran, dtype = HEADER_READERS[version](member)
                if not fortran and not dtype.hasobject:
                    rows = first_n(n, shape[0], f"rows of {key}", path)
                    count = rows * int(np.prod(shape[1:], dtype=np.int64))
                    data = np.frombuffer(bytearray(member.read(count * dtype.itemsize)), dtype=dtype, count=count)
                    return data.reshape(rows, *shape[1:])
        with archive.open(f"{key}.npy") as member:
            try:
                whole = np.lib.format.read_array(member, allow_pickle=False)
            except ValueError as exc:  # object arrays (pickles) are not data this task reads
                raise CorruptDataError(path, f"{key} cannot be read without pickle ({exc})", fix) from exc
    return np.ascontiguousarray(whole[: first_n(n, len(whole), f"rows of {key}", path)])


def sequence_split(name: str, x: np.ndarray, y: np.ndarray) -> LazySplit:
    """(N, 1000, 4) bytes kept as they are; each batch becomes float32 (N, 4, 1000)."""
    bases, targets = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.float32))
    return LazySplit(name, len(y), lambda idx, g: (bases[idx].permute(0, 2, 1).float(), targets[idx]), targets=targets)


class DeepSEA(NB360Task):
    name = "deepsea"
    description = "NAS-Bench-360 DeepSEA: 1D one-hot DNA (1000 bp), 36 chromatin labels, 1-AUROC"
    smoke_overrides = ("n_train=32", "n_val=16", "n_test=16")
    citation = ("Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; "
                "Zhou & Troyanskaya, Nature Methods 2015 (DeepSEA)")
    Config = DeepSEAConfig
    metric = MetricSpec(name="auroc", direction="max", error_name="1-AUROC")
    files = FILES
    budgets = {"smoke": dict(n_train=256, n_val=64, n_test=64),
               "small": dict(n_train=10_000, n_val=2490, n_test=10_000), "paper": {}}
    paper_sizes = "71,753/2,490/149,400"
    unit = "sequences"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=1, in_channels=4, input_size=(LENGTH,), output="multilabel", num_outputs=LABELS)

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        (path,), c = self.require(), self.config
        splits = []
        for part, n in (("train", c.n_train), ("val", c.n_val), ("test", c.n_test)):
            x, y = read_npz_rows(path, f"x_{part}", n), read_npz_rows(path, f"y_{part}", n)
            if x.shape[1:] != (LENGTH, 4) or y.shape != (len(x), LABELS):
                raise CorruptDataError(path, f"x_{part} {x.shape}, y_{part} {y.shape}; expected (N, 1000, 4), (N, 36)",
                                       "run `nasbench data deepsea --download` again")
            splits.append(sequence_split(part, x, y))
        return TaskData(*splits, self.data_source(), {"files": [str(path)]})

    def write_fixture(self, root: Path, seed: int = 0, sizes: tuple[int, int, int] = (256, 64, 64)) -> None:
        """The official npz (uncompressed, uint8 one-hot). Six of the 36 labels are planted: label
        k is on (probability 0.4) when its own 4-mer occurs 25 times in an otherwise random
        sequence; the other 30 labels are never on (so their AUROC is undefined and left out)."""
        rng = np.random.default_rng(seed)
        motifs = rng.integers(0, 4, (len(FIXTURE_LABELS), 4))
        arrays = {}
        for part, n in zip(("train", "val", "test"), sizes):
            y = np.zeros((n, LABELS), dtype=np.uint8)
            y[:, FIXTURE_LABELS] = rng.random((n, len(FIXTURE_LABELS))) < 0.4
            bases = rng.integers(0, 4, (n, LENGTH))
            for i, j in zip(*np.nonzero(y[:, FIXTURE_LABELS])):
                for start in rng.choice(LENGTH // 4, 25, replace=False) * 4:
                    bases[i, start: start + 4] = motifs[j]
            arrays[f"x_{part}"], arrays[f"y_{part}"] = np.eye(4, dtype=np.uint8)[bases], y
        root.mkdir(parents=True, exist_ok=True)
        np.savez(root / FILES[0].name, **arrays)
        mark_fixture(root, self.name)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return weighted_bce(output, target, self.config.pos_weight)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        return metrics.mean_auroc(split.targets.numpy(), torch.sigmoid(outputs.float()).numpy())
