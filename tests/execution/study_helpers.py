"""Helpers shared by the execution tests: writing toy studies, reading run folders, subprocesses."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from study_plugins import TOY_PLUGINS

from nasbench import schema
from nasbench.registry import methods, tasks

TESTS = Path(__file__).resolve().parents[1]
PLUGIN_PATH = os.pathsep.join([str(TESTS / "execution"), str(TESTS)])  # where Ray workers import study_plugins from


def write_study(root: Path, name: str = "toy", **fields) -> Path:
    """A toy study under ``root/reports/<name>/study.yaml`` with results in ``root/results/<name>``."""
    body = {"budget": "smoke", "seeds": [0, 1], "methods": ["study-method"], "tasks": ["study-task"],
            "resources": {"cpus": 1}, "results": str(root / "results" / name), "plugins": TOY_PLUGINS, **fields}
    path = root / "reports" / name / "study.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body))
    return path


def run_folders(results: Path) -> dict[str, dict]:
    """``task/method/seed=k`` -> manifest, for every run folder."""
    return {str(p.parent.relative_to(results)): json.loads(p.read_text())
            for p in sorted(results.glob(schema.RUN_GLOB))}


def leftovers(results: Path) -> list[Path]:
    """Half-written or displaced folders: temporary, old, or kept failed attempts."""
    return sorted(p for pattern in ("*/*/.tmp-*", "*/*/.old-*", "*/*/.failed") for p in results.glob(pattern))


def curves_without_time(run_dir: Path) -> list[dict]:
    rows = list(csv.DictReader((run_dir / schema.CURVES).open()))
    return [{k: v for k, v in row.items() if k != "elapsed_s"} for row in rows]


def nasbench(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """``nasbench ARGS`` in a subprocess (its own session, so a test can kill what it started). SIGINT is
    reset to its default in the child: a test suite started in the background by a shell (`make test &`)
    inherits SIGINT ignored, and Python then never raises KeyboardInterrupt, so Ctrl-C tests would pass
    or fail with how the suite was started."""
    env = {**os.environ, "PYTHONPATH": PLUGIN_PATH, **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "nasbench", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=_default_sigint, **kwargs)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def toy_study_env(monkeypatch):
    """The study plugins, importable by Ray workers started from here; unregistered afterwards."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [PLUGIN_PATH, os.environ.get("PYTHONPATH")])))
    yield
    for kind, registry in (("methods", methods), ("tasks", tasks)):
        for name in TOY_PLUGINS[kind]:
            registry.unregister(name)
