"""Where task data lives, how files are checked, and how they are written safely."""
from __future__ import annotations

import hashlib
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
