"""The bi-level channel search of FlexCHarts and DMaskingNAS through ``nasbench.training.fit``.

Algorithm 1 of the paper: the training split is cut into two equal halves D_t (weights) and D_s
(channel parameters). Every weight step of ``fit`` on D_t is preceded (``before_step``) by one
first-order architecture step on a batch of D_s: CE + lambda L_cost, Adam on mu (or the logits). At
every epoch end (``epoch_end``) FlexCHarts reallocates the stages whose active range moved, with the
weight optimiser's state; DMaskingNAS lowers its temperature. Both ramp drop-path and set the
noise-free masks that the epoch's validation score uses.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch

from nasbench.arch import example_input
from nasbench.contracts import RunContext, Split, TaskShape
from nasbench.methods.backbones.channel_allocation import WidthMacs, reallocate
from nasbench.methods.backbones.channel_masks import width_grid
from nasbench.methods.backbones.darts_cells import EvalNetwork, default_cell_channels
from nasbench.methods.backbones.width_cells import StageMasks, width_network, width_uses
from nasbench.methods.flexcharts.config import ChannelSearchConfig, DMaskingConfig, FlexCHartsConfig
from nasbench.methods.flexcharts.widths import GaussianWidths, GumbelWidths, StageWidths
from nasbench.training import ArchitectureSteps, epoch_examples, fit, make_optimizer


def build_network(shape: TaskShape, config: ChannelSearchConfig, widths, supernet: bool,
                  auxiliary: bool = False) -> EvalNetwork:
    return width_network(shape.dims, shape.in_channels, shape.num_outputs, widths, stem=config.stem,
                         head=config.head, supernet=supernet, auxiliary=auxiliary, vocab_size=shape.vocab_size)


def stage_range(config: ChannelSearchConfig, base: int, factors: tuple[float, float]) -> list[int]:
    """Grid widths between factors x base (rounded onto the grid, at least min_width and one step)."""
    step, floor = config.grid_step, max(config.min_width, config.grid_step)
    low = max(floor, step * math.ceil(factors[0] * base / step))
    high = max(low, step * math.floor(factors[1] * base / step))
    return width_grid(low, high, step)


def stage_grids(config: ChannelSearchConfig) -> list[list[int]]:
    """The valid widths of every stage: FlexCHarts' whole valid range, DMaskingNAS' candidate range."""
    factors = config.candidate_factors() if isinstance(config, DMaskingConfig) else config.width_range
    return [stage_range(config, b, factors) for b in default_cell_channels(config.base_width, config.cells)]


def make_widths(config: ChannelSearchConfig, generator: torch.Generator) -> StageWidths:
    grids = stage_grids(config)
    if isinstance(config, FlexCHartsConfig):
        bases = default_cell_channels(config.base_width, config.cells)
        return GaussianWidths(grids, config.grid_step, bases, config.sigma_steps * config.grid_step, config.epsilon,
                              config.effective_width)
    assert isinstance(config, DMaskingConfig)
    return GumbelWidths(grids, config.tau, generator)


def search_examples(config: ChannelSearchConfig, train_size: int) -> int:
    """Training examples of the search: the weight steps on D_t and one batch of D_s before each (``halves``)."""
    d_t = train_size // 2
    per_epoch = epoch_examples(d_t, config.search)
    steps = -(-per_epoch // config.search.batch_size)
    return config.search.epochs * (per_epoch + steps * min(config.search.batch_size, train_size - d_t))


def initial_allocation(widths: StageWidths) -> list[int]:
    """FlexCHarts: the top of each active range; DMaskingNAS: the top of each fixed range."""
    if isinstance(widths, GaussianWidths):
        return [widths.active_top(s) for s in range(len(widths.grids))]
    return [grid[-1] for grid in widths.grids]


def halves(split: Split, generator: torch.Generator) -> tuple[Split, Split]:
    """D_t and D_s: a random half each [P] (the paper splits the training set in two equal parts)."""
    order = torch.randperm(len(split), generator=generator)
    cut = len(split) // 2
    parts = []
    for name, idx in (("train_weights", order[:cut]), ("train_widths", order[cut:])):
        idx = idx.sort().values
        parts.append(Split(name, split.inputs[idx], split.targets[idx], split.meta))
    return parts[0], parts[1]


def cost_term(relative: torch.Tensor, form: str) -> torch.Tensor:
    """L_cost of the relative MACs r = MACs(soft widths) / target: |r - 1|, max(r - 1, 0) or (r - 1)^2."""
    if form == "abs":
        return (relative - 1).abs()
    if form == "hinge":
        return torch.relu(relative - 1)
    return (relative - 1) ** 2


@dataclass
class SearchState:
    """What the hooks share during one search."""

    net: EvalNetwork
    masks: StageMasks
    widths: StageWidths
    macs: WidthMacs
    target: float
    allocated: list[int]
    uses: list
    history: dict = field(default_factory=dict)


def build_search(shape: TaskShape, config: ChannelSearchConfig, device: torch.device, generator: torch.Generator,
                 example: torch.Tensor) -> SearchState:
    """The supernet at its initial allocation, the channel parameters, the MACs model and the target."""
    widths = make_widths(config, generator).to(device)
    allocated = initial_allocation(widths)
    net = build_network(shape, config, allocated, supernet=True).to(device)
    uses = width_uses(net)
    macs = WidthMacs(net, [u for stage in uses for u in stage], example[:1].to(device))
    target = macs_target(config, macs)
    history = {"mu0": widths.soft_widths().detach().cpu().tolist(), "final0": widths.final_widths()}
    return SearchState(net, StageMasks(net), widths, macs, target, allocated, uses, history)


def macs_target(config: ChannelSearchConfig, macs: WidthMacs) -> float:
    """The cost term's target: given, or a fraction of the MACs at the stages' initial widths."""
    start = default_cell_channels(config.base_width, config.cells)
    return config.macs_target or config.macs_target_ratio * float(macs(start))


@functools.lru_cache(maxsize=16)
def cost_model(shape: TaskShape, config: ChannelSearchConfig) -> tuple[WidthMacs, float]:
    """The MACs of any stage widths and the search's target for inputs of ``shape``, without a search
    (the control's bound). Built once per shape and config; the build leaves the global generator as it
    was, so that a cached and a first call leave the same state behind."""
    with torch.random.fork_rng(devices=[]):
        net = build_network(shape, config, [grid[-1] for grid in stage_grids(config)], supernet=True)
        macs = WidthMacs(net, [u for stage in width_uses(net) for u in stage], example_input(shape))
    return macs, macs_target(config, macs)


def search_optimizers(state: SearchState, config: ChannelSearchConfig):
    """SGD on the weights (``fit``'s recipe), Adam on the channel parameters [P 5.1]."""
    arch_opt = torch.optim.Adam(state.widths.parameters(), lr=config.arch_lr, betas=config.arch_betas,
                                weight_decay=config.arch_weight_decay)
    return make_optimizer(state.net.parameters(), config.search), arch_opt


def run_search(ctx: RunContext, config: ChannelSearchConfig) -> SearchState:
    d_t, d_s = halves(ctx.train, ctx.generator)
    state = build_search(ctx.task.shape, config, ctx.device, ctx.generator, d_t.inputs[:1])
    weight_opt, arch_opt = search_optimizers(state, config)
    hooks = SearchHooks(ctx.task.loss, ctx.generator, config, state, arch_opt)
    steps = ArchitectureSteps(d_s, config.search.batch_size, hooks.arch_step, ctx.device, ctx.generator)
    fit(state.net, ctx, config.search, train=d_t, optimizers=[weight_opt], **steps.hooks(),
        epoch_end=hooks.epoch_end, epoch_log=hooks.epoch_log, log_initial=True)
    return state


class SearchHooks:
    """The architecture step (for ``ArchitectureSteps``), ``epoch_end`` and ``epoch_log`` of one search;
    ``loss`` is the task's."""

    def __init__(self, loss, generator: torch.Generator, config: ChannelSearchConfig, state: SearchState,
                 arch_opt: torch.optim.Optimizer):
        self.loss, self.generator, self.config, self.state, self.arch_opt = loss, generator, config, state, arch_opt
        self.reallocations = 0
        state.net.drop_path_prob, state.net.generator = 0.0, generator
        self.set_masks(sample=False)

    def set_masks(self, sample: bool) -> None:
        with torch.no_grad():
            widths = self.state.widths
            self.state.masks.set(widths.masks(widths.all_weights(sample), self.state.allocated))

    def relative_cost(self, weights=None) -> torch.Tensor:
        """MACs of the soft effective widths over the target."""
        return self.state.macs(self.state.widths.soft_widths(weights)) / self.state.target

    def arch_step(self, model, xs, ys, inputs, targets) -> None:
        """One first-order step of the channel parameters on a batch of D_s (CE + lambda L_cost), then
        the masks of the weight step (a fresh Gumbel sample for DMaskingNAS)."""
        s = self.state
        self.arch_opt.zero_grad(set_to_none=True)
        weights = s.widths.all_weights(sample=True)  # masks and cost from the same Gumbel sample
        s.masks.set(s.widths.masks(weights, s.allocated))
        trainable = [p for p in model.parameters() if p.requires_grad]
        for p in trainable:  # the step needs no weight gradient: skip computing it
            p.requires_grad_(False)
        try:
            cost = cost_term(self.relative_cost(weights), self.config.cost_form)
            loss = self.loss(model(xs), ys) + self.config.cost_weight * cost
            loss.backward()
        finally:
            for p in trainable:
                p.requires_grad_(True)
        self.arch_opt.step()
        s.widths.clamp_()
        self.set_masks(sample=True)

    def epoch_end(self, model, epoch: int, optimizers) -> None:
        c, s = self.config, self.state
        if isinstance(s.widths, GaussianWidths):
            for stage in range(len(s.allocated)):
                new = s.widths.active_top(stage)
                if new != s.allocated[stage]:
                    reallocate(s.uses[stage], s.allocated[stage], new, optimizers, c.new_channel_init)
                    s.allocated[stage] = model.cells[stage].channels = new
                    self.reallocations += 1
        else:
            s.widths.tau *= c.tau_decay
        done = (epoch + 1) / max(c.search.epochs, 1)
        model.drop_path_prob = c.drop_path * done
        self.set_masks(sample=False)  # the validation score of this epoch, without noise

    @torch.no_grad()
    def epoch_log(self, model) -> dict[str, float]:
        """Curve columns that say whether the search moved."""
        s = self.state
        soft = s.widths.soft_widths()
        final = s.widths.final_widths()
        row = {
            "signal_width_shift": float((soft.cpu() - torch.tensor(s.history["mu0"])).abs().mean()),
            "signal_changed": sum(a != b for a, b in zip(final, s.history["final0"])),
            "signal_decisions": len(final),
            "soft_macs_ratio": float(self.relative_cost()),
            "final_macs_ratio": float(s.macs(final)) / s.target,
            "allocated_channels": sum(s.allocated),
            "reallocations": self.reallocations,
        }
        if isinstance(s.widths, GumbelWidths):
            row["weight_concentration"] = float(torch.stack(
                [s.widths.weights(i).max() for i in range(len(s.allocated))]).mean())
            row["tau"] = s.widths.tau
        return row
