"""The Spherical CIFAR-100 projection (Cohen et al., Spherical CNNs, ICLR 2018,
arXiv:1801.10130; NAS-Bench-360's data sheet), re-implemented from its description.

NAS-Bench-360 made Spherical CIFAR-100 with s2cnn's ``gendata.py`` "modified to project signals
from all three channels": each image channel is a planar signal that is projected onto a
Driscoll-Healy grid of bandwidth 30 (60 x 60 points) of a sphere, under a random rotation shared
by each chunk of 500 images, then min-max scaled to 0-255 per signal and stored as uint8.

Steps, per chunk: grid beta_j = j pi / (2b), alpha_k = k pi / b (indexing "ij"), x = sin(beta)
cos(alpha), y = sin(beta) sin(alpha), z = cos(beta); rotate by Arvo's random rotation
(deflection 1); project from (0, 0, 2 + 1e-3) onto the plane through the sphere centred at
(0, 0, 1); sample the image "bilinearly" with the reference's neighbours ix - 1 and ix + 1 (zero
outside the image); keep points with rotated z <= 1; scale each signal to 0-255 and truncate to uint8.
"""
from __future__ import annotations

import numpy as np

from nasbench.tasks.common.progress import progress

NORTHPOLE_EPSILON = 1e-3


def driscoll_healy_grid(bandwidth: int) -> np.ndarray:
    """(3, 2b, 2b) Euclidean coordinates of the unit-sphere grid."""
    beta = np.arange(2 * bandwidth) * np.pi / (2.0 * bandwidth)
    alpha = np.arange(2 * bandwidth) * np.pi / bandwidth
    b, a = np.meshgrid(beta, alpha, indexing="ij")
    return np.stack([np.sin(b) * np.cos(a), np.sin(b) * np.sin(a), np.cos(b)])


def random_rotation(u: np.ndarray, deflection: float = 1.0) -> np.ndarray:
    """Arvo's uniform random rotation from three U(0, 1) numbers: (V V^T - I) R_z(theta)."""
    theta, phi, z = u[0] * 2.0 * deflection * np.pi, u[1] * 2.0 * np.pi, u[2] * 2.0 * deflection
    v = np.array([np.sin(phi) * np.sqrt(z), np.cos(phi) * np.sqrt(z), np.sqrt(2.0 - z)])
    rz = np.array([[np.cos(theta), np.sin(theta), 0], [-np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    return (np.outer(v, v) - np.eye(3)) @ rz


def plane_coordinates(grid: np.ndarray, origin=(0.0, 0.0, 2.0 + NORTHPOLE_EPSILON)) -> tuple[np.ndarray, np.ndarray]:
    """Where the ray from ``origin`` through each grid point (sphere centred at (0, 0, 1)) meets
    z = 0, as fractions (rx, ry) of the image extent."""
    sx, sy, sz = origin
    x, y, z = grid[0], grid[1], grid[2] + 1.0
    t = -z / (z - sz)
    qx, qy = t * (x - sx) + x, t * (y - sy) + y
    xmin, ymin = 0.5 * (-1 - sx) - 1, 0.5 * (-1 - sy) - 1
    return (qx - xmin) / (2 * abs(xmin)), (qy - ymin) / (2 * abs(ymin))


def _sample(signals: np.ndarray, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    h, w = signals.shape[1:]
    inside = (ix >= 0) & (ix < h) & (iy >= 0) & (iy < w)
    out = np.zeros((len(signals), *ix.shape))
    out[:, inside] = signals[:, ix[inside], iy[inside]]
    return out


def sample_bilinear(signals: np.ndarray, rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """The reference's interpolation between the samples at ix - 1 and ix + 1 (and iy alike)."""
    rx, ry = rx * signals.shape[1], ry * signals.shape[2]
    ix, iy = rx.astype(int), ry.astype(int)  # truncation toward zero, as the reference's astype(int)
    ix0, iy0, ix1, iy1 = ix - 1, iy - 1, ix + 1, iy + 1
    fx1 = (ix1 - rx) * _sample(signals, ix0, iy0) + (rx - ix0) * _sample(signals, ix1, iy0)
    fx2 = (ix1 - rx) * _sample(signals, ix0, iy1) + (rx - ix0) * _sample(signals, ix1, iy1)
    return (iy1 - ry) * fx1 + (ry - iy0) * fx2


def project_signals(signals: np.ndarray, rotated_grid: np.ndarray) -> np.ndarray:
    """(n, H, W) planar signals -> (n, 2b, 2b) uint8, each min-max scaled on its own."""
    rx, ry = plane_coordinates(rotated_grid)
    sample = sample_bilinear(signals.astype(np.float64), rx, ry) * (rotated_grid[2] <= 1)
    low = sample.min(axis=(1, 2), keepdims=True)
    span = sample.max(axis=(1, 2), keepdims=True) - low
    # a constant signal has no range; the reference divides by zero there, this keeps it at 0
    scaled = np.divide(sample - low, span, out=np.zeros_like(sample), where=span > 0)
    return (scaled * 255).astype(np.uint8)


def project_images(images: np.ndarray, rng: np.random.Generator, bandwidth: int = 30, chunk: int = 500) -> np.ndarray:
    """(N, C, H, W) images -> (N, C, 2b, 2b) uint8; one random rotation per chunk of images."""
    grid = driscoll_healy_grid(bandwidth)
    n, c = images.shape[:2]
    out = np.empty((n, c, 2 * bandwidth, 2 * bandwidth), dtype=np.uint8)
    for start in progress(range(0, n, chunk), -(-n // chunk), "spherical projection"):
        rotated = np.einsum("ij,jab->iab", random_rotation(rng.uniform(size=3)), grid)
        block = images[start: start + chunk]
        flat = block.reshape(-1, *block.shape[2:])  # every channel is its own signal
        out[start: start + chunk] = project_signals(flat, rotated).reshape(len(block), c, 2 * bandwidth, 2 * bandwidth)
    return out
