"""Reading found architectures from arch.json records in the shapes the methods write."""
import pandas as pd

from nasbench.analysis.archs import config_key, found_architecture, supernet_scores

DNARCH_RECORD = {  # the shape of methods/dnarch/record.py: blocks under choices, float mask parameters in details
    "backbone": "dnarch-ccnn_4_140",
    "choices": {"depth": 2, "complexity_ratio": 1.01, "blocks": [
        {"kernel_size": [9, 7], "resolution": [32, 32], "width": [142, 139, 145], "materialised": {"kernel": [9, 7]}},
        {"kernel_size": [5, 5], "resolution": [16, 16], "width": [145, 150, 160], "materialised": {"kernel": [5, 5]}}]},
    "details": {"depth_size": 1.7, "mask_parameters": {"depth": [2.0, 1.0], "width": [[0.5, 0.2]]},
                "kernel_network": {"hidden": 32, "layers": 3}},
}
DASH_RECORD = {"details": {"layers": [{"name": "conv1", "k": 3, "d": 1, "receptive_field": 3, "probs": [0.9, 0.1]},
                                      {"name": "block1.conv1", "k": 7, "d": 4, "receptive_field": 25, "probs": [0.2]}]},
               "search_space": {"K": [3, 5, 7], "D": [1, 2, 4]}}


def test_dnarch_blocks_per_axis_and_widths():
    kind, blocks = found_architecture(DNARCH_RECORD)
    assert kind == "blocks"
    assert blocks[["kernel_size_0", "kernel_size_1", "resolution_0", "width_in", "width_mid", "width_out"]].to_numpy().tolist() == [
        [9, 7, 32, 142, 139, 145], [5, 5, 16, 145, 150, 160]]


def test_dash_layers_with_receptive_field():
    kind, layers = found_architecture(DASH_RECORD)
    assert kind == "kernel-dilation"
    assert layers[["name", "k", "d", "receptive_field"]].values.tolist() == [["conv1", 3, 1, 3], ["block1.conv1", 7, 4, 25]]


def test_unknown_or_partial_records_are_ignored():
    assert found_architecture({"choices": {"depth": 16, "widen": 4}}) is None
    assert found_architecture({"details": {"mask": {"a": [2.0, 1.0]}}}) is None  # numbers alone are not layers
    assert found_architecture({"details": {"layers": [{"k": 3, "d": 1}, {"k": 0.4, "d": 1}]}}) is None
    assert found_architecture({}) is None


def test_supernet_scores_and_config_keys():
    assert config_key([4, 3, 3]) == config_key("[4 3 3]") == config_key("4,3,3") == "[4 3 3]"
    scores = supernet_scores({"details": {"supernet_scores": [{"config": [4, 3, 3], "score": 0.9}]}})
    pd.testing.assert_frame_equal(scores, pd.DataFrame({"config": ["[4 3 3]"], "supernet": [0.9]}))
    assert supernet_scores({"details": {}}) is None
