"""M supernets and the sampler that trains them (Section 2.3 of the paper).

``MixtureOfSupernets`` holds M independent weight sets, each a full pooling supernet
(``PoolingResNet``); ``set_path((c, m))`` routes the next forward pass through configuration c of
supernet m, so a step's gradients reach supernet m only. ``BalancedSampler`` owns the accuracy
matrix a_{c,m} and draws each step's path: c uniform over the configurations, then m ~ p(m | c) of
the IPF-balanced tau-softmax joint. It is the ``sampler`` of the suite's single-path loop feature
(``nasbench.training.SinglePathSampling``), the one that SPOS uses; with M = 1 no model is drawn and
the path is a uniform draw of a configuration, SPOS's uniform sampling on this space.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from nasbench.contracts import Split
from nasbench.methods.backbones.pooling_resnet import Config, PoolingResNet, PoolingSpace
from nasbench.methods.bms.balance import Balanced, balanced_conditional, ema_update, temperature


class MixtureOfSupernets(nn.Module):
    """M pooling supernets; the active path (configuration index, model index) picks the forward."""

    def __init__(self, space: PoolingSpace, configs: Sequence[Config], models: int, dims: int, in_channels: int,
                 num_classes: int):
        super().__init__()
        self.configs = list(configs)
        self.supernets = nn.ModuleList(PoolingResNet(space, dims, in_channels, num_classes) for _ in range(models))
        self.path = (self.configs.index(space.default) if space.default in self.configs else 0, 0)

    def set_path(self, path: tuple[int, int]) -> None:
        c, m = path
        self.path = (int(c), int(m))
        self.supernets[m].config = self.configs[c]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.supernets[self.path[1]](x)


class BalancedSampler:
    """Draws (c, m) per step and keeps a_{c,m} (Eq. 2) and the balanced joint (Eq. 3 + IPF).

    ``total_steps`` fixes the linear temperature schedule; ``step`` counts the paths drawn. The
    randomness is the run's seeded ``rng``: one integer for c, then (M > 1) one draw of m."""

    def __init__(self, num_configs: int, models: int, total_steps: int, rng: np.random.Generator, *, beta: float = 0.9,
                 tau_start: float = 1.0, tau_end_factor: float = 0.01, tolerance: float = 1e-4,
                 max_sweeps: int = 10_000, initial: float = 1.0, first_replaces: bool = True):
        # a_{c,m} starts equal everywhere (p(m | c) uniform) at ``initial``: 1 in the authors' code, so an
        # entry not yet scored looks promising; with ``first_replaces`` its first score replaces it
        self.accuracy = np.full((num_configs, models), float(initial))
        self.first_replaces = first_replaces
        self.scored = np.zeros((num_configs, models), dtype=bool)
        self.counts = np.zeros((num_configs, models), dtype=np.int64)
        self.models, self.total_steps, self.rng, self.beta = models, total_steps, rng, beta
        self.tau_start, self.tau_end_factor = tau_start, tau_end_factor
        self.tolerance, self.max_sweeps = tolerance, max_sweeps
        self.step, self.updates = 0, 0
        self._balanced_at: tuple[float, int] | None = None
        self.balanced = self.balance()

    @property
    def tau(self) -> float:
        return temperature(self.step, self.total_steps, self.models, self.tau_start, self.tau_end_factor)

    def balance(self) -> Balanced:
        """The balanced joint at the current temperature (recomputed only when tau or a moved)."""
        key = (self.tau, self.updates)
        if key != self._balanced_at:
            self.balanced = balanced_conditional(self.accuracy, self.tau, self.tolerance, self.max_sweeps)
            self._balanced_at = key
        return self.balanced

    def __call__(self) -> tuple[int, int]:
        """This step's path: c ~ U(C), m ~ p(m | c)."""
        c = int(self.rng.integers(len(self.accuracy)))
        m = 0
        if self.models > 1:
            m = int(self.rng.choice(self.models, p=self.balance().conditional[c]))
        self.counts[c, m] += 1
        self.step += 1
        return c, m

    def update(self, c: int, m: int, accuracy: float) -> None:
        """Eq. 2 for the sampled entry; its first score replaces the initial value (``first_replaces``)."""
        first = self.first_replaces and not self.scored[c, m]
        ema_update(self.accuracy, c, m, accuracy, 0.0 if first else self.beta)
        self.scored[c, m] = True
        self.updates += 1

    def best_models(self) -> np.ndarray:
        """m*(c) = argmax_m p(m | c) at the current temperature."""
        return self.balance().conditional.argmax(axis=1)


class ValidationStream:
    """An endless stream of validation minibatches (reshuffled at every pass) for Eq. 2."""

    def __init__(self, split: Split, batch_size: int, generator: torch.Generator):
        self.split, self.batch_size, self.generator = split, batch_size, generator
        self._batches = iter(())

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch = next(self._batches, None)
        if batch is None:
            self._batches = self.split.batches(self.batch_size, shuffle=True, generator=self.generator)
            batch = next(self._batches)
        return batch
