"""The search-signal helper: the value of every ``signal_*`` column at initialisation (first row) and
at the end (last row) of the search stage, its summary, and the report section that shows it."""
import io

import pandas as pd
import pytest

from nasbench import schema
from nasbench.analysis.signals import read_signal, search_moved, signal_summary, signal_table
from nasbench.analysis.table import runs_table
from nasbench.report import ReportRequest, build_report

CURVES = ("stage,epoch,train_loss,signal_max_weight,signal_changed,signal_decisions,other\n"
          "search,-1,,0.0625,0,13,\n"
          "search,0,1.5,0.07,3,13,9\n"
          "search,1,1.2,0.09,11,13,9\n"
          "retrain,0,0.9,,,,\n")


def test_signal_table_reads_the_first_and_last_search_rows():
    curves = pd.read_csv(io.StringIO(CURVES))
    table = signal_table(curves).set_index("signal")
    assert list(table.index) == ["max_weight", "changed", "decisions"]  # 'other' is no signal column
    assert table.loc["max_weight", ["at_init", "at_end", "rows"]].tolist() == [0.0625, 0.09, 3]
    assert table.loc["max_weight", "change"] == pytest.approx(0.0275)
    assert table.loc["changed", ["at_init", "at_end"]].tolist() == [0, 11]
    assert signal_table(pd.DataFrame({"stage": ["retrain"], "epoch": [0]})).empty
    assert signal_table(pd.DataFrame()).empty


def test_summary_counts_decisions_and_shows_the_rest_init_to_end():
    summary = signal_summary(signal_table(pd.read_csv(io.StringIO(CURVES))))
    assert summary == {"decisions changed": "11 of 13", "signal": "max_weight 0.0625 -> 0.09"}
    fitness = pd.DataFrame({"stage": "search", "epoch": [3, 4], "signal_best_fitness": [0.3, 0.2]})
    assert signal_summary(signal_table(fitness)) == {"decisions changed": "", "signal": "best_fitness 0.3 -> 0.2"}


def test_search_moved_reads_every_finished_run_and_the_report_shows_it(tmp_path, write):
    searched = write(tmp_path / "r", "darcyflow", "dash", 0, 0.05)
    (searched / schema.CURVES).write_text(CURVES)
    write(tmp_path / "r", "darcyflow", "wrn", 0, 0.09)  # a baseline: no search signal
    assert read_signal(tmp_path / "missing").empty
    moved = search_moved(runs_table(tmp_path / "r"))
    assert moved.to_dict("records") == [{"task": "darcyflow", "method": "dash", "seed": 0,
                                         "decisions changed": "11 of 13", "signal": "max_weight 0.0625 -> 0.09"}]
    md = build_report(ReportRequest(tmp_path / "report", tmp_path / "r", n_boot=20))["md"].read_text()
    section = md[md.index("## Did the search move"):]
    assert "| darcyflow | dash | 0 | 11 of 13 | max_weight 0.0625 -> 0.09 |" in section
