"""The Darcy Flow loader against fixtures in the official MAT formats, and its loss and metric."""
import dataclasses
import json

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.nb360.darcyflow import DarcyConfig, DarcyFlow, relative_l2

SMALL = dict(n_train=6, n_val=3, n_test=2, resolution=41, sub=5)  # 41 -> every 5th point -> 9x9


def fixture_task(tmp_path, hdf5):
    task = DarcyFlow(DarcyConfig(**SMALL, data_dir=str(tmp_path), source="official"))
    task.write_fixture(tmp_path, seed=0, n=(10, 3), hdf5=hdf5)
    return task


def raw_fields(path):
    """Read the fixture independently of the loader (MAT v5 with scipy, v7.3 with h5py)."""
    if h5py.is_hdf5(path):
        with h5py.File(path) as f:
            return [np.asarray(f[k]).transpose(2, 1, 0) for k in ("coeff", "sol")]
    mat = scipy.io.loadmat(path)
    return [mat["coeff"], mat["sol"]]


@pytest.mark.parametrize("hdf5", [False, True], ids=["mat-v5", "mat-v7.3"])
def test_loader_reproduces_splits_and_normalisation(tmp_path, hdf5):
    task = fixture_task(tmp_path, hdf5)
    data = task.load(allow_generate=False)
    (c1, s1), (c2, s2) = (raw_fields(p) for p in (tmp_path / n for n in
                          ("piececonst_r421_N1024_smooth1.mat", "piececonst_r421_N1024_smooth2.mat")))
    c1, s1, c2, s2 = (a[:, ::5, ::5] for a in (c1, s1, c2, s2))
    assert data.data_source == "fixture"
    np.testing.assert_allclose(data.train.targets, s1[:6], rtol=1e-6)
    np.testing.assert_allclose(data.val.targets, s1[6:9], rtol=1e-6)
    np.testing.assert_allclose(data.test.targets, s2[:2], rtol=1e-6)
    mean, std = c1[:6].mean(0), c1[:6].std(0, ddof=1)  # per-pixel, unbiased, fitted on train only
    np.testing.assert_allclose(data.val.inputs[:, 0], (c1[6:9] - mean) / (std + 1e-5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(data.test.inputs[:, 0], (c2[:2] - mean) / (std + 1e-5), rtol=1e-4, atol=1e-5)
    grid = np.linspace(0, 1, 9)
    np.testing.assert_allclose(data.train.inputs[0, 1, 3], grid)  # x varies along columns
    np.testing.assert_allclose(data.train.inputs[0, 2, :, 3], grid)  # y along rows
    assert data.train.inputs.shape == (6, 3, 9, 9) and task.shape.input_size == (9, 9)


def test_decode_inverts_the_target_normaliser_and_metric_is_relative_l2(tmp_path):
    task = fixture_task(tmp_path, hdf5=False)
    data = task.load(allow_generate=False)
    targets = data.train.targets
    encoded = ((targets - targets.mean(0)) / (targets.std(0) + 1e-5)).unsqueeze(1)
    torch.testing.assert_close(task.decode(encoded), targets, rtol=1e-5, atol=1e-7)
    assert task.score(encoded, data.train) == pytest.approx(0.0, abs=1e-5)
    pred = torch.rand(4, 9, 9, dtype=torch.float64)
    true = torch.rand(4, 9, 9, dtype=torch.float64)
    by_hand = [np.linalg.norm(p - t) / np.linalg.norm(t) for p, t in zip(pred.numpy(), true.numpy())]
    np.testing.assert_allclose(relative_l2(pred, true).numpy(), by_hand, rtol=1e-12)


def test_loss_is_summed_over_the_batch_like_nb360(tmp_path):
    task = fixture_task(tmp_path, hdf5=False)
    data = task.load(allow_generate=False)
    outputs = torch.randn(6, 1, 9, 9)
    per_sample = relative_l2(task.decode(outputs), data.train.targets)
    assert task.loss(outputs, data.train.targets).item() == pytest.approx(per_sample.sum().item(), rel=1e-6)


def test_missing_official_file_names_path_and_fix(tmp_path):
    task = DarcyFlow(DarcyConfig(**SMALL, data_dir=str(tmp_path), source="official"))
    with pytest.raises(MissingDataError) as info:
        task.load(allow_generate=False)
    text = str(info.value)
    assert str(tmp_path / "piececonst_r421_N1024_smooth1.mat") in text and "task.source=generated" in text


def test_truncated_file_is_reported_with_the_failed_check(tmp_path):
    task = fixture_task(tmp_path, hdf5=False)
    path = tmp_path / "piececonst_r421_N1024_smooth1.mat"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CorruptDataError) as info:
        task.load(allow_generate=False)
    assert str(path) in str(info.value)


def test_generated_data_is_checksummed_on_reuse(tmp_path):
    config = DarcyConfig(n_train=3, n_val=1, n_test=2, data_dir=str(tmp_path), source="generated-approx")
    data = DarcyFlow(config).load()
    assert data.data_source == "generated-approx" and data.train.inputs.shape == (3, 3, 85, 85)
    coeff = data.train.inputs[:, 0]
    assert len(torch.unique(coeff)) <= 2 * 85 * 85  # sanity: real values, normalised per pixel
    # a smaller request reuses the prefix of the larger file (child seeds do not depend on N)
    smaller = DarcyFlow(dataclasses.replace(config, n_train=2)).load()
    torch.testing.assert_close(smaller.train.targets, data.train.targets[:2])
    path = next((tmp_path / "generated").glob("*smooth1.mat"))
    assert json.loads(path.with_suffix(".json").read_text())["approx"] is True
    assert all(line.startswith("ok") for line in DarcyFlow(config).verify())
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip one byte inside the data
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptDataError) as info:
        DarcyFlow(config).load()
    assert "sha256" in str(info.value) and "nasbench data darcyflow --generate" in str(info.value)
    with pytest.raises(CorruptDataError):
        DarcyFlow(config).verify()


def test_the_constant_baseline_is_the_training_mean_field_scored_by_relative_l2(tmp_path):
    from nasbench.runner import constant_baseline

    task = fixture_task(tmp_path, hdf5=False)
    data = task.load(allow_generate=False)
    mean_field = data.train.targets.mean(0)  # by hand: predict the training mean everywhere
    by_hand = ((mean_field - data.test.targets).flatten(1).norm(dim=1) / data.test.targets.flatten(1).norm(dim=1))
    outputs = torch.randn(len(data.test), 1, 9, 9)  # only the shape of a run's outputs is used
    constant = constant_baseline(task, outputs, data.test)
    assert constant["value"] == pytest.approx(by_hand.mean().item(), rel=1e-4)
    assert constant["error"] == constant["value"] and "mean target" in constant["rule"]
