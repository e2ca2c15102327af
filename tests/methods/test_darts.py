"""DARTS against the paper's definitions (spec/methods.md 3.5 in the issue): one-hot alpha gives the
chosen operation, xi = 0 gives the first-order gradient, the finite-difference HVP equals autograd's
double backward, genotypes are valid, the two optimisers keep to their parameters, the halves are
disjoint and the test split untouched (the contract checks), DARTS_V2 at C = 36 has the paper's 3.3M
parameters, the small budget keeps the paper's architecture step length, and records rebuild and draw."""
import json
import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from nasbench.contracts import Split, TaskShape
from nasbench.methods.backbones import darts_cells as cells
from nasbench.methods.backbones.darts_cells import (
    DARTS_V2,
    NUM_EDGES,
    PRIMITIVES,
    EvalNetwork,
    Genotype,
    MixedOp,
    SearchNetwork,
    count_eval_parameters,
    discretise,
)
from nasbench.methods.darts import DARTS, DARTSConfig
from nasbench.methods.darts.architect import Architect, ExponentiatedGradient, finite_difference_hvp
from nasbench.methods.darts.config import PAPER_ARCH_STEPS, SCALES, scale_config
from nasbench.methods.darts.search import SearchSignal, arch_record, build_eval_network, split_halves
from nasbench.registry import benchmarks, methods
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.testing import check_method
from nasbench.training import ArchitectureSteps, endless_batches


def tiny_search_net(dims=1, mixture="softmax", seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return SearchNetwork(2, 3, C=4, layers=3, dims=dims, mixture=mixture).to(dtype)


def batch(dims=1, n=6, size=8, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, *(size,) * dims, generator=g, dtype=dtype), torch.randint(0, 3, (n,), generator=g)


def sgd(net):
    return torch.optim.SGD(net.weight_parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)


# -- 3.5 (1): one-hot alpha ------------------------------------------------------------------------
@pytest.mark.parametrize("dims,stride", [(1, 1), (1, 2), (2, 1), (2, 2)])
def test_one_hot_mixed_op_equals_the_chosen_operation(dims, stride):
    torch.manual_seed(0)
    mixed = MixedOp(dims, 4, stride).double().eval()
    x = torch.randn(2, 4, *(9,) * dims, dtype=torch.float64)
    for k, name in enumerate(PRIMITIVES):
        expected = mixed.ops[k](x)
        got = mixed(x, F.one_hot(torch.tensor(k), len(PRIMITIVES)).double())
        torch.testing.assert_close(got, expected, rtol=0, atol=0, msg=name)
        assert got.shape[2:] == tuple(math.ceil(9 / stride) for _ in range(dims))  # odd sizes work


# -- 3.5 (2): xi = 0 -------------------------------------------------------------------------------
def test_second_order_with_xi_zero_is_the_validation_gradient():
    net = tiny_search_net()
    (xv, yv), (xt, yt) = batch(seed=1), batch(seed=2)
    architect = Architect(net, F.cross_entropy, sgd(net), DARTSConfig(order=2))
    got = architect.second_order(xv, yv, xt, yt, xi=0.0)
    expected = torch.autograd.grad(F.cross_entropy(net(xv), yv), net.arch_parameters())
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)
    assert all(float(g.abs().max()) > 0 for g in got)


def test_second_order_differs_from_first_order_and_restores_the_weights():
    net = tiny_search_net()
    (xv, yv), (xt, yt) = batch(seed=1), batch(seed=2)
    before = [w.detach().clone() for w in net.weight_parameters()]
    architect = Architect(net, F.cross_entropy, sgd(net), DARTSConfig(order=2))
    second = architect.second_order(xv, yv, xt, yt, xi=0.5)
    first = architect.first_order(xv, yv)
    assert any(not torch.allclose(s, f) for s, f in zip(second, first))
    for w, w0 in zip(net.weight_parameters(), before):
        torch.testing.assert_close(w.detach(), w0, rtol=0, atol=1e-12)


def test_virtual_step_is_the_optimisers_own_sgd_step():
    """w' = w - xi (mu v + g + lambda w) is exactly where torch's SGD (no clipping) moves w."""
    net = tiny_search_net()
    opt = sgd(net)
    x, y = batch(seed=3)
    for _ in range(2):  # a momentum buffer exists after the first step
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    architect = Architect(net, F.cross_entropy, opt, DARTSConfig(order=2))
    torch.manual_seed(0)
    steps = architect.virtual_step(x, y, net.weight_parameters())
    predicted = [w.detach() - 0.025 * s for w, s in zip(net.weight_parameters(), steps)]
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    net.alpha_normal.grad = net.alpha_reduce.grad = None
    opt.step()
    for w, p in zip(net.weight_parameters(), predicted):
        torch.testing.assert_close(w.detach(), p, rtol=1e-9, atol=1e-12)


# -- 3.5 (3): finite-difference HVP ------------------------------------------------------------------
class SmoothMixture(torch.nn.Module):
    """A tiny bi-level model without kinks: two mixed edges over smooth operations (tanh, sigmoid,
    identity), mixed by softmax(alpha) as a DARTS edge is."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.first, self.second = torch.nn.Linear(4, 6), torch.nn.Linear(6, 3)
        self.alpha = torch.nn.Parameter(0.5 * torch.randn(2, 3))

    def weight_parameters(self):
        return list(self.first.parameters()) + list(self.second.parameters())

    def arch_parameters(self):
        return [self.alpha]

    def forward(self, x):
        w = F.softmax(self.alpha, dim=-1)
        mix = lambda h, k: w[k, 0] * torch.tanh(h) + w[k, 1] * torch.sigmoid(h) + w[k, 2] * h  # noqa: E731
        return self.second(mix(self.first(x), 0)) + mix(self.second(mix(self.first(x), 1)), 1)


def double_backward_hvp(net, x, y, vector):
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), net.weight_parameters(), create_graph=True)
    return torch.autograd.grad(grads, net.arch_parameters(), grad_outputs=vector)


def test_finite_difference_hvp_matches_double_backward_at_the_papers_epsilon():
    net = SmoothMixture().double()
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(16, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (16,), generator=g)
    x_val, y_val = torch.randn(16, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (16,), generator=g)
    vector = list(torch.autograd.grad(F.cross_entropy(net(x_val), y_val), net.weight_parameters()))  # as in DARTS
    exact = double_backward_hvp(net, x, y, vector)
    approx = finite_difference_hvp(net, F.cross_entropy, x, y, vector, r=0.01)  # eps = 0.01 / ||v|| [P]
    torch.testing.assert_close(approx[0], exact[0], rtol=1e-2, atol=1e-2 * float(exact[0].abs().max()))
    assert float(exact[0].abs().max()) > 0


def test_finite_difference_hvp_on_the_supernet_matches_double_backward():
    """The supernet's ReLUs and max-pools are kinks: a random direction of norm 0.01 crosses some on
    inputs this small (and in 2D even of norm 1e-4, on 2x2 maps after two reductions), so the check
    takes the 1D supernet and a step (r = 1e-4) that crosses none; the difference is then exact to
    rounding in float64."""
    dims = 1
    net = tiny_search_net(dims=dims)
    x, y = batch(dims=dims, seed=4)
    g = torch.Generator().manual_seed(5)
    vector = [torch.randn(w.shape, generator=g, dtype=w.dtype) for w in net.weight_parameters()]
    exact = double_backward_hvp(net, x, y, vector)
    approx = finite_difference_hvp(net, F.cross_entropy, x, y, vector, r=1e-4)
    for a, e in zip(approx, exact):
        torch.testing.assert_close(a, e, rtol=1e-2, atol=1e-4 * float(e.abs().max()))
        assert float(e.abs().max()) > 0


# -- 3.5 (4): genotypes ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(20))
def test_every_genotype_has_two_distinct_inputs_per_node_and_no_none(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(NUM_EDGES, len(PRIMITIVES), generator=g) * 3
    if seed % 2:
        logits[:, 0] += 10  # 'none' strongest everywhere: still never chosen
    gene = discretise(F.softmax(logits, dim=-1))
    assert len(gene) == 8
    for node in range(4):
        (op_a, a), (op_b, b) = gene[2 * node: 2 * node + 2]
        assert a != b and 0 <= a < node + 2 and 0 <= b < node + 2
        assert "none" not in (op_a, op_b) and {op_a, op_b} <= set(PRIMITIVES)


def test_discretisation_keeps_the_strongest_edges_and_operations():
    w = torch.full((NUM_EDGES, len(PRIMITIVES)), 1 / 8)
    w[0, PRIMITIVES.index("sep_conv_3x3")] = 0.9  # node 0: edges 0 (from c[k-2]) and 1 (from c[k-1])
    w[1, PRIMITIVES.index("max_pool_3x3")] = 0.5
    w[4, PRIMITIVES.index("dil_conv_5x5")] = 0.95  # node 1's edge from node 0 (row 2 + 2)
    w[2, PRIMITIVES.index("skip_connect")] = 0.6
    gene = discretise(w)
    assert gene[:2] == (("sep_conv_3x3", 0), ("max_pool_3x3", 1))
    assert gene[2:4] == (("dil_conv_5x5", 2), ("skip_connect", 0))


# -- 3.5 (5): the optimisers keep to their parameters -----------------------------------------------
def test_weight_and_architecture_steps_move_only_their_own_parameters(tmp_path):
    net = tiny_search_net(dtype=torch.float32)
    opt = sgd(net)
    architect = Architect(net, F.cross_entropy, opt, DARTSConfig(order=2, arch_lr=0.1))
    arch_ids = {id(a) for a in net.arch_parameters()}
    assert not arch_ids & {id(p) for g in opt.param_groups for p in g["params"]}
    assert {id(p) for g in architect.optimizer.param_groups for p in g["params"]} == arch_ids
    (xv, yv), (xt, yt) = batch(seed=1, dtype=torch.float32), batch(seed=2, dtype=torch.float32)
    w0 = [w.detach().clone() for w in net.weight_parameters()]
    a0 = [a.detach().clone() for a in net.arch_parameters()]
    architect.step(net, xv, yv, xt, yt)
    assert all(torch.equal(w.detach(), w_) for w, w_ in zip(net.weight_parameters(), w0))
    assert all(not torch.equal(a.detach(), a_) for a, a_ in zip(net.arch_parameters(), a0))
    a1 = [a.detach().clone() for a in net.arch_parameters()]
    opt.zero_grad()
    F.cross_entropy(net(xt), yt).backward()  # alpha gets a gradient too; only SGD steps
    opt.step()
    assert all(torch.equal(a.detach(), a_) for a, a_ in zip(net.arch_parameters(), a1))
    assert any(not torch.equal(w.detach(), w_) for w, w_ in zip(net.weight_parameters(), w0))


def test_gaea_update_stays_on_the_simplex_and_moves_against_the_gradient():
    net = tiny_search_net(mixture="simplex", dtype=torch.float32)
    torch.testing.assert_close(net.mixture_weights("normal"), torch.full((NUM_EDGES, 8), 1 / 8))
    opt = ExponentiatedGradient(net.arch_parameters(), lr=1.0)
    g = torch.zeros(NUM_EDGES, 8)
    g[:, 3] = -1.0  # lower loss along skip_connect
    net.alpha_normal.grad = g
    opt.step()
    w = net.alpha_normal.detach()
    torch.testing.assert_close(w.sum(-1), torch.ones(NUM_EDGES))
    assert (w > 0).all() and (w.argmax(-1) == 3).all()


# -- 3.5 (6): halves and the loop feature ------------------------------------------------------------
def test_halves_of_the_training_split_are_disjoint_and_cover_it():
    x = torch.arange(101).float().view(-1, 1, 1)
    train = Split("train", x, torch.zeros(101, dtype=torch.long))
    w, a = split_halves(train, 0.5, torch.Generator().manual_seed(0))
    ids_w, ids_a = set(w.inputs.flatten().tolist()), set(a.inputs.flatten().tolist())
    assert not ids_w & ids_a and ids_w | ids_a == set(range(101)) and len(w) == 50
    w, a = split_halves(train, 0.5, torch.Generator().manual_seed(0), limit=20)
    assert len(w) == len(a) == 10 and not set(w.inputs.flatten().tolist()) & set(a.inputs.flatten().tolist())


def test_endless_batches_reshuffle_each_pass_and_architecture_steps_draw_them():
    split = Split("train-arch", torch.arange(10).float().view(-1, 1), torch.arange(10))
    stream = endless_batches(split, 4, torch.Generator().manual_seed(0))
    passes = [torch.cat([next(stream)[1] for _ in range(3)]) for _ in range(2)]  # 4 + 4 + 2 per pass
    assert all(sorted(p.tolist()) == list(range(10)) for p in passes) and passes[0].tolist() != passes[1].tolist()
    seen = []
    feature = ArchitectureSteps(split, 5, lambda m, xa, ya, x, y: seen.append((ya.tolist(), y.tolist())),
                                torch.device("cpu"), torch.Generator().manual_seed(1))
    for _ in range(3):
        feature.before_step(None, torch.zeros(2, 1), torch.tensor([-1, -1]))
    assert feature.steps == 3 and all(len(a) == 5 and b == [-1, -1] for a, b in seen)


def test_contract_checks_pass_and_the_test_split_is_never_read(toy_plugins):
    """check_method: registry, config strictness, a smoke run through the runner, the record, the test
    split never read, no global seeding or clock, the device, and determinism (two runs agree)."""
    report = check_method("darts", task="toy-task", fixture=False, task_overrides=())
    assert report.status("test-split") == "ok" and report.status("determinism") == "ok", str(report)


# -- 3.5 (7): DARTS_V2 at C = 36 ---------------------------------------------------------------------
def test_darts_v2_evaluation_network_has_the_papers_3_3m_parameters():
    net = EvalNetwork(DARTS_V2, 3, 10, C=36, layers=20, auxiliary=True)
    assert abs(count_eval_parameters(net) - 3.3e6) / 3.3e6 < 0.02  # [P] Table 1: 3.3M (aux head not counted)
    assert sum(p.numel() for p in net.parameters()) > count_eval_parameters(net)  # the head exists


def test_evaluation_network_forms_and_auxiliary_logits():
    torch.manual_seed(0)
    net = EvalNetwork(DARTS_V2, 3, 10, C=8, layers=5, auxiliary=True)
    net.train()
    net.drop_path_prob, net.generator = 0.3, torch.Generator().manual_seed(0)
    out = net(torch.randn(4, 3, 28, 28))
    assert out.shape == (4, 10) and net.aux_logits.shape == (4, 10)
    assert net(torch.randn(1, 3, 28, 28)).shape == (1, 10) and net.aux_logits is None  # no statistics of one
    net.eval()
    assert net(torch.randn(2, 3, 28, 28)).shape == (2, 10) and net.aux_logits is None
    dense = EvalNetwork(Genotype(DARTS_V2.normal), 3, 1, C=4, layers=3, dense=True)
    assert dense(torch.randn(2, 3, 13, 13)).shape == (2, 1, 13, 13)
    one_d = EvalNetwork(DARTS_V2, 4, 5, C=4, layers=4, dims=1, auxiliary=True)
    assert one_d(torch.randn(2, 4, 23)).shape == (2, 5) and one_d.aux_logits.shape == (2, 5)
    tokens = SearchNetwork(1, 2, C=4, layers=3, dims=1, vocab_size=20)
    assert tokens(torch.randint(0, 20, (2, 1, 30))).shape == (2, 2)


def test_per_cell_widths_are_settable():
    widths = (6, 10, 12, 8)
    net = SearchNetwork(1, 2, C=4, layers=4, dims=1, cell_channels=widths, stem_channels=10)
    assert tuple(c.channels for c in net.cells) == widths and net(torch.randn(2, 1, 16)).shape == (2, 2)
    assert cells.default_cell_channels(16, 8) == (16, 16, 32, 32, 32, 64, 64, 64)
    ev = EvalNetwork(DARTS_V2, 3, 10, layers=4, cell_channels=(8, 16, 8, 20), head_channels=32)
    assert ev(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    with pytest.raises(ValueError):
        SearchNetwork(1, 2, C=4, layers=4, cell_channels=(4, 4))


# -- budgets, search signal, record ------------------------------------------------------------------
def test_small_budget_keeps_the_papers_architecture_step_length():
    s = SCALES["small"]
    steps = s.search_epochs * s.search_batches
    config = scale_config(DARTSConfig(), "small", dense=False)
    assert config.search.epochs * config.search.batches_per_epoch == steps
    assert config.arch_lr * steps == pytest.approx(3e-4 * PAPER_ARCH_STEPS)
    assert config.gaea_lr * steps == pytest.approx(0.1 * PAPER_ARCH_STEPS)
    assert PAPER_ARCH_STEPS == 50 * 391


def test_search_signal_counts_argmax_changes_and_entropy():
    net = tiny_search_net(dtype=torch.float32)
    signal = SearchSignal(net)
    row = signal(net)
    assert row["signal_changed"] == 0 and row["signal_decisions"] == 28
    assert row["signal_edge_entropy"] == pytest.approx(math.log(8), abs=1e-4)
    with torch.no_grad():
        net.alpha_normal[:3] = 0
        net.alpha_normal[:3, 5] = 10.0
    row = signal(net)
    assert row["edge_entropy_normal"] < math.log(8) - 0.1
    initial = signal.initial["normal"][:3]
    assert row["signal_changed"] == int((initial != 5).sum())


def test_record_rebuilds_its_network_and_describes_and_draws_itself():
    shape = TaskShape(2, 1, (16, 16), "classes", 10)
    c = replace(DARTSConfig(), C=4, layers=3, retrain_C=6, retrain_layers=4)
    net = SearchNetwork(1, 10, C=4, layers=3)
    record = json.loads(json.dumps(arch_record(net, shape, c, {"arch_steps": 0})))
    rebuilt = build_eval_network(shape, record["choices"])
    assert count_eval_parameters(rebuilt) == record["cost"]["eval_params"] > 0 and record["cost"]["eval_macs"] > 0
    probs = record["details"]["mixing_weights"]
    assert set(probs) == {"normal", "reduce"} and len(probs["normal"]) == 14 and len(probs["normal"][0]) == 8
    row = DARTS.describe_record(record)
    assert row["normal"].count("(") == 8 and row["reduce"].count("(") == 8 and row["order"] == 2
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    assert DARTS.draw_record(record, ax) is True
    texts = {t.get_text() for t in ax.texts}
    plt.close(fig)
    assert {"normal cell", "reduction cell", "out"} <= texts


def test_unsupported_shapes_and_registration():
    assert methods.get("darts") is DARTS and "darts" in benchmarks.names()
    assert DARTS.unsupported_reason(TaskShape(3, 1, (4, 4, 4), "classes", 2)) is not None
    assert DARTS.unsupported_reason(TaskShape(1, 1, (32,), "classes", 2, vocab_size=20)) is None


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [("order=2",), ("update='gaea'",), ("order=2", "update='gaea'")])
def test_second_order_and_gaea_runs_through_the_runner(tmp_path, toy_plugins, overrides):
    run = prepare(RunRequest("darts", "toy-task", "smoke", 0, overrides))
    outcome = execute(run, RunStore(tmp_path), log=lambda s: None)
    assert outcome.status == "ok", outcome.manifest.get("error")
    arch = json.loads((outcome.run_dir / "arch.json").read_text())
    assert arch["details"]["search"]["arch_steps"] == 2 and len(arch["choices"]["genotype"]["normal"]) == 8


def test_cosine_schedule_anneals_to_lr_min():
    from nasbench.training import TrainConfig, lr_factor
    cfg = TrainConfig(epochs=50, batch_size=64, lr=0.025, lr_min=0.001, schedule="cosine")
    assert lr_factor(cfg, 0) == pytest.approx(1.0) and 0.025 * lr_factor(cfg, 50) == pytest.approx(0.001)
    assert lr_factor(replace(cfg, lr_min=0.0), 50) == pytest.approx(0.0, abs=1e-12)


def test_a_smoke_run_logs_the_search_signal_from_initialisation(tmp_path, toy_plugins):
    from nasbench.analysis.signals import read_signal

    outcome = execute(prepare(RunRequest("darts", "toy-task", "smoke", 0, ())), RunStore(tmp_path), log=lambda s: None)
    assert outcome.status == "ok", outcome.manifest.get("error")
    signals = read_signal(outcome.run_dir).set_index("signal")
    assert list(signals.index) == ["edge_entropy", "changed", "decisions"] and (signals["rows"] == 2).all()
    assert signals.loc["edge_entropy", "at_init"] == pytest.approx(math.log(8), abs=1e-4)  # uniform mixing
    assert signals.loc["edge_entropy", "at_end"] < signals.loc["edge_entropy", "at_init"]  # the scaled lr moved it
    assert signals.loc["changed", "at_init"] == 0 and signals.loc["decisions", "at_end"] == 28
