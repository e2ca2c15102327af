"""Run folders: ``<root>/<task>/<method>/seed=<k>/``, written whole or not at all, by one writer.

All files of a run are written into a hidden temporary folder beside the final one, then renamed
into place. A failed attempt never replaces a finished (ok) run: it is kept under
``<task>/<method>/.failed/`` instead, where the aggregator's glob does not look.

One writer per run: ``RunStore.lock`` is an advisory ``flock`` on ``<root>/.locks/<task>.<method>.
seed=<k>.lock``, held by whoever computes the run from its first check of the folder to the rename.
The kernel releases it when that process ends, however it ends (a SIGKILL included), so a stale
lock cannot block a resumed study. Temporary folders are removed only under their run's lock.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

from nasbench import schema
from nasbench.errors import ResultsFolderError

LOCKS = ".locks"  # below the results folder: one lock file per run
CORRUPT = "corrupt"  # the status the reader gives a run folder whose manifest cannot be read


class RunStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def run_dir(self, task: str, method: str, seed: int) -> Path:
        return self.root / task / method / f"seed={seed}"

    def read(self, task: str, method: str, seed: int) -> dict[str, Any] | None:
        return read_manifest(self.run_dir(task, method, seed))

    def manifests(self, include_corrupt: bool = False) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Every run folder's manifest; with ``include_corrupt`` an unreadable one becomes a stub
        with status ``corrupt`` and the reason, so a report names it instead of calling it missing."""
        for path in sorted(self.root.glob(schema.RUN_GLOB)):
            manifest = read_manifest(path.parent)
            if manifest is not None:
                yield path.parent, manifest
            elif include_corrupt:
                yield path.parent, corrupt_stub(path.parent)

    def lock(self, task: str, method: str, seed: int) -> "RunLock":
        return RunLock(self.root / LOCKS / f"{task}.{method}.seed={seed}.lock")

    def ensure_writable(self) -> None:
        """Raise ResultsFolderError unless the results folder exists (or can be made) and takes a file;
        called before any work, so that no computed run is thrown away at the end."""
        check_writable(self.root)

    def write(self, task: str, method: str, seed: int, files: dict[str, bytes | str]) -> Path:
        """Write a run's files atomically and return the folder they ended in."""
        final = self.run_dir(task, method, seed)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            for name, content in files.items():
                _write_synced(tmp / name, content.encode() if isinstance(content, str) else content)
            new_status = json.loads(files[schema.MANIFEST])[schema.STATUS]
            old = read_manifest(final)
            if old is not None and old.get(schema.STATUS) == schema.STATUS_OK and new_status != schema.STATUS_OK:
                kept = final.parent / ".failed" / f"{final.name}-{tmp.name[-8:]}"
                kept.parent.mkdir(exist_ok=True)
                os.replace(tmp, kept)
                return kept
            _swap_into_place(tmp, final)
            return final
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def clean_partial(self) -> int:
        """Remove temporary folders left by killed processes; return how many. A folder whose run is
        locked belongs to a live writer (another study into the same folder) and is left alone."""
        removed = 0
        for path in list(self.root.glob("*/*/.tmp-*")) + list(self.root.glob("*/*/.old-*")):
            seed_folder = path.name[5:].rsplit("-", 1)[0]  # ".tmp-seed=0-1a2b3c4d" -> "seed=0"
            lock = RunLock(self.root / LOCKS / f"{path.parent.parent.name}.{path.parent.name}.{seed_folder}.lock")
            if not lock.acquire(blocking=False):
                continue
            try:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
            finally:
                lock.release()
        return removed


class RunLock:
    """An exclusive advisory lock on one run; the file says who holds it (host and pid)."""

    def __init__(self, path: Path):
        self.path = path
        self._handle = None

    def acquire(self, blocking: bool = True) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+")
        except OSError as exc:
            raise ResultsFolderError(f"cannot create the run lock {self.path}: {exc.strerror}; choose a results "
                                     f"folder you can write (--results DIR) or fix its permissions") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._handle = handle
        return True

    def holder(self) -> str:
        """Who holds the lock, as its holder wrote it ("pid 123 on host"), or "another process"."""
        try:
            return self.path.read_text().strip() or "another process"
        except OSError:
            return "another process"

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def check_writable(root: Path) -> None:
    """Raise ResultsFolderError unless ``root`` is (or can become) a folder this process can write."""
    if root.exists() and not root.is_dir():
        raise ResultsFolderError(f"results folder {root} is a file, not a folder; give a folder with --results DIR "
                                 f"(it is created if absent), or move the file away")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise ResultsFolderError(f"results folder {root} cannot be written ({exc.strerror or exc}); choose a folder "
                                 f"you can write with --results DIR, or fix its permissions") from exc


def corrupt_stub(run_dir: Path) -> dict[str, Any]:
    """A stand-in manifest for a run folder whose manifest.json is unreadable (truncated, not JSON)."""
    task, method = run_dir.parent.parent.name, run_dir.parent.name
    seed_text = run_dir.name.partition("=")[2]
    try:
        json.loads((run_dir / schema.MANIFEST).read_text())
        reason = "not a JSON object"
    except OSError as exc:
        reason = f"unreadable ({exc.strerror})"
    except ValueError as exc:
        reason = f"not valid JSON ({exc})"
    return {schema.TASK: task, schema.METHOD: method, schema.SEED: int(seed_text) if seed_text.isdigit() else seed_text,
            schema.STATUS: CORRUPT,
            schema.ERROR: f"corrupt manifest: {run_dir / schema.MANIFEST} is {reason}; delete {run_dir} and run "
                          f"the run (or study) again to recompute it"}


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The manifest of a run folder, or None when it is absent or unreadable (see ``corrupt_stub``)."""
    try:
        manifest = json.loads((run_dir / schema.MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _swap_into_place(tmp: Path, final: Path) -> None:
    if not final.exists():
        os.replace(tmp, final)
        return
    old = final.parent / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
    os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
