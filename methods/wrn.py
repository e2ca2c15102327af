"""WRN: the plain Wide-ResNet baseline of NAS-Bench-360 (Tu et al., "NAS-Bench-360: Benchmarking Neural
Architecture Search on Diverse Tasks", NeurIPS 2022 Datasets and Benchmarks, arXiv:2110.05668), the
"WRN" row of its tables; the network of Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016
(arXiv:1605.07146).

2D tasks: WRN-16-4 (``WideResNet2D``; all strides 1 and a per-pixel head for dense outputs). 1D tasks:
the 1D WRN of DASH/NAS-Bench-360 (``WideResNet1D``). No search: the architecture is fixed, and the
run trains it once with the NAS-Bench-360 recipe and reports the last-epoch test metric.

Training recipe (``paper`` budget):
- dense 2D tasks: NAS-Bench-360 ``backbone/scripts/pde_retrain.yaml`` (the tuned Darcy Flow
  retraining): SGD, Nesterov, momentum 0.9, lr 0.040978885541880554, weight decay 6.942729492430138e-05,
  batch 4, dropout 0.3, 200 epochs, lr x0.2 at epochs 60, 120, 160.
- other tasks: [A] the WRN CIFAR recipe (SGD, Nesterov, momentum 0.9, lr 0.1, weight decay 5e-4,
  batch 128, 200 epochs, x0.2 at 60, 120, 160) until the per-task NAS-Bench-360 recipes are added
  with their tasks.

Departures: NAS-Bench-360 retrains on train+val (1000 samples on Darcy); the suite trains on the
train split only, so the validation split stays held out for every method alike. ``small`` and
``smoke`` scale depth/width and epochs down (``budget_notes``); with fewer than 200 epochs the
milestones follow the reference's own rule for other lengths: 0.3, 0.6 and 0.8 of the epochs. They
also turn the dense recipe's dropout 0.3 off: it regularises a 200-epoch schedule, and in a short one
it only slows fitting (the Darcy Flow runs are in ``docs/measurements.md``).

Recipes and network: ``nasbench.methods.backbones.wrn`` and ``backbones.wrn_recipes``, shared with
DASH's retraining.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from nasbench.contracts import RunContext, SearchMethod, TaskShape, TaskView
from nasbench.errors import ConfigError
from nasbench.methods.backbones.records import draw_kernel_dilation, kernel_dilation_frame
from nasbench.methods.backbones.wrn import build_wrn, wrn_kernels
from nasbench.methods.backbones.wrn_recipes import DEFAULT_RECIPE, nb360_dropout, nb360_milestones, nb360_recipe
from nasbench.training import TrainConfig, fit


@dataclass(frozen=True)
class WRNConfig:
    depth: int = 16  # WRN-16-4 (NAS-Bench-360 2D backbone)
    widen: int = 4
    dropout: float = 0.0
    mid_channels: int | None = None  # 1D WRN; None: min(4 ** (classes // 10 + 1), 64)
    causal: bool = True  # 1D WRN padding of the reference
    train: TrainConfig = field(default_factory=lambda: DEFAULT_RECIPE)

    def validate(self) -> None:
        if (self.depth - 4) % 6 or self.widen < 1:
            raise ConfigError(f"wrn: depth must be 6n+4 and widen >= 1, got depth={self.depth}, widen={self.widen}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"wrn: dropout must be in [0, 1), got {self.dropout}")
        self.train.validate()


SCALE = {  # budget -> (depth, widen, epochs)
    "smoke": (10, 1, 2),
    "small": (16, 1, 16),
}


class WRN(SearchMethod):
    name = "wrn"
    citation = "Zagoruyko & Komodakis, Wide Residual Networks, BMVC 2016; Tu et al., NAS-Bench-360, 2022"
    Config = WRNConfig
    baseline = True  # a plain backbone: no search
    description = "the plain Wide-ResNet of NAS-Bench-360 (WRN-16-4 in 2D, the 1D WRN), trained once"

    @classmethod
    def default_config(cls, budget: str, task: TaskView) -> WRNConfig:
        recipe = nb360_recipe(task.shape)
        config = WRNConfig(dropout=nb360_dropout(task.shape), train=recipe)
        if budget in SCALE:
            depth, widen, epochs = SCALE[budget]
            config = replace(config, depth=depth, widen=widen, dropout=0.0,
                             train=replace(recipe, epochs=epochs, milestones=nb360_milestones(epochs)))
        return config

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        if budget not in SCALE:
            return "paper recipe: WRN-16-4 (2D) / 1D WRN, 200 epochs"
        depth, widen, epochs = SCALE[budget]
        return (f"WRN-{depth}-{widen} (2D; paper WRN-16-4), {epochs} epochs (paper 200), milestones at 0.3/0.6/0.8, "
                f"no dropout (paper 0.3 on dense tasks)")

    @classmethod
    def unsupported_reason(cls, shape: TaskShape) -> str | None:
        if shape.vocab_size is not None:
            return "the WRN backbones take real-valued inputs, not token ids"
        return None

    @classmethod
    def describe_record(cls, record: dict[str, Any]) -> dict[str, Any]:
        choices = record["choices"]
        layers = len(wrn_kernels(choices["dims"], choices["depth"]))
        return {"backbone": record.get("backbone"), "searchable convolutions": layers, "kernels": "fixed"}

    @classmethod
    def draw_record(cls, record: dict[str, Any], ax: Any) -> bool:
        """The fixed kernel sizes of the backbone, on the same axes as a searched (k, d) record."""
        choices = record["choices"]
        frame = kernel_dilation_frame(wrn_kernels(choices["dims"], choices["depth"]))
        return draw_kernel_dilation(frame, ax, title="Fixed kernel size and dilation per layer")

    def search(self, ctx: RunContext) -> dict[str, Any]:
        shape, c = ctx.task.shape, self.config
        backbone = f"wrn-{c.depth}-{c.widen}" if shape.dims == 2 else "wrn1d"
        return {"backbone": backbone, "search_space": {"id": "none"},
                "choices": {"depth": c.depth, "widen": c.widen, "dims": shape.dims, "dense": shape.dense}}

    def retrain(self, ctx: RunContext, arch: dict[str, Any], hparams: dict[str, Any]) -> nn.Module:
        c = self.config
        model = build_wrn(ctx.task.shape, c.depth, c.widen, c.dropout, c.mid_channels, c.causal)
        fit(model, ctx, self.config.train)
        return model
