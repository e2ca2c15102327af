"""DASH against direct convolutions and the reference's rules (spec/methods.md 2.5): the Fourier
aggregated convolution equals the weighted sum of F.conv1d/conv2d in float64, the three forms agree,
one-hot weights give one convolution, Kronecker dilation is zero insertion, the discretisation index
round-trips, gradients reach weights and logits, gradient conditioning fixes the step norm, and
runs through the runner (1D toy task) and the command line (Darcy Flow) write the record."""
import csv
import itertools
import json
import math
import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from nasbench.arch import count_macs, count_parameters
from nasbench.contracts import TaskShape
from nasbench.errors import ConfigError
from nasbench.methods.dash import DASH, BabyDASH, DASHConfig, config as C, ops
from nasbench.methods.dash.search import (
    Supernet,
    condition_arch_gradients,
    discretise,
    receptive_fields,
    search_batches_per_epoch,
)
from nasbench.methods.dash.tune import build_retrain_network, hp_grid, reference_subsample
from nasbench.registry import benchmarks, methods
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore

K, D = (3, 5, 7), (1, 2, 3)
DARCY = TaskShape(2, 3, (85, 85), "dense_regression", 1)


def task_view(name, shape):
    """What the config functions read of a TaskView: the name and the shape."""
    return type("View", (), {"name": name, "shape": shape})()


def reference_sum(x, weights, probs, pairs, stride=1, groups=1):
    """sum_{k,d} p_{k,d} F.conv(x, w_{k,d}, dilation=d) with 'same' padding, from PyTorch alone."""
    conv = F.conv1d if x.dim() == 3 else F.conv2d
    out = 0
    for p, w, (k, d) in zip(probs, weights, pairs):
        if stride == 1:
            out = out + p * conv(x, w, dilation=d, padding="same", groups=groups)
        else:  # 'same' is not defined with a stride; its centred padding with the stride is
            out = out + p * conv(x, w, dilation=d, padding=d * (k - 1) // 2, stride=stride, groups=groups)
    return out


def candidates(dims, c_in=3, c_out=4, groups=1, seed=0, kernel_sizes=K, dilations=D):
    g = torch.Generator().manual_seed(seed)
    pairs = ops.candidate_pairs(kernel_sizes, dilations)
    weights = [torch.randn(c_out, c_in // groups, *(k,) * dims, generator=g, dtype=torch.float64) for k, _ in pairs]
    probs = torch.softmax(torch.randn(len(pairs), generator=g, dtype=torch.float64), 0)
    return pairs, weights, probs


@pytest.mark.parametrize("dims,length,stride", list(itertools.product((1, 2), (16, 17), (1, 2))))
def test_fourier_equals_weighted_sum_of_direct_convolutions(dims, length, stride):
    pairs, weights, probs = candidates(dims)
    x = torch.randn(2, 3, *(length,) * dims, dtype=torch.float64)
    expected = reference_sum(x, weights, probs, pairs, stride)
    got = ops.aggregated_fourier(x, weights, probs, K, D, stride)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize("dims,depthwise", [(1, False), (1, True), (2, False), (2, True)])
def test_three_forms_agree(dims, depthwise):
    torch.manual_seed(1)
    x = torch.randn(2, 4, *(13,) * dims, dtype=torch.float64)
    outputs = []
    for form in ops.FORMS:
        torch.manual_seed(2)  # identical weights and logits in every form
        layer = ops.AggregatedConv(dims, 4, 4, K, D, stride=2, form=form, depthwise=depthwise).double().eval()
        outputs.append(layer(x))
    for out in outputs[1:]:
        torch.testing.assert_close(out, outputs[0], rtol=0, atol=1e-8)


def test_causal_forms_agree_with_left_padded_convolution():
    pairs, weights, probs = candidates(1)
    x = torch.randn(2, 3, 15, dtype=torch.float64)
    expected = sum(p * F.conv1d(F.pad(x, (d * (k - 1), 0)), w, dilation=d)
                   for p, w, (k, d) in zip(probs, weights, pairs))
    for got in (ops.aggregated_fourier(x, weights, probs, K, D, causal=True),
                ops.mixed_results(x, weights, probs, pairs, causal=True),
                ops.spatial_conv(x, ops.mixed_kernel(weights, probs, K, D, causal=True), causal=True)):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-8)
    x_later = x.clone()
    x_later[..., 9:] += 1.0  # a causal output never sees later inputs
    assert torch.equal(ops.aggregated_fourier(x_later, weights, probs, K, D, causal=True)[..., :9].round(decimals=9),
                       expected[..., :9].round(decimals=9))


@pytest.mark.parametrize("dims", [1, 2])
def test_one_hot_weights_reduce_to_the_single_convolution(dims):
    pairs, weights, _ = candidates(dims, kernel_sizes=(3, 5, 9), dilations=(1, 4))
    x = torch.randn(1, 3, *(19,) * dims, dtype=torch.float64)
    conv = F.conv1d if dims == 1 else F.conv2d
    for j, (k, d) in enumerate(pairs):
        one_hot = F.one_hot(torch.tensor(j), len(pairs)).double()
        got = ops.aggregated_fourier(x, weights, one_hot, (3, 5, 9), (1, 4))
        torch.testing.assert_close(got, conv(x, weights[j], dilation=d, padding="same"), rtol=0, atol=1e-8)


@pytest.mark.parametrize("dims", [1, 2])
def test_kronecker_dilation_is_zero_insertion(dims):
    w = torch.randn(2, 3, *(4,) * dims, dtype=torch.float64)
    for d in (1, 2, 5):
        dilated = ops.kronecker_dilate(w, d, dims)
        inserted = torch.zeros(2, 3, *(d * 3 + 1,) * dims, dtype=torch.float64)
        inserted[(Ellipsis,) + (slice(None, None, d),) * dims] = w
        assert torch.equal(dilated, inserted)
        x = torch.randn(1, 3, *(20,) * dims, dtype=torch.float64)
        conv = F.conv1d if dims == 1 else F.conv2d
        torch.testing.assert_close(conv(x, dilated), conv(x, w, dilation=d), rtol=0, atol=1e-10)


def test_discretisation_index_round_trips_k_major():
    for kernel_sizes, dilations in ((C.K_2D, C.D_2D), (C.K_1D, C.D_1D), (C.BABY_K, C.BABY_D)):
        pairs = ops.candidate_pairs(kernel_sizes, dilations)
        assert pairs == list(itertools.product(kernel_sizes, dilations))
        for j, (k, d) in enumerate(pairs):
            assert ops.pair_index(k, d, kernel_sizes, dilations) == j
            assert ops.pair_of_index(j, kernel_sizes, dilations) == (k, d)
    assert ops.pair_of_index(5, C.K_2D, C.D_2D) == (5, 3)  # j div |D| = 1 -> k = 5, j mod |D| = 1 -> d = 3


@pytest.mark.parametrize("dims,length,stride,depthwise",
                         [(1, 11, 2, False), (1, 12, 1, False), (2, 11, 2, False), (2, 12, 1, False),
                          (1, 11, 2, True), (2, 12, 1, True)])
def test_fourier_gradients_equal_direct_ones(dims, length, stride, depthwise):
    """The hand-written backward passes (channel product and FFTs, or the depthwise padded FFT) give
    the same gradients as autograd through direct convolutions, for the input, every kernel and the
    mixture weights, at odd and even FFT lengths, with and without a stride."""
    channels, groups = (3, 3) if depthwise else ((2, 3), 1)
    c_in, c_out = (channels, channels) if depthwise else channels
    pairs, weights, probs = candidates(dims, c_in=c_in, c_out=c_out, groups=groups)
    x = torch.randn(2, c_in, *(length,) * dims, dtype=torch.float64)
    target = torch.randn(2, c_out, *(-(-length // stride),) * dims, dtype=torch.float64)
    grads = []
    for compute in (lambda *a: ops.aggregated_fourier(*a[:3], K, D, stride, groups),
                    lambda *a: reference_sum(*a, pairs, stride, groups)):
        leaves = [x.clone().requires_grad_(), [w.clone().requires_grad_() for w in weights],
                  probs.clone().requires_grad_()]
        (compute(leaves[0], leaves[1], leaves[2]) - target).square().sum().backward()
        grads.append([leaves[0].grad, *(w.grad for w in leaves[1]), leaves[2].grad])
    for got, expected in zip(*grads):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-8)


def test_gradients_reach_weights_and_logits_through_gumbel_softmax():
    layer = ops.AggregatedConv(2, 3, 3, K, D, depthwise=True)
    layer.generator = torch.Generator().manual_seed(0)
    layer(torch.randn(2, 3, 12, 12)).square().mean().backward()
    assert layer.alpha.grad is not None and layer.alpha.grad.abs().min() > 0
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in layer.weights)


def test_gumbel_softmax_is_on_the_simplex_seeded_and_unbiased_in_argmax():
    logits = torch.tensor([0.0, 1.0, 2.0, -1.0])
    samples = torch.stack([ops.gumbel_softmax(logits, 1.0, torch.Generator().manual_seed(s)) for s in range(2000)])
    assert torch.allclose(samples.sum(1), torch.ones(2000)) and samples.min() >= 0
    again = ops.gumbel_softmax(logits, 1.0, torch.Generator().manual_seed(7))
    assert torch.equal(again, samples[7])
    # Gumbel-max: argmax of a + g is distributed as softmax(a)
    frequency = torch.bincount(samples.argmax(1), minlength=4).float() / 2000
    assert torch.allclose(frequency, torch.softmax(logits, 0), atol=0.04)
    layer = ops.AggregatedConv(1, 1, 1, K, D).eval()
    assert torch.equal(layer.mixture_weights(), torch.softmax(layer.alpha, 0))


def test_gradient_conditioning_fixes_the_norm_and_adds_the_field_term():
    c = C.paper_config(task_view("darcyflow", DARCY))
    fields = receptive_fields(c, dense=True)
    assert fields.tolist() == [10.0 * k for k in c.kernel_sizes for _ in c.dilations]
    assert receptive_fields(c, dense=False)[-1] == 15 * 8 + 1
    alpha = torch.nn.Parameter(torch.zeros(16))
    alpha.grad = torch.randn(16) * 37.0
    condition_arch_gradients([alpha], c.grad_scale, fields)
    assert (alpha.grad - 1e-5 * fields).norm().item() == pytest.approx(1 / c.grad_scale, rel=1e-5)


def test_search_uses_a_fifth_of_the_batches_plus_one():
    assert [search_batches_per_epoch(n, 0.2) for n in (1, 4, 5, 90, 100)] == [1, 1, 2, 19, 21]
    assert search_batches_per_epoch(100, 0.2, cap=2) == 2 and search_batches_per_epoch(7, 1.0) == 7
    assert [reference_subsample(n) for n in (10, 60, 200, 900)] == [0.2, 0.1, 0.05, 0.01]


def test_per_task_rows_fallbacks_and_baby_dash():
    darcy = C.paper_config(task_view("darcyflow", DARCY))
    assert (darcy.kernel_sizes, darcy.dilations, darcy.search.batch_size) == (C.K_2D, C.D_2D, 10)
    assert (darcy.search.lr, darcy.arch_lr, darcy.grad_scale) == (0.01, 0.005, 100.0)
    ecg = C.paper_config(task_view("ecg", TaskShape(1, 1, (1000,), "classes", 4)))
    assert (ecg.kernel_sizes, ecg.search.milestones, ecg.search.lr) == (C.K_1D, C.MILESTONES_1D, 0.1)
    unknown = C.paper_config(task_view("new-dense-1d", TaskShape(1, 2, (64,), "dense_binary", 1)))
    assert (unknown.kernel_sizes, unknown.search.lr, unknown.arch_lr) == (C.K_1D, 0.01, 0.005)
    cosmic = C.paper_config(task_view("cosmic", TaskShape(2, 1, (128, 128), "dense_binary", 1)))
    assert cosmic.tune.lrs == (1e-2, 1e-3, 1e-4) and cosmic.tune.momenta == (0.99,)
    baby = BabyDASH.default_config("paper", task_view("darcyflow", DARCY))
    assert (baby.kernel_sizes, baby.dilations) == ((3, 5), (1, 2))


def test_paper_budget_is_the_paper_protocol_and_smaller_budgets_say_how_they_differ():
    c = DASH.default_config("paper", task_view("darcyflow", DARCY))
    assert (c.search.epochs, c.tune.epochs, c.retrain.epochs) == (100, 80, 200)
    assert (c.search_widen, c.retrain_widen, c.subsample, c.search.grad_clip) == (1, 4, 0.2, 1.0)
    assert c.retrain.milestones == (60, 120, 160) and c.retrain.grad_clip is None
    assert C.scaled_milestones((60, 120, 160), 4) == (2, 3, 4)
    assert C.scaled_milestones((60, 120, 160), 200) == (60, 120, 160)
    assert len(hp_grid(c.tune)) == 24 and hp_grid(c.tune)[0] == dict(lr=0.1, dropout=0.0, weight_decay=5e-4,
                                                                        momentum=0.9)
    assert [p["lr"] for p in hp_grid(c.tune)][7:9] == [0.1, 0.01]  # lr-major
    small = DASH.default_config("small", task_view("darcyflow", DARCY))
    assert small.search.epochs < 100 and small.retrain.epochs < 200 and small.kernel_sizes == C.K_2D
    assert "paper's 100" in DASH.budget_notes("small") and "WRN-16-4" in DASH.budget_notes("paper")
    # the architecture lr keeps the paper's lr x steps: 100 epochs with lr x0.2 from epoch 60 weigh 68
    assert small.arch_lr * small.search.epochs == pytest.approx(c.arch_lr * 68)
    assert small.arch_lr == pytest.approx(0.005 * 17)
    assert c.clip_logits and not small.clip_logits  # the paper clips weights and logits together
    smoke = DASH.default_config("smoke", task_view("darcyflow", DARCY))  # batches of 8: 10/8 as many per epoch
    assert smoke.arch_lr * smoke.search.epochs * 10 / 8 == pytest.approx(c.arch_lr * 68)
    with pytest.raises(ConfigError):
        DASH(DASHConfig(kernel_sizes=(3, 4)))


@pytest.mark.parametrize("scores,evaluated", [((0.5, 0.4, 0.6, 0.7, 0.1, 0.1), 4), ((0.5, 0.4, 0.3, 0.7, 0.1, 0.2), 6)])
def test_tuning_stops_when_a_whole_lr_leaves_the_best_score_unchanged(monkeypatch, scores, evaluated):
    from nasbench.methods.dash import tune

    c = C.paper_config(task_view("darcyflow", DARCY))
    c = replace(c, tune=replace(c.tune, dropouts=(0.0, 0.05), weight_decays=(5e-4,), momenta=(0.9,)))
    calls = iter(scores)
    monkeypatch.setattr(tune, "_trial", lambda *args: next(calls))
    metric = type("M", (), {"direction": "min", "name": "relative_l2"})
    ctx = type("Ctx", (), {"task": type("T", (), {"metric": metric})(), "log": print,
                           "train": type("S", (), {"num_batches": lambda self, b: 90})()})()
    result = tune.run_tuning(ctx, c, {"kernels": [(3, 1)] * 13, "depth": 16, "widen": 1}, {})
    assert len(result["tuning"]["evaluated"]) == evaluated and result["tuning"]["stopped_early"] == (evaluated < 6)
    best = min(range(evaluated), key=lambda i: scores[i])
    assert (result["lr"], result["dropout"]) == ((0.1, 0.01, 0.001)[best // 2], (0.0, 0.05)[best % 2])
    assert result["tuning"]["subsample"] == 0.1 and result["tuning"]["batches_per_epoch"] == 10  # 90 batches -> 0.1


def test_supernet_has_13_layers_in_2d_and_9_in_1d_with_depthwise_square_convs():
    c = C.scale_config(C.paper_config(task_view("darcyflow", DARCY)), "smoke")
    net = Supernet(DARCY, c)
    assert len(net.layers) == 13 and net.names[0] == "stem"
    depthwise = [layer.groups > 1 for layer in net.layers]
    assert depthwise == [layer.in_channels == layer.out_channels for layer in net.layers]
    assert len(net.arch_parameters()) == 13
    assert len(net.weight_parameters()) + 13 == len(list(net.parameters()))
    ecg = TaskShape(1, 1, (64,), "classes", 4)
    net1d = Supernet(ecg, C.paper_config(task_view("ecg", ecg)))
    assert len(net1d.layers) == 9 and all(layer.causal for layer in net1d.layers)
    with torch.no_grad():
        net.layers[3].alpha.zero_()
        net.layers[3].alpha[ops.pair_index(9, 7, C.K_2D, C.D_2D)] = 1.0
    layer = discretise(net, c)[3]
    assert (layer["k"], layer["d"], layer["receptive_field"]) == (9, 7, 57)
    assert sum(layer["probs"]) == pytest.approx(1, abs=1e-4)


def test_retrain_network_matches_wrn_16_4_size_and_macs_count_the_fourier_layer():
    net = build_retrain_network(DARCY, {"kernels": [(3, 1)] * 13, "depth": 16, "widen": 4})
    assert 2.6e6 < count_parameters(net) < 2.8e6  # spec 2.5 (6): WRN-16-4 with 3x3 convs ~ 2.7M
    layer = ops.AggregatedConv(2, 3, 4, K, D)
    macs = count_macs(torch.nn.Sequential(layer), torch.randn(1, 3, 20, 20))
    sizes = ops.fourier_fft_sizes((20, 20), layer.size)
    assert macs == ops.fourier_macs(1, 3, 4, 1, sizes, max(K), len(D)) > 0


def test_runner_on_a_1d_task_records_nine_layers(tmp_path, toy_plugins):
    run = prepare(RunRequest("dash", "toy-task", "smoke", 0, ("search.batch_size=8", "retrain.batch_size=8")))
    outcome = execute(run, RunStore(tmp_path), log=lambda s: None)
    assert outcome.status == "ok", outcome.manifest.get("error")
    arch = json.loads((outcome.run_dir / "arch.json").read_text())
    assert arch["backbone"] == "wrn1d" and len(arch["details"]["layers"]) == 9
    assert all(k in C.K_1D and d in C.D_1D for k, d in arch["choices"]["kernels"])
    assert set(arch["retrain"]) >= {"lr", "dropout", "weight_decay", "momentum", "tuning"}


def test_smoke_run_through_the_cli_on_darcyflow(tmp_path, isolated_data):
    args = ["run", "dash", "darcyflow", "--budget", "smoke", "--results", str(tmp_path),
            "--set", "task.source=generated-approx", "--set", "task.n_train=4", "--set", "task.n_val=2",
            "--set", "task.n_test=2", "--set", "search.batch_size=2", "--set", "retrain.batch_size=2",
            "--set", "retrain.epochs=1"]
    out = subprocess.run([sys.executable, "-m", "nasbench", *args], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "NASBENCH_DATA": str(isolated_data)})
    assert out.returncode == 0, out.stderr[-2000:]
    run_dir = tmp_path / "darcyflow" / "dash" / "seed=0"
    arch = json.loads((run_dir / "arch.json").read_text())
    layers = arch["details"]["layers"]
    assert len(layers) == 13 and len(arch["choices"]["kernels"]) == 13
    for layer in layers:
        assert layer["k"] in C.K_2D and layer["d"] in C.D_2D
        assert layer["receptive_field"] == layer["d"] * (layer["k"] - 1) + 1
        assert len(layer["probs"]) == 16 and sum(layer["probs"]) == pytest.approx(1, abs=1e-4)
        assert layer["index"] == max(range(16), key=layer["probs"].__getitem__)
    rebuilt = build_retrain_network(DARCY, arch["choices"])  # the record alone rebuilds the final network
    assert arch["cost"]["params"] == count_parameters(rebuilt) and arch["cost"]["macs"] > 0
    assert {p["lr"] for p in arch["retrain"]["tuning"]["evaluated"]} <= {0.1, 0.01}
    final = json.loads((run_dir / "final.json").read_text())
    assert math.isfinite(final["value"]) and final["split"] == "test"
    with open(run_dir / "curves.csv") as rows:  # the search signal: concentration and argmax moves
        search = [row for row in csv.DictReader(rows) if row["stage"] == "search"]
    initial, last = search[0], search[-1]  # the row of the state at initialisation comes first
    assert (int(initial["epoch"]), int(initial["signal_changed"]), initial["train_loss"]) == (-1, 0, "")
    assert float(initial["signal_max_weight"]) == pytest.approx(1 / 16, abs=5e-4)  # logits 1e-3 N(0, 1)
    assert float(initial["signal_entropy"]) == pytest.approx(math.log(16), abs=1e-5)
    assert all(0 <= int(row["signal_changed"]) <= int(row["signal_decisions"]) == 13 for row in search)
    assert float(initial["signal_logit_shift"]) == 0
    # one step at the scaled lr, unclipped by the weights' gradients, moves the logits past their initial spread
    assert float(last["signal_logit_shift"]) > 1
    assert float(last["signal_max_weight"]) > float(initial["signal_max_weight"])
    assert float(last["signal_entropy"]) < float(initial["signal_entropy"])


def test_registered_with_a_benchmark_whose_forms_compute_the_same_layer():
    assert methods.get("dash") is DASH and methods.get("baby-dash") is BabyDASH
    from nasbench.methods.dash.benchmark import layer_step

    bench = benchmarks.get("dash")
    assert bench.name == "dash"
    case = dict(dims=1, size=30, kernel_sizes=(3, 5), dilations=(1, 2), channels=2, batch=2)
    outs = [layer_step(form, case)[0]() for form in ops.FORMS]
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("clip_logits", [True, False])
def test_below_paper_the_clip_leaves_the_conditioned_logit_step_whole(clip_logits):
    """The reference clips weights and logits together, so large weight gradients shrink the logits'
    step; ``clip_logits=False`` (``small``, ``smoke``) clips the weights alone."""
    import numpy as np
    from toy_plugins import ToyTask, ToyTaskConfig

    from nasbench.contracts import RunContext, TaskView
    from nasbench.curves import CurveLog
    from nasbench.methods.dash.search import run_search

    task = ToyTask(ToyTaskConfig(n=48))
    data, view = task.load(), TaskView(task)
    c = DASH.default_config("smoke", view)  # one plain SGD step, clipped to a total norm far below the logits'
    c = replace(c, clip_logits=clip_logits, search=replace(c.search, epochs=1, batches_per_epoch=1, grad_clip=1e-3,
                                                            momentum=0.0, weight_decay=0.0))
    ctx = RunContext(task=view, train=data.train, val=data.val, device=torch.device("cpu"), seed=0,
                     generator=torch.Generator().manual_seed(0), rng=np.random.default_rng(0), budget="smoke",
                     curves=CurveLog())
    torch.manual_seed(0)
    start = [layer.alpha.detach().clone() for layer in Supernet(view.shape, c).layers]  # the same draw as below
    torch.manual_seed(0)
    net, _ = run_search(ctx, c)
    steps = [float((layer.alpha.detach() - a0).norm()) for layer, a0 in zip(net.layers, start)]
    field = 1e-5 * float(receptive_fields(c, dense=False).norm())
    if clip_logits:
        assert max(steps) <= c.arch_lr * 1e-3 * (1 + 1e-4)
    else:  # lr times the conditioned gradient: norm 1 / grad_scale, give or take the field term
        assert min(steps) >= c.arch_lr * (1 / c.grad_scale - field) > 0
