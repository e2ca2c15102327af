"""PSICOV from a fixture ``protein.zip``: the 57 feature channels, training crops, evaluation windows."""
import io
import pickle
import zipfile

import numpy as np
import pytest
import torch
from nb360_helpers import fixture_task

from nasbench.tasks.nb360 import metrics
from nasbench.tasks.nb360.psicov import clean_distances, padded, tiled_features, training_sample

SETTINGS = ("task.crop=64", "task.eval_size=128")


def raw_protein(folder, dataset, pid):
    with zipfile.ZipFile(folder / "protein.zip") as archive:
        features = pickle.loads(archive.read(f"{dataset}/features/{pid}.pkl"))
        length, seq, cb = np.load(io.BytesIO(archive.read(f"{dataset}/distance/{pid}-cb.npy")), allow_pickle=True)
    return features, length, cb


def test_feature_channels_follow_get_feature():
    rng = np.random.default_rng(0)
    n = 5
    features = {"seq": "ACDEF", "ss": rng.random((3, n)), "pssm": rng.random((n, 22)), "sa": rng.random(n),
                "entropy": rng.random(n), "ccmpred": rng.random((n, n)), "freecon": rng.random((n, n)),
                "potential": rng.random((n, n))}
    x = tiled_features(features)
    assert x.shape == (n, n, 57) and x.dtype == np.float32
    assert np.allclose(x[2, :, 0], features["ss"][0]) and np.allclose(x[:, 2, 1], features["ss"][0])
    assert np.allclose(x[1, :, 6], features["pssm"][:, 0]) and np.allclose(x[:, 1, 49], features["pssm"][:, 21])
    assert np.allclose(x[0, :, 50], features["sa"]) and np.allclose(x[0, :, 52], features["entropy"])
    for channel, key in ((54, "ccmpred"), (55, "freecon"), (56, "potential")):
        assert np.allclose(x[..., channel], features[key])


def test_distance_cleaning_floors_at_one_and_fills_the_diagonal():
    y = np.array([[0.0, 3.8, 6.0], [3.8, 0.0, 4.2], [6.0, 4.2, 0.5]])
    cleaned = clean_distances(y)
    assert cleaned[0, 0] == 3.8 and cleaned[1, 1] == pytest.approx((3.8 + 4.2) / 2) and cleaned[2, 2] == 4.2
    assert cleaned.min() >= 1.0


def test_training_sample_pads_places_and_clips():
    rng = np.random.default_rng(1)
    x, y = rng.random((20, 20, 57)).astype(np.float32), rng.uniform(1, 30, (20, 20))
    xs, ys = training_sample(x, y, 64, None)  # L + 10 <= 64: top-left in the canvas, no crop
    assert xs.shape == (57, 64, 64) and ys.shape == (1, 64, 64)
    assert np.allclose(xs[:, 5:25, 5:25], x.transpose(2, 0, 1)) and xs[:, 25:].sum() == 0
    assert np.allclose(ys[0, 5:25, 5:25], np.minimum(y, 16)) and (ys[0, 30:] == 16).all()  # pad 100 -> 16
    big_x, big_y = rng.random((80, 80, 57)).astype(np.float32), rng.uniform(1, 30, (80, 80))
    cx, cy = training_sample(big_x, big_y, 64, np.random.default_rng(2))  # L + 10 > 64: random crop
    r, c = np.random.default_rng(2).integers(0, 90 - 64 + 1, 2)
    xp, yp = padded(big_x, big_y, 90)
    assert np.allclose(cx, xp[r: r + 64, c: c + 64].transpose(2, 0, 1))
    assert np.allclose(cy[0], np.minimum(yp[r: r + 64, c: c + 64], 16))


def test_loader_splits_deepcov_and_psicov_lists(nb360_fixture):
    folder = nb360_fixture("psicov")
    data = fixture_task("psicov", folder, *SETTINGS).load(allow_generate=False)
    assert len(data.train) == 8 and data.data_source == "fixture"
    x, y = next(data.train.batches(8, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert x.shape == (8, 57, 64, 64) and y.shape == (8, 1, 64, 64) and y.max() <= 16
    features, length, cb = raw_protein(folder, "deepcov", "de0000")  # the first DeepCov id validates
    assert np.allclose(data.val.meta["truths"][0], clean_distances(cb))
    windows = data.val.meta["window"][data.val.meta["window"][:, 0] == 0]
    assert len(windows) == (-(-(length + 10) // 64)) ** 2  # every window that meets the padded protein
    first = data.val.inputs[:1][0]
    assert np.allclose(first[54, 5: 5 + min(length, 59), 5: 5 + min(length, 59)],
                       features["ccmpred"][: min(length, 59), : min(length, 59)], atol=1e-6)


def test_windowed_score_equals_mae8_of_the_whole_map(nb360_fixture):
    """A per-pixel predictor gives the same map tiled or whole, so the split's reassembly must
    reproduce MAE8 computed on the full canvas."""
    task = fixture_task("psicov", nb360_fixture("psicov"), *SETTINGS)
    test = task.load(allow_generate=False).test
    def predict(x):  # the fixture's ccmpred is 1 - d / 16 plus noise
        return 16.0 * (1 - x[:, 54:55])
    windowed = task.score(predict(test.inputs[:]), test)
    canvases = []
    for p, truth in enumerate(test.meta["truths"]):
        store_x = torch.zeros(57, 128, 128)
        for i, (q, r, c) in enumerate(test.meta["window"]):
            if q == p:
                store_x[:, r: r + 64, c: c + 64] = test.inputs[i: i + 1][0]
        canvases.append(predict(store_x[None])[0, 0].double().numpy())
    assert windowed == pytest.approx(metrics.psicov_mae8(canvases, test.meta["truths"]))
    assert windowed < 1.5  # the planted signal predicts distances well


def test_eval_size_must_hold_the_largest_protein(nb360_fixture):
    from nasbench.errors import ConfigError

    with pytest.raises(ConfigError, match="eval_size"):
        fixture_task("psicov", nb360_fixture("psicov"), "task.crop=32", "task.eval_size=64").load(allow_generate=False)
