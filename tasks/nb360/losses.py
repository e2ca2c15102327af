"""Training losses of the NAS-Bench-360 tasks beyond plain cross entropy and MSE."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float = 0.0, alpha: float = 1.0) -> torch.Tensor:
    """ORCA/DASH ``FocalLoss`` (NinaPro): mean over the batch of -alpha (1 - p_y)^gamma log(p_y + 1e-9),
    p = softmax(logits). Their default gamma=0, alpha=1 makes it cross entropy up to the 1e-9."""
    p_true = F.softmax(logits, dim=1).gather(1, labels[:, None]).squeeze(1) + 1e-9
    return (-alpha * (1 - p_true) ** gamma * torch.log(p_true)).mean()


def masked_bce(logits: torch.Tensor, mask: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
    """Cosmic: ``BCEWithLogitsLoss(logits * (1 - ignore), mask * (1 - ignore))``, mean over all
    pixels (an ignored pixel contributes the constant log 2, as in NAS-Bench-360)."""
    keep = 1 - ignore
    return F.binary_cross_entropy_with_logits(logits * keep, mask * keep)


def weighted_bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: float | None) -> torch.Tensor:
    """``BCEWithLogitsLoss`` on (N, labels) logits with one positive weight for every label
    (None: unweighted, as the NAS-Bench-360 backbones; ORCA/DASH use 10 for FSD50K, 4 for DeepSEA)."""
    weight = None if pos_weight is None else torch.full((logits.shape[1],), pos_weight, device=logits.device)
    return F.binary_cross_entropy_with_logits(logits, targets.float(), pos_weight=weight)
