"""Resolving the plugin under check: a registered name, or a class registered for the checks only."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from nasbench.errors import DuplicateNameError, NasBenchError, PluginError
from nasbench.registry import Registry
from nasbench.testing.report import ContractReport


@contextmanager
def resolved(registry: Registry, obj: Any, report: ContractReport) -> Iterator[type | None]:
    """The plugin class for a name (through the registry) or a class (registered here for the checks,
    unregistered afterwards); None, with a failed ``registry`` check, when it cannot be resolved."""
    try:
        cls, registered, note = _resolve(registry, obj)
    except NasBenchError as exc:
        report.add("registry", "failed", str(exc))
        yield None
        return
    report.add("registry", "ok", note)
    try:
        yield cls
    finally:
        if registered:
            registry.unregister(cls.name)


def _resolve(registry: Registry, obj: Any) -> tuple[type, bool, str]:
    if isinstance(obj, str):
        cls = registry.get(obj)
        return cls, False, f"{obj!r} -> {registry.sources()[obj]}"
    name = getattr(obj, "name", None)
    if not isinstance(obj, type) or not isinstance(name, str) or not name:
        raise PluginError(f"expected a {registry.kind} name or class with a string class attribute 'name', got {obj!r}")
    if name not in registry:
        registry.register(obj)
        return obj, True, f"{name!r} registered by the check (decorator), not by an entry point"
    existing = registry.get(name)
    if existing is not obj:
        raise DuplicateNameError(f"{registry.kind} {name!r} is registered by {registry.sources()[name]}, not by "
                                 f"{obj.__module__}:{obj.__qualname__}; rename one of the two")
    return obj, False, f"{name!r} -> {registry.sources()[name]}"


def label(obj: Any) -> str:
    return repr(obj) if isinstance(obj, str) else repr(getattr(obj, "name", getattr(obj, "__qualname__", obj)))



@contextmanager
def work_folder(workdir: Path | str | None) -> Iterator[Path]:
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        yield Path(workdir)
        return
    with tempfile.TemporaryDirectory(prefix="nasbench-contract-") as tmp:
        yield Path(tmp)

