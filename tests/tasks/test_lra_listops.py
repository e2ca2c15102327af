"""The ListOps generator against LRA's constants and hand-worked expressions, and the ListOps loader
on generated data and on fixtures in the official TSV format."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.lra import listops_generator as gen
from nasbench.tasks.lra.common import EOS, PAD, Vocabulary
from nasbench.tasks.lra.listops import ListOps, ListOpsConfig, read_tsv, tokenize

SMALL = dict(n_train=24, n_val=6, n_test=6)


def draw(counts, seeds, settings=gen.ListOpsSettings()):
    return {split: list(rows) for split, rows in gen.generate_splits(counts, seeds, settings, log=lambda _: None)}


def test_generator_constants_are_lras():
    # lra_benchmarks/data/listops.py: operators (FIRST/LAST disabled), VALUE_P and the flag defaults
    assert gen.OPERATORS == ("[MIN", "[MAX", "[MED", "[SM") and gen.END == "]"
    assert gen.VALUES == tuple(range(10)) and gen.VALUE_P == 0.25
    assert (gen.MAX_DEPTH, gen.MAX_ARGS, gen.MIN_LENGTH, gen.MAX_LENGTH) == (10, 10, 500, 2000)
    assert (gen.NUM_TRAIN, gen.NUM_VALID, gen.NUM_TEST, gen.TASK) == (96000, 2000, 2000, "basic")
    assert gen.HEADER == ("Source", "Target")


# Hand-worked: [MAX 2 9 [MIN 4 7] 0] = 9 (the DNArch paper's example); MED of four values is the
# mean of the middle two, truncated; SM is the sum modulo 10.
HAND_WORKED = [
    (("[MAX", (2, 9)), "( ( ( [MAX 2 ) 9 ) ] )", 9),
    (("[MAX", (2, 9, ("[MIN", (4, 7)), 0)), "( ( ( ( ( [MAX 2 ) 9 ) ( ( ( [MIN 4 ) 7 ) ] ) ) 0 ) ] )", 9),
    (("[MIN", (8, 3, 5)), "( ( ( ( [MIN 8 ) 3 ) 5 ) ] )", 3),
    (("[MED", (4, 1, 3, 2)), "( ( ( ( ( [MED 4 ) 1 ) 3 ) 2 ) ] )", 2),  # median 2.5 -> 2
    (("[MED", (9, 1, 5)), "( ( ( ( [MED 9 ) 1 ) 5 ) ] )", 5),
    (("[SM", (7, 8, 9)), "( ( ( ( [SM 7 ) 8 ) 9 ) ] )", 4),  # 24 mod 10
    (("[SM", (("[MED", (5, 6)), ("[MAX", (1, 2)))),
     "( ( ( [SM ( ( ( [MED 5 ) 6 ) ] ) ) ( ( ( [MAX 1 ) 2 ) ] ) ) ] )", 7),
]


@pytest.mark.parametrize("tree, text, value", HAND_WORKED)
def test_string_form_and_value_by_hand(tree, text, value):
    assert gen.to_string(tree) == text
    assert gen.to_value(tree) == value


def test_tokenizer_is_s4s():
    assert tokenize("( ( ( [MAX 2 ) 9 ) ] )") == ["[MAX", "2", "9", "X"]


def evaluate_tokens(tokens: list[str]) -> int:
    """An independent evaluator of the tokenised prefix form (operators open, X closes)."""
    stack: list = []
    for token in tokens:
        if token.startswith("["):
            stack.append([token])
        elif token == "X":
            op, *args = stack.pop()
            value = {"[MIN": min, "[MAX": max, "[SM": lambda a: sum(a) % 10,
                     "[MED": lambda a: int((sorted(a)[(len(a) - 1) // 2] + sorted(a)[len(a) // 2]) / 2)}[op](args)
            if not stack:
                return value
            stack[-1].append(value)
        else:
            stack[-1].append(int(token))
    raise AssertionError("unbalanced expression")


def test_generated_rows_agree_with_an_independent_evaluator_and_the_length_bounds():
    rows = draw({"train": 30}, {"train": 5})["train"]
    for source, target in rows:
        tokens = tokenize(source)
        assert gen.MIN_LENGTH < len(tokens) < gen.MAX_LENGTH  # the generator's length counts these tokens
        assert evaluate_tokens(tokens) == target
    assert len({s for s, _ in rows}) == 30


class ScriptedRandom:
    """Stands in for ``random.Random``: returns scripted values and records the calls."""

    def __init__(self, script):
        self.script, self.calls = list(script), []

    def _next(self, name, *args):
        self.calls.append((name, args))
        return self.script.pop(0)

    def random(self):
        return self._next("random")

    def choice(self, seq):
        return seq[self._next("choice", tuple(seq))]

    def randint(self, a, b):
        return self._next("randint", a, b)


def test_draws_come_in_the_reference_order():
    # root: random() <= 0.25 -> operator; arity randint(2, 10); two leaves (random() > 0.25, digit);
    # the operator is drawn after the children; at max_depth no random() is drawn.
    rng = ScriptedRandom([0.1, 2, 0.9, 3, 0.9, 7, 1])
    tree, length = gen.generate_tree(rng, 1, 10, 10)
    assert tree == ("[MAX", (3, 7)) and length == 4
    assert [c[0] for c in rng.calls] == ["random", "randint", "random", "choice", "random", "choice", "choice"]
    assert rng.calls[1] == ("randint", (2, 10)) and rng.calls[-1] == ("choice", (gen.OPERATORS,))
    leaf = ScriptedRandom([4])
    assert gen.generate_tree(leaf, 10, 10, 10) == (4, 1) and leaf.calls == [("choice", (gen.VALUES,))]


def test_duplicates_are_skipped_within_and_across_splits():
    tiny = gen.ListOpsSettings(max_depth=2, max_args=2, min_length=3, max_length=5)  # only [OP d d]: 400 trees
    rows = draw({"train": 150, "val": 100}, {"train": 1, "val": 2}, tiny)
    sources = [s for split in rows.values() for s, _ in split]
    assert len(sources) == len(set(sources)) == 250


def test_a_larger_request_starts_with_the_smaller_one():
    small = draw({"train": 5}, {"train": 9})["train"]
    large = draw({"train": 8}, {"train": 9})["train"]
    assert large[:5] == small


def test_tsv_is_written_as_the_reference_csv_writer_does(tmp_path):
    assert gen.write_tsv(tmp_path / "basic_val.tsv", iter([("( ( ( [MAX 2 ) 9 ) ] )", 9)])) == 1
    assert (tmp_path / "basic_val.tsv").read_bytes() == b"Source\tTarget\r\n( ( ( [MAX 2 ) 9 ) ] )\t9\r\n"


def test_vocabulary_follows_s4_order_and_encoding():
    vocab = Vocabulary.build([["b", "a", "b", "c"], ["c", "b", "d"]], capacity=6, min_freq=1)
    assert vocab.tokens == ("<pad>", "<unk>", "<eos>", "b", "c", "a") and vocab.dropped == 1  # ties: a < d
    ids = vocab.encode(iter([["a", "b", "zz"], ["c"] * 9]), count=2, length=5)
    assert ids.tolist() == [[5, 3, 1, EOS, PAD], [4, 4, 4, 4, EOS]]  # unknown -> <unk>; truncated to L - 1
    assert torch.equal(vocab.encode_chars(["ab?", "cccccc"], 5), vocab.encode([list("ab?"), list("cccccc")], 2, 5))


def test_generated_data_loads_with_checksums_and_is_reused(tmp_path):
    config = ListOpsConfig(**SMALL, data_dir=str(tmp_path))
    data = ListOps(config).load(log=lambda _: None)
    assert data.data_source == "generated" and [len(s) for s in (data.train, data.val, data.test)] == [24, 6, 6]
    assert data.train.inputs.shape == (24, 2048) and data.detail["vocabulary"]["size"] == 18
    sources, targets = read_tsv(tmp_path / "generated" / "basic_train.tsv", 24)
    assert data.train.targets.tolist() == targets
    tokens = data.detail["vocabulary"]["tokens"]
    first = [tokens[i] for i in data.train.inputs[0].tolist() if i != PAD]
    assert first == tokenize(sources[0]) + ["<eos>"]
    smaller = ListOps(dataclasses.replace(config, n_train=10)).load(allow_generate=False)
    assert smaller.train.targets.tolist() == targets[:10]  # the prefix of the same file, no regeneration
    assert torch.equal(smaller.test.targets, data.test.targets)
    sidecar = json.loads((tmp_path / "generated" / "generated.json").read_text())
    assert sidecar["counts"] == {"train": 24, "val": 6, "test": 6} and sidecar["settings"]["min_length"] == 500
    path = tmp_path / "generated" / "basic_val.tsv"
    path.write_text(path.read_text().replace("\t", "\t1", 1))
    with pytest.raises(CorruptDataError) as info:
        ListOps(config).load(allow_generate=False)
    assert "sha256" in str(info.value) and "nasbench data listops --generate" in str(info.value)


def test_official_fixture_is_read_with_either_line_ending(tmp_path):
    task = ListOps(ListOpsConfig(**SMALL, data_dir=str(tmp_path), source="official"))
    task.write_fixture(tmp_path, seed=3)
    path = tmp_path / "basic_train.tsv"
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
    data = task.load(allow_generate=False)
    assert data.data_source == "fixture" and [len(s) for s in (data.train, data.val, data.test)] == [24, 6, 6]
    assert set(data.train.targets.tolist()) <= set(range(10))


def test_missing_official_files_name_path_and_fix(tmp_path):
    with pytest.raises(MissingDataError) as info:
        ListOps(ListOpsConfig(**SMALL, data_dir=str(tmp_path), source="official")).load()
    assert str(tmp_path / "basic_train.tsv") in str(info.value) and "task.source=generated" in str(info.value)


def test_too_short_file_is_reported(tmp_path):
    task = ListOps(ListOpsConfig(**SMALL, data_dir=str(tmp_path), source="official"))
    task.write_fixture(tmp_path)
    with pytest.raises(CorruptDataError) as info:
        ListOps(ListOpsConfig(n_train=100, n_val=6, n_test=6, data_dir=str(tmp_path))).load(allow_generate=False)
    assert "24 rows, 100 are needed" in str(info.value)
