"""The CIFAR tasks (NAS-Bench-360 protocol ``cifar10``; DNArch protocol ``cifar10-dnarch``,
``cifar100-dnarch``) and LRA Image on fixtures in the official pickle layout."""
from __future__ import annotations

import pickle
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.cifar.cifar import CIFAR10, CIFAR100, Cifar10, Cifar10DNArch, Cifar100DNArch, CifarConfig
from nasbench.tasks.lra.image import Image, ImageConfig, rgb_to_grey


def raw_batches(root, source):
    """Images and labels read independently of the suite's reader (the archive or the folder)."""
    names = list(source.train) + list(source.test)
    if (root / source.folder).is_dir():
        batches = {n: pickle.loads((root / source.folder / n).read_bytes(), encoding="bytes") for n in names}
    else:
        with tarfile.open(root / source.archive) as tar:
            batches = {n: pickle.loads(tar.extractfile(f"{source.folder}/{n}").read(), encoding="bytes") for n in names}
    key = source.label_key.encode()

    def join(group):
        return (np.concatenate([batches[n][b"data"] for n in group]).reshape(-1, 3, 32, 32),
                np.concatenate([batches[n][key] for n in group]))

    return join(source.train), join(source.test)


@pytest.fixture(scope="module")
def cifar10_archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar10")
    Cifar10(Cifar10.default_config("smoke")).write_fixture(root, seed=0, n_train=300, n_test=40)
    return root


def normalised(images, source):
    mean, std = np.array(source.mean).reshape(1, 3, 1, 1), np.array(source.std).reshape(1, 3, 1, 1)
    return torch.tensor((images / 255.0 - mean) / std, dtype=torch.float32)


def test_nb360_protocol_splits_by_position_and_normalises(cifar10_archive):
    task = Cifar10(CifarConfig(n_train=200, n_val=60, n_test=40, data_dir=str(cifar10_archive)))
    data = task.load()
    (train_x, train_y), (test_x, test_y) = raw_batches(cifar10_archive, CIFAR10)
    assert data.data_source == "fixture" and [len(s) for s in (data.train, data.val, data.test)] == [200, 60, 40]
    assert data.val.targets.tolist() == train_y[240:300].tolist()  # the last 20 % of the training images
    assert data.train.targets.tolist() == train_y[:200].tolist() and data.test.targets.tolist() == test_y.tolist()
    torch.testing.assert_close(next(data.val.batches(60))[0], normalised(train_x[240:300], CIFAR10))
    assert task.shape.input_size == (32, 32) and task.shape.num_outputs == 10
    assert Cifar10.default_config("paper").augment and not Cifar10DNArch.default_config("paper").augment


def test_dnarch_protocol_is_s4s_random_split(cifar10_archive):
    data = Cifar10DNArch(CifarConfig(data_dir=str(cifar10_archive))).load()
    (train_x, train_y), _ = raw_batches(cifar10_archive, CIFAR10)
    seed42 = torch.Generator().manual_seed(42)
    train_idx, val_idx = torch.utils.data.random_split(range(300), [270, 30], generator=seed42)
    assert [len(data.train), len(data.val), len(data.test)] == [270, 30, 40]
    assert data.val.targets.tolist() == train_y[list(val_idx)].tolist()
    assert data.train.targets.tolist() == train_y[list(train_idx)].tolist()


def test_cifar100_from_the_extracted_folder(tmp_path):
    task = Cifar100DNArch(CifarConfig(n_train=100, n_val=20, n_test=30, data_dir=str(tmp_path)))
    task.write_fixture(tmp_path, seed=1, n_train=200, n_test=30, extracted=True)
    data = task.load()
    (train_x, train_y), _ = raw_batches(tmp_path, CIFAR100)
    assert task.shape.num_outputs == 100 and set(data.train.targets.tolist()) <= {3, 27, 51, 75}
    order = torch.randperm(200, generator=torch.Generator().manual_seed(42))
    torch.testing.assert_close(next(data.val.batches(20))[0], normalised(train_x[order[180:200].numpy()], CIFAR100))


def test_missing_and_short_data_are_reported(tmp_path, cifar10_archive):
    with pytest.raises(MissingDataError) as info:
        Cifar10(CifarConfig(data_dir=str(tmp_path))).load()
    assert str(tmp_path / "cifar-10-python.tar.gz") in str(info.value) and CIFAR10.url in str(info.value)
    with pytest.raises(CorruptDataError) as info:
        Cifar10(CifarConfig(n_val=61, data_dir=str(cifar10_archive))).load()
    assert "holds 60 validation examples, the configuration asks for 61" in str(info.value)


def test_grey_levels_match_pillow():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    expected = np.stack([np.asarray(PILImage.fromarray(im.transpose(1, 2, 0)).convert("L")) for im in images])
    np.testing.assert_array_equal(rgb_to_grey(images), expected)


def test_lra_image_reads_the_cifar10_files(cifar10_archive):
    data = Image(ImageConfig(n_train=100, n_val=30, n_test=40, data_dir=str(cifar10_archive))).load()
    (train_x, train_y), _ = raw_batches(cifar10_archive, CIFAR10)
    _, val_idx = torch.utils.data.random_split(range(300), [270, 30], generator=torch.Generator().manual_seed(42))
    expected = (rgb_to_grey(train_x[list(val_idx)]).reshape(30, 1, 1024).astype(np.float32) - 122.6) / 61.0
    assert data.val.inputs.shape == (30, 1, 1024) and data.data_source == "fixture"
    torch.testing.assert_close(data.val.inputs, torch.from_numpy(expected))
    assert data.val.targets.tolist() == train_y[list(val_idx)].tolist()
    tokens = Image(ImageConfig(n_train=10, n_val=5, n_test=5, encoding="tokens", data_dir=str(cifar10_archive)))
    assert tokens.shape.vocab_size == 256 and tokens.load().train.inputs.dtype == torch.int64


def test_one_copy_of_the_files_serves_every_cifar10_task(monkeypatch, tmp_path):
    monkeypatch.setenv("NASBENCH_DATA", str(tmp_path))
    folders = {cls(cls.default_config("smoke")).data_dir() for cls in (Cifar10, Cifar10DNArch, Cifar100DNArch)}
    assert folders == {tmp_path / "cifar"} and Image(Image.default_config("smoke")).data_dir() == tmp_path / "cifar"


def test_verify_reads_every_batch_and_checks_official_archives(cifar10_archive, tmp_path):
    lines = Image(ImageConfig(data_dir=str(cifar10_archive))).verify()
    assert lines[-1].endswith("(300 training and 40 test images read)")
    (tmp_path / "cifar-10-python.tar.gz").write_bytes((cifar10_archive / "cifar-10-python.tar.gz").read_bytes())
    with pytest.raises(CorruptDataError) as info:  # no fixture marker: the published md5 must hold
        Cifar10(CifarConfig(data_dir=str(tmp_path))).verify()
    assert f"expected {CIFAR10.md5}" in str(info.value)
