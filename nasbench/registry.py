"""One generic registry; methods and tasks are two instances.

Listing reads entry-point names and imports nothing; a plugin is imported the first time it is asked
for. A class with a classmethod ``for_entry_point(name)`` serves a family of names: each entry point
naming it gets the class that call returns (the random-search controls, ``nasbench.controls``).
The decorator (for tests and notebooks) and the entry point (for installed packages) carry the same
facts, because plugin metadata are class attributes.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from importlib import import_module, metadata
from typing import Generic, TypeVar

from nasbench.errors import DuplicateNameError, PluginError, UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """Where a plugin comes from: an entry point of a distribution, or a decorator in a module."""

    target: str  # "module:attribute"
    origin: str  # distribution name, or "decorator"

    def __str__(self) -> str:
        return f"{self.target} (from {self.origin})"


class Registry(Generic[T]):
    def __init__(self, kind: str, group: str):
        self.kind, self.group = kind, group
        self._sources: dict[str, Source] | None = None
        self._loaded: dict[str, type[T]] = {}
        self._decorated: dict[str, Source] = {}

    # -- discovery ---------------------------------------------------------------------------------
    def _entry_point_sources(self) -> dict[str, Source]:
        found: dict[str, Source] = {}
        seen: set[tuple[str, str, str]] = set()
        for ep in metadata.entry_points(group=self.group):
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            if (ep.name, ep.value, dist) in seen:  # the same distribution seen twice on sys.path
                continue
            seen.add((ep.name, ep.value, dist))
            source = Source(ep.value, dist)
            if ep.name in found and found[ep.name] != source:
                raise DuplicateNameError(
                    f"{self.kind} {ep.name!r} is declared twice: by {found[ep.name]} and by {source}. "
                    f"Uninstall one of the two distributions."
                )
            found[ep.name] = source
        return found

    def sources(self) -> dict[str, Source]:
        if self._sources is None:
            self._sources = self._entry_point_sources()
        return {**self._sources, **self._decorated}

    def names(self) -> list[str]:
        return sorted(self.sources())

    def __contains__(self, name: str) -> bool:
        return name in self.sources()

    def description(self, name: str) -> str:
        """The plugin's one-line ``description``: the class attribute once the class is imported, else
        read from its module's source without importing anything (a string literal assigned to
        ``description`` in the class body; "" when it is inherited, computed or not found)."""
        if name in self._loaded:
            return str(getattr(self._loaded[name], "description", "") or "")
        module_name, _, attr = self.sources()[name].target.partition(":")
        return _static_class_attribute(module_name, attr, "description")

    # -- registration -----------------------------------------------------------------------------
    def register(self, cls: type[T]) -> type[T]:
        """Class decorator: register ``cls`` under its ``name`` attribute."""
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{cls.__qualname__} has no string class attribute 'name'")
        source = Source(f"{cls.__module__}:{cls.__qualname__}", "decorator")
        existing = self.sources().get(name)
        if existing is not None and existing.target != source.target:
            raise DuplicateNameError(
                f"{self.kind} {name!r} is already registered by {existing}; cannot register {source}."
            )
        self._decorated[name] = source
        self._loaded[name] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove a decorator registration (tests)."""
        self._decorated.pop(name, None)
        self._loaded.pop(name, None)

    # -- lookup -----------------------------------------------------------------------------------
    def get(self, name: str) -> type[T]:
        if name in self._loaded:
            return self._loaded[name]
        sources = self.sources()
        if name not in sources:
            raise UnknownNameError(self.kind, name, sources)
        cls = self._load(name, sources[name])
        self._loaded[name] = cls
        return cls

    def _load(self, name: str, source: Source) -> type[T]:
        module_name, _, attr = source.target.partition(":")
        try:
            obj = import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
            family = getattr(obj, "for_entry_point", None)
            if callable(family):  # one class serving several names: it makes the class of this one
                obj = family(name)
        except Exception as exc:  # any import failure of a plugin is the plugin's problem
            raise PluginError(
                f"{self.kind} {name!r} could not be imported from {source}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        declared = getattr(obj, "name", None)
        if declared != name:
            raise PluginError(
                f"{self.kind} entry point {name!r} points to {source.target}, whose class attribute "
                f"name is {declared!r}; the two names must be equal."
            )
        return obj  # type: ignore[return-value]


def _module_source(module_name: str) -> str | None:
    """The source text of a module, found as the import system would find it, without executing it
    or its parent packages (each finder of ``sys.meta_path`` is asked directly)."""
    path = None
    for depth in range(1, module_name.count(".") + 2):
        name = ".".join(module_name.split(".")[:depth])
        spec = getattr(sys.modules.get(name), "__spec__", None) or _find_spec(name, path)
        if spec is None:
            return None
        path = spec.submodule_search_locations
    try:
        return spec.loader.get_source(name) if spec.loader is not None else None
    except (ImportError, OSError, AttributeError):
        return None


def _find_spec(name: str, path):
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find(name, path) if find is not None else None
        if spec is not None:
            return spec
    return None


def _static_class_attribute(module_name: str, class_name: str, attr: str, follow: int = 2) -> str:
    """A string literal assigned to ``attr`` in the body of ``class_name``, read from the module's
    source; a class the module re-exports (``from x import Name``, as a package's __init__ does) is
    followed into ``x``, ``follow`` levels deep."""
    source = _module_source(module_name)
    if source is None or "." in class_name:
        return ""
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return _literal_in_class(node, attr)
        if isinstance(node, ast.ImportFrom) and follow and node.module and node.level == 0:
            if any((alias.asname or alias.name) == class_name and alias.name == class_name for alias in node.names):
                return _static_class_attribute(node.module, class_name, attr, follow - 1)
    return ""


def _literal_in_class(node: ast.ClassDef, attr: str) -> str:
    for item in node.body:
        targets = item.targets if isinstance(item, ast.Assign) else [getattr(item, "target", None)]
        value = getattr(item, "value", None)
        if any(getattr(t, "id", None) == attr for t in targets) and isinstance(value, ast.Constant):
            return str(value.value)
    return ""


methods: Registry = Registry("method", "nasbench.methods")
tasks: Registry = Registry("task", "nasbench.tasks")
benchmarks: Registry = Registry("benchmark", "nasbench.benchmarks")  # `nasbench perf`
