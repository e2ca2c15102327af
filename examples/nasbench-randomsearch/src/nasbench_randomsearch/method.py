"""Random search over DASH's kernel/dilation space: the ``randomsearch`` method.

Method: random search as a NAS baseline, L. Li and A. Talwalkar, "Random Search and Reproducibility
for Neural Architecture Search", UAI 2019 (reference implementation:
https://github.com/liamcli/randomNAS_release), applied to the search space of DASH, J. Shen,
M. Khodak and A. Talwalkar, "Efficient Architecture Search for Diverse Tasks", NeurIPS 2022
(https://github.com/sjunhongshen/DASH): every searchable convolution of the WRN backbone takes a
kernel size k in K and a dilation d in D (``space.py``).

Protocol, with a fixed evaluation budget of N candidates:
1. sample N architectures, each layer's (k, d) uniform over K x D, from the run's seeded generator;
2. train each briefly on the training split (WRN-depth-``search_widen`` in 2D, as DASH searches
   on WRN-16-1; the 1D WRN in 1D) and score it on the validation split with the task's metric;
3. keep the best (ties: the first sampled); retrain it on the training split with the retraining
   recipe; the runner evaluates the returned network on the test split.

Departures and choices, since no paper runs this baseline on this space:
- N = 20 candidates of 20 epochs each at ``paper`` is this plugin's choice, not a published value.
- The candidates' brief training and the retraining use the NAS-Bench-360 WRN recipes of the built-in
  ``wrn`` method (SGD, Nesterov; dense 2D tasks: the tuned Darcy Flow recipe), candidates at a
  constant learning rate.
- A candidate whose loss diverges scores as the worst candidate; the search goes on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from nasbench.contracts import RunContext, SearchMethod, TaskShape, TaskView
from nasbench.controls import best_candidate
from nasbench.errors import ConfigError, TrainingDiverged
from nasbench.methods.backbones.records import draw_kernel_dilation, kernel_dilation_frame, kernels_text
from nasbench.methods.backbones.wrn_recipes import DEFAULT_RECIPE, nb360_dropout, nb360_milestones, nb360_recipe
from nasbench.training import TrainConfig, fit
from nasbench_randomsearch.space import (
    D_2D,
    K_2D,
    Backbone,
    Kernels,
    build_network,
    default_space,
    receptive_field,
    sample_kernels,
    searchable_layers,
)


@dataclass(frozen=True)
class RandomSearchConfig:
    kernel_sizes: tuple[int, ...] = K_2D  # K: DASH reference, get_config (1D tasks: (3, 7, 11, 15, 19))
    dilations: tuple[int, ...] = D_2D  # D: DASH reference, get_config
    candidates: int = 20  # N, the evaluation budget (this plugin's choice)
    depth: int = 16  # WRN-16 (NAS-Bench-360 2D backbone)
    search_widen: int = 1  # candidates on WRN-16-1, DASH's search network (DASH 3.3)
    retrain_widen: int = 4  # the winner retrained as WRN-16-4 (NAS-Bench-360)
    mid_channels: int | None = None  # 1D WRN width; None: min(4 ** (classes // 10 + 1), 64)
    causal: bool = True  # 1D WRN padding of the reference
    dropout: float = 0.0  # 0.3 on dense 2D tasks (NAS-Bench-360 pde_retrain.yaml)
    candidate_train: TrainConfig = field(default_factory=lambda: replace(DEFAULT_RECIPE, epochs=20, milestones=()))
    retrain: TrainConfig = field(default_factory=lambda: DEFAULT_RECIPE)

    def validate(self) -> None:
        unique = (len(set(self.kernel_sizes)) == len(self.kernel_sizes)
                  and len(set(self.dilations)) == len(self.dilations))
        if not (self.kernel_sizes and self.dilations and unique):
            raise ConfigError(f"randomsearch: K and D must be non-empty sets, got K={self.kernel_sizes}, "
                              f"D={self.dilations}")
        if any(k < 1 or k % 2 == 0 for k in self.kernel_sizes) or any(d < 1 for d in self.dilations):
            raise ConfigError(f"randomsearch: kernel sizes must be odd ('same' convolutions) and dilations >= 1, "
                              f"got K={self.kernel_sizes}, D={self.dilations}")
        if self.candidates < 1 or self.candidate_train.epochs < 1:
            raise ConfigError(f"randomsearch: need candidates >= 1 and candidate_train.epochs >= 1, got "
                              f"{self.candidates} and {self.candidate_train.epochs}")
        if (self.depth - 4) % 6 or min(self.search_widen, self.retrain_widen) < 1 or not 0 <= self.dropout < 1:
            raise ConfigError(f"randomsearch: WRN depth must be 6n+4, widths >= 1 and dropout in [0, 1); got "
                              f"depth={self.depth}, widths {self.search_widen}/{self.retrain_widen}, "
                              f"dropout={self.dropout}")
        self.candidate_train.validate()
        self.retrain.validate()


@dataclass(frozen=True)
class Scale:
    """What ``smoke`` and ``small`` change; ``paper`` keeps the defaults."""

    candidates: int
    candidate_epochs: int
    depth: int
    retrain_widen: int
    retrain_epochs: int
    candidate_batches: int | None = None  # batches per candidate epoch (None: the whole training split)
    retrain_batches: int | None = None


SCALES = {
    "smoke": Scale(candidates=3, candidate_epochs=1, depth=10, retrain_widen=1, retrain_epochs=2,
                   candidate_batches=2, retrain_batches=2),
    # about DASH's own `small` cost: 20 batches per candidate epoch, as DASH searches on int(0.2 n) + 1
    "small": Scale(candidates=8, candidate_epochs=2, depth=16, retrain_widen=1, retrain_epochs=6, candidate_batches=20),
}


def paper_config(task: TaskView) -> RandomSearchConfig:
    """Defaults for ``task``: DASH's K and D for its dimension, the WRN recipe for its output kind."""
    recipe = nb360_recipe(task.shape)
    kernel_sizes, dilations = default_space(task.shape.dims)
    return RandomSearchConfig(kernel_sizes=kernel_sizes, dilations=dilations, dropout=nb360_dropout(task.shape),
                              candidate_train=replace(recipe, epochs=20, milestones=()), retrain=recipe)


def scale_config(config: RandomSearchConfig, budget: str) -> RandomSearchConfig:
    if budget not in SCALES:
        return config
    s = SCALES[budget]
    candidate = replace(config.candidate_train, epochs=s.candidate_epochs, batches_per_epoch=s.candidate_batches)
    retrain = replace(config.retrain, epochs=s.retrain_epochs, milestones=nb360_milestones(s.retrain_epochs),
                      batches_per_epoch=s.retrain_batches)
    return replace(config, candidates=s.candidates, depth=s.depth, retrain_widen=s.retrain_widen,
                   candidate_train=candidate, retrain=retrain)


class RandomSearch(SearchMethod):
    name = "randomsearch"
    citation = ("Li & Talwalkar, Random Search and Reproducibility for Neural Architecture Search, UAI 2019; "
                "search space of Shen, Khodak & Talwalkar, Efficient Architecture Search for Diverse Tasks "
                "(DASH), NeurIPS 2022")
    Config = RandomSearchConfig
    description = "random search over DASH's kernel/dilation space: N sampled WRNs, the best retrained"

    @classmethod
    def default_config(cls, budget: str, task: TaskView) -> RandomSearchConfig:
        return scale_config(paper_config(task), budget)

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        if budget not in SCALES:
            return ("paper (this plugin's choice, no published protocol): 20 candidates x 20 epochs on WRN-16-1 (2D), "
                    "winner retrained with the NAS-Bench-360 WRN recipe (WRN-16-4, 200 epochs)")
        s = SCALES[budget]
        cap = f" of at most {s.candidate_batches} batches" if s.candidate_batches else ""
        retrain_cap = f" of at most {s.retrain_batches} batches" if s.retrain_batches else ""
        return (f"{s.candidates} candidates (paper 20) x {s.candidate_epochs} epochs{cap} (paper 20 full epochs) on "
                f"WRN-{s.depth}-1; winner retrained {s.retrain_epochs} epochs{retrain_cap} (paper 200) as "
                f"WRN-{s.depth}-{s.retrain_widen} (paper WRN-16-4; the 1D WRN is unchanged)")

    @classmethod
    def unsupported_reason(cls, shape: TaskShape) -> str | None:
        if shape.vocab_size is not None:
            return "the WRN backbones take real-valued inputs, not token ids"
        if shape.dims not in (1, 2):
            return f"the WRN backbones are 1D or 2D, the task is {shape.dims}D"
        return None

    @classmethod
    def describe_record(cls, record: dict[str, Any]) -> dict[str, Any]:
        """The winner's k x d per convolution and which of the sampled candidates it was."""
        details = record.get("details") or {}
        return {"backbone": record.get("backbone"), "kernels (k x d)": kernels_text(record["choices"]["kernels"]),
                "best candidate": f"{details.get('best')} of {details.get('sampled')}"}

    @classmethod
    def draw_record(cls, record: dict[str, Any], ax: Any) -> bool:
        frame = kernel_dilation_frame(record["choices"]["kernels"])
        return draw_kernel_dilation(frame, ax, title="Best sampled kernel size and dilation per layer")

    def backbone(self, widen: int) -> Backbone:
        c = self.config
        return Backbone(depth=c.depth, widen=widen, mid_channels=c.mid_channels, causal=c.causal, dropout=c.dropout)

    def search(self, ctx: RunContext) -> dict[str, Any]:
        c, shape = self.config, ctx.task.shape
        layers = searchable_layers(shape, self.backbone(c.search_widen))
        sampled = [sample_kernels(ctx.rng, layers, c.kernel_sizes, c.dilations) for _ in range(c.candidates)]
        scores = [self.evaluate_candidate(ctx, i, kernels) for i, kernels in enumerate(sampled)]
        best = best_candidate(scores, ctx.task.metric.direction, "candidate_train.lr")
        ctx.log(f"randomsearch: candidate {best} is the best of {len(scores)} "
                f"(val {ctx.task.metric.name} {scores[best]:.4g})")
        return self.arch_record(shape, layers, sampled, scores, best)

    def evaluate_candidate(self, ctx: RunContext, index: int, kernels: Kernels) -> float:
        """Train one candidate briefly on train and return its validation score (nan if it diverged)."""
        model = build_network(ctx.task.shape, self.backbone(self.config.search_widen), kernels)
        try:
            return fit(model, ctx, self.config.candidate_train, epoch_log=lambda _: {"candidate": index})
        except TrainingDiverged as exc:
            ctx.log(f"randomsearch: candidate {index} diverged ({exc}); it scores as the worst")
            return float("nan")

    def arch_record(self, shape: TaskShape, layers: int, sampled: list[Kernels], scores: list[float],
                    best: int) -> dict[str, Any]:
        c, dims = self.config, shape.dims
        size = len(c.kernel_sizes) * len(c.dilations)
        return {
            "backbone": self.backbone(c.retrain_widen).name(dims),
            "search_space": {"id": "dash-kd", "K": list(c.kernel_sizes), "D": list(c.dilations),
                             "candidates_per_layer": size, "layers": layers,
                             "log10_size": round(layers * math.log10(size), 3)},
            "choices": {"kernels": [list(pair) for pair in sampled[best]], "dims": dims,
                        "depth": c.depth if dims == 2 else None, "widen": c.retrain_widen if dims == 2 else None,
                        "mid_channels": c.mid_channels if dims == 1 else None,
                        "causal": c.causal if dims == 1 else None},
            "details": {"search_backbone": self.backbone(c.search_widen).name(dims), "sampled": len(sampled),
                        "best": best, "receptive_fields": [receptive_field(k, d) for k, d in sampled[best]],
                        "candidates": [{"kernels": [list(p) for p in kernels], "val_score": _json_float(score)}
                                       for kernels, score in zip(sampled, scores)]},
        }

    def retrain(self, ctx: RunContext, arch: dict[str, Any], hparams: dict[str, Any]) -> nn.Module:
        kernels = [tuple(pair) for pair in arch["choices"]["kernels"]]
        model = build_network(ctx.task.shape, self.backbone(self.config.retrain_widen), kernels)
        fit(model, ctx, self.config.retrain)
        return model


def _json_float(value: float) -> float | None:
    """A score for the JSON record: nan (a diverged candidate) is written as null."""
    return float(value) if math.isfinite(value) else None
