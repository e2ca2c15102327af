"""DARTS configuration: the paper's CIFAR-10 protocol, NAS-Bench-360's GAEA settings, and budgets.

Sources: section 3 and appendix A of the paper [P] and the reference ``cnn/train_search.py`` and
``cnn/train.py`` [R]; the GAEA update and its learning rate from NAS-Bench-360's GAEA runs
(``darts/gaea-dense/pde_search.yaml``, ``darts_1d/gaea/search/*.yaml``: arch_learning_rate 0.1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from nasbench.contracts import TaskView
from nasbench.errors import ConfigError
from nasbench.training import TrainConfig, scaled_lr

PAPER_SEARCH_EPOCHS, PAPER_SEARCH_BATCH, PAPER_SEARCH_HALF = 50, 64, 25_000  # [P] 3.1.1: half of CIFAR-10's 50k
# architecture steps of the paper's search: one per weight step, 391 per epoch for 50 epochs
PAPER_ARCH_STEPS = PAPER_SEARCH_EPOCHS * math.ceil(PAPER_SEARCH_HALF / PAPER_SEARCH_BATCH)  # 19,550


@dataclass(frozen=True)
class DARTSConfig:
    order: Literal[1, 2] = 2  # 1: xi = 0; 2: xi = the weight lr, finite-difference HVP [P] Table 1 (2.76 %)
    update: Literal["softmax", "gaea"] = "softmax"  # gaea: exponentiated gradient on the simplex
    C: int = 16  # search network: initial channels [P] A.1.1
    layers: int = 8  # search network: cells [P] A.1.1
    train_portion: float = 0.5  # share of the training split that trains w; the rest trains alpha [R]
    search_examples: int | None = None  # at most this many training examples in the search (None: all)
    arch_lr: float = 3e-4  # Adam on alpha [P] A.1.1
    arch_betas: tuple[float, float] = (0.5, 0.999)  # [P] A.1.1
    arch_weight_decay: float = 1e-3  # [P] A.1.1
    gaea_lr: float = 0.1  # exponentiated-gradient step [R NAS-Bench-360 GAEA]
    hvp_epsilon: float = 0.01  # finite-difference step: epsilon = 0.01 / ||grad_w' L_val|| [P] eq. 8
    search_val_samples: int | None = None  # the supernet's per-epoch validation on at most this many
    search: TrainConfig = field(default_factory=lambda: TrainConfig(  # [P] A.1.1, [R] train_search.py
        epochs=PAPER_SEARCH_EPOCHS, batch_size=PAPER_SEARCH_BATCH, lr=0.025, lr_min=0.001, momentum=0.9,
        weight_decay=3e-4, nesterov=False, schedule="cosine", grad_clip=5.0, eval_batch_size=128))
    retrain_C: int = 36  # [P] A.1.2: 20 cells, 36 initial channels
    retrain_layers: int = 20
    auxiliary: bool = True  # auxiliary head after cell 2L/3 [P] A.1.2
    auxiliary_weight: float = 0.4  # [P] A.1.2
    drop_path: float = 0.2  # path dropout, ramped linearly over the epochs [P] A.1.2, [R] train.py
    retrain: TrainConfig = field(default_factory=lambda: TrainConfig(  # [P] A.1.2, [R] train.py
        epochs=600, batch_size=96, lr=0.025, momentum=0.9, weight_decay=3e-4, nesterov=False,
        schedule="cosine", grad_clip=5.0, eval_batch_size=128))

    def validate(self) -> None:
        if self.order not in (1, 2) or self.update not in ("softmax", "gaea"):
            raise ConfigError(f"darts: order must be 1 or 2 and update 'softmax' or 'gaea', got order={self.order!r}, "
                              f"update={self.update!r}; e.g. --set order=1 --set update=gaea")
        if min(self.C, self.layers, self.retrain_C, self.retrain_layers) < 1 or self.C % 2 or self.retrain_C % 2:
            raise ConfigError(f"darts: C and retrain_C must be even (FactorizedReduce halves them) and every size "
                              f">= 1, got C={self.C}, layers={self.layers}, retrain_C={self.retrain_C}, "
                              f"retrain_layers={self.retrain_layers}")
        if not 0 < self.train_portion < 1 or (self.search_examples is not None and self.search_examples < 2):
            raise ConfigError(f"darts: train_portion must be in (0, 1) and search_examples None or >= 2, got "
                              f"{self.train_portion}, {self.search_examples}")
        if min(self.arch_lr, self.gaea_lr, self.hvp_epsilon) <= 0 or not 0 <= self.drop_path < 1:
            raise ConfigError(f"darts: arch_lr, gaea_lr, hvp_epsilon > 0 and drop_path in [0, 1); got {self.arch_lr}, "
                              f"{self.gaea_lr}, {self.hvp_epsilon}, {self.drop_path}")
        self.search.validate()
        self.retrain.validate()


# -- budgets --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scale:
    """What ``smoke`` and ``small`` change; ``paper`` changes nothing. The search takes
    ``search_epochs x search_batches`` steps; the architecture learning rates keep the paper's total
    step length (``scaled_arch_lr``), so alpha can travel as far as in the paper's 19,550 steps."""

    order: int
    C: int
    layers: int
    search_epochs: int
    search_batches: int  # weight (and architecture) steps per search epoch
    search_batch_size: int
    search_val_samples: int
    retrain_C: int
    retrain_layers: int
    retrain_epochs: int
    retrain_batch_size: int
    # a short retraining fits rather than regularises: no path dropout, a larger lr (None: the paper's)
    retrain_drop_path: float | None = None
    retrain_lr: float | None = None


SCALES = {
    "smoke": Scale(order=1, C=4, layers=3, search_epochs=1, search_batches=2, search_batch_size=4,
                   search_val_samples=4, retrain_C=4, retrain_layers=3, retrain_epochs=2, retrain_batch_size=8),
    "small": Scale(order=1, C=8, layers=5, search_epochs=2, search_batches=20, search_batch_size=16,
                   search_val_samples=64, retrain_C=16, retrain_layers=5, retrain_epochs=4, retrain_batch_size=64,
                   retrain_drop_path=0.0, retrain_lr=0.05),
}
# dense tasks keep every cell at the input's resolution (85 x 85 on Darcy Flow): one supernet step
# costs about 20 times a 28 x 28 one, so the small budget searches 2 cells and retrains 3 narrow ones,
# with the GAEA-dense batch of 4 and more epochs (a per-pixel regression needs more passes)
DENSE_SCALES = {
    "smoke": SCALES["smoke"],
    "small": Scale(order=1, C=4, layers=2, search_epochs=2, search_batches=6, search_batch_size=4,
                   search_val_samples=8, retrain_C=8, retrain_layers=3, retrain_epochs=8, retrain_batch_size=4),
}


def scaled_arch_lr(paper_lr: float, steps: int) -> float:
    """The paper's architecture lr spread over ``steps`` with the total step length of its 19,550
    (``nasbench.training.scaled_lr``). Adam's steps are about lr each whatever the gradient's size;
    EG's move log alpha by lr times the gradient, so for gradients of the paper's size the same
    scaling keeps its total too."""
    return scaled_lr(paper_lr, PAPER_ARCH_STEPS, steps)


def paper_config(task: TaskView) -> DARTSConfig:
    """The paper's protocol; dense tasks take NAS-Bench-360's GAEA-dense choices: no auxiliary head,
    path dropout 0.3 (``pde_eval.yaml``)."""
    if task.shape.dense:
        return DARTSConfig(auxiliary=False, drop_path=0.3)
    return DARTSConfig()


def scale_config(config: DARTSConfig, budget: str, dense: bool) -> DARTSConfig:
    if budget not in SCALES:
        return config
    s = (DENSE_SCALES if dense else SCALES)[budget]
    steps = s.search_epochs * s.search_batches
    search = replace(config.search, epochs=s.search_epochs, batches_per_epoch=s.search_batches,
                     batch_size=s.search_batch_size)
    retrain = replace(config.retrain, epochs=s.retrain_epochs, batch_size=s.retrain_batch_size,
                      lr=s.retrain_lr or config.retrain.lr)
    drop_path = config.drop_path if s.retrain_drop_path is None else s.retrain_drop_path
    return replace(config, order=s.order, drop_path=drop_path, C=s.C, layers=s.layers, search=search,
                   search_val_samples=s.search_val_samples, arch_lr=scaled_arch_lr(config.arch_lr, steps),
                   gaea_lr=scaled_arch_lr(config.gaea_lr, steps), retrain_C=s.retrain_C,
                   retrain_layers=s.retrain_layers, retrain=retrain)


def budget_notes(budget: str) -> str:
    if budget not in SCALES:
        return ("paper: search 50 epochs (8 cells, C=16, batch 64, one architecture step per weight step on the other "
                "half of the training split); retraining 600 epochs of 20 cells, C=36, batch 96")
    return "; ".join(f"{kind}: {_scale_note(scales[budget])}" for kind, scales in
                     (("global tasks", SCALES), ("dense tasks", DENSE_SCALES)))


def _scale_note(s: Scale) -> str:
    steps = s.search_epochs * s.search_batches
    return (f"search {s.search_epochs} epochs x {s.search_batches} steps of batch {s.search_batch_size} (paper 50 "
            f"x 391 of 64), {s.layers} cells, C={s.C} (paper 8, 16), order {s.order} (paper 2), architecture lrs "
            f"x {PAPER_ARCH_STEPS}/{steps} (the paper's total step length lr x steps), supernet validated on "
            f"{s.search_val_samples} samples per epoch; retraining {s.retrain_epochs} epochs of {s.retrain_layers} "
            f"cells, C={s.retrain_C}, batch {s.retrain_batch_size} (paper 600 epochs of 20 cells, C=36, batch 96)"
            + (f", lr {s.retrain_lr} (paper 0.025)" if s.retrain_lr else "")
            + (f", path dropout {s.retrain_drop_path} (paper 0.2)" if s.retrain_drop_path is not None else ""))
