"""The encoder-pair protocol of LRA Retrieval: it runs end to end on Retrieval's fixture with a CCNN
encoder, its features and MACs are right, and methods without pair support are skipped with the
reason. (Every registered method on every LRA task at the smoke budget: tests/test_smoke_matrix.py.)"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from nasbench.contracts import SearchMethod, TaskShape, unsupported_reason
from nasbench.methods.backbones.encoder_pair import EncoderPair, encoder_shape
from nasbench.registry import methods
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.testing import smoke_task
from nasbench.training import TrainConfig, fit


@pytest.fixture(scope="module")
def retrieval_sets(tmp_path_factory):
    """The run's ``task.`` overrides on Retrieval's fixture, with the task's own smoke settings."""
    return smoke_task("retrieval").materialise("smoke", tmp_path_factory.mktemp("lra-fixtures"))


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


def test_encoder_pair_protocol_runs_on_retrieval(retrieval_sets, tmp_path):
    methods.register(PairCCNN)
    try:
        run = prepare(RunRequest("pair-ccnn", "retrieval", "smoke", 0, retrieval_sets))
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
