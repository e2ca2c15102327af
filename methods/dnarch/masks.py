"""Differentiable masks of DNArch (Romero & Zeghidour, Secs. 2.1, 2.5.1 and Appendix E.1).

All masks live on normalised coordinates x in [x_min, x_max] = [-1, 1] (kernel taps, channels,
blocks and frequencies alike) and are zero where their value falls below the threshold T_m.

- ``gaussian_mask`` (Eq. 1, mu = 0): learns kernel sizes, one sigma per axis.
- ``sigmoid_mask`` (Eq. 2): learns widths, depth and resolution through its offset mu; the
  temperature tau is a hyper-parameter.
- ``gaussian_cutoff`` / ``sigmoid_cutoff`` (Eqs. 4-5): where a mask equals T_m.
- ``gaussian_size`` / ``sigmoid_size`` (Eqs. 9-10): the differentiable size, clipped at the
  largest size with a straight-through estimator (``clip_ste``: forward min, gradient of the
  unclipped size).
- ``kept_points`` and friends: how many grid points a mask keeps (what the dynamic mode
  materialises); every position they drop has mask value 0.
"""
from __future__ import annotations

import math

import torch

X_MIN, X_MAX = -1.0, 1.0
THRESHOLD = 0.1  # T_m of every mask [P]
EPS = 1e-6  # a grid point within EPS of a cutoff is kept; its mask value decides (0 or >= T_m)


def gaussian_mask(x: torch.Tensor, sigma: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """exp(-x^2 / (2 sigma^2)) where that is >= T_m, else 0 (Eq. 1 with mu = 0)."""
    value = torch.exp(-0.5 * (x / sigma) ** 2)
    return torch.where(value >= threshold, value, torch.zeros_like(value))


def sigmoid_mask(x: torch.Tensor, mu: torch.Tensor, tau: float, threshold: float = THRESHOLD) -> torch.Tensor:
    """1 - sigm(tau (x - mu)) where that is >= T_m, else 0 (Eq. 2)."""
    value = 1.0 - torch.sigmoid(tau * (x - mu))
    return torch.where(value >= threshold, value, torch.zeros_like(value))


def gaussian_cutoff(sigma: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """x_T = sigma sqrt(-2 ln T_m): the Gaussian mask is >= T_m on [-x_T, x_T] (Eq. 4)."""
    return sigma * math.sqrt(-2.0 * math.log(threshold))


def sigmoid_cutoff(mu: torch.Tensor, tau: float, threshold: float = THRESHOLD) -> torch.Tensor:
    """x_T = mu - ln(1 / (1 - T_m) - 1) / tau: the sigmoid mask is >= T_m on [x_min, x_T] (Eq. 5)."""
    return mu - math.log(1.0 / (1.0 - threshold) - 1.0) / tau


def sigmoid_mu_for_cutoff(x_t: float, tau: float, threshold: float = THRESHOLD) -> float:
    """The offset whose cutoff is x_t (inverse of Eq. 5)."""
    return x_t + math.log(1.0 / (1.0 - threshold) - 1.0) / tau


def sigmoid_bounds(tau: float) -> tuple[float, float]:
    """(mu_min, mu_max): the mask is 0.95 at x_min for mu_min and 0.85 at x_max for mu_max [P, E.1]."""
    return X_MIN + math.log(0.95 / 0.05) / tau, X_MAX + math.log(0.85 / 0.15) / tau


def gaussian_sigma_min(points: int, threshold: float = THRESHOLD) -> float:
    """The smallest sigma: the cutoff stays at least one grid step, so an axis keeps >= 3 taps [P, E.1]."""
    step = (X_MAX - X_MIN) / (points - 1)
    return step / math.sqrt(-2.0 * math.log(threshold))


def clip_ste(size: torch.Tensor, maximum: float) -> torch.Tensor:
    """min(size, maximum) forward; the gradient of the unclipped size backward [P, E.1]."""
    return size + (torch.clamp(size, max=maximum) - size).detach()


def gaussian_size(sigma: torch.Tensor, sigma_0: float, length: int) -> torch.Tensor:
    """(2 x_T^t) / (2 x_T^0) * N = sigma_t / sigma_0 * N, clipped at N (Eq. 9)."""
    return clip_ste(sigma / sigma_0 * length, float(length))


def sigmoid_size(mu: torch.Tensor, mu_0: float, tau: float, length: float, maximum: float,
                 threshold: float = THRESHOLD) -> torch.Tensor:
    """(x_T^t - x_min) / (x_T^0 - x_min) * N, clipped at the largest size (Eq. 10)."""
    x_t, x_t0 = sigmoid_cutoff(mu, tau, threshold), sigmoid_cutoff(torch.tensor(mu_0), tau, threshold)
    return clip_ste((x_t - X_MIN) / (x_t0 - X_MIN) * length, float(maximum))


def grid(points: int, device=None, dtype=None) -> torch.Tensor:
    """The normalised coordinates of an axis of ``points`` positions: linspace(-1, 1)."""
    if points == 1:
        return torch.zeros(1, device=device, dtype=dtype)
    return torch.linspace(X_MIN, X_MAX, points, device=device, dtype=dtype)


def kept_points(x_t: float, points: int) -> int:
    """Positions i = 0.. with x_i = -1 + 2i/(points-1) <= x_T: what a sigmoid mask keeps (>= 1)."""
    if points == 1:
        return 1
    step = (X_MAX - X_MIN) / (points - 1)
    return int(min(max(math.floor((x_t - X_MIN) / step + EPS) + 1, 1), points))


def kept_taps(x_t: float, full: int) -> int:
    """Centred taps |j| step <= x_T of a kernel axis of ``full`` (odd) taps: 2 floor(x_T/step) + 1."""
    if full == 1:
        return 1
    step = (X_MAX - X_MIN) / (full - 1)
    half = min(math.floor(x_t / step + EPS), full // 2)
    return 2 * max(half, 0) + 1


def kept_frequency(x_t: float, padded: int) -> int:
    """Largest |k| kept on an axis whose padded FFT length is P: bin k sits at u = -1 + 4|k|/P, so
    u = 1 is the input's Nyquist frequency (k = P/2) [A]. Returns P/2 when nothing is cropped."""
    return int(min(max(math.floor(padded * (x_t - X_MIN) / 4 + EPS), 1), padded // 2))


def frequency_coordinate(k: torch.Tensor, padded: int) -> torch.Tensor:
    """u = -1 + 4|k| / P: the mask coordinate of the signed frequency k (in bins of P)."""
    return X_MIN + 4.0 * k.abs().to(torch.get_default_dtype()) / padded
