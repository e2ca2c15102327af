"""NinaPro, Satellite, DeepSEA and ECG read from fixtures in the official formats."""
import math
import pickle
import zipfile

import numpy as np
import pytest
import torch
from nb360_helpers import fixture_task

from nasbench.tasks.nb360 import ecg, metrics
from nasbench.tasks.nb360.deepsea import read_npz_rows


def test_ninapro_reads_the_six_files_and_transposes(nb360_fixture):
    folder = nb360_fixture("ninapro")
    data = fixture_task("ninapro", folder).load(allow_generate=False)
    assert [len(s) for s in (data.train, data.val, data.test)] == [256, 64, 64] and data.data_source == "fixture"
    raw = np.load(folder / "ninapro_val.npy")
    assert raw.shape == (64, 52, 16) and raw.dtype == np.float64
    assert data.val.inputs.shape == (64, 1, 16, 52) and data.val.inputs.dtype == torch.float32
    torch.testing.assert_close(data.val.inputs[:, 0], torch.from_numpy(raw.transpose(0, 2, 1)).float())
    assert data.test.targets.tolist() == np.load(folder / "label_test.npy").tolist()


def test_ninapro_focal_option(nb360_fixture):
    task = fixture_task("ninapro", nb360_fixture("ninapro"), "task.loss=focal", "task.focal_gamma=2.0")
    logits, labels = torch.zeros(2, 18), torch.tensor([1, 2])
    assert task.loss(logits, labels).item() == pytest.approx((1 - 1 / 18) ** 2 * math.log(18), rel=1e-5)


def test_satellite_labels_zscores_and_last_rows_validate(nb360_fixture):
    folder = nb360_fixture("satellite")
    raw = np.load(folder / "satellite_train.npy", allow_pickle=True)[()]
    data = fixture_task("satellite", folder).load(allow_generate=False)
    assert [len(s) for s in (data.train, data.val, data.test)] == [1024, 256, 256]
    last = raw["data"][-256:]
    expected = (last - last.mean(1, keepdims=True)) / last.std(1, keepdims=True)
    torch.testing.assert_close(data.val.inputs[:, 0], torch.from_numpy(expected).float())
    assert data.val.targets.tolist() == (raw["label"][-256:] - 1).tolist() and data.train.targets.min() >= 0
    assert data.train.inputs.shape == (1024, 1, 46)


def test_deepsea_streams_only_the_rows_it_needs(nb360_fixture):
    path = nb360_fixture("deepsea") / "deepsea_filtered.npz"
    with np.load(path) as full:
        assert full["x_train"].dtype == np.uint8 and full["x_train"].shape == (256, 1000, 4)
        assert np.array_equal(read_npz_rows(path, "x_train", 10), full["x_train"][:10])
        assert np.array_equal(read_npz_rows(path, "y_test", None), full["y_test"])
    member = zipfile.ZipFile(path).getinfo("x_train.npy")
    assert member.compress_type == zipfile.ZIP_STORED  # as the 860 MB official file (uncompressed)


def test_deepsea_split_permutes_to_channels_first(nb360_fixture):
    folder = nb360_fixture("deepsea")
    data = fixture_task("deepsea", folder, "task.n_train=16").load(allow_generate=False)
    with np.load(folder / "deepsea_filtered.npz") as full:
        x, y = full["x_val"], full["y_val"]
    assert len(data.train) == 16 and data.val.inputs.shape == (64, 4, 1000)
    torch.testing.assert_close(data.val.inputs[:], torch.from_numpy(x).permute(0, 2, 1).float())
    assert data.val.targets.dtype == torch.float32 and torch.equal(data.val.targets, torch.from_numpy(y).float())


def test_ecg_record_split_matches_train_test_split_and_window_strides(nb360_fixture):
    folder = nb360_fixture("ecg")
    with open(folder / "challenge2017.pkl", "rb") as handle:
        raw = pickle.load(handle)
    n = len(raw["data"])
    order = np.random.RandomState(0).permutation(n)  # train_test_split(test_size=0.2, random_state=0)
    held = order[: math.ceil(0.2 * n)]
    inner = np.random.RandomState(0).permutation(len(held))
    test_records = held[inner[: math.ceil(0.5 * len(held))]]
    task = fixture_task("ecg", folder, "task.n_train=None", "task.n_val=None", "task.n_test=None")
    data = task.load(allow_generate=False)
    stride = {"N": 500, "A": 83, "O": 250, "~": 25}
    expected_windows = sum(len(range(0, len(raw["data"][i]) - 1000, stride[raw["label"][i]])) for i in test_records)
    assert len(data.test) == expected_windows and data.test.inputs.shape[1:] == (1, 1000)
    first = raw["data"][test_records[0]].astype(np.float64)
    standardised = torch.from_numpy((first - first.mean()) / first.std()).float()
    torch.testing.assert_close(data.test.inputs[:1][0, 0], standardised[:1000])
    labels = np.array([ecg.LABELS[v] for v in raw["label"]])
    assert data.test.targets[0].item() == labels[test_records[0]]
    assert len(np.unique(data.train.meta["record"])) + len(held) == n - sum(
        len(raw["data"][i]) <= 1000 for i in order[len(held):])


def test_ecg_score_is_the_record_vote_f1_and_subsets_keep_record_ids(nb360_fixture):
    data = fixture_task("ecg", nb360_fixture("ecg")).load(allow_generate=False)
    test = data.test
    perfect = torch.nn.functional.one_hot(test.targets, 4).float()
    records = np.asarray(test.meta["record"])
    assert metrics.ecg_record_f1(perfect.numpy(), test.targets.numpy(), records) == pytest.approx(
        metrics.macro_f1(*[metrics.majority_vote(test.targets.numpy(), records)] * 2, 4))
    part = test.subset(10, torch.Generator().manual_seed(0))
    assert len(part.meta["record"]) == 10 and set(part.meta["record"]) <= set(records)
    x, y = next(part.batches(10))
    assert torch.equal(y, part.targets) and x.shape == (10, 1, 1000)
