"""A PSICOV-format fixture: compact self-avoiding 3-D chains give realistic distance maps.

Each chain takes 3.8 A steps inside a sphere sized like a globular protein, never closer than
4 A to an earlier residue (but its neighbours), so residues far apart in sequence come into
contact. ``ccmpred`` is a noisy decreasing function of the distance (the planted signal, as real
coevolution maps correlate with contacts); every other feature is noise in its official shape.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

AMINO = "ACDEFGHIKLMNPQRSTVWY"


def compact_chain(length: int, rng: np.random.Generator, step: float = 3.8) -> np.ndarray:
    """(length, 3) coordinates of a self-avoiding walk confined to a globule."""
    radius = 2.9 * length ** (1 / 3) + 2.0
    while True:
        points = [np.zeros(3)]
        for _ in range(length - 1):
            for _attempt in range(200):
                direction = rng.normal(size=3)
                candidate = points[-1] + step * direction / np.linalg.norm(direction)
                far_enough = len(points) < 3 or np.min(np.linalg.norm(np.array(points[:-2]) - candidate, axis=1)) > 4.0
                if np.linalg.norm(candidate) < radius and far_enough:
                    points.append(candidate)
                    break
            else:
                break  # stuck: start the chain again
        if len(points) == length:
            return np.array(points)


def protein_files(length: int, rng: np.random.Generator) -> tuple[bytes, bytes]:
    """(feature pickle, distance .npy) of one synthetic protein."""
    coords = compact_chain(length, rng)
    distances = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    seq = "".join(rng.choice(list(AMINO), length))
    features = {
        "seq": seq, "ss": rng.dirichlet(np.ones(3), length).T, "pssm": rng.random((length, 22)),
        "sa": rng.random(length), "entropy": rng.random(length) * 3,
        "ccmpred": np.clip(1 - distances / 16.0, 0, 1) + rng.normal(0, 0.05, (length, length)),
        "freecon": rng.normal(0, 0.1, (length, length)), "potential": rng.normal(0, 0.1, (length, length)),
    }
    record = np.empty(3, dtype=object)
    record[:] = [length, seq, distances]
    buffer = io.BytesIO()
    np.save(buffer, record, allow_pickle=True)
    return pickle.dumps(features, protocol=4), buffer.getvalue()


def write_protein_zip(path: Path, rng: np.random.Generator, counts: tuple[int, int], lengths: tuple[int, int]) -> None:
    """``protein.zip`` with ``counts`` = (DeepCov, PSICOV) proteins of lengths in ``lengths``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for dataset, count in zip(("deepcov", "psicov"), counts):
            ids = [f"{dataset[:2]}{i:04d}" for i in range(count)]
            archive.writestr(f"{dataset}.lst", "\n".join(ids) + "\n")
            for pid in ids:
                feature, distance = protein_files(int(rng.integers(lengths[0], lengths[1] + 1)), rng)
                archive.writestr(f"{dataset}/features/{pid}.pkl", feature)
                archive.writestr(f"{dataset}/distance/{pid}-cb.npy", distance)
