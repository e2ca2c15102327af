"""SPOS configuration: the paper's and the reference's defaults, and the budgets.

[P] Guo et al., ECCV 2020 (arXiv:1904.00420); [R] github.com/megvii-model/SinglePathOneShot,
``src/Supernet/train.py`` and ``src/Search/search.py`` argument defaults.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from nasbench.contracts import TaskShape
from nasbench.errors import ConfigError
from nasbench.methods.backbones.single_path import WIDTH_SCALES, SupernetSpec
from nasbench.training import TrainConfig

# The reference's cost cap (330M FLOPs, search.py --flops-limit) and FLOPs bins ([290, 360) M in
# 10M steps, train.py) as fractions of the largest path of its ImageNet supernet, 398.6M
# multiply-accumulates as counted by this suite (its repo model counts 322.9M here; the README
# says 323M): the same fractions carry over to supernets of other sizes.
REFERENCE_LARGEST_PATH_MACS = 398_609_216
COST_CAP_FRACTION = 330e6 / REFERENCE_LARGEST_PATH_MACS  # 0.828
FLOPS_BINS = (290e6 / REFERENCE_LARGEST_PATH_MACS, 360e6 / REFERENCE_LARGEST_PATH_MACS, 7)

SUPERNET_RECIPE = TrainConfig(  # [R] train.py: 150k iterations at batch 1024 (~120 ImageNet epochs)
    epochs=120, batch_size=1024, lr=0.5, momentum=0.9, weight_decay=4e-5, nesterov=False, schedule="linear",
    eval_batch_size=200)
RETRAIN_RECIPE = replace(SUPERNET_RECIPE, epochs=240)  # [R] 300k iterations at batch 1024, same recipe


@dataclass(frozen=True)
class EvolutionConfig:
    """[R] search.py defaults, matching [P] section 3.4."""

    population: int = 50
    generations: int = 20
    top_k: int = 10
    mutations: int = 25
    crossovers: int = 25
    mutation_prob: float = 0.1
    recalibration_batches: int = 200  # [R] tester.py: 200 training batches of 128 before each evaluation
    recalibration_batch_size: int = 128
    val_examples: int = 8000  # [R] 40 validation batches of 200
    tries_per_candidate: int = 10  # [R] a generation stops after 10x the wanted mutations/crossovers

    def validate(self) -> None:
        if not 1 <= self.top_k <= self.population or self.generations < 1:
            raise ConfigError(f"spos evolution: need 1 <= top_k <= population and generations >= 1, got "
                              f"top_k={self.top_k}, population={self.population}, generations={self.generations}")
        if self.mutations < 0 or self.crossovers < 0 or self.mutations + self.crossovers > self.population:
            raise ConfigError(f"spos evolution: mutations + crossovers ({self.mutations} + {self.crossovers}) "
                              f"must be >= 0 and fit the population {self.population}")
        if not 0 <= self.mutation_prob <= 1 or min(self.recalibration_batches, self.val_examples) < 1:
            raise ConfigError(f"spos evolution: mutation_prob must be in [0, 1] and recalibration_batches, "
                              f"val_examples >= 1, got {self.mutation_prob}, {self.recalibration_batches}, "
                              f"{self.val_examples}")


@dataclass(frozen=True)
class SPOSConfig:
    # search space [R] network.py: the 20-layer ShuffleNetV2 supernet
    stem_channels: int = 16
    stage_repeats: tuple[int, ...] = (4, 4, 8, 4)
    stage_channels: tuple[int, ...] = (64, 160, 320, 640)
    last_channels: int = 1024
    stem: Literal["auto", "cifar", "imagenet"] = "auto"
    stem_stride: int | None = None  # None: the form's (cifar 1, imagenet 2)
    channel_search: bool = False  # [P] block + channel search: mid widths {0.2, ..., 1.6} x base
    width_scales: tuple[float, ...] = WIDTH_SCALES
    dropout: float = 0.1
    # supernet training
    sampling: Literal["uniform", "flops_binned"] = "uniform"  # [P] uniform; [R] FLOPs-binned rejection
    flops_bins: tuple[float, float, int] = FLOPS_BINS  # (low, high) fractions of the largest path, bins
    flops_bin_tries: int = 500  # [R] then a plain uniform path
    supernet: TrainConfig = field(default_factory=lambda: SUPERNET_RECIPE)
    probe_recalibration_batches: int = 20  # BN recalibration before each epoch's probe-path score
    # evolutionary search under the cost cap
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    cost_cap_macs: int | None = None  # a cap in multiply-accumulates; None: cost_cap_fraction
    cost_cap_fraction: float | None = COST_CAP_FRACTION  # of the largest path; None with no macs: no cap
    # retraining the best path from scratch
    retrain: TrainConfig = field(default_factory=lambda: RETRAIN_RECIPE)

    def validate(self) -> None:
        self.spec(TaskShape(2, 3, (224, 224), "classes", 10)).validate()
        self.evolution.validate()
        self.supernet.validate()
        self.retrain.validate()
        low, high, bins = self.flops_bins
        if not 0 < low < high or bins < 1 or self.flops_bin_tries < 1:
            raise ConfigError(f"spos: flops_bins must be (low, high, bins) with 0 < low < high and bins >= 1, "
                              f"and flops_bin_tries >= 1; got {self.flops_bins}, {self.flops_bin_tries}")
        if self.cost_cap_fraction is not None and not 0 < self.cost_cap_fraction <= 1:
            raise ConfigError(f"spos: cost_cap_fraction is a fraction of the largest path's MACs in (0, 1], "
                              f"got {self.cost_cap_fraction}; set it to None for no cap")

    def spec(self, shape: TaskShape) -> SupernetSpec:
        return SupernetSpec(dims=shape.dims, in_channels=shape.in_channels, num_outputs=shape.num_outputs,
                            input_size=tuple(shape.input_size), stem_channels=self.stem_channels,
                            stage_repeats=self.stage_repeats, stage_channels=self.stage_channels,
                            last_channels=self.last_channels, stem=self.stem, stem_stride=self.stem_stride,
                            channel_search=self.channel_search,
                            width_scales=self.width_scales, dropout=self.dropout)


SMALL = dict(  # make bench: minutes on a 2-core CPU (measured in the package docstring)
    stem_channels=8, stage_channels=(16, 32, 64, 128), last_channels=256,  # the CIFAR form: stride-1 stem
    supernet=replace(SUPERNET_RECIPE, epochs=5, batch_size=32, lr=0.05, eval_batch_size=250),
    probe_recalibration_batches=2,
    evolution=EvolutionConfig(population=16, generations=8, top_k=5, mutations=6, crossovers=6,
                              recalibration_batches=2, recalibration_batch_size=128, val_examples=500),
    # 5000 images, not 1.28M: weight decay 5e-4 (the CIFAR value) against overfitting; with the
    # paper's 4e-5 and 10 epochs: train loss 0.23, test accuracy 0.8315 (seed 0)
    retrain=replace(RETRAIN_RECIPE, epochs=14, batch_size=64, lr=0.1, weight_decay=5e-4, eval_batch_size=250),
)
SMOKE = dict(
    stem_channels=4, stage_repeats=(1, 1, 2, 1), stage_channels=(8, 16, 24, 32), last_channels=32,
    supernet=replace(SUPERNET_RECIPE, epochs=1, batch_size=16, lr=0.1, batches_per_epoch=4, eval_batch_size=64),
    probe_recalibration_batches=1,
    cost_cap_fraction=0.95,  # 5-layer supernets: the smallest path can exceed 0.83 of the largest
    evolution=EvolutionConfig(population=6, generations=2, top_k=3, mutations=2, crossovers=2,
                              recalibration_batches=1, recalibration_batch_size=16, val_examples=32),
    retrain=replace(RETRAIN_RECIPE, epochs=1, batch_size=16, lr=0.1, batches_per_epoch=4, eval_batch_size=64),
)


def default_config(budget: str) -> SPOSConfig:
    scaled = {"small": SMALL, "smoke": SMOKE}.get(budget)
    return SPOSConfig(**scaled) if scaled else SPOSConfig()


def budget_notes(budget: str) -> str:
    if budget == "paper":
        return ("paper recipe: 20-layer supernet, 120 supernet epochs at batch 1024, evolution 50 x 20, "
                "240 retraining epochs")
    c = default_config(budget)
    e = c.evolution
    return (f"stages {c.stage_repeats} of widths {c.stage_channels} (paper (64, 160, 320, 640)); supernet "
            f"{c.supernet.epochs} epochs at batch {c.supernet.batch_size}, lr {c.supernet.lr} (paper 120 at 1024, "
            f"lr 0.5); evolution population {e.population} x {e.generations} generations, top {e.top_k}, "
            f"{e.mutations} mutations + {e.crossovers} crossovers (paper 50 x 20, 10, 25 + 25), BN recalibrated "
            f"on {e.recalibration_batches} batches of {e.recalibration_batch_size}, {e.val_examples} validation "
            f"examples; retraining {c.retrain.epochs} epochs (paper 240)")
