"""The complexity loss of DNArch (Eqs. 8-11, Appendix C).

Layer costs with every dimension replaced by the size of its mask:
- pointwise linear: size(m_res) size(m_Nin) size(m_Nout);
- Fourier convolution: size(m_res) log size(m_res), times the depthwise channels N_in [A] (a flag:
  the paper gives no channel factor);
- pointwise operations (BN, GELU): size(m_res) size(m_N).

A block costs BN(N_in, at the input resolution: the pre-norm acts before the downsampling) +
Fourier conv(N_in) + mixer lin(N_in -> N_mid) + GELU(N_mid) + PWLinear(N_mid -> N_out) + GELU(N_out)
(Appendix C; dropout and the residual add are not counted). The network adds a fractional last block
so depth is differentiable [A]: sum_{l < floor(s)} C_l + (s - floor(s)) C_{floor(s)}, with the last
block's cost standing in once s reaches D_max, so the straight-through gradient still flows.
Kernel sizes do not enter C: the convolutions are FFT-based [P].

The encoder and decoder are not searched; they enter C_curr and C_target as the same constant, at
the supernet's identity width [A], so C_curr / C_target = 1 exactly when the masks are at the base
architecture (C_target: the base CCNN's blocks at full resolution, base width and depth).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass(frozen=True)
class ComplexityModel:
    input_size: tuple[int, ...]
    in_channels: int
    num_outputs: int
    dense: bool
    identity_width: int
    base_width: int
    base_depth: int
    fft_channel_factor: bool = True

    @property
    def points(self) -> int:
        return math.prod(self.input_size)

    def block(self, resolution, n_in, n_mid, n_out):
        """C_block from sizes (tensors or numbers)."""
        fft = resolution * _log(resolution) * (n_in if self.fft_channel_factor else 1)
        norm = self.points * n_in
        linear = resolution * (n_in * n_mid + n_mid * n_out)
        gelu = resolution * (n_mid + n_out)
        return norm + fft + linear + gelu

    def ends(self) -> float:
        """Encoder (linear, BN, GELU) and decoder at the identity width: the same in C_curr and C_target."""
        n, p = self.identity_width, self.points
        encoder = p * self.in_channels * n + 2 * p * n
        decoder = p * n * self.num_outputs if self.dense else p * n + n * self.num_outputs
        return float(encoder + decoder)

    def target(self) -> float:
        """C_target: the base CCNN (base width and depth, full resolution)."""
        b = self.base_width
        return self.ends() + self.base_depth * float(self.block(self.points, b, b, b))

    def current(self, resolution: torch.Tensor, widths: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """C_curr from size(m_res) (D_max,), widths (D_max, 3) and size(m_depth) (scalar)."""
        costs = self.block(resolution, widths[:, 0], widths[:, 1], widths[:, 2])
        return self.ends() + fractional_sum(costs, depth)


def _log(x):
    return torch.log(x) if isinstance(x, torch.Tensor) else math.log(x)


def fractional_sum(costs: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """sum_{l < floor(s)} C_l + (s - floor(s)) C_{min(floor(s), D_max - 1)}."""
    whole = int(math.floor(depth.detach().item()))
    whole = min(whole, len(costs))
    last = costs[min(whole, len(costs) - 1)]
    return costs[:whole].sum() + (depth - whole) * last


def complexity_loss(ratio: torch.Tensor) -> torch.Tensor:
    """L_comp = (C_curr / C_target - 1)^2 (Eq. 11)."""
    return (ratio - 1.0) ** 2


def complexity_ratio(model: ComplexityModel, sizes: Sequence[torch.Tensor]) -> torch.Tensor:
    resolution, widths, depth = sizes
    return model.current(resolution, widths, depth) / model.target()
