"""Progress of long data work (generation, projection, downloads) through ``tqdm`` on stderr.

Bars are shown only when stderr is a terminal: runs inside a study, Ray workers, logs and tests stay
quiet, and the text lines the tasks log (``log=``) remain the record of what was done.
"""
from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it") -> Iterator[T]:
    """``items``, counted on a stderr progress bar (silent when stderr is not a terminal)."""
    return iter(tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr, disable=not sys.stderr.isatty(),
                     leave=False, dynamic_ncols=True))


def byte_bar(total: int | None, desc: str, initial: int = 0) -> tqdm:
    """A byte counter for a download (``update(n)`` per block received)."""
    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)
