"""The ``flexcharts`` and ``dmasking`` methods: search, record, rebuild, retrain (see the package docstring)."""
from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from nasbench.contracts import RunContext, SearchMethod, TaskShape, TaskView
from nasbench.errors import ConfigError
from nasbench.methods.backbones.darts_cells import EvalNetwork, RetrainHooks
from nasbench.methods.backbones.width_cells import width_network
from nasbench.methods.flexcharts.config import (
    ChannelSearchConfig,
    DMaskingConfig,
    FlexCHartsConfig,
    budget_notes,
    scaled,
)
from nasbench.methods.flexcharts.search import SearchState, cost_model, run_search, search_examples, stage_grids
from nasbench.methods.flexcharts.widths import GaussianWidths, GumbelWidths
from nasbench.training import fit

BACKBONE = "darts-v2-width-cells"


def architecture_record(state: SearchState, config: ChannelSearchConfig, method: str) -> dict[str, Any]:
    """Stage widths, mu, sigma, grid step and the final network's MACs against the target."""
    widths, final = state.widths, state.widths.final_widths()
    final_macs = float(state.macs(final))
    details: dict[str, Any] = {
        "soft_widths": [round(w, 3) for w in widths.soft_widths().detach().cpu().tolist()],
        "allocated_at_end": list(state.allocated), "grid_step": config.grid_step,
    }
    if isinstance(widths, GaussianWidths):
        details.update(mu=[round(m, 3) for m in widths.mu.detach().cpu().tolist()], sigma=widths.sigma,
                       epsilon=widths.epsilon)
    else:
        assert isinstance(widths, GumbelWidths)
        details.update(weights=[[round(w, 4) for w in widths.weights(s).cpu().tolist()] for s in range(len(final))],
                       tau_at_end=widths.tau)
    cost = {"macs_target": state.target, "final_macs": final_macs, "final_macs_vs_target": final_macs / state.target,
            "lambda": config.cost_weight, "cost_form": config.cost_form}
    return {**widths_record(config, method, widths.grids, final, details), "cost": cost}


# the control's space: widths whose MACs are at most this x the target, the bound the searches are held
# to (their final MACs within 10 % of the target); draws are repeated at most MAX_CONTROL_DRAWS times
CONTROL_MACS_BOUND = 1.1
MAX_CONTROL_DRAWS = 10_000


def widths_record(config: ChannelSearchConfig, method: str, grids: list[list[int]], stage_widths: list[int],
                  details: dict[str, Any]) -> dict[str, Any]:
    """The record of one width per stage (searched or sampled) in the space of ``grids``."""
    return {
        "backbone": BACKBONE,
        "search_space": {"id": method, "genotype": "DARTS_V2", "cells": config.cells, "stem": config.stem,
                         "head": config.head, "grid_step": config.grid_step, "ranges": [[g[0], g[-1]] for g in grids]},
        "choices": {"stage_widths": [int(w) for w in stage_widths]},
        "details": details,
    }


def build_from_record(arch: dict[str, Any], shape: TaskShape, auxiliary: bool = False) -> EvalNetwork:
    """The found network without the supernet: the DARTS_V2 network at the record's stage widths."""
    space = arch["search_space"]
    return width_network(shape.dims, shape.in_channels, shape.num_outputs, arch["choices"]["stage_widths"],
                         stem=space["stem"], head=space["head"], auxiliary=auxiliary, vocab_size=shape.vocab_size)


class ChannelSearch(SearchMethod):
    """What FlexCHarts and DMaskingNAS share; the subclasses differ in their Config only."""

    def __init__(self, config: ChannelSearchConfig):
        config.validate()
        super().__init__(config)

    @classmethod
    def default_config(cls, budget: str, task: TaskView) -> ChannelSearchConfig:
        return scaled(cls.Config(), budget)

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        return budget_notes(budget)

    @classmethod
    def unsupported_reason(cls, shape: TaskShape) -> str | None:
        if shape.dense or shape.dims not in (1, 2):
            return f"{cls.name} searches a classification network (global pool and linear head) in 1D or 2D"
        return None

    @classmethod
    def sample_architecture(cls, config: ChannelSearchConfig, shape: TaskShape,
                            rng: np.random.Generator) -> dict[str, Any]:
        """Every stage's width uniform over its grid of valid widths, independently, drawn again until the
        network's MACs are at most ``CONTROL_MACS_BOUND`` x the search's target: uniform over the widths a
        search may end at, so the control cannot win by buying a larger network (as SPOS's cap)."""
        grids = stage_grids(config)
        macs, target = cost_model(shape, config)
        for draws in range(1, MAX_CONTROL_DRAWS + 1):
            widths = [grid[int(rng.integers(len(grid)))] for grid in grids]
            relative = float(macs(widths)) / target
            if relative <= CONTROL_MACS_BOUND:
                return widths_record(config, cls.name, grids, widths,
                                     {"sampled": True, "draws": draws, "macs_vs_target": round(relative, 4)})
        raise ConfigError(f"{cls.name}: none of {MAX_CONTROL_DRAWS} uniform width draws has MACs within "
                          f"{CONTROL_MACS_BOUND} x the target ({target:,.0f}); raise macs_target_ratio or widen "
                          f"the ranges")

    @classmethod
    def search_examples(cls, config: ChannelSearchConfig, shape: TaskShape, train_size: int) -> int:
        return search_examples(config, train_size)

    def search(self, ctx: RunContext) -> dict[str, Any]:
        state = run_search(ctx, self.config)
        arch = architecture_record(state, self.config, self.name)
        ctx.log(f"{self.name} widths per stage: {arch['choices']['stage_widths']} "
                f"(MACs {arch['cost']['final_macs_vs_target']:.3f} x target)")
        return arch

    def retrain(self, ctx: RunContext, arch: dict[str, Any], hparams: dict[str, Any]) -> nn.Module:
        c = self.config
        model = build_from_record(arch, ctx.task.shape, auxiliary=c.auxiliary_weight > 0).to(ctx.device)
        model.drop_path_prob, model.generator = 0.0, ctx.generator
        hooks = RetrainHooks(model, ctx.task.loss, c.auxiliary_weight, c.drop_path, c.retrain.epochs)
        fit(model, ctx, c.retrain, **hooks.hooks())
        return model

    @classmethod
    def describe_record(cls, record: dict[str, Any]) -> dict[str, Any]:
        widths = record.get("choices", {}).get("stage_widths", [])
        cost = record.get("cost", {})
        row = {"stage widths": " ".join(str(w) for w in widths)}
        if "final_macs_vs_target" in cost:
            row["MACs / target"] = round(float(cost["final_macs_vs_target"]), 3)
        return row

    @classmethod
    def draw_record(cls, record: dict[str, Any], ax: Any) -> bool:
        widths = record.get("choices", {}).get("stage_widths")
        if not widths:
            return False
        stages = list(range(1, len(widths) + 1))
        ax.bar(stages, widths, color="tab:blue" if cls.name == "flexcharts" else "tab:orange", label="width")
        mu = record.get("details", {}).get("mu") or record.get("details", {}).get("soft_widths")
        if mu:
            ax.plot(stages, mu, "k.", label="mu" if cls.name == "flexcharts" else "soft width")
        ax.set_xlabel("stage")
        ax.set_ylabel("channels per node")
        ax.set_title(f"{cls.name}: widths per stage")
        ax.legend(loc="upper left", fontsize="small")
        return True


class FlexCHarts(ChannelSearch):
    name = "flexcharts"
    citation = ("Yuezuegueler, Dimitriadis, Frossard, Flexible Channel Dimensions for Differentiable Architecture "
                "Search, arXiv:2306.08021, 2023")
    description = ("channel widths per stage of a DARTS_V2 cell network: Gaussian masks around a learned mean, "
                   "dynamic allocation")
    Config = FlexCHartsConfig


class DMasking(ChannelSearch):
    name = "dmasking"
    citation = ("Wan et al., FBNetV2: Differentiable Neural Architecture Search for Spatial and Channel Dimensions, "
                "CVPR 2020 (arXiv:2004.05565); the DMaskingNAS baseline of FlexCHarts (arXiv:2306.08021)")
    description = ("channel widths per stage of a DARTS_V2 cell network: Gumbel-softmax over a fixed range of "
                   "prefix masks")
    Config = DMaskingConfig
