"""The architecture record: a stable ``arch_id``, parameter count and multiply-accumulates."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import torch
from torch import nn


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def content_hash(obj: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def arch_id(method: str, arch: dict[str, Any]) -> str:
    """Hash of the canonical choices (not of probabilities or statistics)."""
    return content_hash({"method": method, "backbone": arch.get("backbone"), "choices": arch.get("choices")})


def example_input(shape) -> torch.Tensor:
    """A batch of one zero input of a task's ``TaskShape`` (token ids where it has a vocabulary), for
    counting the MACs of a network built for it."""
    if shape.vocab_size is not None:
        return torch.zeros(1, *shape.input_size, dtype=torch.long)
    return torch.zeros(1, shape.in_channels, *shape.input_size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass on ``example`` (batch of one), counted by hooks on
    convolutions and linear layers. A module may report its own count with a ``macs(input, output)``
    method (used by operators the hooks cannot see, such as FFT convolutions)."""
    total = [0]

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if hasattr(module, "macs"):
            total[0] += int(module.macs(inputs[0], output))
        elif isinstance(module, nn.modules.conv._ConvNd):
            kernel = module.weight[0].numel()  # (C_in / groups) * prod(k)
            total[0] += kernel * output.numel() // output.shape[0]
        elif isinstance(module, nn.Linear):
            total[0] += module.in_features * output.numel() // output.shape[0]

    self_counted = [m for m in model.modules() if hasattr(m, "macs")]
    inside = {id(c) for m in self_counted for c in m.modules() if c is not m}
    handles = [m.register_forward_hook(hook) for m in model.modules() if id(m) not in inside]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example[:1])
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total[0]
