"""The architecture step of DARTS: the gradient of the validation loss with respect to alpha, first
or second order, and the update (Adam on softmax logits, or GAEA's exponentiated gradient).

Second order [P eq. 6-8, R architect.py]: with w' = w - xi (mu v + grad_w L_train(w, alpha) + lambda w)
(the full SGD step of the weight optimiser: its momentum buffer v, momentum mu and weight decay
lambda; xi its current learning rate),

    grad_alpha L_val(w', alpha) - xi * [grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)] / (2 eps)

with w+- = w +- eps grad_w' L_val(w', alpha) and eps = 0.01 / ||grad_w' L_val(w', alpha)||. The
reference builds a copy of the network for w'; here w' is written into the network's own weights and
w restored afterwards (the BatchNorms use batch statistics in training mode either way; only their
running averages see the extra batches, as the reference's own network does in the HVP).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from nasbench.methods.backbones.darts_cells import SearchNetwork
from nasbench.methods.darts.config import DARTSConfig

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class ExponentiatedGradient(torch.optim.Optimizer):
    """GAEA's update on the simplex (Li et al., "Geometry-Aware Gradient Algorithms for Neural
    Architecture Search", ICLR 2021, arXiv:2004.07802): alpha <- alpha exp(-lr g), each row (edge)
    renormalised to sum 1."""

    def __init__(self, params, lr: float):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.mul_(torch.exp(-group["lr"] * p.grad))
                    p.div_(p.sum(dim=-1, keepdim=True))


def arch_optimizer(net: SearchNetwork, c: DARTSConfig) -> torch.optim.Optimizer:
    if c.update == "gaea":
        return ExponentiatedGradient(net.arch_parameters(), lr=c.gaea_lr)
    return torch.optim.Adam(net.arch_parameters(), lr=c.arch_lr, betas=c.arch_betas, weight_decay=c.arch_weight_decay)


class Architect:
    """One architecture step per call (the ``ArchitectureSteps`` loop feature's step function)."""

    def __init__(self, net: SearchNetwork, loss: Loss, weight_optimizer: torch.optim.Optimizer, c: DARTSConfig):
        self.net, self.loss, self.weight_optimizer, self.config = net, loss, weight_optimizer, c
        self.optimizer = arch_optimizer(net, c)

    def step(self, model: nn.Module, arch_inputs: torch.Tensor, arch_targets: torch.Tensor,
             inputs: torch.Tensor, targets: torch.Tensor) -> None:
        if self.config.order == 1:
            grads = self.first_order(arch_inputs, arch_targets)
        else:
            grads = self.second_order(arch_inputs, arch_targets, inputs, targets)
        self.optimizer.zero_grad(set_to_none=True)
        for alpha, g in zip(self.net.arch_parameters(), grads):
            alpha.grad = g
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)  # the weight step's backward starts alpha afresh

    def first_order(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """grad_alpha L_val(w, alpha) (xi = 0)."""
        return list(torch.autograd.grad(self.loss(self.net(x), y), self.net.arch_parameters()))

    def second_order(self, x_val: torch.Tensor, y_val: torch.Tensor, x_train: torch.Tensor, y_train: torch.Tensor,
                     xi: float | None = None) -> list[torch.Tensor]:
        """The unrolled gradient (module docstring); ``xi`` defaults to the weight optimiser's lr."""
        xi = self.weight_optimizer.param_groups[0]["lr"] if xi is None else xi
        weights, alphas = self.net.weight_parameters(), self.net.arch_parameters()
        original = [w.detach().clone() for w in weights]
        with torch.no_grad():
            for w, step in zip(weights, self.virtual_step(x_train, y_train, weights)):
                w.sub_(xi * step)
        grads = torch.autograd.grad(self.loss(self.net(x_val), y_val), alphas + weights, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(alphas + weights, grads)]
        d_alpha, d_weights = grads[: len(alphas)], grads[len(alphas):]
        with torch.no_grad():
            for w, w0 in zip(weights, original):
                w.copy_(w0)
        implicit = finite_difference_hvp(self.net, self.loss, x_train, y_train, d_weights, self.config.hvp_epsilon)
        return [g - xi * h for g, h in zip(d_alpha, implicit)]

    def virtual_step(self, x: torch.Tensor, y: torch.Tensor, weights: list[nn.Parameter]) -> list[torch.Tensor]:
        """mu v + grad_w L_train + lambda w: the direction of the weight optimiser's next SGD step [R]."""
        grads = torch.autograd.grad(self.loss(self.net(x), y), weights, allow_unused=True)
        group = self.weight_optimizer.param_groups[0]
        mu, decay = group.get("momentum", 0.0), group.get("weight_decay", 0.0)
        steps = []
        for w, g in zip(weights, grads):
            buffer = self.weight_optimizer.state.get(w, {}).get("momentum_buffer")
            step = (torch.zeros_like(w) if g is None else g) + decay * w.detach()
            steps.append(step + mu * buffer if buffer is not None else step)
        return steps


def finite_difference_hvp(net: SearchNetwork, loss: Loss, x: torch.Tensor, y: torch.Tensor,
                          vector: list[torch.Tensor], r: float = 0.01) -> list[torch.Tensor]:
    """grad^2_{alpha, w} L_train(w, alpha) . vector by central differences along ``vector``, with
    eps = r / ||vector|| [P eq. 8]; the weights are back to w on return."""
    weights, alphas = net.weight_parameters(), net.arch_parameters()
    eps = r / torch.cat([v.flatten() for v in vector]).norm().clamp_min(1e-12)
    grads = []
    for sign in (1.0, -2.0):  # w + eps v, then w - eps v
        with torch.no_grad():
            for w, v in zip(weights, vector):
                w.add_(sign * eps * v)
        grads.append(torch.autograd.grad(loss(net(x), y), alphas))
    with torch.no_grad():
        for w, v in zip(weights, vector):
            w.add_(eps * v)
    return [(gp - gm) / (2 * eps) for gp, gm in zip(*grads)]
