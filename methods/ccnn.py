"""CCNN: the plain Continuous CNN with global kernels, the "CCNN_{4,140} (Global Kernels)" row of
the DNArch paper (Romero & Zeghidour, "DNArch: Learning Convolutional Neural Architectures by
Backpropagation", 2023, arXiv:2302.05400, Tables 1-3), and DNArch's base network.

Backbone: ``nasbench.methods.backbones.ccnn`` (Knigge, Romero et al., "Modelling long range
dependencies in ND: from task-specific to a general purpose CNN", ICLR 2023,
https://openreview.net/forum?id=ZW5aK4yCRqU; reference implementation github.com/david-knigge/ccnn).
Kernels as large as the input, full resolution, no masks; one shared kernel network as in DNArch, so
the baseline and DNArch differ only by the masks.
No search: the run trains the network once and reports the last-epoch test metric. LRA Retrieval
(paired documents) as in the paper's Table 1: one CCNN encodes both documents and the two-tower head
of ``backbones.encoder_pair`` compares them.

Recipe [A]: the paper lists no separate hyper-parameters for the baseline; the suite trains it with
the DNArch row of its task (Tables 7-8: epochs, batch size, learning rate, dropout, weight decay,
omega_0; AdamW, cosine schedule, linear warm-up). BatchNorm keeps running statistics (the standard
CCNN); ``batch_stats_only=True`` gives DNArch's batch-statistics BatchNorm.

Budgets: ``paper`` is the table row with CCNN_{4,140}; ``small`` and ``smoke`` shrink the network and
the schedule (``budget_notes``), with the same recipe as ``dnarch`` at that budget, and start every
residual branch at zero (``zero_init_branches`` [A]): with the reference's kaiming initialisation the
global-kernel CCNN's output is ~10x the target's scale at initialisation (smooth global kernels sum
a smooth input coherently), and a 15-epoch schedule does not recover from it (the runs are in
``docs/measurements.md``). Below ``paper`` the decoder reads ListOps at the first position instead
of the mean pool, as for ``dnarch`` (``backbones.ccnn_recipes.FIRST_POSITION_TASKS``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from nasbench.contracts import RunContext, SearchMethod, TaskShape, TaskView
from nasbench.errors import ConfigError
from nasbench.methods.backbones.ccnn import CCNN as CCNNBackbone, POOLINGS, max_kernel_size, unsupported_reason
from nasbench.methods.backbones.ccnn_recipes import (
    budget_notes as scaled_budget_notes,
    paper_recipe,
    paper_row,
    pooling_for,
    scale_for_budget,
)
from nasbench.methods.backbones.encoder_pair import pair_network
from nasbench.methods.backbones.records import blocks_frame, blocks_row, draw_blocks
from nasbench.training import TrainConfig, fit


@dataclass(frozen=True)
class CCNNConfig:
    depth: int = 4  # CCNN_{4,140}
    width: int = 140
    dropout: float = 0.0
    kernel_hidden: int = 128  # shared kernel network: 4 layers of 128 units [P, E.1]
    kernel_layers: int = 4
    kernel_frequencies: int = 128  # W in R^{D x 128}
    omega_0: float = 24500.0  # Table 7, Darcy Flow (see the DNArch module on its scale)
    batch_stats_only: bool = False
    zero_init_branches: bool = False  # [A] the PWLinear of every branch starts at 0 (blocks start as identities)
    embedding_dim: int | None = None  # token tasks; None: the network width
    pooling: Literal["mean", "first"] = "mean"  # global average pool [P]; ccnn_recipes.pooling_for
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=310, batch_size=8, lr=0.02, weight_decay=1e-4, optimizer="adamw", schedule="cosine",
        warmup_epochs=10, eval_batch_size=16))

    def validate(self) -> None:
        if self.depth < 1 or self.width < 1:
            raise ConfigError(f"ccnn: depth and width must be >= 1, got depth={self.depth}, width={self.width}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"ccnn: pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"ccnn: dropout must be in [0, 1), got {self.dropout}")
        if self.kernel_layers < 1 or self.kernel_hidden < 1 or self.kernel_frequencies < 1:
            raise ConfigError("ccnn: kernel_layers, kernel_hidden and kernel_frequencies must be >= 1")
        self.train.validate()


ZERO_INIT_NOTE = ("every branch's PWLinear starts at 0: with the kaiming init the output of a global-kernel "
                  "CCNN is ~10x the target's scale at init, which a short schedule cannot afford")


class CCNN(SearchMethod):
    name = "ccnn"
    citation = ("Knigge, Romero et al., Modelling Long Range Dependencies in ND: From Task-Specific to a "
                "General Purpose CNN, ICLR 2023; Romero & Zeghidour, DNArch, 2023 (global-kernel baseline)")
    Config = CCNNConfig
    supports_pair_inputs = True  # LRA Retrieval: one CCNN encodes both documents (DNArch Table 1)
    baseline = True  # a plain backbone: no search
    description = "the plain Continuous CNN with global kernels (DNArch's base network), trained once"

    @classmethod
    def default_config(cls, budget: str, task: TaskView) -> CCNNConfig:
        key, row = paper_row(task.name, task.shape, 4, 140)
        config = CCNNConfig(dropout=row.dropout, omega_0=row.omega_0, train=paper_recipe(key, row))
        return scale_for_budget(config, budget, task.shape, zero_init_branches=True,
                                pooling=pooling_for(budget, task.name))

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        return scaled_budget_notes(budget, ZERO_INIT_NOTE)

    @classmethod
    def unsupported_reason(cls, shape: TaskShape) -> str | None:
        return unsupported_reason(shape)

    @classmethod
    def describe_record(cls, record: dict[str, Any]) -> dict[str, Any]:
        return {"backbone": record.get("backbone"), **blocks_row(record["choices"]["blocks"])}

    @classmethod
    def draw_record(cls, record: dict[str, Any], ax: Any) -> bool:
        return draw_blocks(blocks_frame(record["choices"]["blocks"]), ax, title="Global kernels at full resolution")

    def search(self, ctx: RunContext) -> dict[str, Any]:
        c, shape = self.config, ctx.task.shape
        kernel = [max_kernel_size(n) for n in shape.input_size]
        blocks = [{"kernel_size": kernel, "resolution": list(shape.input_size), "width": [c.width] * 3}] * c.depth
        return {"backbone": f"ccnn_{c.depth}_{c.width}", "search_space": {"id": "none"},
                "choices": {"depth": c.depth, "width": c.width, "kernel": "global", "blocks": blocks}}

    def retrain(self, ctx: RunContext, arch: dict[str, Any], hparams: dict[str, Any]) -> nn.Module:
        c = self.config
        model = pair_network(ctx.task.shape, c.width, lambda shape: build_ccnn(shape, c))
        fit(model, ctx, c.train)
        return model


def build_ccnn(shape: TaskShape, c: CCNNConfig) -> CCNNBackbone:
    return CCNNBackbone(shape, c.width, c.depth, dropout=c.dropout, kernel_hidden=c.kernel_hidden,
                        kernel_layers=c.kernel_layers, kernel_frequencies=c.kernel_frequencies,
                        omega_0=c.omega_0, batch_stats_only=c.batch_stats_only, embedding_dim=c.embedding_dim,
                        zero_init_branches=c.zero_init_branches, pooling=c.pooling)
