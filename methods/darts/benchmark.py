"""``nasbench perf darts``: the time of one second-order search step over one first-order step on the
same supernet and batches, in one process (the issue's ``darts_second_order_step_ratio``; the paper's
costs, 4 against 1.5 GPU days for the whole search, imply about 2.7).

A step is what the search does per training batch: the architecture step (first order: one forward
and backward on the alpha batch; second order: the unrolled step's forward and backward on the weight
batch, the forward and backward at w' on the alpha batch, two more on the weight batch for the
finite-difference HVP) and then the weight step (forward, backward, clip, SGD). Sizes: the search
network of the ``small`` budget (5 cells, C = 8) on 16 images of 1 x 28 x 28 (Fashion-MNIST's shape)
per batch. The two orders take turns within every round, so a change of machine load hits both
alike; each figure is a median over the rounds. The load average is recorded, since other processes
on a shared machine inflate every time.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import replace
from typing import Any, Callable

import torch
import torch.nn.functional as F

from nasbench.contracts import Benchmark
from nasbench.methods.backbones.darts_cells import SearchNetwork
from nasbench.methods.darts.architect import Architect
from nasbench.methods.darts.config import DARTSConfig

SIZE = dict(channels=1, size=28, classes=10, C=8, layers=5, batch=16)


def search_step(order: int, seed: int = 0) -> Callable[[], float]:
    """A closure taking one full search step (architecture step, then weight step) of ``order``."""
    torch.manual_seed(seed)  # the same network, alpha and batches for both orders
    net = SearchNetwork(SIZE["channels"], SIZE["classes"], SIZE["C"], SIZE["layers"])
    shape = (SIZE["batch"], SIZE["channels"], SIZE["size"], SIZE["size"])
    x_w, x_a = torch.randn(shape), torch.randn(shape)
    y_w, y_a = (torch.randint(0, SIZE["classes"], (SIZE["batch"],)) for _ in range(2))
    opt = torch.optim.SGD(net.weight_parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    architect = Architect(net, F.cross_entropy, opt, replace(DARTSConfig(), order=order))

    def step() -> float:
        architect.step(net, x_a, y_a, x_w, y_w)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x_w), y_w)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.weight_parameters(), 5.0)
        opt.step()
        return float(loss)

    return step


class DARTSBenchmark(Benchmark):
    name = "darts"
    description = "one second-order DARTS search step over one first-order step (same supernet and batches)"
    rounds, warmup = 5, 1

    def run(self, log: Callable[[str], None] = print) -> dict[str, Any]:
        figures: dict[str, Any] = {"threads": torch.get_num_threads(), "load_average_before": os.getloadavg()[0]}
        steps = {order: search_step(order) for order in (1, 2)}
        times: dict[int, list[float]] = {1: [], 2: []}
        for round_ in range(self.warmup + self.rounds):
            for order, step in steps.items():
                start = time.perf_counter()
                step()
                if round_ >= self.warmup:
                    times[order].append(time.perf_counter() - start)
        seconds = {order: statistics.median(t) for order, t in times.items()}
        for order, value in seconds.items():
            figures[f"order{order}_step_s"] = round(value, 4)
            log(f"order {order} search step {value * 1e3:9.1f} ms (median of {self.rounds})")
        figures["darts_second_order_step_ratio"] = round(seconds[2] / seconds[1], 2)
        log(f"darts_second_order_step_ratio {figures['darts_second_order_step_ratio']} (target <= 3.0)")
        figures["load_average_after"] = os.getloadavg()[0]
        figures["sizes"] = dict(SIZE)
        return figures
