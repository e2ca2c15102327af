"""Read the files of an official archive whether it was extracted or not.

``open_members(path)`` gives one interface over a folder, a ``.zip`` or a ``.tar``/``.tar.gz``:
names are '/'-separated paths relative to the root; ``open`` streams one member without
extracting the archive (zip and tar members are read on demand, so a loader reads only what it
uses of a 24 GB ``audio.zip`` or an 8 GB tar).
"""
from __future__ import annotations

import io
import os
import tarfile
import zipfile
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import IO

import numpy as np

from nasbench.errors import CorruptDataError


class Members(ABC):
    """Base: subclasses list their member names and open one member as a binary stream."""

    def __init__(self, path: Path):
        self.path = path

    @cached_property
    def names(self) -> list[str]:
        return sorted(self._list())

    @abstractmethod
    def _list(self) -> list[str]:
        """Every file member, '/'-separated, relative to the root."""

    @abstractmethod
    def open(self, name: str) -> IO[bytes]:
        """A binary stream of one member."""

    def read(self, name: str) -> bytes:
        with self.open(name) as handle:
            return handle.read()

    def exists(self, name: str) -> bool:
        return name in self._name_set

    @cached_property
    def _name_set(self) -> set[str]:
        return set(self.names)

    def find(self, suffix: str) -> str | None:
        """The shortest member name equal to ``suffix`` or ending with ``/suffix``."""
        hits = [n for n in self.names if n == suffix or n.endswith("/" + suffix)]
        return min(hits, key=len) if hits else None

    def load_npy(self, name: str, allow_pickle: bool = False, mmap: bool = False):
        with self.open(name) as handle:
            return np.load(io.BytesIO(handle.read()), allow_pickle=allow_pickle, encoding="latin1")

    def where(self, name: str) -> str:
        return f"{self.path}::{name}"


class FolderMembers(Members):
    def _list(self) -> list[str]:
        out = []
        for folder, _, files in os.walk(self.path):
            rel = Path(folder).relative_to(self.path)
            out += [(rel / f).as_posix() for f in files]
        return out

    def exists(self, name: str) -> bool:  # cheaper than listing a large tree
        return (self.path / name).is_file()

    def open(self, name: str) -> IO[bytes]:
        return open(self.path / name, "rb")

    def load_npy(self, name: str, allow_pickle: bool = False, mmap: bool = False):
        """Memory-mapped when asked and possible, so a crop reads only the rows it needs."""
        return np.load(self.path / name, allow_pickle=allow_pickle, encoding="latin1",
                       mmap_mode="r" if mmap and not allow_pickle else None)

    def where(self, name: str) -> str:
        return str(self.path / name)


class ZipMembers(Members):
    @cached_property
    def _zip(self) -> zipfile.ZipFile:
        return zipfile.ZipFile(self.path)

    def _list(self) -> list[str]:
        return [n for n in self._zip.namelist() if not n.endswith("/")]

    def open(self, name: str) -> IO[bytes]:
        return self._zip.open(name)


class TarMembers(Members):
    @cached_property
    def _tar(self) -> tarfile.TarFile:
        return tarfile.open(self.path)  # scans the headers once; members are then read by seeking

    @cached_property
    def _infos(self) -> dict[str, tarfile.TarInfo]:
        return {m.name.removeprefix("./"): m for m in self._tar.getmembers() if m.isfile()}

    def _list(self) -> list[str]:
        return list(self._infos)

    def open(self, name: str) -> IO[bytes]:
        handle = self._tar.extractfile(self._infos[name])
        if handle is None:
            raise CorruptDataError(self.path, f"member {name} cannot be read", "download the archive again")
        return handle


def open_members(path: Path) -> Members:
    """Members of a folder, zip or tar; CorruptDataError when the archive cannot be opened."""
    if path.is_dir():
        return FolderMembers(path)
    try:
        if zipfile.is_zipfile(path):
            return ZipMembers(path)
        if tarfile.is_tarfile(path):
            return TarMembers(path)
    except OSError as exc:
        raise CorruptDataError(path, f"cannot be opened ({exc})", "download it again") from exc
    raise CorruptDataError(path, "is neither a folder, a zip nor a tar archive", "download it again")
