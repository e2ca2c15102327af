"""What the classification tasks of the suite share (LRA, CIFAR, offline image sets): cross-entropy
loss, top-1 accuracy with its 0-1 error form, the fixture marker, and the seeded index splits the
reference loaders use."""
from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch import nn

from nasbench.contracts import MetricSpec, Split, Task
from nasbench.errors import ConfigError, CorruptDataError

FIXTURE_MARKER = "FIXTURE"
FIXTURE_NOTE = "synthetic fixture written by {task}.write_fixture; not benchmark data\n"


class ClassificationTask(Task):
    """Cross-entropy on logits (N, classes) and accuracy over a split (LRA and CIFAR alike)."""

    metric = MetricSpec(name="accuracy", direction="max", error_name="0-1 error")

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(output, target)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        return accuracy(outputs, split.targets)


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    if len(targets) == 0:
        return float("nan")
    return (outputs.argmax(dim=1) == targets).float().mean().item()


def mark_fixture(root: Path, task_name: str) -> None:
    (root / FIXTURE_MARKER).write_text(FIXTURE_NOTE.format(task=task_name))


def source_of(folder: Path, default: str = "official") -> str:
    """``fixture`` when ``folder`` carries the fixture marker, else ``default``."""
    return "fixture" if (folder / FIXTURE_MARKER).exists() else default


def random_split_indices(total: int, lengths: Sequence[int], seed: int = 42) -> list[torch.Tensor]:
    """The index sets of ``torch.utils.data.random_split(range(total), lengths, Generator(seed))``:
    the S4 loaders split train/val (CIFAR, LRA Image) and train/val/test (Pathfinder) this way,
    with seed 42. Lengths that add up to less than ``total`` leave the remainder unused."""
    if sum(lengths) > total or min(lengths) < 0:
        raise ConfigError(f"cannot split {total} examples into {list(lengths)}")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    bounds = torch.tensor([0, *lengths]).cumsum(0).tolist()
    return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def split_lengths(total: int, val_fraction: float, test_fraction: float = 0.0) -> list[int]:
    """S4's lengths: val = int(fraction * total), test likewise, train = the rest."""
    val, test = int(val_fraction * total), int(test_fraction * total)
    return [total - val - test, val, test] if test_fraction else [total - val, val]


def seeded_subset(total: int, count: int | None, seed: int = 0) -> torch.Tensor:
    """``count`` indices of ``range(total)`` in a fixed random order (all of them, in order, when
    ``count`` is None or covers the whole range): budgets below ``paper`` read a class-balanced-in-
    expectation subset, never the first files of a sorted listing (sorted by class in aclImdb)."""
    if count is None or count >= total:
        return torch.arange(total)
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:count]


def check_counts(task: str, **counts: int | None) -> None:
    bad = {k: v for k, v in counts.items() if v is not None and v < 1}
    if bad:
        raise ConfigError(f"{task}: sample counts must be >= 1 (or None for all), got {bad}")


def take_first(indices, n: int | None, what: str, where: Path):
    """The first ``n`` of ``indices`` (all when ``n`` is None); the data must hold that many."""
    if n is None:
        return indices
    if n > len(indices):
        raise CorruptDataError(where, f"holds {len(indices)} {what} examples, {n} are asked for",
                               "lower the count (--set task.n_...=) or use the complete official files")
    return indices[:n]


@contextlib.contextmanager
def folder_lock(folder: Path, exclusive: bool) -> Iterator[None]:
    """A lock on ``folder/.lock``: exclusive while data is generated there (concurrent runs, such as
    Ray trials, generate once), shared while it is checked and read (never half-extended data)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
