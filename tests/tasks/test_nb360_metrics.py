"""The NAS-Bench-360 metrics and losses against hand computations and scipy on the same inputs."""
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import mannwhitneyu

from nasbench.tasks.nb360 import metrics
from nasbench.tasks.nb360.losses import focal_loss, masked_bce, weighted_bce


# -- AUROC -------------------------------------------------------------------------------------
def test_auroc_by_hand_with_a_tie():
    # positive/negative pairs: (0.9, 0.9) tie -> 1/2, (0.9, 0.1) -> 1, (0.4, 0.9) -> 0, (0.4, 0.1) -> 1
    assert metrics.binary_auroc(np.array([1, 0, 1, 0]), np.array([0.9, 0.9, 0.4, 0.1])) == pytest.approx(2.5 / 4)


def test_auroc_equals_mann_whitney_u_over_pair_count():
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounding makes many ties
    u = mannwhitneyu(scores[labels], scores[~labels]).statistic
    assert metrics.binary_auroc(labels, scores) == pytest.approx(u / (labels.sum() * (~labels).sum()))


def test_mean_auroc_leaves_out_labels_without_both_classes():
    labels = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]])
    scores = np.array([[0.9, 0.1, 0.2], [0.2, 0.4, 0.3], [0.8, 0.3, 0.1], [0.1, 0.2, 0.4]])
    assert np.isnan(metrics.binary_auroc(labels[:, 1], scores[:, 1]))
    assert metrics.mean_auroc(labels, scores) == pytest.approx(1.0)  # only column 0 is defined
    assert np.isnan(metrics.mean_auroc(labels[:, 1:], scores[:, 1:]))


def test_thresholded_auroc_is_the_mean_of_tpr_and_tnr():
    rng = np.random.default_rng(1)
    mask = rng.random((3, 16, 16)) < 0.1
    logits = rng.normal(mask * 1.5, 1.0)
    predicted = logits > 0.5
    tpr = (predicted & mask).sum() / mask.sum()
    tnr = (~predicted & ~mask).sum() / (~mask).sum()
    assert metrics.thresholded_auroc(mask, logits, 0.5) == pytest.approx((tpr + tnr) / 2)
    assert metrics.thresholded_auroc(mask, np.zeros_like(logits), 0.5) == pytest.approx(0.5)  # constant = chance


# -- average precision -------------------------------------------------------------------------
def test_average_precision_by_hand():
    # ranked: P (p 1, r 1/2), N, P (p 2/3, r 1) -> 1/2 * 1 + 1/2 * 2/3
    assert metrics.average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5 + 1 / 3)


def test_average_precision_treats_tied_scores_as_one_threshold():
    # 0.9 (P): p 1, r 1/2; the tie at 0.5 (P, N): p 2/3, r 1
    assert metrics.average_precision([1, 0, 1, 0], [0.9, 0.2, 0.5, 0.5]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert metrics.average_precision([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.5)  # prevalence


def test_macro_map_counts_a_label_without_positives_as_zero():
    labels = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    scores = np.array([[0.9, 0.1], [0.2, 0.3], [0.5, 0.5], [0.5, 0.2]])
    assert metrics.average_precision(labels[:, 1], scores[:, 1]) == 0.0
    assert metrics.macro_average_precision(labels, scores) == pytest.approx((0.5 + 0.5 * 2 / 3) / 2)


def test_clip_average_and_first_label_per_clip():
    logits = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    clips = np.array([7, 7, 2])
    keys, means = metrics.group_mean(logits, clips)
    assert keys.tolist() == [2, 7] and means.tolist() == [[5.0, 5.0], [2.0, 1.0]]
    assert metrics.first_per_group(np.array([10, 11, 12]), clips).tolist() == [12, 10]


# -- ECG vote and F1 ---------------------------------------------------------------------------
def test_majority_vote_breaks_ties_like_counter_most_common():
    values, groups = np.array([2, 1, 1, 2, 3, 0, 0, 3]), np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert metrics.majority_vote(values, groups).tolist() == [2, 3]  # first seen wins a tie
    rng = np.random.default_rng(2)
    values, groups = rng.integers(0, 4, 400), rng.integers(0, 40, 400)
    expected = [Counter(values[groups == g].tolist()).most_common(1)[0][0] for g in np.unique(groups)]
    assert metrics.majority_vote(values, groups).tolist() == expected


def test_macro_f1_by_hand():
    truth, predicted = np.array([0, 0, 1, 2, 3]), np.array([0, 1, 1, 2, 2])
    # class 0: 2*1/(2+0+1); class 1: 2/(2+1); class 2: 2/(2+1); class 3: 0 (never predicted)
    assert metrics.macro_f1(truth, predicted, 4) == pytest.approx((2 / 3 * 3 + 0) / 4)
    assert metrics.macro_f1(np.array([0, 0]), np.array([0, 0]), 4) == pytest.approx(0.25)  # absent classes: 0


def test_ecg_record_f1_votes_windows_then_scores_records():
    logits = np.eye(4)[[0, 0, 1, 2, 2, 1, 3]] * 5
    labels = np.array([0, 0, 0, 2, 2, 2, 3])
    records = np.array([5, 5, 5, 9, 9, 9, 11])
    # records vote 0, 2, 3 against truth 0, 2, 3 -> F1 1 for classes 0, 2, 3 and 0 for absent class 1
    assert metrics.ecg_record_f1(logits, labels, records) == pytest.approx(3 / 4)


# -- PSICOV MAE8 -------------------------------------------------------------------------------
def reference_mae8(canvas: np.ndarray, truth: np.ndarray, pad: int = 10) -> float:
    """The reference procedure written out with loops: symmetrise the upper triangle, clamp at
    0.01, shift by pad/2, average the triangles again, mask q - p < 24 and y > 8."""
    p = canvas.copy()
    n = len(p)
    for j in range(n):
        for k in range(j, n):
            p[j, k] = (p[k, j] + p[j, k]) / 2.0
    p[p < 0.01] = 0.01
    half, length = pad // 2, len(truth)
    p[: n - pad, : n - pad] = p[half: n - half, half: n - half]
    pavg = np.full((length, length), 100.0)
    for j in range(length):
        for k in range(j, length):
            pavg[j, k] = (p[k, j] + p[j, k]) / 2.0
    errors = [abs(truth[a, b] - pavg[a, b]) for a in range(length) for b in range(length)
              if b - a >= 24 and not truth[a, b] > 8]
    return float(np.mean(errors)) if errors else float("nan")


def test_mae8_equals_the_reference_loops():
    rng = np.random.default_rng(3)
    for length in (30, 45):
        truth = rng.uniform(3, 20, (length, length))
        truth = (truth + truth.T) / 2
        canvas = rng.uniform(-1, 20, (64, 64))
        got = metrics.long_range_mae(metrics.nb360_distance_prediction(canvas, length), truth)
        assert got == pytest.approx(reference_mae8(canvas, truth))


def test_mae8_by_hand_on_a_constant_prediction():
    truth = np.full((26, 26), 20.0)
    truth[0, 24], truth[0, 25], truth[1, 25] = 4.0, 7.0, 9.0  # the only pairs 24 apart; 9 > 8 is dropped
    canvas = np.full((40, 40), 5.0)
    assert metrics.psicov_mae8([canvas], [truth]) == pytest.approx((1.0 + 2.0) / 2)
    assert np.isnan(metrics.long_range_mae(np.zeros((20, 20)), np.ones((20, 20))))  # no pair 24 apart


def test_mae8_averages_proteins_and_skips_undefined_ones():
    truth = np.full((26, 26), 6.0)
    far = np.full((20, 20), 6.0)
    assert metrics.psicov_mae8([np.full((40, 40), 5.0), np.full((30, 30), 0.0)], [truth, far]) == pytest.approx(1.0)


# -- losses ------------------------------------------------------------------------------------
def test_focal_loss_is_cross_entropy_at_gamma_zero_and_matches_the_formula():
    logits, labels = torch.randn(6, 18, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 3, 17, 5, 5, 9])
    assert focal_loss(logits, labels).item() == pytest.approx(F.cross_entropy(logits, labels).item(), abs=1e-6)
    p = F.softmax(logits, 1)[torch.arange(6), labels]
    expected = (-(1 - p) ** 2 * torch.log(p + 1e-9)).mean()
    assert focal_loss(logits, labels, gamma=2.0).item() == pytest.approx(expected.item(), rel=1e-5)


def test_masked_bce_counts_ignored_pixels_as_log_two():
    logits, mask = torch.full((1, 2, 2), 3.0), torch.ones(1, 2, 2)
    ignore = torch.tensor([[[0.0, 1.0], [1.0, 1.0]]])
    expected = (F.softplus(torch.tensor(-3.0)) + 3 * torch.log(torch.tensor(2.0))) / 4
    assert masked_bce(logits, mask, ignore).item() == pytest.approx(expected.item(), rel=1e-6)


def test_weighted_bce_weights_positive_terms():
    logits, targets = torch.tensor([[0.3, -1.2]]), torch.tensor([[1.0, 0.0]])
    expected = (4 * F.softplus(torch.tensor(-0.3)) + F.softplus(torch.tensor(-1.2))) / 2
    assert weighted_bce(logits, targets, 4.0).item() == pytest.approx(expected.item(), rel=1e-6)
    assert weighted_bce(logits, targets, None).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, targets).item())
