"""Each method's ``sample_architecture`` (the draw of its random-search control) is uniform over the
method's own space and every draw is valid: inside the ranges, and a network ``retrain`` can build.

Uniformity is a chi-square goodness-of-fit test on a few thousand draws from a fixed seed (so the test
is deterministic), at p > 0.001, per decision (per layer, node or stage) and pooled.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import stats

from nasbench.arch import count_macs, example_input
from nasbench.contracts import TaskShape
from nasbench.methods.backbones.darts_cells import PRIMITIVES, STEPS, Genotype, sample_genotype
from nasbench.methods.backbones.pooling_resnet import get_space
from nasbench.methods.bms import BMS
from nasbench.methods.darts import DARTS
from nasbench.methods.darts.config import DARTSConfig
from nasbench.methods.darts.search import build_eval_network
from nasbench.methods.dash import DASH
from nasbench.methods.dash.config import DASHConfig
from nasbench.methods.dash.search import sampled_layers
from nasbench.methods.dash.tune import build_retrain_network
from nasbench.methods.flexcharts import DMasking, FlexCHarts
from nasbench.methods.flexcharts.config import scaled
from nasbench.methods.flexcharts.method import CONTROL_MACS_BOUND, build_from_record as build_width_network
from nasbench.methods.flexcharts.search import cost_model, stage_grids
from nasbench.methods.spos import SPOS
from nasbench.methods.spos.config import default_config as spos_config
from nasbench.methods.spos.method import build_from_record as build_path_network, path_costs, sample_path
from nasbench.methods.spos.space import gene_sizes

pytestmark = pytest.mark.usefixtures("one_thread")

IMAGE = TaskShape(dims=2, in_channels=1, input_size=(28, 28), output="classes", num_outputs=10)
SERIES = TaskShape(dims=1, in_channels=1, input_size=(64,), output="classes", num_outputs=4)
FIELD = TaskShape(dims=2, in_channels=1, input_size=(16, 16), output="dense_regression", num_outputs=1)
P_MIN = 1e-3


def assert_uniform(values, cells, what: str) -> None:
    """Chi-square of the counts of ``values`` over ``cells`` against equal expected counts."""
    counts = Counter(values)
    assert set(counts) <= set(cells), f"{what}: drew {set(counts) - set(cells)}, outside the space"
    if len(cells) == 1:
        return  # one cell: nothing to test beyond membership
    observed = [counts[c] for c in cells]
    p = stats.chisquare(observed).pvalue
    assert p > P_MIN, f"{what}: counts {observed} are not uniform (chi-square p = {p:.2g})"


def forward(model: torch.nn.Module, shape: TaskShape) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(torch.randn(2, shape.in_channels, *shape.input_size))


# --- DASH: (k, d) per searchable convolution, uniform over K x D ----------------------------------

@pytest.mark.parametrize("shape", [IMAGE, SERIES], ids=["2d", "1d"])
def test_dash_draws_every_layer_uniformly_over_k_x_d(shape):
    c = replace(DASHConfig(), kernel_sizes=(3, 5, 7, 9), dilations=(1, 3, 7, 15)) if shape.dims == 2 else \
        replace(DASHConfig(), kernel_sizes=(3, 7, 11, 15, 19), dilations=(1, 3, 7, 15))
    rng = np.random.default_rng(0)
    draws = [[(layer["k"], layer["d"]) for layer in sampled_layers(c, shape, rng)] for _ in range(1500)]
    cells = list(itertools.product(c.kernel_sizes, c.dilations))
    assert {len(d) for d in draws} == {13 if shape.dims == 2 else 9}
    for layer in range(len(draws[0])):
        assert_uniform([d[layer] for d in draws], cells, f"layer {layer}")
    # independence of two layers: the joint of the first two is uniform over (K x D)^2
    assert_uniform([(d[0][0], d[1][0]) for d in draws], list(itertools.product(c.kernel_sizes, repeat=2)), "joint")


def test_dash_draws_build_the_retraining_network():
    record = DASH.sample_architecture(DASHConfig(retrain_widen=1), IMAGE, np.random.default_rng(1))
    assert record["search_space"]["id"] == "dash-kd" and len(record["choices"]["kernels"]) == 13
    assert forward(build_retrain_network(IMAGE, record["choices"]), IMAGE).shape == (2, 10)
    assert "kernels (k x d)" in DASH.describe_record(record)


# --- DARTS: per node 2 distinct inputs (unordered, uniform) and an operation other than none each ----

def test_darts_genotypes_are_uniform_over_the_cell_space():
    rng = np.random.default_rng(0)
    genes = [sample_genotype(rng, reduction=True) for _ in range(3000)]
    operations = [p for p in PRIMITIVES if p != "none"]
    for cell in ("normal", "reduce"):
        for node in range(STEPS):
            pairs = [getattr(g, cell)[2 * node: 2 * node + 2] for g in genes]
            assert all(a[1] < b[1] < node + 2 for a, b in pairs), "two distinct inputs of the node's predecessors"
            assert_uniform([(a[1], b[1]) for a, b in pairs], list(itertools.combinations(range(node + 2), 2)),
                           f"{cell} node {node} inputs")
            assert_uniform([a[0] for a, _ in pairs], operations, f"{cell} node {node} first operation")
            assert_uniform([b[0] for _, b in pairs], operations, f"{cell} node {node} second operation")


@pytest.mark.parametrize("shape", [IMAGE, FIELD], ids=["classes", "dense"])
def test_darts_draws_build_the_evaluation_network(shape):
    c = replace(DARTSConfig(), layers=3, retrain_layers=3, retrain_C=4, auxiliary=False)
    record = DARTS.sample_architecture(c, shape, np.random.default_rng(2))
    genotype = Genotype.from_dict(record["choices"]["genotype"])
    assert bool(genotype.reduce) == (not shape.dense), "reduction cells only where the network reduces"
    out = forward(build_eval_network(shape, record["choices"]), shape)
    assert out.shape[:2] == (2, shape.num_outputs)
    assert "normal" in DARTS.describe_record(record)


# --- SPOS: a path uniform over the paths under the cost cap -----------------------------------------

def test_spos_paths_are_uniform_without_a_cap():
    c = replace(spos_config("smoke"), cost_cap_fraction=None)
    rng = np.random.default_rng(0)
    paths = [sample_path(c, IMAGE, rng)[0] for _ in range(2000)]
    for layer in range(len(paths[0].choices)):
        assert_uniform([p.choices[layer] for p in paths], list(range(4)), f"layer {layer}")


def test_spos_paths_under_the_cap_are_uniform_over_the_paths_under_it():
    """The exact law of a layer's block under the cap, from every path of the smoke supernet, against the draws."""
    c = replace(spos_config("smoke"), cost_cap_fraction=0.8)
    spec = c.spec(IMAGE)
    costs = path_costs(spec)
    cap = 0.8 * costs.extreme(max)
    from nasbench.methods.spos.space import to_path
    allowed = [g for g in itertools.product(*[range(n) for n in gene_sizes(spec)]) if costs(to_path(spec, g)) <= cap]
    assert 0 < len(allowed) < 4 ** spec.layers, "the cap must cut the space for this test to mean anything"
    rng = np.random.default_rng(0)
    draws = [sample_path(c, IMAGE, rng) for _ in range(2000)]
    assert all(macs <= cap for _, macs, _, _ in draws)
    for layer in range(spec.layers):
        expected = np.array([sum(g[layer] == v for g in allowed) for v in range(4)], dtype=float)
        observed = np.array([sum(p.choices[layer] == v for p, *_ in draws) for v in range(4)], dtype=float)
        keep = expected > 0
        assert observed[~keep].sum() == 0
        p = stats.chisquare(observed[keep], expected[keep] / expected[keep].sum() * len(draws)).pvalue
        assert p > P_MIN, f"layer {layer}: {observed} against {expected / expected.sum() * len(draws)} (p {p:.2g})"


def test_spos_draws_build_the_standalone_network():
    record = SPOS.sample_architecture(spos_config("smoke"), IMAGE, np.random.default_rng(3))
    assert record["details"]["macs"] <= record["details"]["cost_cap_macs"]
    assert forward(build_path_network(record), IMAGE).shape == (2, 10)
    assert "blocks" in SPOS.describe_record(record)


# --- BMS: a pooling configuration uniform over the space's configurations --------------------------

def test_bms_configurations_are_uniform():
    c = BMS.Config()
    configs = [tuple(x) for x in get_space(c.space).configurations()]
    rng = np.random.default_rng(0)
    draws = [tuple(BMS.sample_architecture(c, IMAGE, rng)["choices"]["config"]) for _ in range(3600)]
    assert_uniform(draws, configs, "pooling configuration")
    model = BMS(c).build(IMAGE, list(draws[0]))
    assert forward(model, IMAGE).shape == (2, 10)


# --- FlexCHarts and DMasking: widths uniform over the grid points whose MACs keep the bound --------

@pytest.mark.parametrize("cls", [FlexCHarts, DMasking], ids=["flexcharts", "dmasking"])
def test_channel_search_widths_are_uniform_over_the_widths_within_the_cost_bound(cls):
    """The law of a draw is uniform over the feasible width vectors (every grid combination with MACs at
    most CONTROL_MACS_BOUND x the target), enumerated here with the suite's own MAC count: each stage's
    counts follow that law's marginal, and no draw breaks the bound."""
    c = scaled(cls.Config(), "small")
    grids = stage_grids(c)
    macs, target = cost_model(IMAGE, c)
    feasible = [w for w in itertools.product(*grids) if float(macs(list(w))) <= CONTROL_MACS_BOUND * target]
    assert 1 < len(feasible) < math.prod(map(len, grids))  # the bound binds, and leaves a choice
    rng = np.random.default_rng(0)
    draws = [cls.sample_architecture(c, IMAGE, rng) for _ in range(3000)]
    assert all(d["details"]["macs_vs_target"] <= CONTROL_MACS_BOUND for d in draws)
    widths = [tuple(d["choices"]["stage_widths"]) for d in draws]
    assert set(widths) <= set(feasible)
    for stage, grid in enumerate(grids):
        law = Counter(w[stage] for w in feasible)
        cells = [g for g in grid if law[g]]
        observed = Counter(w[stage] for w in widths)
        expected = [len(draws) * law[g] / len(feasible) for g in cells]
        p = stats.chisquare([observed[g] for g in cells], expected).pvalue
        assert p > P_MIN, f"stage {stage}: counts against the feasible law, chi-square p = {p:.2g}"
    record = draws[0]
    net = build_width_network(record, IMAGE)
    assert count_macs(net, example_input(IMAGE)) == int(macs(record["choices"]["stage_widths"]))
    assert forward(net, IMAGE).shape == (2, 10)
    assert "stage widths" in cls.describe_record(record)


def test_chi_square_helper_rejects_a_skewed_draw():
    """The test's own power: a draw that favours one cell is refused."""
    rng = np.random.default_rng(0)
    skewed = list(rng.integers(4, size=2000)) + [0] * 300  # one cell 1.5 times as likely
    with pytest.raises(AssertionError, match="not uniform"):
        assert_uniform(skewed, list(range(4)), "skewed")
    assert math.isfinite(stats.chisquare([500, 500]).pvalue)


# --- DNArch: the continuous mask parameters uniform over their ranges -------------------------------

def test_dnarch_mask_parameters_are_uniform_over_their_ranges():
    from nasbench.methods.dnarch import masks as M
    from nasbench.methods.dnarch.method import DNArchConfig, build_supernet
    from nasbench.methods.dnarch.record import sample_masks

    shape = TaskShape(dims=1, in_channels=1, input_size=(32,), output="classes", num_outputs=4)
    c = DNArchConfig(width=8, depth=2, kernel_hidden=8, kernel_layers=2, kernel_frequencies=8)
    net, rng = build_supernet(shape, c), np.random.default_rng(0)
    low, high = M.gaussian_sigma_min(net.masks.full_kernel[0], c.threshold), c.sigma_0
    sigmas, widths = [], []
    for _ in range(400):
        sample_masks(net, rng)
        sigmas += net.masks.sigma[:, 0].tolist()
        widths += net.masks.width_mu.flatten().tolist()
    assert stats.kstest(sigmas, "uniform", args=(low, high - low)).pvalue > P_MIN
    w_low, w_high = M.sigmoid_bounds(c.tau_channel)
    assert stats.kstest(widths, "uniform", args=(w_low, w_high - w_low)).pvalue > P_MIN


def test_dnarch_draws_build_a_plain_ccnn():
    from nasbench.methods.dnarch import DNArch
    from nasbench.methods.dnarch.method import DNArchConfig
    from nasbench.methods.dnarch.record import build_from_record

    shape = TaskShape(dims=1, in_channels=1, input_size=(32,), output="classes", num_outputs=4)
    c = DNArchConfig(width=8, depth=2, kernel_hidden=8, kernel_layers=2, kernel_frequencies=8)
    record = DNArch.sample_architecture(c, shape, np.random.default_rng(1))
    assert 1 <= record["choices"]["depth"] <= 2 * c.depth
    assert forward(build_from_record(record, shape), shape).shape == (2, 4)
    assert "C_curr/C_target" in DNArch.describe_record(record)


@pytest.mark.parametrize("variant", ["K,R,W,D", "K"])
def test_dnarch_draws_keep_the_complexity_bound_where_the_search_is_held_to_it(variant):
    """With the complexity loss (K,R,W,D) every draw has C_curr / C_target <= the bound, and the bound
    binds (unbounded draws exceed it); without the loss (K) the draw is the unbounded proposal."""
    from nasbench.methods.dnarch import DNArch
    from nasbench.methods.dnarch.method import CONTROL_COMPLEXITY_BOUND, DNArchConfig

    shape = TaskShape(dims=1, in_channels=1, input_size=(32,), output="classes", num_outputs=4)
    c = DNArchConfig(width=8, depth=2, kernel_hidden=8, kernel_layers=2, kernel_frequencies=8, variant=variant)
    unbounded = DNArchConfig(width=8, depth=2, kernel_hidden=8, kernel_layers=2, kernel_frequencies=8,
                             variant=variant, complexity_loss=False)
    ratios = [DNArch.sample_architecture(c, shape, np.random.default_rng(seed))["choices"]["complexity_ratio"]
              for seed in range(20)]
    free = [DNArch.sample_architecture(unbounded, shape, np.random.default_rng(seed))["choices"]["complexity_ratio"]
            for seed in range(20)]
    if c.uses_complexity_loss:
        assert max(ratios) <= CONTROL_COMPLEXITY_BOUND < max(free)
    else:
        assert ratios == free


def test_cached_helpers_leave_the_global_generator_alone():
    """A draw must leave the same global state whether its helper's cache was warm or cold, or a run
    would depend on the runs before it in the same process (a study on the local backend)."""
    from nasbench.methods.dash.search import searchable_count

    searchable_count.cache_clear()
    path_costs.cache_clear()
    for draw in (lambda: DASH.sample_architecture(DASHConfig(), IMAGE, np.random.default_rng(0)),
                 lambda: sample_path(spos_config("smoke"), IMAGE, np.random.default_rng(0))):
        for _ in range(2):  # cold, then warm
            state = torch.get_rng_state()
            draw()
            assert torch.equal(state, torch.get_rng_state())
