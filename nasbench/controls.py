"""Random-search controls: one implementation, ``random-<method>``, for every method that can sample
its own search space.

Method: random search as a NAS baseline, L. Li and A. Talwalkar, "Random Search and Reproducibility
for Neural Architecture Search", UAI 2019 (arXiv:1902.07638): draw N architectures uniformly from the
space, train each briefly, keep the best on validation data, train it in full. Here it runs in each
method's own space with the method's own recipes, so that a method and its control differ in one
thing only, how the architecture is chosen.

A method gets a control by implementing two classmethods of ``nasbench.contracts.SearchMethod``
(``sample_architecture``, ``search_examples``; ``retrain_recipe`` names its retraining recipe) and
declaring an entry point ``random-<method> = "nasbench.controls:RandomSearchControl"``; the registry
asks ``RandomSearchControl.for_entry_point`` for the class of that name (``control_class``).

What ``random-<method>`` does, stage by stage:
1. search: draw N architectures with the method's ``sample_architecture`` from the run's ``ctx.rng``;
   train each with the method's own ``retrain`` under a proxy recipe (its retraining recipe shortened
   by ``proxy_recipe``); score it on the validation split with the task's metric (a method never holds
   the test split); keep the best (the first of equals; a candidate that diverged scores NaN and never
   wins; if all diverge the run fails);
2. tune: the method's own tune stage (DASH's grid) on the winner, where the method has one;
3. retrain: the method's own retraining of the winner at its full recipe.

The matched budget. The candidates together pass as many training examples through gradient steps as
the method's search does with the same config on the same training split (``search_examples``: weight
and architecture steps alike), that is the same epochs over the data. Why this rule:
- the same CPU time (Li and Talwalkar match GPU hours) is not deterministic per seed: N or the proxy
  length would depend on the machine and its load, and a rerun would draw other candidates;
- the same number of candidate trainings has no meaning for a one-shot search, which trains one supernet;
- examples are computed from the method's config alone, so the control follows every budget and every
  ``--set`` of the method (a longer search gives its control a longer proxy training).
It is a match in data, not in arithmetic: a supernet step costs more than a step of one sampled network
(DARTS mixes 8 operations per edge, DASH |K||D| kernels per convolution), so the control computes less
than the search it is matched to and the match leans towards the method; a control that still wins is
strong evidence. The runner measures both sides' CPU seconds, so reports show the cost as spent. The
stages the two share (tune, retrain) are outside the match: both pay them alike. DNArch learns its
architecture during its one training run and has no retraining, so its control (candidates, then the
winner trained with that same recipe) costs about twice a DNArch run; its space is continuous, and the
control draws every mask parameter uniformly over its range (``methods/dnarch/record.py``).
N is 2 (``smoke``), 4 (``small``) and 8 (``paper``): the suite's choice, since no paper fixes N for these
spaces; more candidates would each get a shorter proxy training, whose ranking is noisier.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar

from torch import nn

from nasbench.contracts import RunContext, SearchMethod, TaskShape, TaskView, samples_its_space
from nasbench.errors import ConfigError, PluginError, TrainingDiverged
from nasbench.registry import methods
from nasbench.training import TrainConfig, evaluate

PREFIX = "random-"
CANDIDATES = {"smoke": 2, "small": 4, "paper": 8}  # N by budget (the suite's choice: module docstring)
CITATION = ("Li & Talwalkar, Random Search and Reproducibility for Neural Architecture Search, UAI 2019, "
            "arXiv:1902.07638")


@dataclass(frozen=True)
class ControlConfig:
    method: Any  # the controlled method's own config (its space, its recipes): --set method.retrain.lr=0.01
    candidates: int = CANDIDATES["paper"]  # N
    search_examples: int | None = None  # the matched budget in examples; None: the method's search's, per run

    def validate(self) -> None:
        if self.candidates < 1 or (self.search_examples is not None and self.search_examples < 1):
            raise ConfigError(f"random-search control: candidates must be >= 1 and search_examples None or >= 1, "
                              f"got candidates={self.candidates}, search_examples={self.search_examples}; "
                              f"e.g. --set candidates=4")
        validate = getattr(self.method, "validate", None)
        if validate is not None:
            validate()


def proxy_recipe(recipe: TrainConfig, examples: int, train_size: int) -> TrainConfig:
    """``recipe`` shortened to about ``examples`` training examples: ceil(examples / batch) steps over
    as few epochs as hold them, the schedule's milestones and warm-up kept at the same fractions."""
    full = max(1, -(-train_size // recipe.batch_size))
    steps = max(1, -(-examples // recipe.batch_size))
    epochs = -(-steps // full)
    per_epoch = -(-steps // epochs)
    fraction = epochs / max(recipe.epochs, 1)
    milestones = tuple(sorted({math.ceil(m * fraction) for m in recipe.milestones} - {0}))
    return replace(recipe, epochs=epochs, batches_per_epoch=None if per_epoch >= full else per_epoch,
                   milestones=milestones, warmup_epochs=int(recipe.warmup_epochs * fraction))


def best_candidate(scores: list[float], direction: str, lr_setting: str = "method.retrain.lr") -> int:
    """The best finite score in the metric's ``direction`` (the first of equals); NaN never wins.
    ``lr_setting``: the setting that lowers the candidates' lr, named when every candidate diverged."""
    finite = [i for i, s in enumerate(scores) if math.isfinite(s)]
    if not finite:
        raise TrainingDiverged(f"random search: all {len(scores)} candidates diverged; lower the candidates' "
                               f"lr (e.g. --set {lr_setting}=0.01)")
    sign = 1.0 if direction == "max" else -1.0
    return max(finite, key=lambda i: (sign * scores[i], -i))


class CandidateCurves:
    """The curve log a candidate trains with: its epochs numbered after the earlier candidates', a
    ``candidate`` column, and ``best_so_far``, the best validation error found so far (error form)."""

    def __init__(self, curves: Any, index: int, offset: int, best: float, to_error: Callable[[float], float],
                 val_key: str):
        self.curves, self.index, self.offset, self.best = curves, index, offset, best
        self.to_error, self.val_key, self.epochs = to_error, val_key, 0

    @property
    def stage(self) -> str:
        return self.curves.stage

    def record(self, epoch: int, **values: float) -> None:
        value = values.get(self.val_key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            self.best = min(self.best, self.to_error(value))
        self.epochs = max(self.epochs, epoch + 1)
        self.curves.record(self.offset + epoch, candidate=self.index, **values,
                           best_so_far=self.best if math.isfinite(self.best) else float("nan"))


class RandomSearchControl(SearchMethod):
    """The control of ``method_cls`` (set by ``control_class``); this base class is never run itself."""

    name = "random-search-control"
    citation = CITATION
    description = ("random-search control of the method it names: its space sampled uniformly, its recipes, a "
                   "matched budget")
    Config = ControlConfig
    method_cls: ClassVar[type[SearchMethod]]

    @classmethod
    def for_entry_point(cls, name: str) -> type["RandomSearchControl"]:
        if not name.startswith(PREFIX):
            raise PluginError(f"a random-search control is named {PREFIX}<method>, got {name!r}")
        return control_class(name[len(PREFIX):])

    def __init__(self, config: ControlConfig):
        config.validate()
        super().__init__(config)
        self.method = self.method_cls(config.method)  # tunes and retrains the winner, as the method does

    @classmethod
    def default_config(cls, budget: str, task: TaskView) -> ControlConfig:
        return ControlConfig(cls.method_cls.default_config(budget, task), CANDIDATES.get(budget, CANDIDATES["paper"]))

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        n = CANDIDATES.get(budget, CANDIDATES["paper"])
        return (f"{n} candidates, each trained with {cls.control_of}'s retraining recipe shortened to 1/{n} of the "
                f"training examples its search sees; the best tuned and retrained as {cls.control_of} does. "
                f"{cls.control_of}: {cls.method_cls.budget_notes(budget)}")

    @classmethod
    def unsupported_reason(cls, shape: TaskShape) -> str | None:
        return cls.method_cls.unsupported_reason(shape)

    @classmethod
    def describe_record(cls, record: dict[str, Any]) -> dict[str, Any]:
        details = record.get("details") or {}
        return {**cls.method_cls.describe_record(record),
                "best candidate": f"{details.get('best', -1) + 1} of {details.get('sampled')}"}

    @classmethod
    def draw_record(cls, record: dict[str, Any], ax: Any) -> bool:
        return cls.method_cls.draw_record(record, ax)

    def search(self, ctx: RunContext) -> dict[str, Any]:
        c, shape = self.config, ctx.task.shape
        matched = c.search_examples or self.method_cls.search_examples(c.method, shape, len(ctx.train))
        recipe = getattr(c.method, self.method_cls.retrain_recipe)
        proxy = proxy_recipe(recipe, -(-matched // c.candidates), len(ctx.train))
        trainer = self.method_cls(replace(c.method, **{self.method_cls.retrain_recipe: proxy}))
        sampled = [self.method_cls.sample_architecture(c.method, shape, ctx.rng) for _ in range(c.candidates)]
        ctx.log(f"{self.name}: {c.candidates} candidates, {proxy.epochs} epoch(s) of "
                f"{proxy.batches_per_epoch or 'all'} batches each ({matched} examples in all, as {self.control_of}'s "
                f"search)")
        scores = self.train_candidates(ctx, trainer, proxy, sampled)
        best = best_candidate(scores, ctx.task.metric.direction)
        ctx.log(f"{self.name}: candidate {best} is the best (val {ctx.task.metric.name} {scores[best]:.4g})")
        facts = {"search_examples": matched, "candidate_examples": -(-matched // c.candidates),
                 "proxy_epochs": proxy.epochs, "proxy_batches_per_epoch": proxy.batches_per_epoch}
        return control_record(self.control_of, sampled, scores, best, facts)

    def train_candidates(self, ctx: RunContext, trainer: SearchMethod, proxy: TrainConfig,
                         sampled: list[dict[str, Any]]) -> list[float]:
        """Train and score every candidate in turn; a candidate that diverges scores NaN."""
        scores, offset, best = [], 0, math.inf
        for index, arch in enumerate(sampled):
            curves = CandidateCurves(ctx.curves, index, offset, best, ctx.task.metric.to_error,
                                     f"val_{ctx.task.metric.name}")
            scores.append(self.score_candidate(replace(ctx, curves=curves), trainer, proxy, arch, index))
            offset += max(curves.epochs, proxy.epochs)
            best = min([best] + ([ctx.task.metric.to_error(scores[-1])] if math.isfinite(scores[-1]) else []))
        return scores

    def score_candidate(self, ctx: RunContext, trainer: SearchMethod, proxy: TrainConfig, arch: dict[str, Any],
                        index: int) -> float:
        try:
            model: nn.Module = trainer.retrain(ctx, arch, {})
        except TrainingDiverged as exc:
            ctx.log(f"{self.name}: candidate {index} diverged ({exc}); it is never chosen")
            return math.nan
        return evaluate(model, ctx, ctx.val, proxy.eval_batch_size)

    def tune(self, ctx: RunContext, arch: dict[str, Any]) -> dict[str, Any]:
        return self.method.tune(ctx, arch)

    def retrain(self, ctx: RunContext, arch: dict[str, Any], hparams: dict[str, Any]) -> nn.Module:
        return self.method.retrain(ctx, arch, hparams)


def control_record(method: str, sampled: list[dict[str, Any]], scores: list[float], best: int,
                   facts: dict[str, Any]) -> dict[str, Any]:
    """The winner's record as the method writes one, its details extended with every candidate."""
    winner = sampled[best]
    candidates = [{"choices": arch.get("choices"), "val_score": score if math.isfinite(score) else None}
                  for arch, score in zip(sampled, scores)]
    details = {**(winner.get("details") or {}), "control_of": method, "sampled": len(sampled), "best": best,
               "candidates": candidates, "matched_budget": facts}
    return {**winner, "details": details}


@functools.cache
def control_class(method: str) -> type[RandomSearchControl]:
    """The ``random-<method>`` class: the control of the registered ``method``."""
    method_cls = methods.get(method)
    if not samples_its_space(method_cls):
        raise PluginError(f"{method!r} has no random-search control: its class does not define the classmethods "
                          f"sample_architecture and search_examples (docs/plugins.md, 'Random-search controls')")
    attrs = {"name": PREFIX + method, "control_of": method, "method_cls": method_cls,
             "has_tune_stage": method_cls.has_tune_stage, "supports_pair_inputs": method_cls.supports_pair_inputs,
             "description": f"random-search control of {method}: its space sampled uniformly, its recipes, a matched "
                            f"budget", "__module__": __name__}
    return type(f"RandomSearchControl[{method}]", (RandomSearchControl,), attrs)
