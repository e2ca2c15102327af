"""NAS-Bench-360 ECG, PhysioNet/CinC Challenge 2017 AF classification (Tu et al., NAS-Bench-360,
NeurIPS 2022 Datasets and Benchmarks, arXiv:2110.05668; data: Clifford et al. 2017; Hong et al. 2020
for the windowing).

File: ``challenge2017.pkl``, a pickled dict ``{'data': 8,528 single-lead records (1-D arrays,
300 Hz, 9-60 s), 'label': 'N' | 'A' | 'O' | '~'}`` (list or object array; int16 samples
[inferred]).
Preprocessing (``read_data_physionet_4_with_val``): each record z-scored (numpy mean/std);
labels N, A, O, ~ -> 0, 1, 2, 3; records split as scikit-learn's
``train_test_split(test_size=0.2, random_state=0)`` then the held-out part 50/50 again
(``random_state=0``; first part validation, second test), re-implemented: a
``RandomState(0).permutation``, the first ceil(0.2 n) indices held out; every record cut into
windows of 1000 samples, starts ``range(0, len - 1000, stride)`` with the class-dependent stride
N 500, A 500 // 6 = 83, O 250, ~ 500 // 20 = 25; input (N, 1, 1000); each window keeps its
record's position in its split.
Splits: about 260K / 33K / 33K windows of 6,822 / 853 / 853 records.
Loss: cross entropy on windows. Metric: per record, majority vote of the window predictions
(ties to the class seen first, as ``Counter.most_common``) against the vote of the window labels,
then the mean of the four per-class F1 scores; error form 1-F1.
Departures: windows are cut batch by batch from the records (never all in memory); record caps
(``n_train`` etc.) count records, not windows. NAS-Bench-360 reports its final test number from
``read_data_physionet_4`` (a 90/10 split without validation); the suite keeps the 80/10/10 split
that has a validation set.
"""
from __future__ import annotations

import math
import pickle
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
from nasbench.tasks.common.splits import LazySplit, check_counts, first_n
from nasbench.tasks.nb360 import metrics
from nasbench.tasks.nb360.base import S3, NB360Task

FILES = (OfficialFile("challenge2017.pkl", f"{S3}/ECG/challenge2017.pkl",
                      "pickled dict {'data': 8,528 single-lead ECG records, 'label': 'N'|'A'|'O'|'~'} (150 MB)"),)
LABELS = {"N": 0, "A": 1, "O": 2, "~": 3}
WINDOW, STRIDE = 1000, 500


@dataclass(frozen=True)
class ECGConfig:
    n_train: int | None = None  # records (each gives several windows)
    n_val: int | None = None
    n_test: int | None = None
    window: int = WINDOW
    stride: int = STRIDE
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("ecg", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


def class_strides(stride: int) -> np.ndarray:
    """Window stride per class N, A, O, ~ (``slide_and_cut`` with datatype 4)."""
    return np.array([stride, stride // 6, stride // 2, stride // 20])


def sklearn_holdout(n: int, held_out: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) indices as ``train_test_split(test_size=held_out, random_state=seed)``."""
    n_out = math.ceil(held_out * n)
    order = np.random.RandomState(seed).permutation(n)
    return order[n_out:], order[:n_out]


def record_splits(n: int) -> dict[str, np.ndarray]:
    """Record indices of train / val / test, in the order NAS-Bench-360's splits hold them."""
    train, held = sklearn_holdout(n, 0.2)
    val, test = sklearn_holdout(len(held), 0.5)
    return {"train": train, "val": held[val], "test": held[test]}


def read_challenge(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """z-scored float32 records and integer labels."""
    fix = "run `nasbench data ecg --download` again"
    try:
        with open(path, "rb") as handle:
            content = pickle.load(handle, encoding="latin1")
        records, names = list(content["data"]), [str(v) for v in content["label"]]
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError) as exc:
        raise CorruptDataError(path, f"not the challenge2017 pickle ({type(exc).__name__}: {exc})", fix) from exc
    unknown = sorted(set(names) - set(LABELS))
    if unknown or len(names) != len(records):
        raise CorruptDataError(path, f"{len(records)} records, {len(names)} labels, unknown labels {unknown}", fix)
    scaled = [((r - np.mean(r)) / np.std(r)).astype(np.float32) for r in (np.asarray(r, np.float64) for r in records)]
    return scaled, np.array([LABELS[v] for v in names])


def windows(lengths: np.ndarray, labels: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(record position, start) of every window, records in order (``slide_and_cut``)."""
    strides = class_strides(stride)
    starts = [np.arange(0, max(length - window, 0), strides[label]) for length, label in zip(lengths, labels)]
    positions = np.repeat(np.arange(len(starts)), [len(s) for s in starts])
    return positions, np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)


def window_split(name: str, records: list[np.ndarray], labels: np.ndarray, window: int, stride: int) -> LazySplit:
    positions, starts = windows(np.array([len(r) for r in records]), labels, window, stride)
    targets = torch.from_numpy(labels[positions].astype(np.int64))

    def fetch(idx: np.ndarray, generator):
        cut = np.stack([records[positions[i]][starts[i]: starts[i] + window] for i in idx])
        return torch.from_numpy(cut[:, None, :]), targets[idx]

    return LazySplit(name, len(positions), fetch, targets=targets, meta={"record": positions}, per_example=("record",))


class ECG(NB360Task):
    name = "ecg"
    description = "NAS-Bench-360 ECG: 1D single-lead ECG windows, 4 rhythm classes, 1-F1"
    smoke_overrides = ("n_train=12", "n_val=6", "n_test=6")
    citation = ("Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; "
                "Clifford et al., PhysioNet/CinC Challenge 2017 (data); Hong et al., 2020 (windows)")
    Config = ECGConfig
    metric = MetricSpec(name="f1", direction="max", error_name="1-F1")
    files = FILES
    budgets = {"smoke": dict(n_train=96, n_val=12, n_test=12),
               "small": dict(n_train=1000, n_val=200, n_test=853), "paper": {}}
    paper_sizes = "6,822/853/853"
    unit = "records"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=1, in_channels=1, input_size=(self.config.window,), output="classes", num_outputs=4)

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        (path,), c = self.require(), self.config
        records, labels = read_challenge(path)
        by_part, splits = record_splits(len(records)), []
        for part, n in zip(("train", "val", "test"), (c.n_train, c.n_val, c.n_test)):
            chosen = by_part[part]
            chosen = chosen[: first_n(n, len(chosen), f"{part} records", path)]
            splits.append(window_split(part, [records[i] for i in chosen], labels[chosen], c.window, c.stride))
        return TaskData(*splits, self.data_source(), {"files": [str(path)], "records": {
            s.name: int(len(np.unique(s.meta["record"]))) for s in splits}})

    def write_fixture(self, root: Path, seed: int = 0, n_records: int = 120) -> None:
        """The official pickle: 300 Hz int16 traces of spikes on a wandering baseline; the class
        sets the rhythm (N regular 0.8 s, A irregular, O regular 0.45 s, ~ mostly noise)."""
        rng = np.random.default_rng(seed)
        names = rng.choice(list(LABELS), n_records, p=[0.4, 0.2, 0.25, 0.15])
        records = [synthetic_ecg(label, int(rng.integers(1200, 2400)), rng) for label in names]
        root.mkdir(parents=True, exist_ok=True)
        (root / FILES[0].name).write_bytes(pickle.dumps({"data": records, "label": np.array(names)}, protocol=4))
        mark_fixture(root, self.name)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        return metrics.ecg_record_f1(outputs.numpy(), split.targets.numpy(), np.asarray(split.meta["record"]))


def synthetic_ecg(label: str, length: int, rng: np.random.Generator, rate: int = 300) -> np.ndarray:
    t = np.arange(length)
    period = {"N": 0.8, "A": 0.8, "O": 0.45, "~": 1.6}[label] * rate
    beats, position = [], rng.uniform(0, period)
    while position < length:
        beats.append(position)
        position += period * (rng.uniform(0.55, 1.45) if label == "A" else rng.uniform(0.97, 1.03))
    trace = sum(np.exp(-0.5 * ((t - b) / 3.0) ** 2) for b in beats) + 0.1 * np.sin(2 * np.pi * t / (4 * rate))
    noise = 0.6 if label == "~" else 0.05
    return (800 * (trace + rng.normal(0, noise, length))).astype(np.int16)
