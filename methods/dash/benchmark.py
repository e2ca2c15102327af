"""``nasbench perf dash``: forward plus backward time of one searched layer in the three forms of the
aggregated convolution, in one process (issue 3; the paper's Fig. 2-3 ablation, on this machine).

Sizes: 1D, length 1000, K = {3, 7, 11, 15, 19}, D = {1, 3, 7, 15}, 16 channels in and out, batch 32,
all three forms; 2D, 85 x 85, K = {3, 5, 7, 9}, D = {1, 3, 7, 15}, 16 channels, batch 4, Fourier and
mixed-results (mixed-weights would convolve with a 121 x 121 kernel: about 100 GMAC per forward pass).
The forms take turns within every round, so a change of machine load hits them alike; the figure of
a form is its median over the rounds. The result records the thread count and the load average,
since other processes on a shared machine inflate every time.
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable

import torch

from nasbench.contracts import Benchmark
from nasbench.methods.dash.config import D_1D, D_2D, K_1D, K_2D
from nasbench.methods.dash.ops import AggregatedConv

CASES = {  # issue 3, item 5
    "1d": dict(dims=1, size=1000, kernel_sizes=K_1D, dilations=D_1D, channels=16, batch=32,
               forms=("fourier", "mixed-results", "mixed-weights")),
    "2d": dict(dims=2, size=85, kernel_sizes=K_2D, dilations=D_2D, channels=16, batch=4,
               forms=("fourier", "mixed-results")),
}


def layer_step(form: str, case: dict[str, Any], seed: int = 0) -> tuple[Callable[[], torch.Tensor], AggregatedConv]:
    """A closure running forward and backward of one layer on a fixed input; returns the output."""
    torch.manual_seed(seed)  # the same weights, logits and input for every form
    layer = AggregatedConv(case["dims"], case["channels"], case["channels"], case["kernel_sizes"],
                           case["dilations"], form=form)
    x = torch.randn(case["batch"], case["channels"], *(case["size"],) * case["dims"], requires_grad=True)
    probs = torch.softmax(layer.alpha.detach(), 0).requires_grad_()  # fixed weights: the forms compare exactly

    def step() -> torch.Tensor:
        layer.zero_grad(set_to_none=True)
        x.grad = probs.grad = None
        out = layer(x, probs)
        out.square().mean().backward()
        return out.detach()

    return step, layer


def time_forms(case: dict[str, Any], rounds: int, warmup: int) -> tuple[dict[str, float], float]:
    """Median seconds of forward+backward per form, and the largest output difference to Fourier."""
    steps = {form: layer_step(form, case)[0] for form in case["forms"]}
    outputs = {form: step() for form, step in steps.items()}
    times: dict[str, list[float]] = {form: [] for form in steps}
    for round_ in range(warmup + rounds):
        for form, step in steps.items():
            start = time.perf_counter()
            step()
            if round_ >= warmup:
                times[form].append(time.perf_counter() - start)
    gap = max(float((outputs[f] - outputs["fourier"]).abs().max()) for f in outputs)
    return {form: statistics.median(t) for form, t in times.items()}, gap


class DASHBenchmark(Benchmark):
    name = "dash"
    description = "forward+backward of one DASH layer: fourier vs mixed-results vs mixed-weights (1D, 2D)"
    rounds, warmup = 7, 2

    def run(self, log: Callable[[str], None] = print) -> dict[str, Any]:
        figures: dict[str, Any] = {"threads": torch.get_num_threads(), "load_average_before": os.getloadavg()[0]}
        for tag, case in CASES.items():
            seconds, gap = time_forms(case, self.rounds, self.warmup)
            for form, value in seconds.items():
                figures[f"{form.replace('-', '_')}_{tag}_s"] = round(value, 5)
                log(f"{tag} {form:<14} {value * 1e3:9.1f} ms (median of {self.rounds})")
            figures[f"max_abs_difference_{tag}"] = gap
            for form in case["forms"][1:]:
                ratio = seconds[form] / seconds["fourier"]
                figures[f"dash_speedup_vs_{form.replace('-', '_')}_{tag}"] = round(ratio, 2)
        figures["load_average_after"] = os.getloadavg()[0]
        figures["sizes"] = {tag: {k: v for k, v in case.items() if k != "forms"} for tag, case in CASES.items()}
        return figures
