"""The balancing of the mixture (Section 2.3 of the paper): the moving-average accuracy matrix
a_{c,m} (Eq. 2), its tau-softmax joint p(c, m) (Eq. 3), iterative proportional fitting to uniform
marginals, the conditional p(m | c) that samples a model, and the linear temperature schedule.

IPF here is Sinkhorn scaling: the balanced joint is diag(r) K diag(s) with K_{c,m} = exp(a_{c,m} / tau),
so it is computed on the two scaling vectors (two matrix-vector products per sweep) and every
cross-ratio P_{c,m} P_{c',m'} / (P_{c,m'} P_{c',m}) of K is kept. Subtracting each row's maximum
before exponentiating changes only r (the row step divides it out), so no row underflows as tau
shrinks; exponents are floored at ``MIN_EXPONENT`` so that a model dominated by more than that in
every row keeps a positive column (it changes only cross-ratios beyond e^-600, far below any
tolerance).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_EXPONENT = -600.0


def ema_update(a: np.ndarray, c: int, m: int, accuracy: float, beta: float) -> None:
    """Eq. 2, in place: a_{c,m} <- beta a_{c,m} + (1 - beta) Acc; no other entry changes."""
    a[c, m] = beta * a[c, m] + (1.0 - beta) * accuracy


def temperature(step: int, total_steps: int, models: int, start: float = 1.0, end_factor: float = 0.01) -> float:
    """tau falls linearly from ``start`` at step 0 to end_factor / M (the paper's 1/(100 M)) at the
    last step of training."""
    end = end_factor / models
    return start + (end - start) * min(max(step, 0), max(total_steps - 1, 0)) / max(total_steps - 1, 1)


def joint_kernel(a: np.ndarray, tau: float) -> np.ndarray:
    """exp(a / tau) up to a positive factor per row (which the balancing removes), strictly positive."""
    z = (a - a.max(axis=1, keepdims=True)) / tau
    return np.exp(np.maximum(z, MIN_EXPONENT))


def joint_distribution(a: np.ndarray, tau: float) -> np.ndarray:
    """Eq. 3: p(c, m) = exp(a_{c,m} / tau) / sum_{j,k} exp(a_{j,k} / tau), stabilised by the maximum."""
    z = np.exp((a - a.max()) / tau)
    return z / z.sum()


def kl_to_uniform(p: np.ndarray) -> float:
    """KL(p || U) = sum_m p_m log(len(p) p_m), the paper's stopping criterion on p(m)."""
    p = p[p > 0]
    return float(np.sum(p * np.log(len(p) * p))) if len(p) else 0.0


@dataclass(frozen=True)
class Balanced:
    """The balanced joint P (rows sum to 1/C exactly, columns to 1/M within the tolerance), the sweeps
    used and the KL of the model marginal at the end."""

    joint: np.ndarray
    sweeps: int
    kl: float

    @property
    def conditional(self) -> np.ndarray:
        """p(m | c) = P_{c,m} / sum_m' P_{c,m'} (= C P_{c,m} after a row step)."""
        return self.joint / self.joint.sum(axis=1, keepdims=True)


def ipf_balance(kernel: np.ndarray, tolerance: float = 1e-4, max_sweeps: int = 10_000) -> Balanced:
    """Iterative proportional fitting of the positive C x M ``kernel`` to uniform marginals: a row step
    (every p(c) = 1/C), then the KL of p(m) to uniform is checked (the paper's criterion, delta =
    ``tolerance``), then a column step (every p(m) = 1/M); at most ``max_sweeps`` sweeps. The result
    ends on a row step, so p(m | c) is exact and c may be sampled uniformly."""
    kernel = np.asarray(kernel, dtype=np.float64)
    rows, cols = kernel.shape
    s = np.full(cols, 1.0 / cols)
    sweeps, kl = 0, float("inf")
    while True:
        r = (1.0 / rows) / (kernel @ s)  # row step
        p_m = s * (kernel.T @ r)
        kl = kl_to_uniform(p_m)
        if kl < tolerance or sweeps >= max_sweeps:
            break
        s = (1.0 / cols) / (kernel.T @ r)  # column step
        sweeps += 1
    return Balanced(r[:, None] * kernel * s[None, :], sweeps, kl)


def balanced_conditional(a: np.ndarray, tau: float, tolerance: float = 1e-4, max_sweeps: int = 10_000) -> Balanced:
    """The whole chain of Section 2.3: a -> tau-softmax joint -> IPF -> p(m | c)."""
    return ipf_balance(joint_kernel(a, tau), tolerance, max_sweeps)
