"""DASH configuration: the paper's defaults, the per-task search spaces and recipes, and budgets.

Sources: Appendix A.5.2 of the paper [P] and the reference ``src/task_configs.py`` (``get_config``,
``get_hp_configs``) [R]. The paper's per-task table lost
its K and D symbols in extraction; the reference values are used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from nasbench.contracts import TaskShape, TaskView
from nasbench.errors import ConfigError
from nasbench.methods.dash.ops import FORMS
from nasbench.training import TrainConfig, scaled_lr, schedule_steps

K_2D, D_2D = (3, 5, 7, 9), (1, 3, 7, 15)  # [R] get_config, every 2D task but NinaPro
K_1D, D_1D = (3, 7, 11, 15, 19), (1, 3, 7, 15)  # [R] get_config, ECG, Satellite, DeepSEA
BABY_K, BABY_D = (3, 5), (1, 2)  # [P] section 4: the DARTS convolutions (sep/dil 3x3 and 5x5)
MILESTONES_2D = (60, 120, 160)  # [P] A.5.2, lr x0.2 (retraining; the search stops at 100 epochs)
MILESTONES_1D = (30, 60, 90, 120, 160)  # [P] A.5.2 1D retraining; [R] the search too (late binding)


@dataclass(frozen=True)
class TaskRecipe:
    """One task's row of [R] ``get_config``: search space, batch size, learning rates, grad_scale."""

    kernel_sizes: tuple[int, ...]
    dilations: tuple[int, ...]
    batch_size: int
    lrs: tuple[float, float]  # (weights, architecture)
    grad_scale: float


DENSE_LRS, POINT_LRS = (0.01, 0.005), (0.1, 0.05)  # [P] A.5.2, [R] (1e-2, 5e-3) if remain_shape
TASK_RECIPES: dict[str, TaskRecipe] = {  # [R] task_configs.get_config
    "cifar100": TaskRecipe(K_2D, D_2D, 64, POINT_LRS, 5000.0),
    "spherical": TaskRecipe(K_2D, D_2D, 64, POINT_LRS, 500.0),
    "darcyflow": TaskRecipe(K_2D, D_2D, 10, DENSE_LRS, 100.0),
    "psicov": TaskRecipe(K_2D, D_2D, 8, DENSE_LRS, 100.0),
    "cosmic": TaskRecipe(K_2D, D_2D, 4, DENSE_LRS, 1000.0),
    "ninapro": TaskRecipe((3, 5, 7), (1, 3, 7), 128, POINT_LRS, 100.0),
    "fsd50k": TaskRecipe(K_2D, D_2D, 128, POINT_LRS, 100.0),
    "ecg": TaskRecipe(K_1D, D_1D, 1024, POINT_LRS, 100.0),
    "satellite": TaskRecipe(K_1D, D_1D, 256, POINT_LRS, 100.0),
    "deepsea": TaskRecipe(K_1D, D_1D, 256, POINT_LRS, 10.0),
}
# [R] get_hp_configs: the 2D dense tasks PSICOV and Cosmic, and FSD50K, tune a smaller grid
SMALL_GRID_TASKS = ("psicov", "cosmic", "fsd50k")


def fallback_recipe(shape: TaskShape) -> TaskRecipe:
    """A task without a reference row: the 2D or 1D space, and lrs by output kind ([R] ``get_config``'s fallbacks)."""
    space = (K_2D, D_2D) if shape.dims == 2 else (K_1D, D_1D)
    return TaskRecipe(*space, batch_size=64, lrs=DENSE_LRS if shape.dense else POINT_LRS, grad_scale=100.0)


@dataclass(frozen=True)
class TuneConfig:
    """The hyper-parameter grid stage ([P] A.5.2, [R] get_hp_configs and main.py)."""

    epochs: int = 80
    lrs: tuple[float, ...] = (0.1, 0.01, 0.001)
    dropouts: tuple[float, ...] = (0.0, 0.05)
    weight_decays: tuple[float, ...] = (5e-4, 5e-6)
    momenta: tuple[float, ...] = (0.9, 0.99)
    # fraction of the training batches per epoch; None: the reference's rule (0.2 below 50 batches,
    # 0.1 below 100, 0.05 below 500, else 0.01), each epoch taking int(ratio * n) + 1 batches
    subsample: float | None = None
    early_stop: bool = True  # stop when a whole lr of the grid left the best score unchanged [R]

    def validate(self) -> None:
        if self.epochs < 1 or not (self.lrs and self.dropouts and self.weight_decays and self.momenta):
            raise ConfigError(f"dash tune: need epochs >= 1 and a non-empty grid, got {self}")
        if self.subsample is not None and not 0 < self.subsample <= 1:
            raise ConfigError(f"dash tune: subsample must be in (0, 1], got {self.subsample}")


@dataclass(frozen=True)
class DASHConfig:
    kernel_sizes: tuple[int, ...] = K_2D  # K (per task: TASK_RECIPES)
    dilations: tuple[int, ...] = D_2D  # D
    form: Literal["fourier", "mixed-results", "mixed-weights"] = "fourier"  # how the supernet computes
    temperature: float = 1.0  # Gumbel-softmax tau [P] A.5.2
    depth: int = 16  # WRN-16 [P] 3.3
    search_widen: int = 1  # WRN-16-1 for the 2D search [P] 3.3
    retrain_widen: int = 4  # WRN-16-4 for 2D retraining [P] 3.3
    mid_channels: int | None = None  # 1D WRN width; None: min(4 ** (classes // 10 + 1), 64) [P] A.5.1
    causal: bool = True  # 1D WRN padding, search and retraining alike (the 1D WRN's [R]; [A] for the search)
    arch_lr: float = 0.05  # architecture lr (0.005 for dense tasks) [P] A.5.2
    subsample: float = 0.2  # search batches per epoch: int(0.2 n) + 1 [P] A.5.2, [R] quick_search
    grad_conditioning: bool = True  # [R] scale_grad: g / (grad_scale (|g| + 1e-8)) + 1e-5 r
    grad_scale: float = 100.0  # per task [R]
    # the search's gradient clip covers weights and logits together [R main.py train_one_epoch]; False:
    # the weights alone, so the conditioned logit step is not shrunk by the weights' gradient norm
    clip_logits: bool = True
    depthwise_search: bool = True  # [R] --separable 1: in == out convs searched depthwise
    search_val_samples: int | None = None  # supernet scored on at most this many val samples per epoch
    search: TrainConfig = field(default_factory=lambda: TrainConfig(  # [P] A.5.2
        epochs=100, batch_size=64, lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True,
        milestones=MILESTONES_2D, gamma=0.2, grad_clip=1.0))
    tune: TuneConfig = field(default_factory=TuneConfig)
    retrain: TrainConfig = field(default_factory=lambda: TrainConfig(  # [P] A.5.2; lr etc. from tuning
        epochs=200, batch_size=64, lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True,
        milestones=MILESTONES_2D, gamma=0.2, grad_clip=None))

    def validate(self) -> None:
        if not self.kernel_sizes or not self.dilations or len(set(self.kernel_sizes)) != len(self.kernel_sizes):
            raise ConfigError(f"dash: K and D must be non-empty sets, got K={self.kernel_sizes}, D={self.dilations}")
        if any(k < 1 or k % 2 == 0 for k in self.kernel_sizes) or any(d < 1 for d in self.dilations):
            raise ConfigError(f"dash: kernel sizes must be odd (centred 'same' convolutions, as every K of the "
                              f"paper) and dilations >= 1, got K={self.kernel_sizes}, D={self.dilations}")
        if len(set(self.dilations)) != len(self.dilations):
            raise ConfigError(f"dash: dilations must be distinct, got {self.dilations}")
        if self.form not in FORMS or self.temperature <= 0 or not 0 < self.subsample <= 1:
            raise ConfigError(f"dash: form in {FORMS}, temperature > 0, subsample in (0, 1]; got "
                              f"{self.form!r}, {self.temperature}, {self.subsample}")
        if (self.depth - 4) % 6 or min(self.search_widen, self.retrain_widen) < 1:
            raise ConfigError(f"dash: WRN depth must be 6n+4 and widths >= 1, got {self.depth}, "
                              f"{self.search_widen}, {self.retrain_widen}")
        if self.arch_lr <= 0 or self.grad_scale < 0:
            raise ConfigError(f"dash: arch_lr > 0 and grad_scale >= 0, got {self.arch_lr}, {self.grad_scale}")
        for part in (self.search, self.tune, self.retrain):
            part.validate()


# -- budgets --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scale:
    """What ``smoke`` and ``small`` change; ``paper`` changes nothing."""

    search_epochs: int
    tune_epochs: int
    tune_grid: tuple[int, int, int, int]  # keep the first n values of lrs, dropouts, weight_decays, momenta
    tune_subsample: float | None
    retrain_epochs: int
    search_widen: int
    retrain_widen: int
    search_val_samples: int | None
    max_batch_size: int | None = None  # smoke: small batches in every stage


SCALES = {
    "smoke": Scale(search_epochs=1, tune_epochs=1, tune_grid=(2, 1, 1, 1), tune_subsample=None, retrain_epochs=3,
                   search_widen=1, retrain_widen=1, search_val_samples=4, max_batch_size=8),
    "small": Scale(search_epochs=4, tune_epochs=2, tune_grid=(2, 1, 1, 1), tune_subsample=0.15, retrain_epochs=4,
                   search_widen=1, retrain_widen=1, search_val_samples=20),
}


def task_recipe(task: TaskView) -> TaskRecipe:
    return TASK_RECIPES.get(task.name) or fallback_recipe(task.shape)


def paper_config(task: TaskView, baby: bool = False) -> DASHConfig:
    """The paper's pipeline for ``task``: its K, D, batch size, lrs and grad_scale ([R] ``get_config``)."""
    recipe, dims = task_recipe(task), task.shape.dims
    milestones = MILESTONES_2D if dims == 2 else MILESTONES_1D
    base = DASHConfig()
    search = replace(base.search, batch_size=recipe.batch_size, lr=recipe.lrs[0], milestones=milestones)
    retrain = replace(base.retrain, batch_size=recipe.batch_size, milestones=milestones)
    tune = base.tune
    if task.name in SMALL_GRID_TASKS:
        tune = replace(tune, lrs=(1e-2, 1e-3, 1e-4), dropouts=(0.0,), weight_decays=(5e-5,), momenta=(0.99,))
    k, d = (BABY_K, BABY_D) if baby else (recipe.kernel_sizes, recipe.dilations)
    return replace(base, kernel_sizes=k, dilations=d, arch_lr=recipe.lrs[1], grad_scale=recipe.grad_scale,
                   search=search, tune=tune, retrain=retrain)


def scale_config(config: DASHConfig, budget: str) -> DASHConfig:
    if budget not in SCALES:
        return config
    s, t = SCALES[budget], config.tune
    grid = dict(zip(("lrs", "dropouts", "weight_decays", "momenta"),
                    (values[:n] for values, n in zip((t.lrs, t.dropouts, t.weight_decays, t.momenta), s.tune_grid))))
    search = replace(config.search, epochs=s.search_epochs, batch_size=_cap(config.search.batch_size, s))
    arch_lr = scaled_lr(config.arch_lr, search_length(config.search), search_length(search))
    retrain = replace(config.retrain, epochs=s.retrain_epochs, batch_size=_cap(config.retrain.batch_size, s),
                      milestones=scaled_milestones(config.retrain.milestones, s.retrain_epochs))
    # the short search's two rules (package docstring): the paper's lr x steps, the clip on the weights alone
    return replace(config, search_widen=s.search_widen, retrain_widen=s.retrain_widen, search=search, arch_lr=arch_lr,
                   clip_logits=False, search_val_samples=s.search_val_samples, retrain=retrain,
                   tune=replace(t, epochs=s.tune_epochs, subsample=s.tune_subsample, **grid))


def search_length(search: TrainConfig) -> float:
    """The search's architecture steps at the base lr, on any one data set: epochs weighted by the
    lr schedule (the arch optimiser follows it), times batches per epoch, which are int(0.2 n) + 1
    for n = N / batch size, i.e. in proportion to 1 / batch size (the data's N cancels in a ratio)."""
    return schedule_steps(search, 1.0 / search.batch_size)


def _cap(batch_size: int, s: Scale) -> int:
    return min(batch_size, s.max_batch_size) if s.max_batch_size else batch_size


def scaled_milestones(milestones: tuple[int, ...], epochs: int, paper_epochs: int = 200) -> tuple[int, ...]:
    """The paper's milestones moved to the first epoch at or after the same fraction of a shorter
    schedule (60, 120, 160 of 200 -> 2, 3 of 4 epochs; 1, 2 of 3)."""
    return tuple(sorted({math.ceil(m * epochs / paper_epochs) for m in milestones} - {0}))


def budget_notes(budget: str) -> str:
    if budget not in SCALES:
        return ("paper: search 100 epochs on WRN-16-1 (2D) / 1D WRN with int(0.2 n)+1 batches per epoch; tuning "
                "80 epochs per grid point on the reference subsample; retraining 200 epochs of WRN-16-4 (2D) / 1D WRN")
    s = SCALES[budget]
    grid = "x".join(str(n) for n in s.tune_grid)
    cap = f"; batch size at most {s.max_batch_size} in every stage" if s.max_batch_size else ""
    return (f"search: the first {s.search_epochs} of the paper's 100 epochs, on WRN-16-{s.search_widen}, the "
            f"architecture lr scaled to keep the paper's total step length lr x steps (x 68/{s.search_epochs} on 2D "
            f"tasks, x 37.28/{s.search_epochs} on 1D: the paper's epochs weighted by its lr schedule) and the "
            f"gradient clip on the weights alone (paper: weights and logits together); tuning grid: "
            f"the first {grid} values of lr x dropout x wd x momentum (paper 3x2x2x2), "
            f"{s.tune_epochs} epochs each (paper 80) on "
            f"{'the reference subsample' if s.tune_subsample is None else f'{s.tune_subsample:.0%} of the batches'}; "
            f"retraining {s.retrain_epochs} epochs (paper 200, milestones at the same fractions) of "
            f"WRN-16-{s.retrain_widen} (paper WRN-16-4; the 1D WRN is unchanged); supernet validated on "
            f"{s.search_val_samples} samples per epoch{cap}")
