"""The NAS-Bench-360 training recipes of the Wide-ResNet backbones (``backbones.wrn``), shared by
every method that trains a WRN (the ``wrn`` baseline, DASH's retraining, the random-search example).

Source: Tu et al., "NAS-Bench-360: Benchmarking Neural Architecture Search on Diverse Tasks",
NeurIPS 2022 Datasets and Benchmarks (arXiv:2110.05668), reference code
github.com/rtu715/NAS-Bench-360, ``backbone/scripts/pde_retrain.yaml`` (the tuned Darcy Flow
retraining) and the WRN CIFAR recipe of Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016
(arXiv:1605.07146).
"""
from __future__ import annotations

from nasbench.contracts import TaskShape
from nasbench.training import TrainConfig


def nb360_milestones(epochs: int) -> tuple[int, ...]:
    """Epochs at which the NAS-Bench-360 schedule multiplies the lr by 0.2: 60, 120, 160 of 200, and
    the reference's own rule for other lengths, 0.3, 0.6 and 0.8 of the epochs."""
    if epochs == 200:
        return (60, 120, 160)
    return (int(0.3 * epochs), int(0.6 * epochs) + 1, int(0.8 * epochs) + 1)


# dense 2D tasks: pde_retrain.yaml (SGD, Nesterov, the tuned lr and weight decay, batch 4)
DENSE_RECIPE = TrainConfig(epochs=200, batch_size=4, lr=0.040978885541880554, momentum=0.9,
                           weight_decay=6.942729492430138e-05, nesterov=True, milestones=(60, 120, 160),
                           eval_batch_size=16)
# other tasks: the WRN CIFAR recipe, until the per-task NAS-Bench-360 recipes come with their tasks
DEFAULT_RECIPE = TrainConfig(epochs=200, batch_size=128, lr=0.1, momentum=0.9, weight_decay=5e-4,
                             nesterov=True, milestones=(60, 120, 160), eval_batch_size=256)
DENSE_DROPOUT = 0.3  # pde_retrain.yaml


def nb360_recipe(shape: TaskShape) -> TrainConfig:
    """The recipe of a task of ``shape``: the Darcy Flow one for dense 2D tasks, else the CIFAR one."""
    return DENSE_RECIPE if is_dense_2d(shape) else DEFAULT_RECIPE


def nb360_dropout(shape: TaskShape) -> float:
    return DENSE_DROPOUT if is_dense_2d(shape) else 0.0


def is_dense_2d(shape: TaskShape) -> bool:
    return shape.dense and shape.dims == 2
