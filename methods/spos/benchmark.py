"""``nasbench perf spos``: the cost of one supernet training step over one step of the standalone
network of the same path (issue 17: ``spos_supernet_step_ratio``, target <= 1.3), in one process.

A supernet step is what ``fit`` does with the ``SinglePathSampling`` feature: draw a uniform path,
route the supernet through it, forward, backward, drop the exactly-zero gradients, SGD step (momentum,
weight decay) over all supernet parameters. The standalone step is forward, backward and the SGD
step of the network built for that path alone. Both see the same batch; the sampler's generator is
seeded so the standalone network of each round is built for the path the supernet will draw.

Sizes: the ``small`` budget's supernet (20 layers, widths 16-128) on a Fashion-MNIST-shaped batch
(128 x 1 x 28 x 28, CIFAR form) and on an LRA-Image-shaped 1D batch (32 x 1 x 1024, ImageNet form).
The two steps take turns within every round, so a change of machine load hits them alike; each
figure is a median over rounds. The thread count and the load average are recorded.
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from nasbench.contracts import Benchmark, TaskShape
from nasbench.methods.backbones.single_path import SinglePathSupernet
from nasbench.methods.spos.config import default_config
from nasbench.methods.spos.search import decay_groups
from nasbench.methods.spos.space import UniformSampler
from nasbench.training import SinglePathSampling, make_optimizer

CASES = {
    "2d": (TaskShape(2, 1, (28, 28), "classes", 10), 128),
    "1d": (TaskShape(1, 1, (1024,), "classes", 10), 32),
}


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
          feature: SinglePathSampling | None = None) -> None:
    if feature is not None:
        feature.before_step(model, x, y)
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    if feature is not None:
        feature.after_backward(model)
    optimizer.step()


def time_case(shape: TaskShape, batch: int, rounds: int, warmup: int, seed: int = 0) -> dict[str, float]:
    """Median seconds of a supernet step and of the standalone step of the same path."""
    torch.manual_seed(seed)
    config = default_config("small")
    spec = config.spec(shape)
    supernet = SinglePathSupernet(spec)
    sgd = lambda model: make_optimizer(decay_groups(model, config.supernet), config.supernet)
    feature = SinglePathSampling(UniformSampler(spec, np.random.default_rng(seed)))
    paths = UniformSampler(spec, np.random.default_rng(seed))  # the same draws, to build the standalones
    x, y = torch.randn(batch, shape.in_channels, *shape.input_size), torch.randint(shape.num_outputs, (batch,))
    optimizer, times = sgd(supernet), {"supernet": [], "standalone": []}
    for round_ in range(warmup + rounds):
        standalone = SinglePathSupernet(spec, path=paths())
        own = sgd(standalone)
        _step(standalone, own, x, y)  # first step allocates the optimiser state, as the supernet's warm-up did
        for name, run in (("supernet", lambda: _step(supernet, optimizer, x, y, feature)),
                          ("standalone", lambda: _step(standalone, own, x, y))):
            start = time.perf_counter()
            run()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


class SPOSBenchmark(Benchmark):
    name = "spos"
    description = "one SPOS supernet step (sample, forward, backward, step) over one step of the same path alone"
    rounds, warmup = 9, 2

    def run(self, log: Callable[[str], None] = print) -> dict[str, Any]:
        figures: dict[str, Any] = {"threads": torch.get_num_threads(), "load_average_before": os.getloadavg()[0]}
        ratios = []
        for tag, (shape, batch) in CASES.items():
            seconds = time_case(shape, batch, self.rounds, self.warmup)
            ratio = seconds["supernet"] / seconds["standalone"]
            ratios.append(ratio)
            log(f"{tag}: supernet step {seconds['supernet'] * 1e3:.1f} ms, standalone {seconds['standalone'] * 1e3:.1f} "
                f"ms, ratio {ratio:.3f} (median of {self.rounds})")
            figures.update({f"supernet_step_{tag}_s": round(seconds["supernet"], 5),
                            f"standalone_step_{tag}_s": round(seconds["standalone"], 5),
                            f"spos_supernet_step_ratio_{tag}": round(ratio, 3)})
        figures["spos_supernet_step_ratio"] = round(max(ratios), 3)  # the worse of the two cases
        figures["load_average_after"] = os.getloadavg()[0]
        figures["sizes"] = {tag: {"input": [batch, shape.in_channels, *shape.input_size]} for tag, (shape, batch) in
                            CASES.items()}
        return figures
