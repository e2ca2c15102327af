"""The part every NAS-Bench-360 task shares: its family, the host of its official files, and the
declared budgets and official files of ``tasks.common.declared``."""
from __future__ import annotations

from nasbench.tasks.common.declared import OfficialFilesTask

S3 = "https://pde-xd.s3.amazonaws.com"  # NAS-Bench-360 download_datasets.sh


class NB360Task(OfficialFilesTask):
    """A NAS-Bench-360 task read from the official files listed in ``files``; ``budgets`` maps a budget
    to split sizes, ``paper_sizes`` names the benchmark's (see ``DeclaredTask``)."""

    family = "nb360"
    paper_protocol = "NAS-Bench-360"
