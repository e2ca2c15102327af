"""Official files: what is known of each, fetching them over HTTP(S) resumably, and checking them.

A download writes ``<name>.part`` beside the destination. When a ``.part`` exists, the request
asks for the remaining bytes (``Range: bytes=<size>-``); a server that answers 206 is appended to,
one that answers 200 sends the whole file again and the ``.part`` is restarted. The finished file
is checked (size, md5, sha256, whichever are known) before it is renamed into place, so a file at
the destination is always complete. Progress goes to stderr through ``tqdm`` (silent when stderr
is not a terminal).
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from nasbench.contracts import DataFile
from nasbench.errors import CorruptDataError, DataError, MissingDataError
from nasbench.tasks.common.progress import byte_bar
from nasbench.tasks.common.provenance import source_of

CHUNK = 1 << 20


@dataclass(frozen=True)
class OfficialFile:
    """A file as its benchmark distributes it, with what is known to check it by."""

    name: str
    url: str
    description: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None

    def data_file(self, folder: Path) -> DataFile:
        return DataFile(folder / self.name, self.description, sha256=self.sha256, size=self.size)


# -- the missing-file error ----------------------------------------------------------------------
def download_fix(task: str, files: Sequence[OfficialFile], folder: Path) -> str:
    urls = ", ".join(f.url for f in files)
    return (f"run `nasbench data {task} --download` (fetches {urls} into {folder}), or place the file(s) there "
            f"yourself. `nasbench data {task} --path` lists what is looked for; $NASBENCH_DATA moves the data root, "
            f"`--set data_dir=DIR` (`--set task.data_dir=DIR` with `nasbench run`) moves this task's folder")


def missing(task: str, path: Path, files: Sequence[OfficialFile], expected: str | None = None) -> MissingDataError:
    described = expected or "; ".join(f"{f.name}: {f.description}" for f in files)
    return MissingDataError(path, described, download_fix(task, files, path.parent if path.suffix else path))


def require(task: str, folder: Path, files: Sequence[OfficialFile]) -> list[Path]:
    """The paths of ``files`` in ``folder``; MissingDataError naming the first absent one."""
    for f in files:
        if not (folder / f.name).exists():
            raise missing(task, folder / f.name, files)
    return [folder / f.name for f in files]


# -- checks --------------------------------------------------------------------------------------
def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def check_file(path: Path, spec: OfficialFile, task: str = "TASK") -> None:
    """Raise CorruptDataError when a known size or checksum differs."""
    fix = f"delete {path} and download it again (`nasbench data {task} --download`)"
    if spec.size is not None and path.stat().st_size != spec.size:
        raise CorruptDataError(path, f"size is {path.stat().st_size} bytes, expected {spec.size}", fix)
    for algorithm, expected in (("md5", spec.md5), ("sha256", spec.sha256)):
        if expected is not None and (actual := file_digest(path, algorithm)) != expected:
            raise CorruptDataError(path, f"{algorithm} is {actual}, expected {expected}", fix)


def verify_official(task: str, folder: Path, files: Sequence[OfficialFile]) -> list[str]:
    """One line per file: present and matching every known size/checksum; raises otherwise.
    A fixture folder (synthetic files in the official format) is checked for presence only."""
    paths = require(task, folder, files)
    if source_of(folder) == "fixture":
        return [f"fixture  {p}  (synthetic test data; official checksums do not apply)" for p in paths]
    lines = []
    for path, spec in zip(paths, files):
        check_file(path, spec, task)
        known = [k for k in ("size", "md5", "sha256") if getattr(spec, k) is not None]
        lines.append(f"ok  {path}  ({'checked: ' + ', '.join(known) if known else 'no checksum published'})")
    return lines


# -- download ------------------------------------------------------------------------------------
def download(spec: OfficialFile, folder: Path, log: Callable[[str], None] = print, timeout: float = 60.0,
             task: str = "TASK") -> Path:
    """Fetch ``spec.url`` to ``folder/spec.name`` (resuming a ``.part``); return the path."""
    dest = folder / spec.name
    if dest.exists():
        check_file(dest, spec, task)
        log(f"present: {dest}")
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    _fetch_remaining(spec.url, part, log, timeout)
    try:
        check_file(part, spec, task)
    except CorruptDataError:
        part.unlink()  # a corrupt partial file must not be resumed
        raise
    os.replace(part, dest)
    log(f"downloaded: {dest}")
    return dest


def _fetch_remaining(url: str, part: Path, log: Callable[[str], None], timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the .part is complete
            return
        raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(f"download of {url} failed ({exc}); the network may be unreachable. "
                        f"Fetch the file by other means into {part.parent} (as {part.name[:-5]})") from exc
    with response:
        resumed = have and response.status == 206
        log(f"{'resuming at byte ' + str(have) if resumed else 'fetching'}: {url}")
        _copy_with_progress(response, part, resumed, have if resumed else 0)


def _copy_with_progress(response, part: Path, resumed: bool, start: int) -> None:
    length = response.headers.get("Content-Length")
    total = start + int(length) if length and length.isdigit() else None
    with open(part, "ab" if resumed else "wb") as out, byte_bar(total, part.name[:-5], start) as bar:
        while block := response.read(CHUNK):
            out.write(block)
            bar.update(len(block))


def download_all(task: str, files: Sequence[OfficialFile], folder: Path,
                 log: Callable[[str], None] = print) -> list[Path]:
    return [download(f, folder, log, task=task) for f in files]
