"""NAS-Bench-360 PSICOV: protein distance maps, DeepCov train, PSICOV test (Tu et al., NAS-Bench-360,
NeurIPS 2022 Datasets and Benchmarks, arXiv:2110.05668; Adhikari 2020 PDNET; Jones & Kandathil 2018
DeepCov).

File: ``protein.zip`` (1.1 GB), read as it is or extracted: ``deepcov.lst`` (3,456 ids),
``psicov.lst`` (150 ids), ``{deepcov,psicov}/features/<id>.pkl`` (dict: ``seq`` str of length L,
``ss`` (3, L), ``pssm`` (L, 22), ``sa`` (L,), ``entropy`` (L,), ``ccmpred``, ``freecon``,
``potential`` (L, L)) and ``{deepcov,psicov}/distance/<id>-cb.npy`` (pickled ``(L, seq, cb_map)``,
C-beta distances in angstrom). Members are read one protein at a time, only when a batch needs them.
Features (``protein_io.get_feature``): each 1-D feature tiled along rows and along columns (2
channels each: 3x2 + 22x2 + 2 + 2 = 54) and the three pairwise maps = 57 channels; all values
must lie in (-100, 100). Distances (``get_map``): values < 1 -> 1, diagonal from its neighbours.
Splits: train = ``deepcov.lst[100:]`` (3,356), val = ``deepcov.lst[:100]``, test = the 150
PSICOV proteins.
Training samples (``get_input_output_dist``, ``PDNetDataset``): features padded by 5 on each
side (0) and distances (100); if L + 10 <= 128 placed top-left in a 128 x 128 canvas, else a
random 128 x 128 crop (row and column offsets drawn separately) each time; distances clipped at
16; NaN -> 0. Input (57, 128, 128), target (1, 128, 128). Loss: MSE.
Evaluation (``evaluate_test_protein``): the padded protein top-left in a 512 x 512 canvas,
non-overlapping 128 x 128 windows each passed through the network on its own
(``forward_window``); the split yields the windows and ``score`` reassembles them, then applies
NAS-Bench-360's post-processing and ``calculate_mae`` (``metrics.nb360_distance_prediction``):
MAE8 = mean over proteins of the mean |true - predicted| over pairs q - p >= 24 whose true
distance is <= 8 A.
Departures: validation uses the test protocol (full maps, MAE8) instead of MSE on random crops,
so methods select on the benchmark metric; windows that lie wholly outside the padded protein are
not evaluated (their outputs never reach the metric); each protein is scored with its own
length, whereas the reference's test loader shuffles proteins while ``calculate_mae`` takes the
lengths in list order.
"""
from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from nasbench.contracts import MetricSpec, Split, TaskData, TaskShape
from nasbench.errors import ConfigError, CorruptDataError
from nasbench.tasks.common.download import OfficialFile, missing
from nasbench.tasks.common.members import Members, open_members
from nasbench.tasks.common.provenance import mark_fixture
from nasbench.tasks.common.splits import LazySplit, check_counts, first_n, generator_rng
from nasbench.tasks.nb360 import metrics
from nasbench.tasks.nb360.base import S3, NB360Task

FILES = (OfficialFile("protein.zip", f"{S3}/protein.zip",
                      "deepcov.lst, psicov.lst, {deepcov,psicov}/features/*.pkl and distance/*-cb.npy (1.1 GB); "
                      "or the same extracted in this folder"),)
CHANNELS, PAD, CLIP = 57, 10, 16.0


@dataclass(frozen=True)
class PSICOVConfig:
    n_train: int | None = None  # proteins
    n_val: int | None = None
    n_test: int | None = None
    crop: int = 128  # training crop and evaluation window
    eval_size: int = 512  # evaluation canvas (LMAX)
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("psicov", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)
        if self.crop < 1 or self.eval_size % self.crop:
            raise ConfigError(f"psicov: eval_size must be a multiple of crop, got {self.eval_size}, {self.crop}")


def tiled_features(features: dict) -> np.ndarray:
    """(L, L, 57) float32 in ``get_feature``'s channel order."""
    length = len(features["seq"])
    one_d = [np.asarray(features["ss"]).T, np.asarray(features["pssm"]),
             np.asarray(features["sa"])[:, None], np.asarray(features["entropy"])[:, None]]
    channels = []
    for column in np.concatenate(one_d, axis=1).T:  # 3 + 22 + 1 + 1 per-residue features
        along_rows = np.broadcast_to(column[None, :], (length, length))
        channels += [along_rows, along_rows.T]
    channels += [np.asarray(features[k]) for k in ("ccmpred", "freecon", "potential")]
    return np.stack(channels, axis=-1).astype(np.float32)


def clean_distances(cb_map: np.ndarray) -> np.ndarray:
    """``get_map``: distances below 1 A set to 1; each diagonal entry from its neighbours."""
    y = np.array(cb_map, dtype=np.float64)
    y[y < 1.0] = 1.0
    n = len(y)
    y[0, 0], y[n - 1, n - 1] = y[0, 1], y[n - 1, n - 2]
    for q in range(1, n - 1):
        if np.isnan(y[q, q]):
            continue
        left, right = y[q, q - 1], y[q, q + 1]
        y[q, q] = 1.0 if np.isnan(left) and np.isnan(right) else right if np.isnan(left) else \
            left if np.isnan(right) else (left + right) / 2.0
    return y


class ProteinStore:
    """Feature and distance files of one archive, read per protein (one cached at a time)."""

    def __init__(self, members: Members, prefix: str):
        self.members, self.prefix, self._cached = members, prefix, (None, None)

    def ids(self, listing: str) -> list[str]:
        text = self.members.read(self.prefix + listing).decode()
        return [line.split()[0] for line in text.splitlines() if line.strip()]

    def distances(self, dataset: str, pid: str) -> np.ndarray:
        raw = self.members.read(f"{self.prefix}{dataset}/distance/{pid}-cb.npy")
        length, _, cb_map = np.load(io.BytesIO(raw), allow_pickle=True, encoding="latin1")
        return clean_distances(np.asarray(cb_map)[:length, :length])

    def protein(self, dataset: str, pid: str) -> tuple[np.ndarray, np.ndarray]:
        """(features (L, L, 57), cleaned distances (L, L))."""
        if self._cached[0] != (dataset, pid):
            name = f"{self.prefix}{dataset}/features/{pid}.pkl"
            x = tiled_features(pickle.loads(self.members.read(name), encoding="latin1"))
            if not (x.max() < 100.0 and x.min() > -100.0):
                raise CorruptDataError(self.members.where(name), "feature values outside (-100, 100)",
                                       "run `nasbench data psicov --download` again")
            self._cached = ((dataset, pid), (x, self.distances(dataset, pid)))
        return self._cached[1]


def padded(x: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad by PAD/2 each side (x 0, y 100) and place top-left in a size x size canvas (x 0, y 100);
    ``size`` >= L + PAD."""
    length, half = len(y), PAD // 2
    xc, yc = np.zeros((size, size, CHANNELS), np.float32), np.full((size, size), 100.0, np.float32)
    xc[half: half + length, half: half + length] = x
    yc[half: half + length, half: half + length] = y
    return xc, yc


def training_sample(x: np.ndarray, y: np.ndarray, crop: int,
                    rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """``get_input_output_dist`` + ``PDNetDataset``: (57, crop, crop), (1, crop, crop)."""
    full = len(y) + PAD
    xp, yp = padded(x, y, max(full, crop))
    if full > crop:
        rng = rng or np.random.default_rng(len(y))  # the deterministic version: a fixed crop per length
        r, c = rng.integers(0, full - crop + 1, 2)
        xp, yp = xp[r: r + crop, c: c + crop], yp[r: r + crop, c: c + crop]
    yp = np.minimum(yp, CLIP)
    return np.nan_to_num(xp.transpose(2, 0, 1)), np.nan_to_num(yp[None])


class PSICOV(NB360Task):
    name = "psicov"
    description = "NAS-Bench-360 PSICOV: protein contact distances from 57 features, MAE8"
    smoke_overrides = ("crop=64", "eval_size=128")
    citation = ("Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; Adhikari, PDNET, 2020; "
                "Jones & Kandathil, DeepCov, 2018 (data)")
    Config = PSICOVConfig
    metric = MetricSpec(name="mae8", direction="min", error_name="MAE8")
    files = FILES
    budgets = {"smoke": dict(n_train=8, n_val=2, n_test=2), "small": dict(n_train=200, n_val=20, n_test=30),
               "paper": {}}
    paper_sizes = "3,356/100/150"
    unit = "proteins"

    @property
    def shape(self) -> TaskShape:
        c = self.config.crop
        return TaskShape(dims=2, in_channels=CHANNELS, input_size=(c, c), output="dense_regression", num_outputs=1)

    def verify(self) -> list[str]:
        if (self.data_dir() / "deepcov.lst").exists():
            return [f"ok  {self.data_dir()}  (extracted protein.zip; no checksum published)"]
        return super().verify()

    def locate(self) -> ProteinStore:
        archive = self.data_dir() / FILES[0].name
        if (self.data_dir() / "deepcov.lst").exists():
            return ProteinStore(open_members(self.data_dir()), "")
        if not archive.exists():
            raise missing(self.name, archive, FILES)
        members = open_members(archive)
        found = members.find("deepcov.lst")
        if found is None:
            raise CorruptDataError(archive, "no deepcov.lst inside", "run `nasbench data psicov --download` again")
        return ProteinStore(members, found[: -len("deepcov.lst")])

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        store, c = self.locate(), self.config
        deepcov, psicov = store.ids("deepcov.lst"), store.ids("psicov.lst")
        where = store.members.path
        train = deepcov[100:][: first_n(c.n_train, len(deepcov) - 100, "training proteins", where)]
        val = deepcov[:100][: first_n(c.n_val, min(100, len(deepcov)), "validation proteins", where)]
        test = psicov[: first_n(c.n_test, len(psicov), "test proteins", where)]
        splits = (self._train_split(store, train), self._window_split("val", store, "deepcov", val),
                  self._window_split("test", store, "psicov", test))
        return TaskData(*splits, self.data_source(), {"files": [str(where)]})

    def _train_split(self, store: ProteinStore, ids: list[str]) -> LazySplit:
        crop = self.config.crop

        def fetch(idx: np.ndarray, generator):
            rng = generator_rng(generator) if generator is not None else None
            pairs = [training_sample(*store.protein("deepcov", ids[i]), crop, rng) for i in idx]
            return tuple(torch.from_numpy(np.stack(part)) for part in zip(*pairs))

        return LazySplit("train", len(ids), fetch, randomize=True)

    def _window_split(self, name: str, store: ProteinStore, dataset: str, ids: list[str]) -> LazySplit:
        """One item per evaluation window that overlaps a padded protein; meta says where it goes."""
        crop, size = self.config.crop, self.config.eval_size
        truths = [store.distances(dataset, pid) for pid in ids]
        if max(len(y) for y in truths) + PAD > size:
            raise ConfigError(f"psicov: a {name} protein has L + {PAD} > eval_size={size}; raise task.eval_size")
        rows = [(p, r, c) for p, y in enumerate(truths) for r in range(0, len(y) + PAD, crop)
                for c in range(0, len(y) + PAD, crop)]
        windows = np.array(rows)

        def fetch(idx: np.ndarray, generator):
            xs, ys = [], []
            for p, r, c in windows[idx]:
                xc, yc = padded(*store.protein(dataset, ids[p]), size)
                xs.append(xc[r: r + crop, c: c + crop].transpose(2, 0, 1))
                ys.append(np.nan_to_num(yc[r: r + crop, c: c + crop])[None])
            return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))

        meta = {"window": windows, "truths": truths, "crop": crop, "eval_size": size}
        return LazySplit(name, len(windows), fetch, meta=meta, per_example=("window",))

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(output, target)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        """MAE8 over the proteins whose windows the split holds (windows reassembled per protein)."""
        windows, crop, truths = split.meta["window"], split.meta["crop"], split.meta["truths"]
        canvases: dict[int, np.ndarray] = {}
        for (p, r, c), out in zip(windows, outputs[:, 0].double().numpy()):
            size = len(truths[p]) + PAD
            canvas = canvases.setdefault(int(p), np.zeros((-(-size // crop) * crop,) * 2))
            canvas[r: r + crop, c: c + crop] = out
        ids = sorted(canvases)
        return metrics.psicov_mae8([canvases[p] for p in ids], [truths[p] for p in ids], PAD)

    def write_fixture(self, root: Path, seed: int = 0, counts: tuple[int, int] = (110, 2),
                      lengths: tuple[int, int] = (40, 80)) -> None:
        """The official ``protein.zip``: self-avoiding 3-D chains (3.8 A steps) give the distance
        maps; features are noise except ``ccmpred``, a noisy contact map (the planted signal).
        ``deepcov.lst`` needs > 100 ids because its first 100 validate."""
        from nasbench.tasks.nb360.protein_fixture import write_protein_zip

        write_protein_zip(root / FILES[0].name, np.random.default_rng(seed), counts, lengths)
        mark_fixture(root, self.name)
