"""NAS-Bench-360 Darcy Flow (Tu et al., NAS-Bench-360, NeurIPS 2022 Datasets and Benchmarks,
arXiv:2110.05668; data of Li et al., Fourier Neural Operator for Parametric PDEs, ICLR 2021,
arXiv:2010.08895).

Official files ``piececonst_r421_N1024_smooth{1,2}.mat`` (MAT v5 via scipy, v7.3 via h5py; only
``coeff`` and ``sol`` are read), subsampled every ``sub``-th point (421 -> 85); train =
smooth1[:900], val = smooth1[900:1000], test = smooth2[:100]; per-pixel unit-Gaussian normalisers
fitted on the training inputs and targets; input = [normalised coefficient, x grid, y grid];
relative L2 loss (summed over the batch, as NAS-Bench-360's ``LpLoss(size_average=False)``) and
metric (mean over samples) on decoded outputs.

When the official files are absent, the FNO process generates the data (``darcy_generator``) into
``<data dir>/generated/``: smooth1 from seed 1 and smooth2 from seed 2, each sample from its own
child seed, so a file of N samples starts with the samples of any smaller file. The generated files
keep only the 85x85 subsampled points (what NAS-Bench-360 reads of the 421x421 field) and carry a
sidecar with their sha256, checked on every reuse. ``source='generated-approx'`` solves directly at
85x85 instead (about 75x faster, labelled as such in every run).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch

from nasbench.contracts import DataFile, MetricSpec, Split, TaskData, TaskShape
from nasbench.data import atomic_write_text, read_sidecar, sha256_file, verify_files
from nasbench.errors import ConfigError, CorruptDataError, DataError, MissingDataError
from nasbench.tasks.common.declared import DeclaredTask
from nasbench.tasks.common.provenance import folder_lock, mark_fixture, source_of
from nasbench.tasks.nb360 import darcy_generator

OFFICIAL = ("piececonst_r421_N1024_smooth1.mat", "piececonst_r421_N1024_smooth2.mat")
GENERATED_SEEDS = {"smooth1": 1, "smooth2": 2}
GENERATOR_VERSION = "fno-darcy-1"


@dataclass(frozen=True)
class DarcyConfig:
    n_train: int = 900
    n_val: int = 100
    n_test: int = 100
    resolution: int = 421  # grid of the official files
    sub: int = 5  # NB360 pde.yaml `sub: 5` -> 85x85
    source: Literal["auto", "official", "generated", "generated-approx"] = "auto"
    generate_workers: int = 2
    data_dir: str | None = None

    def validate(self) -> None:
        if min(self.n_train, self.n_val, self.n_test) < 1:
            raise ConfigError(f"darcyflow: n_train, n_val and n_test must be >= 1, got {self}")
        if (self.resolution - 1) % self.sub:
            raise ConfigError(f"darcyflow: (resolution - 1) must be divisible by sub, "
                              f"got {self.resolution}, {self.sub}")

    @property
    def size(self) -> int:
        return (self.resolution - 1) // self.sub + 1


class UnitGaussianNormalizer:
    """Per-pixel mean and unbiased std over the sample axis; eps 1e-5 (NAS-Bench-360 utils_grid)."""

    def __init__(self, x: torch.Tensor, eps: float = 1e-5):
        self.mean, self.std, self.eps = x.mean(0), x.std(0), eps

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / (self.std + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self.std.to(x.device) + self.eps) + self.mean.to(x.device)


def relative_l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample ||pred - target||_2 / ||target||_2."""
    diff = (pred - target).flatten(1).norm(dim=1)
    return diff / target.flatten(1).norm(dim=1)


def coordinate_grid(size: int) -> torch.Tensor:
    """(2, s, s): channel 0 is x (varies along columns), channel 1 is y, both on linspace(0, 1, s)."""
    gx, gy = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size))
    return torch.tensor(np.stack([gx, gy]), dtype=torch.float32)


class DarcyFlow(DeclaredTask):
    name = "darcyflow"
    description = "NAS-Bench-360 Darcy Flow: 2D PDE operator (permeability to pressure), rel. L2"
    smoke_overrides = ("resolution=41", "source=official", "n_train=8", "n_val=4", "n_test=4")
    family = "nb360"
    citation = ("Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; "
                "Li et al., Fourier Neural Operator, ICLR 2021 (data)")
    Config = DarcyConfig
    metric = MetricSpec(name="relative_l2", direction="min", error_name="relative L2")
    budgets = {"smoke": dict(n_train=16, n_val=8, n_test=8), "small": dict(n_train=400, n_val=50, n_test=100),
               "paper": {}}
    paper_sizes, paper_protocol = "900/100/100", "NAS-Bench-360"

    def __init__(self, config: DarcyConfig):
        super().__init__(config)  # validates
        self._y_normalizer: UnitGaussianNormalizer | None = None

    @property
    def shape(self) -> TaskShape:
        s = self.config.size
        return TaskShape(dims=2, in_channels=3, input_size=(s, s), output="dense_regression", num_outputs=1)

    # -- loss and metric -------------------------------------------------------------------------
    def decode(self, output: torch.Tensor) -> torch.Tensor:
        if self._y_normalizer is None:
            raise DataError("darcyflow: load() must run before outputs can be decoded")
        return self._y_normalizer.decode(output.squeeze(1))

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return relative_l2(self.decode(output), target).sum()

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        return relative_l2(self.decode(outputs), split.targets).mean().item()

    def write_fixture(self, root: Path, seed: int = 0, n: tuple[int, int] = (12, 4), hdf5: bool = False) -> None:
        """Official file names and variables, at ``config.resolution``, solved by the approximate
        generator on that grid (real Darcy physics, so the fixture is learnable); marked as a fixture."""
        root.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        for name, count in zip(OFFICIAL, n):
            coeff = np.stack([darcy_generator.threshold_coefficient(
                darcy_generator.gaussian_random_field(rng, self.config.resolution)) for _ in range(count)])
            sol = np.stack([darcy_generator.solve_darcy_approx(a) for a in coeff])
            write_mat(root / name, {"coeff": coeff, "sol": sol}, hdf5=hdf5)
        mark_fixture(root, type(self).__name__)

    # -- files -----------------------------------------------------------------------------------
    def data_files(self) -> list[DataFile]:
        return [DataFile(self.data_dir() / name, f"NAS-Bench-360 Darcy Flow MAT file ({name})") for name in OFFICIAL]

    def generated_path(self, part: str, n: int) -> Path:
        mode = "approx" if self.config.source == "generated-approx" else "fno"
        return self.data_dir() / "generated" / f"piececonst_{mode}_r{self.config.size}_N{n}_{part}.mat"

    def _needed(self) -> dict[str, int]:
        c = self.config
        return {"smooth1": c.n_train + c.n_val, "smooth2": c.n_test}

    def can_generate(self) -> bool:
        return True

    def generate(self, log: Callable[[str], None] = print) -> None:
        if self.config.sub != 5 or self.config.resolution != 421:
            raise ConfigError("darcyflow: the generator produces the 421 grid subsampled by 5 (85x85) only")
        folder = self.generated_path("smooth1", 1).parent
        folder.mkdir(parents=True, exist_ok=True)
        with folder_lock(folder, exclusive=True):  # concurrent runs (Ray trials) generate once
            self._generate_missing(log)

    def _generate_missing(self, log: Callable[[str], None]) -> None:
        approx = self.config.source == "generated-approx"
        for part, n in self._needed().items():
            if self._find_generated(part, n) is not None:
                log(f"darcyflow: {part} with >= {n} samples already generated")
                continue
            path = self.generated_path(part, n)
            process = 'approximate 85x85' if approx else 'FNO process at 421x421'
            log(f"darcyflow: generating {n} {part} samples ({process}) -> {path}")
            coeff, sol = darcy_generator.generate_darcy(n, GENERATED_SEEDS[part], approx=approx,
                                                        workers=self.config.generate_workers)
            _save_generated(path, coeff, sol, {"part": part, "n": n, "seed": GENERATED_SEEDS[part],
                                               "approx": approx, "generator": GENERATOR_VERSION})

    def verify(self) -> list[str]:
        """Official files when present (no published checksum exists); else the generated files
        against the sha256 recorded when they were written."""
        official = self.data_files()
        if self.config.source in ("auto", "official") and all(f.path.exists() for f in official):
            return verify_files(official)
        lines = []
        for part, n in self._needed().items():
            path = self._find_generated(part, n)
            if path is None:
                raise MissingDataError(self.generated_path(part, n), f"generated Darcy Flow {part}, >= {n} samples",
                                       "run `nasbench data darcyflow --generate` (or place the official files)")
            _check_generated(path)
            lines.append(f"ok  {path}  sha256={_read_sidecar(path)['sha256'][:12]}…  ({part}, generated)")
        return lines

    def _find_generated(self, part: str, n: int) -> Path | None:
        """The smallest generated file of this mode with at least ``n`` samples whose checksum holds."""
        folder = self.generated_path(part, n).parent
        prefix = self.generated_path(part, n).name.split("_N")[0]
        candidates = []
        for path in folder.glob(f"{prefix}_N*_{part}.mat"):
            sidecar = _read_sidecar(path)
            if sidecar["n"] >= n:
                candidates.append((sidecar["n"], path))
        return min(candidates)[1] if candidates else None

    # -- loading ---------------------------------------------------------------------------------
    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        source, detail, (x1, y1), (x2, y2) = self._read_raw(allow_generate, log)
        c = self.config
        x_train, y_train = x1[: c.n_train], y1[: c.n_train]
        x_val, y_val = x1[c.n_train : c.n_train + c.n_val], y1[c.n_train : c.n_train + c.n_val]
        x_test, y_test = x2[: c.n_test], y2[: c.n_test]
        x_norm, self._y_normalizer = UnitGaussianNormalizer(x_train), UnitGaussianNormalizer(y_train)
        grid = coordinate_grid(x1.shape[-1])

        def inputs(x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x_norm.encode(x).unsqueeze(1), grid.expand(len(x), -1, -1, -1)], dim=1)

        return TaskData(Split("train", inputs(x_train), y_train), Split("val", inputs(x_val), y_val),
                        Split("test", inputs(x_test), y_test), source, detail)

    def _read_raw(self, allow_generate: bool, log):
        """(source, detail, smooth1 arrays, smooth2 arrays) from official or generated files."""
        c, needed = self.config, self._needed()
        official = [f.path for f in self.data_files()]
        if c.source in ("auto", "official") and all(p.exists() for p in official):
            source = source_of(self.data_dir())
            parts = [read_mat_fields(p, needed[k], c.sub) for p, k in zip(official, needed)]
            return source, {"files": [str(p) for p in official]}, *parts
        if c.source == "official":
            missing = next(p for p in official if not p.exists())
            raise MissingDataError(missing, "NAS-Bench-360 file piececonst_r421_N1024_smooth{1,2}.mat (1.6 GB each)",
                                   f"download it into {self.data_dir()} (see the NAS-Bench-360 README), or use "
                                   f"--set task.source=generated to generate the data")
        paths = {part: self._find_generated(part, n) for part, n in needed.items()}
        if any(p is None for p in paths.values()):
            if not allow_generate:
                raise MissingDataError(self.generated_path("smooth1", needed["smooth1"]), "generated Darcy Flow data",
                                       "run `nasbench data darcyflow --generate`")
            self.generate(log)
            paths = {part: self._find_generated(part, n) for part, n in needed.items()}
        source = "generated-approx" if c.source == "generated-approx" else "generated"
        detail = {"files": [str(p) for p in paths.values()], "generator": GENERATOR_VERSION,
                  "sha256": {k: _read_sidecar(p)["sha256"] for k, p in paths.items()}}
        parts = [_read_generated(paths[k], needed[k]) for k in needed]
        return source, detail, *parts


def read_mat_fields(path: Path, n: int, sub: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``coeff`` and ``sol`` of the first ``n`` samples, every ``sub``-th point, as float32 tensors.
    MAT v5 files go through scipy; v7.3 (HDF5) through h5py, reading only the rows needed."""
    import h5py
    import scipy.io

    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:  # MATLAB stores column-major: axes are reversed
            fields = [np.asarray(f[k][::sub, ::sub, :n]).transpose(2, 1, 0) for k in ("coeff", "sol")]
    else:
        try:
            mat = scipy.io.loadmat(path, variable_names=["coeff", "sol"])
        except Exception as exc:
            raise CorruptDataError(path, f"not a readable MAT file ({exc})", "download the file again") from exc
        missing = [k for k in ("coeff", "sol") if k not in mat]
        if missing:
            raise CorruptDataError(path, f"variables {missing} not found", "download the file again")
        fields = [mat[k][:n, ::sub, ::sub] for k in ("coeff", "sol")]
    if len(fields[0]) < n:
        raise CorruptDataError(path, f"holds {len(fields[0])} samples, {n} are needed", "download the file again")
    return tuple(torch.tensor(np.ascontiguousarray(a), dtype=torch.float32) for a in fields)


def write_mat(path: Path, fields: dict[str, np.ndarray], hdf5: bool = False) -> None:
    """Write float64 arrays as MATLAB v5 (scipy) or v7.3 (HDF5 with the MATLAB header and the
    column-major axis order MATLAB uses)."""
    import h5py
    import scipy.io

    if not hdf5:
        scipy.io.savemat(path, fields)
        return
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in fields.items():
            ds = f.create_dataset(key, data=np.asarray(value, dtype=np.float64).transpose())
            ds.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, written by nasbench".ljust(116) + bytes(12) + b"\x00\x02IM")


def _sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _read_sidecar(path: Path) -> dict:
    """The sidecar of an existing generated file; a missing or broken one is a CorruptDataError (the
    file is never taken as absent and regenerated over)."""
    fix = f"delete {path} and {_sidecar_path(path)}, then run `nasbench data darcyflow --generate`"
    info = read_sidecar(_sidecar_path(path), ("n", "sha256"), path, fix)
    if info is None:
        raise CorruptDataError(path, f"its sidecar {_sidecar_path(path)} is missing", fix)
    return info


def _save_generated(path: Path, coeff: np.ndarray, sol: np.ndarray, info: dict) -> None:
    import scipy.io

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    scipy.io.savemat(tmp, {"coeff": coeff, "sol": sol})
    info = {**info, "sha256": sha256_file(tmp), "shape": list(coeff.shape)}
    atomic_write_text(_sidecar_path(path), json.dumps(info, indent=2))
    tmp.replace(path)


def _check_generated(path: Path) -> None:
    sidecar = _read_sidecar(path)
    if sha256_file(path) != sidecar["sha256"]:
        raise CorruptDataError(path, "sha256 differs from the one recorded when it was generated",
                               f"delete {path} and run `nasbench data darcyflow --generate`")


def _read_generated(path: Path, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    _check_generated(path)
    return read_mat_fields(path, n, sub=1)
