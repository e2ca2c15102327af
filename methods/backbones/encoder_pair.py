"""The encoder-pair ("two tower") protocol of LRA Retrieval, usable with any method's backbone.

Tay et al., "Long Range Arena: A Benchmark for Efficient Transformers", ICLR 2021 (arXiv:2011.04006),
Section 3.3, and Romero & Zeghidour, "DNArch" (arXiv:2302.05400), Appendix D.1: each
document goes through ONE shared encoder; with X1, X2 the two encodings, the features
[X1, X2, X1 * X2, X1 - X2] go into a two-layer MLP (Linear, ReLU, Linear), whose output is the logits.

A task with paired inputs declares ``TaskShape(pair_inputs=True)``; its inputs are (N, 2, *input_size).
A method that supports such tasks sets ``supports_pair_inputs = True`` and builds its network as

    if shape.pair_inputs:
        single = encoder_shape(shape, features=width)       # one document, ``width`` outputs
        model = EncoderPair(build_backbone(single), width, shape.num_outputs)
    else:
        model = build_backbone(shape)

so the backbone's own classifier becomes the document encoder's last (pooled, linear) layer. The
runner skips a method without ``supports_pair_inputs`` on such a task (``contracts.unsupported_reason``).

Both documents are encoded in one batch of 2B (as the S4 loader concatenates them), so batch
statistics are shared between the towers.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import torch
from torch import nn

from nasbench.contracts import TaskShape


def encoder_shape(shape: TaskShape, features: int) -> TaskShape:
    """The shape of one document of a paired task, with ``features`` global outputs: the shape to
    build the shared encoder for."""
    return dataclasses.replace(shape, pair_inputs=False, output="classes", num_outputs=features)


def pair_network(shape: TaskShape, features: int, build: Callable[[TaskShape], nn.Module]) -> nn.Module:
    """``build(shape)`` for a task of single inputs; for a paired task, ``build`` on one document with
    ``features`` outputs, shared by both documents and followed by the pair head."""
    if not shape.pair_inputs:
        return build(shape)
    return EncoderPair(build(encoder_shape(shape, features)), features, shape.num_outputs)


class EncoderPair(nn.Module):
    """Shared ``encoder`` ((B, *doc) -> (B, features)) on both documents, then the NLI-style head."""

    def __init__(self, encoder: nn.Module, features: int, num_classes: int, hidden: int | None = None):
        super().__init__()
        self.encoder, self.features = encoder, features
        hidden = hidden or features
        self.head = nn.Sequential(nn.Linear(4 * features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2 or x.shape[1] != 2:
            raise ValueError(f"EncoderPair expects inputs of shape (B, 2, ...), got {tuple(x.shape)}")
        batch = x.shape[0]
        encoded = self.encoder(torch.cat([x[:, 0], x[:, 1]], dim=0))
        x1, x2 = encoded[:batch], encoded[batch:]
        return self.head(torch.cat([x1, x2, x1 * x2, x1 - x2], dim=1))

    def macs(self, inputs: torch.Tensor, output: torch.Tensor) -> int:
        """Both towers (counted by ``nasbench.arch.count_macs`` on one document) plus the head."""
        from nasbench.arch import count_macs

        per_document = count_macs(self.encoder, inputs[:1, 0])
        head = sum(m.in_features * m.out_features for m in self.head if isinstance(m, nn.Linear))
        return 2 * per_document + head
