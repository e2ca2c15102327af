"""Configurations of ``flexcharts`` and ``dmasking``: the paper's defaults, the assumptions, the budgets.

[P] FlexCHarts paper (arXiv:2306.08021) Section 5.1; [A] an assumption of this suite, with its reason
next to it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

from nasbench.errors import ConfigError
from nasbench.training import TrainConfig

SEARCH = TrainConfig(  # [P] 5.1: SGD momentum 0.9, wd 3e-4, clip 5, lr 0.025 cosine to 0, batch 96, 50 epochs
    epochs=50, batch_size=96, lr=0.025, momentum=0.9, weight_decay=3e-4, nesterov=False, schedule="cosine",
    grad_clip=5.0)
RETRAIN = replace(SEARCH, epochs=100)  # [P] 5.1: 100 epochs from scratch, the same SGD settings


@dataclass(frozen=True)
class ChannelSearchConfig:
    """What both channel searches share: the network, the valid widths, the cost term, the recipes."""

    cells: int = 20  # stages, one DARTS_V2 cell each [P] 5.1
    stem: int = 108  # 3x3 stem channels [P] 5.1
    head: int = 256  # 1x1 head channels [P] 5.1
    # initial width of the first stage, doubled at each reduction cell [A]: the DARTS evaluation network
    # (C = 36, stem 3C = 108) that the paper's fixed stem matches
    base_width: int = 36
    grid_step: int = 8  # candidate widths are multiples of the step [A] (UBoostNAS's grid step 8)
    min_width: int = 8  # no stage narrower than this (and than the grid's first point)
    # valid widths of a stage, as factors of its initial width [A]: the paper's DMask-large ranges were lost
    # in the text; this range is also DMask-large's candidate range, so both search the same widths
    width_range: tuple[float, float] = (0.25, 2.0)
    cost_weight: float = 0.5  # lambda of CE + lambda L_cost [A] (the paper's 1e-3..1e-1 weigh latency in ms)
    # the cost: relative MACs of the soft effective widths against the target [A] (a MACs model instead of
    # the paper's latency model: it needs no measurement and is exact for the final network)
    cost_form: Literal["abs", "hinge", "square"] = "abs"
    macs_target_ratio: float = 0.7  # target = this x MACs of the network at its initial widths [A]
    macs_target: float | None = None  # an absolute target (MACs per example) instead of the ratio
    arch_lr: float = 0.1  # Adam for the channel parameters: lr 0.1, betas (0.5, 0.999), wd 0 [P] 5.1
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 0.0
    drop_path: float = 0.2  # rises linearly from 0 to this over the search and the retraining [P] 5.1
    auxiliary_weight: float = 0.4  # auxiliary head at retraining, its loss weight [P] 5.1; 0: no head
    search: TrainConfig = SEARCH
    retrain: TrainConfig = RETRAIN

    def validate(self) -> None:
        name = type(self).__name__
        if self.cells < 1 or self.stem < 1 or self.head < 1:
            raise ConfigError(f"{name}: cells, stem and head must be >= 1, got {self.cells}, {self.stem}, {self.head}")
        if self.grid_step < 2 or self.grid_step % 2 or self.min_width < 2 or self.min_width % 2:
            raise ConfigError(f"{name}: grid_step and min_width must be even and >= 2 (a factorized reduction "
                              f"halves every width), got {self.grid_step}, {self.min_width}")
        low, high = self.width_range
        if not 0 < low <= 1 <= high:
            raise ConfigError(f"{name}: width_range must satisfy 0 < low <= 1 <= high, got {self.width_range}")
        if self.base_width < self.min_width:
            raise ConfigError(f"{name}: base_width {self.base_width} is below min_width {self.min_width}")
        if self.cost_weight < 0 or not 0 < self.macs_target_ratio or (self.macs_target or 1) <= 0:
            raise ConfigError(f"{name}: need cost_weight >= 0 and a positive target, got {self.cost_weight}, "
                              f"{self.macs_target_ratio}, {self.macs_target}")
        if self.arch_lr <= 0 or not 0 <= self.drop_path < 1 or self.auxiliary_weight < 0:
            raise ConfigError(f"{name}: need arch_lr > 0, drop_path in [0, 1) and auxiliary_weight >= 0, got "
                              f"{self.arch_lr}, {self.drop_path}, {self.auxiliary_weight}")
        self.search.validate()
        self.retrain.validate()


@dataclass(frozen=True)
class FlexCHartsConfig(ChannelSearchConfig):
    # sigma of Eq. 4 in grid steps [A]: not reported. One step of 8 channels (0.22 x the first width 36)
    # keeps 7 grid points active (alpha 1, 0.61, 0.14, 0.011 at 0-3 steps from mu); with two steps the
    # active range (mu +- 48) would span the first six stages' whole valid range [16, 72], so FlexCHarts
    # would allocate what DMask-large does there, against the paper's 1.5-1.7x lower search memory
    # (docs/measurements.md). Budgets with a finer grid keep sigma at the same fraction of the widths.
    sigma_steps: float = 1.0
    # active range: grid points with alpha >= epsilon [A], i.e. mu +- 3.03 sigma
    epsilon: float = 0.01
    # new channels at reallocation [A]: "preserving" keeps the output exactly and lets them learn; "zeros"
    # and "default" are the other two forms (see backbones.channel_allocation)
    new_channel_init: Literal["preserving", "zeros", "default"] = "preserving"
    # the widths the cost model sees [A]: "mu", the mean of Eq. 4, whose nearest grid point is the final
    # width (argmax alpha), so the cost of the search is that of the final network up to rounding; or
    # "mean", sum_k w_k f_k, the expected width of the masked stage, which exceeds mu near the bottom of
    # the valid range (the Gaussian is cut there), so the final network falls below the target
    # (docs/measurements.md)
    effective_width: Literal["mu", "mean"] = "mu"

    def validate(self) -> None:
        super().validate()
        if self.sigma_steps <= 0 or not 0 < self.epsilon < 1:
            raise ConfigError(f"flexcharts: need sigma_steps > 0 and epsilon in (0, 1), got {self.sigma_steps}, "
                              f"{self.epsilon}")


@dataclass(frozen=True)
class DMaskingConfig(ChannelSearchConfig):
    candidate_range: Literal["small", "large"] = "large"  # DMask-small or DMask-large [P] 5.2
    # DMask-small's candidates, as factors of the stage's initial width [A] (the paper's Appendix Table 2
    # was lost in the text); DMask-large's are ``width_range``
    small_range: tuple[float, float] = (0.5, 1.5)
    # soft Gumbel-softmax temperature, x tau_decay after every epoch (FBNetV2: 5.0 and 0.956)
    tau: float = 5.0
    tau_decay: float = 0.956

    def validate(self) -> None:
        super().validate()
        if not 0 < self.small_range[0] <= self.small_range[1] or self.tau <= 0 or not 0 < self.tau_decay <= 1:
            raise ConfigError(f"dmasking: need 0 < small_range[0] <= small_range[1], tau > 0, tau_decay in (0, 1]; "
                              f"got {self.small_range}, {self.tau}, {self.tau_decay}")

    def candidate_factors(self) -> tuple[float, float]:
        return self.small_range if self.candidate_range == "small" else self.width_range


# -- budgets ----------------------------------------------------------------------------------------
# What ``smoke`` and ``small`` change (``paper`` changes nothing). small: Fashion-MNIST-sized tasks in
# minutes on a 2-core CPU: 3 cells; grid step 2 (with step 4, rounding the first stage's ~14 channels
# moves the network's MACs by ~10 %) and sigma 2 steps (4 channels, 0.25 x the first width 16, as the
# paper scale's 8 of 36); 2 x 20 search steps; 8 retraining epochs (3 fell short of 0.85
# test accuracy on Fashion-MNIST: docs/measurements.md). smoke: seconds, two search epochs so that one
# reallocation happens. Both take larger steps of the channel parameters (arch_lr) since they take well
# under 1 % of the paper's steps, and use neither drop-path nor the auxiliary head (regularisers for
# 100-epoch trainings that only slow a short one).
SCALES = {
    "smoke": dict(cells=3, stem=8, head=16, base_width=8, grid_step=2, min_width=2, arch_lr=0.3, drop_path=0.0,
                  auxiliary_weight=0.0, sigma_steps=2.0,
                  search=dict(epochs=2, batch_size=16, batches_per_epoch=3, eval_batch_size=64),
                  retrain=dict(epochs=1, batch_size=16, batches_per_epoch=3, eval_batch_size=64)),
    "small": dict(cells=3, stem=16, head=64, base_width=16, grid_step=2, min_width=4, arch_lr=0.3, drop_path=0.0,
                  auxiliary_weight=0.0, sigma_steps=2.0,
                  search=dict(epochs=2, batch_size=64, batches_per_epoch=20, eval_batch_size=256),
                  retrain=dict(epochs=8, batch_size=64, lr=0.05, eval_batch_size=256)),
    "paper": {},
}


def scaled(config: ChannelSearchConfig, budget: str) -> ChannelSearchConfig:
    """``config`` with the budget's changes (those of its fields: sigma is FlexCHarts' only)."""
    scale = {k: v for k, v in SCALES[budget].items() if k in {f.name for f in fields(config)}}
    search, retrain = scale.pop("search", {}), scale.pop("retrain", {})
    return replace(config, search=replace(config.search, **search), retrain=replace(config.retrain, **retrain), **scale)


def budget_notes(budget: str) -> str:
    if budget == "paper":
        return "the paper's protocol: 20 cells, stem 108, head 256, 50 search epochs, 100 retraining epochs"
    s = SCALES[budget]
    search, retrain = s["search"], s["retrain"]
    limit = f" of {search['batches_per_epoch']} batches" if "batches_per_epoch" in search else ""
    return (f"{s['cells']} cells (stem {s['stem']}, head {s['head']}, first width {s['base_width']}, grid step "
            f"{s['grid_step']}, FlexCHarts sigma {s['sigma_steps']:g} steps) instead of 20 (108, 256, 36, 8, 1 step); "
            f"{search['epochs']} search epochs{limit} and "
            f"{retrain['epochs']} retraining epochs (lr {retrain.get('lr', RETRAIN.lr)}) instead of 50 and 100, "
            f"batch {search['batch_size']} instead of 96; channel-parameter lr {s['arch_lr']} instead of 0.1; "
            f"no drop-path (instead of 0 -> 0.2) and no auxiliary head (instead of weight 0.4)")
