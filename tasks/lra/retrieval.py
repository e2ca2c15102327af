"""LRA Retrieval: ACL Anthology Network citation pairs at character level (Tay et al., Long Range Arena,
ICLR 2021, arXiv:2011.04006; the DNArch paper, Romero & Zeghidour, arXiv:2302.05400, Appendix D.1).

Official files: ``new_aan_pairs.{train,eval,test}.tsv`` of the LRA release's ``tsv_data`` folder, in
the task's data folder: tab-separated, no header, no quoting (LRA ``use_quote_delim=False``), five
columns ``label`` (a float, 0 or 1), ``id1``, ``id2``, ``text1``, ``text2``; 147,086 / 18,090 / 17,437
pairs. Budgets below ``paper`` read the first rows of each file.

Preprocessing (S4 ``AAN``): characters, ``l_max`` 4000 per document, vocabulary of every character of
the training documents read (both columns), counted over what is kept of each document after
truncation to ``l_max - 1`` characters (as S4) plus ``<pad>``, ``<unk>``, ``<eos>`` (97 tokens per the
DNArch paper, 98 per S4; capacity 100, S4's ``max_vocab``). Inputs are (N, 2, 4000) token ids and the
shape declares ``pair_inputs``: a method encodes both documents with one backbone and classifies
[X1, X2, X1 * X2, X1 - X2] with a two-layer MLP (``nasbench.encoder_pair``). Two classes,
cross-entropy, accuracy.
"""
from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from nasbench.contracts import DataFile, Split, TaskData, TaskShape
from nasbench.data import verify_files
from nasbench.errors import ConfigError, CorruptDataError
from nasbench.tasks.common.classification import ClassificationTask
from nasbench.tasks.common.provenance import mark_fixture, source_of
from nasbench.tasks.common.splits import check_counts
from nasbench.tasks.lra.common import Vocabulary

FILES = {"train": "new_aan_pairs.train.tsv", "val": "new_aan_pairs.eval.tsv", "test": "new_aan_pairs.test.tsv"}
VOCAB_CAPACITY = 100


@dataclass(frozen=True)
class RetrievalConfig:
    n_train: int = 147086
    n_val: int = 18090
    n_test: int = 17437
    max_length: int = 4000  # per document (LRA, S4)
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("retrieval", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)
        if self.max_length < 2:
            raise ConfigError(f"retrieval: max_length must be >= 2, got {self.max_length}")

    def counts(self) -> dict[str, int]:
        return {"train": self.n_train, "val": self.n_val, "test": self.n_test}


def read_pairs(path: Path, limit: int) -> tuple[list[str], list[str], list[int]]:
    """The first ``limit`` rows of an AAN pairs file: (text1s, text2s, labels)."""
    csv.field_size_limit(sys.maxsize)  # documents run to tens of thousands of characters
    first, second, labels = [], [], []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(labels) == limit:
                break
            if len(row) != 5 or row[0].strip() not in ("0", "1", "0.0", "1.0"):
                raise CorruptDataError(path, f"row {len(labels) + 1} has {len(row)} fields (label {row[:1]}), "
                                       "expected label, id1, id2, text1, text2", "download the file again")
            labels.append(int(float(row[0])))
            first.append(row[3])
            second.append(row[4])
    if len(labels) < limit:
        raise CorruptDataError(path, f"holds {len(labels)} pairs, {limit} are needed", "lower the sample count")
    return first, second, labels


class Retrieval(ClassificationTask):
    name = "retrieval"
    description = "LRA Retrieval: AAN byte-level document pairs (2 x 4,000), match or not, 0-1 error"
    smoke_overrides = ("n_train=16", "n_val=4", "n_test=4")
    family = "lra"
    citation = ("Tay et al., Long Range Arena, ICLR 2021; Radev et al., The ACL Anthology Network Corpus, 2013 "
                "(data); preprocessing of Gu et al., S4, ICLR 2022")
    Config = RetrievalConfig
    budgets = {"smoke": dict(n_train=32, n_val=16, n_test=16), "small": dict(n_train=2000, n_val=500, n_test=1000),
               "paper": {}}
    paper_sizes, unit, paper_protocol = "147,086/18,090/17,437", "pairs", "LRA; l_max 4000 per document"
    selection = "the first rows:"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=1, in_channels=1, input_size=(self.config.max_length,), output="classes",
                         num_outputs=2, vocab_size=VOCAB_CAPACITY, pair_inputs=True)

    def data_files(self) -> list[DataFile]:
        return [DataFile(self.data_dir() / f, f"LRA AAN pairs, {s} split (lra_release/tsv_data/{f})")
                for s, f in FILES.items()]

    def fix(self) -> str:
        return (f"extract lra_release.gz (LRA README) and copy tsv_data/new_aan_pairs.*.tsv into {self.data_dir()}; "
                f"--set task.data_dir=DIR looks elsewhere")

    def verify(self) -> list[str]:
        return verify_files(self.data_files(), fix=self.fix())

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        self.verify()  # presence: no checksums are published for the release
        rows = {s: read_pairs(self.data_dir() / FILES[s], n) for s, n in self.config.counts().items()}
        length = self.config.max_length
        kept = (t[: length - 1] for t in (*rows["train"][0], *rows["train"][1]))  # S4: truncate, then count
        vocab = Vocabulary.build(kept, capacity=VOCAB_CAPACITY)

        def split(name: str) -> Split:
            text1, text2, labels = rows[name]
            pairs = torch.stack([vocab.encode_chars(text1, length), vocab.encode_chars(text2, length)], dim=1)
            return Split(name, pairs, torch.tensor(labels))

        detail = {"files": [str(f.path) for f in self.data_files()], "vocabulary": vocab.detail(), "max_length": length}
        return TaskData(split("train"), split("val"), split("test"), source_of(self.data_dir()), detail)

    def write_fixture(self, root: Path, seed: int = 0) -> None:
        """The three TSV files at the config's pair counts: synthetic "papers" drawn around topics;
        label 1 pairs share their topic (so a model can learn to match); marked as a fixture."""
        rng = random.Random(seed)
        root.mkdir(parents=True, exist_ok=True)
        for split, count in self.config.counts().items():
            with open(root / FILES[split], "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
                for i in range(count):
                    writer.writerow(fixture_pair(rng, f"{split}{i}"))
        mark_fixture(root, type(self).__name__)


TOPICS = (("parsing", "grammar", "treebank", "syntax"), ("translation", "alignment", "bilingual", "decoder"),
          ("speech", "acoustic", "phoneme", "prosody"), ("sentiment", "opinion", "review", "polarity"))
FILLER = ("we", "propose", "a", "method", "for", "the", "task", "results", "show", "model", "data", "of", "and")


def fixture_pair(rng: random.Random, key: str) -> list[str]:
    """label, id1, id2, text1, text2: label 1 when both documents are about the same topic."""
    label = rng.randint(0, 1)
    topic1 = rng.randrange(len(TOPICS))
    topic2 = topic1 if label else rng.choice([t for t in range(len(TOPICS)) if t != topic1])
    return [f"{float(label)}", f"{key}a", f"{key}b", fixture_document(rng, topic1), fixture_document(rng, topic2)]


def fixture_document(rng: random.Random, topic: int) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(40, 120))]
    for i in rng.sample(range(len(words)), len(words) // 5):
        words[i] = rng.choice(TOPICS[topic])
    return " ".join(words)
