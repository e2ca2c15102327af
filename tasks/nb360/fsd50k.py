"""NAS-Bench-360 FSD50K, multi-label audio tagging (Tu et al., NAS-Bench-360, NeurIPS 2022 Datasets and
Benchmarks, arXiv:2110.05668; data: Fonseca et al., FSD50K, IEEE/ACM TASLP 2022, arXiv:2010.00475).

File: ``audio.zip`` (24 GB), read as it is or extracted to ``data/`` (``download_datasets.sh``
unzips it there): ``chunks/{tr,val,eval}.csv`` with columns ``files`` (chunk WAV path), ``labels``
(comma-separated names), ``ext`` (the clip a chunk belongs to); ``chunks/lbl_map.json`` (name ->
index, 200 labels); chunk WAVs at 22,050 Hz; background noise WAVs in ``noise_22050/``. Zip
members are streamed, never extracted.
Manifest paths: the manifests come from the FSD50K baseline's ``make_chunks_manifests.py`` (shipped
in NAS-Bench-360 under ``expert/FSD50k``), whose ``files`` column is ``glob(<chunks dir>/*.wav)``:
paths on the machine that wrote them (its README: "This will store absolute file paths"), e.g.
``/<somewhere>/dev_22050_chunks/<clip id>_<k>.wav`` with ``ext`` the clip id; NAS-Bench-360's loader
passes them to ``soundfile`` unchanged, so they hold only there. Each path is therefore resolved
against the archive (or ``data/``) by its longest tail that exists there, and a chunk that is not
found is reported with every member name that was tried. The first rows of the released
``tr.csv`` could not be checked here; the resolution accepts any prefix.
Audio is read with ``soundfile`` as ``load_audio`` does (any encoding libsndfile reads; the MUSAN
noise files need not be 16-bit PCM).
Features (``audio``): 1 s chunks (shorter ones tiled) -> log-mel 96 x 101 with NAS-Bench-360's
exact settings; input (1, 96, 101).
Splits: train = one item per clip of ``tr.csv`` (~37K), each epoch a random chunk of it; val and
test = every chunk of ``val.csv`` / ``eval.csv`` (~4K / ~10K clips), scored per clip.
Training augmentation (``get_transforms_fsd_chunks`` and ``UseMixerWithProb``): SpecAugment with
probability 0.5 (1-2 masks, each up to 15 % of the mel bins and 20 % of the frames, filled with
the minimum), then with probability 0.75 a background mix (1 - a) x + a noise, a ~ U(0, 0.5), of
a random 101-frame crop of a random noise file's features.
Loss: ``BCEWithLogitsLoss`` (``pos_weight=None``, NAS-Bench-360); ORCA/DASH use ``pos_weight=10``.
Metric: the logits of all chunks of a clip are averaged, passed through a sigmoid and scored
against the clip's labels with macro average precision (``average_precision_score(average=
"macro")``; a label without positives counts 0, scikit-learn >= 1.1); error form 1-mAP.
Departures: chunks longer than 1 s are cropped to 101 frames (randomly in training as the
reference; centrally in evaluation, where the reference keeps the full length); the
reference's pad-to-101 step is not needed because every chunk is tiled to 1 s first.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from nasbench.contracts import MetricSpec, Split, TaskData, TaskShape
from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.common.download import OfficialFile, missing
from nasbench.tasks.common.members import Members, open_members
from nasbench.tasks.common.provenance import mark_fixture
from nasbench.tasks.common.splits import LazySplit, check_counts, first_n, generator_rng
from nasbench.tasks.nb360 import audio, metrics
from nasbench.tasks.nb360.base import S3, NB360Task
from nasbench.tasks.nb360.losses import weighted_bce

FILES = (OfficialFile("audio.zip", f"{S3}/audio/audio.zip",
                      "FSD50K chunks, manifests (chunks/{tr,val,eval}.csv, lbl_map.json) and noise_22050/ (24 GB); "
                      "or the same extracted into data/"),)
MANIFESTS = {"train": "tr.csv", "val": "val.csv", "test": "eval.csv"}
LABELS = 200


@dataclass(frozen=True)
class FSD50KConfig:
    n_train: int | None = None  # clips
    n_val: int | None = None
    n_test: int | None = None
    augment: bool = True
    pos_weight: float | None = None  # ORCA/DASH: 10.0
    feature_cache: int = 20_000  # chunks whose features are kept in memory (about 39 kB each)
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("fsd50k", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


@dataclass
class Manifest:
    """One split: chunk members, their multi-hot labels and the clip index of each chunk."""

    chunks: list[str]
    labels: np.ndarray  # (chunks, 200) float32
    clips: np.ndarray  # (chunks,) clip index, clips numbered in sorted order of their ids


class AudioSource:
    """The archive (or its extracted folder) and where its ``chunks/`` folder sits inside."""

    def __init__(self, members: Members, prefix: str):
        self.members, self.prefix = members, prefix

    def resolve(self, path: str, manifest: str) -> str:
        """The member for a manifest path: its longest tail that exists under the archive root (the
        manifests hold paths of the machine that wrote them; see the module docstring)."""
        parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
        tried = [self.prefix + "/".join(parts[start:]) for start in range(len(parts))]
        for name in tried:
            if self.members.exists(name):
                return name
        raise MissingDataError(self.members.where(tried[-1] if tried else self.prefix),
                               f"audio chunk {path!r} listed in {manifest}; looked for these members of "
                               f"{self.members.path}: {', '.join(repr(t) for t in tried)}",
                               "the archive is incomplete or laid out differently: run `nasbench data fsd50k "
                               "--download` again, or extract audio.zip into data/ so the chunks sit below it")

    def read_manifest(self, part: str, label_map: dict[str, int]) -> Manifest:
        name = self.prefix + "chunks/" + MANIFESTS[part]
        rows = list(csv.DictReader(io.TextIOWrapper(self.members.open(name), encoding="utf-8")))
        if not rows or not {"files", "labels", "ext"} <= set(rows[0]):
            raise CorruptDataError(self.members.where(name), "expected columns files, labels, ext",
                                   "run `nasbench data fsd50k --download` again")
        labels = np.zeros((len(rows), len(label_map)), dtype=np.float32)
        for i, row in enumerate(rows):
            labels[i, [label_map[v] for v in row["labels"].split(",")]] = 1
        ext = [r["ext"] for r in rows]
        keys = [int(v) for v in ext] if all(v.lstrip("-").isdigit() for v in ext) else ext  # pandas reads ints
        _, clips = np.unique(np.array(keys), return_inverse=True)
        chunks = [self.resolve(r["files"], MANIFESTS[part]) for r in rows]
        order = np.argsort(clips, kind="stable")  # chunks grouped by clip, manifest order within a clip
        return Manifest([chunks[i] for i in order], labels[order], clips[order])

    def noise_members(self) -> list[str]:
        folder = self.prefix + "noise_22050/"
        return [n for n in self.members.names if n.startswith(folder) and n.lower().endswith(".wav")]


def fit_frames(features: np.ndarray, rng: np.random.Generator | None, frames: int = audio.FRAMES) -> np.ndarray:
    """Crop to ``frames`` columns: random with ``rng`` (training), central without."""
    extra = features.shape[1] - frames
    if extra <= 0:
        return features
    start = int(rng.integers(0, extra + 1)) if rng is not None else extra // 2
    return features[:, start: start + frames]


def spec_augment(features: np.ndarray, rng: np.random.Generator, freq: float = 0.15, time: float = 0.20) -> np.ndarray:
    """1-2 masks, each of up to ``freq`` of the mel bins and ``time`` of the frames, set to the minimum."""
    out, value = features.copy(), features.min()
    bins, frames = out.shape
    for _ in range(int(rng.integers(1, 3))):
        width = int(rng.uniform(0.0, freq) * bins)
        start = int(rng.uniform(0.0, bins - width))
        out[start: start + width, :] = value
        width = int(rng.uniform(0.0, time) * frames)
        start = int(rng.uniform(0.0, frames - width))
        out[:, start: start + width] = value
    return out


class FSD50K(NB360Task):
    name = "fsd50k"
    description = "NAS-Bench-360 FSD50K: log-mel audio clips, 200 labels, 1-mAP"
    smoke_overrides = ("n_train=16", "n_val=8", "n_test=8")
    citation = ("Tu et al., NAS-Bench-360, NeurIPS Datasets and Benchmarks 2022; "
                "Fonseca et al., FSD50K, IEEE/ACM TASLP 2022 (data)")
    Config = FSD50KConfig
    metric = MetricSpec(name="map", direction="max", error_name="1-mAP")
    files = FILES
    budgets = {"smoke": dict(n_train=32, n_val=8, n_test=8), "small": dict(n_train=2000, n_val=500, n_test=1000),
               "paper": {}}
    paper_sizes = "~37K/4K/10K"
    unit = "clips"

    def __init__(self, config: FSD50KConfig):
        super().__init__(config)
        self._features = lru_cache(maxsize=config.feature_cache)(self._compute_features)
        self._source: AudioSource | None = None

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=2, in_channels=1, input_size=(audio.N_MELS, audio.FRAMES), output="multilabel",
                         num_outputs=LABELS)

    def verify(self) -> list[str]:
        if (self.data_dir() / "data" / "chunks").is_dir():
            return [f"ok  {self.data_dir() / 'data'}  (extracted audio.zip; no checksum published)"]
        return super().verify()

    def locate(self) -> AudioSource:
        extracted, archive = self.data_dir() / "data", self.data_dir() / FILES[0].name
        if (extracted / "chunks" / "tr.csv").exists():
            return AudioSource(open_members(extracted), "")
        if not archive.exists():
            raise missing(self.name, archive, FILES, f"{FILES[0].description}, or its extracted folder {extracted}")
        members = open_members(archive)
        found = members.find("chunks/tr.csv")
        if found is None:
            raise CorruptDataError(archive, "no chunks/tr.csv inside", "run `nasbench data fsd50k --download` again")
        return AudioSource(members, found[: -len("chunks/tr.csv")])

    def _compute_features(self, member: str) -> np.ndarray:
        try:
            samples, rate = audio.read_wav(self._source.members.read(member))
        except (RuntimeError, ValueError) as exc:  # soundfile's LibsndfileError is a RuntimeError
            raise CorruptDataError(self._source.members.where(member), f"not audio libsndfile reads ({exc})",
                                   "use the official NAS-Bench-360 audio.zip") from exc
        if rate != audio.SAMPLE_RATE:
            raise CorruptDataError(self._source.members.where(member), f"sample rate {rate}, expected 22050",
                                   "use the official NAS-Bench-360 audio.zip")
        return audio.log_mel(audio.tile_to(samples))

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        self._source = source = self.locate()
        label_map = json.loads(source.members.read(source.prefix + "chunks/lbl_map.json"))
        if len(label_map) != LABELS:
            raise CorruptDataError(source.members.where("chunks/lbl_map.json"),
                                   f"{len(label_map)} labels, expected 200",
                                   "run `nasbench data fsd50k --download` again")
        c = self.config
        counts = {"train": c.n_train, "val": c.n_val, "test": c.n_test}
        manifests = {part: self._first_clips(source.read_manifest(part, label_map), counts[part], part)
                     for part in MANIFESTS}
        noise = source.noise_members() if c.augment else []
        splits = (self._train_split(manifests["train"], noise), self._eval_split("val", manifests["val"]),
                  self._eval_split("test", manifests["test"]))
        return TaskData(*splits, self.data_source(), {"files": [str(source.members.path)], "noise_files": len(noise)})

    def _first_clips(self, m: Manifest, n: int | None, part: str) -> Manifest:
        keep = m.clips < first_n(n, int(m.clips.max()) + 1, f"{part} clips", self._source.members.path)
        return Manifest([ch for ch, k in zip(m.chunks, keep) if k], m.labels[keep], m.clips[keep])

    def _features_of(self, member: str, rng: np.random.Generator | None) -> np.ndarray:
        return fit_frames(self._features(member), rng)

    def _train_split(self, m: Manifest, noise: list[str]) -> LazySplit:
        first = np.searchsorted(m.clips, np.arange(m.clips.max() + 1))
        sizes = np.bincount(m.clips)
        targets = torch.from_numpy(m.labels[first])

        def fetch(idx: np.ndarray, generator):
            rng = generator_rng(generator) if generator is not None else None
            picks = first[idx] + (rng.integers(0, sizes[idx]) if rng is not None else 0)
            x = np.stack([self._features_of(m.chunks[i], rng) for i in picks])
            if rng is not None and self.config.augment:
                x = np.stack([self._augment(f, rng, noise) for f in x])
            return torch.from_numpy(x[:, None]), torch.from_numpy(m.labels[picks])

        return LazySplit("train", len(first), fetch, targets=targets, randomize=True)

    def _augment(self, features: np.ndarray, rng: np.random.Generator, noise: list[str]) -> np.ndarray:
        if rng.random() < 0.5:
            features = spec_augment(features, rng)
        if noise and rng.random() < 0.75:
            background = self._features_of(noise[int(rng.integers(len(noise)))], rng)
            if rng.random() < 0.5:  # the background passes through the training transform too
                background = spec_augment(background, rng)
            alpha = rng.uniform(0, 0.5)
            features = (1 - alpha) * features + alpha * background
        return features.astype(np.float32)

    def _eval_split(self, name: str, m: Manifest) -> LazySplit:
        targets = torch.from_numpy(m.labels)

        def fetch(idx: np.ndarray, generator):
            features = np.stack([self._features_of(m.chunks[i], None) for i in idx])
            return torch.from_numpy(features[:, None]), targets[idx]

        return LazySplit(name, len(m.chunks), fetch, targets=targets, meta={"clip": m.clips}, per_example=("clip",))

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return weighted_bce(output, target, self.config.pos_weight)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        """Clip-level macro mAP: chunk logits averaged per clip, sigmoid, first chunk's labels."""
        clips = np.asarray(split.meta["clip"]) if "clip" in split.meta else np.arange(len(outputs))
        _, clip_logits = metrics.group_mean(outputs.double().numpy(), clips)
        probabilities = torch.sigmoid(torch.from_numpy(clip_logits).float()).numpy()
        return metrics.macro_average_precision(metrics.first_per_group(split.targets.numpy(), clips), probabilities)

    def write_fixture(self, root: Path, seed: int = 0, clips: tuple[int, int, int] = (32, 8, 8)) -> None:
        """The official ``audio.zip``: 1 s chunks (some shorter) of tones, one frequency per label
        (6 of the 200 labels used), plus noise; manifests with absolute-looking paths; 2 noise files."""
        write_audio_fixture(root / FILES[0].name, np.random.default_rng(seed), clips)
        mark_fixture(root, self.name)


TONES = (330.0, 550.0, 880.0, 1320.0, 2090.0, 3300.0)


def write_audio_fixture(path: Path, rng: np.random.Generator, clips: tuple[int, int, int]) -> None:
    import zipfile

    names = [f"Tone_{i:03d}" for i in range(LABELS)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("chunks/lbl_map.json", json.dumps({n: i for i, n in enumerate(names)}))
        clip_id = 1000
        for part, count in zip(MANIFESTS.values(), clips):
            rows = ["files,labels,ext"]
            for _ in range(count):
                clip_id += int(rng.integers(1, 50))
                labels = sorted(rng.choice(len(TONES), int(rng.integers(1, 3)), replace=False))
                for k in range(int(rng.integers(1, 4))):
                    member = f"chunks/{part[:-4]}/{clip_id}_{k}.wav"
                    archive.writestr(member, audio.write_wav(tone_chunk(labels, rng)))
                    joined = ",".join(names[i] for i in labels)
                    rows.append(f'/home/authors/fsd50k/data/{member},"{joined}",{clip_id}')
            archive.writestr(f"chunks/{part}", "\n".join(rows) + "\n")
        for i in range(2):
            archive.writestr(f"noise_22050/noise_{i}.wav", audio.write_wav(rng.normal(0, 0.1, 2 * audio.SAMPLE_RATE)))


def tone_chunk(labels, rng: np.random.Generator) -> np.ndarray:
    length = audio.SAMPLE_RATE if rng.random() < 0.8 else int(0.6 * audio.SAMPLE_RATE)  # short ones get tiled
    t = np.arange(length) / audio.SAMPLE_RATE
    signal = sum(0.25 * np.sin(2 * np.pi * TONES[i] * t + rng.uniform(0, 6.3)) for i in labels)
    return signal + rng.normal(0, 0.05, length)
