"""Split sizes and splits: how many examples a budget takes, the seeded index splits of the
reference loaders, and a split that builds its tensors batch by batch.

``LazySplit`` is the contract's ``Split`` for data that should not sit in memory as float tensors
(CIFAR and Spherical images stay uint8, ECG windows are cut from their records, PSICOV maps are
assembled from the protein files, DeepSEA stays one byte per base). It keeps the contract:
``inputs``/``targets`` index like tensors, ``batches`` yields tensors, ``subset`` returns a split.
Randomness that belongs to training (augmentation, random crops, one random chunk per clip) is
applied only to batches drawn in random order from a split built with ``randomize=True``; ordered
passes (evaluation) always see the deterministic version.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from nasbench.contracts import Split
from nasbench.errors import ConfigError, CorruptDataError


# -- split sizes -------------------------------------------------------------------------------------
def check_counts(task: str, **counts: int | None) -> None:
    """Sample counts are >= 1, or None for the whole split."""
    bad = {k: v for k, v in counts.items() if v is not None and v < 1}
    if bad:
        raise ConfigError(f"{task}: sample counts must be >= 1 (or None for all), got {bad}; "
                          f"fix with --set task.n_train=N (or n_val, n_test)")


def first_n(n: int | None, available: int, what: str, path: Path | str) -> int:
    """How many items to take: all when ``n`` is None, else ``n`` (which must be available)."""
    if n is None:
        return available
    if n > available:
        raise CorruptDataError(path, f"holds {available} {what}, the configuration asks for {n}",
                               "lower the count (--set task.n_...=) or use the complete official file")
    return n


def take_first(indices, n: int | None, what: str, where: Path):
    """The first ``n`` of ``indices`` (all when ``n`` is None); the data must hold that many."""
    return indices[: first_n(n, len(indices), f"{what} examples", where)]


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


# -- splits ------------------------------------------------------------------------------------------
Fetch = Callable[[np.ndarray, "torch.Generator | None"], "tuple[torch.Tensor, torch.Tensor]"]


class ArrayView:
    """Indexes like a tensor (``view[:1]``, ``view[idx]``) but builds the rows on demand."""

    def __init__(self, length: int, rows: Callable[[np.ndarray], torch.Tensor]):
        self._length, self._rows = length, rows

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> torch.Tensor:
        if isinstance(index, torch.Tensor):
            index = index.numpy()
        idx = np.arange(self._length)[index]
        return self._rows(np.atleast_1d(idx))[0] if np.ndim(idx) == 0 else self._rows(idx)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((self._length, *self._rows(np.arange(1)).shape[1:]))


class LazySplit(Split):
    """A split whose batches are built by ``fetch(indices, generator)``; ``generator`` is None for
    the deterministic version. ``targets`` may be given as a tensor when it is cheap (labels);
    ``meta`` entries that are per-example arrays are listed in ``per_example`` so that ``subset``
    slices them too."""

    def __init__(self, name: str, length: int, fetch: Fetch, targets: torch.Tensor | None = None,
                 meta: dict | None = None, per_example: Sequence[str] = (), randomize: bool = False):
        self.name, self.meta, self._length, self._fetch = name, meta or {}, length, fetch
        self.per_example, self.randomize = tuple(per_example), randomize
        self.inputs = ArrayView(length, lambda idx: fetch(idx, None)[0])
        self.targets = targets if targets is not None else ArrayView(length, lambda idx: fetch(idx, None)[1])

    def __len__(self) -> int:
        return self._length

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                limit: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        random_version = shuffle and self.randomize
        if random_version and generator is None:
            generator = torch.Generator().manual_seed(int(torch.randint(2**31, ())))
        for i, start in enumerate(range(0, n, batch_size)):
            if limit is not None and i >= limit:
                return
            idx = order[start: start + batch_size].numpy()
            yield self._fetch(idx, generator if random_version else None)

    def subset(self, count: int, generator: torch.Generator | None = None) -> "LazySplit":
        keep = torch.randperm(len(self), generator=generator)[:count].sort().values.numpy()
        return self.select(keep)

    def select(self, keep: np.ndarray) -> "LazySplit":
        """The examples at ``keep`` (in that order), with per-example meta sliced alike."""
        meta = {k: (v[keep] if k in self.per_example else v) for k, v in self.meta.items()}
        targets = self.targets[torch.as_tensor(keep)] if isinstance(self.targets, torch.Tensor) else None
        return LazySplit(self.name, len(keep), lambda idx, g: self._fetch(keep[idx], g), targets, meta,
                         self.per_example, self.randomize)


def tensor_split(name: str, inputs: np.ndarray, targets: np.ndarray, target_dtype=torch.long) -> Split:
    return Split(name, torch.as_tensor(np.ascontiguousarray(inputs), dtype=torch.float32),
                 torch.as_tensor(np.ascontiguousarray(targets), dtype=target_dtype))


def generator_rng(generator: torch.Generator | None, fallback_seed: int = 0) -> np.random.Generator:
    """A numpy generator drawn from the torch generator, so torch-seeded runs stay reproducible."""
    if generator is None:
        return np.random.default_rng(fallback_seed)
    return np.random.default_rng(int(torch.randint(2**63 - 1, (), generator=generator)))
