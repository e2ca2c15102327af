"""FlexCHarts and DMaskingNAS, the checks of issue 19: the Gaussian alpha peaks at the grid point nearest mu and
passes a gradient to mu; the combined mask is non-increasing and in [0, 1]; reallocation keeps the
leading weights and the optimiser state exactly and, with zero (or function-preserving) new channels,
the output to 1e-6; widths never leave their range; the MACs model equals the suite's MAC count and
the record rebuilds a network with the recorded MACs; both methods run through the runner."""
import json
import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from nasbench.arch import count_macs
from nasbench.contracts import TaskShape
from nasbench.errors import ConfigError
from nasbench.methods.backbones import channel_masks as M
from nasbench.methods.backbones.channel_allocation import WidthMacs, WidthUse, reallocate
from nasbench.methods.backbones.darts_cells import default_cell_channels
from nasbench.methods.backbones.width_cells import StageMasks, width_network, width_uses
from nasbench.methods.flexcharts import DMasking, DMaskingConfig, FlexCHarts, FlexCHartsConfig
from nasbench.methods.flexcharts.config import scaled
from nasbench.methods.flexcharts.method import build_from_record
from nasbench.methods.flexcharts.search import make_widths, stage_range
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.testing import check_method


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The networks here are tiny: on a shared CPU, syncing two intra-op threads costs more than the work."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- masks ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mu", [3.0, 17.2, 21.0, 33.9, 70.0])
def test_alpha_peaks_at_the_grid_point_nearest_mu(mu):
    grid = torch.tensor(M.width_grid(4, 64, 4), dtype=torch.float32)
    alpha = M.gaussian_alpha(grid, torch.tensor(mu), sigma=8.0)
    assert int(grid[alpha.argmax()]) == M.nearest_grid_width(mu, 4, 4, 64)
    assert float(alpha.max()) <= 1.0 and torch.allclose(M.gaussian_weights(grid, torch.tensor(mu), 8.0),
                                                        M.normalised_weights(alpha), atol=1e-6)


def test_the_loss_of_the_masked_network_has_a_gradient_in_mu():
    torch.manual_seed(0)
    config = scaled(FlexCHartsConfig(), "smoke")
    widths = make_widths(config, torch.Generator().manual_seed(0))
    allocated = [widths.active_top(s) for s in range(config.cells)]
    net = width_network(2, 1, 10, allocated, stem=config.stem, head=config.head, supernet=True)
    StageMasks(net).set(widths.masks(widths.all_weights(), allocated))
    loss = nn.functional.cross_entropy(net(torch.randn(8, 1, 12, 12)), torch.randint(0, 10, (8,)))
    loss.backward()
    assert widths.mu.grad is not None and (widths.mu.grad.abs() > 0).all(), widths.mu.grad


def test_active_range_is_where_alpha_reaches_epsilon():
    mu, sigma, eps, step = 37.0, 8.0, 0.01, 4
    low, high = M.active_range(mu, sigma, eps, step, 4, 200)
    def alpha(f):
        return math.exp(-0.5 * ((f - mu) / sigma) ** 2)
    assert alpha(low) >= eps and alpha(high) >= eps and alpha(low - step) < eps and alpha(high + step) < eps
    assert M.active_range(mu, sigma, eps, step, 4, 48) == (low, 48)  # clipped to the valid range


@pytest.mark.parametrize("kind", ["gaussian", "gumbel"])
def test_the_combined_mask_is_non_increasing_and_in_0_1(kind):
    g = torch.Generator().manual_seed(1)
    grid = torch.tensor(M.width_grid(8, 96, 8), dtype=torch.float32)
    for trial in range(20):
        if kind == "gaussian":
            weights = M.gaussian_weights(grid, torch.rand(1, generator=g) * 120, sigma=16.0)
        else:
            weights = M.gumbel_softmax(torch.randn(len(grid), generator=g), tau=0.5 + trial / 4, generator=g)
        mask = M.combined_mask(grid, weights, channels=int(grid[-1]) - 8 * (trial % 3))
        assert mask.min() >= 0 and mask.max() <= 1 + 1e-6
        assert (mask[1:] <= mask[:-1] + 1e-7).all()
        assert torch.allclose(mask[:8], torch.ones(8))  # every candidate keeps the first 8 channels


def test_gumbel_softmax_follows_the_generator():
    logits = torch.randn(6)
    a = M.gumbel_softmax(logits, 1.0, torch.Generator().manual_seed(3))
    b = M.gumbel_softmax(logits, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and abs(float(a.sum()) - 1) < 1e-6


# -- allocation on a small conv stack ----------------------------------------------------------------
class ConvStack(nn.Module):
    """conv(3 -> w) -> BN -> ReLU -> conv(w -> 5): one searched width between two fixed layers."""

    def __init__(self, width):
        super().__init__()
        self.conv1, self.bn = nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, 5, 1)

    def forward(self, x):
        return self.conv2(torch.relu(self.bn(self.conv1(x))))

    def uses(self):
        return [WidthUse(0, self.conv1, "out"), WidthUse(0, self.bn, "norm"), WidthUse(0, self.conv2, "in")]


def trained_stack(optimizer_kind):
    torch.manual_seed(0)
    net, x = ConvStack(6), torch.randn(4, 3, 8, 8)
    opt = (torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9) if optimizer_kind == "sgd"
           else torch.optim.Adam(net.parameters(), lr=0.01))
    for _ in range(3):
        opt.zero_grad()
        net(x).square().mean().backward()
        opt.step()
    return net, opt, x


@pytest.mark.parametrize("optimizer_kind", ["sgd", "adam"])
@pytest.mark.parametrize("init", ["zeros", "preserving"])
def test_growing_keeps_weights_state_and_output(optimizer_kind, init):
    net, opt, x = trained_stack(optimizer_kind)
    net.eval()
    before_out = net(x).detach()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    before_state = {n: {k: v.clone() for k, v in opt.state[p].items()} for n, p in net.named_parameters()}
    stats = net.bn.running_mean.clone(), net.bn.running_var.clone()
    reallocate(net.uses(), 6, 10, [opt], init=init)
    assert net.conv1.weight.shape == (10, 3, 3, 3) and net.conv2.weight.shape == (5, 10, 1, 1)
    assert net.bn.num_features == 10 and net.bn.running_mean.shape == (10,)
    assert torch.equal(net.conv1.weight[:6], before["conv1.weight"])
    assert torch.equal(net.conv2.weight[:, :6], before["conv2.weight"])
    assert torch.equal(net.bn.running_mean[:6], stats[0]) and torch.equal(net.bn.running_var[:6], stats[1])
    params = dict(net.named_parameters())
    assert all(any(q is p for q in opt.param_groups[0]["params"]) for p in params.values())
    for name, p in params.items():
        for key, value in before_state[name].items():
            new = opt.state[p][key]
            if value.dim() == 0:
                assert torch.equal(new, value)  # Adam's step
                continue
            lead = tuple(slice(0, s) for s in value.shape)
            assert torch.equal(new[lead], value) and new.shape == p.shape
    assert (net(x) - before_out).abs().max() < 1e-6
    net.train()
    opt.zero_grad()
    net(x).square().mean().backward()
    opt.step()  # the optimiser steps the resized parameters
    if init == "preserving":  # new channels are alive: their weights receive gradient
        assert net.conv2.weight.grad[:, 6:].abs().sum() > 0


def test_truncating_keeps_the_leading_channels():
    net, opt, x = trained_stack("sgd")
    w1 = net.conv1.weight.detach().clone()
    momentum = opt.state[net.conv2.weight]["momentum_buffer"].clone()
    reallocate(net.uses(), 6, 4, [opt])
    assert torch.equal(net.conv1.weight, w1[:4]) and net.conv2.in_channels == 4
    assert torch.equal(opt.state[net.conv2.weight]["momentum_buffer"], momentum[:, :4])
    assert net(x).shape == (4, 5, 8, 8)


# -- the network -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dims", [1, 2])
def test_the_macs_model_equals_the_suite_count_at_any_widths(dims):
    torch.manual_seed(0)
    widths = [8, 12, 16, 20, 24]
    net = width_network(dims, 2, 7, widths, stem=10, head=24, supernet=True)
    x = torch.randn(2, 2, *((20,) * dims))
    macs = WidthMacs(net, [u for s in width_uses(net) for u in s], x)
    assert int(macs(widths)) == count_macs(net, x)
    other = [14, 6, 22, 10, 18]
    assert int(macs(other)) == count_macs(width_network(dims, 2, 7, other, stem=10, head=24), x)
    soft = torch.tensor([9.5, 11.0, 16.0, 20.0, 23.0], requires_grad=True)
    macs(soft).backward()
    assert (soft.grad > 0).all()


@pytest.mark.parametrize("init", ["zeros", "preserving"])
def test_reallocating_a_stage_of_the_cell_network_keeps_its_output(init):
    torch.manual_seed(0)
    widths = list(default_cell_channels(8, 5))
    net = width_network(2, 1, 10, widths, stem=8, head=16, supernet=True)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    x = torch.randn(6, 1, 14, 14)
    nn.functional.cross_entropy(net(x), torch.randint(0, 10, (6,))).backward()
    opt.step()
    grid = torch.tensor(M.width_grid(2, 64, 2), dtype=torch.float32)
    masks = StageMasks(net)
    masks.set([M.combined_mask(grid, M.gaussian_weights(grid, torch.tensor(w - 2.0), 4.0), w) for w in widths])
    net.eval()
    before = net(x).detach()
    uses = width_uses(net)
    for stage in (0, 1, 4):  # after the stem, a reduction cell, the last cell (the head's inputs)
        reallocate(uses[stage], widths[stage], widths[stage] + 6, [opt], init=init)
        widths[stage] += 6
    masks.set([M.combined_mask(grid, M.gaussian_weights(grid, torch.tensor(w - 8.0), 4.0), w)
               if s in (0, 1, 4) else m for s, (w, m) in enumerate(zip(widths, masks.values))])
    assert (net(x) - before).abs().max() < 1e-6
    assert count_macs(net, x) == count_macs(width_network(2, 1, 10, widths, stem=8, head=16), x)


def test_default_initialised_new_channels_move_the_output_by_at_most_their_mask_mass():
    """``init="default"``: new channels start at a fresh layer's values, so the output moves, but only
    through the mask weight they receive: unchanged when it is 0, and first order in it otherwise."""
    torch.manual_seed(0)
    widths = list(default_cell_channels(8, 5))
    net = width_network(2, 1, 10, widths, stem=8, head=16, supernet=True)
    x = torch.randn(6, 1, 14, 14)
    grid = torch.tensor(M.width_grid(2, 64, 2), dtype=torch.float32)
    old = [M.combined_mask(grid, M.gaussian_weights(grid, torch.tensor(w - 2.0), 4.0), w) for w in widths]
    masks = StageMasks(net)
    masks.set(old)
    net.eval()
    before = net(x).detach()
    uses, grown = width_uses(net), (0, 1, 4)
    for stage in grown:
        reallocate(uses[stage], widths[stage], widths[stage] + 6, [], init="default")

    def change(eps: float) -> float:
        masks.set([torch.cat([m, torch.full((6,), eps)]) if s in grown else m for s, m in enumerate(old)])
        return float((net(x).detach() - before).abs().max())

    assert change(0.0) < 1e-6
    big, small = change(1e-2), change(1e-3)
    assert big > 1e-5  # the new channels are live: a mask weight on them moves the output
    assert 0.05 < small / big < 0.2  # ... in proportion to that weight (first order)


def test_widths_never_leave_the_valid_range():
    config = replace(scaled(FlexCHartsConfig(), "smoke"), cells=4)
    widths = make_widths(config, torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(widths.parameters(), lr=50.0)
    for direction in (1.0, -1.0):
        for _ in range(20):
            opt.zero_grad()
            (-direction * widths.soft_widths().sum()).backward()
            opt.step()
            widths.clamp_()
            for s, grid in enumerate(widths.grids):
                assert grid[0] <= float(widths.mu[s].detach()) <= grid[-1]
                assert grid[0] <= widths.final_widths()[s] <= grid[-1]
                assert widths.active_top(s) <= grid[-1]
    assert widths.final_widths() == [g[0] for g in widths.grids]


def test_ranges_follow_the_config():
    config = FlexCHartsConfig()
    assert stage_range(config, 36, (0.25, 2.0)) == list(range(16, 73, 8))
    dmask = make_widths(DMaskingConfig(candidate_range="small"), None)
    assert dmask.grids[0] == [24, 32, 40, 48]  # 0.5 x 36 = 18 up to 24, 1.5 x 36 = 54 down to 48
    with pytest.raises(ConfigError, match="even"):
        replace(FlexCHartsConfig(), grid_step=3).validate()


# -- runs ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fashion_runs(tmp_path_factory):
    """One smoke run of each method on Fashion-MNIST (real data, the smoke budget's first images)."""
    store = RunStore(tmp_path_factory.mktemp("flex"))
    out = {}
    for method in ("flexcharts", "dmasking"):
        run = prepare(RunRequest(method, "fashionmnist", "smoke", 0, ("task.n_train=96", "task.n_val=32",
                                                                       "task.n_test=32")))
        outcome = execute(run, store, log=lambda *_: None)
        assert outcome.status == "ok", outcome.manifest.get("traceback")
        out[method] = outcome
    return out


@pytest.mark.parametrize("method", ["flexcharts", "dmasking"])
def test_the_record_rebuilds_a_network_with_its_macs(fashion_runs, method):
    outcome = fashion_runs[method]
    record = json.loads((outcome.run_dir / "arch.json").read_text())
    assert record["cost"]["macs"] == record["cost"]["final_macs"]  # the retrained network's count
    shape = TaskShape(2, 1, (28, 28), "classes", 10)
    assert count_macs(build_from_record(record, shape), torch.zeros(1, 1, 28, 28)) == record["cost"]["final_macs"]
    cost = record["cost"]
    assert abs(cost["final_macs_vs_target"] - cost["final_macs"] / cost["macs_target"]) < 1e-9
    ranges = record["search_space"]["ranges"]
    assert all(lo <= w <= hi for w, (lo, hi) in zip(record["choices"]["stage_widths"], ranges))
    details = record["details"]
    assert ("mu" in details and details["sigma"] > 0) == (method == "flexcharts") and details["grid_step"] == 2
    cls = FlexCHarts if method == "flexcharts" else DMasking
    assert cls.describe_record(record)["stage widths"] == " ".join(map(str, record["choices"]["stage_widths"]))


@pytest.mark.parametrize("method", ["flexcharts", "dmasking"])
def test_the_search_curves_say_whether_the_search_moved(fashion_runs, method):
    text = (fashion_runs[method].run_dir / "curves.csv").read_text().splitlines()
    header, rows = text[0].split(","), [dict(zip(text[0].split(","), line.split(","))) for line in text[1:]]
    search = [r for r in rows if r["stage"] == "search"]
    assert len(search) == 3 and {"signal_width_shift", "soft_macs_ratio", "allocated_channels"} <= set(header)
    assert search[0]["epoch"] == "-1" and float(search[0]["signal_width_shift"]) == 0  # at initialisation
    assert float(search[-1]["signal_width_shift"]) > 0  # mu (or the soft width) moved
    stages = len(json.loads((fashion_runs[method].run_dir / "arch.json").read_text())["choices"]["stage_widths"])
    assert 0 <= int(search[-1]["signal_changed"]) <= int(search[-1]["signal_decisions"]) == stages


def test_draw_record_plots_the_widths(fashion_runs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    record = json.loads((fashion_runs["flexcharts"].run_dir / "arch.json").read_text())
    assert FlexCHarts.draw_record(record, ax) and len(ax.patches) == len(record["choices"]["stage_widths"])
    assert not FlexCHarts.draw_record({"choices": {}}, ax)
    plt.close(fig)


@pytest.mark.parametrize("name", ["flexcharts", "dmasking"])
def test_the_methods_keep_the_contract(name):
    """Registry, config, a smoke run on the 1D Satellite fixture twice (determinism), no test split."""
    check_method(name)


def test_the_benchmark_compares_dmask_large_with_flexcharts_on_the_same_widths():
    from nasbench.methods.flexcharts.benchmark import FlexCHartsBenchmark

    figures = FlexCHartsBenchmark(batch=2, rounds=1, warmup=0, cells=3).run(log=lambda *_: None)
    flex, dmask = figures["flexcharts_allocated_widths"], figures["dmask_large_allocated_widths"]
    assert dmask == [72, 144, 288]  # the top of [0.25, 2] x (36, 72, 144)
    assert all(f <= d for f, d in zip(flex, dmask)) and flex != dmask  # FlexCHarts: mu + 3 sigma at most
    assert figures["flexcharts_search_memory_ratio"] > 1 and figures["flexcharts_search_time_ratio"] > 0
