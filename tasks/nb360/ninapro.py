"""NAS-Bench-360 NinaPro DB5 (Tu et al., NAS-Bench-360, NeurIPS 2022 Datasets and Benchmarks,
arXiv:2110.05668; data: Atzori et al. 2014, Côté-Allard et al. 2019).

Files: ``ninapro_{train,val,test}.npy`` (sEMG windows (N, 52, 16): 52 samples at 200 Hz x 16
channels of two Myo armbands; float64 [inferred from size]) and ``label_{train,val,test}.npy``
(gestures 0-17), read with ``np.load(encoding="bytes", allow_pickle=True)``.
Splits: the three official files, 2,638 / 659 / 659 windows.
Preprocessing: transpose to (N, 16, 52) and add a channel: input (N, 1, 16, 52) float32.
Loss: cross entropy (``loss='ce'``, NAS-Bench-360 backbone) or ORCA/DASH's focal loss
(``loss='focal'``, gamma 0 and alpha 1 by default, i.e. cross entropy up to a 1e-9 inside the log).
Metric: accuracy; error form 0-1 error.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F

from nasbench.contracts import MetricSpec, Split, TaskData, TaskShape
from nasbench.errors import CorruptDataError
from nasbench.tasks.common.download import OfficialFile
from nasbench.tasks.common.provenance import mark_fixture
from nasbench.tasks.common.splits import check_counts, first_n, tensor_split
from nasbench.tasks.nb360 import metrics
from nasbench.tasks.nb360.base import S3, NB360Task
from nasbench.tasks.nb360.losses import focal_loss

PARTS = ("train", "val", "test")
FILES = tuple(
    OfficialFile(f"{kind}_{part}.npy", f"{S3}/ninapro/{kind}_{part}.npy", what.format(part=part))
    for part in PARTS
    for kind, what in (("ninapro", "NinaPro DB5 {part} sEMG windows, float (N, 52, 16)"),
                       ("label", "NinaPro DB5 {part} gesture labels 0-17, (N,)")))
CLASSES = 18
FIXTURE_GESTURES = np.array([0, 3, 6, 9, 12, 15])


@dataclass(frozen=True)
class NinaProConfig:
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    loss: Literal["ce", "focal"] = "ce"
    focal_gamma: float = 0.0  # ORCA/DASH FocalLoss(alpha=1) leaves gamma at its default 0
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("ninapro", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


def read_ninapro(data_path: Path, label_path: Path, n: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, 16, 52) float32 windows and (N,) int64 labels of one split."""
    data = np.load(data_path, encoding="bytes", allow_pickle=True)
    labels = np.load(label_path, encoding="bytes", allow_pickle=True)
    if data.ndim != 3 or data.shape[1:] != (52, 16) or len(labels) != len(data):
        raise CorruptDataError(data_path, f"data {data.shape} with {len(labels)} labels, expected (N, 52, 16) and N",
                               "run `nasbench data ninapro --download` again")
    k = first_n(n, len(data), "windows", data_path)
    return data[:k].transpose(0, 2, 1)[:, None].astype(np.float32), labels[:k].astype(np.int64)


class NinaPro(NB360Task):
    name = "ninapro"
    description = "NAS-Bench-360 NinaPro DB5: sEMG hand gestures as 16x52 images, 18 classes, 0-1 error"
    smoke_overrides = ("n_train=64", "n_val=16", "n_test=16")
    citation = ("Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; "
                "Atzori et al., Sci. Data 2014 (NinaPro DB5)")
    Config = NinaProConfig
    metric = MetricSpec(name="accuracy", direction="max", error_name="0-1 error")
    files = FILES
    budgets = {"smoke": dict(n_train=256, n_val=64, n_test=64), "small": {}, "paper": {}}
    paper_sizes = "2,638/659/659"
    unit = "windows"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=2, in_channels=1, input_size=(16, 52), output="classes", num_outputs=CLASSES)

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        paths = dict(zip((f.name for f in FILES), self.require()))
        counts = dict(zip(PARTS, (self.config.n_train, self.config.n_val, self.config.n_test)))
        splits = [tensor_split(part, *read_ninapro(paths[f"ninapro_{part}.npy"], paths[f"label_{part}.npy"],
                                                         counts[part])) for part in PARTS]
        return TaskData(*splits, self.data_source(), {"files": [str(p) for p in paths.values()]})

    def write_fixture(self, root: Path, seed: int = 0, sizes: tuple[int, int, int] = (256, 64, 64)) -> None:
        """Official files: six of the 18 gestures, each a burst of its own frequency (15, 40 or
        80 Hz) and amplitude (0.4 or 1.2) on every channel, plus noise."""
        rng = np.random.default_rng(seed)
        t = np.arange(52)[:, None] / 200.0
        root.mkdir(parents=True, exist_ok=True)
        for part, n in zip(PARTS, sizes):
            labels = rng.choice(FIXTURE_GESTURES, n)
            rank = np.searchsorted(FIXTURE_GESTURES, labels)
            frequency, amplitude = np.array([15.0, 40.0, 80.0])[rank % 3], np.array([0.4, 1.2])[rank // 3]
            phase = rng.uniform(0, 6.3, (n, 1, 16))
            data = amplitude[:, None, None] * np.sin(2 * np.pi * frequency[:, None, None] * t + phase)
            data += rng.normal(0, 0.1, (n, 52, 16))
            np.save(root / f"ninapro_{part}.npy", data.astype(np.float64))
            np.save(root / f"label_{part}.npy", labels.astype(np.int64))
        mark_fixture(root, self.name)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "focal":
            return focal_loss(output, target, gamma=self.config.focal_gamma)
        return F.cross_entropy(output, target)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        return metrics.accuracy(outputs, split.targets)
