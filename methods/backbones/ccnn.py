"""The Continuous CNN (CCNN) of Knigge, Romero et al., "Modelling Long Range Dependencies in ND: From
Task-Specific to a General Purpose CNN" (ICLR 2023, https://openreview.net/forum?id=ZW5aK4yCRqU;
reference code github.com/david-knigge/ccnn), in the form DNArch uses it (Romero & Zeghidour,
"DNArch", arXiv:2302.05400, Appendix E.1).

- Encoder: [token Embedding] -> pointwise linear -> BatchNorm -> GELU.
- Residual blocks, pre-norm: ``x + GELU(PWLinear(Dropout(GELU(SepFlexConv(BN(x))))))``, where the
  separable long convolution is a depthwise convolution computed by FFT, with a bias, followed by a
  pointwise channel mixer.
- Kernels come from ONE kernel network shared by the whole network (``FourierKernelNet``: an MLP on a
  Fourier encoding of coordinates in [-1, 1]^D), whose output holds one depthwise kernel value per
  channel of every block.
- Decoder: [global average pool] -> pointwise linear.

Blocks are described by ``BlockSpec`` (widths [N_in, N_mid, N_out], kernel taps and output
resolution per axis), so the same classes build the plain CCNN (all widths equal, global kernels,
full resolution) and rebuild an architecture found by DNArch. The identity branch keeps the network
width; a block reads its first N_in channels and adds into its first N_out channels.

The Fourier convolution zero-pads each axis to a fast FFT length P >= L + K_max // 2 (the input at
the start, the kernel centred at index 0), so the circular correlation equals the linear 'same'
correlation on the input region. Spectral downsampling (DNArch Eq. 7) keeps the bins |k| <= k_keep
of that domain (the resolution mask weights them, u = -1 + 4|k|/P maps [0, Nyquist] to [-1, 1]),
multiplies the cropped spectra, and evaluates the band-limited result directly on L_out points
spread over the input region (inverse DFT matrices of L_out x kept bins per axis), with
L_out = floor(2 L k_keep / P) + 1 the fewest samples that hold the band without aliasing. The block
end upsamples back by band-limited (periodic) interpolation, i.e. zero-padding the spectrum of
the L_out samples [A].

Departures and assumptions [A]: coordinates of the kernel grid are linspace(-1, 1, K) with
K = L for odd and L + 1 for even input lengths (centred kernels need odd sizes); the Fourier
encoding's frequencies W are fixed (not trained) and drawn N(0, 1), the phases are 2*pi*omega_0*W x;
hidden activations of the kernel network are GELU; its output layer is scaled by
sqrt(1 / kernel taps) at initialisation ("Chang" initialisation of the ccnn reference, separable
case); dropout is element-wise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasbench.contracts import TaskShape

PRESETS: dict[str, tuple[int, int]] = {"ccnn_4_140": (4, 140), "ccnn_6_380": (6, 380)}  # (blocks, width)


# -- Fourier convolution ------------------------------------------------------------------------
def max_kernel_size(length: int) -> int:
    """The largest (odd) kernel of an axis: the input size, rounded up to odd."""
    return length if length % 2 else length + 1


def fast_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (FFT lengths with only small prime factors are fast)."""
    best = 1 << max(n - 1, 1).bit_length()
    p3 = 1
    while p3 < best:
        p35 = p3
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 5
        p3 *= 3
    return best


def fft_lengths(sizes: Sequence[int]) -> tuple[int, ...]:
    """Per axis, the padded FFT length P >= L + K_max // 2: enough for the 'same' region of a
    kernel as large as the input to be free of wrap-around."""
    return tuple(fast_length(n + max_kernel_size(n) // 2) for n in sizes)


def padded_spectrum(x: torch.Tensor, padded: Sequence[int]) -> torch.Tensor:
    """rfftn of x (..., *L) zero-padded to ``padded`` on its last len(padded) axes, one axis at a
    time so the padding is never materialised (the rows of zeros are not transformed)."""
    dims = len(padded)
    out = torch.fft.rfft(x, n=padded[-1], dim=-1)
    for axis in range(dims - 2, -1, -1):
        out = torch.fft.fft(out, n=padded[axis], dim=axis - dims)
    return out


def cropped_inverse(spectrum: torch.Tensor, padded: Sequence[int], sizes: Sequence[int]) -> torch.Tensor:
    """The first ``sizes`` samples per axis of irfftn(spectrum, s=padded), skipping the rows not kept."""
    dims = len(padded)
    out = spectrum
    for axis in range(dims - 1):
        out = torch.fft.ifft(out, dim=axis - dims).narrow(axis - dims, 0, sizes[axis])
    return torch.fft.irfft(out, n=padded[-1], dim=-1)[..., : sizes[-1]]


def kernel_spectrum(kernel: torch.Tensor, padded: Sequence[int]) -> torch.Tensor:
    """The spectrum that turns a product into a cross-correlation with the centred kernel (C, *taps):
    the flipped kernel, centred at index 0 of the padded domain (= the conjugate kernel spectrum)."""
    dims = len(padded)
    taps = kernel.shape[1:]
    pad = []
    for t, p in zip(reversed(taps), reversed(padded)):
        pad += [0, p - t]
    axes = list(range(1, dims + 1))
    placed = torch.roll(F.pad(kernel.flip(axes), pad), shifts=[-(t // 2) for t in taps], dims=axes)
    return torch.fft.rfftn(placed, dim=tuple(axes))


def signed_frequencies(padded: int, last: bool, keep: int | None = None) -> torch.Tensor:
    """Signed frequency (in bins of the padded length) of every bin of one axis, fft order; the
    last axis is one-sided (rfft). With ``keep``, only the bins with |k| <= keep."""
    if last:
        return torch.arange((padded // 2 if keep is None else keep) + 1)
    if keep is None:
        return torch.fft.fftfreq(padded, d=1.0 / padded).round().long()
    return torch.cat([torch.arange(keep + 1), -torch.arange(keep, 0, -1)])


def band_index(padded: int, last: bool, keep: int) -> torch.Tensor:
    """Positions, in fft order, of the bins with |k| <= keep."""
    return signed_frequencies(padded, last, keep) % padded


def output_length(size: int, padded: int, keep: int | None) -> int:
    """Samples per axis that represent the band |k| <= keep without aliasing: 2 L keep / P < L_out."""
    if keep is None or keep >= padded // 2:
        return size
    return min(size, (2 * size * keep) // padded + 1)


def fourier_conv(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None = None,
                 keep: Sequence[int] | None = None, spectral_weight: torch.Tensor | None = None,
                 double_precision: bool = False) -> torch.Tensor:
    """Depthwise 'same' cross-correlation of x (B, C, *L) with kernel (C, *taps) through the FFT.

    With ``keep`` (per axis, the largest kept |frequency| in bins of the padded length), the spectra
    are cropped to that band before the product and the band-limited result is evaluated directly
    on an output grid of ``output_length`` samples per axis (DNArch Eq. 7, computed at the output
    resolution); ``spectral_weight`` (broadcastable to the cropped spectrum) is the resolution mask."""
    dims, sizes = x.ndim - 2, tuple(x.shape[2:])
    padded = fft_lengths(sizes)
    dtype = x.dtype
    if double_precision:
        x, kernel = x.double(), kernel.double()
    spectrum = padded_spectrum(x, padded)
    kspec = kernel_spectrum(kernel, padded)
    out_sizes = tuple(output_length(n, p, None if keep is None else k) for n, p, k in zip(sizes, padded, keep or sizes))
    if out_sizes == sizes:
        if spectral_weight is not None:  # weight the kernel's spectrum: it has no batch axis
            kspec = kspec * spectral_weight
        out = cropped_inverse(spectrum * kspec, padded, sizes)
    else:
        freqs = []
        for axis, (p, k) in enumerate(zip(padded, keep)):
            last, k = axis == dims - 1, (None if k >= p // 2 else k)
            if k is not None:
                index = band_index(p, last, k).to(x.device)
                spectrum, kspec = spectrum.index_select(2 + axis, index), kspec.index_select(1 + axis, index)
            freqs.append(signed_frequencies(p, last, k))
        if spectral_weight is not None:
            kspec = kspec * spectral_weight
        out = band_limited_samples(spectrum * kspec, freqs, padded, sizes, out_sizes, out_sizes)
    if bias is not None:
        out = out + bias.view(1, -1, *([1] * dims)).to(out.dtype)
    return out.to(dtype)


def band_limited_samples(spectrum: torch.Tensor, freqs: Sequence[torch.Tensor], padded: Sequence[int],
                         sizes: Sequence[int], out_sizes: Sequence[int], rows: Sequence[int]) -> torch.Tensor:
    """The real signal whose (one-sided in the last axis) spectrum on the padded domain is given, at
    positions m * L / L_out, m < rows, per axis: one inverse DFT matrix (rows x bins) per axis."""
    dims = len(padded)
    out = spectrum
    for axis in range(dims):
        last = axis == dims - 1
        f = freqs[axis].to(device=spectrum.device, dtype=torch.float64)
        t = torch.arange(rows[axis], device=spectrum.device, dtype=torch.float64) * (sizes[axis] / out_sizes[axis])
        moved = torch.movedim(out, 2 + axis, -1)
        # the DFT matrix is rows x bins complex: built a block of rows at a time, so a long axis (a
        # 16k-sample sequence at half resolution: 2 GB in one piece) stays within memory
        parts = [moved @ _inverse_dft(block, f, padded[axis], last).T.to(spectrum.dtype)
                 for block in t.split(DFT_ROWS_PER_BLOCK)]
        out = torch.movedim(torch.cat(parts, dim=-1), -1, 2 + axis)
    return out.real


DFT_ROWS_PER_BLOCK = 512


def _inverse_dft(t: torch.Tensor, f: torch.Tensor, padded: int, last: bool) -> torch.Tensor:
    """Rows exp(2 pi i t f / P) / P of the inverse DFT at positions ``t``; on the one-sided axis the
    bins 0 < k < P/2 stand for k and -k."""
    matrix = torch.exp(2j * math.pi * torch.outer(t, f) / padded) / padded
    return matrix * torch.where((f > 0) & (f < padded / 2), 2.0, 1.0) if last else matrix


def dirichlet_kernel(x: torch.Tensor, order: int) -> torch.Tensor:
    """1 + 2 sum_{k=1}^{order} cos(k x) in closed form, sin((order + 1/2) x) / sin(x / 2) (its limit
    2 order + 1 where sin(x / 2) = 0): memory of x's size, not x's size times ``order``."""
    half = torch.sin(x / 2)
    near = half.abs() < 1e-12
    return torch.where(near, torch.full_like(x, 2.0 * order + 1.0),
                       torch.sin((order + 0.5) * x) / torch.where(near, torch.ones_like(half), half))


def interpolation_matrix(size: int, small: int, columns: int | None = None, device=None,
                         dtype=torch.float32) -> torch.Tensor:
    """U (size x columns): band-limited (periodic) interpolation of ``small`` samples on [0, size)
    to ``size`` samples, U[n, m] = 1/small sum_k w_k cos(2 pi k (n/size - m/small)), |k| <= small/2,
    w = 1/2 at +-small/2 (the even-length Nyquist bin split in two). Columns >= small are zero."""
    n = torch.arange(size, device=device, dtype=torch.float64)
    m = torch.arange(small, device=device, dtype=torch.float64)
    t = n[:, None] / size - m[None, :] / small
    u = dirichlet_kernel(2 * math.pi * t, (small + 1) // 2 - 1)
    if small % 2 == 0:
        u = u + torch.cos(math.pi * small * t)
    matrix = torch.zeros(size, columns or small, device=device, dtype=torch.float64)
    matrix[:, :small] = u / small
    return matrix.to(dtype)


def spectral_upsample(x: torch.Tensor, sizes: Sequence[int], small: Sequence[int] | None = None) -> torch.Tensor:
    """Upsample the first ``small`` samples per axis of x (default: all of them) to ``sizes`` by
    band-limited interpolation (zero-padding their spectrum) [A]."""
    small = tuple(x.shape[2:]) if small is None else tuple(small)
    for axis, (n, s) in enumerate(zip(sizes, small)):
        if s == n:
            continue
        if n < s:  # not an upsampling: the interpolant evaluated at the n points
            matrix = interpolation_matrix(n, s, x.shape[2 + axis], x.device, x.dtype)
            x = torch.movedim(torch.movedim(x, 2 + axis, -1) @ matrix.T, -1, 2 + axis)
        else:
            x = zero_padded_spectrum(x.narrow(2 + axis, 0, s), 2 + axis, n)
    return x


def zero_padded_spectrum(x: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """The samples of ``x`` along ``dim`` interpolated to ``size`` >= their count by zero-padding their
    spectrum, the even count's Nyquist bin split between +-N/2: the product with ``interpolation_matrix``
    in O(size log size) time and O(size) memory (the matrix is size x count)."""
    small = x.shape[dim]
    spectrum = torch.fft.rfft(x, dim=dim)
    if small % 2 == 0:
        weight = torch.ones(small // 2 + 1, dtype=x.dtype, device=x.device)
        weight[-1] = 0.5
        spectrum = spectrum * weight.view(-1, *([1] * (x.ndim - 1 - dim)))
    return torch.fft.irfft(spectrum, n=size, dim=dim) * (size / small)


def pointwise_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """A 1x1 linear map on the channel axis of a channels-first tensor (B, C, *S): a 1x1 convolution,
    which on CPU avoids the transposes a matmul over (B * S, C) needs."""
    if x.ndim in (3, 4):
        conv = F.conv1d if x.ndim == 3 else F.conv2d
        return conv(x, weight.reshape(*weight.shape, *([1] * (x.ndim - 2))), bias)
    out = torch.matmul(weight, x.flatten(2))
    if bias is not None:
        out = out + bias.unsqueeze(-1)
    return out.view(x.shape[0], weight.shape[0], *x.shape[2:])


def fft_macs(points: int) -> int:
    """Multiply-accumulates counted for one real FFT of ``points`` samples: 2 n log2 n."""
    return int(2 * points * math.log2(max(points, 2)))


# -- the shared kernel network --------------------------------------------------------------------
class FourierKernelNet(nn.Module):
    """MLP_psi: gamma(c) = [cos(2 pi omega_0 W c), sin(2 pi omega_0 W c)], W in R^{D x F} fixed,
    then ``layers`` linear layers (``hidden`` units, GELU between them) to ``out_channels`` values."""

    def __init__(self, dims: int, out_channels: int, hidden: int = 128, layers: int = 4,
                 frequencies: int = 128, omega_0: float = 1.0, init_taps: int = 1):
        super().__init__()
        self.register_buffer("frequencies", torch.randn(dims, frequencies))
        self.omega_0 = omega_0
        widths = [2 * frequencies] + [hidden] * (layers - 1)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.output = nn.Linear(widths[-1], out_channels)
        for layer in self.hidden:
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
        nn.init.kaiming_uniform_(self.output.weight, nonlinearity="linear")
        nn.init.zeros_(self.output.bias)
        with torch.no_grad():  # a depthwise kernel of T taps then has sum psi^2 ~ 1
            self.output.weight.mul_(math.sqrt(1.0 / init_taps))

    def features(self, coords: torch.Tensor) -> torch.Tensor:
        """Hidden features (..., hidden) at coordinates (..., D)."""
        phase = 2 * math.pi * self.omega_0 * coords @ self.frequencies
        h = torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)
        for layer in self.hidden:
            h = F.gelu(layer(h))
        return h

    def readout(self, features: torch.Tensor, rows: slice | torch.Tensor | None = None) -> torch.Tensor:
        """Output values (..., len(rows)) of the selected output rows only."""
        weight, bias = self.output.weight, self.output.bias
        if rows is not None:
            weight, bias = weight[rows], bias[rows]
        return F.linear(features, weight, bias)

    def macs(self, taps: int, rows: int) -> int:
        per_tap = sum(layer.in_features * layer.out_features for layer in self.hidden)
        return taps * (per_tap + self.output.in_features * rows + self.frequencies.numel())


def kernel_grid(taps: Sequence[int], full: Sequence[int], device=None) -> torch.Tensor:
    """Coordinates (*taps, D) of the central ``taps`` points of linspace(-1, 1, full) per axis."""
    axes = []
    for t, k in zip(taps, full):
        step = 2.0 / (k - 1) if k > 1 else 0.0
        axes.append((torch.arange(t, device=device) - t // 2) * step)
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)


def centre_crop(t: torch.Tensor, taps: Sequence[int]) -> torch.Tensor:
    """The central ``taps`` entries of the leading axes of t (*grid, F)."""
    for axis, n in enumerate(taps):
        start = (t.shape[axis] - n) // 2
        t = t.narrow(axis, start, n)
    return t


# -- blocks and network ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BlockSpec:
    """One residual block: widths [N_in, N_mid, N_out], kernel taps, output resolution and kept
    frequency band (None: the full spectrum) per axis."""

    width: tuple[int, int, int]
    kernel: tuple[int, ...]
    resolution: tuple[int, ...]
    bandwidth: tuple[int, ...] | None = None


def batch_norm(channels: int, dims: int, batch_stats_only: bool) -> nn.Module:
    cls = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    return cls(channels, track_running_stats=not batch_stats_only)


class Encoder(nn.Module):
    """[Embedding] -> pointwise linear -> BN -> GELU, to ``width`` channels."""

    def __init__(self, shape: TaskShape, width: int, batch_stats_only: bool, embedding_dim: int | None = None):
        super().__init__()
        self.embedding = None
        in_channels = shape.in_channels
        if shape.vocab_size is not None:
            in_channels = embedding_dim or width
            self.embedding = nn.Embedding(shape.vocab_size, in_channels)
        self.linear = nn.Linear(in_channels, width)
        self.norm = batch_norm(width, shape.dims, batch_stats_only)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.norm(pointwise_linear(self.embed(x), self.linear.weight, self.linear.bias)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:  # token ids (B, L) -> (B, E, L)
            x = self.embedding(x.long()).transpose(1, 2)
        return x

    def split(self, x: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """forward(x)'s channels [0, n) and [n, width) (None when n is the width), each computed on
        its own: BatchNorm's statistics are per channel, so this equals slicing forward(x) without
        the copies that slicing and its backward make. Needs batch-statistics BatchNorm."""
        if self.norm.track_running_stats:
            raise ValueError("Encoder.split needs BatchNorm with batch statistics only")
        x, width = self.embed(x), self.linear.out_features
        parts = []
        for rows in (slice(0, n), slice(n, width)):
            if rows.start == rows.stop:
                parts.append(None)
                continue
            h = pointwise_linear(x, self.linear.weight[rows], self.linear.bias[rows])
            h = F.batch_norm(h, None, None, self.norm.weight[rows], self.norm.bias[rows], True, 0.0, self.norm.eps)
            parts.append(F.gelu(h))
        return parts[0], parts[1]

    def macs(self, points: int) -> int:
        return points * self.linear.in_features * self.linear.out_features


POOLINGS = ("mean", "first")


class Decoder(nn.Module):
    """Dense tasks: pointwise linear; global tasks: global average pool (``pooling="mean"``, the
    papers') or the features at the first position (``"first"``, LRA's "CLS" pooling_mode), then linear."""

    def __init__(self, width: int, num_outputs: int, dense: bool, pooling: str = "mean"):
        super().__init__()
        self.dense, self.pooling = dense, pooling
        self.linear = nn.Linear(width, num_outputs)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).mean(-1) if self.pooling == "mean" else x.flatten(2)[..., 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_parts([x])

    def forward_parts(self, parts: Sequence[torch.Tensor | None]) -> torch.Tensor:
        """forward(torch.cat(parts, 1)) without the concatenation (None parts are skipped): the
        linear read-out is a sum over channel groups."""
        out, offset = None, 0
        for h in parts:
            if h is None:
                continue
            weight = self.linear.weight[:, offset: offset + h.shape[1]]
            offset += h.shape[1]
            term = pointwise_linear(h, weight, None) if self.dense else F.linear(self.pool(h), weight)
            out = term if out is None else out + term
        bias = self.linear.bias.view(1, -1, *([1] * (out.ndim - 2)))
        return out + bias

    def macs(self, points: int) -> int:
        return (points if self.dense else 1) * self.linear.in_features * self.linear.out_features


class CCNNBlock(nn.Module):
    """Pre-norm residual block on the first N_in channels of the identity branch; its branch comes
    out at ``spec.resolution`` and is upsampled back before it is added to the first N_out channels."""

    def __init__(self, spec: BlockSpec, dims: int, dropout: float, batch_stats_only: bool, zero_init: bool = False):
        super().__init__()
        n_in, n_mid, n_out = spec.width
        self.spec = spec
        self.norm = batch_norm(n_in, dims, batch_stats_only)
        self.conv_bias = nn.Parameter(torch.zeros(n_in))
        self.mixer = nn.Linear(n_in, n_mid)
        self.linear = nn.Linear(n_mid, n_out)
        self.dropout = nn.Dropout(dropout)
        nn.init.kaiming_uniform_(self.mixer.weight, nonlinearity="linear")
        nn.init.kaiming_normal_(self.linear.weight)
        if zero_init:  # the branch starts at 0: every block starts as the identity
            nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.mixer.bias)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        n_in, _, n_out = self.spec.width
        sizes = x.shape[2:]
        h = fourier_conv(self.norm(x[:, :n_in]), kernel, self.conv_bias, keep=self.spec.bandwidth)
        h = F.gelu(pointwise_linear(h, self.mixer.weight, self.mixer.bias))
        h = F.gelu(pointwise_linear(self.dropout(h), self.linear.weight, self.linear.bias))
        return add_branch(x, spectral_upsample(h, sizes))


def add_branch(x: torch.Tensor, branch: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
    """x + scale * branch on the first branch.shape[1] channels; the other identity channels pass
    through. ``scale`` (a scalar tensor, e.g. a depth mask) is fused into the sum."""
    n = branch.shape[1]
    head = x if n == x.shape[1] else x[:, :n]
    head = head + branch if scale is None else torch.addcmul(head, branch, scale)
    return head if n == x.shape[1] else torch.cat([head, x[:, n:]], dim=1)


def block_macs(spec: BlockSpec, sizes: Sequence[int]) -> int:
    """Analytic MACs of one block on one example (kernel generation is counted by the network):
    input FFT, spectral product, inverse (FFT, or DFT matrices on the kept band), the two pointwise
    linear layers at the output resolution, and the interpolation matrices back to full size."""
    n_in, n_mid, n_out = spec.width
    padded = fft_lengths(sizes)
    low = tuple(spec.resolution)
    conv = n_in * fft_macs(math.prod(padded))
    if spec.bandwidth is None or low == tuple(sizes):
        conv += n_in * (2 * math.prod(padded) + fft_macs(math.prod(padded)))
    else:
        bins = [len(signed_frequencies(p, a == len(sizes) - 1, k if k < p // 2 else None))
                for a, (p, k) in enumerate(zip(padded, spec.bandwidth))]
        conv += n_in * (4 * math.prod(bins) + 4 * separable_matmul_macs(bins, low))
    upsample = separable_matmul_macs(low, sizes) if low != tuple(sizes) else 0
    return conv + math.prod(low) * (n_in * n_mid + n_mid * n_out) + n_out * upsample


def separable_matmul_macs(inputs: Sequence[int], outputs: Sequence[int]) -> int:
    """MACs of mapping a grid of ``inputs`` points to ``outputs`` points one axis after another."""
    total, shape = 0, list(inputs)
    for axis, n in enumerate(outputs):
        total += math.prod(shape) * n
        shape[axis] = n
    return total


class CCNN(nn.Module):
    """Encoder, residual blocks with kernels from one shared ``FourierKernelNet``, decoder.

    ``blocks`` is a number of identical blocks (width ``width``, global kernels, full resolution)
    or a list of ``BlockSpec``. The kernel network has one output per depthwise channel of every
    block: block l reads the rows ``row_offsets[l] + c`` for its channels c < N_in."""

    def __init__(self, shape: TaskShape, width: int, blocks: int | Sequence[BlockSpec], dropout: float = 0.0,
                 kernel_hidden: int = 128, kernel_layers: int = 4, kernel_frequencies: int = 128,
                 omega_0: float = 1.0, batch_stats_only: bool = False, embedding_dim: int | None = None,
                 zero_init_branches: bool = False, pooling: str = "mean"):
        super().__init__()
        self.shape, self.width = shape, width
        self.full_kernel = tuple(max_kernel_size(s) for s in shape.input_size)
        if isinstance(blocks, int):
            blocks = [BlockSpec((width,) * 3, self.full_kernel, tuple(shape.input_size))] * blocks
        self.specs = list(blocks)
        self.row_offsets = [sum(s.width[0] for s in self.specs[:i]) for i in range(len(self.specs))]
        self.encoder = Encoder(shape, width, batch_stats_only, embedding_dim)
        rows = sum(s.width[0] for s in self.specs)
        self.kernel_net = FourierKernelNet(shape.dims, rows, kernel_hidden, kernel_layers, kernel_frequencies,
                                           omega_0, init_taps=math.prod(self.full_kernel))
        self.blocks = nn.ModuleList(CCNNBlock(s, shape.dims, dropout, batch_stats_only, zero_init_branches)
                                    for s in self.specs)
        self.decoder = Decoder(width, shape.num_outputs, shape.dense, pooling)

    def kernels(self) -> list[torch.Tensor]:
        """The depthwise kernel (N_in, *taps) of every block, from one pass of the kernel network."""
        device = self.kernel_net.output.weight.device
        if all(s.kernel == self.full_kernel for s in self.specs):  # one read-out for all blocks
            features = self.kernel_net.features(kernel_grid(self.full_kernel, self.full_kernel, device))
            values = self.kernel_net.readout(features).movedim(-1, 0)
            return list(values.split([s.width[0] for s in self.specs]))
        union = [max(s.kernel[a] for s in self.specs) for a in range(self.shape.dims)]
        features = self.kernel_net.features(kernel_grid(union, self.full_kernel, device))
        out = []
        for offset, spec in zip(self.row_offsets, self.specs):
            rows = slice(offset, offset + spec.width[0])
            out.append(self.kernel_net.readout(centre_crop(features, spec.kernel), rows).movedim(-1, 0))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        for block, kernel in zip(self.blocks, self.kernels()):
            h = block(h, kernel)
        return self.decoder(h)

    def macs(self, inputs: torch.Tensor, output: torch.Tensor | None = None) -> int:
        """Analytic multiply-accumulates of one forward pass on one example (``count_macs`` hook)."""
        return network_macs(self.encoder, self.kernel_net, self.decoder, self.specs, self.shape.input_size)


def network_macs(encoder: Encoder, kernel_net: FourierKernelNet, decoder: Decoder, specs: Sequence[BlockSpec],
                 sizes: Sequence[int]) -> int:
    """Encoder + kernel generation (kernel network on every tap, kernel FFTs) + blocks + decoder."""
    points, padded = math.prod(sizes), math.prod(fft_lengths(sizes))
    union = [max(s.kernel[a] for s in specs) for a in range(len(sizes))] if specs else [0] * len(sizes)
    kernel = kernel_net.macs(math.prod(union), 0)
    kernel += sum(kernel_net.output.in_features * s.width[0] * math.prod(s.kernel) for s in specs)
    kernel += sum(s.width[0] * fft_macs(padded) for s in specs)
    body = sum(block_macs(s, sizes) for s in specs)
    return encoder.macs(points) + kernel + body + decoder.macs(points)


def unsupported_reason(shape: TaskShape) -> str | None:
    """Why a CCNN cannot be built for a task of this shape (None when it can)."""
    if shape.dims not in (1, 2):
        return f"the CCNN here is built for 1D and 2D inputs, not {shape.dims}D"
    return None


def ccnn_preset(name: str) -> tuple[int, int]:
    """(blocks, width) of ``ccnn_4_140`` (CCNN_{4,140}, ~200K parameters) or ``ccnn_6_380``."""
    return PRESETS[name]
