"""Session fixtures of the NAS-Bench-360 task tests: each task's fixture is written once."""
from __future__ import annotations

from pathlib import Path

import nb360_helpers
import pytest


@pytest.fixture(scope="session")
def nb360_fixture(tmp_path_factory):
    """``nb360_fixture(name)`` -> folder holding the official-format fixture of task ``name``."""
    made: dict[str, Path] = {}

    def folder(name: str) -> Path:
        if name not in made:
            made[name] = nb360_helpers.write_fixture(name, tmp_path_factory.mktemp(f"fixture-{name}"))
        return made[name]

    return folder
