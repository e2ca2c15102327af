"""``nasbench perf bms``: the cost of balancing the mixture once, on the largest space of the paper.

``bms_ipf_seconds``: IPF of a 560 x 8 joint (ResNet-50 on CIFAR-100, M = 8) to KL(p(m) || U) < 1e-4,
from accuracies drawn uniformly in [0.5, 0.9] at the last temperature of the search, 1 / (100 M),
where the joint is most peaked and IPF needs the most sweeps. The search balances before every draw,
so this must cost far less than a training step (target < 10 ms). Median over rounds of fresh matrices.
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable

import numpy as np

from nasbench.contracts import Benchmark
from nasbench.methods.bms.balance import balanced_conditional, kl_to_uniform

CONFIGS, MODELS, TOLERANCE = 560, 8, 1e-4


class BMSBenchmark(Benchmark):
    name = "bms"
    description = "IPF balancing of a 560 x 8 mixture (ResNet-50 space, M = 8) to KL < 1e-4, at the final tau"
    rounds = 21

    def run(self, log: Callable[[str], None] = print) -> dict[str, Any]:
        rng = np.random.default_rng(0)
        tau = 1.0 / (100 * MODELS)
        seconds, sweeps, kls = [], [], []
        for _ in range(self.rounds):
            accuracy = rng.uniform(0.5, 0.9, size=(CONFIGS, MODELS))
            start = time.perf_counter()
            balanced = balanced_conditional(accuracy, tau, TOLERANCE)
            seconds.append(time.perf_counter() - start)
            sweeps.append(balanced.sweeps)
            kls.append(kl_to_uniform(balanced.joint.sum(axis=0)))
        median = statistics.median(seconds)
        log(f"IPF {CONFIGS} x {MODELS} to KL < {TOLERANCE:g}: {median * 1e3:.2f} ms (median of {self.rounds}), "
            f"{statistics.median(sweeps)} sweeps, largest KL after the row step {max(kls):.2e}")
        return {"bms_ipf_seconds": round(median, 6), "target_s": 0.01, "sweeps_median": statistics.median(sweeps),
                "kl_max": max(kls), "tau": tau, "rounds": self.rounds, "load_average": os.getloadavg()[0]}
