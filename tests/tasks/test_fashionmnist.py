"""Fashion-MNIST (an offline addition) from IDX files written by the tests."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.offline import fashionmnist as fm
from nasbench.tasks.offline.fashionmnist import FashionMNIST, FashionMNISTConfig, read_idx, write_idx


def test_idx_round_trip_and_header_checks(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("x-idx3-ubyte", "x-idx3-ubyte.gz"):
        write_idx(tmp_path / name, images)
        np.testing.assert_array_equal(read_idx(tmp_path / name), images)
    raw = (tmp_path / "x-idx3-ubyte").read_bytes()
    assert raw[:16] == bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 3, 4)  # big-endian header
    (tmp_path / "bad").write_bytes(bytes([0, 0, 0x0D, 1]) + raw[4:])  # 0x0D: float, not unsigned byte
    with pytest.raises(CorruptDataError):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(CorruptDataError) as info:
        read_idx(tmp_path / "short")
    assert "dimensions (2, 3, 4) need 24" in str(info.value)


def test_splits_and_normalisation(tmp_path):
    task = FashionMNIST(FashionMNISTConfig(n_train=250, n_val=60, n_test=50, data_dir=str(tmp_path)))
    task.write_fixture(tmp_path, seed=0, n_train=360, n_test=60)
    data = task.load()
    train_images = read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    train_labels = read_idx(tmp_path / "train-labels-idx1-ubyte.gz")
    assert data.data_source == "fixture" and [len(s) for s in (data.train, data.val, data.test)] == [250, 60, 50]
    assert data.val.targets.tolist() == train_labels[300:].tolist()  # the last sixth of the training images
    pixels = torch.from_numpy(train_images[:250]).float() / 255
    expected = (torch.from_numpy(train_images[300:]).float() / 255 - pixels.mean()) / pixels.std()
    torch.testing.assert_close(data.val.inputs[:, 0], expected)
    assert data.train.inputs.shape == (250, 1, 28, 28) and task.shape.in_channels == 1


def test_falls_back_to_debians_folder_and_reports_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("NASBENCH_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(fm, "DEBIAN_FOLDER", tmp_path / "debian")
    task = FashionMNIST(FashionMNIST.default_config("smoke"))
    with pytest.raises(MissingDataError) as info:
        task.load()
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
    FashionMNIST(FashionMNISTConfig()).write_fixture(tmp_path / "debian", n_train=400, n_test=80)
    assert task.folder() == tmp_path / "debian" and len(task.load().train) == 256


def test_verify_checks_content_checksums_of_official_files(tmp_path):
    task = FashionMNIST(FashionMNISTConfig(data_dir=str(tmp_path)))
    task.write_fixture(tmp_path)
    assert len(task.verify()) == 4  # fixtures carry no published checksum
    (tmp_path / "FIXTURE").unlink()
    with pytest.raises(CorruptDataError) as info:
        task.verify()
    assert "expected c59f468a" in str(info.value)
    assert gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())[:4] == bytes([0, 0, 8, 1])
