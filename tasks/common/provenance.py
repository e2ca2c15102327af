"""What a task's data folder says about itself: the fixture marker (the ``fixture`` data source of
the run record) and the lock held while data is generated or read there.

A folder written by a task's ``write_fixture`` carries the file ``FIXTURE``; every loader labels data
read from such a folder ``fixture`` (synthetic, tests only), never ``official``.
"""
from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import Iterator

FIXTURE_MARKER = "FIXTURE"
FIXTURE_NOTE = "synthetic fixture written by {task}.write_fixture; not benchmark data\n"


def mark_fixture(root: Path, task_name: str) -> None:
    """Mark ``root`` as holding a fixture written by ``task_name`` (a class name)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / FIXTURE_MARKER).write_text(FIXTURE_NOTE.format(task=task_name))


def is_fixture(folder: Path) -> bool:
    return (folder / FIXTURE_MARKER).exists()


def source_of(folder: Path, default: str = "official") -> str:
    """``fixture`` when ``folder`` carries the fixture marker, else ``default``."""
    return "fixture" if is_fixture(folder) else default


@contextlib.contextmanager
def folder_lock(folder: Path, exclusive: bool) -> Iterator[None]:
    """A lock on ``folder/.lock``: exclusive while data is generated there (concurrent runs, such as
    Ray trials, generate once), shared while it is checked and read (never half-extended data)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
