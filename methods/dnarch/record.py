"""The architecture DNArch found, in the form of the paper's Tables 4-6, and the network it rebuilds.

Per kept block the record lists the kernel size per axis (round(size(m_g)), Eq. 9, capped at the
input size), the resolution per axis (the output length the Fourier convolution materialises) and
the widths [N_in, N_mid, N_out] (round(size(m_s)), Eq. 10); the depth is the number of blocks the
depth mask keeps, and ``complexity_ratio`` is C_curr / C_target. Next to these sizes, ``materialised``
holds what the trained network computes (kernel taps, channels, kept frequency band): enough to
rebuild it as a plain CCNN (``build_from_record``) with the same parameter count and MACs.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nasbench.contracts import TaskShape
from nasbench.methods.backbones.ccnn import CCNN, BlockSpec
from nasbench.methods.dnarch import masks as M
from nasbench.methods.dnarch.complexity import ComplexityModel
from nasbench.methods.dnarch.network import DNArchCCNN


def architecture_record(net: DNArchCCNN, config, costs: ComplexityModel, ratio: float,
                        pair_head: bool = False) -> dict[str, Any]:
    """The record of the trained supernet ``net``; ``pair_head``: it encodes each document of a
    paired task, and a pair head on its ``config.width`` outputs compares the two (``backbones.encoder_pair``)."""
    m = net.masks
    with torch.no_grad():
        kernel_sizes, widths = m.kernel_sizes().tolist(), m.width_sizes().tolist()
        depth_size = float(m.depth_size())
    specs = net.block_specs()
    blocks = []
    for index, spec in enumerate(specs):
        blocks.append({"kernel_size": [int(round(k)) for k in kernel_sizes[index]],
                       "resolution": list(spec.resolution),
                       "width": [int(round(w)) for w in widths[index]],
                       "materialised": {"kernel": list(spec.kernel), "width": list(spec.width),
                                        "bandwidth": None if spec.bandwidth is None else list(spec.bandwidth)}})
    record = {
        "backbone": f"dnarch-ccnn_{config.depth}_{config.width}",
        "search_space": {"id": "dnarch", "variant": config.variant, "max_width": m.max_width,
                         "max_depth": m.max_depth, "max_kernel": list(m.full_kernel),
                         "input_size": list(m.sizes), "threshold": config.threshold,
                         "tau": {"resolution": config.tau_resolution, "channel": config.tau_channel,
                                 "depth": config.tau_depth}},
        "choices": {"depth": len(specs), "blocks": blocks, "complexity_ratio": ratio},
        "details": {"depth_size": depth_size, "mask_parameters": mask_parameters(net),
                    "materialised_params": net.materialised_parameters(),
                    "kernel_network": {"hidden": config.kernel_hidden, "layers": config.kernel_layers,
                                       "frequencies": config.kernel_frequencies, "omega_0": config.omega_0}},
        "cost": {"complexity_ratio": ratio, "C_target": costs.target(), "C_curr": ratio * costs.target()},
    }
    if pair_head:
        record["choices"]["encoder_pair"] = {"features": config.width}
    return record


def mask_parameters(net: DNArchCCNN) -> dict[str, Any]:
    return {name: p.detach().cpu().tolist() for name, p in net.masks.named_parameters()}


def block_specs_from_record(arch: dict[str, Any]) -> list[BlockSpec]:
    specs = []
    for block in arch["choices"]["blocks"]:
        made = block["materialised"]
        band = made["bandwidth"]
        specs.append(BlockSpec(tuple(made["width"]), tuple(made["kernel"]), tuple(block["resolution"]),
                               None if band is None else tuple(band)))
    return specs


def build_from_record(arch: dict[str, Any], shape: TaskShape, dropout: float = 0.0) -> CCNN:
    """The found architecture as a plain CCNN (identity width N_max, the kept blocks' shapes)."""
    kernel = arch["details"]["kernel_network"]
    return CCNN(shape, arch["search_space"]["max_width"], block_specs_from_record(arch), dropout=dropout,
                kernel_hidden=kernel["hidden"], kernel_layers=kernel["layers"],
                kernel_frequencies=kernel["frequencies"], omega_0=kernel["omega_0"], batch_stats_only=True)


@torch.no_grad()
def sample_masks(net: DNArchCCNN, rng: np.random.Generator) -> None:
    """A uniform draw of the continuous mask parameters over their ranges, in place: each sigma uniform
    on [sigma_min, sigma_0] (the kernel size, linear in sigma by Eq. 9, uniform from 3 taps to global;
    above sigma_0 the size is clipped, the same network) and each offset mu uniform between its bounds
    (the cut-off, linear in mu by Eq. 5: the kept widths, resolution and depth uniform over their range)."""
    m, s = net.masks, net.masks.settings
    for axis, full in enumerate(m.full_kernel):
        low = M.gaussian_sigma_min(full, s.threshold)
        m.sigma[:, axis] = torch.from_numpy(rng.uniform(low, max(low, s.sigma_0), m.sigma.shape[0])).to(m.sigma)
    for mu, tau in ((m.resolution_mu, s.tau_resolution), (m.width_mu, s.tau_channel), (m.depth_mu, s.tau_depth)):
        if mu is not None:
            low, high = M.sigmoid_bounds(tau)
            mu.copy_(torch.from_numpy(rng.uniform(low, high, tuple(mu.shape))).to(mu))
