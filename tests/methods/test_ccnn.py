"""The CCNN backbone against reference computations: the FFT convolution against direct
convolution, spectral downsampling against a full-resolution convolution followed by a low-pass
crop, band-limited upsampling against FFT zero-padding; shapes and MACs of the network; the
``ccnn`` method's configuration."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nasbench.arch import count_macs
from nasbench.contracts import TaskShape, TaskView
from nasbench.errors import ConfigError
from nasbench.methods.backbones.ccnn import (
    CCNN as CCNNBackbone,
    BlockSpec,
    fft_lengths,
    fourier_conv,
    output_length,
    pointwise_linear,
    spectral_upsample,
)
from nasbench.methods.ccnn import CCNN, CCNNConfig

DOUBLE = torch.float64


@pytest.mark.parametrize("size, taps", [((17,), (9,)), ((16,), (17,)), ((20,), (1,)),
                                        ((11, 14), (7, 15)), ((9, 9), (9, 9)), ((12, 7), (13, 7))])
def test_fourier_conv_equals_direct_same_convolution(size, taps):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, *size, generator=g, dtype=DOUBLE)
    kernel = torch.randn(3, *taps, generator=g, dtype=DOUBLE)
    bias = torch.randn(3, generator=g, dtype=DOUBLE)
    conv = F.conv1d if len(size) == 1 else F.conv2d
    direct = conv(x, kernel.unsqueeze(1), bias, padding="same", groups=3)  # cross-correlation
    torch.testing.assert_close(fourier_conv(x, kernel, bias), direct, rtol=0, atol=1e-12)


def low_pass_reference(x, kernel, keep, weight_fn=None):
    """Full-resolution FFT convolution on the padded (periodic) domain, then its spectrum cropped to
    |k| <= keep (optionally weighted), evaluated at m * L / L_out by zero-padding the spectrum to
    Q = P * L_out points per axis (so every output position is a grid point), numpy float64."""
    sizes, dims = x.shape[2:], x.ndim - 2
    padded = fft_lengths(sizes)
    xp = np.zeros((*x.shape[:2], *padded))
    xp[(Ellipsis, *[slice(0, n) for n in sizes])] = x.numpy()
    kp = np.zeros((kernel.shape[0], *padded))
    for index in np.ndindex(*kernel.shape[1:]):  # tap j sits at offset j - t//2, wrapped
        where = tuple((j - t // 2) % p for j, t, p in zip(index, kernel.shape[1:], padded))
        kp[(slice(None), *where)] = kernel.numpy()[(slice(None), *index)]
    axes = tuple(range(-dims, 0))
    full = np.fft.ifftn(np.fft.fftn(xp, axes=axes) * np.conj(np.fft.fftn(kp, axes=axes)), axes=axes).real
    spectrum = np.fft.fftn(full, axes=axes)
    out_sizes = [output_length(n, p, k) for n, p, k in zip(sizes, padded, keep)]
    fine = [p * o for p, o in zip(padded, out_sizes)]
    big = np.zeros((*x.shape[:2], *fine), dtype=complex)
    for index in np.ndindex(*padded):
        freqs = [i if i <= p // 2 else i - p for i, p in zip(index, padded)]
        if any(abs(f) > k for f, k in zip(freqs, keep)):
            continue
        w = weight_fn(freqs) if weight_fn else 1.0
        big[(Ellipsis, *[f % q for f, q in zip(freqs, fine)])] = spectrum[(Ellipsis, *index)] * w
    upsampled = np.fft.ifftn(big, axes=axes).real * math.prod(q / p for q, p in zip(fine, padded))
    steps = [n * q // (p * o) for n, q, p, o in zip(sizes, fine, padded, out_sizes)]  # = L, the grid step
    return torch.tensor(upsampled[(Ellipsis, *[slice(0, o * s, s) for o, s in zip(out_sizes, steps)])])


@pytest.mark.parametrize("size, taps, keep", [((20,), (21,), (7,)), ((17,), (9,), (3,)),
                                              ((11, 14), (11, 15), (4, 8)), ((9, 10), (9, 5), (7, 2))])
def test_spectral_downsampling_equals_full_convolution_then_low_pass_crop(size, taps, keep):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, *size, generator=g, dtype=DOUBLE)
    kernel = torch.randn(2, *taps, generator=g, dtype=DOUBLE)
    reference = low_pass_reference(x, kernel, keep)
    out = fourier_conv(x, kernel, keep=keep)
    assert out.shape[2:] == reference.shape[2:] and any(o < n for o, n in zip(out.shape[2:], size))
    torch.testing.assert_close(out, reference, rtol=0, atol=1e-10)


def test_spectral_weight_is_applied_per_frequency_before_the_crop():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 2, 10, 13, generator=g, dtype=DOUBLE)
    kernel, keep = torch.randn(2, 5, 7, generator=g, dtype=DOUBLE), (5, 6)
    def weight_fn(f):
        return 1.0 / (1.0 + abs(f[0]) + 0.5 * abs(f[1]))

    rows = list(range(6)) + list(range(-5, 0))  # the kept layout: fft order, |k| <= 5; rfft axis 0..6
    weight = torch.tensor([[weight_fn((fy, fx)) for fx in range(7)] for fy in rows], dtype=DOUBLE)
    out = fourier_conv(x, kernel, keep=keep, spectral_weight=weight)
    torch.testing.assert_close(out, low_pass_reference(x, kernel, keep, weight_fn), rtol=0, atol=1e-10)


def test_band_reaching_nyquist_is_the_plain_convolution():
    g = torch.Generator().manual_seed(3)
    x, kernel = torch.randn(2, 3, 12, 9, generator=g, dtype=DOUBLE), torch.randn(3, 13, 9, generator=g, dtype=DOUBLE)
    padded = fft_lengths((12, 9))
    nyquist = tuple(p // 2 for p in padded)
    torch.testing.assert_close(fourier_conv(x, kernel, keep=nyquist), fourier_conv(x, kernel), rtol=0, atol=0)


@pytest.mark.parametrize("small, size", [((7,), (20,)), ((8,), (21,)), ((5, 6), (11, 14)), ((10, 9), (17, 18))])
def test_upsampling_zero_pads_the_spectrum(small, size):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, *small, generator=g, dtype=DOUBLE)
    axes = tuple(range(-len(small), 0))
    spectrum = np.fft.fftn(x.numpy(), axes=axes)
    big = np.zeros((2, 3, *size), dtype=complex)
    for index in np.ndindex(*small):
        freqs = [i if i < (s + 1) // 2 else i - s for i, s in zip(index, small)]
        parts = [[f] if s % 2 or abs(f) != s // 2 else [f, -f] for f, s in zip(freqs, small)]  # split Nyquist
        for target in np.ndindex(*[len(p) for p in parts]):
            share = 1.0 / math.prod(len(p) for p in parts)
            big[(Ellipsis, *[p[t] % n for p, t, n in zip(parts, target, size)])] += spectrum[(Ellipsis, *index)] * share
    reference = np.fft.ifftn(big, axes=axes).real * math.prod(n / s for n, s in zip(size, small))
    torch.testing.assert_close(spectral_upsample(x, size), torch.tensor(reference), rtol=0, atol=1e-12)


def test_upsampling_of_a_band_limited_signal_passes_through_its_samples():
    x = torch.randn(1, 1, 12, 10, dtype=DOUBLE)
    up = spectral_upsample(x, (24, 30))
    torch.testing.assert_close(up[..., ::2, ::3], x, rtol=0, atol=1e-12)


def test_pointwise_linear_is_a_channel_matmul():
    x, w, b = torch.randn(2, 5, 4, 3), torch.randn(7, 5), torch.randn(7)
    for t in (x, x[..., 0], x.unsqueeze(-1)):
        torch.testing.assert_close(pointwise_linear(t, w, b), torch.einsum("oc,bc...->bo...", w, t)
                                   + b.view(1, -1, *([1] * (t.ndim - 2))), rtol=1e-5, atol=1e-5)


SHAPES = [TaskShape(2, 3, (9, 10), "dense_regression", 1), TaskShape(2, 3, (8, 8), "classes", 5),
          TaskShape(1, 2, (16,), "classes", 4), TaskShape(1, 1, (12,), "dense_binary", 1),
          TaskShape(1, 1, (15,), "classes", 3, vocab_size=11)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s.dims}d-{s.output}-{s.vocab_size}")
def test_ccnn_outputs_match_the_task_shape(shape):
    net = CCNNBackbone(shape, width=6, blocks=2, kernel_hidden=8, kernel_frequencies=4)
    if shape.vocab_size:
        x = torch.randint(0, shape.vocab_size, (3, *shape.input_size))
    else:
        x = torch.randn(3, shape.in_channels, *shape.input_size)
    out = net(x)
    expected = (3, shape.num_outputs, *shape.input_size) if shape.dense else (3, shape.num_outputs)
    assert out.shape == expected
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_blocks_at_lower_resolution_and_width_and_their_macs():
    shape = TaskShape(2, 3, (12, 12), "dense_regression", 2)
    padded = fft_lengths((12, 12))
    specs = [BlockSpec((6, 4, 5), (5, 13), (5, 7), (3, 5)), BlockSpec((8, 8, 8), (13, 13), (12, 12))]
    assert [output_length(12, p, k) for p, k in zip(padded, (3, 5))] == [5, 7]
    net = CCNNBackbone(shape, width=8, blocks=specs, kernel_hidden=8, kernel_frequencies=4)
    assert [k.shape for k in net.kernels()] == [(6, 5, 13), (8, 13, 13)]
    assert net(torch.randn(2, 3, 12, 12)).shape == (2, 2, 12, 12)
    assert count_macs(net, torch.randn(1, 3, 12, 12)) == net.macs(None) > 0
    smaller = CCNNBackbone(shape, width=8, blocks=[specs[1]] * 2, kernel_hidden=8, kernel_frequencies=4)
    assert net.macs(None) < smaller.macs(None)


def test_ccnn_method_configs_follow_the_paper_and_the_budgets():
    from nasbench.tasks.nb360.darcyflow import DarcyFlow

    view = TaskView(DarcyFlow(DarcyFlow.default_config("small")))
    paper = CCNN.default_config("paper", view)
    assert (paper.depth, paper.width, paper.omega_0) == (4, 140, 24500.0)
    train = paper.train
    assert (train.epochs, train.batch_size, train.lr, train.weight_decay) == (310, 8, 0.02, 1e-4)
    assert paper.train.optimizer == "adamw" and paper.train.schedule == "cosine" and paper.train.warmup_epochs == 10
    small = CCNN.default_config("small", view)
    assert small.width < paper.width and small.train.epochs < paper.train.epochs
    assert "paper" in CCNN.budget_notes("small")
    with pytest.raises(ConfigError):
        CCNNConfig(width=0).validate()
    assert CCNN.unsupported_reason(TaskShape(3, 1, (4, 4, 4), "classes", 2)) is not None


@pytest.mark.parametrize("dense, tokens", [(True, False), (False, True)])
def test_encoder_split_and_decoder_parts_equal_slicing_and_concatenation(dense, tokens):
    """DNArch passes the identity channels no block touches from the encoder straight to the
    decoder; the split encoder and the summed read-out must equal the whole-width ones."""
    from nasbench.methods.backbones.ccnn import Decoder, Encoder
    torch.manual_seed(0)
    shape = TaskShape(1, 2, (13,), "dense_regression" if dense else "classes", 3, vocab_size=7 if tokens else None)
    encoder, decoder = Encoder(shape, 10, batch_stats_only=True), Decoder(10, 3, dense)
    x = torch.randint(0, 7, (4, 13)) if tokens else torch.randn(4, 2, 13)
    whole = encoder(x)
    for n in (4, 10):
        head, rest = encoder.split(x, n)
        torch.testing.assert_close(head, whole[:, :n])
        assert (rest is None) == (n == 10)
        if rest is not None:
            torch.testing.assert_close(rest, whole[:, n:])
        torch.testing.assert_close(decoder.forward_parts([head, rest]), decoder(whole))


def test_encoder_split_refuses_running_statistics():
    from nasbench.methods.backbones.ccnn import Encoder
    with pytest.raises(ValueError, match="batch statistics"):
        Encoder(TaskShape(1, 2, (13,), "classes", 3), 10, batch_stats_only=False).split(torch.randn(2, 2, 13), 4)


def test_first_position_pooling_reads_position_0_and_only_listops_below_paper_uses_it():
    from nasbench.methods.backbones.ccnn import Decoder
    from nasbench.tasks.lra.listops import ListOps
    from nasbench.tasks.nb360.darcyflow import DarcyFlow

    decoder, x = Decoder(3, 2, dense=False, pooling="first"), torch.randn(4, 3, 9)
    torch.testing.assert_close(decoder(x), decoder.linear(x[..., 0]))
    torch.testing.assert_close(decoder.forward_parts([x[:, :1], None, x[:, 1:]]), decoder(x))
    listops = TaskView(ListOps(ListOps.default_config("small")))
    assert CCNN.default_config("small", listops).pooling == "first"
    assert CCNN.default_config("paper", listops).pooling == "mean"
    assert CCNN.default_config("small", TaskView(DarcyFlow(DarcyFlow.default_config("small")))).pooling == "mean"
    with pytest.raises(ConfigError):
        CCNNConfig(pooling="max").validate()


@pytest.mark.parametrize("size,small", [(16, 5), (16, 8), (33, 7), (100, 64), (64, 1), (128, 127)])
def test_interpolation_matrix_equals_the_sum_of_its_definition(size, small):
    """The closed-form Dirichlet kernel against 1 + 2 sum_k cos(2 pi k t) (+ the split Nyquist bin)."""
    from nasbench.methods.backbones.ccnn import interpolation_matrix

    t = torch.arange(size, dtype=torch.float64)[:, None] / size - torch.arange(small, dtype=torch.float64) / small
    k = torch.arange(1, (small + 1) // 2, dtype=torch.float64)
    u = 1.0 + 2.0 * torch.cos(2 * math.pi * k * t[..., None]).sum(-1)
    if small % 2 == 0:
        u = u + torch.cos(math.pi * small * t)
    expected = torch.zeros(size, size, dtype=torch.float64)
    expected[:, :small] = u / small
    assert torch.allclose(interpolation_matrix(size, small, size, dtype=torch.float64), expected, atol=1e-12)


@pytest.mark.parametrize("size,small,columns", [(20, 7, 10), (21, 8, 8), (100, 50, 64)])
def test_upsampling_by_fft_equals_the_interpolation_matrix(size, small, columns):
    """The first ``small`` of ``columns`` samples (the rest zero-weighted) upsampled to ``size``."""
    from nasbench.methods.backbones.ccnn import interpolation_matrix

    x = torch.randn(2, 3, columns, dtype=DOUBLE)
    reference = x @ interpolation_matrix(size, small, columns, dtype=DOUBLE).T
    torch.testing.assert_close(spectral_upsample(x, (size,), (small,)), reference, rtol=0, atol=1e-12)


def test_band_limited_samples_are_the_same_built_in_blocks_of_rows(monkeypatch):
    """The inverse DFT evaluated a block of rows at a time (bounded memory) gives the one-piece result."""
    from nasbench.methods.backbones import ccnn

    g = torch.Generator().manual_seed(0)
    freqs = [ccnn.signed_frequencies(16, False, 5), ccnn.signed_frequencies(20, True, 6)]
    spectrum = torch.randn(2, 3, 11, 7, dtype=torch.complex128, generator=g)
    whole = ccnn.band_limited_samples(spectrum, freqs, (16, 20), (12, 15), (11, 13), (11, 13))
    monkeypatch.setattr(ccnn, "DFT_ROWS_PER_BLOCK", 3)
    torch.testing.assert_close(ccnn.band_limited_samples(spectrum, freqs, (16, 20), (12, 15), (11, 13), (11, 13)),
                               whole, rtol=0, atol=1e-12)
