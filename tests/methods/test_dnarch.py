"""DNArch against the paper's equations and hand computations (spec/methods.md 1.8): mask values
and cut-offs, initial sizes and L_comp = 0, gradients (also through clipped sizes), dynamic ==
static, the identity block, parameter bounds, batch-statistics BatchNorm, the record and the
network it rebuilds, and a smoke run through the command line."""
import json
import math
import os
import subprocess
import sys

import pytest
import torch

from nasbench.analysis.signals import read_signal
from nasbench.arch import count_macs, count_parameters
from nasbench.contracts import TaskShape, TaskView
from nasbench.errors import ConfigError
from nasbench.methods.dnarch import DNArch, DNArchConfig, masks as M
from nasbench.methods.dnarch.complexity import ComplexityModel, complexity_loss, fractional_sum
from nasbench.methods.dnarch.method import build_supernet, complexity_model, complexity_ratio
from nasbench.methods.dnarch.network import DNArchCCNN, MaskSettings
from nasbench.methods.dnarch.record import architecture_record, build_from_record

DARCY = TaskShape(2, 3, (85, 85), "dense_regression", 1)


def tiny(shape, variant="K,R,W,D", width=6, depth=2, **kwargs):
    return DNArchCCNN(shape, width, depth, MaskSettings(variant), kernel_hidden=8, kernel_frequencies=4,
                      omega_0=1.0, **kwargs)


@torch.no_grad()
def shrink(net, seed=0):
    """Move every mask inside its range (kernels, resolutions, widths and depth all shrink)."""
    g = torch.Generator().manual_seed(seed)
    m = net.masks
    m.sigma.copy_(0.15 + 0.4 * torch.rand(m.sigma.shape, generator=g))
    if m.resolution_mu is not None:
        m.resolution_mu.copy_(-0.5 + 1.2 * torch.rand(m.resolution_mu.shape, generator=g))
    if m.width_mu is not None:
        m.width_mu.copy_(-0.7 + 1.4 * torch.rand(m.width_mu.shape, generator=g))
    if m.depth_mu is not None:
        m.depth_mu.fill_(0.45)


# -- masks (check 1) ---------------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [0.03, 0.2, 0.5])
def test_gaussian_mask_equals_threshold_at_its_cutoff_and_is_zero_beyond(sigma):
    s = torch.tensor(sigma, dtype=torch.float64)
    x_t = M.gaussian_cutoff(s)
    assert x_t.item() == pytest.approx(sigma * 2.1460, rel=1e-4)  # sqrt(-2 ln 0.1)
    for x in (x_t, -x_t):
        assert abs(M.gaussian_mask(x, s).item() - 0.1) < 1e-6
        assert M.gaussian_mask(x * (1 + 1e-6), s).item() == 0.0
    assert M.gaussian_mask(torch.tensor(0.0, dtype=torch.float64), s).item() == 1.0


@pytest.mark.parametrize("mu, tau", [(-0.3, 25.0), (0.0, 50.0), (0.9, 8.0)])
def test_sigmoid_mask_equals_threshold_at_its_cutoff_and_is_zero_beyond(mu, tau):
    m = torch.tensor(mu, dtype=torch.float64)
    x_t = M.sigmoid_cutoff(m, tau)
    assert x_t.item() == pytest.approx(mu + 2.1972 / tau, abs=1e-4)  # ln 9 / tau
    assert abs(M.sigmoid_mask(x_t, m, tau).item() - 0.1) < 1e-6
    assert M.sigmoid_mask(x_t + 1e-6, m, tau).item() == 0.0
    assert M.sigmoid_mask(x_t - 1e-3, m, tau).item() > 0.1


def test_bounds_reproduce_the_papers_minimum_sizes():
    for tau, share in ((25, 0.103), (50, 0.051), (100, 0.026)):
        mu_min, mu_max = M.sigmoid_bounds(tau)
        t = torch.tensor
        assert M.sigmoid_mask(t(-1.0), t(mu_min), tau).item() == pytest.approx(0.95)
        assert M.sigmoid_mask(t(1.0), t(mu_max), tau).item() == pytest.approx(0.85)
        assert (M.sigmoid_cutoff(t(mu_min), tau).item() + 1) / 2 == pytest.approx(share, abs=5e-4)
    # 280 channels at tau 25, mask at its lower bound: 29 channels, the smallest width in Table 4
    x_t = M.sigmoid_cutoff(torch.tensor(M.sigmoid_bounds(25)[0]), 25).item()
    assert M.kept_points(x_t, 280) == 29
    assert M.gaussian_cutoff(torch.tensor(M.gaussian_sigma_min(85))).item() == pytest.approx(2 / 84)
    assert M.kept_taps(2 / 84, 85) == 3


def test_kept_counts_are_exactly_the_nonzero_support():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        mu, tau, n = (torch.rand(1, generator=g).item() * 2.4 - 1.2), 25.0, 37
        values = M.sigmoid_mask(M.grid(n), torch.tensor(mu), tau)
        kept = M.kept_points(M.sigmoid_cutoff(torch.tensor(mu), tau).item(), n)
        assert (values[kept:] == 0).all() and (values[: kept - 1] > 0).all()
        sigma, full = torch.rand(1, generator=g).item() * 0.6 + 0.01, 41
        taps = M.kept_taps(M.gaussian_cutoff(torch.tensor(sigma)).item(), full)
        coords = (torch.arange(full) - full // 2) * (2 / (full - 1))
        support = (M.gaussian_mask(coords, torch.tensor(sigma)) > 0).sum().item()
        assert taps in (support, support + 2) and taps % 2 == 1  # +2 only when a tap sits on the cutoff


def test_straight_through_clip_passes_the_gradient():
    size = torch.tensor(300.0, requires_grad=True)
    clipped = M.clip_ste(size, 280.0)
    clipped.backward()
    assert clipped.item() == 280.0 and size.grad.item() == 1.0


# -- initialisation and the complexity loss (checks 2, 3) -------------------------------------------
def test_sizes_at_initialisation_are_the_base_network_and_the_loss_is_zero():
    config = DNArchConfig()
    net = build_supernet(DARCY, config)
    m = net.masks
    assert (m.max_width, m.max_depth, m.full_kernel) == (280, 8, (85, 85))
    torch.testing.assert_close(m.width_sizes(), torch.full((8, 3), 140.0))
    assert m.depth_size().item() == pytest.approx(4.0)
    torch.testing.assert_close(m.resolution_sizes(), torch.full((8,), 85.0 ** 2))
    plans = m.plans()
    assert len(plans) == 4 and all(p.width == (140, 140, 140) and p.resolution == (85, 85) for p in plans)
    assert all(p.taps == (85, 85) for p in plans)  # sigma_0 = 0.5: global kernels
    ratio = complexity_ratio(net, complexity_model(DARCY, config, net))
    assert ratio.item() == pytest.approx(1.0, abs=1e-6) and complexity_loss(ratio).item() < 1e-12
    # the resolution mask weights the highest frequency 0.85
    weight = m.spectral_weight(0, plans[0].keep, static=False)
    assert weight[0, -1].item() == pytest.approx(0.85, abs=1e-5) and weight[0, 0].item() > 0.99


def test_complexity_against_a_hand_computation():
    shape = TaskShape(1, 2, (16,), "classes", 3)
    net = tiny(shape, width=4, depth=2)
    m = net.masks
    with torch.no_grad():
        m.width_mu.copy_(torch.tensor([[0.1, -0.2, 0.3], [0.0, 0.2, -0.1], [0.5, 0.5, 0.5], [-0.3, 0.4, 0.0]]))
        m.resolution_mu[:, 0] = torch.tensor([0.2, 0.6, -0.1, 0.0])
        m.depth_mu.fill_(0.2)
    model = ComplexityModel((16,), 2, 3, False, 8, 4, 2, True)
    ln9 = math.log(9)

    def width(mu):  # Eq. 10, x_T^0 = 0 (the middle of the axis), N = 4, clipped at 8
        return min((mu + ln9 / 25 + 1) / 1 * 4, 8)

    def res(mu):  # Eq. 10 on frequencies, x_T^0 from mu_max, N = 16
        x0 = 1 + math.log(17 / 3) / 50 + ln9 / 50
        return min((mu + ln9 / 50 + 1) / (x0 + 1) * 16, 16)

    def block(r, a, b, c):
        return 16 * a + a * r * math.log(r) + r * (a * b + b * c) + r * (b + c)

    mus = m.width_mu.tolist()
    costs = [block(res(m.resolution_mu[b, 0].item()), *[width(v) for v in mus[b]]) for b in range(4)]
    depth = (0.2 + ln9 / 8 + 1) * 2  # Eq. 10 with x_T^0 = 0, N = 2
    whole = int(depth)
    ends = 16 * 2 * 8 + 2 * 16 * 8 + 16 * 8 + 8 * 3
    target = ends + 2 * block(16, 4, 4, 4)
    expected = (ends + sum(costs[:whole]) + (depth - whole) * costs[whole]) / target
    ratio = model.current(m.resolution_sizes(), m.width_sizes(), m.depth_size()) / model.target()
    assert ratio.item() == pytest.approx(expected, rel=1e-5)
    assert complexity_loss(ratio).item() == pytest.approx((expected - 1) ** 2, rel=1e-4)


def test_complexity_gradient_reaches_every_mask_offset_also_when_clipped():
    shape = TaskShape(2, 2, (10, 12), "dense_regression", 1)
    net = tiny(shape)
    model = ComplexityModel((10, 12), 2, 1, True, 12, 6, 2, True)
    lo, hi = M.sigmoid_bounds(25.0)
    with torch.no_grad():
        net.masks.width_mu[0].fill_(hi)  # size > N_max: clipped at 12
        net.masks.depth_mu.fill_(M.sigmoid_bounds(8.0)[1])  # depth size > D_max: clipped at 4
    assert net.masks.width_sizes()[0].tolist() == [12.0] * 3 and net.masks.depth_size().item() == 4.0
    loss = complexity_loss(model.current(net.masks.resolution_sizes(), net.masks.width_sizes(),
                                         net.masks.depth_size()) / model.target())
    assert loss.item() > 0
    loss.backward()
    m = net.masks
    assert (m.width_mu.grad != 0).all() and (m.resolution_mu.grad != 0).all() and m.depth_mu.grad.item() != 0
    assert m.sigma.grad is None  # kernel size is not part of C (FFT convolutions) [P, App. C]


def test_fractional_depth_interpolates_between_block_counts():
    costs = torch.tensor([1.0, 2.0, 4.0])
    assert fractional_sum(costs, torch.tensor(1.5)).item() == pytest.approx(1.0 + 0.5 * 2.0)
    assert fractional_sum(costs, torch.tensor(3.0)).item() == pytest.approx(7.0)
    depth = torch.tensor(3.0, requires_grad=True)
    fractional_sum(costs, depth).backward()
    assert depth.grad.item() == 4.0  # at D_max the last block stands in: the STE gradient flows


# -- the network (checks 4, 5, 6, 7, 8) --------------------------------------------------------------
@pytest.mark.parametrize("variant", ["K", "K,R", "K,R,W,D"])
@pytest.mark.parametrize("shape", [TaskShape(2, 3, (11, 14), "dense_regression", 2),
                                   TaskShape(1, 2, (20,), "classes", 3)], ids=["2d", "1d"])
def test_dynamic_mode_equals_static_mode(variant, shape):
    torch.manual_seed(0)
    net = tiny(shape, variant)
    shrink(net)
    plans = net.masks.plans()
    if variant == "K,R,W,D":  # the masks really cut something in every dimension
        assert len(plans) < net.masks.max_depth and any(p.width != (12, 12, 12) for p in plans)
        assert any(p.resolution != shape.input_size for p in plans)
    assert any(p.taps != net.masks.full_kernel for p in plans)
    x = torch.randn(4, shape.in_channels, *shape.input_size)
    dynamic = net(x)
    grads = torch.autograd.grad(dynamic.square().sum(), net.architecture_parameters())
    net.mode = "static"
    static = net(x)
    torch.testing.assert_close(dynamic, static, rtol=1e-5, atol=1e-5)
    static_grads = torch.autograd.grad(static.square().sum(), net.architecture_parameters())
    for a, b in zip(grads, static_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_task_loss_gradient_reaches_every_mask_parameter():
    torch.manual_seed(1)
    shape = TaskShape(2, 3, (11, 14), "dense_regression", 2)
    net = tiny(shape)
    shrink(net, seed=3)
    out = net(torch.randn(4, 3, 11, 14))
    out.square().mean().backward()
    m = net.masks
    kept = len(m.plans())
    assert (m.sigma.grad[:kept] != 0).all() and (m.resolution_mu.grad[:kept] != 0).all()
    assert (m.width_mu.grad[:kept] != 0).all() and m.depth_mu.grad.item() != 0
    assert (m.sigma.grad[kept:] == 0).all()  # blocks the depth mask removed are not computed


def test_a_block_whose_depth_mask_is_zero_is_exactly_the_identity():
    torch.manual_seed(2)
    shape = TaskShape(2, 3, (9, 9), "dense_regression", 1)
    net = tiny(shape, mode="static")
    shrink(net)
    m = net.masks
    dropped = m.depth()
    assert dropped < m.max_depth and m.depth_value(dropped).item() == 0.0
    plan = m.static_plans()[dropped]
    x = torch.randn(3, m.max_width, 9, 9)
    kernel, bias = net.kernels(m.static_plans())[dropped]
    masks = {"spectrum": m.spectral_weight(dropped, plan.keep, True), "mid": m.channel_mask(dropped, 1, 12),
             "out": m.channel_mask(dropped, 2, 12), "depth": m.depth_value(dropped)}
    assert torch.equal(net.blocks[dropped](x, kernel, bias, plan, masks, static=True), x)


def test_parameters_pushed_out_of_bounds_are_reset_after_the_step():
    shape = TaskShape(2, 2, (9, 13), "dense_regression", 1)
    net = tiny(shape)
    m = net.masks
    with torch.no_grad():
        m.sigma.fill_(-1.0)
        m.resolution_mu.fill_(5.0)
        m.width_mu.fill_(-5.0)
        m.depth_mu.fill_(5.0)
    m.reset_to_bounds()
    assert m.sigma[:, 0].eq(M.gaussian_sigma_min(9)).all() and m.sigma[:, 1].eq(M.gaussian_sigma_min(13)).all()
    assert m.resolution_mu.eq(M.sigmoid_bounds(50.0)[1]).all() and m.width_mu.eq(M.sigmoid_bounds(25.0)[0]).all()
    assert m.depth_mu.eq(M.sigmoid_bounds(8.0)[1]).all()
    assert all(p.taps == (3, 3) for p in m.plans()) and len(m.plans()) == m.max_depth


def test_batchnorm_uses_batch_statistics_only():
    net = tiny(TaskShape(2, 3, (9, 9), "dense_regression", 1))
    norms = [mod for mod in net.modules() if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm)]
    assert len(norms) == 1 + net.masks.max_depth and not any(n.track_running_stats for n in norms)
    net.eval()
    x = torch.randn(4, 3, 9, 9)
    assert not torch.allclose(net(x)[:2], net(x[:2]))  # eval still normalises with the batch's statistics


# -- method, record and command line (check 9) -------------------------------------------------------
def test_config_defaults_and_variants():
    from nasbench.tasks.nb360.darcyflow import DarcyFlow

    view = TaskView(DarcyFlow(DarcyFlow.default_config("small")))
    paper = DNArch.default_config("paper", view)
    assert (paper.omega_0, paper.complexity_weight, paper.tau_resolution, paper.tau_channel, paper.tau_depth) == \
        (24500.0, 0.1, 50.0, 25.0, 8.0)
    assert paper.uses_complexity_loss and not DNArchConfig(variant="K,R").uses_complexity_loss
    with pytest.raises(ConfigError):
        DNArchConfig(variant="W").validate()
    for variant, width, depth in (("K", 6, 2), ("K,R", 6, 2), ("K,R,W,D", 12, 4)):
        net = tiny(TaskShape(1, 1, (16,), "classes", 2), variant)
        assert (net.masks.max_width, net.masks.max_depth) == (width, depth)
        assert (net.masks.resolution_mu is None) == (variant == "K")


def test_optimizer_puts_masks_in_their_own_group_without_weight_decay():
    method = DNArch(DNArchConfig(mask_lr_ratio=0.5))
    net = tiny(TaskShape(1, 1, (16,), "classes", 2))
    groups = method.optimizer(net).param_groups
    assert groups[1]["lr"] == pytest.approx(0.5 * groups[0]["lr"]) and groups[1]["weight_decay"] == 0.0
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in net.masks.parameters()}


def test_record_rebuilds_a_network_with_the_same_parameters_and_macs():
    torch.manual_seed(4)
    shape = TaskShape(2, 3, (11, 14), "dense_regression", 2)
    config = DNArchConfig(width=6, depth=2, kernel_hidden=8, kernel_frequencies=4, omega_0=1.0)
    net = build_supernet(shape, config)
    shrink(net)
    costs = complexity_model(shape, config, net)
    record = architecture_record(net, config, costs, complexity_ratio(net, costs).item())
    blocks = record["choices"]["blocks"]
    assert record["choices"]["depth"] == len(blocks) == net.masks.depth() < 4
    for block, spec in zip(blocks, net.block_specs()):
        assert set(block) == {"kernel_size", "resolution", "width", "materialised"}
        assert len(block["kernel_size"]) == len(block["resolution"]) == 2 and len(block["width"]) == 3
        assert block["resolution"] == list(spec.resolution) and block["materialised"]["width"] == list(spec.width)
    rebuilt = build_from_record(json.loads(json.dumps(record)), shape)
    assert count_parameters(rebuilt) == record["details"]["materialised_params"] < count_parameters(net)
    example = torch.randn(1, 3, 11, 14)
    assert count_macs(rebuilt, example) == count_macs(net, example) == net.macs(example)
    assert record["cost"]["complexity_ratio"] == pytest.approx(record["cost"]["C_curr"] / record["cost"]["C_target"])


def test_smoke_run_through_the_command_line_writes_the_record(tmp_path, data_root):
    env = {**os.environ, "NASBENCH_DATA": str(data_root)}
    out = subprocess.run([sys.executable, "-m", "nasbench", "run", "dnarch", "darcyflow", "--budget", "smoke",
                          "--results", str(tmp_path), "--set", "task.source=generated-approx"],
                         capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr
    run_dir = tmp_path / "darcyflow" / "dnarch" / "seed=0"
    arch = json.loads((run_dir / "arch.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["metric"]["name"] == "relative_l2"
    assert arch["choices"]["depth"] == len(arch["choices"]["blocks"]) >= 1
    block = arch["choices"]["blocks"][0]
    assert len(block["kernel_size"]) == 2 and len(block["resolution"]) == 2 and len(block["width"]) == 3
    assert 0.5 < arch["cost"]["complexity_ratio"] < 1.5 and arch["cost"]["macs"] > 0
    assert arch["retrain"] is None and manifest["stages"]["retrain"]["wall_s"] < manifest["stages"]["search"]["wall_s"]
    header = (run_dir / "curves.csv").read_text().splitlines()[0].split(",")
    assert "complexity_ratio" in header and "val_relative_l2" in header
    signals = read_signal(run_dir)  # the masks' movement from the row of epoch -1 (initialisation) on
    shift, changed = (signals.set_index("signal").loc[name] for name in ("cutoff_shift", "changed"))
    assert shift.at_init == changed.at_init == 0 and shift.at_end >= 0 and shift.rows >= 2


@pytest.mark.slow
def test_short_training_learns_and_the_complexity_loss_holds_the_size(tmp_path, isolated_data):
    """Three epochs of DNArch_{K,R,W,D} on (approximate) Darcy Flow: the validation error falls, and
    with the complexity loss C_curr / C_target ends nearer 1 than without it (the masks move either way)."""
    from nasbench.runner import RunRequest, execute, prepare
    from nasbench.store import RunStore

    sets = ("task.source=generated-approx", "task.n_train=64", "task.n_val=16", "task.n_test=16",
            "width=16", "train.epochs=3", "train.warmup_epochs=0")
    final = {}
    for loss in (True, False):
        outcome = execute(prepare(RunRequest("dnarch", "darcyflow", "small", 0, (*sets, f"complexity_loss={loss}"))),
                          RunStore(tmp_path / str(loss)), log=lambda s: None)
        assert outcome.status == "ok", outcome.manifest.get("error")
        rows = [r for r in __import__("csv").DictReader((outcome.run_dir / "curves.csv").open()) if r["train_loss"]]
        errors = [float(r["val_relative_l2"]) for r in rows]
        assert errors[-1] < errors[0] and outcome.manifest["metric"]["value"] < 0.5
        final[loss] = float(rows[-1]["complexity_ratio"])
    assert abs(final[True] - 1) < abs(final[False] - 1) and final[False] != 1.0, final
