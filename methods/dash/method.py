"""The ``dash`` and ``baby-dash`` methods: search, discretise, tune, retrain (see the package docstring)."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
from torch import nn

from nasbench.contracts import RunContext, SearchMethod, TaskShape, TaskView
from nasbench.methods.backbones.records import draw_kernel_dilation, kernel_dilation_frame, kernels_text
from nasbench.methods.dash.config import DASHConfig, budget_notes, paper_config, scale_config
from nasbench.methods.dash.search import arch_record, discretise, run_search, sampled_layers, search_examples
from nasbench.methods.dash.tune import HP_KEYS, build_retrain_network, recipe, run_tuning
from nasbench.training import fit


class DASH(SearchMethod):
    name = "dash"
    citation = ("Shen, Khodak, Talwalkar, Efficient Architecture Search for Diverse Tasks, NeurIPS 2022 "
                "(github.com/sjunhongshen/DASH)")
    Config = DASHConfig
    has_tune_stage = True
    baby = False  # Baby DASH: the DARTS convolutions K = {3, 5}, D = {1, 2}
    description = "kernel size and dilation of every WRN convolution, searched by an aggregated convolution"

    def __init__(self, config: DASHConfig):
        config.validate()
        super().__init__(config)
        self._init_state: dict | None = None  # the retrain network's initial weights, shared by tune and retrain

    @classmethod
    def default_config(cls, budget: str, task: TaskView) -> DASHConfig:
        return scale_config(paper_config(task, baby=cls.baby), budget)

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        return budget_notes(budget)

    @classmethod
    def unsupported_reason(cls, shape: TaskShape) -> str | None:
        if shape.vocab_size is not None:
            return "DASH searches convolutions of the WRN backbones, which take real-valued inputs, not token ids"
        if shape.dims not in (1, 2):
            return f"DASH has 1D and 2D backbones only, the task is {shape.dims}D"
        return None

    @classmethod
    def describe_record(cls, record: dict[str, Any]) -> dict[str, Any]:
        """The retrained backbone and the searched k x d of every convolution (stem first)."""
        frame = cls.layers(record)
        return {"backbone": record.get("backbone"), "kernels (k x d)": kernels_text(zip(frame["k"], frame["d"])),
                "largest receptive field": int(frame["receptive_field"].max())}

    @classmethod
    def draw_record(cls, record: dict[str, Any], ax: Any) -> bool:
        return draw_kernel_dilation(cls.layers(record), ax, title="Searched kernel size and dilation per layer")

    @staticmethod
    def layers(record: dict[str, Any]):
        """Per searched convolution: name, k, d, receptive field (from ``choices.kernels``)."""
        names = [layer.get("name") for layer in (record.get("details") or {}).get("layers", [])]
        return kernel_dilation_frame(record["choices"]["kernels"], names)

    @classmethod
    def sample_architecture(cls, config: DASHConfig, shape: TaskShape, rng: np.random.Generator) -> dict[str, Any]:
        """(k, d) of every searchable convolution uniform over K x D, independently (its control's draw)."""
        return arch_record(sampled_layers(config, shape, rng), config, shape, None)

    @classmethod
    def search_examples(cls, config: DASHConfig, shape: TaskShape, train_size: int) -> int:
        return search_examples(config, train_size)

    def search(self, ctx: RunContext) -> dict[str, Any]:
        net, batches = run_search(ctx, self.config)
        layers = discretise(net, self.config)
        ctx.log("dash found (k, d): " + " ".join(f"({layer['k']},{layer['d']})" for layer in layers))
        return arch_record(layers, self.config, ctx.task.shape, batches)

    def tune(self, ctx: RunContext, arch: dict[str, Any]) -> dict[str, Any]:
        init = build_retrain_network(ctx.task.shape, arch["choices"])
        self._init_state = copy.deepcopy(init.state_dict())  # every grid point and the retraining start here [R]
        return run_tuning(ctx, self.config, arch["choices"], self._init_state)

    def retrain(self, ctx: RunContext, arch: dict[str, Any], hparams: dict[str, Any]) -> nn.Module:
        c = self.config
        hp = {k: hparams.get(k, default) for k, default in zip(
            HP_KEYS, (c.retrain.lr, 0.0, c.retrain.weight_decay, c.retrain.momentum))}
        model = build_retrain_network(ctx.task.shape, arch["choices"], hp["dropout"]).to(ctx.device)
        if self._init_state is not None:
            model.load_state_dict(self._init_state)
        fit(model, ctx, recipe(c, hp, c.retrain.epochs, c.retrain.batches_per_epoch))
        return model


class BabyDASH(DASH):
    name = "baby-dash"
    citation = DASH.citation + "; Baby DASH: the ablation of section 4 (K = {3, 5}, D = {1, 2})"
    description = "DASH with the DARTS convolutions only (K = {3, 5}, D = {1, 2}), the paper's ablation"
    baby = True

