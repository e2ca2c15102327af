"""Every error a user can cause is a ``NasBenchError``: it says what was given, what is valid,
and how to fix it."""
from __future__ import annotations

import difflib
from typing import Iterable


class NasBenchError(Exception):
    """Base of every error the suite raises for bad input or missing data."""


class UnknownNameError(NasBenchError, KeyError):
    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        valid = sorted(valid)
        close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}.{hint} Valid {kind}s: {', '.join(valid) or '(none)'}.")
        self.name, self.valid, self.close = name, valid, close

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.args[0]


class DuplicateNameError(NasBenchError):
    """Two plugins claim the same name."""


class PluginError(NasBenchError):
    """A plugin failed to import or breaks its contract."""


class ConfigError(NasBenchError):
    """A configuration value or override is invalid."""


class DataError(NasBenchError):
    """A data file is missing, corrupt or inconsistent."""


class MissingDataError(DataError):
    def __init__(self, path, expected: str, fix: str):
        super().__init__(f"data file not found: {path}\n  expected: {expected}\n  to fix: {fix}")
        self.path = path


class CorruptDataError(DataError):
    def __init__(self, path, check: str, fix: str):
        super().__init__(f"data file failed a check: {path}\n  check: {check}\n  to fix: {fix}")
        self.path = path


class RunConflictError(NasBenchError):
    """A different finished run already occupies the run folder."""


class UnsupportedError(NasBenchError):
    """A method cannot run on a task of this shape; the runner records the pair as skipped."""


class TrainingDiverged(NasBenchError):
    """The loss became NaN or infinite."""


class DeviceError(NasBenchError):
    """A device name that torch does not know, or a device this machine does not have."""


class ResultsFolderError(NasBenchError):
    """The results folder is a file, cannot be created, or cannot be written."""


class RunLockedError(NasBenchError):
    """Another process is computing this run right now."""
