"""The plugin's own tests: the suite's contract checks, plus what is particular to this method and task.

Run with ``pytest examples/nasbench-randomsearch/tests`` once the package is installed beside nasbench.
"""
from dataclasses import replace

import numpy as np
from nasbench_randomsearch.space import D_1D, K_1D, sample_kernels
from nasbench_randomsearch.tones import Tones, generate_tones

from nasbench.testing import check_method, check_task


def test_method_keeps_the_contract_on_its_own_task_and_on_a_builtin_fixture():
    check_method("randomsearch", task="tones")
    check_method("randomsearch", skip=("determinism",))  # the Darcy Flow fixture (2D, dense)


def test_task_keeps_the_contract():
    check_task("tones")


def test_sampling_is_uniform_over_k_times_d_and_follows_the_seed():
    a = sample_kernels(np.random.default_rng(0), 9000, K_1D, D_1D)
    assert a == sample_kernels(np.random.default_rng(0), 9000, K_1D, D_1D)
    counts = {pair: a.count(pair) for pair in set(a)}
    assert len(counts) == len(K_1D) * len(D_1D) and max(counts.values()) < 1.3 * min(counts.values())


def test_tone_periods_follow_the_labels():
    config = Tones.default_config("smoke")
    x, y = generate_tones(replace(config, noise=0.0), 8, seed=0)
    for signal, label in zip(x[:, 0], y):
        spectrum = np.abs(np.fft.rfft(signal - signal.mean()))
        period = config.length / spectrum.argmax()
        assert abs(period - config.base_period * 2 ** label) <= 0.25 * period


def test_the_record_describes_and_draws_itself():
    from matplotlib.figure import Figure
    from nasbench_randomsearch.method import RandomSearch

    record = {"backbone": "wrn1d", "choices": {"kernels": [[3, 1], [7, 3], [19, 15]]},
              "details": {"best": 2, "sampled": 3}}
    assert RandomSearch.describe_record(record) == {"backbone": "wrn1d", "kernels (k x d)": "3x1 7x3 19x15",
                                                    "best candidate": "2 of 3"}
    ax = Figure().subplots()
    assert RandomSearch.draw_record(record, ax)
    assert [p.get_height() for p in ax.patches] == [3, 7, 19, 1, 3, 15]  # k bars, then d bars
