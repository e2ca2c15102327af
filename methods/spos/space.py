"""The SPOS search space as genes: costs of paths, the two supernet samplers, mutation, crossover.

A path's genes are its choice indices followed, with channel search, by its width indices; every
gene has its own number of values (4 blocks, or ``len(width_scales)`` widths).
"""
from __future__ import annotations

import numpy as np

from nasbench.methods.backbones.single_path import BLOCK_NAMES, Path, SupernetSpec, macs_table, path_macs


class PathCosts:
    """Multiply-accumulates of any path from one table of per-block counts (``macs_table``)."""

    def __init__(self, spec: SupernetSpec):
        self.spec = spec
        self.fixed, self.table = macs_table(spec)

    def __call__(self, path: Path) -> int:
        return path_macs(self.fixed, self.table, path)

    def extreme(self, pick=max) -> int:
        """MACs of the largest (``pick=max``) or smallest (``min``) path: layers add independently."""
        return self.fixed + sum(pick(pick(widths) for widths in layer) for layer in self.table)


def gene_sizes(spec: SupernetSpec) -> list[int]:
    sizes = [len(BLOCK_NAMES)] * spec.layers
    return sizes + [len(spec.width_scales)] * spec.layers if spec.channel_search else sizes


def to_path(spec: SupernetSpec, genes) -> Path:
    genes = tuple(int(g) for g in genes)
    if spec.channel_search:
        return Path(genes[: spec.layers], genes[spec.layers:])
    return Path(genes)


def genes_of(path: Path) -> tuple[int, ...]:
    return tuple(path.choices) + tuple(path.widths or ())


def uniform_path(spec: SupernetSpec, rng: np.random.Generator) -> Path:
    """Every gene i.i.d. uniform over its values [P]: P(path) = 4^-20 without channel search."""
    return to_path(spec, rng.integers(gene_sizes(spec)))


class UniformSampler:
    """``sampling: uniform``: a fresh uniform path per call, from the run's generator."""

    def __init__(self, spec: SupernetSpec, rng: np.random.Generator):
        self.spec, self.rng = spec, rng

    def __call__(self) -> Path:
        return uniform_path(self.spec, self.rng)


class FlopsBinnedSampler:
    """``sampling: flops_binned`` [R]: draw one of ``bins`` equal MAC bins between ``low`` and ``high``
    (fractions of the largest path) uniformly, then uniform paths until one falls into it; after
    ``tries`` misses, a plain uniform path. Not uniform over paths."""

    def __init__(self, spec: SupernetSpec, rng: np.random.Generator, costs: PathCosts,
                 bins: tuple[float, float, int], tries: int):
        self.spec, self.rng, self.costs, self.tries = spec, rng, costs, tries
        low, high, count = bins
        edges = np.linspace(low, high, int(count) + 1) * costs.extreme(max)
        self.bins = list(zip(edges[:-1], edges[1:]))
        self.misses = 0  # draws that fell back to a plain uniform path

    def __call__(self) -> Path:
        low, high = self.bins[self.rng.integers(len(self.bins))]
        for _ in range(self.tries):
            path = uniform_path(self.spec, self.rng)
            if low <= self.costs(path) <= high:
                return path
        self.misses += 1
        return uniform_path(self.spec, self.rng)


def mutate(spec: SupernetSpec, parent: Path, prob: float, rng: np.random.Generator) -> Path:
    """Each gene redrawn uniformly (possibly to its old value) with probability ``prob`` [R]."""
    genes = list(genes_of(parent))
    for i, size in enumerate(gene_sizes(spec)):
        if rng.random() < prob:
            genes[i] = rng.integers(size)
    return to_path(spec, genes)


def crossover(spec: SupernetSpec, first: Path, second: Path, rng: np.random.Generator) -> Path:
    """Each gene taken from one of the two parents, chosen uniformly [R]."""
    pairs = zip(genes_of(first), genes_of(second))
    return to_path(spec, [pair[rng.integers(2)] for pair in pairs])
