"""Evolutionary architecture search of SPOS under a cost cap ([R] ``src/Search/search.py``).

Generation 0 is ``population`` random paths. Each later generation is ``mutations`` mutants and
``crossovers`` children of parents drawn uniformly from the top ``top_k`` found so far, then random
paths up to ``population``. A candidate over the cap is rejected before evaluation; a candidate seen
before (evaluated or rejected) is not taken again, so no path is evaluated twice. Fitness is the
validation error (lower is better). Unlike the reference, whose last generation is evaluated but
never ranked, every evaluated generation enters the ranking.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from nasbench.errors import ConfigError
from nasbench.methods.backbones.single_path import Path, SupernetSpec
from nasbench.methods.spos.config import EvolutionConfig
from nasbench.methods.spos.space import crossover, mutate, uniform_path

RANDOM_TRIES = 1000  # random draws allowed per wanted random candidate before the cap is declared too tight


@dataclass(frozen=True)
class Evaluated:
    path: Path
    macs: int
    error: float


class EvolutionSearch:
    """One search; ``run()`` returns the evaluated candidates, best first. ``fitness(path)`` is the
    validation error of ``path`` on the supernet; ``cost(path)`` its MACs; ``cap`` None: no cap."""

    def __init__(self, spec: SupernetSpec, config: EvolutionConfig, rng: np.random.Generator,
                 fitness: Callable[[Path], float], cost: Callable[[Path], int], cap: float | None,
                 on_generation: Callable[[dict], None] | None = None):
        self.spec, self.config, self.rng, self.cap = spec, config, rng, cap
        self.fitness, self.cost, self.on_generation = fitness, cost, on_generation
        self.results: dict[Path, Evaluated] = {}  # the memo table: every evaluated path, once
        self.rejected: set[Path] = set()  # over the cap, never evaluated
        self.top: list[Evaluated] = []
        self.trajectory: list[dict] = []
        self.population_sizes: list[int] = []

    def take(self, path: Path) -> bool:
        """Evaluate ``path`` if it is new and under the cap ([R] ``is_legal``)."""
        if path in self.results or path in self.rejected:
            return False
        macs = self.cost(path)
        if self.cap is not None and macs > self.cap:
            self.rejected.add(path)
            return False
        self.results[path] = Evaluated(path, macs, float(self.fitness(path)))
        return True

    def fill_random(self, population: list[Path]) -> list[Path]:
        wanted = self.config.population - len(population)
        for _ in range(RANDOM_TRIES * max(wanted, 1)):
            if len(population) >= self.config.population:
                return population
            path = uniform_path(self.spec, self.rng)
            if self.take(path):
                population.append(path)
        if len(population) < self.config.population:
            raise ConfigError(
                f"spos evolution: only {len(population)} of {self.config.population} random paths found that are new "
                f"and under the cost cap of {self.cap:,.0f} MACs after {RANDOM_TRIES * max(wanted, 1)} draws; raise "
                f"cost_cap_macs / cost_cap_fraction or lower the population")
        return population

    def offspring(self, make: Callable[[], Path], count: int) -> list[Path]:
        """Up to ``count`` new, legal children of ``make``, from at most ``count x tries`` attempts [R]."""
        children: list[Path] = []
        for _ in range(count * self.config.tries_per_candidate):
            if len(children) >= count:
                break
            path = make()
            if self.take(path):
                children.append(path)
        return children

    def parent(self) -> Path:
        return self.top[self.rng.integers(len(self.top))].path

    def next_generation(self) -> list[Path]:
        c = self.config
        mutants = self.offspring(lambda: mutate(self.spec, self.parent(), c.mutation_prob, self.rng), c.mutations)
        children = self.offspring(lambda: crossover(self.spec, self.parent(), self.parent(), self.rng), c.crossovers)
        return self.fill_random(mutants + children)

    def rank(self, population: list[Path], generation: int) -> None:
        scored = [self.results[p] for p in population]
        self.top = sorted(self.top + scored, key=lambda e: e.error)[: self.config.top_k]
        errors = [e.error for e in scored]
        row = {"generation": generation, "best_fitness": self.top[0].error, "mean_fitness": float(np.mean(errors)),
               "top_k_mean_fitness": float(np.mean([e.error for e in self.top])),
               "fitness_spread": float(np.std(errors)), "population": len(population),
               "evaluations": len(self.results), "rejected_over_cap": len(self.rejected)}
        self.trajectory.append(row)
        if self.on_generation:
            self.on_generation(row)

    def run(self) -> list[Evaluated]:
        population = self.fill_random([])
        for generation in range(self.config.generations):
            if generation:
                population = self.next_generation()
            self.population_sizes.append(len(population))
            self.rank(population, generation)
        return sorted(self.results.values(), key=lambda e: e.error)
