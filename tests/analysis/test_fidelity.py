"""Ranking fidelity against the suite's own stand-alone runs: tau-b and top-k overlap equal scipy's
and a direct count, the bootstrap interval covers the point estimate, separability is the spread of
means over the seed noise, and the verdict follows the planted growth of tau with M."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from nasbench.analysis.archs import config_key
from nasbench.analysis.document import Document
from nasbench.analysis.fidelity import (
    fidelity_results,
    fidelity_table,
    growth_verdict,
    predicted_scores,
    separability,
    standalone_truth,
    top_k_overlap,
    write_fidelity_study,
)
from nasbench.analysis.table import runs_table
from nasbench.methods.backbones.pooling_resnet import pooling_configurations

CONFIGS = pooling_configurations(10, 2)
TRUE = np.linspace(0.80, 0.90, len(CONFIGS))  # planted ground truth: later configurations are better


@pytest.fixture(scope="module")
def study(tmp_path_factory, write):
    """36 configurations x 2 seeds stand-alone, and supernets with M = 1 (noise) and M = 4 (near truth)."""
    root = tmp_path_factory.mktemp("fidelity") / "results"
    rng = np.random.default_rng(0)
    for i, config in enumerate(CONFIGS):
        for seed in (0, 1):
            accuracy = TRUE[i] + rng.normal(0, 0.002)
            write(root, "fashionmnist", f"pool-{i}", seed, 1 - accuracy,
                  arch={"choices": {"config": list(config)}, "details": {"trained_standalone": True}})
    for models, noise in ((1, 5.0), (4, 0.01)):
        for seed in (0, 1):
            # in the run's metric, an error here (write_run's metric is minimised), as a method records it
            scores = [{"config": list(c), "score": float(1 - TRUE[i] + rng.normal(0, noise * 0.1))}
                      for i, c in enumerate(CONFIGS)]
            write(root, "fashionmnist", f"bms-m{models}", seed, 0.1,
                  arch={"choices": {"config": [7, 1, 2]}, "details": {"models": models, "supernet_scores": scores}})
    return runs_table(root)


def test_truth_and_predictions_are_read_from_the_records(study):
    truth, pred = standalone_truth(study), predicted_scores(study)
    assert len(truth) == 72 and set(truth["config"]) == {config_key(c) for c in CONFIGS}
    assert truth["score"].between(-0.21, -0.09).all()  # 0-1 error negated: larger is better
    assert len(pred) == 4 * 36 and set(pred["models"]) == {1.0, 4.0}


def test_tau_and_top_k_match_scipy_and_a_direct_count(study):
    truth, pred = standalone_truth(study), predicted_scores(study)
    table, replicates = fidelity_table(pred, truth, k=5, n_boot=200)
    assert list(table["M"]) == [1.0, 4.0]
    for row in table.itertuples():
        mine = pred[pred["method"] == row.method].groupby("config")["score"].mean()
        true = truth.groupby("config")["score"].mean()
        expected = kendalltau(mine[true.index], true, variant="b").statistic
        assert row.tau_b == pytest.approx(expected, abs=1e-12)
        assert row.tau_ci_low <= row.tau_b <= row.tau_ci_high
        overlap = len(set(mine.nlargest(5).index) & set(true.nlargest(5).index)) / 5
        assert row.top5_overlap == pytest.approx(overlap)
    assert table.loc[table["M"] == 4, "tau_b"].item() > 0.9 > 0.3 > table.loc[table["M"] == 1, "tau_b"].item()
    verdict = growth_verdict(table, replicates)
    assert len(verdict) == 1 and "grows with M" in verdict[0] and "is supported" in verdict[0]


def test_top_k_overlap_and_separability_by_hand():
    assert top_k_overlap([5, 4, 3, 2, 1], [1, 2, 3, 4, 5], k=2) == 0.0
    assert top_k_overlap([5, 4, 3, 2, 1], [5, 3, 4, 1, 2], k=3) == 1.0
    assert np.isnan(top_k_overlap([1, 2], [1, 2], k=3))
    truth = pd.DataFrame({"task": "t", "config": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1],
                          "score": [0.80, 0.82, 0.90, 0.94]})
    row = separability(truth).iloc[0]
    noise = np.sqrt((np.var([0.80, 0.82], ddof=1) + np.var([0.90, 0.94], ddof=1)) / 2)
    assert row["seed_noise"] == pytest.approx(noise)
    assert row["spread_of_means"] == pytest.approx(np.std([0.81, 0.92], ddof=1))
    assert row["spread_over_sem"] == pytest.approx(np.std([0.81, 0.92], ddof=1) / (noise / np.sqrt(2)))
    assert row["best"] == "b"


def test_report_part_is_written_with_published_ground_truth_beside(study, tmp_path):
    doc = Document(tmp_path / "figures")
    published = pd.DataFrame({"config": [config_key(c) for c in CONFIGS], "test_accuracy": np.arange(36.0)})
    results = fidelity_results(study, n_boot=50)
    write_fidelity_study(doc, results, {"other.csv": published.head(1), "bms.csv": published})
    tables = [value for kind, value in doc.blocks if kind == "table"]
    assert any("published: bms.csv" in repr(value) for value in tables)  # the matching one, labelled
    assert (tmp_path / "figures" / "fidelity.png").is_file()
    assert results.verdict() and all(sentence in repr(doc.blocks) for sentence in results.verdict())
    assert fidelity_results(study[study["method"].str.startswith("bms")]) is None  # no stand-alone truth


def test_the_verdict_says_when_tau_rises_from_the_smallest_to_the_largest_m_but_not_monotonically():
    table = pd.DataFrame({"task": "t", "method": ["m1", "m2", "m4"], "M": [1.0, 2.0, 4.0], "seeds": 2,
                          "truth_seeds": 2, "tau_b": [-0.05, -0.08, 0.10],
                          "tau_ci_low": [-0.11, -0.23, 0.005], "tau_ci_high": [0.05, 0.21, 0.17]})
    replicates = {("t", m): np.array([[v, 0.0]] * 4) for m, v in zip(table["method"], table["tau_b"])}
    verdict = growth_verdict(table, replicates)[0]
    assert "higher at the largest M than at the smallest, but not monotone in M" in verdict
    assert "intervals of the smallest and largest M overlap" in verdict and "coarse" in verdict
    assert "not supported with confidence" in verdict
