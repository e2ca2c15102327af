"""CIFAR-100 and Spherical CIFAR-100 read from fixtures in the official formats."""
import gzip
import pickle
import tarfile

import numpy as np
import pytest
import torch
from nb360_helpers import fixture_task

from nasbench.errors import CorruptDataError
from nasbench.tasks.common.cifar import CIFAR100, cutout, random_crop_flip, read_cifar_pickles, write_cifar_pickle
from nasbench.tasks.nb360 import s2_projection


def raw_cifar(folder, member):
    """The batch read independently of the loader, from the fixture's tar.gz."""
    with tarfile.open(folder / "cifar-100-python.tar.gz") as tar:
        batch = pickle.load(tar.extractfile(f"cifar-100-python/{member}"), encoding="bytes")
    return batch[b"data"].reshape(-1, 3, 32, 32), np.array(batch[b"fine_labels"])


def test_cifar100_splits_are_nb360_positions_and_normalisation(nb360_fixture):
    folder = nb360_fixture("cifar100")
    task = fixture_task("cifar100", folder)
    data = task.load(allow_generate=False)
    train_x, train_y = raw_cifar(folder, "train")
    test_x, test_y = raw_cifar(folder, "test")
    assert data.data_source == "fixture" and [len(s) for s in (data.train, data.val, data.test)] == [256, 64, 64]
    assert len(train_y) == 320  # first int(0.8 * 320) = 256 train, last 64 validate
    mean, std = torch.tensor(CIFAR100.mean).view(1, 3, 1, 1), torch.tensor(CIFAR100.std).view(1, 3, 1, 1)
    expected_val = (torch.from_numpy(train_x[256:]).float() / 255 - mean) / std
    torch.testing.assert_close(data.val.inputs[:], expected_val)
    assert data.val.targets.tolist() == train_y[256:].tolist() and data.test.targets.tolist() == test_y.tolist()
    x, _ = next(data.train.batches(256))  # ordered pass: no augmentation
    torch.testing.assert_close(x, (torch.from_numpy(train_x[:256]).float() / 255 - mean) / std)
    assert x.dtype == torch.float32 and x.shape == (256, 3, 32, 32) and task.shape.num_outputs == 100


def test_cifar100_augments_only_shuffled_training_batches(nb360_fixture):
    data = fixture_task("cifar100", nb360_fixture("cifar100")).load(allow_generate=False)
    g = torch.Generator().manual_seed(0)
    x, y = next(data.train.batches(64, shuffle=True, generator=g))
    order = torch.randperm(256, generator=torch.Generator().manual_seed(0))[:64]
    assert torch.equal(y, data.train.targets[order]) and not torch.allclose(x, data.train.inputs[order.numpy()])
    v1, _ = next(data.val.batches(8, shuffle=True, generator=g))
    assert any(torch.allclose(v1[0], data.val.inputs[i : i + 1][0]) for i in range(64))  # val never augmented


def test_crop_flip_and_cutout_by_hand():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    g = torch.Generator().manual_seed(3)
    oy, ox = torch.randint(0, 3, (2, 1, 1), generator=torch.Generator().manual_seed(3))
    out = random_crop_flip(x, g, padding=1)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))[0, 0, oy[0, 0]: oy[0, 0] + 4, ox[0, 0]: ox[0, 0] + 4]
    assert torch.equal(out[0, 0], padded) or torch.equal(out[0, 0], padded.flip(-1))
    holes = cutout(torch.ones(8, 3, 32, 32), 16, torch.Generator().manual_seed(0))
    zeros = (holes[:, 0] == 0).sum(dim=(1, 2))
    assert (zeros <= 256).all() and (zeros >= 64).all() and torch.equal(holes[:, 0], holes[:, 2])


def test_read_cifar_pickles_reads_folders_and_cifar10_layout(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (5, 3, 32, 32), dtype=np.uint8)
    write_cifar_pickle(tmp_path / "cifar-10-batches-py" / "data_batch_1", images, [1, 2, 3, 4, 5], label_key="labels")
    x, y = read_cifar_pickles(tmp_path, ["data_batch_1"], label_key="labels")
    assert np.array_equal(x, images) and y.tolist() == [1, 2, 3, 4, 5] and y.dtype == np.int64
    with pytest.raises(CorruptDataError, match="fine_labels"):
        read_cifar_pickles(tmp_path, ["data_batch_1"])


def test_spherical_reads_the_official_pickle_raw_or_scaled(nb360_fixture):
    folder = nb360_fixture("spherical")
    with gzip.open(folder / "s2_cifar100.gz") as handle:
        raw = pickle.load(handle)
    assert raw["train"]["images"].dtype == np.uint8 and raw["train"]["images"].shape == (160, 3, 60, 60)
    data = fixture_task("spherical", folder).load(allow_generate=False)
    assert [len(s) for s in (data.train, data.val, data.test)] == [128, 32, 32] and data.data_source == "fixture"
    torch.testing.assert_close(data.val.inputs[:], torch.from_numpy(raw["train"]["images"][128:]).float())
    unit = fixture_task("spherical", folder, "task.scale=unit").load(allow_generate=False)
    torch.testing.assert_close(unit.test.inputs[:], torch.from_numpy(raw["test"]["images"]).float() / 255)


def test_spherical_is_generated_by_projection_from_a_cifar_copy(tmp_path, nb360_fixture):
    cifar = nb360_fixture("cifar100")
    task = fixture_task("spherical", tmp_path / "s2", f"task.cifar_dir={cifar}", "task.n_train=8", "task.n_val=8",
                        "task.n_test=8")
    data = task.load(allow_generate=True, log=lambda s: None)
    # projected from fixture images, so the run is labelled fixture, never generated
    assert data.data_source == "fixture" and data.train.inputs[:].shape == (8, 3, 60, 60)
    assert (tmp_path / "s2" / "generated" / "s2_cifar100.json").exists() and task.verify()[0].startswith("ok")
    images, labels = raw_cifar(cifar, "train")
    assert data.train.targets.tolist() == labels[:8].tolist()


def test_projection_grid_rotation_and_scaling():
    grid = s2_projection.driscoll_healy_grid(30)
    assert grid.shape == (3, 60, 60) and np.allclose((grid ** 2).sum(0), 1)
    assert np.allclose(grid[2, :, 0], np.cos(np.arange(60) * np.pi / 60))  # beta_j = j pi / 2b
    rotation = s2_projection.random_rotation(np.random.default_rng(0).uniform(size=3))
    assert np.allclose(rotation @ rotation.T, np.eye(3)) and np.isclose(np.linalg.det(rotation), 1)
    images = np.random.default_rng(1).integers(0, 255, (3, 2, 32, 32)).astype(np.uint8)
    out = s2_projection.project_images(images, np.random.default_rng(2))
    assert out.shape == (3, 2, 60, 60) and out.dtype == np.uint8
    assert (out.reshape(6, -1).max(1) == 255).all() and (out.reshape(6, -1).min(1) == 0).all()  # per signal


def test_projection_samples_the_image_where_the_ray_meets_the_plane():
    """The grid point nearest the south pole sees the image centre (the reference interpolates
    between ix - 1 and ix + 1, so a bright centre block, not a single pixel, shows up there)."""
    signal = np.zeros((1, 33, 33))
    signal[0, 14:19, 14:19] = 1.0
    rx, ry = s2_projection.plane_coordinates(s2_projection.driscoll_healy_grid(30))
    sample = s2_projection.sample_bilinear(signal, rx, ry)
    assert np.allclose([rx[59], ry[59]], 0.5, atol=0.02) and (sample[0][59] > 0).all()  # beta nearest pi
    assert sample[0][1:28].sum() == 0  # the upper hemisphere (but the pole itself) falls outside the image
