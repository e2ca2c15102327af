"""NAS-Bench-360 Satellite image time series (Tu et al., NAS-Bench-360, NeurIPS 2022 Datasets and
Benchmarks, arXiv:2110.05668; data: Petitjean et al. 2012).

Files: ``satellite_train.npy`` and ``satellite_test.npy``, each a pickled dict read with
``np.load(allow_pickle=True)[()]``: ``'data'`` (N, 46) float64 and ``'label'`` (N,) 1-24
[dtypes inferred from the sizes]; N = 900,000 and 100,000.
Splits: validation = the last ``len(test)`` = 100,000 rows of the training file, train = the rest
(800,000); test = the test file.
Preprocessing: labels - 1 (0-23); per-series z-score over the 46 steps (numpy std, ddof 0);
channel added: input (N, 1, 46) float32.
Loss: cross entropy. Metric: accuracy; error form 0-1 error.
Departure: only the rows a budget uses are normalised (the z-score is per row, so the values are
the same).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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

FILES = (OfficialFile("satellite_train.npy", f"{S3}/satellite/satellite_train.npy",
                      "pickled dict {'data': (900000, 46), 'label': 1-24} (322 MB)"),
         OfficialFile("satellite_test.npy", f"{S3}/satellite/satellite_test.npy",
                      "pickled dict {'data': (100000, 46), 'label': 1-24} (35 MB)"))
CLASSES, STEPS = 24, 46


@dataclass(frozen=True)
class SatelliteConfig:
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("satellite", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


def read_satellite(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        content = np.load(path, allow_pickle=True)[()]
        data, labels = np.asarray(content["data"]), np.asarray(content["label"])
    except (ValueError, KeyError, TypeError, IndexError, OSError) as exc:
        raise CorruptDataError(path, f"not a pickled dict with 'data' and 'label' ({exc})",
                               "run `nasbench data satellite --download` again") from exc
    if data.ndim != 2 or data.shape[1] != STEPS or len(labels) != len(data):
        raise CorruptDataError(path, f"data {data.shape}, {len(labels)} labels; expected (N, 46) and N",
                               "run `nasbench data satellite --download` again")
    return data, labels


def series_split(name: str, data: np.ndarray, labels: np.ndarray) -> Split:
    """z-score every series over its 46 steps (float64, as numpy), add the channel axis."""
    data = np.asarray(data, dtype=np.float64)
    normalised = (data - data.mean(axis=1, keepdims=True)) / data.std(axis=1, keepdims=True)
    return tensor_split(name, normalised[:, None, :], np.asarray(labels, dtype=np.int64) - 1)


class Satellite(NB360Task):
    name = "satellite"
    description = "NAS-Bench-360 Satellite: 1D 46-step land-cover series, 24 classes, 0-1 error"
    smoke_overrides = ("n_train=64", "n_val=32", "n_test=32")
    citation = ("Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; "
                "Petitjean et al., IEEE TGRS 2012 (satellite image time series)")
    Config = SatelliteConfig
    metric = MetricSpec(name="accuracy", direction="max", error_name="0-1 error")
    files = FILES
    budgets = {"smoke": dict(n_train=1024, n_val=256, n_test=256),
               "small": dict(n_train=50_000, n_val=10_000, n_test=10_000), "paper": {}}
    paper_sizes = "800,000/100,000/100,000"
    unit = "series"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=1, in_channels=1, input_size=(STEPS,), output="classes", num_outputs=CLASSES)

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        train_path, test_path = self.require()
        (x, y), (tx, ty) = read_satellite(train_path), read_satellite(test_path)
        c, cut = self.config, len(x) - len(tx)  # the last len(test) training rows validate
        n_tr = first_n(c.n_train, cut, "training series", train_path)
        n_va = first_n(c.n_val, len(tx), "validation series", train_path)
        n_te = first_n(c.n_test, len(tx), "test series", test_path)
        splits = (series_split("train", x[:n_tr], y[:n_tr]),
                  series_split("val", x[cut: cut + n_va], y[cut: cut + n_va]),
                  series_split("test", tx[:n_te], ty[:n_te]))
        return TaskData(*splits, self.data_source(), {"files": [str(train_path), str(test_path)]})

    def write_fixture(self, root: Path, seed: int = 0, n_train: int = 1280, n_test: int = 256) -> None:
        """Official dict files: a seasonal curve whose phase (6 values) and second-harmonic weight
        (4 values) encode the 24 classes, with random level, amplitude and noise."""
        rng = np.random.default_rng(seed)
        t = np.arange(STEPS) / STEPS * 2 * np.pi
        root.mkdir(parents=True, exist_ok=True)
        for name, n in (("satellite_train.npy", n_train), ("satellite_test.npy", n_test)):
            labels = rng.integers(1, CLASSES + 1, n)
            phase, harmonic = ((labels - 1) % 6) * np.pi / 3, ((labels - 1) // 6) * 0.45
            curve = np.sin(t[None] + phase[:, None]) + harmonic[:, None] * np.sin(2 * t[None] + phase[:, None])
            noisy = curve + rng.normal(0, 0.15, (n, STEPS))
            data = rng.uniform(500, 3000, (n, 1)) + rng.uniform(200, 800, (n, 1)) * noisy
            np.save(root / name, {"data": data.astype(np.float64), "label": labels.astype(np.int64)}, allow_pickle=True)
        mark_fixture(root, self.name)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        return metrics.accuracy(outputs, split.targets)
