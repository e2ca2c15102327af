"""Budget presets: the same three names for every method and task.

- ``smoke``: tests and CI, seconds on a 2-core CPU.
- ``small``: the default of ``make bench``, minutes on a 2-core CPU.
- ``paper``: the epochs, batch sizes and subset sizes of the papers.

A budget is only a name here; each method's and task's ``default_config(budget, ...)`` says what it
scales, and its ``budget_notes`` text is written into the run manifest.
"""
from __future__ import annotations

from nasbench.errors import UnknownNameError

BUDGETS: tuple[str, ...] = ("smoke", "small", "paper")
DEFAULT_BUDGET = "small"


def check_budget(name: str) -> str:
    if name not in BUDGETS:
        raise UnknownNameError("budget", name, BUDGETS)
    return name
