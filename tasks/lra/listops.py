"""LRA ListOps (Tay et al., Long Range Arena, ICLR 2021, arXiv:2011.04006; the DNArch paper, Romero &
Zeghidour, arXiv:2302.05400, Appendix D.1).

Official files: ``basic_{train,val,test}.tsv`` of the LRA release's ``listops-1000`` folder (put them in
the task's data folder, or point ``task.data_dir`` at that folder): tab-separated, header
``Source\\tTarget``, 96,000 / 2,000 / 2,000 rows. Budgets below ``paper`` read the first rows of each
file (the reference wrote them in a hash order, so the first rows are a random subset).

Preprocessing (S4, ``listops_tokenizer``): ``]`` becomes ``X``, parentheses are deleted, the rest is
split on whitespace; then ``common.Vocabulary`` (specials ``<pad>``, ``<unk>``, ``<eos>`` and the 15
symbols: 18 ids, as S4; the DNArch paper counts 17) with ``l_max`` 2048. Ten classes, cross-entropy,
accuracy.

Without the official files the LRA generator (``listops_generator``) writes the same three files into
``<data dir>/generated/`` with a sidecar of their sha256 (checked on every reuse) and its settings;
a generated set with at least the rows a budget needs is reused. Train, val and test are drawn from
the seeds 1, 2 and 3.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import torch

from nasbench.contracts import DataFile, Split, TaskData, TaskShape
from nasbench.data import atomic_write_text, sha256_file, verify_files
from nasbench.errors import ConfigError, CorruptDataError, MissingDataError
from nasbench.tasks.common.classification import ClassificationTask
from nasbench.tasks.common.provenance import folder_lock, mark_fixture, source_of
from nasbench.tasks.common.splits import check_counts
from nasbench.tasks.lra import listops_generator as gen
from nasbench.tasks.lra.common import Vocabulary

SPLITS = ("train", "val", "test")
GENERATED_SEEDS = {"train": 1, "val": 2, "test": 3}
GENERATOR_VERSION = "lra-listops-1"
SIDECAR = "generated.json"
VOCAB_SIZE = 18  # <pad>, <unk>, <eos> + [MIN [MAX [MED [SM X 0..9


@dataclass(frozen=True)
class ListOpsConfig:
    n_train: int = gen.NUM_TRAIN
    n_val: int = gen.NUM_VALID
    n_test: int = gen.NUM_TEST
    max_length: int = 2048  # S4 l_max (LRA's released config: 2000)
    source: Literal["auto", "official", "generated"] = "auto"
    data_dir: str | None = None

    def validate(self) -> None:
        check_counts("listops", n_train=self.n_train, n_val=self.n_val, n_test=self.n_test)
        if self.max_length < 2:
            raise ConfigError(f"listops: max_length must be >= 2, got {self.max_length}")

    def counts(self) -> dict[str, int]:
        return {"train": self.n_train, "val": self.n_val, "test": self.n_test}


# ``small``: an epoch of dnarch's small budget (CCNN_{4,32}, batch 8) over 512 sequences of 2048 tokens
# takes about 5 s on 2 quiet CPU cores (`make bench METHOD=dnarch TASK=listops`: 89 s in all). The
# small budgets read the network at the first position (methods/dnarch/budget.py, FIRST_POSITION_TASKS):
# test accuracy 0.371 (most frequent class 0.184); with the papers' mean pool (`--set pooling=mean`,
# one thread), 0.174, the label prior.
def tokenize(source: str) -> list[str]:
    """S4's ``listops_tokenizer`` (the LRA tokenizer drops non-alphanumerics, hence ] -> X)."""
    return source.translate({ord("]"): ord("X"), ord("("): None, ord(")"): None}).split()


def read_tsv(path: Path, limit: int) -> tuple[list[str], list[int]]:
    """The first ``limit`` (source, target) rows of an LRA ListOps TSV file."""
    sources, targets = [], []
    with open(path, newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(header) != gen.HEADER:
            raise CorruptDataError(path, f"header is {header}, expected {list(gen.HEADER)}", "download the file again")
        for row in reader:
            if len(sources) == limit:
                break
            if len(row) != 2 or not row[1].strip().isdigit():
                raise CorruptDataError(path, f"row {len(sources) + 2} is {row[:2]!r}, expected source<TAB>digit",
                                       "download or generate the file again")
            sources.append(row[0])
            targets.append(int(row[1]))
    if len(sources) < limit:
        raise CorruptDataError(path, f"holds {len(sources)} rows, {limit} are needed",
                               "lower the sample count or place the full file")
    return sources, targets


class ListOps(ClassificationTask):
    name = "listops"
    description = "LRA ListOps: nested list operations as 1D tokens (2,048), 10 classes, 0-1 error"
    smoke_overrides = ("n_train=16", "n_val=4", "n_test=4")
    family = "lra"
    citation = ("Tay et al., Long Range Arena, ICLR 2021; Nangia & Bowman, ListOps, NAACL SRW 2018; "
                "preprocessing of Gu et al., S4, ICLR 2022")
    Config = ListOpsConfig
    budgets = {"smoke": dict(n_train=128, n_val=32, n_test=32), "small": dict(n_train=512, n_val=128, n_test=512),
               "paper": {}}
    paper_sizes, unit, paper_protocol = "96,000/2,000/2,000", "sequences", "LRA, S4; l_max 2048"
    selection = "the first rows:"
    budget_remark = "generated data draws only these"

    @property
    def shape(self) -> TaskShape:
        return TaskShape(dims=1, in_channels=1, input_size=(self.config.max_length,), output="classes",
                         num_outputs=10, vocab_size=VOCAB_SIZE)

    # -- files -----------------------------------------------------------------------------------
    def official_path(self, split: str) -> Path:
        return self.data_dir() / f"{gen.TASK}_{split}.tsv"

    def generated_path(self, split: str) -> Path:
        return self.data_dir() / "generated" / f"{gen.TASK}_{split}.tsv"

    def data_files(self) -> list[DataFile]:
        return [DataFile(self.official_path(s), f"LRA ListOps {s} split (lra_release/listops-1000/basic_{s}.tsv)")
                for s in SPLITS]

    def _official_present(self) -> bool:
        return self.config.source in ("auto", "official") and all(self.official_path(s).exists() for s in SPLITS)

    def can_generate(self) -> bool:
        return True

    def generate(self, log: Callable[[str], None] = print) -> None:
        folder = self.generated_path("train").parent
        with folder_lock(folder, exclusive=True):
            if self._generated_counts() is not None:
                log(f"listops: generated data with enough rows already in {folder}")
                return
            previous = _read_sidecar(folder) or {"counts": {}}
            counts = {s: max(n, previous["counts"].get(s, 0)) for s, n in self.config.counts().items()}
            log(f"listops: generating {counts} sequences with the LRA generator -> {folder}")
            self._write_generated(folder, counts, log)

    def _write_generated(self, folder: Path, counts: dict[str, int], log: Callable[[str], None]) -> None:
        (folder / SIDECAR).unlink(missing_ok=True)  # the files are stale until the new sidecar is written
        written = {split: gen.write_tsv(self.generated_path(split), rows)
                   for split, rows in gen.generate_splits(counts, GENERATED_SEEDS, log=log)}
        info = {"generator": GENERATOR_VERSION, "counts": written, "seeds": GENERATED_SEEDS,
                "settings": vars(gen.ListOpsSettings()),
                "sha256": {s: sha256_file(self.generated_path(s)) for s in written}}
        atomic_write_text(folder / SIDECAR, json.dumps(info, indent=2))

    def _generated_counts(self) -> dict[str, int] | None:
        """The generated set's row counts when it holds enough rows for this config, else None."""
        info = _read_sidecar(self.generated_path("train").parent)
        if info is None or any(info["counts"].get(s, 0) < n for s, n in self.config.counts().items()):
            return None
        return info["counts"]

    def verify(self) -> list[str]:
        if self._official_present():
            return verify_files(self.data_files())
        checked = self._check_generated()
        return [f"ok  {self.generated_path(s)}  sha256={h[:12]}…  (generated)" for s, h in checked.items()]

    def _check_generated(self) -> dict[str, str]:
        if self._generated_counts() is None:
            raise MissingDataError(self.generated_path("train"), "generated ListOps TSV files with enough rows",
                                   "run `nasbench data listops --generate` (or place the official files)")
        info = _read_sidecar(self.generated_path("train").parent)
        for split in SPLITS:
            if sha256_file(self.generated_path(split)) != info["sha256"][split]:
                raise CorruptDataError(self.generated_path(split), "sha256 differs from the one recorded at generation",
                                       "delete the generated folder and run `nasbench data listops --generate`")
        return info["sha256"]

    def write_fixture(self, root: Path, seed: int = 0) -> None:
        """The official three files at the config's row counts, drawn by the generator from ``seed``;
        marked as a fixture."""
        seeds = {s: seed * 10 + GENERATED_SEEDS[s] for s in SPLITS}
        for split, rows in gen.generate_splits(self.config.counts(), seeds, log=lambda _: None):
            gen.write_tsv(root / f"{gen.TASK}_{split}.tsv", rows)
        mark_fixture(root, type(self).__name__)

    # -- loading ---------------------------------------------------------------------------------
    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        source, detail, paths = self._locate(allow_generate, log)
        counts = self.config.counts()
        if source == "generated":
            with folder_lock(self.generated_path("train").parent, exclusive=False):
                detail["sha256"] = self._check_generated()
                raw = {s: read_tsv(paths[s], counts[s]) for s in SPLITS}
        else:
            raw = {s: read_tsv(paths[s], counts[s]) for s in SPLITS}
        vocab = Vocabulary.build((tokenize(text) for text in raw["train"][0]), capacity=VOCAB_SIZE)
        splits = [Split(s, vocab.encode(map(tokenize, raw[s][0]), counts[s], self.config.max_length),
                        torch.tensor(raw[s][1])) for s in SPLITS]
        detail.update(vocabulary=vocab.detail(), max_length=self.config.max_length)
        return TaskData(*splits, source, detail)

    def _locate(self, allow_generate: bool, log) -> tuple[str, dict, dict[str, Path]]:
        if self._official_present():
            paths = {s: self.official_path(s) for s in SPLITS}
            return source_of(self.data_dir()), {"files": [str(p) for p in paths.values()]}, paths
        if self.config.source == "official":
            raise MissingDataError(self.official_path("train"), "LRA ListOps basic_{train,val,test}.tsv",
                                   f"copy lra_release/listops-1000/basic_*.tsv into {self.data_dir()}, or use "
                                   f"--set task.source=generated")
        if self._generated_counts() is None:
            if not allow_generate:
                raise MissingDataError(self.generated_path("train"), "generated ListOps TSV files",
                                       "run `nasbench data listops --generate`")
            self.generate(log)
        paths = {s: self.generated_path(s) for s in SPLITS}
        return "generated", {"files": [str(p) for p in paths.values()], "generator": GENERATOR_VERSION}, paths


def _read_sidecar(folder: Path) -> dict | None:
    try:
        return json.loads((folder / SIDECAR).read_text())
    except (OSError, ValueError):
        return None
