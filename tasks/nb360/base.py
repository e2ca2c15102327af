"""The part every NAS-Bench-360 task shares: official files, budgets by split size, verify,
download, the missing-file error and the data-source label."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, ClassVar

from nasbench.contracts import DataFile, Task
from nasbench.tasks.nb360 import common
from nasbench.tasks.nb360.common import OfficialFile
from nasbench.tasks.nb360.download import download_all, verify_official


class NB360Task(Task):
    """A task read from official files listed in ``FILES``; ``BUDGETS`` maps a budget to config
    fields (split sizes); ``PAPER_SIZES`` names the benchmark's sizes for the manifest notes."""

    family = "nb360"
    FILES: ClassVar[tuple[OfficialFile, ...]]
    BUDGETS: ClassVar[dict[str, dict]]
    PAPER_SIZES: ClassVar[str]
    UNIT: ClassVar[str] = "samples"

    def __init__(self, config):
        config.validate()
        super().__init__(config)

    @classmethod
    def default_config(cls, budget: str):
        return cls.Config(**cls.BUDGETS[budget])

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        return common.count_notes(cls.BUDGETS, budget, cls.PAPER_SIZES, cls.UNIT)

    def data_files(self) -> list[DataFile]:
        return [f.data_file(self.data_dir()) for f in self.FILES]

    def verify(self) -> list[str]:
        return verify_official(self.name, self.data_dir(), self.FILES)

    def download(self, log: Callable[[str], None] = print) -> None:
        """Fetch the official files (resumable; checked where a checksum is known)."""
        download_all(self.name, self.FILES, self.data_dir(), log)

    def require(self) -> list[Path]:
        return common.require(self.name, self.data_dir(), self.FILES)

    def data_source(self) -> str:
        return common.source_of(self.data_dir())
