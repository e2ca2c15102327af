"""SPOS checks: uniform sampling, only the path moves, the evolution's cap,
population and memo, mutation and crossover, BN recalibration, sliced widths, MAC table, record."""
from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import stats

from nasbench.arch import count_macs, count_parameters
from nasbench.contracts import RunContext, Split, TaskShape, TaskView
from nasbench.curves import CurveLog
from nasbench.errors import ConfigError
from nasbench.methods.backbones.single_path import (
    ChoiceBlock,
    Path,
    SinglePathSupernet,
    SupernetSpec,
    recalibrate_batchnorm,
    sliced_state,
)
from nasbench.methods.spos import SPOS
from nasbench.methods.spos.config import EvolutionConfig, SPOSConfig, default_config
from nasbench.methods.spos.evolution import EvolutionSearch
from nasbench.methods.spos.method import arch_record, build_from_record, describe_path
from nasbench.methods.spos.search import cost_cap, decay_groups
from nasbench.methods.spos.space import (
    FlopsBinnedSampler,
    PathCosts,
    UniformSampler,
    crossover,
    gene_sizes,
    genes_of,
    mutate,
    uniform_path,
)
from nasbench.training import SinglePathSampling, TrainConfig, fit, make_optimizer

SMALL_2D = dict(stem_channels=4, stage_channels=(8, 16, 24, 32), last_channels=32)


pytestmark = pytest.mark.usefixtures("one_thread")


def spec(dims=2, size=(16, 16), channel_search=False, **kw) -> SupernetSpec:
    size = size if dims == 2 else (size[0],)
    return SupernetSpec(dims=dims, in_channels=2, num_outputs=3, input_size=size, channel_search=channel_search,
                        **{**SMALL_2D, **kw})


def ctx_for(inputs, targets, val_inputs=None, val_targets=None, seed=0) -> RunContext:
    from toy_plugins import ToyTask, ToyTaskConfig

    task = TaskView(ToyTask(ToyTaskConfig()))
    val = Split("val", val_inputs if val_inputs is not None else inputs,
                val_targets if val_targets is not None else targets)
    return RunContext(task=task, train=Split("train", inputs, targets), val=val, device=torch.device("cpu"),
                      seed=seed, generator=torch.Generator().manual_seed(seed), rng=np.random.default_rng(seed),
                      budget="smoke", curves=CurveLog())


# -- 4.5 (1): uniformity ------------------------------------------------------------------------------------
def draws(sampler, n: int, sp: SupernetSpec) -> np.ndarray:
    return np.array([genes_of(sampler()) for _ in range(n)])


def uniformity_failures(samples: np.ndarray, levels: int, alpha: float = 0.01) -> tuple[list, list]:
    """Layers whose counts fail chi-square against uniform, and layer pairs whose joint counts fail
    the chi-square test of independence, each at ``alpha`` Bonferroni-corrected over its tests."""
    layers = samples.shape[1]
    per_layer = [stats.chisquare(np.bincount(samples[:, i], minlength=levels)).pvalue for i in range(layers)]
    pairs = list(itertools.combinations(range(layers), 2))
    per_pair = []
    for i, j in pairs:
        table = np.zeros((levels, levels))
        np.add.at(table, (samples[:, i], samples[:, j]), 1)
        per_pair.append(stats.chi2_contingency(table).pvalue)
    return ([i for i, p in enumerate(per_layer) if p < alpha / layers],
            [pair for pair, p in zip(pairs, per_pair) if p < alpha / len(pairs)])


def test_uniform_sampling_passes_chi_square_per_layer_and_pairwise_independence_over_1e5_draws():
    sp = spec(stage_repeats=(4, 4, 8, 4), stem_channels=16, stage_channels=(64, 160, 320, 640), last_channels=1024)
    samples = draws(UniformSampler(sp, np.random.default_rng(0)), 100_000, sp)
    assert samples.shape == (100_000, 20)
    assert uniformity_failures(samples, 4) == ([], [])


def test_the_uniformity_check_catches_a_biased_and_a_dependent_sampler():
    rng = np.random.default_rng(1)
    samples = rng.integers(4, size=(100_000, 20))
    biased = samples.copy()
    biased[:, 3] = np.where(rng.random(100_000) < 0.03, 0, samples[:, 3])  # 3 % extra mass on choice 0
    dependent = samples.copy()
    dependent[:, 7] = np.where(rng.random(100_000) < 0.03, samples[:, 6], samples[:, 7])  # copies its neighbour 3 %
    assert uniformity_failures(biased, 4)[0] == [3]
    assert (6, 7) in uniformity_failures(dependent, 4)[1]


def test_flops_binned_sampler_draws_paths_inside_the_bins():
    sp = spec(stage_repeats=(2, 2, 4, 2))
    costs = PathCosts(sp)
    sampler = FlopsBinnedSampler(sp, np.random.default_rng(0), costs, (0.75, 0.95, 4), tries=500)
    largest = costs.extreme(max)
    macs = [costs(sampler()) for _ in range(300)]
    inside = [0.75 * largest <= m <= 0.95 * largest for m in macs]
    assert sum(inside) == 300 - sampler.misses and sampler.misses < 30


# -- 4.5 (2): only the sampled path moves ------------------------------------------------------------------
def off_path_state(net: SinglePathSupernet, path: Path) -> dict[str, torch.Tensor]:
    state = {**dict(net.named_parameters()), **dict(net.named_buffers())}
    return {k: v.detach().clone() for k, v in state.items()
            if k.startswith("layers.") and int(k.split(".")[2]) != path.choices[int(k.split(".")[1])]}


@pytest.mark.parametrize("channel_search", [False, True])
def test_after_one_step_the_blocks_off_the_path_are_bit_identical(channel_search):
    torch.manual_seed(0)
    sp = spec(channel_search=channel_search, stage_repeats=(1, 1, 2, 1))
    net = SinglePathSupernet(sp)
    x, y = torch.randn(32, 2, 16, 16), torch.randint(3, (32,))
    ctx = ctx_for(x, y)
    cfg = TrainConfig(epochs=1, batch_size=8, lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=False)
    opt = make_optimizer(decay_groups(net, cfg), cfg)
    # momentum everywhere
    fit(net, ctx, cfg, optimizers=[opt], **SinglePathSampling(UniformSampler(sp, ctx.rng)).hooks())
    path = uniform_path(sp, np.random.default_rng(5))
    before, all_before = off_path_state(net, path), {k: v.clone() for k, v in net.state_dict().items()}
    fit(net, ctx, replace(cfg, batches_per_epoch=1), optimizers=[opt], **SinglePathSampling(lambda: path).hooks())
    after = off_path_state(net, path)
    assert before.keys() == after.keys() and len(before) > 40
    assert [k for k in before if not torch.equal(before[k], after[k])] == []
    moved = [k for k, v in net.state_dict().items() if not torch.equal(v, all_before[k])]
    assert any(k.startswith("stem.") for k in moved) and any(k.startswith("layers.") for k in moved)


def test_a_narrower_width_leaves_the_running_statistics_of_the_other_channels_alone():
    sp = spec(channel_search=True, stage_repeats=(1, 1, 2, 1))
    net = SinglePathSupernet(sp).train()
    path = Path((0,) * 5, (0,) * 5)  # scale 0.2 everywhere
    net.set_path(path)
    norm = net.block(1, 0).main.norms[0]  # mid width: 0.2 x 8 of a 1.6 x 8 maximum
    width = sp.widths_of(path)[1]
    net(torch.randn(8, 2, 16, 16))
    assert 0 < width < norm.num_features
    assert not torch.equal(norm.running_mean[:width], torch.zeros(width))
    assert torch.equal(norm.running_mean[width:], torch.zeros(norm.num_features - width))


# -- 4.5 (3, 4): evolution -----------------------------------------------------------------------------------
class PlantedFitness:
    """Error = fraction of genes that differ from a target path; records every call."""

    def __init__(self, target):
        self.target, self.calls = np.array(target), []

    def __call__(self, path: Path) -> float:
        self.calls.append(path)
        return float(np.mean(np.array(genes_of(path)) != self.target))


def test_evolution_respects_the_cap_the_population_size_and_evaluates_each_candidate_once():
    sp = spec(stage_repeats=(2, 2, 4, 2), channel_search=True)
    costs = PathCosts(sp)
    cap = np.median([costs(uniform_path(sp, np.random.default_rng(i))) for i in range(200)])  # rejects half
    fitness = PlantedFitness(genes_of(uniform_path(sp, np.random.default_rng(9))))
    config = EvolutionConfig(population=20, generations=10, top_k=5, mutations=8, crossovers=8)
    search = EvolutionSearch(sp, config, np.random.default_rng(0), fitness, costs, cap)
    ranked = search.run()
    assert all(costs(p) <= cap for p in fitness.calls) and len(search.rejected) > 0
    assert max(search.population_sizes) <= config.population and search.population_sizes[0] == config.population
    assert len(fitness.calls) == len(set(fitness.calls)) == len(search.results)
    rows = search.trajectory
    assert [r["generation"] for r in rows] == list(range(10))
    assert rows[-1]["best_fitness"] < rows[0]["best_fitness"]  # the planted optimum pulls the top-k
    assert ranked[0].error == rows[-1]["best_fitness"] and not any(p in search.results for p in search.rejected)


def test_a_cap_below_the_smallest_path_is_refused_with_the_valid_range():
    sp = spec()
    costs = PathCosts(sp)
    config = SPOSConfig(cost_cap_macs=costs.extreme(min) - 1)
    with pytest.raises(ConfigError, match="below the smallest path"):
        cost_cap(config, costs)
    assert cost_cap(SPOSConfig(cost_cap_fraction=0.9), costs) == pytest.approx(0.9 * costs.extreme(max))


def test_mutation_redraws_each_gene_with_probability_0_1():
    sp = spec(stage_repeats=(4, 4, 8, 4), channel_search=True)  # 20 choice genes of 4, 20 width genes of 8
    rng = np.random.default_rng(0)
    parent = uniform_path(sp, rng)
    children = np.array([genes_of(mutate(sp, parent, 0.1, rng)) for _ in range(5000)])
    changed = children != np.array(genes_of(parent))
    sizes = np.array(gene_sizes(sp))
    expected = 0.1 * (1 - 1 / sizes)  # a redraw may land on the old value
    n = changed.size
    assert abs(changed.mean() - expected.mean()) < 4 * np.sqrt(expected.mean() * (1 - expected.mean()) / n)
    assert abs(changed[:, :20].mean() - 0.075) < 0.006 and abs(changed[:, 20:].mean() - 0.0875) < 0.006


def test_crossover_children_take_every_gene_from_a_parent_about_half_from_each():
    sp = spec(stage_repeats=(4, 4, 8, 4))
    rng = np.random.default_rng(0)
    a, b = uniform_path(sp, rng), uniform_path(sp, rng)
    ga, gb = np.array(genes_of(a)), np.array(genes_of(b))
    children = np.array([genes_of(crossover(sp, a, b, rng)) for _ in range(2000)])
    assert ((children == ga) | (children == gb)).all()
    differing = ga != gb
    assert differing.any()
    assert abs((children[:, differing] == ga[differing]).mean() - 0.5) < 0.03


# -- 4.5 (5): BN recalibration ---------------------------------------------------------------------------------
def test_recalibration_resets_every_bn_and_refills_the_path_with_the_average_statistics():
    torch.manual_seed(0)
    sp = spec(stage_repeats=(1, 1, 2, 1))
    net = SinglePathSupernet(sp)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.running_mean.fill_(7.0)
        m.running_var.fill_(9.0)
        m.num_batches_tracked.fill_(100)
    path = Path((1, 0, 3, 2, 1))
    net.set_path(path)
    batches = [torch.randn(16, 2, 16, 16) * 3 + 1 for _ in range(3)]
    recalibrate_batchnorm(net.eval(), batches)
    stem = net.stem.norms[0]
    outs = [net.stem.convs[0](b) for b in batches]
    expected_mean = torch.stack([o.mean((0, 2, 3)) for o in outs]).mean(0)
    expected_var = torch.stack([o.var((0, 2, 3), unbiased=True) for o in outs]).mean(0)
    torch.testing.assert_close(stem.running_mean, expected_mean, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(stem.running_var, expected_var, rtol=1e-4, atol=1e-5)
    off = net.block(0, 0).main.norms[0]
    assert torch.equal(off.running_mean, torch.zeros_like(off.running_mean)) and int(off.num_batches_tracked) == 0
    assert int(stem.num_batches_tracked) == 3 and all(m.momentum == 0.1 for m in norms) and not net.training


# -- 4.5 (6): sliced widths ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dims,choice,stride,split",
                         [(2, 0, 1, True), (2, 3, 2, False), (1, 2, 1, True), (1, 3, 1, False)])
def test_a_sliced_width_equals_a_standalone_block_with_those_weights(dims, choice, stride, split):
    torch.manual_seed(0)
    inp, out = (16, 16) if split else (8, 16)
    wide = ChoiceBlock(dims, choice, inp, out, stride, max_mid=13, affine=True).train()
    width = 5
    narrow = ChoiceBlock(dims, choice, inp, out, stride, max_mid=width, affine=True).train()
    state = {k: v[tuple(slice(0, n) for n in narrow.state_dict()[k].shape)] for k, v in wide.state_dict().items()}
    with torch.no_grad():
        for p in wide.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # non-trivial BN affine parameters too
        state = {k: v[tuple(slice(0, n) for n in narrow.state_dict()[k].shape)] for k, v in wide.state_dict().items()}
    narrow.load_state_dict(state)
    x = torch.randn(4, inp, *(12,) * dims)
    torch.testing.assert_close(wide(x, width), narrow(x))
    wide.eval(), narrow.eval()
    torch.testing.assert_close(wide(x, width), narrow(x))


def test_the_standalone_network_of_a_path_equals_the_supernet_on_that_path():
    torch.manual_seed(0)
    sp = spec(channel_search=True, stage_repeats=(1, 1, 2, 1))
    net = SinglePathSupernet(sp)
    path = Path((3, 1, 0, 2, 3), (0, 7, 3, 4, 1))
    net.set_path(path)
    recalibrate_batchnorm(net, [torch.randn(8, 2, 16, 16)])
    alone = SinglePathSupernet(sp, path=path)
    missing, unexpected = alone.load_state_dict(sliced_state(net, path), strict=False)
    assert unexpected == [] and all(k.endswith(("weight", "bias")) for k in missing)  # only BN affine
    x = torch.randn(3, 2, 16, 16)
    torch.testing.assert_close(net.eval()(x), alone.eval()(x))


# -- shapes and MACs ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dims,size,form", [(2, (28, 28), "cifar"), (2, (16, 52), "cifar"), (2, (64, 64), "imagenet"),
                                            (1, (32,), "cifar"), (1, (46,), "imagenet"), (1, (1000,), "imagenet")])
def test_1d_and_2d_supernets_of_either_form_give_one_output_per_class(dims, size, form):
    sp = SupernetSpec(dims=dims, in_channels=2, num_outputs=3, input_size=size, stage_repeats=(1, 1, 2, 1), **SMALL_2D)
    assert sp.stem_form == form
    net = SinglePathSupernet(sp)
    net.set_path(uniform_path(sp, np.random.default_rng(0)))
    assert net(torch.randn(2, 2, *size)).shape == (2, 3)


@pytest.mark.parametrize("dims,channel_search", [(2, False), (2, True), (1, True)])
def test_the_mac_table_equals_count_macs_of_the_standalone_network(dims, channel_search):
    sp = spec(dims=dims, size=(40, 40), channel_search=channel_search, stage_repeats=(1, 2, 2, 1))
    costs = PathCosts(sp)
    rng = np.random.default_rng(0)
    for _ in range(3):
        path = uniform_path(sp, rng)
        alone = SinglePathSupernet(sp, path=path)
        assert costs(path) == count_macs(alone, torch.zeros(1, 2, *sp.input_size))
    assert costs.extreme(min) < costs.extreme(max)


def test_the_reference_imagenet_path_has_the_published_size():
    """The reference repo's searched model: 323M FLOPs (multiply-accumulates), 3.5M parameters."""
    sp = SupernetSpec(dims=2, in_channels=3, num_outputs=1000)
    path = Path((2, 1, 0, 1, 2, 0, 2, 0, 2, 0, 2, 3, 0, 0, 0, 0, 3, 2, 3, 3))
    alone = SinglePathSupernet(sp, path=path)
    assert count_macs(alone, torch.zeros(1, 3, 224, 224)) == pytest.approx(323e6, rel=0.002)
    assert count_parameters(alone) == pytest.approx(3.5e6, rel=0.05)


# -- record and method -------------------------------------------------------------------------------------------------
def test_the_record_rebuilds_the_network_and_describes_itself(tmp_path):
    sp = spec(channel_search=True, stage_repeats=(1, 1, 2, 1))
    costs = PathCosts(sp)
    fitness = PlantedFitness(genes_of(uniform_path(sp, np.random.default_rng(3))))
    search = EvolutionSearch(sp, EvolutionConfig(population=6, generations=2, top_k=2, mutations=2, crossovers=2),
                             np.random.default_rng(0), fitness, costs, None)
    ranked = search.run()
    record = json.loads(json.dumps(arch_record(sp, ranked, search, {"cost_cap_macs": None})))
    rebuilt = build_from_record(record)
    assert count_parameters(rebuilt) == record["details"]["params"]
    assert count_macs(rebuilt, torch.zeros(1, 2, 16, 16)) == record["details"]["macs"] == ranked[0].macs
    row = SPOS.describe_record(record)
    assert row["blocks"] == describe_path(record) and row["blocks"].count("|") == 3 and len(row["widths"].split()) == 5
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    assert SPOS.draw_record(record, Figure().add_subplot()) is True


def test_dense_and_token_tasks_are_skipped_with_a_reason():
    assert "dense head" in SPOS.unsupported_reason(TaskShape(2, 3, (85, 85), "dense_regression", 1))
    assert "token" in SPOS.unsupported_reason(TaskShape(1, 1, (2048,), "classes", 10, vocab_size=18))
    assert SPOS.unsupported_reason(TaskShape(1, 4, (1000,), "multilabel", 36)) is None


def test_the_smoke_run_keeps_the_contract_and_logs_the_search_trajectory(isolated_data):
    from nasbench.testing import check_method

    report = check_method("spos", task="fashionmnist", skip=("determinism",))
    assert "fashionmnist" in report.subject


def test_every_budget_validates_and_small_keeps_the_paper_search_space():
    for budget in ("smoke", "small", "paper"):
        default_config(budget).validate()
    small, paper = default_config("small"), default_config("paper")
    assert small.stage_repeats == paper.stage_repeats == (4, 4, 8, 4) and paper.evolution == EvolutionConfig()
    with pytest.raises(ConfigError):
        replace(paper, evolution=replace(paper.evolution, top_k=60)).validate()


def test_the_evolution_rows_are_the_search_signal(tmp_path, toy_plugins):
    from nasbench.analysis.signals import read_signal
    from nasbench.runner import RunRequest, execute, prepare
    from nasbench.store import RunStore

    outcome = execute(prepare(RunRequest("spos", "toy-task", "smoke", 0, ("task.n=96",))), RunStore(tmp_path),
                      log=lambda s: None)
    assert outcome.status == "ok", outcome.manifest.get("error")
    trajectory = json.loads((outcome.run_dir / "arch.json").read_text())["details"]["trajectory"]
    signals = read_signal(outcome.run_dir).set_index("signal")  # generation 0 (random) is the initial state
    assert list(signals.index) == ["best_fitness", "mean_fitness"] and signals["rows"].tolist() == [len(trajectory)] * 2
    assert signals.loc["best_fitness", ["at_init", "at_end"]].tolist() == [trajectory[0]["best_fitness"],
                                                                          trajectory[-1]["best_fitness"]]
