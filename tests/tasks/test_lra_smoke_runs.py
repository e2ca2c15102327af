"""Every registered method against every task of issue 6 at the ``smoke`` budget, on fixtures in the
official formats (generated ListOps / Pathfinder data for the generator tasks), through the runner:
a compatible pair finishes ``ok`` with a finite test metric, an incompatible one is ``skipped`` with
its reason. The encoder-pair protocol runs end to end on Retrieval with a CCNN encoder."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from nasbench.contracts import SearchMethod, TaskShape, unsupported_reason
from nasbench.methods.backbones.encoder_pair import EncoderPair, encoder_shape
from nasbench.registry import methods, tasks
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.training import TrainConfig, fit

# task -> (sample-count overrides, fixture keyword arguments)
TASKS = {
    "listops": (dict(n_train=16, n_val=4, n_test=4), {}),
    "text": (dict(n_train=16, n_val=4, n_test=4), dict(per_class=8)),
    "retrieval": (dict(n_train=16, n_val=4, n_test=4), {}),
    "image": (dict(n_train=16, n_val=4, n_test=4), dict(n_train=60, n_test=8)),
    "pathfinder": (dict(n_train=8, n_val=2, n_test=2), {}),
    "pathx": (dict(n_train=4, n_val=2, n_test=2), {}),
    "cifar10": (dict(n_train=16, n_val=4, n_test=4), dict(n_train=40, n_test=8)),
    "cifar10-dnarch": (dict(n_train=16, n_val=4, n_test=4), dict(n_train=60, n_test=8)),
    "cifar100-dnarch": (dict(n_train=16, n_val=4, n_test=4), dict(n_train=60, n_test=8)),
    "fashionmnist": (dict(n_train=16, n_val=4, n_test=4), dict(n_train=48, n_test=8)),
}
# The default suite runs every method on one task of each input kind (tokens, a real-valued sequence,
# an image; Retrieval's pairs are skipped or run by the pair test below); the whole matrix is slow
# (the DASH searches take seconds per task, and Path-X's snakes about 2 s of CPU per image).
FAST = {"listops", "pathfinder", "cifar10", "retrieval"}


def overrides(task: str, folder: Path) -> tuple[str, ...]:
    return (f"task.data_dir={str(folder)!r}", *(f"task.{k}={v}" for k, v in TASKS[task][0].items()))


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    """One fixture folder per task, written on first use."""
    root, written = tmp_path_factory.mktemp("lra-fixtures"), {}

    def folder(task: str) -> Path:
        if task not in written:
            cls = tasks.get(task)
            config = cls.Config(**TASKS[task][0]) if "n_train" in cls.Config.__dataclass_fields__ else cls.Config()
            cls(config).write_fixture(root / task, seed=0, **TASKS[task][1])
            written[task] = root / task
        return written[task]

    return folder


def cases():
    for task in TASKS:
        for method in methods.names():
            marks = [] if task in FAST else [pytest.mark.slow]
            yield pytest.param(method, task, id=f"{method}-{task}", marks=marks)


@pytest.mark.parametrize("method, task", list(cases()))
def test_smoke_run(method, task, fixtures, tmp_path):
    run = prepare(RunRequest(method, task, "smoke", 0, overrides(task, fixtures(task))))
    outcome = execute(run, RunStore(tmp_path), log=lambda _: None)
    reason = unsupported_reason(methods.get(method), run.task.shape)
    if reason is not None:
        assert outcome.status == "skipped" and outcome.manifest["error"] == reason
        return
    assert outcome.status == "ok", outcome.manifest.get("traceback")
    assert outcome.manifest["data_source"] == "fixture"
    metric = outcome.manifest["metric"]
    assert metric["name"] == "accuracy" and 0.0 <= metric["value"] <= 1.0
    assert math.isclose(metric["error"], 1.0 - metric["value"])


@dataclass(frozen=True)
class PairCCNNConfig:
    width: int = 8
    depth: int = 1
    train: TrainConfig = TrainConfig(epochs=1, batch_size=4, lr=0.01, optimizer="adamw", schedule="constant",
                                     batches_per_epoch=2)


class PairCCNN(SearchMethod):
    """A test method that opts into paired inputs: a small CCNN encodes each document."""

    name = "pair-ccnn"
    citation = "tests"
    Config = PairCCNNConfig
    supports_pair_inputs = True

    @classmethod
    def default_config(cls, budget, task):
        return PairCCNNConfig()

    def search(self, ctx):
        return {"backbone": "ccnn", "search_space": {"id": "none"}, "choices": {"width": self.config.width}}

    def retrain(self, ctx, arch, hparams):
        from nasbench.methods.backbones.ccnn import CCNN

        shape, c = ctx.task.shape, self.config
        model = EncoderPair(CCNN(encoder_shape(shape, c.width), c.width, c.depth, kernel_hidden=8,
                                 kernel_frequencies=8), c.width, shape.num_outputs)
        fit(model, ctx, c.train)
        return model


def test_encoder_pair_protocol_runs_on_retrieval(fixtures, tmp_path):
    methods.register(PairCCNN)
    try:
        run = prepare(RunRequest("pair-ccnn", "retrieval", "smoke", 0, overrides("retrieval", fixtures("retrieval"))))
        outcome = execute(run, RunStore(tmp_path), log=lambda _: None)
    finally:
        methods.unregister("pair-ccnn")
    assert outcome.status == "ok", outcome.manifest.get("traceback")
    assert outcome.manifest["params"] > 0 and outcome.manifest["macs"] > 0


def test_encoder_pair_features_and_macs():
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 3))
    pair = EncoderPair(encoder, features=3, num_classes=2, hidden=5)
    x = torch.randn(4, 2, 6)
    x1, x2 = encoder(x[:, 0]), encoder(x[:, 1])
    expected = pair.head(torch.cat([x1, x2, x1 * x2, x1 - x2], dim=1))
    torch.testing.assert_close(pair(x), expected)
    from nasbench.arch import count_macs

    assert count_macs(pair, x[:1]) == 2 * 6 * 3 + 12 * 5 + 5 * 2  # both towers, then the two-layer head
    with pytest.raises(ValueError):
        pair(torch.randn(4, 3, 6))


def test_methods_without_pair_support_are_skipped_with_the_reason():
    shape = TaskShape(dims=1, in_channels=1, input_size=(16,), output="classes", num_outputs=2, vocab_size=10,
                      pair_inputs=True)
    reason = unsupported_reason(methods.get("wrn"), shape)
    assert reason is not None and "encoder-pair" in reason
    assert encoder_shape(shape, 7) == TaskShape(1, 1, (16,), "classes", 7, 10, False)
