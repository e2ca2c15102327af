"""The NAS-Bench-360 metrics, computed as its code computes them: scikit-learn's ``roc_auc_score``,
``average_precision_score`` and ``f1_score`` (NAS-Bench-360 Tu et al., NeurIPS 2022 Datasets and
Benchmarks, arXiv:2110.05668; its ``backbone`` and ``backbone_1d`` evaluation code).

Each function returns the metric itself (accuracy, AUROC, mAP, F1, MAE8); the task's
``MetricSpec`` turns it into the error form of the NAS-Bench-360 tables (0-1 error, 1-AUROC,
1-mAP, 1-F1, MAE8). How NAS-Bench-360 averages:

- DeepSEA: ``calculate_stats`` takes ``roc_auc_score`` per label column on the float32 sigmoid
  outputs, then ``np.mean`` over the labels (a macro mean of per-label AUROC): ``mean_auroc``.
- Cosmic: one ``roc_auc_score`` over every pixel of the test set pooled, of the 0/1 predictions
  ``logits > 0.5`` (a micro AUROC of thresholded outputs): ``thresholded_auroc``.
- FSD50K: ``average_precision_score`` per label column on the sigmoid of the clip's mean logits,
  then the mean over labels (``average="macro"`` in its validation code: the same number):
  ``macro_average_precision``.
- ECG: ``classification_report`` on the per-record majority votes, the mean of the F1 of classes
  0-3 (a macro F1 over the four classes): ``macro_f1``.

Conventions where the reference code is undefined (never the case on the official test sets):
- AUROC of a label with one class only is undefined (scikit-learn warns and returns NaN, older
  versions raise); ``mean_auroc`` leaves such labels out of the mean (ORCA's ``auroc`` takes a
  ``nanmean``).
- Average precision of a class with no positive example is 0 and counts in the macro mean
  (scikit-learn >= 1.1 ``average_precision_score``).
- F1 of a class absent from both truth and prediction is 0 (``zero_division=0``; NAS-Bench-360's
  ``classification_report`` lookup would raise a KeyError).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy (its error form is the 0-1 error)."""
    return (logits.argmax(1) == labels).double().mean().item()


def binary_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """``roc_auc_score`` of one binary label (ties count half); NaN when only one class is present."""
    labels = np.asarray(labels).ravel() > 0
    if labels.all() or not labels.any():
        return float("nan")
    return float(roc_auc_score(labels.astype(np.int32), np.asarray(scores).ravel()))


def mean_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean over label columns of the per-label AUROC (DeepSEA ``test_mAUC``); undefined labels skipped."""
    per_label = np.array([binary_auroc(labels[:, k], scores[:, k]) for k in range(labels.shape[1])])
    return float(np.nanmean(per_label)) if np.isfinite(per_label).any() else float("nan")


def thresholded_auroc(mask: np.ndarray, logits: np.ndarray, threshold: float = 0.5) -> float:
    """Cosmic: AUROC of the 0/1 predictions ``logits > threshold`` against the mask, all pixels
    pooled (NAS-Bench-360 ``roc_auc_score(gts, logits > 0.5)``; ORCA thresholds at 0)."""
    return binary_auroc(np.asarray(mask).ravel(), (np.asarray(logits).ravel() > threshold).astype(np.int32))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """``average_precision_score`` of one binary label (tied scores form one threshold); 0 when the
    label has no positive example."""
    labels = (np.asarray(labels).ravel() > 0).astype(np.int32)
    if not labels.any():
        return 0.0
    return float(average_precision_score(labels, np.asarray(scores).ravel()))


def macro_average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Macro mAP over label columns (``average_precision_score(y, p, average="macro")``); a label
    without positives counts as 0."""
    with warnings.catch_warnings():  # a label without positives: scikit-learn warns and scores 0
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.filterwarnings("ignore", message="No positive class found")
        return float(average_precision_score((np.asarray(labels) > 0).astype(np.int32), np.asarray(scores),
                                             average="macro"))


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
    """Mean over classes 0..classes-1 of F1 (``f1_score(average="macro")`` over those labels; a class
    absent from both truth and prediction scores 0)."""
    return float(f1_score(np.asarray(truth), np.asarray(predicted), labels=list(range(classes)), average="macro",
                          zero_division=0))


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
