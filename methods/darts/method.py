"""The ``darts`` method: search, discretise, retrain from scratch (see the package docstring)."""
from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from nasbench.contracts import RunContext, SearchMethod, TaskShape, TaskView
from nasbench.methods.backbones.darts_cells import Genotype, RetrainHooks
from nasbench.methods.backbones.darts_records import describe_genotype, draw_genotype
from nasbench.methods.darts.config import DARTSConfig, budget_notes, paper_config, scale_config
from nasbench.methods.darts.search import (
    arch_record,
    build_eval_network,
    run_search,
    sampled_record,
    search_examples,
)
from nasbench.training import fit


class DARTS(SearchMethod):
    name = "darts"
    citation = ("Liu, Simonyan, Yang, DARTS: Differentiable Architecture Search, ICLR 2019, arXiv:1806.09055 "
                "(github.com/quark0/darts); update=gaea: Li et al., Geometry-Aware Gradient Algorithms for Neural "
                "Architecture Search, ICLR 2021, arXiv:2004.07802")
    description = "differentiable search over the DARTS cell space (first/second order, softmax or GAEA update)"
    Config = DARTSConfig

    def __init__(self, config: DARTSConfig):
        config.validate()
        super().__init__(config)

    @classmethod
    def default_config(cls, budget: str, task: TaskView) -> DARTSConfig:
        return scale_config(paper_config(task), budget, task.shape.dense)

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        return budget_notes(budget)

    @classmethod
    def unsupported_reason(cls, shape: TaskShape) -> str | None:
        if shape.dims not in (1, 2):
            return f"the DARTS cell network is built in 1D and 2D only, the task is {shape.dims}D"
        return None

    @classmethod
    def sample_architecture(cls, config: DARTSConfig, shape: TaskShape, rng: np.random.Generator) -> dict[str, Any]:
        """Normal and reduction genotypes uniform over the cell space (its control's draw)."""
        return sampled_record(shape, config, rng)

    @classmethod
    def search_examples(cls, config: DARTSConfig, shape: TaskShape, train_size: int) -> int:
        return search_examples(config, train_size)

    def search(self, ctx: RunContext) -> dict[str, Any]:
        net, stats = run_search(ctx, self.config)
        record = arch_record(net, ctx.task.shape, self.config, stats)
        ctx.log("darts found: " + describe_genotype(Genotype.from_dict(record["choices"]["genotype"]))["normal"])
        return record

    def retrain(self, ctx: RunContext, arch: dict[str, Any], hparams: dict[str, Any]) -> nn.Module:
        c = self.config
        net = build_eval_network(ctx.task.shape, arch["choices"]).to(ctx.device)
        net.generator = ctx.generator  # drop-path draws from the run's seeded generator
        hooks = RetrainHooks(net, ctx.task.loss, c.auxiliary_weight, c.drop_path, c.retrain.epochs)
        fit(net, ctx, c.retrain, **hooks.hooks())
        return net

    @classmethod
    def describe_record(cls, record: dict[str, Any]) -> dict[str, Any]:
        details = record.get("details", {})
        row = describe_genotype(Genotype.from_dict(record["choices"]["genotype"]))
        return {**row, "order": details.get("order"), "update": details.get("update")}

    @classmethod
    def draw_record(cls, record: dict[str, Any], ax: Any) -> bool:
        draw_genotype(Genotype.from_dict(record["choices"]["genotype"]), ax)
        return True
