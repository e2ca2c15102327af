"""The ``spos`` method: search (supernet + evolution), retrain the best path from scratch, and how its
record is shown (see the package docstring)."""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from torch import nn

from nasbench.arch import count_parameters
from nasbench.contracts import RunContext, SearchMethod, TaskShape, TaskView
from nasbench.errors import ConfigError
from nasbench.methods.backbones.single_path import BLOCK_NAMES, Path, SinglePathSupernet, SupernetSpec
from nasbench.methods.spos.config import SPOSConfig, budget_notes, default_config
from nasbench.methods.spos.evolution import Evaluated, EvolutionSearch
from nasbench.methods.spos.search import cost_cap, run_search, train
from nasbench.methods.spos.space import PathCosts, uniform_path
from nasbench.training import epoch_examples

BACKBONE = "spos-shufflenetv2"
SHORT = {"shuffle3": "3", "shuffle5": "5", "shuffle7": "7", "xception": "x"}
TOP_KEPT = 10  # candidates listed in the record besides the best
MAX_DRAWS = 10_000  # uniform draws before a sample under the cost cap is given up


def spec_of_record(record: dict[str, Any]) -> SupernetSpec:
    space = dict(record["search_space"])
    space.pop("id", None)
    space.pop("blocks", None)
    tuples = {k: tuple(v) if isinstance(v, list) else v for k, v in space.items()}
    return SupernetSpec(**tuples)


def path_of_record(record: dict[str, Any]) -> Path:
    choices = record["choices"]
    return Path(tuple(choices["blocks"]), None if choices["widths"] is None else tuple(choices["widths"]))


def build_from_record(record: dict[str, Any]) -> SinglePathSupernet:
    """The standalone network of a record, without the supernet."""
    return SinglePathSupernet(spec_of_record(record), path=path_of_record(record))


def _candidate(item: Evaluated) -> dict[str, Any]:
    return {"blocks": list(item.path.choices), "widths": None if item.path.widths is None else list(item.path.widths),
            "macs": item.macs, "supernet_val_error": item.error}


def path_record(spec: SupernetSpec, path: Path, macs: int, details: dict[str, Any]) -> dict[str, Any]:
    """The record of ``path`` (searched or sampled): the space, the choices, and the standalone network's size."""
    standalone = SinglePathSupernet(spec, path=path)
    scales = None if path.widths is None else [spec.width_scales[w] for w in path.widths]
    space = {"id": BACKBONE, "blocks": list(BLOCK_NAMES), **{k: (list(v) if isinstance(v, tuple) else v)
                                                            for k, v in vars(spec).items()}}
    return {
        "backbone": BACKBONE, "search_space": space,
        "choices": {"blocks": list(path.choices), "widths": None if path.widths is None else list(path.widths)},
        "details": {"block_names": [BLOCK_NAMES[c] for c in path.choices], "channel_scales": scales,
                    "macs": macs, "params": count_parameters(standalone), **details},
    }


def arch_record(spec: SupernetSpec, ranked: list[Evaluated], search: EvolutionSearch, facts: dict) -> dict[str, Any]:
    best = ranked[0]
    return path_record(spec, best.path, best.macs, {
        "supernet_val_error": best.error, "evaluations": len(search.results), "rejected_over_cap": len(search.rejected),
        "trajectory": search.trajectory, "top": [_candidate(c) for c in ranked[1:TOP_KEPT + 1]], **facts})


@functools.lru_cache(maxsize=8)
def path_costs(spec: SupernetSpec) -> PathCosts:
    """The MACs table of a supernet, built once for the many draws of a control; the build leaves the
    global generator as it was (a cached and a first call must leave the same state behind)."""
    with torch.random.fork_rng(devices=[]):
        return PathCosts(spec)


def sample_path(config: SPOSConfig, shape: TaskShape, rng: np.random.Generator) -> tuple[Path, int, float | None, int]:
    """A path uniform over the paths under the cost cap: uniform paths (every gene i.i.d. uniform) drawn
    until one is at or under the cap, which leaves the uniform distribution on the paths the evolution may
    pick. Returns the path, its MACs, the cap and how many draws it took."""
    spec = config.spec(shape)
    costs = path_costs(spec)
    cap = cost_cap(config, costs)
    for draws in range(1, MAX_DRAWS + 1):
        path = uniform_path(spec, rng)
        if cap is None or costs(path) <= cap:
            return path, costs(path), cap, draws
    raise ConfigError(f"spos: no path under the cost cap ({cap:,.0f} MACs) in {MAX_DRAWS} uniform draws; raise "
                      f"cost_cap_fraction (now {config.cost_cap_fraction})")


def sampled_record(config: SPOSConfig, shape: TaskShape, rng: np.random.Generator) -> dict[str, Any]:
    path, macs, cap, draws = sample_path(config, shape, rng)
    return path_record(config.spec(shape), path, macs, {"cost_cap_macs": cap, "draws": draws})


class SPOS(SearchMethod):
    name = "spos"
    citation = ("Guo, Zhang, Mu, Heng, Liu, Wei, Sun, Single Path One-Shot Neural Architecture Search with Uniform "
                "Sampling, ECCV 2020, arXiv:1904.00420 (github.com/megvii-model/SinglePathOneShot)")
    description = "single-path ShuffleNetV2 supernet trained by uniform path sampling, then evolution under a MAC cap"
    Config = SPOSConfig

    def __init__(self, config: SPOSConfig):
        config.validate()
        super().__init__(config)

    @classmethod
    def default_config(cls, budget: str, task: TaskView) -> SPOSConfig:
        return default_config(budget)

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        return budget_notes(budget)

    @classmethod
    def unsupported_reason(cls, shape: TaskShape) -> str | None:
        if shape.dense:
            return ("SPOS's ShuffleNetV2 supernet downsamples and pools to one vector (a classifier); the paper "
                    "defines no dense head")
        if shape.vocab_size is not None:
            return "the SPOS supernet takes real-valued inputs, not token ids"
        if shape.dims not in (1, 2):
            return f"the SPOS supernet is 1D or 2D, the task is {shape.dims}D"
        return None

    @classmethod
    def sample_architecture(cls, config: SPOSConfig, shape: TaskShape, rng: np.random.Generator) -> dict[str, Any]:
        """A path uniform over the paths under the cost cap (its control's draw)."""
        return sampled_record(config, shape, rng)

    @classmethod
    def search_examples(cls, config: SPOSConfig, shape: TaskShape, train_size: int) -> int:
        """The supernet's training (one path per step); the evolution only scores, so it is not counted."""
        return config.supernet.epochs * epoch_examples(train_size, config.supernet)

    def search(self, ctx: RunContext) -> dict[str, Any]:
        ranked, search, facts = run_search(ctx, self.config)
        record = arch_record(self.config.spec(ctx.task.shape), ranked, search, facts)
        ctx.log(f"spos found {describe_path(record)} ({record['details']['macs']:,} MACs, supernet val error "
                f"{record['details']['supernet_val_error']:.4f})")
        return record

    def retrain(self, ctx: RunContext, arch: dict[str, Any], hparams: dict[str, Any]) -> nn.Module:
        model = build_from_record(arch).to(ctx.device)  # from scratch: fresh weights, no supernet
        train(model, ctx, self.config.retrain)
        return model

    @classmethod
    def describe_record(cls, record: dict[str, Any]) -> dict[str, Any]:
        details = record.get("details", {})
        trajectory = details.get("trajectory") or [{}]
        row = {"blocks": describe_path(record), "supernet val error": details.get("supernet_val_error"),
               "path MACs": details.get("macs"), "cap MACs": details.get("cost_cap_macs"),
               "evaluations": details.get("evaluations"),
               "best fitness gen 0 -> last": f"{trajectory[0].get('best_fitness', float('nan')):.4f} -> "
                                             f"{trajectory[-1].get('best_fitness', float('nan')):.4f}"}
        if details.get("channel_scales"):
            row["widths"] = " ".join(f"{s:g}" for s in details["channel_scales"])
        return row

    @classmethod
    def draw_record(cls, record: dict[str, Any], ax: Any) -> bool:
        """The chosen block per layer as coloured bars, bar height its channel scale (1 without search)."""
        details = record.get("details", {})
        blocks = record.get("choices", {}).get("blocks")
        if not blocks:
            return False
        colors = [f"C{c}" for c in range(len(BLOCK_NAMES))]  # the axes' colour cycle: no matplotlib import
        heights = details.get("channel_scales") or [1.0] * len(blocks)
        ax.bar(range(len(blocks)), heights, color=[colors[c] for c in blocks])
        for choice, name in enumerate(BLOCK_NAMES):
            ax.bar([0], [0], color=colors[choice], label=name)
        ax.set_xlabel("choice layer")
        ax.set_ylabel("channel scale")
        ax.set_title(f"SPOS path: {describe_path(record)}")
        ax.legend(fontsize="small", ncol=4)
        return True


def describe_path(record: dict[str, Any]) -> str:
    """Blocks per layer, stages separated by '|': e.g. '3 5 7 x | ...' (x: the Xception block)."""
    blocks = [SHORT[BLOCK_NAMES[c]] for c in record["choices"]["blocks"]]
    repeats = record.get("search_space", {}).get("stage_repeats") or [len(blocks)]
    parts, start = [], 0
    for count in repeats:
        parts.append(" ".join(blocks[start:start + count]))
        start += count
    return " | ".join(parts)
