"""LRA Text: IMDB sentiment at character level (Tay et al., Long Range Arena, ICLR 2021, arXiv:2011.04006;
the DNArch paper, Romero & Zeghidour, arXiv:2302.05400, Appendix D.1).

Official files: the extracted ``aclImdb_v1.tar.gz`` (Maas et al., 2011), ``aclImdb/{train,test}/{pos,neg}/
<id>_<rating>.txt``, 12,500 reviews per folder, in the task's data folder. LRA reads the same reviews
through TFDS ``imdb_reviews``; label 1 = pos, 0 = neg.

Splits: train = the 25,000 training reviews; LRA has no validation split and validates on the test
split (S4 ``val_split=0.0``: "use test set as val set, as done in the LRA paper"), so by default the
validation split is the test split (``val_source='test'``; the run's data detail says so). With
``val_source='train'`` a held-out 10 % of the training reviews (random_split, seed 42) validates
instead [A]. Budgets below ``paper`` read seeded random subsets (the folders are sorted by class).

Preprocessing (S4 ``IMDB``): characters, ``l_max`` 4096 (the DNArch paper; LRA's released config uses
1000 bytes), vocabulary of the characters seen at least 15 times in the training reviews read
(``min_freq=15``), counted over what is kept of each review after truncation to ``l_max - 1`` characters
(S4 tokenizes, truncates, then builds the vocabulary) plus ``<pad>``, ``<unk>``, ``<eos>`` (129 tokens on
the full data per the DNArch paper; capacity 135, S4's ``max_vocab``). Two classes, cross-entropy,
accuracy.
"""
from __future__ import annotations

import random
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import torch

from nasbench.contracts import DataFile, Split, TaskData, TaskShape
from nasbench.errors import ConfigError, CorruptDataError, MissingDataError
from nasbench.tasks.common.classification import ClassificationTask
from nasbench.tasks.common.download import OfficialFile, download_all
from nasbench.tasks.common.provenance import mark_fixture, source_of
from nasbench.tasks.common.splits import check_counts, random_split_indices, seeded_subset, split_lengths
from nasbench.tasks.lra.common import Vocabulary

LABELS = ("neg", "pos")  # TFDS imdb_reviews label names: 0 = neg, 1 = pos
VOCAB_CAPACITY = 135
ARCHIVE = OfficialFile("aclImdb_v1.tar.gz", "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                       "Large Movie Review Dataset v1.0 (80 MiB)", md5="7c2ac02c03563afcf9b574c7e56c153a")


@dataclass(frozen=True)
class TextConfig:
    n_train: int = 25000
    n_val: int = 25000
    n_test: int = 25000
    max_length: int = 4096  # S4 / DNArch
    min_freq: int = 15  # S4 character vocabulary
    val_source: Literal["test", "train"] = "test"  # LRA validates on the test split
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("text", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)
        if self.max_length < 2 or self.min_freq < 1:
            raise ConfigError(f"text: need max_length >= 2 and min_freq >= 1, got {self.max_length}, {self.min_freq}")


def list_reviews(root: Path, split: str) -> list[tuple[Path, int]]:
    """(file, label) of ``aclImdb/<split>``: neg then pos, each by review id."""
    out = []
    for label, folder in enumerate(LABELS):
        files = sorted((root / split / folder).glob("*.txt"), key=lambda p: (int(p.stem.split("_")[0]), p.name))
        out += [(f, label) for f in files]
    return out


def read_reviews(listing: list[tuple[Path, int]], index: torch.Tensor) -> tuple[list[str], torch.Tensor]:
    picked = [listing[i] for i in index.tolist()]
    return [p.read_text(encoding="utf-8") for p, _ in picked], torch.tensor([label for _, label in picked])


class Text(ClassificationTask):
    name = "text"
    description = "LRA Text: IMDb byte-level reviews (4,096 tokens), 2 classes, 0-1 error"
    smoke_overrides = ("n_train=16", "n_val=4", "n_test=4")
    family = "lra"
    citation = ("Tay et al., Long Range Arena, ICLR 2021; Maas et al., Learning Word Vectors for Sentiment "
                "Analysis, ACL 2011 (data); preprocessing of Gu et al., S4, ICLR 2022")
    Config = TextConfig
    budgets = {"smoke": dict(n_train=64, n_val=32, n_test=32), "small": dict(n_train=2000, n_val=500, n_test=1000),
               "paper": {}}
    paper_sizes, unit = "25,000/25,000/25,000", "reviews"
    selection = "seeded random subsets of"
    paper_protocol = "LRA: validation and test on the test reviews; l_max 4096"
    budget_remark = "validation and test reviews come from the test split"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=1, in_channels=1, input_size=(self.config.max_length,), output="classes",
                         num_outputs=2, vocab_size=VOCAB_CAPACITY)

    def root(self) -> Path:
        return self.data_dir() / "aclImdb"

    def data_files(self) -> list[DataFile]:
        return [DataFile(self.root() / s / label, f"aclImdb v1 {s}/{label} reviews (folder of .txt files)")
                for s in ("train", "test") for label in LABELS]

    def verify(self) -> list[str]:
        return [f"ok  {self.root() / split}  ({len(self._listing(split))} reviews)" for split in ("train", "test")]

    def download(self, log: Callable[[str], None] = print) -> None:
        """Fetch the archive (md5 checked) and extract its labelled reviews (not ``train/unsup``)."""
        archive = download_all(self.name, [ARCHIVE], self.data_dir(), log)[0]
        if all(f.path.is_dir() for f in self.data_files()):
            return
        with tarfile.open(archive) as tar:
            keep = [m for m in tar.getmembers() if m.isfile() and m.name.split("/")[2:3] in (["pos"], ["neg"])]
            tar.extractall(self.data_dir(), members=keep, filter="data")
        log(f"extracted {len(keep)} reviews into {self.root()}")

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        listing = {s: self._listing(s) for s in ("train", "test")}
        c = self.config
        train_idx, val_idx, val_from = self._indices(len(listing["train"]), len(listing["test"]))
        test_idx = seeded_subset(len(listing["test"]), c.n_test)
        texts, labels = read_reviews(listing["train"], train_idx)
        kept = (t[: c.max_length - 1] for t in texts)  # S4 counts the text left after truncation (l_max - <eos>)
        vocab = Vocabulary.build(kept, capacity=VOCAB_CAPACITY, min_freq=c.min_freq)
        val_texts, val_labels = read_reviews(listing[val_from], val_idx)
        test_texts, test_labels = read_reviews(listing["test"], test_idx)
        splits = [Split(name, vocab.encode_chars(t, c.max_length), y) for name, t, y in
                  (("train", texts, labels), ("val", val_texts, val_labels), ("test", test_texts, test_labels))]
        detail = {"folder": str(self.root()), "validation": f"{val_from} split", "vocabulary": vocab.detail(),
                  "max_length": c.max_length}
        return TaskData(*splits, source_of(self.data_dir()), detail)

    def _listing(self, split: str) -> list[tuple[Path, int]]:
        for folder in (self.root() / split / label for label in LABELS):
            if not folder.is_dir():
                raise MissingDataError(folder, "aclImdb v1 review folders (train|test)/(pos|neg)/*.txt",
                                       f"run `nasbench data text --download` (fetches {ARCHIVE.url} and extracts it "
                                       f"into {self.data_dir()}), or extract it there yourself; --set "
                                       f"task.data_dir=DIR looks elsewhere")
        listing = list_reviews(self.root(), split)
        needed = max(self.config.n_test, self.config.n_val if self.config.val_source == "test" else 0)
        if split == "test" and len(listing) < needed:
            raise CorruptDataError(self.root() / split, f"holds {len(listing)} reviews, {needed} are needed",
                                   "lower task.n_val / task.n_test or extract the full archive")
        return listing

    def _indices(self, n_train_files: int, n_test_files: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        """Training indices, validation indices and the split the validation reviews come from."""
        c = self.config
        if c.val_source == "test":
            pool = torch.arange(n_train_files)
            val = seeded_subset(n_test_files, c.n_val)
        else:
            pool, held = random_split_indices(n_train_files, split_lengths(n_train_files, 0.1))
            val = held[: c.n_val]
        if len(pool) < c.n_train or len(val) < c.n_val:
            raise CorruptDataError(self.root() / "train", f"{len(pool)} training and {len(val)} validation reviews "
                                   f"available, {c.n_train} and {c.n_val} needed", "lower the counts")
        return pool[seeded_subset(len(pool), c.n_train)], val, ("test" if c.val_source == "test" else "train")

    def write_fixture(self, root: Path, seed: int = 0, per_class: int = 48) -> None:
        """aclImdb layout with ``per_class`` reviews per folder, written from sentiment word lists
        (label = which list dominates); marked as a fixture."""
        rng = random.Random(seed)
        for split in ("train", "test"):
            for label, folder in enumerate(LABELS):
                out = root / "aclImdb" / split / folder
                out.mkdir(parents=True, exist_ok=True)
                for i in range(per_class):
                    rating = rng.randint(7, 10) if label else rng.randint(1, 4)
                    (out / f"{i}_{rating}.txt").write_text(fixture_review(rng, label), encoding="utf-8")
        mark_fixture(root, type(self).__name__)


POSITIVE = ("wonderful", "brilliant", "moving", "superb", "delightful", "masterpiece", "charming", "great")
NEGATIVE = ("awful", "boring", "dreadful", "clumsy", "tedious", "terrible", "waste", "dull")
NEUTRAL = ("the", "film", "plot", "actor", "scene", "story", "director", "camera", "and", "with", "music", "ending")


def fixture_review(rng: random.Random, label: int) -> str:
    """A few hundred characters of neutral words with sentiment words of one polarity mixed in."""
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(60, 200))]
    for i in rng.sample(range(len(words)), len(words) // 6):
        words[i] = rng.choice(POSITIVE if label else NEGATIVE)
    return " ".join(words).capitalize() + ". <br /><br />" + rng.choice(NEUTRAL).capitalize() + "!"
