"""Run folders: ``<root>/<task>/<method>/seed=<k>/``, written whole or not at all.

All files of a run are written into a hidden temporary folder beside the final one, then renamed
into place. A failed attempt never replaces a finished (ok) run: it is kept under
``<task>/<method>/.failed/`` instead, where the aggregator's glob does not look.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

from nasbench import schema


class RunStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def run_dir(self, task: str, method: str, seed: int) -> Path:
        return self.root / task / method / f"seed={seed}"

    def read(self, task: str, method: str, seed: int) -> dict[str, Any] | None:
        return read_manifest(self.run_dir(task, method, seed))

    def manifests(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        for path in sorted(self.root.glob(schema.RUN_GLOB)):
            manifest = read_manifest(path.parent)
            if manifest is not None:
                yield path.parent, manifest

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
        """Remove temporary folders left by killed processes; return how many."""
        partial = list(self.root.glob("*/*/.tmp-*")) + list(self.root.glob("*/*/.old-*"))
        for path in partial:
            shutil.rmtree(path, ignore_errors=True)
        return len(partial)


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / schema.MANIFEST).read_text())
    except (OSError, ValueError):
        return None


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
