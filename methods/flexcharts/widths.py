"""The architecture parameters of the two channel searches and the masks they give every stage.

- ``GaussianWidths`` (FlexCHarts): one mean width mu per stage; weights over the stage's whole valid
  grid from Eq. 4 (normalised); the stage is allocated up to the top of its active range.
- ``GumbelWidths`` (DMaskingNAS): free logits over a fixed candidate range per stage; weights from the
  soft Gumbel-softmax while training, softmax(logits / tau) for evaluation; the stage is allocated at
  the top of its range for the whole search.

Both give, per stage, a grid, weights on it, the combined prefix mask over the allocated channels,
the soft effective width sum_k w_k f_k (the cost model's input) and the final width.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from nasbench.methods.backbones import channel_masks as M


class StageWidths(nn.Module):
    """Common part: per-stage candidate grids (buffers) and the masks and widths they give."""

    def __init__(self, grids: Sequence[Sequence[int]]):
        super().__init__()
        self.grids = [list(g) for g in grids]
        for s, grid in enumerate(self.grids):
            self.register_buffer(f"grid_{s}", torch.tensor(grid, dtype=torch.float32))

    def grid(self, s: int) -> torch.Tensor:
        return getattr(self, f"grid_{s}")

    def weights(self, s: int, sample: bool = False) -> torch.Tensor:
        """Stage ``s``'s weights over its grid; each subclass (Gaussian, Gumbel-softmax) defines them."""
        raise TypeError(f"{type(self).__name__} must define weights(s, sample)")

    def all_weights(self, sample: bool = False) -> list[torch.Tensor]:
        """One weight vector per stage (one Gumbel sample per stage when ``sample``)."""
        return [self.weights(s, sample) for s in range(len(self.grids))]

    def masks(self, weights: Sequence[torch.Tensor], allocated: Sequence[int]) -> list[torch.Tensor]:
        """The combined prefix mask of every stage over its allocated channels."""
        return [M.combined_mask(self.grid(s), w, f) for s, (w, f) in enumerate(zip(weights, allocated))]

    def soft_widths(self, weights: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """sum_k w_k f_k per stage (noise-free weights when none are given)."""
        weights = self.all_weights() if weights is None else weights
        return torch.stack([M.soft_width(self.grid(s), w) for s, w in enumerate(weights)])

    def final_widths(self) -> list[int]:
        return [int(self.grids[s][int(self.weights(s).argmax())]) for s in range(len(self.grids))]


class GaussianWidths(StageWidths):
    """FlexCHarts: mu per stage (channels), sigma fixed (channels), valid grid [low_s, high_s]."""

    def __init__(self, grids: Sequence[Sequence[int]], step: int, mu: Sequence[float], sigma: float, epsilon: float,
                 effective: str = "mu"):
        super().__init__(grids)
        self.mu = nn.Parameter(torch.tensor([float(m) for m in mu]))
        self.step, self.sigma, self.epsilon, self.effective = int(step), float(sigma), float(epsilon), effective

    def soft_widths(self, weights: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """The cost model's widths: mu itself (``effective='mu'``) or sum_k w_k f_k (``'mean'``)."""
        return self.mu if self.effective == "mu" else super().soft_widths(weights)

    def weights(self, s: int, sample: bool = False) -> torch.Tensor:
        return M.gaussian_weights(self.grid(s), self.mu[s], self.sigma)

    def alpha(self, s: int) -> torch.Tensor:
        return M.gaussian_alpha(self.grid(s), self.mu[s], self.sigma)

    @torch.no_grad()
    def clamp_(self) -> None:
        """Keep every mu inside its stage's valid range (the widths never leave it)."""
        for s, grid in enumerate(self.grids):
            self.mu[s].clamp_(grid[0], grid[-1])

    def active_top(self, s: int) -> int:
        """The largest width of the active range {f_k : alpha_k >= epsilon}: the allocation."""
        grid = self.grids[s]
        return M.active_range(float(self.mu[s].detach()), self.sigma, self.epsilon, self.step, grid[0], grid[-1])[1]

    def final_widths(self) -> list[int]:
        mu = self.mu.detach().cpu().tolist()
        return [M.nearest_grid_width(mu[s], self.step, g[0], g[-1]) for s, g in enumerate(self.grids)]


class GumbelWidths(StageWidths):
    """DMaskingNAS: logits per candidate width of a fixed range; temperature tau set by the search."""

    def __init__(self, grids: Sequence[Sequence[int]], tau: float, generator: torch.Generator | None):
        super().__init__(grids)
        self.logits = nn.ParameterList(nn.Parameter(torch.zeros(len(g))) for g in grids)
        self.tau, self.generator = float(tau), generator

    def weights(self, s: int, sample: bool = False) -> torch.Tensor:
        if sample:
            return M.gumbel_softmax(self.logits[s], self.tau, self.generator)
        return torch.softmax(self.logits[s] / self.tau, dim=-1)

    def clamp_(self) -> None:
        """Logits are unconstrained; the range is fixed."""
