"""The Balanced Mixture of SuperNets against the paper's checks (its Section 2 and Table 5): the pooling
enumerator, the ResNet-20 default reproducing the standard downsampling, IPF to uniform marginals
keeping cross-ratios, balanced model frequencies, the EMA update, the temperature schedule, M = 1 as
uniform single-path sampling, only the sampled supernet moving, and runs through the runner."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from nasbench.analysis.archs import config_key, supernet_scores
from nasbench.config import ConfigError
from nasbench.contracts import RunContext, TaskView
from nasbench.curves import CurveLog
from nasbench.methods.backbones.pooling_resnet import SPACES, PoolingResNet, pool_after_units, pooling_configurations
from nasbench.methods.bms import BMS
from nasbench.methods.bms.balance import (
    balanced_conditional,
    ema_update,
    ipf_balance,
    joint_distribution,
    kl_to_uniform,
    temperature,
)
from nasbench.methods.bms.mixture import BalancedSampler, MixtureOfSupernets
from nasbench.registry import benchmarks, methods, tasks
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.training import SinglePathSampling, TrainConfig, fit

REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference"


# -- the search space (checks 1 and 2) -------------------------------------------------------------
def test_resnet20_space_has_36_configurations_with_the_default_in_table_6_order():
    configs = pooling_configurations(10, 2)
    assert len(configs) == 36 == len(set(configs))
    assert all(len(c) == 3 and min(c) >= 1 and sum(c) == 10 for c in configs)
    assert (4, 3, 3) in configs
    published = pd.read_csv(REFERENCE / "bms_resnet20_cifar10_pooling_ground_truth.csv")
    assert [config_key(c) for c in configs] == list(published["config"])  # the same set, in the same order


@pytest.mark.parametrize("space,size", [("resnet20", 36), ("resnet18", 56), ("resnet50", 560),
                                        ("resnet50-food101", 455), ("resnet18-imagenet", 35)])
def test_table_5_space_sizes(space, size):
    configs = SPACES[space].configurations()
    assert len(configs) == size == math.comb(SPACES[space].units - 1, SPACES[space].poolings)
    assert SPACES[space].default in configs


def test_default_433_reproduces_resnet20_downsampling_and_shapes():
    net = PoolingResNet(SPACES["resnet20"], 2, 3, 10, (4, 3, 3))
    assert pool_after_units((4, 3, 3)) == [3, 6]  # pools before blocks 4 and 7, where ResNet-20 strides
    shapes = net.feature_shapes(torch.randn(2, 3, 32, 32))
    assert shapes == [(2, 16, 32, 32)] * 4 + [(2, 32, 16, 16)] * 3 + [(2, 64, 8, 8)] * 3
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # the same parameters in every configuration (the paper's fixed channel policy), ~0.27 M as ResNet-20
    counts = {sum(p.numel() for p in PoolingResNet(SPACES["resnet20"], 2, 3, 10, c).parameters())
              for c in [(1, 1, 8), (4, 3, 3), (8, 1, 1)]}
    assert len(counts) == 1 and 0.26e6 < counts.pop() < 0.28e6


def test_any_configuration_builds_in_1d_and_2d_and_moves_the_pools():
    for dims, size in ((1, (50,)), (2, (28, 28))):
        net = PoolingResNet(SPACES["resnet20"], dims, 1, 10, (7, 1, 2))
        shapes = net.feature_shapes(torch.randn(2, 1, *size))
        assert [s[2] for s in shapes] == [size[0]] * 7 + [math.ceil(size[0] / 2)] + [math.ceil(size[0] / 4)] * 2
        assert net(torch.randn(2, 1, *size)).shape == (2, 10)
    with pytest.raises(ConfigError, match="not in the resnet20 space"):
        PoolingResNet(SPACES["resnet20"], 2, 1, 10, (5, 5, 1))


# -- IPF (check 3) ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(36, 4), (560, 8), (5, 3)])
def test_ipf_reaches_uniform_marginals_and_keeps_cross_ratios(shape):
    rng = np.random.default_rng(1)
    kernel = rng.uniform(0.05, 3.0, shape)
    balanced = ipf_balance(kernel, tolerance=1e-14, max_sweeps=100_000)
    rows, cols = shape
    assert np.abs(balanced.joint.sum(axis=1) - 1 / rows).max() < 1e-4 / rows
    assert np.abs(balanced.joint.sum(axis=0) - 1 / cols).max() < 1e-4 / cols
    i, j = rng.integers(0, rows, 50), rng.integers(0, rows, 50)
    k, m = rng.integers(0, cols, 50), rng.integers(0, cols, 50)

    def cross(P):
        return P[i, k] * P[j, m] / (P[i, m] * P[j, k])

    np.testing.assert_allclose(cross(balanced.joint), cross(kernel), rtol=1e-8)


def test_ipf_at_the_paper_tolerance_stops_on_kl_and_the_joint_is_eq_3_balanced():
    rng = np.random.default_rng(2)
    a = rng.uniform(0.5, 0.9, (36, 4))
    tau = 1 / 400
    balanced = balanced_conditional(a, tau)
    assert kl_to_uniform(balanced.joint.sum(axis=0)) < 1e-4
    assert balanced.kl < 1e-4 and balanced.sweeps > 0
    np.testing.assert_allclose(balanced.joint.sum(axis=1), 1 / 36, rtol=1e-12)  # ends on a row step: p(c) exact
    np.testing.assert_allclose(balanced.conditional.sum(axis=1), 1.0, rtol=1e-12)
    # the balance of Eq. 3's normalised joint is the same matrix (Sinkhorn's fixed point is unique)
    again = ipf_balance(joint_distribution(a, tau), 1e-13, 100_000)
    tight = balanced_conditional(a, tau, 1e-13, 100_000)
    np.testing.assert_allclose(again.joint, tight.joint, rtol=1e-6, atol=1e-12)


def test_ipf_cap_stops_a_matrix_that_cannot_balance():
    kernel = np.array([[1.0, 1.0], [1.0, 0.0]])  # balanced only in the limit P_11 -> 0: IPF crawls
    balanced = ipf_balance(kernel, tolerance=1e-12, max_sweeps=25)
    assert balanced.sweeps == 25 and balanced.kl > 1e-12
    np.testing.assert_allclose(balanced.joint.sum(axis=1), 0.5)  # it still ends on a row step


# -- sampling (checks 4 and 7) -------------------------------------------------------------------------------
def test_model_frequencies_over_1e5_draws_are_uniform_within_3_sigma():
    configs, models, draws = 36, 4, 100_000
    tau = 0.02  # constant: the balance is computed once and every draw goes through the sampler's own path
    sampler = BalancedSampler(configs, models, draws, np.random.default_rng(3), tau_start=tau,
                              tau_end_factor=tau * models)
    sampler.accuracy[:] = np.random.default_rng(4).uniform(0.5, 0.9, (configs, models))
    sampler.updates += 1
    counts = np.zeros(models)
    for _ in range(draws):
        counts[sampler()[1]] += 1
    p = 1 / models
    sigma = math.sqrt(draws * p * (1 - p))
    assert np.all(np.abs(counts - draws * p) < 3 * sigma), counts
    assert sampler.balance().conditional.max(axis=1).mean() > 0.5  # the conditionals are far from uniform


def test_with_one_model_the_sampler_is_uniform_single_path_sampling():
    sampler = BalancedSampler(36, 1, 1000, np.random.default_rng(7))
    paths = [sampler() for _ in range(20_000)]
    assert {m for _, m in paths} == {0}
    uniform = np.random.default_rng(7).integers(36, size=20_000)  # the uniform draw SPOS makes per choice
    assert [c for c, _ in paths] == uniform.tolist()
    counts = np.bincount([c for c, _ in paths], minlength=36)
    assert stats.chisquare(counts).pvalue > 0.01


# -- EMA and temperature (checks 5 and 6) -----------------------------------------------------------------
def test_ema_update_changes_only_the_sampled_entry_and_matches_eq_2():
    a = np.random.default_rng(5).uniform(0, 1, (36, 4))
    before = a.copy()
    ema_update(a, 7, 2, 0.8, beta=0.9)
    assert a[7, 2] == pytest.approx(0.9 * before[7, 2] + 0.1 * 0.8, abs=1e-15)
    changed = np.argwhere(a != before)
    assert changed.tolist() == [[7, 2]]


def test_sampler_updates_only_the_scored_entry_and_its_first_score_replaces_the_initial_one():
    sampler = BalancedSampler(36, 4, 100, np.random.default_rng(0))
    assert (sampler.accuracy == 1.0).all()  # the authors' code starts every a_{c,m} at 1: p(m | c) uniform
    np.testing.assert_allclose(sampler.balance().conditional, 0.25)
    sampler.update(3, 1, 0.6)
    assert sampler.accuracy[3, 1] == 0.6 and (np.delete(sampler.accuracy.ravel(), 3 * 4 + 1) == 1.0).all()
    sampler.update(3, 1, 0.8)
    assert sampler.accuracy[3, 1] == pytest.approx(0.9 * 0.6 + 0.1 * 0.8)  # Eq. 2 from the second score on
    plain = BalancedSampler(36, 4, 100, np.random.default_rng(0), initial=0.0, first_replaces=False)
    plain.update(3, 1, 0.6)
    assert plain.accuracy[3, 1] == pytest.approx(0.1 * 0.6)  # the paper's Eq. 2 from a zero start


@pytest.mark.parametrize("models", [1, 2, 4, 8])
def test_temperature_is_1_at_the_start_and_1_over_100m_at_the_end(models):
    total = 500
    assert temperature(0, total, models) == 1.0
    assert temperature(total - 1, total, models) == pytest.approx(1 / (100 * models), rel=1e-12)
    steps = [temperature(s, total, models) for s in range(total)]
    assert np.allclose(np.diff(steps), np.diff(steps)[0])  # linear


# -- training the mixture -----------------------------------------------------------------------------------
def _ctx(seed=0, n=96):
    from toy_plugins import ToyTask, ToyTaskConfig

    task = ToyTask(ToyTaskConfig(n=n))
    data = task.load()
    return RunContext(task=TaskView(task), train=data.train, val=data.val, device=torch.device("cpu"), seed=seed,
                      generator=torch.Generator().manual_seed(seed), rng=np.random.default_rng(seed), budget="smoke",
                      curves=CurveLog())


def test_a_step_moves_only_the_sampled_supernet():
    ctx = _ctx()
    configs = SPACES["resnet20"].configurations()
    mixture = MixtureOfSupernets(SPACES["resnet20"], configs, 3, 1, 2, 2)
    fit(mixture, ctx, TrainConfig(epochs=1, batch_size=16, lr=0.1, batches_per_epoch=1), val=ctx.val.subset(4))
    states = [{k: v.clone() for k, v in net.state_dict().items()} for net in mixture.supernets]
    feature = SinglePathSampling(lambda: (5, 1))
    fit(mixture, ctx, TrainConfig(epochs=1, batch_size=16, lr=0.1, weight_decay=1e-3, batches_per_epoch=2),
        val=ctx.val.subset(4), **feature.hooks())
    for m, (net, before) in enumerate(zip(mixture.supernets, states)):
        same = all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
        assert same == (m != 1), m


def test_bms_smoke_run_records_the_choice_the_matrices_and_every_configuration_score(tmp_path, toy_plugins):
    request = RunRequest("bms", "toy-task", "smoke", 0, ("models=2", "task.n=96"))
    outcome = execute(prepare(request), RunStore(tmp_path), log=lambda s: None)
    assert outcome.status == "ok", outcome.manifest.get("error")
    record = json.loads((outcome.run_dir / "arch.json").read_text())
    details = record["details"]
    assert details["mode"] == "search" and details["models"] == 2
    P, a = np.array(details["P"]), np.array(details["a"])
    assert P.shape == a.shape == (36, 2)
    np.testing.assert_allclose(P.sum(axis=1), 1 / 36, rtol=1e-9)
    assert kl_to_uniform(P.sum(axis=0)) < 1e-4
    scores = supernet_scores(record)
    assert len(scores) == 36 and scores["supernet"].notna().all()
    best = max(details["supernet_scores"], key=lambda r: r["score"])
    assert record["choices"]["config"] == best["config"] == details["supernet_scores"][0]["config"]
    assert details["model_index"] == int(np.argmax(details["p_m_given_c"]))
    assert np.array(details["counts"]).sum() > 0 and (a != 1).sum() > 0  # the sampler ran and a moved
    curves = pd.read_csv(outcome.run_dir / "curves.csv")
    search = curves[curves["stage"] == "search"]
    assert len(search) == 3 and {"tau", "ipf_sweeps", "signal_p_m_given_c_max", "signal_score_spread"} <= set(
        search.columns)
    initial = search.iloc[0]  # before the first step: no score yet, p(m | c) uniform over the M = 2 models
    assert (initial["epoch"], initial["signal_score_spread"], initial["signal_p_m_given_c_max"]) == (-1, 0, 0.5)
    assert search["signal_score_spread"].iloc[-1] >= 0
    row = BMS.describe_record(record)
    assert row["config"] == config_key(record["choices"]["config"]) and row["M"] == 2


def test_fixed_configuration_trains_stand_alone_without_a_search(tmp_path, toy_plugins):
    request = RunRequest("bms", "toy-task", "smoke", 1, ("fixed_config=(7, 1, 2)", "task.n=96"))
    outcome = execute(prepare(request), RunStore(tmp_path), log=lambda s: None)
    assert outcome.status == "ok", outcome.manifest.get("error")
    record = json.loads((outcome.run_dir / "arch.json").read_text())
    assert record["choices"] == {"config": [7, 1, 2], "pool_after_unit": [6, 7]}
    assert record["details"] == {"mode": "standalone", "trained_standalone": True}
    curves = pd.read_csv(outcome.run_dir / "curves.csv")
    assert set(curves["stage"]) == {"retrain"}
    with pytest.raises(ConfigError, match="not in the resnet20 space"):
        prepare(RunRequest("bms", "toy-task", "smoke", 0, ("fixed_config=(4, 4, 4)",)))


def test_bms_is_registered_with_its_benchmark_and_draws_its_record():
    assert methods.get("bms") is BMS
    figures = benchmarks.get("bms")().run(log=lambda s: None)
    assert figures["kl_max"] < 1e-4 and figures["bms_ipf_seconds"] > 0
    from matplotlib.figure import Figure

    record = {"choices": {"config": [4, 3, 3]},
              "details": {"supernet_scores": [{"config": list(c), "score": 0.5 + 0.01 * i, "model": i % 2}
                                              for i, c in enumerate(pooling_configurations(10, 2))]}}
    assert BMS.draw_record(record, Figure().subplots()) is True
    assert BMS.draw_record({"details": {}}, Figure().subplots()) is False


def test_dense_and_token_tasks_are_skipped_with_a_reason():
    from nasbench.contracts import TaskShape

    assert "upsampling" in BMS.unsupported_reason(TaskShape(2, 1, (85, 85), "dense_regression", 1))
    assert "token" in BMS.unsupported_reason(TaskShape(1, 1, (100,), "classes", 10, vocab_size=20))
    assert BMS.unsupported_reason(TaskShape(1, 4, (1000,), "classes", 4)) is None
    assert tasks.get("fashionmnist") is not None


@pytest.mark.slow
def test_bms_passes_the_method_contract_checks(tmp_path, isolated_data):
    from nasbench.testing import check_method

    report = check_method("bms", workdir=tmp_path)  # satellite fixture (1D classes): two runs, same seed
    assert {r.name for r in report.results if r.status == "ok"} >= {"record", "test-split", "determinism"}
