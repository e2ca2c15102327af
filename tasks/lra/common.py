"""The S4 text preprocessing shared by the token tasks of LRA (ListOps, Text, Retrieval).

state-spaces/s4 ``src/dataloaders/lra.py``: tokens are truncated to ``l_max - 1``, an ``<eos>`` token is
appended (``append_eos=True``, no ``<bos>``), and ids come from a vocabulary built on the training
split: the specials ``<pad>``, ``<unk>``, ``<eos>`` first, then the tokens seen at least ``min_freq``
times, by descending frequency and, on ties, in lexicographic order (torchtext's
``build_vocab_from_iterator``); unknown tokens map to ``<unk>``. Sequences are padded with ``<pad>``
to ``l_max`` (the DNArch paper pads every sequence to the fixed maximum length, Appendix D.1).

Departure [A]: the vocabulary has a fixed capacity (the task's declared ``vocab_size``), so the network
can be built before the data is read; tokens beyond it (never the case on the official data, whose
vocabularies are smaller) map to ``<unk>`` and the count is recorded in the run's data detail.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

SPECIALS = ("<pad>", "<unk>", "<eos>")
PAD, UNK, EOS = 0, 1, 2


@dataclass(frozen=True)
class Vocabulary:
    tokens: tuple[str, ...]  # id -> token, specials first
    dropped: int = 0  # distinct tokens over min_freq left out by the capacity

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]], capacity: int, min_freq: int = 1) -> "Vocabulary":
        counts: Counter = Counter()
        for doc in documents:
            counts.update(doc)
        kept = sorted((t for t, c in counts.items() if c >= min_freq and t not in SPECIALS),
                      key=lambda t: (-counts[t], t))
        room = capacity - len(SPECIALS)
        return cls(SPECIALS + tuple(kept[:room]), max(len(kept) - room, 0))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def encode(self, documents: Iterable[Sequence[str]], count: int, length: int) -> torch.Tensor:
        """(count, length) int64 ids of ``count`` documents (an iterable, so token lists need not all
        sit in memory): each truncated to length - 1 tokens, then <eos>, then <pad>."""
        index, out = self.index, np.full((count, length), PAD, dtype=np.int64)
        for row, doc in zip(range(count), documents):
            ids = [index.get(t, UNK) for t in doc[: length - 1]] + [EOS]
            out[row, : len(ids)] = ids
        return torch.from_numpy(out)

    def encode_chars(self, texts: Sequence[str], length: int) -> torch.Tensor:
        """``encode`` for character-level documents, vectorised through a code-point lookup table."""
        table = np.full(0x110000, UNK, dtype=np.int64)
        for i, token in enumerate(self.tokens):
            if len(token) == 1:
                table[ord(token)] = i
        out = np.full((len(texts), length), PAD, dtype=np.int64)
        for row, text in enumerate(texts):
            points = np.frombuffer(text[: length - 1].encode("utf-32-le"), dtype=np.uint32)
            out[row, : len(points)] = table[points]
            out[row, len(points)] = EOS
        return torch.from_numpy(out)

    def detail(self) -> dict:
        return {"size": len(self), "capacity_overflow": self.dropped, "tokens": list(self.tokens)}
