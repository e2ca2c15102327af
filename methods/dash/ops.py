"""The aggregated convolution of DASH (Shen et al., 2022, section 3.2) in its three forms.

One searched layer holds a kernel w_{k,d} per candidate (k, d) in K x D and architecture logits a.
With mixture weights p (Gumbel-softmax of a) it computes sum_{k,d} p_{k,d} Conv_{k,d}(x; w_{k,d}):

- ``mixed-results`` (the DARTS way, Eq. 2): one convolution per candidate, outputs summed.
- ``mixed-weights`` (Eq. 3): the kernels are dilated by Kronecker products (Eq. 5), centred in the
  largest receptive field S = d_max (k_max - 1) + 1, summed, and applied as one S-sized convolution.
- ``fourier`` (DASH, Eq. 4): the same mixed kernel applied through the FFT,
  y = F^-1(sum_i F(W)_{o,i} F(x)_i), with the input transformed once per layer.

Every convolution is a cross-correlation with 'same' output size (odd kernels, centred), or with
``causal=True`` (1D only) each output sees only the inputs at and before it. A stride s keeps every
s-th output sample, which equals ``F.conv(stride=s)`` with the same padding.

How the Fourier form is made fast on a CPU (each step is exact; the tests compare in float64):
- FFT length: the smallest even 2-3-5-smooth n >= L + max(anchor, S - 1 - anchor) per axis (L + P
  for a centred kernel, not L + 2P): the circular wrap-around then reads zeros only;
- the mixed kernel is laid out for circular convolution (flip and roll, as the reference's
  ``MultiConvPerm``), so the input needs no padding and the output no shift: crop [0, L);
- mixing before transforming: the candidates of one dilation are summed at size k_max, and the
  spectrum of the mixed kernel is a DFT over its |D| k_max^dims nonzero taps (matrix products
  written frequency-major), not an FFT of the zero-filled S^dims kernel padded to n^dims. The taps
  sit where Kronecker dilation puts them; this replaces a buffer of C_out C_in n^dims values, its
  transposition and its FFT with products whose cost does not grow with d_max. In 2D the taps of
  the first axis are paired with their mirror images, which makes that product a real one;
- real FFTs of the input and output, written into and read from the frequency-major layout of
  the channel product, the inverse cropped axis by axis;
- the product over input channels as one real batched matmul over frequencies (a complex batched
  matmul runs matrix by matrix on the CPU; einsum takes a strided path), with a hand-written
  backward (``_SpectralConv``): autograd through the same steps moves several spectrum-sized
  intermediates;
- depthwise layers (one kernel per channel) multiply spectra elementwise, with a hand-written
  adjoint for the zero-padded real FFT (PyTorch's backward of rfftn runs a full complex FFT).
"""
from __future__ import annotations

import functools
import itertools
import math
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

Form = Literal["fourier", "mixed-results", "mixed-weights"]
FORMS: tuple[str, ...] = ("fourier", "mixed-results", "mixed-weights")
WEIGHT_INIT_STD = 0.01  # candidate kernels ~ N(0, 0.01^2) (reference: dash.py conv2mixture)
ALPHA_INIT_STD = 1e-3  # architecture logits ~ 1e-3 N(0, 1) (reference: dash.py MultiConvPerm)
# A real FFT of N points costs about 2.5 N log2 N flops, i.e. ~1.25 N log2 N multiply-accumulates.
FFT_MACS_PER_POINT_LOG2 = 1.25


# -- search space -------------------------------------------------------------------------------
def candidate_pairs(kernel_sizes: Sequence[int], dilations: Sequence[int]) -> list[tuple[int, int]]:
    """The operations of one layer, k-major (itertools.product(K, D)), as the reference indexes them."""
    return list(itertools.product(kernel_sizes, dilations))


def pair_index(k: int, d: int, kernel_sizes: Sequence[int], dilations: Sequence[int]) -> int:
    return list(kernel_sizes).index(k) * len(dilations) + list(dilations).index(d)


def pair_of_index(index: int, kernel_sizes: Sequence[int], dilations: Sequence[int]) -> tuple[int, int]:
    """The discretisation map: flat index j -> (K[j div |D|], D[j mod |D|])."""
    return kernel_sizes[index // len(dilations)], dilations[index % len(dilations)]


def receptive_field(k: int, d: int) -> int:
    return d * (k - 1) + 1


# -- relaxation and kernel construction -------------------------------------------------------------
def gumbel_softmax(logits: torch.Tensor, tau: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Soft Gumbel-softmax of log_softmax(logits), as the reference (relax/nas.py); noise from ``generator``."""
    uniform = torch.rand(logits.shape, generator=generator, dtype=logits.dtype).to(logits.device)
    tiny = torch.finfo(logits.dtype).tiny
    gumbel = -torch.log(-torch.log(uniform.clamp(tiny, 1.0 - 1e-7)))
    return torch.softmax((torch.log_softmax(logits, dim=-1) + gumbel) / tau, dim=-1)


def kronecker_dilate(weight: torch.Tensor, dilation: int, dims: int) -> torch.Tensor:
    """Eq. 5: w (x) P_d over the last ``dims`` axes, P_d zero but for P_d[0, ..., 0] = 1, with the
    trailing d - 1 rows/columns dropped: d - 1 zeros between taps, size d (k - 1) + 1."""
    if dilation == 1:
        return weight
    pattern = weight.new_zeros((1,) * (weight.dim() - dims) + (dilation,) * dims)
    pattern[(0,) * pattern.dim()] = 1.0
    crop = (Ellipsis,) + (slice(0, 1 - dilation),) * dims
    return torch.kron(weight, pattern)[crop]


def pad_to(weight: torch.Tensor, size: int, dims: int, causal: bool = False) -> torch.Tensor:
    """Zero-pad the last ``dims`` axes to ``size``: centred (odd sizes, exact), or on the left so
    the taps end at the anchor of a causal convolution."""
    extra = size - weight.shape[-1]
    if extra == 0:
        return weight
    side = (extra, 0) if causal else (extra // 2, extra - extra // 2)
    return F.pad(weight, side * dims)


def mixed_kernel(weights: Sequence[torch.Tensor], probs: torch.Tensor, kernel_sizes: Sequence[int],
                 dilations: Sequence[int], causal: bool = False) -> torch.Tensor:
    """W = sum p_{k,d} Pad_S(dilate_d(w_{k,d})) of size S = d_max (k_max - 1) + 1 (Eq. 3), each
    dilation group summed at size k_max first (exact by linearity), then Kronecker-dilated once."""
    groups = dilation_groups(weights, probs, kernel_sizes, dilations, causal)  # (C_out, C_in, |D|, k_max..)
    dims, size = weights[0].dim() - 2, receptive_field(max(kernel_sizes), max(dilations))
    total = groups.new_zeros(groups.shape[:2] + (size,) * dims)
    for group, dilation in zip(groups.unbind(2), dilations):
        term = kronecker_dilate(group, dilation, dims)
        span = term.shape[-1]
        start = size - span if causal else (size - span) // 2
        window = (Ellipsis,) + (slice(start, start + span),) * dims
        total[window] = total[window] + term
    return total


def dilation_groups(weights: Sequence[torch.Tensor], probs: torch.Tensor, kernel_sizes: Sequence[int],
                    dilations: Sequence[int], causal: bool = False) -> torch.Tensor:
    """(C_out, C_in, |D|, k_max^dims): per dilation d, sum_k p_{k,d} w_{k,d} padded to k_max."""
    dims, k_max = weights[0].dim() - 2, max(kernel_sizes)
    padded = torch.stack([pad_to(w, k_max, dims, causal) for w in weights])  # (|K||D|, C_out, C_in, k_max..)
    padded = padded.view(len(kernel_sizes), len(dilations), *padded.shape[1:])
    return torch.einsum("kd,kdoi...->oid...", probs.view(len(kernel_sizes), len(dilations)), padded)


# -- the three forms ------------------------------------------------------------------------------------
def fft_size(n: int) -> int:
    """Smallest even m >= n with no prime factor above 5 (fast for pocketfft and cuFFT)."""
    m = max(n + n % 2, 2)
    while True:
        rest = m
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        if rest == 1:
            return m
        m += 2


def _anchor(size: int, causal: bool) -> int:
    """Index of the kernel tap aligned with the output sample: the centre, or the last tap."""
    return size - 1 if causal else (size - 1) // 2


def fourier_fft_sizes(lengths: Sequence[int], size: int, causal: bool = False) -> list[int]:
    """FFT lengths at which circular convolution equals the linear one on the L outputs kept: the
    wrap-around must read zeros only, which needs n >= L + max(anchor, S - 1 - anchor) (L + P centred)."""
    anchor = _anchor(size, causal)
    return [fft_size(n + max(anchor, size - 1 - anchor)) for n in lengths]


class _PaddedRFFT(torch.autograd.Function):
    """rfftn of x zero-padded to ``n``, with the adjoint as backward: one inverse real FFT (c2r) of
    the gradient, bins with a conjugate partner halved, then cropped. PyTorch's own backward pads the
    half spectrum to a full complex one and runs a complex FFT, several times slower on a CPU."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, n: tuple[int, ...], axes: tuple[int, ...]) -> torch.Tensor:
        ctx.n, ctx.axes, ctx.lengths = n, axes, [x.shape[a] for a in axes]
        return torch.fft.rfftn(x, s=n, dim=axes)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.clone()
        grad[..., 1:(ctx.n[-1] + 1) // 2] *= 0.5  # these bins stand for two frequencies in irfftn
        x_grad = torch.fft.irfftn(grad, s=ctx.n, dim=ctx.axes, norm="forward")  # unnormalised adjoint
        return x_grad[(Ellipsis,) + tuple(slice(0, length) for length in ctx.lengths)], None, None


def padded_rfftn(x: torch.Tensor, n: Sequence[int], axes: tuple[int, ...]) -> torch.Tensor:
    return _PaddedRFFT.apply(x, tuple(n), axes)


@functools.lru_cache(maxsize=256)
def _tap_dft(k_max: int, dilations: tuple[int, ...], size: int, n: int, causal: bool) -> torch.Tensor:
    """(|D|, n // 2 + 1, k_max) complex128: exp(-2 pi i f p / n) at the rfft frequencies for the taps
    of each dilation group along one axis. The tap j of group d sits at kernel offset
    q = start_d + d j (zero insertion: Kronecker dilation); p = anchor - q is where the flip-and-roll
    that makes the circular convolution need no output shift puts it."""
    anchor = _anchor(size, causal)
    freqs = torch.arange(n // 2 + 1, dtype=torch.float64)
    rows = []
    for d in dilations:
        span = receptive_field(k_max, d)
        start = size - span if causal else (size - span) // 2
        taps = anchor - start - d * torch.arange(k_max, dtype=torch.float64)
        rows.append(-2 * math.pi * torch.outer(freqs, taps) / n)
    angle = torch.stack(rows)
    return torch.complex(angle.cos(), angle.sin())


@functools.lru_cache(maxsize=256)
def _paired_tap_dft(k_max: int, dilations: tuple[int, ...], n: int) -> torch.Tensor:
    """(n, |D| k_max) float64: the real DFT matrix of the mirror-paired taps along a centred axis, at
    all n frequencies. With k_max = 2h + 1 the taps of group d sit at p = d m, m = -h..h, so the
    pair at +-d m contributes cos(2 pi f d m / n) (w_{h-m} + w_{h+m}) - i sin(2 pi f d m / n)
    (w_{h-m} - w_{h+m}). Per group the columns are [1, cos(.. m = 1..h), sin(.. m = 1..h)]; the
    factor -i goes into the other operand."""
    half = (k_max - 1) // 2
    freqs, steps = torch.arange(n, dtype=torch.float64), torch.arange(1, half + 1, dtype=torch.float64)
    columns = []
    for d in dilations:
        angle = 2 * math.pi * torch.outer(freqs, d * steps) / n
        columns += [torch.ones(n, 1, dtype=torch.float64), angle.cos(), angle.sin()]
    return torch.cat(columns, dim=1)


def kernel_spectrum(groups: torch.Tensor, dilations: Sequence[int], size: int, fft_sizes: Sequence[int],
                    causal: bool = False) -> torch.Tensor:
    """The real FFT of the mixed kernel (laid out for circular convolution) at the rfftn frequencies,
    computed from its dilation groups (C_out, C_in, |D|, k_max^dims) as a DFT over the |D| k_max^dims
    nonzero taps only. Returned frequency-major as (F, C_in, 2 C_out), the columns (C_out, re/im)
    interleaved: the real view of a complex (F, C_in, C_out) tensor, the layout of ``_SpectralConv``.

    1D: one complex product over the taps. 2D: the last axis by an einsum over its taps; along the
    first axis the rows of each group are mirror-paired (centre, sums, differences; see
    ``_paired_tap_dft``), so that axis is one real product: half the arithmetic of a complex one,
    and no pass to put real and imaginary parts together."""
    dims, (c_out, c_in, n_groups, k_max) = len(fft_sizes), groups.shape[:4]
    # (|D|, F_last, k_max)
    last = _tap_dft(k_max, tuple(dilations), size, fft_sizes[-1], causal).to(groups.dtype.to_complex())
    if dims == 1:
        taps = groups.permute(2, 3, 1, 0).reshape(n_groups * k_max, -1).to(last.dtype)  # (|D| k_max, C_in C_out)
        spectrum = torch.view_as_real(last.permute(1, 0, 2).reshape(fft_sizes[-1] // 2 + 1, -1) @ taps)
    else:
        if causal or k_max % 2 == 0:
            raise ValueError(f"the 2D aggregated convolution needs centred odd kernels, got k_max = {k_max}")
        half = (k_max - 1) // 2
        centre, below = groups[:, :, :, half:half + 1], groups[:, :, :, :half].flip(3)
        above = groups[:, :, :, half + 1:]
        paired = torch.cat([centre, below + above, below - above], dim=3).to(last.dtype)
        phase = last.new_ones(k_max)
        phase[half + 1:] = -1j  # the differences' factor -i
        t = torch.einsum("oidab,dfb,a->dafio", paired, last, phase)  # (|D|, k_max, F_last, C_in, C_out)
        first = _paired_tap_dft(k_max, tuple(dilations), fft_sizes[0]).to(groups)  # (n_first, |D| k_max)
        spectrum = first @ torch.view_as_real(t).reshape(n_groups * k_max, -1)
    return spectrum.reshape(-1, c_in, 2 * c_out)


def fourier_conv(x: torch.Tensor, k_block: torch.Tensor, fft_sizes: Sequence[int], stride: int = 1,
                 depthwise: bool = False) -> torch.Tensor:
    """Eq. 4: y = F^-1(sum_i F(w)_{o,i} F(x)_i), cropped to the input size and subsampled by the
    stride; ``k_block`` is the kernel spectrum of ``kernel_spectrum``."""
    if not depthwise:
        return _SpectralConv.apply(x, k_block, tuple(fft_sizes), stride)
    dims, lengths = len(fft_sizes), x.shape[2:]
    axes = tuple(range(-dims, 0))
    x_hat = padded_rfftn(x, fft_sizes, axes)  # one kernel per channel: an elementwise product
    k_hat = torch.view_as_complex(k_block.view(k_block.shape[0], -1, 2).transpose(0, 1).contiguous())  # (C, F)
    y = torch.fft.irfftn(x_hat * k_hat.view(-1, *x_hat.shape[2:]), s=fft_sizes, dim=axes)
    return y[(Ellipsis,) + tuple(slice(0, length, stride) for length in lengths)]


def _frequency_major_rfftn(x: torch.Tensor, fft_sizes: tuple[int, ...]) -> torch.Tensor:
    """rfftn of x (B, C, L..) zero-padded to ``fft_sizes``, written frequency-major: (F.., C, B)
    complex. (An FFT writing into a strided output costs less than a transpose after it.)"""
    batch, channels = x.shape[:2]
    freqs = tuple(fft_sizes[:-1]) + (fft_sizes[-1] // 2 + 1,)
    spectrum = x.new_empty(freqs + (channels, batch), dtype=x.dtype.to_complex())
    dims = len(fft_sizes)
    torch.fft.rfftn(x, s=fft_sizes, dim=tuple(range(-dims, 0)),
                    out=spectrum.permute(dims + 1, dims, *range(dims)))
    return spectrum


def _cropped_irfftn(spectrum: torch.Tensor, fft_sizes: tuple[int, ...], lengths: Sequence[int], stride: int,
                    norm: str) -> torch.Tensor:
    """irfftn over the last axes, keeping [0, L) with the stride per axis: one axis at a time,
    cropping after each inverse, so the last (real) inverse runs on the kept rows only."""
    dims = len(fft_sizes)
    for axis, length in zip(range(-dims, -1), lengths):
        spectrum = torch.fft.ifft(spectrum, dim=axis, norm=norm).narrow(axis, 0, length)
        if stride > 1:
            spectrum = spectrum[(Ellipsis, slice(None, None, stride)) + (slice(None),) * (-axis - 1)]
    y = torch.fft.irfft(spectrum, n=fft_sizes[-1], dim=-1, norm=norm)
    return y[..., 0:lengths[-1]:stride]


@functools.lru_cache(maxsize=64)
def _twice_counted_bins(fft_sizes: tuple[int, ...]) -> torch.Tensor:
    """(F,) float64 over the rfftn bins, frequency-major: 2 where irfftn counts a bin for itself and
    its conjugate partner (last axis 1 .. (n - 1) // 2), else 1."""
    last = torch.ones(fft_sizes[-1] // 2 + 1, dtype=torch.float64)
    last[1:(fft_sizes[-1] + 1) // 2] = 2.0
    return last.repeat(math.prod(fft_sizes[:-1]))


class _SpectralConv(torch.autograd.Function):
    """y = crop(irfftn(sum_i rfftn(x)_i K_i)): the channel product over input channels as one real
    batched matmul over frequencies, [Re x_b, Im x_b]^T [Re K, Im K] per frequency (the four real
    products, combined afterwards; a complex batched matmul runs matrix by matrix on the CPU), and
    a hand-written backward.

    Every spectrum is kept frequency-major, the layout of the batched matmul: the FFTs write into
    and read from that layout directly. The backward is the adjoint written out: the gradient's
    rfftn (adjoint of irfftn and the crop, twice-counted bins doubled), the two products of the
    channel product, and an inverse real FFT of the input gradient (adjoint of the zero-padded
    rfftn, those bins halved). Autograd through the same steps would store and move several
    spectrum-sized intermediates (re/im views, stacks, transposes)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, k_block: torch.Tensor, fft_sizes: tuple[int, ...], stride: int) -> torch.Tensor:
        batch, c_in, *lengths = x.shape
        x_hat = _frequency_major_rfftn(x, fft_sizes)  # (F.., C_in, B)
        freqs = x_hat.shape[:-2]
        x_cols = torch.view_as_real(x_hat).view(-1, c_in, 2 * batch)  # (F, C_in, (b, re/im))
        # (F, b, x re/im, C_out, k re/im)
        z = torch.bmm(x_cols.transpose(1, 2), k_block).view(x_cols.shape[0], batch, 2, -1, 2)
        y_hat = torch.complex(z[:, :, 0, :, 0] - z[:, :, 1, :, 1], z[:, :, 0, :, 1] + z[:, :, 1, :, 0])  # (F, B, C_out)
        ctx.save_for_backward(x_cols, k_block)
        ctx.fft_sizes, ctx.stride, ctx.lengths, ctx.freqs = fft_sizes, stride, lengths, freqs
        return _cropped_irfftn(y_hat.permute(1, 2, 0).unflatten(2, freqs), fft_sizes, lengths, stride, "backward")

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x_cols, k_block = ctx.saved_tensors
        n_freqs, c_in, two_batch = x_cols.shape
        batch, c_out, dims = two_batch // 2, k_block.shape[2] // 2, len(ctx.fft_sizes)
        if ctx.stride > 1:  # adjoint of keeping every stride-th output: zeros in between
            full = grad.new_zeros(grad.shape[:2] + tuple(ctx.lengths))
            full[(Ellipsis,) + (slice(None, None, ctx.stride),) * dims] = grad
            grad = full
        g = torch.view_as_real(_frequency_major_rfftn(grad, ctx.fft_sizes))
        g = g.view(n_freqs, c_out, batch, 2).transpose(1, 2)
        counts = _twice_counted_bins(ctx.fft_sizes).to(x_cols)
        scale = (counts / math.prod(ctx.fft_sizes)).view(-1, 1, 1)  # irfftn's 1 / N, twice-counted bins doubled
        grad_z = x_cols.new_empty(n_freqs, batch, 2, c_out, 2)  # y_re = rr - ii, y_im = ri + ir
        torch.mul(g, scale.unsqueeze(-1), out=grad_z[:, :, 0])  # rows of Re x: (Re g, Im g)
        torch.mul(g[..., 1], scale, out=grad_z[:, :, 1, :, 0])  # rows of Im x: (Im g, -Re g)
        torch.mul(g[..., 0], -scale, out=grad_z[:, :, 1, :, 1])
        grad_z = grad_z.view(n_freqs, two_batch, 2 * c_out)
        grad_k = torch.bmm(x_cols, grad_z) if ctx.needs_input_grad[1] else None
        grad_x = None
        if ctx.needs_input_grad[0]:  # (F, C_in, (b, re/im)), halved where doubled
            grad_cols = torch.bmm(k_block, grad_z.transpose(1, 2)).mul_(counts.reciprocal().view(-1, 1, 1))
            grad_x_hat = torch.view_as_complex(grad_cols.view(n_freqs, c_in, batch, 2)).permute(2, 1, 0)
            grad_x = _cropped_irfftn(grad_x_hat.unflatten(2, ctx.freqs), ctx.fft_sizes, ctx.lengths, 1, "forward")
            grad_x = grad_x.contiguous()
        return grad_x, grad_k, None, None


def aggregated_fourier(x: torch.Tensor, weights: Sequence[torch.Tensor], probs: torch.Tensor,
                       kernel_sizes: Sequence[int], dilations: Sequence[int], stride: int = 1, groups: int = 1,
                       causal: bool = False) -> torch.Tensor:
    """The DASH form: mix per dilation, place the taps in the FFT buffer, multiply spectra."""
    size = receptive_field(max(kernel_sizes), max(dilations))
    fft_sizes = fourier_fft_sizes(x.shape[2:], size, causal)
    mixed = dilation_groups(weights, probs, kernel_sizes, dilations, causal)
    spectrum = kernel_spectrum(mixed, dilations, size, fft_sizes, causal)
    return fourier_conv(x, spectrum, fft_sizes, stride, depthwise=groups > 1)


def spatial_conv(x: torch.Tensor, kernel: torch.Tensor, stride: int = 1, groups: int = 1, dilation: int = 1,
                 causal: bool = False) -> torch.Tensor:
    """The direct convolution with the same output convention as ``fourier_conv``."""
    dims = kernel.dim() - 2
    reach = dilation * (kernel.shape[-1] - 1)
    pad = (reach, 0) if causal else (reach // 2, reach - reach // 2)
    conv = F.conv1d if dims == 1 else F.conv2d
    return conv(F.pad(x, pad * dims), kernel, stride=stride, dilation=dilation, groups=groups)


def mixed_results(x: torch.Tensor, weights: Sequence[torch.Tensor], probs: torch.Tensor,
                  pairs: Sequence[tuple[int, int]], stride: int = 1, groups: int = 1,
                  causal: bool = False) -> torch.Tensor:
    """Eq. 2: one convolution per candidate, outputs weighted and summed."""
    return sum(probs[j] * spatial_conv(x, w, stride, groups, d, causal)
               for j, (w, (_, d)) in enumerate(zip(weights, pairs)))


# -- modules ----------------------------------------------------------------------------------------
def fourier_macs(batch: int, in_channels: int, out_channels: int, groups: int, fft_sizes: Sequence[int],
                 k_max: int, n_dilations: int) -> int:
    """Multiply-accumulates of one ``aggregated_fourier`` call: real FFTs of the input and the output
    (per sample), the kernel spectrum (per call: the DFT over the taps of each dilation group) and
    the channel product (4 real MACs per complex one)."""
    points, fan_in, dims = math.prod(fft_sizes), in_channels // groups, len(fft_sizes)
    freqs = points // fft_sizes[-1] * (fft_sizes[-1] // 2 + 1)
    transforms = batch * (in_channels + out_channels) * FFT_MACS_PER_POINT_LOG2 * points * math.log2(points)
    taps = n_dilations * k_max
    last = 2 * (fft_sizes[-1] // 2 + 1) * taps * (k_max ** (dims - 1))  # per channel pair
    first = 0 if dims == 1 else 2 * freqs * 2 * taps  # (F_first x 2|D|k) @ (2|D|k x F_last 2)
    kernel = out_channels * fan_in * (last + first)
    return int(transforms + kernel + 4 * batch * freqs * out_channels * fan_in)


class AggregatedConv(nn.Module):
    """One searched layer of DASH: candidate kernels w_{k,d}, logits ``alpha``, and one of the forms.

    In training the mixture weights are a Gumbel-softmax sample (tau = 1, noise from
    ``self.generator``, which the search sets to the run's generator); in eval mode they are
    softmax(alpha) without noise, so validation scores of the supernet are deterministic."""

    def __init__(self, dims: int, in_channels: int, out_channels: int, kernel_sizes: Sequence[int],
                 dilations: Sequence[int], stride: int = 1, form: Form = "fourier", depthwise: bool = False,
                 causal: bool = False, bias: bool = True, temperature: float = 1.0):
        super().__init__()
        if depthwise and in_channels != out_channels:
            raise ValueError(f"a depthwise aggregated conv needs in == out channels, got {in_channels}, {out_channels}")
        if causal and dims != 1:
            raise ValueError("causal aggregated convolutions are 1D only")
        self.dims, self.in_channels, self.out_channels, self.stride = dims, in_channels, out_channels, stride
        self.kernel_sizes, self.dilations = tuple(kernel_sizes), tuple(dilations)
        self.pairs = candidate_pairs(self.kernel_sizes, self.dilations)
        self.size = receptive_field(max(self.kernel_sizes), max(self.dilations))
        self.form, self.causal, self.temperature = form, causal, temperature
        self.groups = out_channels if depthwise else 1
        fan_in = in_channels // self.groups
        self.weights = nn.ParameterList(
            nn.Parameter(WEIGHT_INIT_STD * torch.randn(out_channels, fan_in, *(k,) * dims)) for k, _ in self.pairs)
        self.alpha = nn.Parameter(ALPHA_INIT_STD * torch.randn(len(self.pairs)))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.generator: torch.Generator | None = None

    def mixture_weights(self) -> torch.Tensor:
        if self.training:
            return gumbel_softmax(self.alpha, self.temperature, self.generator)
        return torch.softmax(self.alpha, dim=-1)

    def forward(self, x: torch.Tensor, probs: torch.Tensor | None = None) -> torch.Tensor:
        probs = self.mixture_weights() if probs is None else probs
        weights = list(self.weights)
        if self.form == "fourier":
            out = aggregated_fourier(x, weights, probs, self.kernel_sizes, self.dilations, self.stride,
                                     self.groups, self.causal)
        elif self.form == "mixed-results":
            out = mixed_results(x, weights, probs, self.pairs, self.stride, self.groups, self.causal)
        else:
            kernel = mixed_kernel(weights, probs, self.kernel_sizes, self.dilations, self.causal)
            out = spatial_conv(x, kernel, self.stride, self.groups, causal=self.causal)
        if self.bias is not None:
            out = out + self.bias.view(-1, *(1,) * self.dims)
        return out

    def macs(self, inputs: torch.Tensor, output: torch.Tensor) -> int:
        batch, fan_in = inputs.shape[0], self.in_channels // self.groups
        positions = math.prod(output.shape[2:])
        if self.form == "fourier":
            sizes = fourier_fft_sizes(inputs.shape[2:], self.size, self.causal)
            return fourier_macs(batch, self.in_channels, self.out_channels, self.groups, sizes,
                                max(self.kernel_sizes), len(self.dilations))
        taps = sum(k ** self.dims for k, _ in self.pairs) if self.form == "mixed-results" else self.size ** self.dims
        return batch * positions * self.out_channels * fan_in * taps

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, K={self.kernel_sizes}, D={self.dilations}, "
                f"form={self.form}, stride={self.stride}, groups={self.groups}, causal={self.causal}")
