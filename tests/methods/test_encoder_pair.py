"""LRA Retrieval (paired inputs) with the methods that build the encoder pair, as the DNArch paper's
Table 1 runs it: ``ccnn`` and ``dnarch`` finish a smoke run on the Retrieval fixture through the
runner, with one shared encoder for both documents and the pair head on top."""
from __future__ import annotations

import json
import math

import pytest
import torch

from nasbench import schema
from nasbench.contracts import TaskShape, unsupported_reason
from nasbench.methods.backbones.encoder_pair import EncoderPair, encoder_shape, pair_network
from nasbench.registry import methods, tasks
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore

SIZES = dict(n_train=16, n_val=4, n_test=4)


@pytest.fixture(scope="module")
def retrieval_fixture(tmp_path_factory):
    folder = tmp_path_factory.mktemp("retrieval")
    cls = tasks.get("retrieval")
    cls(cls.Config(**SIZES)).write_fixture(folder, seed=0)
    return folder


@pytest.mark.parametrize("method", ["ccnn", "dnarch"])
def test_smoke_run_on_the_retrieval_fixture(method, retrieval_fixture, tmp_path):
    sets = (f"task.data_dir={str(retrieval_fixture)!r}", *(f"task.{k}={v}" for k, v in SIZES.items()))
    run = prepare(RunRequest(method, "retrieval", "smoke", 0, sets))
    assert run.task.shape.pair_inputs and unsupported_reason(methods.get(method), run.task.shape) is None
    outcome = execute(run, RunStore(tmp_path), log=lambda _: None)
    assert outcome.status == "ok", outcome.manifest.get("traceback")
    manifest = outcome.manifest
    assert manifest["data_source"] == "fixture" and manifest["metric"]["name"] == "accuracy"
    assert 0.0 <= manifest["metric"]["value"] <= 1.0 and math.isfinite(manifest["metric"]["error"])
    width = manifest["method_config"]["width"]
    head = 4 * width * width + width * 2  # Linear(4w, w), Linear(w, 2) of the pair head
    assert manifest["macs"] > 2 * head and manifest["params"] > 0
    record = json.loads((outcome.run_dir / schema.ARCH).read_text())
    if method == "dnarch":  # the found blocks are those of the one shared encoder
        assert record["choices"]["encoder_pair"] == {"features": width} and record["choices"]["blocks"]


def test_pair_network_shares_one_encoder_and_leaves_single_inputs_alone():
    single = TaskShape(1, 1, (12,), "classes", 3, vocab_size=9)
    paired = TaskShape(1, 1, (12,), "classes", 2, vocab_size=9, pair_inputs=True)
    built = []

    def build(shape):
        built.append(shape)
        return torch.nn.Sequential(torch.nn.Embedding(9, 4), torch.nn.Flatten(), torch.nn.Linear(48, shape.num_outputs))

    assert not isinstance(pair_network(single, 5, build), EncoderPair) and built[-1] == single
    model = pair_network(paired, 5, build)
    assert isinstance(model, EncoderPair) and built[-1] == encoder_shape(paired, 5)
    x = torch.randint(0, 9, (3, 2, 12))
    x1, x2 = model.encoder(x[:, 0]), model.encoder(x[:, 1])
    torch.testing.assert_close(model(x), model.head(torch.cat([x1, x2, x1 * x2, x1 - x2], dim=1)))
