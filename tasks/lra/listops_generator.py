"""The ListOps generator of Long Range Arena, re-implemented from its description (Tay et al., Long Range
Arena, ICLR 2021, arXiv:2011.04006; Nangia & Bowman, ListOps, NAACL SRW 2018, arXiv:1804.06028;
google-research/long-range-arena ``lra_benchmarks/data/listops.py``, Apache-2.0; its constants are facts,
the code here is the suite's own).

A tree is a digit (a leaf) or an operator applied to 2..``max_args`` sub-trees. Below ``max_depth`` a
node is a leaf with probability 1 - VALUE_P and an operator with probability VALUE_P; at ``max_depth``
it is always a leaf. The length of a tree counts its tokens without parentheses: 1 per digit, and per
operator node the operator and its closing ``]``. A tree is kept when
``min_length < length < max_length`` (strict) and it was not drawn before.

Draws follow the reference's order on Python's ``random`` (``random()`` for the node type,
``choice(VALUES)`` for a digit, ``randint(2, max_args)`` for the arity, the children, then
``choice(OPERATORS)``).

Departure [A] (the same distribution, a reproducible process): the reference draws all 100,000
trees into one set and cuts the set's (hash-ordered, unseeded) iteration order into train, val and
test; here each split has its own seeded stream, kept in drawing order, so a file of N samples
starts with the samples of any smaller file of the same split. A tree drawn again - within a split or
already in an earlier split (train, then val, then test) - is skipped, as the reference's set does.
"""
from __future__ import annotations

import csv
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Union

from nasbench.tasks.common.progress import progress

MIN, MAX, MED, SUM_MOD = "[MIN", "[MAX", "[MED", "[SM"
FIRST, LAST = "[FIRST", "[LAST"  # defined by the reference, not used (commented out of OPERATORS)
END = "]"
OPERATORS = (MIN, MAX, MED, SUM_MOD)
VALUES = tuple(range(10))
VALUE_P = 0.25  # probability that a node above max_depth is an operator

# Reference flag defaults (lra_benchmarks/data/listops.py).
TASK = "basic"
MAX_DEPTH = 10
MAX_ARGS = 10
MIN_LENGTH = 500
MAX_LENGTH = 2000
NUM_TRAIN, NUM_VALID, NUM_TEST = 96000, 2000, 2000
HEADER = ("Source", "Target")

Tree = Union[int, tuple]  # a digit, or (operator, (child, ...))


@dataclass(frozen=True)
class ListOpsSettings:
    max_depth: int = MAX_DEPTH
    max_args: int = MAX_ARGS
    min_length: int = MIN_LENGTH
    max_length: int = MAX_LENGTH


def generate_tree(rng: random.Random, depth: int, max_depth: int, max_args: int) -> tuple[Tree, int]:
    """(tree, length) drawn from ``depth`` down; the root is drawn with depth 1."""
    r = rng.random() if depth < max_depth else 1.0
    if r > VALUE_P:
        return rng.choice(VALUES), 1
    length, children = 2, []
    for _ in range(rng.randint(2, max_args)):
        child, child_length = generate_tree(rng, depth + 1, max_depth, max_args)
        children.append(child)
        length += child_length
    return (rng.choice(OPERATORS), tuple(children)), length


def to_string(tree: Tree) -> str:
    """The reference's bracketed form: an operator node with children c0..cn-1 is the left-nested
    chain ((..((op c0) c1)..) cn-1) ]), every pair in its own parentheses, e.g.
    ``( ( ( [MAX 2 ) 9 ) ] )`` for [MAX 2 9]."""
    if isinstance(tree, int):
        return str(tree)
    op, children = tree
    text = "( " * (len(children) + 1) + f"{op} {to_string(children[0])} )"
    for child in children[1:]:
        text += f" {to_string(child)} )"
    return text + f" {END} )"


def to_value(tree: Tree) -> int:
    """MIN, MAX; MED = int(median) (the mean of the two middle values, truncated); SM = sum mod 10."""
    if isinstance(tree, int):
        return tree
    op, children = tree
    values = [to_value(c) for c in children]
    if op == MIN:
        return min(values)
    if op == MAX:
        return max(values)
    if op == SUM_MOD:
        return sum(values) % 10
    ordered, n = sorted(values), len(values)
    return int((ordered[(n - 1) // 2] + ordered[n // 2]) / 2)  # np.median, then int()


def accepted_rows(rng: random.Random, settings: ListOpsSettings, seen: set) -> Iterator[tuple[str, int]]:
    """(source, target) of the trees whose length is strictly between the bounds and that were not
    drawn before; ``seen`` holds 128-bit digests of the sources (the trees themselves would take
    gigabytes at full size) and is updated."""
    while True:
        tree, length = generate_tree(rng, 1, settings.max_depth, settings.max_args)
        if not settings.min_length < length < settings.max_length:
            continue
        source = to_string(tree)
        digest = hashlib.blake2b(source.encode(), digest_size=16).digest()
        if digest not in seen:
            seen.add(digest)
            yield source, to_value(tree)


def generate_splits(counts: dict[str, int], seeds: dict[str, int], settings: ListOpsSettings = ListOpsSettings(),
                    log: Callable[[str], None] = print) -> Iterator[tuple[str, Iterator[tuple[str, int]]]]:
    """(split, rows) for each split of ``counts`` in order, the ``counts[split]`` (source, target) rows
    drawn lazily (a full-size set never sits in memory); consume each split's rows before the next."""
    seen: set = set()
    for split, count in counts.items():
        yield split, _counted(accepted_rows(random.Random(seeds[split]), settings, seen), count, split, log)


def _counted(rows: Iterator[tuple[str, int]], count: int, split: str, log: Callable[[str], None]):
    for i in progress(range(count), count, f"listops {split}"):
        yield next(rows)
        if (i + 1) % 10000 == 0:
            log(f"listops: {split} {i + 1}/{count}")


def write_tsv(path: Path, rows: Iterable[tuple[str, int]]) -> int:
    """The reference's file: csv.writer with a tab delimiter (so CRLF line ends), header Source/Target;
    returns the number of rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(HEADER)
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
    return count
