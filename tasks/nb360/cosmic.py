"""NAS-Bench-360 Cosmic: cosmic-ray masks of HST ACS/WFC images (Tu et al., NAS-Bench-360, NeurIPS 2022
Datasets and Benchmarks, arXiv:2110.05668; data: Zhang & Bloom 2020, deepCR).

Files: ``deepCR.ACS-WFC.train.tar`` (6.5 GB) and ``deepCR.ACS-WFC.test.tar`` (2.0 GB), read as
they are (members streamed) or extracted (``npy_train/``, ``npy_test/``, also under ``data/``):
``npy_<part>/<filter>/<prop_id>/<vis_num>/<k>_*.npy`` arrays (3, H, W) = image, cosmic-ray mask,
ignore mask (a 2-plane file gets a zero ignore mask), and one ``sky.npy`` per visit folder.
Selection (``get_dirs``): filter ``f435w`` only, fields whose ``"<prop_id>_<vis_num>"`` is of type
GAL in deepCR's table of 73 fields (an unknown field is an error, as the reference's KeyError).
Preprocessing (``PairedDatasetImagePath``): fixed crop ``[64:192, 64:192]`` of every plane;
sky augmentation: ``sky.npy[k - 1] * U(-0.9, 3)`` added to the image, k the integer before the
first ``_`` of the file name. Input (1, 128, 128); target planes (mask, ignore).
Splits: training files split by position, the first int(0.9 n) train and the rest validate
(``f_val=0.1``); the test tar tests. 4,347 / 483 / 420 patches.
Loss: ``BCEWithLogitsLoss(logits * (1 - ignore), mask * (1 - ignore))``.
Metric: AUROC of the thresholded predictions ``logits > 0.5`` against the mask over all pixels
(``roc_auc_score(gts, logits > 0.5)``; ORCA thresholds at 0: ``task.threshold``); error 1-AUROC.
Departures: files are sorted (the reference walks ``os.listdir`` order, so its split is not
reproducible); training batches draw a new sky factor each time, as the reference, but
validation and test use factors drawn once from ``task.sky_seed`` (the reference redraws them on
every evaluation pass, so its scores vary between passes).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from nasbench.contracts import MetricSpec, Split, TaskData, TaskShape
from nasbench.errors import CorruptDataError
from nasbench.tasks.common.download import OfficialFile, missing
from nasbench.tasks.common.members import Members, open_members
from nasbench.tasks.common.provenance import mark_fixture
from nasbench.tasks.common.splits import LazySplit, check_counts, first_n, generator_rng
from nasbench.tasks.nb360 import metrics
from nasbench.tasks.nb360.base import S3, NB360Task
from nasbench.tasks.nb360.losses import masked_bce

FILES = (OfficialFile("deepCR.ACS-WFC.train.tar", f"{S3}/cosmic/deepCR.ACS-WFC.train.tar",
                      "deepCR ACS/WFC training patches npy_train/<filter>/<prop>/<visit>/*.npy (6.5 GB); or npy_train/ "
                      "extracted here or in data/"),
         OfficialFile("deepCR.ACS-WFC.test.tar", f"{S3}/cosmic/deepCR.ACS-WFC.test.tar",
                      "deepCR ACS/WFC test patches npy_test/<filter>/<prop>/<visit>/*.npy (2.0 GB); or npy_test/ "
                      "extracted here or in data/"))
# deepCR's field table (cosmic_dataset.py ``field_type``): the GAL fields are used, the rest are known.
GAL_FIELDS = frozenset("""10760_2 10760_4 13737_2 13737_3 9490_a3 12513_2 12513_3 10182_pb 10182_pd 10584_13 10342_3
14343_1 13057_1 10260_7 10260_5 10407_3 13364_95 10190_28 10190_13 9490_a2 13691_11 12058_12 12058_16 12058_1
12058_6 14704_1 13804_6""".split())
OTHER_FIELDS = frozenset("""10595_2 10595_7 9442_1 9442_3 9442_5 10631_3 10631_1 10631_4 12103_a3 13498_b1 10349_30
10005_10 10120_3 14164_9 13718_6 10524_7 9425_2 9425_4 9583_99 9978_5e 15100_2 15647_13 11340_11 13389_10 9694_6
10536_13 13375_4 13375_7 10146_4 10146_3 10775_ab 11586_5 12438_1 13671_35 14164_1 9405_6d 9405_4b 9450_14 10092_1
9450_16 10775_52 12602_1 12602_2 10775_29 10775_ad""".split())
CROP = slice(64, 192)
PATCH = re.compile(r"(?:^|/)npy_(train|test)/(f\w+)/([^/]+)/([^/]+)/([^/]+\.npy)$")


@dataclass(frozen=True)
class CosmicConfig:
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    val_fraction: float = 0.1  # f_val
    sky_min: float = -0.9
    sky_max: float = 3.0
    sky_seed: int = 0  # fixed sky factors of validation and test
    threshold: float = 0.5  # on logits, as NAS-Bench-360 (ORCA: 0)
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("cosmic", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


def selected_patches(members: Members, part: str) -> list[str]:
    """Sorted f435w GAL patch members of ``npy_<part>``; CorruptDataError on an unknown field."""
    chosen = []
    for name in members.names:
        match = PATCH.search(name)
        if not match or match.group(1) != part or match.group(2) != "f435w" or match.group(5) == "sky.npy":
            continue
        key = f"{match.group(3)}_{match.group(4)}"
        if key not in GAL_FIELDS | OTHER_FIELDS:
            raise CorruptDataError(members.where(name), f"field {key} is not in deepCR's field table",
                                   "use the official NAS-Bench-360 Cosmic archives")
        if key in GAL_FIELDS:
            chosen.append(name)
    return sorted(chosen)


def deepcr_parts(names: list[str], val_fraction: float) -> tuple[list[str], list[str]]:
    """(train, val) by position as ``PairedDatasetImagePath``: ``[:max(1, n_train)]`` and
    ``[min(n - 1, n_train):]`` with n_train = int(n (1 - f_val))."""
    n_train = int(len(names) * (1 - val_fraction))
    return names[: max(1, n_train)], names[min(len(names) - 1, n_train):]


def read_patch(members: Members, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(image, mask, ignore) cropped to 128 x 128, and the patch's sky level (0 without sky.npy)."""
    data = members.load_npy(name, mmap=True)
    if data.ndim != 3 or data.shape[0] not in (2, 3) or min(data.shape[1:]) < CROP.stop:
        raise CorruptDataError(members.where(name), f"shape {data.shape}, expected (2 or 3, >=192, >=192)",
                               "run `nasbench data cosmic --download` again")
    planes = np.asarray(data[:, CROP, CROP], dtype=np.float32)
    ignore = planes[2] if len(planes) == 3 else np.zeros_like(planes[0])
    folder, file = name.rsplit("/", 1)
    sky_name = f"{folder}/sky.npy"
    sky = float(members.load_npy(sky_name)[int(file.split("_")[0]) - 1]) if members.exists(sky_name) else 0.0
    return planes[0], planes[1], ignore, sky


def patch_split(name: str, patches: list[tuple], sky_range: tuple[float, float], fixed_seed: int,
                randomize: bool) -> LazySplit:
    images = torch.from_numpy(np.stack([p[0] for p in patches]))
    targets = torch.from_numpy(np.stack([np.stack([p[1], p[2]]) for p in patches]).astype(np.float32))
    sky = np.array([p[3] for p in patches], dtype=np.float32)
    fixed = np.random.default_rng(fixed_seed).uniform(*sky_range, len(patches)).astype(np.float32)

    def fetch(idx: np.ndarray, generator):
        factor = generator_rng(generator).uniform(*sky_range, len(idx)) if generator is not None else fixed[idx]
        offset = torch.from_numpy((sky[idx] * factor).astype(np.float32)).view(-1, 1, 1)
        return (images[idx] + offset).unsqueeze(1), targets[idx]

    return LazySplit(name, len(patches), fetch, targets=targets, randomize=randomize)


class Cosmic(NB360Task):
    name = "cosmic"
    description = "NAS-Bench-360 Cosmic: cosmic-ray pixel masks in HST images, 1-AUROC"
    smoke_overrides = ("n_train=4", "n_val=2", "n_test=2")
    citation = ("Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; "
                "Zhang & Bloom, deepCR, ApJ 2020 (data)")
    Config = CosmicConfig
    metric = MetricSpec(name="auroc", direction="max", error_name="1-AUROC")
    files = FILES
    budgets = {"smoke": dict(n_train=16, n_val=2, n_test=4), "small": dict(n_train=500, n_val=100, n_test=420),
               "paper": {}}
    paper_sizes = "4,347/483/420"
    unit = "patches"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=2, in_channels=1, input_size=(128, 128), output="dense_binary", num_outputs=1)

    def members(self, part: str) -> Members:
        """The extracted ``npy_<part>`` tree when present, else the official tar."""
        for folder in (self.data_dir(), self.data_dir() / "data"):
            if (folder / f"npy_{part}").is_dir():
                return open_members(folder)
        spec = FILES[0] if part == "train" else FILES[1]
        if not (self.data_dir() / spec.name).exists():
            raise missing(self.name, self.data_dir() / spec.name, FILES, f"{spec.name}: {spec.description}")
        return open_members(self.data_dir() / spec.name)

    def verify(self) -> list[str]:
        extracted = [p for p in ("train", "test") if any((f / f"npy_{p}").is_dir()
                                                         for f in (self.data_dir(), self.data_dir() / "data"))]
        if len(extracted) == 2:
            return [f"ok  {self.data_dir()}  (extracted npy_train/ and npy_test/; no checksum published)"]
        return super().verify()

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        c = self.config
        train_members, test_members = self.members("train"), self.members("test")
        train_part, val_part = deepcr_parts(selected_patches(train_members, "train"), c.val_fraction)
        test_part = selected_patches(test_members, "test")
        chosen = {
            "train": (train_members, train_part[: first_n(c.n_train, len(train_part), "training patches",
                                                                 train_members.path)]),
            "val": (train_members, val_part[: first_n(c.n_val, len(val_part), "validation patches",
                                                             train_members.path)]),
            "test": (test_members, test_part[: first_n(c.n_test, len(test_part), "test patches",
                                                              test_members.path)])}
        splits = [patch_split(part, [read_patch(members, n) for n in names], (c.sky_min, c.sky_max), c.sky_seed + i,
                              randomize=part == "train") for i, (part, (members, names)) in enumerate(chosen.items())]
        return TaskData(*splits, self.data_source(), {"files": [str(train_members.path), str(test_members.path)]})

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return masked_bce(output[:, 0], target[:, 0], target[:, 1])

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        return metrics.thresholded_auroc(split.targets[:, 0].numpy(), outputs[:, 0].numpy(), self.config.threshold)

    def write_fixture(self, root: Path, seed: int = 0, counts: tuple[int, int] = (20, 4),
                      extracted: bool = False) -> None:
        """The official tars (or their extracted trees): 256 x 256 patches of sky, Gaussian stars
        and thin bright cosmic-ray streaks (the mask), in two GAL visits, plus a GC visit and an
        f814w folder that the selection must skip."""
        from nasbench.tasks.nb360.cosmic_fixture import write_cosmic_fixture

        write_cosmic_fixture(root, np.random.default_rng(seed), counts, extracted)
        mark_fixture(root, self.name)
