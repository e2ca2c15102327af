"""FSD50K: WAV reading, the log-mel features against torch's STFT, and the loader on a fixture zip."""
import csv
import io
import zipfile

import numpy as np
import pytest
import torch
from nb360_helpers import fixture_task

from nasbench.tasks.nb360 import audio, metrics


def test_wav_round_trip_and_tiling():
    samples = np.sin(np.linspace(0, 40, 1000)) * 0.5
    read, rate = audio.read_wav(audio.write_wav(samples))
    assert rate == 22050 and np.allclose(read, samples, atol=1 / 32768)
    tiled = audio.tile_to(np.arange(4.0), 10)
    assert tiled.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_power_spectrogram_equals_torch_stft_with_torchaudio_settings():
    x = np.random.default_rng(0).normal(0, 0.1, 22050)
    window = torch.hann_window(661, periodic=True, dtype=torch.float64)
    reference = torch.stft(torch.from_numpy(x), 1920, hop_length=220, win_length=661, window=window, center=True,
                           pad_mode="reflect", return_complex=True).abs() ** 2
    ours = audio.power_spectrogram(x)
    assert ours.shape == (961, 101)
    np.testing.assert_allclose(ours, reference.numpy(), rtol=1e-9, atol=1e-12)


def test_mel_filterbank_is_the_htk_triangles():
    bank = audio.mel_filterbank()
    freqs = np.linspace(0, 11025, 961)
    edges = 700 * (10 ** (np.linspace(0, 2595 * np.log10(1 + 11025 / 700), 98) / 2595) - 1)
    for m in (0, 40, 95):  # each filter written out: rises from edge m to m+1, falls to m+2
        lo, mid, hi = edges[m: m + 3]
        expected = [max(0.0, min((f - lo) / (mid - lo), (hi - f) / (hi - mid))) for f in freqs]
        np.testing.assert_allclose(bank[:, m], expected, atol=1e-12)


def test_log_mel_clips_at_80_db_below_the_peak_and_is_zero_mean():
    t = np.arange(22050) / 22050
    features = audio.log_mel(np.sin(2 * np.pi * 1000 * t) * np.exp(-8 * t))
    assert features.shape == (96, 101) and features.dtype == np.float32
    assert abs(features.mean()) < 1e-4 and features.max() - features.min() == pytest.approx(80.0, abs=1e-3)


def test_loader_groups_chunks_by_clip_and_resolves_manifest_paths(nb360_fixture):
    folder = nb360_fixture("fsd50k")
    with zipfile.ZipFile(folder / "audio.zip") as archive:
        rows = list(csv.DictReader(io.TextIOWrapper(archive.open("chunks/eval.csv"))))
        first = min(rows, key=lambda r: int(r["ext"]))
        wav = archive.read(first["files"].split("/data/", 1)[1])
    assert first["files"].startswith("/home/")  # absolute paths of another machine in the manifest
    task = fixture_task("fsd50k", folder)
    data = task.load(allow_generate=False)
    clips = [len(np.unique(data.val.meta["clip"])), len(np.unique(data.test.meta["clip"]))]
    assert clips + [len(data.train)] == [8, 8, 32]
    assert len(data.test) == len(rows) and data.test.inputs.shape[1:] == (1, 96, 101)
    samples, _ = audio.read_wav(wav)
    np.testing.assert_allclose(data.test.inputs[:1][0, 0].numpy(), audio.log_mel(audio.tile_to(samples)), rtol=1e-5)
    assert data.test.targets.shape == (len(rows), 200) and data.test.targets[0].sum() == len(first["labels"].split(","))


def test_training_items_are_one_random_chunk_per_clip(nb360_fixture):
    task = fixture_task("fsd50k", nb360_fixture("fsd50k"))
    data = task.load(allow_generate=False)
    x1, y1 = next(data.train.batches(32, shuffle=True, generator=torch.Generator().manual_seed(0)))
    x2, _ = next(data.train.batches(32))
    assert x1.shape == x2.shape == (32, 1, 96, 101) and y1.shape == (32, 200)
    assert not torch.allclose(x1.sort(0).values, x2.sort(0).values)  # augmented and re-drawn chunks


def test_score_averages_chunk_logits_per_clip(nb360_fixture):
    task = fixture_task("fsd50k", nb360_fixture("fsd50k"))
    test = task.load(allow_generate=False).test
    clips = np.asarray(test.meta["clip"])
    logits = torch.randn(len(test), 200, generator=torch.Generator().manual_seed(1))
    _, mean = metrics.group_mean(logits.double().numpy(), clips)
    expected = metrics.macro_average_precision(metrics.first_per_group(test.targets.numpy(), clips),
                                               torch.sigmoid(torch.from_numpy(mean).float()).numpy())
    assert task.score(logits, test) == pytest.approx(expected)
    perfect = test.targets * 10 - 5
    labelled = test.targets.sum(0) > 0
    assert task.score(perfect, test) == pytest.approx(labelled.float().mean().item())  # AP 1 where positives exist
