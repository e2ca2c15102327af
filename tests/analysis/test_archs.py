"""Found architectures are shown the way their method says (describe_record / draw_record through the
registry); an unknown method, an import failure or a record the method cannot read gives a row that
says so, never an exception."""
import pandas as pd
from matplotlib.figure import Figure

from nasbench.analysis.archs import NOTE, config_key, describe, draw, supernet_scores
from nasbench.contracts import SearchMethod
from nasbench.registry import methods

DNARCH_RECORD = {  # the shape of methods/dnarch/record.py
    "backbone": "dnarch-ccnn_4_140",
    "choices": {"depth": 2, "complexity_ratio": 1.0123, "blocks": [
        {"kernel_size": [9, 7], "resolution": [32, 32], "width": [142, 139, 145], "materialised": {"kernel": [9, 7]}},
        {"kernel_size": [5, 5], "resolution": [16, 16], "width": [145, 150, 160], "materialised": {"kernel": [5, 5]}}]},
}
DASH_RECORD = {"backbone": "wrn-16-4", "choices": {"kernels": [[3, 1], [7, 4]], "dims": 2, "depth": 16},
               "details": {"layers": [{"name": "conv1", "k": 3, "d": 1}, {"name": "block1.conv1", "k": 7, "d": 4}]}}


def test_rows_come_from_the_methods():
    assert describe("dnarch", DNARCH_RECORD) == {
        "depth": 2, "kernel sizes": "9x7 5x5", "resolutions": "32x32 16x16",
        "widths (in/mid/out)": "142/139/145 145/150/160", "C_curr/C_target": 1.012}
    assert describe("dash", DASH_RECORD) == {"backbone": "wrn-16-4", "kernels (k x d)": "3x1 7x4",
                                             "largest receptive field": 25}
    assert describe("wrn", {"backbone": "wrn-16-4", "choices": {"depth": 16, "widen": 4, "dims": 2}}) == {
        "backbone": "wrn-16-4", "searchable convolutions": 13, "kernels": "fixed"}


def test_figures_come_from_the_methods():
    ax = Figure().subplots()
    assert draw("dash", DASH_RECORD, ax) is None
    assert [p.get_height() for p in ax.patches] == [3.0, 7.0, 1.0, 4.0]  # k bars, then d bars
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "block1.conv1"]
    ax = Figure().subplots()
    assert draw("dnarch", DNARCH_RECORD, ax) is None
    assert {line.get_label() for line in ax.get_lines()} == {"kernel_size_0", "kernel_size_1", "resolution_0",
                                                             "resolution_1"}


class Broken(SearchMethod):
    name = "broken-describer"
    citation = "tests"
    Config = dict

    @classmethod
    def default_config(cls, budget, task):
        return {}

    @classmethod
    def describe_record(cls, record):
        return {"layers": record["choices"]["layers"]}

    def search(self, ctx):
        return {}

    def retrain(self, ctx, arch, hparams):
        return None


def test_unknown_failing_or_silent_methods_give_a_reason_not_an_exception():
    assert "not available here" in describe("no-such-method", DASH_RECORD)[NOTE]
    assert "not available here" in draw("no-such-method", DASH_RECORD, Figure().subplots())
    assert describe("dash", None) == {NOTE: "no arch.json recorded"}
    assert "dash.describe_record failed on this record: KeyError" in describe("dash", {"choices": {}})[NOTE]
    methods.register(Broken)
    try:
        assert describe("broken-describer", {"choices": {"layers": [1, 2]}}) == {"layers": "[1,2]"}
        assert "KeyError" in describe("broken-describer", {})[NOTE]
        assert draw("broken-describer", {}, Figure().subplots()) == "broken-describer draws no figure of its records"
    finally:
        methods.unregister("broken-describer")


def test_supernet_scores_and_config_keys():
    assert config_key([4, 3, 3]) == config_key("[4 3 3]") == config_key("4,3,3") == "[4 3 3]"
    scores = supernet_scores({"details": {"supernet_scores": [{"config": [4, 3, 3], "score": 0.9}]}})
    pd.testing.assert_frame_equal(scores, pd.DataFrame({"config": ["[4 3 3]"], "supernet": [0.9]}))
    assert supernet_scores({"details": {}}) is None
