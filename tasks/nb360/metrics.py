"""The NAS-Bench-360 metrics, computed as its code computes them (numpy/scipy, no scikit-learn).

Each function returns the metric itself (accuracy, AUROC, mAP, F1, MAE8); the task's
``MetricSpec`` turns it into the error form of the NAS-Bench-360 tables (0-1 error, 1-AUROC,
1-mAP, 1-F1, MAE8).

Conventions where the reference code is undefined (never the case on the official test sets):
- AUROC of a label with one class only is undefined (scikit-learn raises); ``mean_auroc`` leaves
  such labels out of the mean (ORCA's ``auroc`` takes a ``nanmean``).
- Average precision of a class with no positive example is 0 and counts in the macro mean
  (scikit-learn >= 1.1 ``average_precision_score``; older versions returned NaN).
- F1 of a class absent from both truth and prediction is 0 (scikit-learn ``zero_division=0``;
  NAS-Bench-360's ``classification_report`` lookup would raise a KeyError).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy (its error form is the 0-1 error)."""
    return (logits.argmax(1) == labels).double().mean().item()


def binary_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve with ties counted half (the Mann-Whitney U statistic over
    n_pos * n_neg; equal to scikit-learn's trapezoidal ``roc_auc_score``). NaN for one class."""
    labels = np.asarray(labels).ravel() > 0
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=np.float64).ravel())  # ties get their mean rank
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def mean_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean over label columns of the per-label AUROC (DeepSEA ``test_mAUC``); undefined labels skipped."""
    per_label = np.array([binary_auroc(labels[:, k], scores[:, k]) for k in range(labels.shape[1])])
    return float(np.nanmean(per_label)) if np.isfinite(per_label).any() else float("nan")


def thresholded_auroc(mask: np.ndarray, logits: np.ndarray, threshold: float = 0.5) -> float:
    """Cosmic: AUROC of the 0/1 predictions ``logits > threshold`` against the mask, all pixels
    pooled (NAS-Bench-360 ``roc_auc_score(gts, logits > 0.5)``; ORCA thresholds at 0)."""
    return binary_auroc(np.asarray(mask).ravel(), (np.asarray(logits).ravel() > threshold).astype(np.float64))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Non-interpolated AP = sum over distinct score thresholds of (R_k - R_{k-1}) * P_k, with
    tied scores forming one threshold (scikit-learn's definition). 0 when there is no positive."""
    labels = np.asarray(labels).ravel() > 0
    n_pos = int(labels.sum())
    if n_pos == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64).ravel(), kind="mergesort")
    sorted_scores, hits = np.asarray(scores, dtype=np.float64).ravel()[order], labels[order]
    last_of_tie = np.r_[np.diff(sorted_scores) != 0, True]  # the end of every group of equal scores
    tp = np.cumsum(hits)[last_of_tie]
    seen = np.flatnonzero(last_of_tie) + 1
    precision, recall = tp / seen, tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def macro_average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Macro mAP over label columns (``average_precision_score(y, p, average="macro")``)."""
    return float(np.mean([average_precision(labels[:, k], scores[:, k]) for k in range(labels.shape[1])]))


def group_mean(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique groups, mean of ``values`` rows per group): FSD50K averages the logits of
    all chunks of a clip."""
    keys, inverse = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(keys), *values.shape[1:]), dtype=np.float64)
    np.add.at(sums, inverse, values)
    return keys, sums / np.bincount(inverse)[:, None]


def first_per_group(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The row of the first member of each group, groups in sorted order."""
    _, first = np.unique(groups, return_index=True)
    return values[first]


def majority_vote(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per group (sorted), the most frequent value; a tie goes to the value seen first in the
    group, as ``collections.Counter(...).most_common(1)`` decides (ECG record vote)."""
    votes = []
    for g in np.unique(groups):
        members = values[groups == g]
        kinds, first_seen, counts = np.unique(members, return_index=True, return_counts=True)
        best = counts == counts.max()
        votes.append(kinds[best][np.argmin(first_seen[best])])
    return np.array(votes)


def macro_f1(truth: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    """Mean over ``classes`` of F1 = 2TP / (2TP + FP + FN); 0 for a class with 2TP+FP+FN = 0."""
    scores = []
    for c in range(classes):
        tp = np.sum((predicted == c) & (truth == c))
        wrong = np.sum((predicted == c) != (truth == c))
        scores.append(2 * tp / (2 * tp + wrong) if 2 * tp + wrong else 0.0)
    return float(np.mean(scores))


def ecg_record_f1(logits: np.ndarray, labels: np.ndarray, records: np.ndarray, classes: int = 4) -> float:
    """ECG: window predictions -> per-record majority vote (labels voted alike) -> macro F1."""
    predicted = majority_vote(np.asarray(logits).argmax(1), records)
    truth = majority_vote(np.asarray(labels), records)
    return macro_f1(truth, predicted, classes)


# -- PSICOV ------------------------------------------------------------------------------------
def nb360_distance_prediction(canvas: np.ndarray, length: int, pad: int = 10) -> np.ndarray:
    """The prediction NAS-Bench-360 scores, from the network's map over the padded canvas:
    (1) upper triangle := mean of the two triangles, lower triangle kept (``evaluate_test_protein``);
    (2) values below 0.01 set to 0.01; (3) the pad/2 shift removed; (4) ``calculate_mae`` averages
    the two triangles again, so the scored value at (p, q), q >= p, is (P1[q, p] + P1[p, q]) / 2."""
    half = pad // 2
    p = np.array(canvas, dtype=np.float64)
    p = np.triu((p + p.T) / 2.0) + np.tril(p, -1)
    p = np.maximum(p, 0.01)[half: half + length, half: half + length]
    return (p + p.T) / 2.0


def long_range_mae(pred: np.ndarray, truth: np.ndarray, min_separation: int = 24, max_distance: float = 8.0) -> float:
    """MAE over pairs (p, q) with q - p >= min_separation and true distance <= max_distance
    (``mae_lr_d8``); NaN when no pair qualifies."""
    p_idx, q_idx = np.triu_indices(len(truth), k=min_separation)
    y, y_hat = truth[p_idx, q_idx], pred[p_idx, q_idx]
    keep = ~(y > max_distance) & ~np.isnan(y)  # a NaN distance is dropped by nanmean in the reference
    return float(np.mean(np.abs(y[keep] - y_hat[keep]))) if keep.any() else float("nan")


def psicov_mae8(canvases: list[np.ndarray], truths: list[np.ndarray], pad: int = 10) -> float:
    """MAE8 of a set of proteins: mean over proteins (NaN ones skipped) of the long-range MAE."""
    per_protein = [long_range_mae(nb360_distance_prediction(c, len(y), pad), y) for c, y in zip(canvases, truths)]
    per_protein = np.array(per_protein)
    return float(np.nanmean(per_protein)) if np.isfinite(per_protein).any() else float("nan")
