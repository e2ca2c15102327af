"""``nasbench perf dnarch``: what DNArch's masks cost and what shrinking them saves, timed in one
process on the same input (issue 4, item 6).

- ``dnarch_step_overhead_at_init``: training-step time of DNArch_{K,R,W,D} at initialisation (the
  masks at the base architecture) over that of the plain CCNN with the same base (target <= 1.25).
- ``dnarch_half_size_step_ratio``: step time with every width mask at half of N_max and every
  resolution mask at half of the input size, over the step time with every width and resolution mask
  at full size (target <= 0.65: the dynamic mode must really skip what the masks cut).

A step is forward, the task loss (mean squared error against a fixed target) plus, for DNArch,
lambda L_comp, backward, an AdamW step and (DNArch) the bound reset. The configurations are timed
round-robin, after warm-up steps, and each figure is the median of its repeats, so a burst of load
from other processes hits all of them alike. ``nasbench perf`` applies the allocator setting of every
run (``nasbench.allocator``) first: without it, re-faulting the freed 30-100 MB activations on every
step dominated the timings and made them swing by 2x between runs.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import torch

from nasbench.contracts import Benchmark, TaskShape
from nasbench.methods.backbones.ccnn import CCNN
from nasbench.methods.dnarch import masks as M
from nasbench.methods.dnarch.complexity import complexity_loss
from nasbench.methods.dnarch.method import DNArchConfig, build_supernet, complexity_model, complexity_ratio


class DNArchBenchmark(Benchmark):
    name = "dnarch"
    description = "DNArch step time at init vs the plain CCNN, and with width/resolution masks at half vs full"

    def __init__(self, width: int = 140, depth: int = 4, size: int = 85, batch_size: int = 8,
                 repeats: int = 5, warmup: int = 2, seed: int = 0):
        self.width, self.depth, self.size, self.batch_size = width, depth, size, batch_size
        self.repeats, self.warmup, self.seed = repeats, warmup, seed

    def run(self, log: Callable[[str], None] = print) -> dict[str, Any]:
        torch.manual_seed(self.seed)
        shape = TaskShape(2, 3, (self.size, self.size), "dense_regression", 1)
        x = torch.randn(self.batch_size, 3, self.size, self.size)
        target = torch.randn(self.batch_size, 1, self.size, self.size)
        steps = {"ccnn": self.ccnn_step(shape, x, target), "dnarch_init": self.dnarch_step(shape, x, target, None),
                 "dnarch_full": self.dnarch_step(shape, x, target, "full"),
                 "dnarch_half": self.dnarch_step(shape, x, target, "half")}
        times = time_round_robin(steps, self.repeats, self.warmup, log)
        return {
            "dnarch_step_overhead_at_init": times["dnarch_init"] / times["ccnn"],
            "dnarch_half_size_step_ratio": times["dnarch_half"] / times["dnarch_full"],
            "step_seconds": times,
            "setup": {"base": f"CCNN_{{{self.depth},{self.width}}}",
                      "input": [self.batch_size, 3, self.size, self.size],
                      "repeats": self.repeats, "warmup": self.warmup, "threads": torch.get_num_threads(),
                      "statistic": "median"},
        }

    def ccnn_step(self, shape: TaskShape, x: torch.Tensor, target: torch.Tensor) -> Callable[[], None]:
        net = CCNN(shape, self.width, self.depth)
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)

        def step() -> None:
            loss = torch.nn.functional.mse_loss(net(x), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return step

    def dnarch_step(self, shape: TaskShape, x: torch.Tensor, target: torch.Tensor, masks: str | None):
        config = DNArchConfig(width=self.width, depth=self.depth)
        net = build_supernet(shape, config)
        if masks is not None:
            set_width_and_resolution(net, masks)
        costs = complexity_model(shape, config, net)
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)

        def step() -> None:
            loss = torch.nn.functional.mse_loss(net(x), target)
            loss = loss + config.complexity_weight * complexity_loss(complexity_ratio(net, costs))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            net.masks.reset_to_bounds()

        return step


@torch.no_grad()
def set_width_and_resolution(net, size: str) -> None:
    """Every width and resolution mask at full size (mu_max) or with its cut-off at the middle of the
    axis (x_T = 0: N_max / 2 channels, about half the input length)."""
    m, s = net.masks, net.masks.settings
    for mu, tau in ((m.width_mu, s.tau_channel), (m.resolution_mu, s.tau_resolution)):
        value = M.sigmoid_bounds(tau)[1] if size == "full" else M.sigmoid_mu_for_cutoff(0.0, tau, s.threshold)
        mu.fill_(value)


def time_round_robin(steps: dict[str, Callable[[], None]], repeats: int, warmup: int,
                     log: Callable[[str], None]) -> dict[str, float]:
    """Median seconds per call of every step, calling them in turn."""
    for _ in range(warmup):
        for step in steps.values():
            step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            samples[name].append(time.perf_counter() - start)
        log(f"  repeat {r + 1}/{repeats}: " + ", ".join(f"{n} {s[-1]:.3f}s" for n, s in samples.items()))
    return {name: statistics.median(values) for name, values in samples.items()}
