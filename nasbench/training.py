"""The one training loop every method uses, and batched prediction.

Methods compute; this loop owns the epoch structure, the optimiser step, gradient clipping, the
per-epoch curve row and the NaN check, so costs are comparable across methods. Methods with extra
terms (an architecture loss, gradient conditioning, parameter bounds) pass hooks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Literal

import torch
from torch import nn

from nasbench import schema
from nasbench.config import ConfigError
from nasbench.contracts import RunContext, Split
from nasbench.errors import TrainingDiverged


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe. ``milestones`` are epochs at which the learning rate is multiplied by
    ``gamma`` (the step schedule of WRN/DASH); ``schedule='cosine'`` anneals to ``lr_min`` instead
    (zero by default; DARTS's search anneals to 0.001); ``schedule='linear'`` decays linearly towards
    zero (SPOS), by epoch: epoch e of E trains at (1 - e / E) of the base rate (after any warm-up)."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    schedule: Literal["step", "cosine", "linear", "constant"] = "step"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.2
    lr_min: float = 0.0  # the cosine schedule's last learning rate
    warmup_epochs: int = 0
    grad_clip: float | None = None
    batches_per_epoch: int | None = None  # None: the whole training split every epoch
    eval_batch_size: int = 64

    def validate(self) -> None:
        """Every range a value must lie in, checked whenever ``--set`` or a study overrides a key (before
        any work), so that a bad value is refused up front rather than failing inside torch."""
        problems = [f"{key}={getattr(self, key)!r} (valid: {valid})" for key, valid, ok in (
            ("epochs", "an integer >= 0", self.epochs >= 0),
            ("batch_size", "an integer >= 1", self.batch_size >= 1),
            ("lr", "a number > 0", math.isfinite(self.lr) and self.lr > 0),
            ("momentum", "0 <= momentum <= 1", 0 <= self.momentum <= 1),
            ("weight_decay", "a number >= 0", math.isfinite(self.weight_decay) and self.weight_decay >= 0),
            ("gamma", "a number > 0", math.isfinite(self.gamma) and self.gamma > 0),
            ("milestones", "epochs >= 0", all(m >= 0 for m in self.milestones)),
            ("warmup_epochs", "an integer >= 0", self.warmup_epochs >= 0),
            ("grad_clip", "None or a number > 0", self.grad_clip is None or self.grad_clip > 0),
            ("batches_per_epoch", "None or an integer >= 1",
             self.batches_per_epoch is None or self.batches_per_epoch >= 1),
            ("eval_batch_size", "an integer >= 1", self.eval_batch_size >= 1),
        ) if not ok]
        if problems:
            raise ConfigError(f"train: {'; '.join(problems)}. Set a valid value with --set train.<key>=<value>.")


def epoch_examples(train_size: int, cfg: TrainConfig) -> int:
    """How many training examples one epoch of ``fit`` under ``cfg`` passes through gradient steps on a
    split of ``train_size`` (``batches_per_epoch`` full batches, or the whole split)."""
    if cfg.batches_per_epoch is None or cfg.batches_per_epoch * cfg.batch_size >= train_size:
        return train_size
    return cfg.batches_per_epoch * cfg.batch_size


def make_optimizer(params: Iterable, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        nesterov = cfg.nesterov and cfg.momentum > 0
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=nesterov)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(cfg: TrainConfig, epoch: float) -> float:
    """Multiplier of the base learning rate at (fractional) ``epoch``."""
    if cfg.warmup_epochs and epoch < cfg.warmup_epochs:
        return (epoch + 1) / (cfg.warmup_epochs + 1)
    if cfg.schedule == "step":
        return cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    if cfg.schedule == "cosine":
        span = max(cfg.epochs - cfg.warmup_epochs, 1)
        floor = cfg.lr_min / cfg.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (epoch - cfg.warmup_epochs) / span))
    if cfg.schedule == "linear":
        span = max(cfg.epochs - cfg.warmup_epochs, 1)
        return 1.0 - (epoch - cfg.warmup_epochs) / span
    return 1.0


def schedule_steps(cfg: TrainConfig, steps_per_epoch: float = 1.0) -> float:
    """Steps at the base learning rate that ``cfg``'s schedule adds up to: the sum over its epochs of
    ``lr_factor`` times the steps per epoch (60 + 40 x 0.2 = 68 epochs' worth for 100 epochs with
    lr x0.2 at epoch 60)."""
    return sum(lr_factor(cfg, epoch) for epoch in range(cfg.epochs)) * steps_per_epoch


def scaled_lr(paper_lr: float, paper_steps: float, steps: float) -> float:
    """The rule that shortens a search without shortening how far its parameters may travel: the
    learning rate that gives ``steps`` the total step length lr x steps of the paper's ``paper_steps``.
    It suits an optimiser whose step does not grow with the gradient's size (Adam, or SGD on a
    normalised gradient, as DASH's conditioning makes it), so each step moves about lr and the
    total is bounded by lr x steps; the budgets of DARTS and DASH use it. No steps: the paper's lr."""
    return paper_lr * paper_steps / steps if steps > 0 else paper_lr


StepHook = Callable[[nn.Module], None]
LossHook = Callable[[nn.Module, torch.Tensor], torch.Tensor]
BatchHook = Callable[[nn.Module, torch.Tensor, torch.Tensor], None]
EpochHook = Callable[[nn.Module, int, list[torch.optim.Optimizer]], None]


class SinglePathSampling:
    """Loop feature: each weight step trains one path of a weight-sharing supernet, drawn afresh.

    Single-path one-shot training (Guo et al., "Single Path One-Shot Neural Architecture Search with
    Uniform Sampling", ECCV 2020, arXiv:1904.00420) and the Balanced Mixture of SuperNets draw a path
    before every step and update only that path. Pass ``**feature.hooks()`` to ``fit``:

    - ``before_step`` calls ``sampler()`` for this step's path (any value: a tuple of choice indices,
      a pooling configuration, ...) and hands it to ``apply(model, path)``, which makes the model
      route its next forward through that path (default: ``model.set_path(path)``). The sampler
      owns the randomness; build it on the run's seeded ``ctx.generator`` or ``ctx.rng``.
    - ``after_backward`` sets every gradient that is exactly zero to None (``drop_zero_grads``), as
      the SPOS reference does, so that momentum and weight decay leave the parameters off the path
      untouched: an optimiser skips a parameter whose gradient is None. Parameters the forward pass
      never touched already have no gradient (``fit`` zeroes with ``set_to_none``); this catches
      those a supernet multiplies by zero or routes through without using.

    BatchNorm buffers off the path stay as they are because their layers do not run. ``path`` is
    the path of the last step, ``steps`` how many paths were drawn. A slice of a tensor that is on
    the path (a narrower width of a max-width weight) is not dropped: the drop is per tensor.
    """

    def __init__(self, sampler: Callable[[], object], apply: Callable[[nn.Module, object], None] | None = None):
        self.sampler, self.apply = sampler, apply or (lambda model, path: model.set_path(path))
        self.path: object = None
        self.steps = 0

    def before_step(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.path = self.sampler()
        self.apply(model, self.path)
        self.steps += 1

    def after_backward(self, model: nn.Module) -> None:
        drop_zero_grads(model)

    def hooks(self) -> dict[str, Callable]:
        """The keyword arguments of ``fit`` that switch the feature on."""
        return {"before_step": self.before_step, "after_backward": self.after_backward}


def drop_zero_grads(model: nn.Module) -> None:
    """Set each gradient that is exactly zero everywhere to None (one device sync for all)."""
    params = [p for p in model.parameters() if p.grad is not None]
    if not params:
        return
    nonzero = torch.stack([p.grad.ne(0).any() for p in params]).tolist()
    for p, keep in zip(params, nonzero):
        if not keep:
            p.grad = None


def fit(
    model: nn.Module,
    ctx: RunContext,
    cfg: TrainConfig,
    *,
    train: Split | None = None,
    val: Split | None = None,
    optimizers: list[torch.optim.Optimizer] | None = None,
    add_loss: LossHook | None = None,
    after_backward: StepHook | None = None,
    after_step: StepHook | None = None,
    before_step: BatchHook | None = None,
    epoch_end: EpochHook | None = None,
    epoch_log: Callable[[nn.Module], dict[str, float]] | None = None,
    log_initial: bool = False,
) -> float:
    """Train ``model`` for ``cfg.epochs`` on ``train`` (default ctx.train); after every epoch, score
    on ``val`` (default ctx.val) and record a curve row. Returns the last validation score.

    ``add_loss(model, task_loss)`` returns the loss to back-propagate (e.g. plus a complexity
    term); ``after_backward`` runs before clipping (gradient conditioning); ``after_step`` runs after
    the optimiser step (parameter bounds); ``epoch_log`` adds columns to the curve row.

    Loop features of the search methods: ``before_step(model, inputs, targets)`` runs before the
    forward pass of every weight step, with that step's (device) batch: an architecture step on a
    batch of another split (DARTS, FlexCHarts, DMasking), or sampling the single path that this step
    trains (SPOS, BMS); ``ArchitectureSteps`` (below) builds the first kind from a split and a step
    function. ``epoch_end(model, epoch, optimizers)`` runs after the last step of an epoch,
    before the validation score: work that may resize parameters and optimiser state (FlexCHarts).

    ``log_initial``: ``epoch_log`` also runs before the first step, and its columns alone make the
    row of epoch ``INITIAL_EPOCH`` (-1): the state at initialisation, which a search signal is read
    against (``nasbench.analysis.signals``)."""
    train, val = train or ctx.train, val or ctx.val
    model.to(ctx.device)
    if log_initial and epoch_log:
        ctx.curves.record(schema.INITIAL_EPOCH, **epoch_log(model))
    optimizers = optimizers or [make_optimizer(model.parameters(), cfg)]
    base_lrs = [[g["lr"] for g in opt.param_groups] for opt in optimizers]
    limit = cfg.batches_per_epoch
    score = float("nan")
    for epoch in range(cfg.epochs):
        for opt, lrs in zip(optimizers, base_lrs):
            for group, lr in zip(opt.param_groups, lrs):
                group["lr"] = lr * lr_factor(cfg, epoch)
        loss_sum, seen = _train_epoch(model, ctx, cfg, train, optimizers, limit, add_loss, after_backward, after_step,
                                      before_step)
        if epoch_end:
            epoch_end(model, epoch, optimizers)
        score = evaluate(model, ctx, val, cfg.eval_batch_size)  # the loss is the mean over batches
        extra = epoch_log(model) if epoch_log else {}
        ctx.curves.record(
            epoch, train_loss=loss_sum / max(seen, 1), **{f"val_{ctx.task.metric.name}": score},
            lr=optimizers[0].param_groups[0]["lr"], **extra,
        )
    return score


def _train_epoch(model, ctx, cfg, train, optimizers, limit, add_loss, after_backward, after_step, before_step):
    model.train()
    loss_sum, seen = 0.0, 0
    for inputs, targets in train.batches(cfg.batch_size, shuffle=True, generator=ctx.generator, limit=limit):
        inputs, targets = inputs.to(ctx.device), targets.to(ctx.device)
        if before_step:
            before_step(model, inputs, targets)
        task_loss = ctx.task.loss(model(inputs), targets)
        loss = add_loss(model, task_loss) if add_loss else task_loss
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"{ctx.curves.stage}: loss is {loss.item()} after {seen} batches")
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        if after_backward:
            after_backward(model)
        if cfg.grad_clip:  # the norm of what the optimisers step (not of parameters another step owns)
            nn.utils.clip_grad_norm_(_stepped_parameters(optimizers), cfg.grad_clip)
        for opt in optimizers:
            opt.step()
        if after_step:
            after_step(model)
        loss_sum += task_loss.item()
        seen += 1
    return loss_sum, seen


def _stepped_parameters(optimizers: list[torch.optim.Optimizer]) -> list[torch.Tensor]:
    return [p for opt in optimizers for group in opt.param_groups for p in group["params"]]


@torch.no_grad()
def predict(model: nn.Module, split: Split, device: torch.device, batch_size: int = 64) -> torch.Tensor:
    """Model outputs for a whole split, in order, on the CPU."""
    model.eval()
    outs = [model(x.to(device)).float().cpu() for x, _ in split.batches(batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)


def evaluate(model: nn.Module, ctx: RunContext, split: Split, batch_size: int = 64) -> float:
    """The task metric of ``model`` on a train or validation split."""
    return ctx.task.score(predict(model, split, ctx.device, batch_size), split)


# -- loop feature: an architecture step on a batch of another split ---------------------------------
def endless_batches(split: Split, batch_size: int, generator: torch.Generator | None = None
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled minibatches of ``split`` without end: a fresh permutation whenever a pass ends."""
    if len(split) == 0:
        raise ValueError(f"split {split.name!r} is empty: no batches to draw")
    while True:
        yield from split.batches(batch_size, shuffle=True, generator=generator)


ArchStep = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], None]


class ArchitectureSteps:
    """Loop feature of bi-level search (DARTS, FlexCHarts, DMasking): before every weight step of
    ``fit``, one architecture step on the next batch of another split.

    ``step(model, arch_inputs, arch_targets, inputs, targets)`` takes the step: it gets the batch of
    ``split`` (the architecture's data, on the device) and the weight step's own batch (second-order
    DARTS unrolls a weight step on it). It owns its optimiser and must leave the weights' gradients
    to ``fit``, which zeroes them before the weight step. The batches come from ``endless_batches``
    on ``generator`` (the run's seeded ``ctx.generator``). Pass ``**feature.hooks()`` to ``fit``;
    ``steps`` counts the architecture steps taken.
    """

    def __init__(self, split: Split, batch_size: int, step: ArchStep, device: torch.device,
                 generator: torch.Generator | None = None):
        self.split, self.step, self.device = split, step, device
        self.batches = endless_batches(split, batch_size, generator)
        self.steps = 0

    def before_step(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        arch_inputs, arch_targets = next(self.batches)
        self.step(model, arch_inputs.to(self.device), arch_targets.to(self.device), inputs, targets)
        self.steps += 1

    def hooks(self) -> dict[str, Callable]:
        """The keyword arguments of ``fit`` that switch the feature on."""
        return {"before_step": self.before_step}
