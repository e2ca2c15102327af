"""What the NAS-Bench-360 task modules share: official-file records, the fixture marker, the
missing-file error, split sizes, and a split that builds its tensors batch by batch.

``LazySplit`` is the contract's ``Split`` for data that should not sit in memory as float tensors
(CIFAR and Spherical images stay uint8, ECG windows are cut from their records, PSICOV maps are
assembled from the protein files, DeepSEA stays one byte per base). It keeps the contract:
``inputs``/``targets`` index like tensors, ``batches`` yields tensors, ``subset`` returns a split.
Randomness that belongs to training (augmentation, random crops, one random chunk per clip) is
applied only to batches drawn in random order from a split built with ``randomize=True``; ordered
passes (evaluation) always see the deterministic version.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from nasbench.contracts import DataFile, Split
from nasbench.errors import ConfigError, CorruptDataError, MissingDataError

FIXTURE_MARKER = "FIXTURE"
S3 = "https://pde-xd.s3.amazonaws.com"  # NAS-Bench-360 download_datasets.sh


@dataclass(frozen=True)
class OfficialFile:
    """A file as NAS-Bench-360 distributes it, with what is known to check it by."""

    name: str
    url: str
    description: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None

    def data_file(self, folder: Path) -> DataFile:
        return DataFile(folder / self.name, self.description, sha256=self.sha256, size=self.size)


def write_fixture_marker(root: Path, task: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / FIXTURE_MARKER).write_text(f"synthetic fixture written by {task}.write_fixture; not benchmark data\n")


def source_of(folder: Path) -> str:
    """``fixture`` when the folder holds the marker written with a fixture, else ``official``."""
    return "fixture" if (folder / FIXTURE_MARKER).exists() else "official"


def download_fix(task: str, files: Sequence[OfficialFile], folder: Path) -> str:
    urls = ", ".join(f.url for f in files)
    return (f"run `nasbench data {task} --download` (fetches {urls} into {folder}), or place the file(s) there "
            f"yourself. `nasbench data {task} --path` lists what is looked for; $NASBENCH_DATA moves the data root, "
            f"`--set data_dir=DIR` (`--set task.data_dir=DIR` with `nasbench run`) moves this task's folder")


def missing(task: str, path: Path, files: Sequence[OfficialFile], expected: str | None = None) -> MissingDataError:
    described = expected or "; ".join(f"{f.name}: {f.description}" for f in files)
    return MissingDataError(path, described, download_fix(task, files, path.parent if path.suffix else path))


def require(task: str, folder: Path, files: Sequence[OfficialFile]) -> list[Path]:
    """The paths of ``files`` in ``folder``; MissingDataError naming the first absent one."""
    for f in files:
        if not (folder / f.name).exists():
            raise missing(task, folder / f.name, files)
    return [folder / f.name for f in files]


def first_n(n: int | None, available: int, what: str, path: Path | str) -> int:
    """How many items to take: all when ``n`` is None, else ``n`` (which must be available)."""
    if n is None:
        return available
    if n > available:
        raise CorruptDataError(path, f"holds {available} {what}, the configuration asks for {n}",
                               "lower the count (--set task.n_...=) or use the complete official file")
    return n


def check_counts(task: str, **counts: int | None) -> None:
    bad = {k: v for k, v in counts.items() if v is not None and v < 1}
    if bad:
        raise ConfigError(f"{task}: split sizes must be >= 1 or None (all), got {bad}")


def count_notes(budgets: dict[str, dict], budget: str, paper: str, unit: str = "samples") -> str:
    b = budgets[budget]
    if not b:
        return f"{paper} {unit} as NAS-Bench-360"
    sizes = "/".join(str(b.get(k)) for k in ("n_train", "n_val", "n_test"))
    return f"first {sizes} train/val/test {unit} (paper {paper})"


# -- splits ------------------------------------------------------------------------------------
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
