"""A Cosmic-format fixture: deepCR-style patches with planted cosmic rays.

Each (3, 256, 256) float32 patch is a smooth sky, a few Gaussian stars (saturated cores are
flagged in the ignore plane) and thin, very bright cosmic-ray streaks whose pixels form the mask.
"""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np

SIZE = 256
GAL_VISITS = (("10760", "2"), ("13737", "2"))  # GAL fields: selected
SKIPPED = (("f435w", "10595", "2"), ("f814w", "10760", "2"))  # a GC field and another filter: not selected


def synthetic_patch(rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    image = 20 + 5 * np.sin(xx / 90 + rng.uniform(0, 6)) + rng.normal(0, 2, (SIZE, SIZE))
    ignore = np.zeros((SIZE, SIZE))
    for _ in range(int(rng.integers(6, 12))):
        cy, cx, width = rng.uniform(0, SIZE, 2).tolist() + [rng.uniform(2, 5)]
        star = 80 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width ** 2))
        image += star
        ignore[star > 70] = 1
    mask = np.zeros((SIZE, SIZE))
    for _ in range(int(rng.integers(25, 40))):
        y, x = rng.uniform(0, SIZE, 2)
        angle, length = rng.uniform(0, np.pi), rng.uniform(6, 24)
        for t in np.linspace(0, length, int(length * 2)):
            py, px = int(y + t * np.sin(angle)), int(x + t * np.cos(angle))
            if 0 <= py < SIZE and 0 <= px < SIZE:
                mask[py, px] = 1
    image += 300 * mask
    return np.stack([image, mask, ignore]).astype(np.float32)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def fixture_members(part: str, count: int, rng: np.random.Generator) -> dict[str, bytes]:
    """Member name -> bytes of one ``npy_<part>`` tree: ``count`` selected patches over the GAL
    visits (file ``<k>_<j>.npy`` uses sky level k), a sky.npy per visit, and skipped folders."""
    files = {}
    for i in range(count):
        prop, visit = GAL_VISITS[i % len(GAL_VISITS)]
        files[f"npy_{part}/f435w/{prop}/{visit}/{i % 2 + 1}_{i:03d}.npy"] = _npy(synthetic_patch(rng))
    for prop, visit in GAL_VISITS:
        files[f"npy_{part}/f435w/{prop}/{visit}/sky.npy"] = _npy(rng.uniform(5, 15, 2).astype(np.float32))
    for filt, prop, visit in SKIPPED:
        files[f"npy_{part}/{filt}/{prop}/{visit}/1_000.npy"] = _npy(synthetic_patch(rng))
    return files


def write_cosmic_fixture(root: Path, rng: np.random.Generator, counts: tuple[int, int], extracted: bool) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for part, count in zip(("train", "test"), counts):
        members = fixture_members(part, count, rng)
        if extracted:
            for name, data in members.items():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
            continue
        with tarfile.open(root / f"deepCR.ACS-WFC.{part}.tar", "w") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
