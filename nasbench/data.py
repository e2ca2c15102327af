"""Where task data lives, how files are checked, and how they are written safely."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from nasbench.errors import CorruptDataError, MissingDataError

if TYPE_CHECKING:
    from nasbench.contracts import DataFile, Task

DATA_ENV = "NASBENCH_DATA"


def data_root() -> Path:
    """``$NASBENCH_DATA`` if set, else the user's cache folder (``$XDG_CACHE_HOME/nasbench``)."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "nasbench"


def task_data_dir(task: "Task") -> Path:
    """A task's folder: its config's ``data_dir`` when set, else ``<data root>/<family>/<name>``."""
    configured = getattr(task.config, "data_dir", None)
    if configured:
        return Path(configured).expanduser()
    return data_root() / task.family / task.name


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_files(files: Iterable["DataFile"], fix: str = "") -> list[str]:
    """Check presence, size and checksum of each file; raise on the first failure."""
    lines = []
    for f in files:
        if not f.path.exists():
            raise MissingDataError(f.path, f.description, fix or "see `nasbench data <task> --path`")
        if f.size is not None and f.path.stat().st_size != f.size:
            raise CorruptDataError(
                f.path, f"size is {f.path.stat().st_size} bytes, expected {f.size}", fix or "download it again"
            )
        if f.sha256 is not None:
            actual = sha256_file(f.path)
            if actual != f.sha256:
                raise CorruptDataError(f.path, f"sha256 is {actual}, expected {f.sha256}", fix or "download it again")
        lines.append(f"ok  {f.path}" + (f"  sha256={f.sha256[:12]}…" if f.sha256 else "  (no checksum known)"))
    return lines


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


FIXTURE_MARKER = "FIXTURE"  # a task's data folder holding a test fixture in place of the official files


def data_status(task: "Task") -> tuple[str, str]:
    """(status, what to do) of a task's data, without reading it: ``official``, ``fixture only``,
    ``generated on demand``, ``needs download`` or ``needs files``; for ``nasbench check`` and ``list``."""
    files = task.data_files()
    if files and all(f.path.exists() for f in files):
        if (task.data_dir() / FIXTURE_MARKER).exists():
            return "fixture only", f"a test fixture is in {task.data_dir()}: runs are labelled fixture, not results"
        return "official", f"present in {task.data_dir()}"
    if task.can_generate():
        return "generated on demand", f"the first run generates it, or `nasbench data {task.name} --generate`"
    if callable(getattr(task, "download", None)):
        return "needs download", f"`nasbench data {task.name} --download`"
    if not files:
        return "fixture only", "no official files and no generator: tests write a fixture"
    return "needs files", f"place the files `nasbench data {task.name} --path` lists"


def read_sidecar(path: Path, required: Iterable[str], data_file: Path, fix: str) -> dict | None:
    """A generated file's JSON sidecar: None when it does not exist, CorruptDataError when it exists
    but is empty, not a JSON object, or lacks a ``required`` key, so that a broken sidecar is reported
    and never taken as "not generated yet" (which would regenerate over ``data_file``)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptDataError(data_file, f"its sidecar {path} cannot be read ({exc.strerror})", fix) from exc
    try:
        info = json.loads(text)
    except ValueError:
        what = "empty" if not text.strip() else "not JSON"
        raise CorruptDataError(data_file, f"its sidecar {path} is {what}", fix) from None
    missing = [key for key in required if not isinstance(info, dict) or key not in info]
    if missing:
        raise CorruptDataError(data_file, f"its sidecar {path} lacks the key(s) {', '.join(missing)}", fix)
    return info
