"""Tasks as declarations: a task states its split sizes per budget and the benchmark's sizes, and
the base class derives ``validate`` (on construction), ``default_config(budget)`` and
``budget_notes(budget)`` from them. A task that reads official files lists them in ``files`` and gets
``data_files``, ``verify``, ``download`` and ``require`` too.

What a task declares::

    budgets = {"smoke": dict(n_train=16, n_val=8, n_test=8), "small": dict(...), "paper": {}}
    paper_sizes = "900/100/100"   # the benchmark's train/val/test sizes, for the notes
    unit = "samples"              # what is counted
    selection = "the first"       # how a budget below ``paper`` picks its examples
    paper_protocol = "NAS-Bench-360"  # whose protocol ``paper`` follows

``paper: {}`` means the config's own defaults: the benchmark's full splits. A config class has a
``validate()`` method that raises ``ConfigError``; ``config_fields`` is the hook for config values that
depend on the task class rather than the budget (e.g. whether a CIFAR protocol augments).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar

from nasbench.contracts import DataFile, Task
from nasbench.tasks.common.download import OfficialFile, download_all, require, verify_official
from nasbench.tasks.common.provenance import source_of

SIZE_FIELDS = ("n_train", "n_val", "n_test")


class DeclaredTask(Task):
    """A task whose configuration per budget is declared data (see the module docstring)."""

    budgets: ClassVar[dict[str, dict[str, Any]]]
    paper_sizes: ClassVar[str]
    unit: ClassVar[str] = "samples"
    selection: ClassVar[str] = "the first"
    paper_protocol: ClassVar[str] = ""  # whose protocol the paper budget follows, for the notes
    budget_remark: ClassVar[str] = ""  # appended to the notes of budgets below ``paper``

    def __init__(self, config: Any):
        config.validate()
        super().__init__(config)

    @classmethod
    def config_fields(cls, budget: str) -> dict[str, Any]:
        return dict(cls.budgets[budget])

    @classmethod
    def default_config(cls, budget: str) -> Any:
        return cls.Config(**cls.config_fields(budget))

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        sizes = cls.budgets[budget]
        if not any(k in sizes for k in SIZE_FIELDS):
            protocol = f" ({cls.paper_protocol})" if cls.paper_protocol else ""
            return f"{cls.paper_sizes} train/val/test {cls.unit}{protocol}"
        defaults = cls.Config()
        counts = "/".join(str(sizes.get(k, getattr(defaults, k, None))) for k in SIZE_FIELDS)
        remark = f"; {cls.budget_remark}" if cls.budget_remark else ""
        return f"{cls.selection} {counts} train/val/test {cls.unit} (paper {cls.paper_sizes}){remark}"


class OfficialFilesTask(DeclaredTask):
    """A declared task that reads the official files listed in ``files`` from its data folder."""

    files: ClassVar[tuple[OfficialFile, ...]]

    def data_files(self) -> list[DataFile]:
        return [f.data_file(self.data_dir()) for f in self.files]

    def verify(self) -> list[str]:
        return verify_official(self.name, self.data_dir(), self.files)

    def download(self, log: Callable[[str], None] = print) -> None:
        """Fetch the official files (resumable; checked where a checksum is known)."""
        download_all(self.name, self.files, self.data_dir(), log)

    def require(self) -> list[Path]:
        return require(self.name, self.data_dir(), self.files)

    def data_source(self) -> str:
        return source_of(self.data_dir())
