"""Shared fixtures: a tiny task and method registered through the decorator, and an isolated data root."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from toy_plugins import ToyMethod, ToyTask

from nasbench.registry import methods, tasks


@pytest.fixture
def toy_plugins():
    tasks.register(ToyTask)
    methods.register(ToyMethod)
    yield ToyTask, ToyMethod
    tasks.unregister(ToyTask.name)
    methods.unregister(ToyMethod.name)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """One data root per test session, so generated data is reused between tests."""
    return tmp_path_factory.mktemp("nasbench-data")


@pytest.fixture
def isolated_data(data_root, monkeypatch) -> Path:
    monkeypatch.setenv("NASBENCH_DATA", str(data_root))
    return data_root


@pytest.fixture
def one_thread():
    """One torch thread for the test: tiny networks on a shared CPU are slower with two intra-op
    threads than with one (modules that need it set ``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
