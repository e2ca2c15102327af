"""The classification base of the suite's tasks (LRA, CIFAR, the NAS-Bench-360 image and series
tasks, offline image sets): cross-entropy on logits (N, classes), top-1 accuracy with its 0-1 error
form, and the declared budgets of ``DeclaredTask``."""
from __future__ import annotations

import torch
from torch import nn

from nasbench.contracts import MetricSpec, Split
from nasbench.tasks.common.declared import DeclaredTask


class ClassificationTask(DeclaredTask):
    """Cross-entropy on logits (N, classes) and accuracy over a split."""

    metric = MetricSpec(name="accuracy", direction="max", error_name="0-1 error")

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(output, target)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        return accuracy(outputs, split.targets)


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Top-1 accuracy of logits (N, classes) against labels (N,); NaN on an empty split."""
    if len(targets) == 0:
        return float("nan")
    return (outputs.argmax(dim=1) == targets).float().mean().item()
