"""Differentiable channel masking: prefix masks over candidate widths, weighted two ways.

Shared by the channel-width searches (FlexCHarts and its DMaskingNAS baseline). Sources:
- DMaskingNAS / FBNetV2: A. Wan et al., "FBNetV2: Differentiable Neural Architecture Search for
  Spatial and Channel Dimensions", CVPR 2020 (arXiv:2004.05565). A layer is computed once at its
  largest width F; candidate widths f_k have prefix masks m_k = (1^{f_k}, 0^{F - f_k}); the layer's
  output is multiplied by sum_k g_tau(alpha)_k m_k, g_tau the soft Gumbel-softmax of free logits (Eq. 2).
- FlexCHarts: A. C. Yuezuegueler, N. Dimitriadis, P. Frossard, "Flexible Channel Dimensions for
  Differentiable Architecture Search" (arXiv:2306.08021). alpha_k = exp(-1/2 ((f_k - mu) / sigma)^2)
  on a width grid (Eq. 4); mu is the only trainable parameter of a stage.

Assumptions (the paper leaves them open; each is a parameter here and a config of the methods):
- the Gaussian alphas are normalised, w_k = alpha_k / sum_j alpha_j, and take the place of
  g_tau(alpha)_k in Eq. 2 (the paper drops Gumbel noise and temperature but does not say how the
  alphas are scaled; without normalisation the mask would fall below one everywhere);
- the active range is {f_k : alpha_k >= epsilon}, epsilon = 0.01 by default (mu +- 3.03 sigma); a
  grid point outside it carries less than 1 % of the peak weight, so dropping its channels barely
  moves the loss (the paper: alpha "close to zero at the edges of the range");
- the weights of a step cover only the grid points that are allocated (f_k <= F); the epoch-end
  reallocation then moves F to the active range (the paper's Algorithm 1 reallocates only at epoch ends).

``combined_mask(grid, weights, F)[c] = sum_{k : f_k > c} w_k`` is the mask of Eq. 2: one in the
channels every candidate keeps, falling to the weight of the widest candidates at the end.
"""
from __future__ import annotations

import math

import torch


def width_grid(low: int, high: int, step: int) -> list[int]:
    """Candidate widths low, low + step, ..., up to high (inclusive when on the grid)."""
    if step < 1 or low < 1 or high < low:
        raise ValueError(f"width grid needs 1 <= low <= high and step >= 1, got {low}, {high}, {step}")
    return list(range(low, high + 1, step))


def gaussian_alpha(grid: torch.Tensor, mu: torch.Tensor, sigma: float) -> torch.Tensor:
    """Eq. 4 of FlexCHarts: alpha_k = exp(-1/2 ((f_k - mu) / sigma)^2), differentiable in mu."""
    return torch.exp(-0.5 * ((grid - mu) / sigma) ** 2)


def normalised_weights(alpha: torch.Tensor) -> torch.Tensor:
    """w_k = alpha_k / sum_j alpha_j (the assumption above), computed in log space so that a mu far
    from every allocated grid point still gives finite weights and a gradient."""
    return torch.softmax(torch.log(alpha.clamp_min(torch.finfo(alpha.dtype).tiny)), dim=-1)


def gaussian_weights(grid: torch.Tensor, mu: torch.Tensor, sigma: float) -> torch.Tensor:
    """normalised_weights(gaussian_alpha(...)) without underflow: softmax of the Gaussian's exponent."""
    return torch.softmax(-0.5 * ((grid - mu) / sigma) ** 2, dim=-1)


def active_range(mu: float, sigma: float, epsilon: float, step: int, low: int, high: int) -> tuple[int, int]:
    """The smallest and largest grid width whose alpha is at least ``epsilon`` (clipped to [low, high]).

    alpha_k >= epsilon  <=>  |f_k - mu| <= kappa sigma with kappa = sqrt(-2 ln epsilon). The grid is
    the multiples ``low + i step``; the range always holds the grid point nearest mu."""
    kappa = math.sqrt(-2.0 * math.log(epsilon))
    nearest = nearest_grid_width(mu, step, low, high)
    first = low + math.ceil((mu - kappa * sigma - low) / step - 1e-9) * step
    last = low + math.floor((mu + kappa * sigma - low) / step + 1e-9) * step
    first, last = max(low, min(first, nearest)), min(high, max(last, nearest))
    return first, last


def nearest_grid_width(mu: float, step: int, low: int, high: int) -> int:
    """The grid width nearest mu (the argmax of alpha), inside [low, high]."""
    top = low + (high - low) // step * step
    return int(min(max(low + round((mu - low) / step) * step, low), top))


def combined_mask(grid: torch.Tensor, weights: torch.Tensor, channels: int) -> torch.Tensor:
    """sum_k w_k m_k over ``channels`` positions, m_k the prefix mask of width f_k (Eq. 2)."""
    position = torch.arange(channels, device=grid.device, dtype=grid.dtype)
    keeps = (grid.unsqueeze(1) > position.unsqueeze(0)).to(weights.dtype)  # (K, F): m_k
    return weights @ keeps


def soft_width(grid: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The effective width sum_k w_k f_k, the input of the cost model (UBoostNAS's f_eff)."""
    return (weights * grid.to(weights.dtype)).sum()


def gumbel_softmax(logits: torch.Tensor, tau: float, generator: torch.Generator | None) -> torch.Tensor:
    """Soft Gumbel-softmax softmax((a + g) / tau), g = -log(-log u), u ~ U(0, 1) from ``generator``
    (drawn on the generator's device and moved, so a CPU generator serves a GPU run)."""
    device = generator.device if generator is not None else logits.device
    u = torch.rand(logits.shape, generator=generator, device=device, dtype=logits.dtype).to(logits.device)
    tiny = torch.finfo(logits.dtype).tiny
    g = -torch.log((-torch.log(u.clamp_min(tiny))).clamp_min(tiny))
    return torch.softmax((logits + g) / tau, dim=-1)
