"""Cosmic from fixture tars (and their extracted trees): selection, crop, sky augmentation, loss."""
import io
import tarfile

import numpy as np
import pytest
import torch
from nb360_helpers import fixture_task

from nasbench.errors import CorruptDataError
from nasbench.tasks.common.members import open_members
from nasbench.tasks.nb360.cosmic import deepcr_parts, selected_patches


def tar_npy(path, name):
    with tarfile.open(path) as tar:
        return np.load(io.BytesIO(tar.extractfile(name).read()))


def test_selection_keeps_f435w_gal_fields_sorted(nb360_fixture):
    members = open_members(nb360_fixture("cosmic") / "deepCR.ACS-WFC.train.tar")
    chosen = selected_patches(members, "train")
    assert len(chosen) == 20 and chosen == sorted(chosen)
    assert all("/f435w/" in n and ("/10760/2/" in n or "/13737/2/" in n) for n in chosen)
    assert not any(n.endswith("sky.npy") for n in chosen)  # GC field 10595_2 and f814w are skipped


def test_split_by_position_as_deepcr():
    names = [f"p{i:02d}" for i in range(20)]
    train, val = deepcr_parts(names, 0.1)
    assert train == names[:18] and val == names[18:]
    assert deepcr_parts(["a"], 0.1) == (["a"], ["a"])  # max(1, .) and min(n - 1, .) as the reference


def test_crop_sky_and_targets(nb360_fixture):
    folder = nb360_fixture("cosmic")
    task = fixture_task("cosmic", folder, "task.n_val=None")
    data = task.load(allow_generate=False)
    assert [len(s) for s in (data.train, data.val, data.test)] == [16, 2, 4] and data.data_source == "fixture"
    name = selected_patches(open_members(folder / "deepCR.ACS-WFC.test.tar"), "test")[0]
    raw = tar_npy(folder / "deepCR.ACS-WFC.test.tar", name)
    assert raw.shape == (3, 256, 256) and raw.dtype == np.float32
    sky = tar_npy(folder / "deepCR.ACS-WFC.test.tar", name.rsplit("/", 1)[0] + "/sky.npy")
    k = int(name.rsplit("/", 1)[1].split("_")[0])
    factor = np.random.default_rng(task.config.sky_seed + 2).uniform(-0.9, 3.0, 4)[0]  # test: fixed draws
    expected = raw[0, 64:192, 64:192] + np.float32(sky[k - 1] * factor)
    torch.testing.assert_close(data.test.inputs[:1][0, 0], torch.from_numpy(expected.astype(np.float32)))
    assert torch.equal(data.test.targets[0], torch.from_numpy(raw[1:, 64:192, 64:192]))
    x1, _ = next(data.train.batches(4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    x2, _ = next(data.train.batches(4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(x1, x2) and x1.shape == (4, 1, 128, 128)  # seeded, so reproducible


def test_extracted_tree_reads_the_same_as_the_tar(tmp_path, nb360_fixture):
    task = fixture_task("cosmic", tmp_path, "task.n_val=None")
    task.write_fixture(tmp_path, seed=0, extracted=True)
    from_tree = task.load(allow_generate=False)
    from_tar = fixture_task("cosmic", nb360_fixture("cosmic"), "task.n_val=None").load(allow_generate=False)
    assert torch.equal(from_tree.test.inputs[:], from_tar.test.inputs[:])
    assert torch.equal(from_tree.val.targets, from_tar.val.targets)


def test_unknown_field_is_an_error(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 256, 256), np.float32))
    folder = tmp_path / "npy_train" / "f435w" / "99999" / "1"
    folder.mkdir(parents=True)
    (tmp_path / "x.npy").rename(folder / "1_000.npy")
    with pytest.raises(CorruptDataError, match="99999_1"):
        selected_patches(open_members(tmp_path), "train")


def test_loss_masks_ignored_pixels_and_metric_thresholds_logits(nb360_fixture):
    task = fixture_task("cosmic", nb360_fixture("cosmic"))
    target = torch.zeros(1, 2, 2, 2)
    target[0, 0, 0, 0] = 1  # a cosmic-ray pixel
    target[0, 1, 1, 1] = 1  # an ignored pixel
    logits = torch.full((1, 1, 2, 2), -2.0)
    expected = (torch.nn.functional.softplus(torch.tensor(2.0)) + 2 * torch.nn.functional.softplus(torch.tensor(-2.0))
                + np.log(2)) / 4
    assert task.loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)
    from nasbench.contracts import Split

    split = Split("val", torch.zeros(1, 1, 2, 2), target)
    logits[0, 0, 0, 0] = 0.6  # above the 0.5 logit threshold: TPR 1, FPR 0
    assert task.score(logits, split) == pytest.approx(1.0)
    logits[0, 0, 0, 0] = 0.4
    assert task.score(logits, split) == pytest.approx(0.5)
