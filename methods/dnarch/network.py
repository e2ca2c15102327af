"""The DNArch supernet: a CCNN at its largest size whose kernel sizes, resolutions, widths and depth
are set by differentiable masks (paper Secs. 2.4-2.5).

Largest size: kernels as large as the input, width N_max = 2 x base (variants with W), depth
D_max = 2 x base (variants with D). The identity branch carries N_max channels at full resolution;
every mask acts on the residual branch only, so a block whose depth mask is 0 is exactly the
identity.

In block l (Fig. 8 positions [A]):
- the Gaussian kernel mask m_g multiplies the kernel the shared kernel network produces;
- m_Nin multiplies the N_in channels of the depthwise convolution (folded into its kernel and
  bias; the convolution is linear per channel, so this equals masking its input and its bias);
- the resolution mask weights the spectrum inside the Fourier convolution, whose output comes out
  at the cut-off resolution (Eq. 7); the branch is upsampled back at the block end;
- m_Nmid multiplies the channel-mixer output, m_Nout the PWLinear output (both before their GELU);
- the depth mask m_depth(x_l) multiplies the whole branch.

Two modes compute the same function. ``dynamic`` materialises only what the masks keep: kernel
taps, spectrum bins, channels and blocks beyond the cut-offs are never computed (PyTorch's dynamic
shapes). ``static`` keeps every tensor at its largest shape and multiplies by the masks (zero beyond
the cut-offs); its Fourier convolution inverts the masked spectrum onto the output-resolution grid
with DFT matrices of fixed shape, and its upsampling is a fixed-shape interpolation matrix, so the
pointwise layers in between see the same samples as in the dynamic mode.

Cost at the base architecture (``nasbench perf dnarch``): the identity branch is N_max wide, but the
dynamic mode carries only the channels some kept block reads or writes through the blocks; the
others go from the encoder (computed apart: BatchNorm statistics are per channel) straight into the
decoder's read-out, which is a sum over channel groups. The N_mid and N_out masks are folded into the
rows of the layers they follow (m (W h + b) = (m W) h + m b) and the depth mask into the residual
sum, so no mask costs an activation-sized product. All of this leaves the function unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasbench.contracts import TaskShape
from nasbench.methods.backbones.ccnn import (
    BlockSpec,
    Decoder,
    Encoder,
    FourierKernelNet,
    add_branch,
    band_limited_samples,
    centre_crop,
    fft_lengths,
    fourier_conv,
    kernel_grid,
    kernel_spectrum,
    max_kernel_size,
    network_macs,
    output_length,
    padded_spectrum,
    pointwise_linear,
    signed_frequencies,
    spectral_upsample,
)
from nasbench.methods.dnarch import masks as M

Variant = Literal["K", "K,R", "K,R,W,D"]
VARIANTS: tuple[str, ...] = ("K", "K,R", "K,R,W,D")


@dataclass(frozen=True)
class MaskSettings:
    variant: str = "K,R,W,D"
    sigma_0: float = 0.5  # kernel masks start global: x_T = 1.073 > 1 [P: sigma in [0.0325, 0.5]]
    threshold: float = M.THRESHOLD
    tau_resolution: float = 50.0
    tau_channel: float = 25.0
    tau_depth: float = 8.0

    @property
    def learns(self) -> set[str]:
        return set(self.variant.split(","))


@dataclass(frozen=True)
class BlockPlan:
    """What block l materialises: kernel taps, kept band |k| <= keep and output resolution per axis
    (keep None: no resolution mask), widths [N_in, N_mid, N_out]."""

    taps: tuple[int, ...]
    keep: tuple[int, ...] | None
    resolution: tuple[int, ...]
    width: tuple[int, int, int]


class ArchitectureMasks(nn.Module):
    """Every mask parameter of the network, its initialisation, bounds, cut-offs and sizes.

    - ``sigma`` (D_max, dims): Gaussian kernel masks, sigma_0 at init, >= sigma_min per axis.
    - ``resolution_mu`` (D_max, dims): spectral sigmoid masks, mu_max at init (the highest
      frequency weighted 0.85: no downsampling).
    - ``width_mu`` (D_max, 3): N_in, N_mid, N_out masks over N_max channels, cut-off at the base width.
    - ``depth_mu`` (1,): one mask over the D_max block indices, cut-off at the base depth.
    """

    def __init__(self, sizes: Sequence[int], base_width: int, base_depth: int, settings: MaskSettings):
        super().__init__()
        learns = settings.learns
        if not learns <= {"K", "R", "W", "D"} or "K" not in learns:
            raise ValueError(f"unknown DNArch variant {settings.variant!r}; one of {VARIANTS}")
        self.settings, self.sizes = settings, tuple(sizes)
        self.dims = len(sizes)
        self.full_kernel = tuple(max_kernel_size(s) for s in sizes)
        self.padded = fft_lengths(sizes)
        self.base_width, self.base_depth = base_width, base_depth
        self.max_width = 2 * base_width if "W" in learns else base_width
        self.max_depth = 2 * base_depth if "D" in learns else base_depth
        d, t = self.max_depth, settings
        self.sigma = nn.Parameter(torch.full((d, self.dims), t.sigma_0))
        self.resolution_mu = self._mu("R", (d, self.dims), M.sigmoid_bounds(t.tau_resolution)[1])
        self.width_mu = self._mu("W", (d, 3), self.initial_mu(self.max_width, base_width, t.tau_channel))
        self.depth_mu = self._mu("D", (1,), self.initial_mu(self.max_depth, base_depth, t.tau_depth))

    def _mu(self, letter: str, shape, value: float) -> nn.Parameter | None:
        return nn.Parameter(torch.full(shape, value)) if letter in self.settings.learns else None

    def initial_mu(self, points: int, base: int, tau: float) -> float:
        """The offset that keeps ``base`` of ``points`` positions, with size(m) = base (Eq. 10)."""
        x_t = M.grid(points)[base - 1].item() if points > base else M.X_MAX
        if points == 2 * base:  # N_max = 2 N: the cut-off sits at the middle of the axis, x_T = 0 [D]
            x_t = 0.0
        return M.sigmoid_mu_for_cutoff(x_t, tau, self.settings.threshold)

    # -- bounds -----------------------------------------------------------------------------------
    @torch.no_grad()
    def reset_to_bounds(self) -> None:
        """Put every parameter that left its range back on the bound (after every step) [P]."""
        s = self.settings
        for axis, full in enumerate(self.full_kernel):
            self.sigma[:, axis].clamp_(min=M.gaussian_sigma_min(full, s.threshold))
        for mu, tau in ((self.resolution_mu, s.tau_resolution), (self.width_mu, s.tau_channel),
                        (self.depth_mu, s.tau_depth)):
            if mu is not None:
                mu.clamp_(*M.sigmoid_bounds(tau))

    # -- cut-offs and what is materialised -----------------------------------------------------------
    def kernel_cutoff(self) -> torch.Tensor:
        return M.gaussian_cutoff(self.sigma.detach(), self.settings.threshold)

    def sigmoid_cutoff(self, mu: torch.Tensor, tau: float) -> torch.Tensor:
        return M.sigmoid_cutoff(mu.detach(), tau, self.settings.threshold)

    def depth(self) -> int:
        """Blocks kept by the depth mask."""
        if self.depth_mu is None:
            return self.max_depth
        x_t = self.sigmoid_cutoff(self.depth_mu, self.settings.tau_depth).item()
        return M.kept_points(x_t, self.max_depth)

    def plans(self) -> list[BlockPlan]:
        """The materialised shape of every kept block."""
        s = self.settings
        kernel_x = self.kernel_cutoff().tolist()
        width_x = self.sigmoid_cutoff(self.width_mu, s.tau_channel).tolist() if self.width_mu is not None else None
        plans = []
        for block, (keep, resolution) in enumerate(self.bands()[: self.depth()]):
            taps = tuple(M.kept_taps(x, k) for x, k in zip(kernel_x[block], self.full_kernel))
            width = (tuple(M.kept_points(x, self.max_width) for x in width_x[block]) if width_x
                     else (self.max_width,) * 3)
            plans.append(BlockPlan(taps, keep, resolution, width))
        return plans

    def static_plans(self) -> list[BlockPlan]:
        """Every block at its largest shape; the kept band and output grid (values there, not
        shapes) still say where the Fourier convolution samples its result."""
        return [BlockPlan(self.full_kernel, keep, resolution, (self.max_width,) * 3)
                for keep, resolution in self.bands()]

    def bands(self) -> list[tuple[tuple[int, ...] | None, tuple[int, ...]]]:
        """(kept |k| per axis, output resolution per axis) of every block."""
        if self.resolution_mu is None:
            return [(None, self.sizes)] * self.max_depth
        cutoffs = self.sigmoid_cutoff(self.resolution_mu, self.settings.tau_resolution).tolist()
        out = []
        for per_axis in cutoffs:
            keep = tuple(M.kept_frequency(x, p) for x, p in zip(per_axis, self.padded))
            out.append((keep, tuple(output_length(n, p, k) for n, p, k in zip(self.sizes, self.padded, keep))))
        return out

    # -- the search signal ----------------------------------------------------------------------------
    def cutoffs(self) -> torch.Tensor:
        """Every mask's cut-off x_T, flattened (kernels, resolutions, widths, depth), on the masks'
        coordinate [-1, 1]: where each mask stops keeping positions."""
        s = self.settings
        parts = [self.kernel_cutoff().flatten()]
        for mu, tau in ((self.resolution_mu, s.tau_resolution), (self.width_mu, s.tau_channel),
                        (self.depth_mu, s.tau_depth)):
            if mu is not None:
                parts.append(self.sigmoid_cutoff(mu, tau).flatten())
        return torch.cat(parts).cpu()

    def discrete_sizes(self) -> list[int]:
        """What the masks materialise, for every block of D_max: kernel taps and kept frequencies per
        axis, the three widths; then the depth. The architecture's discrete decisions."""
        sizes = [M.kept_taps(x, k) for row in self.kernel_cutoff().tolist() for x, k in zip(row, self.full_kernel)]
        if self.resolution_mu is not None:
            sizes += [k for keep, _ in self.bands() for k in keep]
        if self.width_mu is not None:
            cutoffs = self.sigmoid_cutoff(self.width_mu, self.settings.tau_channel).tolist()
            sizes += [M.kept_points(x, self.max_width) for row in cutoffs for x in row]
        return sizes + [self.depth()]

    # -- mask values --------------------------------------------------------------------------------
    def kernel_mask(self, block: int, taps: Sequence[int]) -> torch.Tensor:
        """Product over axes of the Gaussian masks on the central ``taps`` of the kernel grid (Eq. 3)."""
        coords = kernel_grid(taps, self.full_kernel, self.sigma.device)
        values = M.gaussian_mask(coords, self.sigma[block], self.settings.threshold)
        return values.prod(-1)

    def channel_mask(self, block: int, which: int, count: int) -> torch.Tensor | None:
        """The first ``count`` values of the width mask ``which`` (0: N_in, 1: N_mid, 2: N_out)."""
        if self.width_mu is None:
            return None
        x = M.grid(self.max_width, self.width_mu.device)[:count]
        return M.sigmoid_mask(x, self.width_mu[block, which], self.settings.tau_channel, self.settings.threshold)

    def depth_value(self, block: int) -> torch.Tensor | None:
        if self.depth_mu is None:
            return None
        x = M.grid(self.max_depth, self.depth_mu.device)[block]
        return M.sigmoid_mask(x, self.depth_mu[0], self.settings.tau_depth, self.settings.threshold)

    def spectral_weight(self, block: int, keep: Sequence[int] | None, static: bool) -> torch.Tensor | None:
        """The resolution mask on the spectrum layout (the kept band, or in static mode every bin):
        the product of the per-axis sigmoid masks at u = -1 + 4|k|/P."""
        if self.resolution_mu is None:
            return None
        weight = None
        for axis, p in enumerate(self.padded):
            k = None if static or keep is None or keep[axis] >= p // 2 else keep[axis]
            freqs = signed_frequencies(p, axis == self.dims - 1, k).to(self.resolution_mu.device)
            values = M.sigmoid_mask(M.frequency_coordinate(freqs, p), self.resolution_mu[block, axis],
                                    self.settings.tau_resolution, self.settings.threshold)
            shape = [1] * self.dims
            shape[axis] = -1
            weight = values.view(shape) if weight is None else weight * values.view(shape)
        return weight

    # -- differentiable sizes (Eqs. 9-10) ------------------------------------------------------------
    def resolution_sizes(self) -> torch.Tensor:
        """size(m_res) per block: the product of the per-axis sizes [A], each clipped at L."""
        if self.resolution_mu is None:
            return torch.full((self.max_depth,), float(math.prod(self.sizes)), device=self.sigma.device)
        tau = self.settings.tau_resolution
        mu_0 = M.sigmoid_bounds(tau)[1]
        per_axis = [M.sigmoid_size(self.resolution_mu[:, a], mu_0, tau, n, n, self.settings.threshold)
                    for a, n in enumerate(self.sizes)]
        return torch.stack(per_axis, -1).prod(-1)

    def width_sizes(self) -> torch.Tensor:
        """size(m_N) (D_max, 3), clipped at N_max."""
        if self.width_mu is None:
            return torch.full((self.max_depth, 3), float(self.base_width), device=self.sigma.device)
        tau = self.settings.tau_channel
        mu_0 = self.initial_mu(self.max_width, self.base_width, tau)
        return M.sigmoid_size(self.width_mu, mu_0, tau, self.base_width, self.max_width, self.settings.threshold)

    def depth_size(self) -> torch.Tensor:
        """size(m_depth), clipped at D_max."""
        if self.depth_mu is None:
            return torch.tensor(float(self.base_depth), device=self.sigma.device)
        tau = self.settings.tau_depth
        mu_0 = self.initial_mu(self.max_depth, self.base_depth, tau)
        return M.sigmoid_size(self.depth_mu[0], mu_0, tau, self.base_depth, self.max_depth, self.settings.threshold)

    def kernel_sizes(self) -> torch.Tensor:
        """size(m_g) (D_max, dims) = sigma / sigma_0 * N_0, N_0 the taps kept at init, capped at the input."""
        x_0 = M.gaussian_cutoff(torch.tensor(self.settings.sigma_0), self.settings.threshold).item()
        initial = [M.kept_taps(x_0, k) for k in self.full_kernel]
        return torch.stack([M.gaussian_size(self.sigma[:, a], self.settings.sigma_0, n).clamp(max=s)
                            for a, (n, s) in enumerate(zip(initial, self.sizes))], -1)


class MaskedBatchNorm(nn.BatchNorm2d):
    """BatchNorm over the first n channels, with batch statistics only (the architecture keeps
    changing, so running averages would not describe it) [P, E.1]."""

    def __init__(self, channels: int):
        super().__init__(channels, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        return F.batch_norm(x, None, None, self.weight[:n], self.bias[:n], True, 0.0, self.eps)


class DNArchBlock(nn.Module):
    """A CCNN block at N_max channels whose forward materialises the plan it is given."""

    def __init__(self, channels: int, dropout: float):
        super().__init__()
        self.norm = MaskedBatchNorm(channels)
        self.conv_bias = nn.Parameter(torch.zeros(channels))
        self.mixer = nn.Linear(channels, channels)
        self.linear = nn.Linear(channels, channels)
        self.dropout = nn.Dropout(dropout)
        nn.init.kaiming_uniform_(self.mixer.weight, nonlinearity="linear")
        nn.init.kaiming_normal_(self.linear.weight)
        nn.init.zeros_(self.mixer.bias)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x, kernel, bias, plan: BlockPlan, masks: dict, static: bool) -> torch.Tensor:
        n_in, n_mid, n_out = plan.width
        sizes = tuple(x.shape[2:])
        h = self.norm(x if n_in == x.shape[1] else x[:, :n_in])
        if static:
            h = static_fourier_conv(h, kernel, bias, masks["spectrum"], plan.resolution)
        else:
            h = fourier_conv(h, kernel, bias, keep=plan.keep, spectral_weight=masks["spectrum"])
        h = F.gelu(pointwise_linear(h, *_masked_rows(self.mixer, n_mid, n_in, masks["mid"])))
        h = self.dropout(h)
        h = F.gelu(pointwise_linear(h, *_masked_rows(self.linear, n_out, n_mid, masks["out"])))
        h = spectral_upsample(h, sizes, plan.resolution)
        return add_branch(x, h, masks["depth"])


def _masked_rows(layer: nn.Linear, rows: int, columns: int,
                 channel_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of the first ``rows`` outputs over the first ``columns`` inputs, times the
    width mask of the outputs: m * (W h + b) = (m W) h + m b, so the mask costs a weight-sized
    product instead of an activation-sized one."""
    weight, bias = layer.weight[:rows, :columns], layer.bias[:rows]
    if channel_mask is None:
        return weight, bias
    return weight * channel_mask[:, None], bias * channel_mask


class DNArchCCNN(nn.Module):
    """Encoder -> D_max masked blocks (kernels from one shared kernel network) -> decoder."""

    def __init__(self, shape: TaskShape, base_width: int, base_depth: int, settings: MaskSettings,
                 dropout: float = 0.0, kernel_hidden: int = 128, kernel_layers: int = 4,
                 kernel_frequencies: int = 128, omega_0: float = 1.0, embedding_dim: int | None = None,
                 mode: Literal["dynamic", "static"] = "dynamic", pooling: str = "mean"):
        super().__init__()
        self.shape, self.mode = shape, mode
        self.masks = ArchitectureMasks(shape.input_size, base_width, base_depth, settings)
        n, d = self.masks.max_width, self.masks.max_depth
        self.encoder = Encoder(shape, n, batch_stats_only=True, embedding_dim=embedding_dim)
        self.kernel_net = FourierKernelNet(shape.dims, d * n, kernel_hidden, kernel_layers, kernel_frequencies,
                                           omega_0, init_taps=math.prod(self.masks.full_kernel))
        self.blocks = nn.ModuleList(DNArchBlock(n, dropout) for _ in range(d))
        self.decoder = Decoder(n, shape.num_outputs, shape.dense, pooling)

    def architecture_parameters(self) -> list[nn.Parameter]:
        return list(self.masks.parameters())

    def weight_parameters(self) -> list[nn.Parameter]:
        ids = {id(p) for p in self.architecture_parameters()}
        return [p for p in self.parameters() if id(p) not in ids]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        static = self.mode == "static"
        plans = self.masks.static_plans() if static else self.masks.plans()
        # The identity channels that no kept block reads or writes go from the encoder straight to
        # the decoder: only the first `active` channels travel through the blocks.
        active = max(max(p.width[0], p.width[2]) for p in plans)
        h, passing = self.encoder.split(x, active)
        for index, (plan, (kernel, bias)) in enumerate(zip(plans, self.kernels(plans))):
            masks = {"spectrum": self.masks.spectral_weight(index, plan.keep, static),
                     "mid": self.masks.channel_mask(index, 1, plan.width[1]),
                     "out": self.masks.channel_mask(index, 2, plan.width[2]),
                     "depth": self.masks.depth_value(index)}
            h = self.blocks[index](h, kernel, bias, plan, masks, static)
        return self.decoder.forward_parts([h, passing])

    def kernels(self, plans: Sequence[BlockPlan]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(kernel (N_in, *taps), bias (N_in,)) per block: the shared kernel network read out on the
        kept taps and kept channels only, times the Gaussian mask and the N_in mask."""
        full = self.masks.full_kernel
        union = [max(p.taps[a] for p in plans) for a in range(self.shape.dims)]
        features = self.kernel_net.features(kernel_grid(union, full, self.masks.sigma.device))
        width = self.masks.max_width
        out = []
        for index, plan in enumerate(plans):
            n_in = plan.width[0]
            rows = slice(index * width, index * width + n_in)
            kernel = self.kernel_net.readout(centre_crop(features, plan.taps), rows).movedim(-1, 0)
            kernel = kernel * self.masks.kernel_mask(index, plan.taps)
            bias = self.blocks[index].conv_bias[:n_in]
            channel = self.masks.channel_mask(index, 0, n_in)
            if channel is not None:
                kernel = kernel * channel.view(-1, *([1] * self.shape.dims))
                bias = bias * channel
            out.append((kernel, bias))
        return out

    # -- the found architecture -----------------------------------------------------------------------
    def block_specs(self) -> list[BlockSpec]:
        """What the trained network computes, block by block (the dynamic mode's shapes)."""
        return [BlockSpec(p.width, p.taps, p.resolution, p.keep) for p in self.masks.plans()]

    def macs(self, inputs: torch.Tensor, output: torch.Tensor | None = None) -> int:
        """Analytic MACs of the materialised network on one example (``count_macs`` hook)."""
        return network_macs(self.encoder, self.kernel_net, self.decoder, self.block_specs(), self.shape.input_size)

    def materialised_parameters(self) -> int:
        """Weights the kept blocks use: encoder, kernel network (kept output rows), blocks, decoder."""
        count = sum(p.numel() for m in (self.encoder, self.decoder) for p in m.parameters())
        count += sum(p.numel() for p in self.kernel_net.hidden.parameters())
        hidden = self.kernel_net.output.in_features
        for spec in self.block_specs():
            n_in, n_mid, n_out = spec.width
            count += n_in * (hidden + 1) + 3 * n_in + n_in * n_mid + n_mid + n_mid * n_out + n_out
        return count


# -- static-shape emulation of the resolution crop -------------------------------------------------------
def static_fourier_conv(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor,
                        spectral_weight: torch.Tensor | None, resolution: Sequence[int]) -> torch.Tensor:
    """The dynamic ``fourier_conv`` at fixed shapes: every bin (masked to zero beyond the cut-off) is
    inverted onto L points per axis of the output grid (spacing L / L_out); the points >= L_out lie
    beyond the input region, and ``spectral_upsample`` gives them zero weight."""
    sizes = tuple(x.shape[2:])
    if tuple(resolution) == sizes:
        return fourier_conv(x, kernel, bias, spectral_weight=spectral_weight)
    dims = len(sizes)
    padded = fft_lengths(sizes)
    kspec = kernel_spectrum(kernel, padded)
    if spectral_weight is not None:
        kspec = kspec * spectral_weight
    product = padded_spectrum(x, padded) * kspec
    freqs = [signed_frequencies(p, a == dims - 1) for a, p in enumerate(padded)]
    out = band_limited_samples(product, freqs, padded, sizes, resolution, sizes)
    return out.to(x.dtype) + bias.view(1, -1, *([1] * dims))
