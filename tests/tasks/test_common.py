"""The task layer (tasks/common) and the loader fixes of issue 15: declared budgets, no family importing
another, one CIFAR reader with NB360's per-release transform, and the reference loaders' behaviour
(S4 vocabularies and Pathfinder splits, DeepSEA arrays np.load reads, FSD50K audio and paths)."""
from __future__ import annotations

import ast
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from nasbench.contracts import MetricSpec, TaskShape
from nasbench.errors import ConfigError, CorruptDataError, MissingDataError
from nasbench.registry import tasks
from nasbench.tasks.common.cifar import CIFAR10, CIFAR100, image_split
from nasbench.tasks.common.declared import DeclaredTask
from nasbench.tasks.common.members import open_members
from nasbench.tasks.common.provenance import FIXTURE_MARKER
from nasbench.tasks.common.splits import check_counts, random_split_indices, split_lengths
from nasbench.tasks.lra.pathfinder import Pathfinder, PathfinderConfig
from nasbench.tasks.lra.retrieval import Retrieval, RetrievalConfig
from nasbench.tasks.lra.text import Text, TextConfig
from nasbench.tasks.nb360 import audio
from nasbench.tasks.nb360.deepsea import read_npz_rows
from nasbench.tasks.nb360.fsd50k import AudioSource

TASKS_ROOT = Path(__file__).resolve().parents[2] / "tasks"


# -- the declarative base ------------------------------------------------------------------------
@dataclass(frozen=True)
class ToyConfig:
    n_train: int = 90
    n_val: int = 5
    n_test: int = 5
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("toy", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)


class Toy(DeclaredTask):
    name, family, citation, Config = "toy", "offline", "tests", ToyConfig
    metric = MetricSpec("accuracy", "max", "0-1 error")
    budgets = {"smoke": dict(n_train=3, n_val=2, n_test=1), "paper": {}}
    paper_sizes, unit, paper_protocol = "90/5/5", "rows", "the toy paper"
    shape = TaskShape(1, 1, (4,), "classes", 2)
    load = loss = score = None


def test_declared_task_derives_config_notes_and_validation():
    assert Toy.default_config("smoke") == ToyConfig(3, 2, 1) and Toy.default_config("paper") == ToyConfig()
    assert Toy.budget_notes("smoke") == "the first 3/2/1 train/val/test rows (paper 90/5/5)"
    assert Toy.budget_notes("paper") == "90/5/5 train/val/test rows (the toy paper)"
    with pytest.raises(ConfigError, match="n_val"):
        Toy(ToyConfig(n_val=0))


def test_every_registered_task_declares_its_budgets_and_one_line():
    for name in tasks.names():
        cls = tasks.get(name)
        assert cls.description and "\n" not in cls.description, name
        for budget in ("smoke", "small", "paper"):
            cls(cls.default_config(budget))  # validates
            assert cls.budget_notes(budget), (name, budget)


def test_no_task_family_imports_another_family():
    families = {p.name for p in TASKS_ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {"common"}
    offenders = []
    for family in families:
        for path in (TASKS_ROOT / family).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                    [a.name for a in node.names] if isinstance(node, ast.Import) else []
                for module in names:
                    parts = module.split(".")
                    if parts[:2] == ["nasbench", "tasks"] and len(parts) > 2 and parts[2] not in (family, "common"):
                        offenders.append(f"{path.relative_to(TASKS_ROOT)} imports {module}")
    assert not offenders, offenders


# -- CIFAR: NB360's transform per release ----------------------------------------------------------
def training_batch(source, seed: int = 0) -> torch.Tensor:
    images = np.random.default_rng(seed).integers(1, 255, (64, 3, 32, 32), dtype=np.uint8)
    split = image_split("train", images, np.zeros(64, dtype=np.int64), source, augment=True)
    return next(split.batches(64, shuffle=True, generator=torch.Generator().manual_seed(seed)))[0]


def test_nb360_cifar10_transform_has_no_cutout_and_cifar100_has_cutout_16():
    # Cutout writes exact zeros after Normalize; crop padding normalises to (0 - mean) / std instead.
    zero_pixels = lambda x: (x == 0).all(dim=1).sum(dim=(1, 2))  # noqa: E731
    assert zero_pixels(training_batch(CIFAR10)).max() == 0
    cut = zero_pixels(training_batch(CIFAR100))
    assert (cut > 0).all() and cut.max() <= 16 * 16


# -- LRA: S4 counts the vocabulary over the truncated text -------------------------------------------
def test_text_and_retrieval_vocabularies_count_only_the_kept_characters(tmp_path):
    text = Text(TextConfig(n_train=8, n_val=2, n_test=2, max_length=12, min_freq=1, data_dir=str(tmp_path / "t")))
    text.write_fixture(tmp_path / "t", per_class=4)
    reviews = [p.read_text(encoding="utf-8") for p in (tmp_path / "t" / "aclImdb" / "train").rglob("*.txt")]
    kept, whole = {c for r in reviews for c in r[:11]}, {c for r in reviews for c in r}
    tokens = set(text.load(allow_generate=False).detail["vocabulary"]["tokens"]) - {"<pad>", "<unk>", "<eos>"}
    assert tokens <= kept < whole  # counting whole reviews would add characters
    pairs = Retrieval(RetrievalConfig(n_train=6, n_val=2, n_test=2, max_length=5, data_dir=str(tmp_path / "r")))
    pairs.write_fixture(tmp_path / "r")
    tokens = set(pairs.load().detail["vocabulary"]["tokens"]) - {"<pad>", "<unk>", "<eos>"}
    rows = [line.split("\t") for line in (tmp_path / "r" / "new_aan_pairs.train.tsv").read_text().splitlines()]
    assert tokens == {c for row in rows[:6] for doc in row[3:5] for c in doc[:4]}


# -- Pathfinder: S4 splits every listed row ---------------------------------------------------------
def test_pathfinder_official_data_split_like_s4_over_all_rows(tmp_path):
    writer = Pathfinder(PathfinderConfig(n_train=16, n_val=2, n_test=2, data_dir=str(tmp_path)))
    writer.write_fixture(tmp_path, seed=3)
    (tmp_path / FIXTURE_MARKER).unlink()  # read as the release would be: source official
    task = Pathfinder(PathfinderConfig(n_train=5, n_val=1, n_test=2, data_dir=str(tmp_path)))
    data = task.load(allow_generate=False)
    parts = random_split_indices(20, split_lengths(20, 0.1, 0.1), seed=42)  # S4: 16/2/2 of all 20 rows
    metadata = tmp_path / "pathfinder32" / task.config.difficulty / "metadata" / "0.npy"
    labels = torch.tensor([int(line.split()[3]) for line in metadata.read_text().splitlines()])
    assert data.data_source == "official"
    for split, part, n in zip((data.train, data.val, data.test), parts, (5, 1, 2)):
        assert torch.equal(split.targets, labels[part[:n]])
    with pytest.raises(CorruptDataError, match="validation"):  # S4's validation split holds 2 rows
        Pathfinder(PathfinderConfig(n_train=5, n_val=3, n_test=1, data_dir=str(tmp_path))).load(allow_generate=False)


# -- DeepSEA: arrays np.load reads -----------------------------------------------------------------
def test_deepsea_reads_fortran_ordered_and_c_ordered_arrays_alike(tmp_path):
    x = np.random.default_rng(0).integers(0, 2, (7, 10, 4)).astype(np.uint8)
    np.savez(tmp_path / "c.npz", x_train=x)
    np.savez(tmp_path / "f.npz", x_train=np.asfortranarray(x))
    assert np.load(tmp_path / "f.npz")["x_train"].flags.f_contiguous
    for n in (3, None):
        c, f = read_npz_rows(tmp_path / "c.npz", "x_train", n), read_npz_rows(tmp_path / "f.npz", "x_train", n)
        assert np.array_equal(c, x[:n]) and np.array_equal(f, x[:n]) and f.flags.c_contiguous


# -- FSD50K: audio soundfile reads, paths by tail ----------------------------------------------------
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_audio_reads_what_soundfile_reads(subtype):
    samples = np.sin(np.linspace(0, 30, 2000)) * 0.5
    out = io.BytesIO()
    soundfile.write(out, np.stack([samples, samples], axis=1), 22050, subtype=subtype, format="WAV")
    read, rate = audio.read_wav(out.getvalue())
    assert rate == 22050 and read.dtype == np.float32 and np.allclose(read, samples, atol=1e-4)


def test_manifest_paths_resolve_by_tail_and_a_miss_lists_every_name_tried(tmp_path):
    with zipfile.ZipFile(tmp_path / "audio.zip", "w") as archive:
        archive.writestr("data/dev_22050_chunks/12_0.wav", b"")
    source = AudioSource(open_members(tmp_path / "audio.zip"), "data/")
    assert source.resolve("/root/datasets/dev_22050_chunks/12_0.wav", "tr.csv") == "data/dev_22050_chunks/12_0.wav"
    with pytest.raises(MissingDataError) as caught:
        source.resolve("/root/x/13_0.wav", "tr.csv")
    assert all(name in str(caught.value) for name in ("'data/root/x/13_0.wav'", "'data/x/13_0.wav'", "'data/13_0.wav'"))
