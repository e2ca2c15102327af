"""DASH search: the supernet (every searchable conv of the WRN an aggregated conv), the single-level
search on the training split, the architecture-gradient conditioning and the discretisation."""
from __future__ import annotations

import functools
import math
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from nasbench.contracts import RunContext, TaskShape
from nasbench.methods.backbones.wrn import WideResNet1D, WideResNet2D, build_wrn
from nasbench.methods.dash.config import DASHConfig
from nasbench.methods.dash.ops import ALPHA_INIT_STD, AggregatedConv, pair_of_index, receptive_field
from nasbench.training import TrainConfig, epoch_examples, fit


class Supernet(nn.Module):
    """The backbone with its searchable convolutions replaced by aggregated convolutions, which
    ``layers`` lists in the backbone's index order (stem first)."""

    def __init__(self, shape: TaskShape, c: DASHConfig):
        super().__init__()
        made: dict[int, AggregatedConv] = {}
        if shape.dims == 2:
            self.backbone = WideResNet2D(shape.in_channels, shape.num_outputs, c.depth, c.search_widen, 0.0,
                                         dense=shape.dense, conv_factory=_factory(shape, c, made))
        else:
            self.backbone = WideResNet1D(shape.in_channels, shape.num_outputs, c.mid_channels, 0.0, dense=shape.dense,
                                         causal=c.causal, conv_factory=_factory(shape, c, made))
        self.layers = [made[i] for i in sorted(made)]
        self.names = _layer_names(self.backbone, self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def arch_parameters(self) -> list[nn.Parameter]:
        return [layer.alpha for layer in self.layers]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def set_generator(self, generator: torch.Generator) -> None:
        for layer in self.layers:
            layer.generator = generator


def _factory(shape: TaskShape, c: DASHConfig, made: dict[int, AggregatedConv]):
    """The backbone's ``conv_factory``: an aggregated conv for searchable conv ``index``; a conv
    with as many inputs as outputs is searched depthwise when ``depthwise_search`` [R]."""
    def make(index: int, in_ch: int, out_ch: int, stride: int) -> AggregatedConv:
        made[index] = AggregatedConv(shape.dims, in_ch, out_ch, c.kernel_sizes, c.dilations, stride=stride,
                                     form=c.form, depthwise=c.depthwise_search and in_ch == out_ch,
                                     causal=c.causal and shape.dims == 1, temperature=c.temperature)
        return made[index]
    return make


def _layer_names(backbone: nn.Module, layers: list[AggregatedConv]) -> list[str]:
    by_id = {id(m): name for name, m in backbone.named_modules()}
    return [by_id[id(layer)] for layer in layers]


def receptive_fields(c: DASHConfig, dense: bool) -> torch.Tensor:
    """r_{k,d} of the conditioning term, k-major: d (k - 1) + 1, or 10 k for dense tasks [R]."""
    return torch.tensor([10.0 * k if dense else float(receptive_field(k, d)) for k in c.kernel_sizes
                         for d in c.dilations])


def condition_arch_gradients(alphas: list[nn.Parameter], grad_scale: float, fields: torch.Tensor) -> None:
    """[R] ``scale_grad``: g <- g / (grad_scale (|g| + 1e-8)) + 1e-5 r per layer, which fixes the
    step length of every layer's logits and slightly penalises large receptive fields."""
    for alpha in alphas:
        if alpha.grad is None:
            continue
        if grad_scale:
            alpha.grad /= grad_scale * (alpha.grad.norm() + 1e-8)
        alpha.grad += 1e-5 * fields.to(alpha.grad)


def search_batches_per_epoch(n_batches: int, ratio: float, cap: int | None = None) -> int:
    """[R] quick_search: int(ratio * n) + 1 batches per epoch (every batch when ratio >= 1)."""
    count = n_batches if ratio >= 1 else min(int(ratio * n_batches) + 1, n_batches)
    return min(count, cap) if cap else count


def run_search(ctx: RunContext, c: DASHConfig) -> tuple[Supernet, int]:
    """Single-level search on the training split: weights and logits step together (two SGD
    optimisers), gradients conditioned then clipped to norm 1."""
    net = Supernet(ctx.task.shape, c).to(ctx.device)
    net.set_generator(ctx.generator)
    cfg = c.search
    batches = search_batches_per_epoch(ctx.train.num_batches(cfg.batch_size), c.subsample, cfg.batches_per_epoch)
    clip_weights_only = not c.clip_logits and c.search.grad_clip is not None
    cfg = replace(cfg, batches_per_epoch=batches, grad_clip=None if clip_weights_only else cfg.grad_clip)
    optimizers = [_sgd(net.weight_parameters(), cfg, cfg.lr), _sgd(net.arch_parameters(), cfg, c.arch_lr)]
    fields = receptive_fields(c, ctx.task.shape.dense)

    def after_backward(model: nn.Module) -> None:
        if c.grad_conditioning:
            condition_arch_gradients(net.arch_parameters(), c.grad_scale, fields)
        if clip_weights_only:
            nn.utils.clip_grad_norm_(net.weight_parameters(), c.search.grad_clip)

    val = ctx.val if c.search_val_samples is None else ctx.val.subset(min(c.search_val_samples, len(ctx.val)),
                                                                     ctx.generator)
    ctx.log(f"dash search: {len(net.layers)} layers, |K||D| = {len(net.layers[0].pairs)}, {cfg.epochs} epochs "
            f"of {batches} batches")
    initial = InitialArchitecture(net)  # what the search signal measures the search's movement from
    fit(net, ctx, cfg, val=val, optimizers=optimizers, after_backward=after_backward,
        epoch_log=lambda model: search_signal(net, initial), log_initial=True)
    return net, batches


def _sgd(params, cfg: TrainConfig, lr: float) -> torch.optim.SGD:
    """[P] A.5.2: SGD, momentum 0.9, Nesterov, weight decay 5e-4 on weights and logits alike."""
    return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           nesterov=cfg.nesterov and cfg.momentum > 0)


@torch.no_grad()
def argmax_indices(net: Supernet) -> list[int]:
    """Per layer: the index of the largest architecture logit (the (k, d) the layer would pick)."""
    return [int(layer.alpha.argmax()) for layer in net.layers]


@torch.no_grad()
def search_signal(net: Supernet, initial: "InitialArchitecture") -> dict[str, float]:
    """Curve columns saying whether the search moved: the mean over layers of the largest mixture
    weight softmax(alpha) (1 / |K||D| is uniform) and of its entropy (nats; ln |K||D| is uniform); the
    mean over layers of the largest logit change since initialisation, in units of the logits' initial
    spread (``ALPHA_INIT_STD``: below about 1 the argmax is still the initialisation's draw); and how
    many layers' argmax differs from ``initial``, the argmax at initialisation."""
    probs = torch.stack([torch.softmax(layer.alpha.float(), 0) for layer in net.layers]).cpu()
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(dim=1)
    shift = torch.stack([(layer.alpha - start).abs().max() for layer, start in zip(net.layers, initial.alphas)])
    changed = sum(a != b for a, b in zip(argmax_indices(net), initial.argmax))
    return {"signal_max_weight": float(probs.max(dim=1).values.mean()), "signal_entropy": float(entropy.mean()),
            "signal_logit_shift": float(shift.mean()) / ALPHA_INIT_STD, "signal_changed": changed,
            "signal_decisions": len(net.layers)}


class InitialArchitecture:
    """The logits at initialisation and their argmax per layer, which the search signal compares with."""

    def __init__(self, net: Supernet):
        self.alphas = [layer.alpha.detach().clone() for layer in net.layers]
        self.argmax = argmax_indices(net)


@torch.no_grad()
def discretise(net: Supernet, c: DASHConfig) -> list[dict[str, Any]]:
    """Per layer: j* = argmax alpha (no noise), (k, d) = (K[j* div |D|], D[j* mod |D|])."""
    layers = []
    for name, layer in zip(net.names, net.layers):
        index = int(layer.alpha.argmax())
        k, d = pair_of_index(index, c.kernel_sizes, c.dilations)
        probs = torch.softmax(layer.alpha, 0).tolist()
        layers.append({"name": name, "k": k, "d": d, "receptive_field": receptive_field(k, d),
                       "index": index, "probs": probs})
    return layers


@functools.lru_cache(maxsize=16)
def searchable_count(shape: TaskShape, depth: int, mid_channels: int | None) -> int:
    """How many convolutions of the backbone DASH searches (13 in WRN-16-k, 9 in the 1D WRN). Built
    once per shape, so the build leaves the global generator as it was: a cached call and a first call
    must leave the same state behind, or a run would depend on the runs before it in the process."""
    with torch.random.fork_rng(devices=[]):
        return build_wrn(shape, depth=depth, widen=1, mid_channels=mid_channels).num_searchable


def sampled_layers(c: DASHConfig, shape: TaskShape, rng: np.random.Generator) -> list[dict[str, Any]]:
    """A uniform draw from DASH's space: every searchable convolution of the backbone takes one (k, d)
    of K x D, independently of the others (the index j the discretisation would map, drawn uniformly)."""
    picks = rng.integers(len(c.kernel_sizes) * len(c.dilations), size=searchable_count(shape, c.depth, c.mid_channels))
    layers = []
    for index in picks.tolist():
        k, d = pair_of_index(index, c.kernel_sizes, c.dilations)
        layers.append({"name": None, "k": k, "d": d, "receptive_field": receptive_field(k, d), "index": index})
    return layers


def search_examples(c: DASHConfig, train_size: int) -> int:
    """Training examples of the search: one weight-and-logits step per batch, int(0.2 n) + 1 batches
    per epoch [R quick_search], ``c.search.epochs`` epochs."""
    n_batches = -(-train_size // c.search.batch_size)
    batches = search_batches_per_epoch(n_batches, c.subsample, c.search.batches_per_epoch)
    return c.search.epochs * epoch_examples(train_size, replace(c.search, batches_per_epoch=batches))


def arch_record(layers: list[dict[str, Any]], c: DASHConfig, shape: TaskShape, batches: int | None) -> dict[str, Any]:
    """The architecture (per layer k, d and the mixture weights [P] 3.2) in the runner's envelope."""
    search_backbone = f"wrn-{c.depth}-{c.search_widen}" if shape.dims == 2 else "wrn1d"
    retrain_backbone = f"wrn-{c.depth}-{c.retrain_widen}" if shape.dims == 2 else "wrn1d"
    return {
        "backbone": retrain_backbone,
        "search_space": {"id": "dash-kd", "K": list(c.kernel_sizes), "D": list(c.dilations),
                         "candidates_per_layer": len(c.kernel_sizes) * len(c.dilations), "layers": len(layers),
                         "log10_size": round(len(layers) * math.log10(len(c.kernel_sizes) * len(c.dilations)), 3)},
        "choices": {"kernels": [[layer["k"], layer["d"]] for layer in layers], "dims": shape.dims, "depth": c.depth,
                    "widen": c.retrain_widen if shape.dims == 2 else None,
                    "mid_channels": c.mid_channels if shape.dims == 1 else None,
                    "causal": c.causal if shape.dims == 1 else None},
        "details": {"search_backbone": search_backbone, "retrain_backbone": retrain_backbone, "form": c.form,
                    "layers": layers, "search_batches_per_epoch": batches,
                    "grad_conditioning": c.grad_conditioning, "depthwise_search": c.depthwise_search},
    }
