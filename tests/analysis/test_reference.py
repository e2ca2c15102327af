"""Published numbers: the import, the error form, and the acceptance check of issue 8 computed
independently of the analysis code (plain csv and loops)."""
import csv
import hashlib
import json
from pathlib import Path

import pytest

from nasbench.analysis.profiles import performance_profile
from nasbench.analysis.ranks import average_ranks
from nasbench.analysis.reference import (
    IMPORTED_FILES,
    best_of_kind,
    import_reference,
    load_published,
    published_matrix,
    win_counts,
)
from nasbench.analysis.table import ReportError

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference"
DASH, TABLE2 = "DASH (Shen, Khodak, Talwalkar 2022)", "Table 2 and Appendix A.6"
AUTOMATED = ["WRN-ASHA", "DARTS-GAEA", "DenseNAS", "Auto-DL", "AMBER", "DASH"]  # the issue's list


def table2_by_hand() -> dict[str, dict[str, float]]:
    """task -> method -> value of DASH Table 2, read with the csv module."""
    table: dict[str, dict[str, float]] = {}
    with open(REFERENCE / "published_results.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["source"] == DASH and row["table"] == TABLE2:
                table.setdefault(row["task"], {})[row["method"]] = float(row["value"])
    return table


def test_committed_copies_match_their_recorded_checksums():
    record = json.loads((REFERENCE / "IMPORTED.json").read_text())
    assert sorted(record["files"]) == sorted(IMPORTED_FILES)
    for name in IMPORTED_FILES:
        assert hashlib.sha256((REFERENCE / name).read_bytes()).hexdigest() == record["files"][name], name


def test_import_copies_and_records_checksums(tmp_path):
    copies = import_reference(REFERENCE, tmp_path / "ref")
    assert [p.name for p in copies] == list(IMPORTED_FILES)
    record = json.loads((tmp_path / "ref" / "IMPORTED.json").read_text())
    for path in copies:
        assert record["files"][path.name] == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ReportError, match="(?s)missing .*published_results.csv.*to fix"):
        import_reference(tmp_path / "nowhere", tmp_path / "ref2")


def test_published_values_in_the_error_form():
    published = load_published(REFERENCE).set_index(["source", "table", "method", "task"])
    dash = published.loc[(DASH, TABLE2, "DASH", "cifar100")]
    assert dash["error"] == pytest.approx(0.2437) and dash["error_std"] == pytest.approx(0.0081)
    assert dash["error_name"] == "0-1 error" and dash["label"] == f"published: {DASH}, {TABLE2}"
    assert published.loc[(DASH, TABLE2, "DASH", "darcyflow"), "error"] == pytest.approx(0.0079)
    lra = published.loc[("DNArch (Romero, Zeghidour 2023)", "Table 1", "DNArch_K (CCNN_4,140)", "listops")]
    assert lra["error"] == pytest.approx(1 - 0.5990) and lra["error_name"] == "0-1 error"
    assert published.loc[(DASH, "Table 3", "DASH", "cifar100"), "is_cost"]


def test_dash_has_the_lowest_error_among_automated_methods_on_7_of_10_tasks():
    by_hand = table2_by_hand()
    wins = [task for task, row in by_hand.items()
            if min((v, m) for m, v in row.items() if m in AUTOMATED)[1] == "DASH"]
    assert len(by_hand) == 10 and len(wins) == 7
    published = load_published(REFERENCE)
    automated = sorted(set(published.loc[published["kind"] == "automated", "method"]))
    assert automated == sorted(AUTOMATED)
    best = best_of_kind(published_matrix(published, DASH, TABLE2), automated)
    assert win_counts(best)["DASH"] == 7
    assert sorted(best.loc[best["best"] == "DASH", "task"]) == sorted(wins)


def test_profile_and_ranks_over_table_2_match_an_independent_computation():
    by_hand = table2_by_hand()
    methods = sorted({m for row in by_hand.values() for m in row})
    ratio = {(t, m): row[m] / min(row.values()) if m in row else float("inf")
             for t, row in by_hand.items() for m in methods}
    matrix = published_matrix(load_published(REFERENCE), DASH, TABLE2)
    # every breakpoint, nudged up so that rounding (percent vs fraction) cannot flip a comparison
    taus = sorted({r * (1 + 1e-9) for r in ratio.values() if r != float("inf")} | {float("inf")})
    profile = performance_profile(matrix, taus=taus)
    for tau in taus:
        for method in methods:
            expected = sum(ratio[(t, method)] <= min(tau, 1e300) for t in by_hand) / len(by_hand)
            got = profile[(profile["tau"] == tau) & (profile["method"] == method)]["rho"].item()
            assert got == pytest.approx(expected), (tau, method)
    ranks = {m: 0.0 for m in methods}
    for row in by_hand.values():
        for m in methods:
            mine = row.get(m, float("inf"))
            others = [row.get(o, float("inf")) for o in methods]
            ranks[m] += sum(v < mine for v in others) + (sum(v == mine for v in others) + 1) / 2
    assert average_ranks(matrix).to_dict() == pytest.approx({m: r / len(by_hand) for m, r in ranks.items()})


def test_ranking_ground_truths_follow_the_naming_convention(tmp_path):
    from nasbench.analysis.reference import ranking_ground_truths

    (tmp_path / "space_a_ground_truth.csv").write_text("config,test_accuracy,std\n\"[1, 2, 3]\",90.5,0.1\n")
    (tmp_path / "space_b_ground_truth.csv").write_text("arch,accuracy\nx,1\n")  # lacks the columns: skipped
    (tmp_path / "other.csv").write_text("config,test_accuracy\n[1 1 1],50\n")  # not a ground truth by its name
    truths = ranking_ground_truths(tmp_path)
    assert list(truths) == ["space_a_ground_truth.csv"]
    assert truths["space_a_ground_truth.csv"].to_dict("records") == [{"config": "[1 2 3]", "test_accuracy": 90.5}]
    assert "bms_resnet20_cifar10_pooling_ground_truth.csv" in ranking_ground_truths(REFERENCE)
