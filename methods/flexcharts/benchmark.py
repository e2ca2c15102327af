"""``nasbench perf flexcharts``: search memory and time per search step of DMask-large over FlexCHarts
(the paper's Table 1 claim: 1.5-1.7x memory, 1.3-1.7x GPU hours), in one process.

Both searches use the same network (the paper's: 20 DARTS_V2 stages, stem 108, head 256, first width
36), the same valid widths ([0.25, 2] x each stage's initial width: DMask-large's candidates and
FlexCHarts' range for mu), the same input (3 x 32 x 32, CIFAR-10's shape) and the same batch (8 by
default: the paper's 96 is the same for both methods too, but on a 2-core CPU one step of the large
supernet would take minutes; ``batch`` and ``cells`` are arguments of the benchmark). FlexCHarts
allocates each stage up to the top of its active range around mu (at its initial value, as at the
start of a search); DMask-large allocates the top of its range. A search step is what ``fit`` runs
per batch: the architecture step (``before_step``) and the weight step (forward, backward, clipping,
SGD). Times: median over rounds, the two methods alternating within every round so that load from
other processes hits both alike (the machine may be shared: the absolute times are upper bounds).

Memory: the CPU allocator reports no per-step peak (and the resident size of a shared process is
noisy), so the figure counts the bytes a step must hold at its peak, the end of the weight step's
forward pass: every tensor saved for backward (once per storage, through ``saved_tensors_hooks``)
plus the parameters, their gradients and the SGD momentum. It is the same count for both methods and
independent of the machine's load; the ratio of the two counts is the figure.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import replace
from typing import Any, Callable

import torch
from torch import nn

from nasbench.contracts import Benchmark, TaskShape
from nasbench.methods.flexcharts.config import ChannelSearchConfig, DMaskingConfig, FlexCHartsConfig
from nasbench.methods.flexcharts.search import SearchHooks, build_search, search_optimizers


def search_step(config: ChannelSearchConfig, shape: TaskShape, batch: int, seed: int):
    """A closure running one search step on fixed batches, and the state it works on."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x = torch.randn(batch, shape.in_channels, *shape.input_size, generator=generator)
    y = torch.randint(0, shape.num_outputs, (batch,), generator=generator)
    state = build_search(shape, config, torch.device("cpu"), generator, x)
    weight_opt, arch_opt = search_optimizers(state, config)
    loss = nn.functional.cross_entropy
    hooks = SearchHooks(loss, generator, config, state, arch_opt)

    def step() -> None:  # what fit does per batch, with ArchitectureSteps' before_step
        hooks.arch_step(state.net, x, y, x, y)
        out = loss(state.net(x), y)
        weight_opt.zero_grad(set_to_none=True)
        out.backward()
        nn.utils.clip_grad_norm_(state.net.parameters(), config.search.grad_clip)
        weight_opt.step()

    return step, state, weight_opt


def held_bytes(step_state, x: torch.Tensor, y: torch.Tensor) -> int:
    """Saved-for-backward bytes of one weight forward pass, plus parameters, gradients and optimiser state."""
    state, weight_opt = step_state
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = nn.functional.cross_entropy(state.net(x), y)
    del out
    params = sum(3 * p.numel() * p.element_size() for p in state.net.parameters())  # value, grad, momentum
    return sum(seen.values()) + params


class FlexCHartsBenchmark(Benchmark):
    name = "flexcharts"
    description = "search step memory and time of DMask-large over FlexCHarts (same network, widths range, batch)"

    def __init__(self, batch: int = 8, rounds: int = 3, warmup: int = 1, seed: int = 0, cells: int = 20,
                 sigma_steps: float | None = None, width_range: tuple[float, float] | None = None):
        self.batch, self.rounds, self.warmup, self.seed, self.cells = batch, rounds, warmup, seed, cells
        self.sigma_steps, self.width_range = sigma_steps, width_range  # None: the methods' defaults

    def configs(self) -> dict[str, ChannelSearchConfig]:
        flex, dmask = FlexCHartsConfig(cells=self.cells), DMaskingConfig(cells=self.cells, candidate_range="large")
        if self.sigma_steps is not None:
            flex = replace(flex, sigma_steps=self.sigma_steps)
        shared = dict(search=replace(flex.search, batch_size=self.batch),
                      width_range=self.width_range or flex.width_range)
        return {"flexcharts": replace(flex, **shared), "dmask_large": replace(dmask, **shared)}

    def run(self, log: Callable[[str], None] = print) -> dict[str, Any]:
        shape = TaskShape(2, 3, (32, 32), "classes", 10)
        figures: dict[str, Any] = {"threads": torch.get_num_threads(), "load_average_before": os.getloadavg()[0]}
        steps, held = {}, {}
        for name, config in self.configs().items():
            step, state, opt = search_step(config, shape, self.batch, self.seed)
            steps[name] = step
            x = torch.randn(self.batch, 3, 32, 32, generator=torch.Generator().manual_seed(self.seed))
            held[name] = held_bytes((state, opt), x, torch.zeros(self.batch, dtype=torch.long))
            figures[f"{name}_allocated_widths"] = list(state.allocated)
            figures[f"{name}_held_mb"] = round(held[name] / 2**20, 1)
        seconds = time_alternating(steps, self.rounds, self.warmup, log)
        for name, value in seconds.items():
            figures[f"{name}_step_s"] = round(value, 4)
        figures["flexcharts_search_memory_ratio"] = round(held["dmask_large"] / held["flexcharts"], 3)
        figures["flexcharts_search_time_ratio"] = round(seconds["dmask_large"] / seconds["flexcharts"], 3)
        figures["load_average_after"] = os.getloadavg()[0]
        flex = self.configs()["flexcharts"]
        figures["setup"] = {"cells": self.cells, "batch": self.batch, "input": [3, 32, 32], "rounds": self.rounds,
                            "sigma_steps": flex.sigma_steps, "width_range": list(flex.width_range),
                            "memory": "saved-for-backward bytes + parameters, gradients, momentum (CPU)",
                            "statistic": "median step time"}
        log(f"memory ratio {figures['flexcharts_search_memory_ratio']}, time ratio "
            f"{figures['flexcharts_search_time_ratio']}")
        return figures


def time_alternating(steps: dict[str, Callable[[], None]], rounds: int, warmup: int, log) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(warmup + rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if r >= warmup:
                samples[name].append(time.perf_counter() - start)
        if r >= warmup:
            log(f"  round {r + 1 - warmup}/{rounds}: " + ", ".join(f"{n} {s[-1]:.2f}s" for n, s in samples.items()))
    return {name: statistics.median(values) for name, values in samples.items()}
