"""The random-search controls (nasbench/controls.py): which methods have one, how the best candidate is
chosen, the matched-budget arithmetic, and a whole control run on the toy task through the runner."""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from toy_plugins import ToySpaceMethod, ToyTask

from nasbench import schema
from nasbench.contracts import samples_its_space
from nasbench.controls import ControlConfig, best_candidate, control_class, proxy_recipe
from nasbench.errors import PluginError, TrainingDiverged
from nasbench.registry import methods, tasks
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.testing import check_method
from nasbench.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")

# built-in methods with a space but no control, and why (docs/adding-a-method.md says the same)
WITHOUT_CONTROL = {"baby-dash": "the paper's ablation of DASH's space; its question is the space, not the search"}


@pytest.fixture
def toy_control():
    tasks.register(ToyTask)
    methods.register(ToySpaceMethod)
    control = methods.register(control_class(ToySpaceMethod.name))
    yield control
    for name in (control.name, ToySpaceMethod.name):
        methods.unregister(name)
    tasks.unregister(ToyTask.name)


def builtin_methods() -> dict[str, type]:
    return {name: methods.get(name) for name, source in methods.sources().items() if source.origin == "nasbench"}


def test_every_builtin_method_with_a_space_has_its_control():
    found = builtin_methods()
    for name, cls in found.items():
        if cls.control_of:
            assert name == f"random-{cls.control_of}" and samples_its_space(methods.get(cls.control_of))
        elif samples_its_space(cls) and name not in WITHOUT_CONTROL:
            assert f"random-{name}" in found, f"{name} samples its space: declare random-{name} in pyproject.toml"
    controls = {cls.control_of for cls in found.values() if cls.control_of}
    assert controls == {"bms", "darts", "dash", "dmasking", "dnarch", "flexcharts", "spos"}


def test_nasbench_list_shows_every_control(capsys):
    from nasbench.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for method in ("bms", "darts", "dash", "dmasking", "dnarch", "flexcharts", "spos"):
        assert f"random-{method}" in out
    assert out.count("random-search control of") >= 7  # a description under each


@pytest.mark.parametrize("name", ["wrn", "ccnn"])
def test_a_method_without_a_space_has_no_control(name):
    with pytest.raises(PluginError, match="sample_architecture and search_examples"):
        control_class(name)


def test_a_control_is_its_method_in_everything_but_the_search():
    control, dash = methods.get("random-dash"), methods.get("dash")
    assert control.control_of == "dash" and control.method_cls is dash and control.has_tune_stage
    assert "random-search control of dash" in control.description


# --- choosing the best candidate ------------------------------------------------------------------

def test_best_candidate_follows_the_metric_direction_and_skips_nan():
    scores = [0.5, math.nan, 0.7, 0.7, 0.2]
    assert best_candidate(scores, "max") == 2  # the first of equals
    assert best_candidate(scores, "min") == 4
    assert best_candidate([math.nan, 3.0], "min") == 1
    with pytest.raises(TrainingDiverged, match="all 2 candidates diverged"):
        best_candidate([math.nan, math.nan], "max")
    with pytest.raises(TrainingDiverged, match="--set candidate_train.lr=0.01"):  # the example plugin's setting
        best_candidate([math.nan], "min", "candidate_train.lr")


# --- the matched budget -----------------------------------------------------------------------------

def test_proxy_recipe_holds_the_examples_in_as_few_epochs_as_possible():
    recipe = TrainConfig(epochs=10, batch_size=8, lr=0.1, milestones=(5, 8), warmup_epochs=4)
    # 100 examples = 13 steps of 8; an epoch of 40 examples is 5 batches: 3 epochs of 5 batches
    long = proxy_recipe(recipe, 100, 40)
    assert (long.epochs, long.batches_per_epoch, long.milestones, long.warmup_epochs) == (3, None, (2, 3), 1)
    short = proxy_recipe(recipe, 16, 40)  # 2 steps: one epoch of 2 batches
    assert (short.epochs, short.batches_per_epoch, short.milestones) == (1, 2, (1,))
    assert proxy_recipe(recipe, 1, 40).batches_per_epoch == 1  # at least one batch


def test_search_examples_of_each_method_by_hand():
    dash = methods.get("dash")
    c = dash.Config()
    c = replace(c, subsample=0.2, search=replace(c.search, epochs=3, batch_size=10, batches_per_epoch=None))
    assert dash.search_examples(c, None, 95) == 3 * 3 * 10  # 10 batches: int(0.2 x 10) + 1 = 3 per epoch

    darts = methods.get("darts")
    c = darts.Config()
    c = replace(c, train_portion=0.5, search=replace(c.search, epochs=2, batch_size=16, batches_per_epoch=5))
    assert darts.search_examples(c, None, 1000) == 2 * (5 * 16 + 5 * 16)  # weight steps + architecture steps
    assert darts.search_examples(replace(c, search_examples=40), None, 1000) == 2 * (20 + 2 * 16)  # halves of 20

    spos = methods.get("spos")
    c = spos.Config()
    assert spos.search_examples(replace(c, supernet=replace(c.supernet, epochs=3, batch_size=32,
                                                            batches_per_epoch=4)), None, 1000) == 3 * 4 * 32
    assert spos.search_examples(replace(c, supernet=replace(c.supernet, epochs=3, batch_size=32,
                                                            batches_per_epoch=None)), None, 1000) == 3 * 1000

    bms = methods.get("bms")
    c = bms.Config()
    assert bms.search_examples(replace(c, models=4, search=replace(c.search, epochs=2, batches_per_epoch=None)),
                               None, 500) == 4 * 2 * 500  # M x E_1 epochs

    for name in ("flexcharts", "dmasking"):
        cls = methods.get(name)
        c = cls.Config()
        c = replace(c, search=replace(c.search, epochs=3, batch_size=16, batches_per_epoch=None))
        assert cls.search_examples(c, None, 101) == 3 * (50 + 4 * 16)  # D_t of 50 in 4 steps, a D_s batch each


def test_control_defaults_follow_the_budget(toy_control):
    from nasbench.contracts import TaskView

    view = TaskView(ToyTask(ToyTask.default_config("smoke")))
    cls = control_class(ToySpaceMethod.name)
    assert [cls.default_config(b, view).candidates for b in ("smoke", "small", "paper")] == [2, 4, 8]
    assert cls.default_config("small", view).method == ToySpaceMethod.default_config("small", view)


# --- a whole control run ---------------------------------------------------------------------------

def run_control(tmp_path, *sets: str, seed: int = 0):
    request = RunRequest("random-toy-space", ToyTask.name, "smoke", seed, ("candidates=6", *sets))
    return execute(prepare(request), RunStore(tmp_path), log=lambda _: None)


def test_control_run_picks_the_best_finite_candidate_and_retrains_it(tmp_path, toy_control):
    outcome = run_control(tmp_path, "method.diverge=(16,)")
    assert outcome.status == "ok", outcome.manifest.get("traceback")
    assert outcome.manifest["control_of"] == "toy-space"
    record = json.loads((outcome.run_dir / schema.ARCH).read_text())
    details = record["details"]
    scores = [c["val_score"] for c in details["candidates"]]
    hidden = [c["choices"]["hidden"] for c in details["candidates"]]
    assert len(scores) == details["sampled"] == 6
    assert all((s is None) == (h == 16) for s, h in zip(scores, hidden)), "a diverged candidate scores NaN"
    finite = [s for s in scores if s is not None]
    assert scores[details["best"]] == max(finite) and scores.index(max(finite)) == details["best"]
    assert record["choices"] == details["candidates"][details["best"]]["choices"]
    # the matched budget: 6 candidates share the toy search's 2 epochs over the 32 training examples
    budget = details["matched_budget"]
    assert budget["search_examples"] == 2 * 32 and budget["candidate_examples"] == math.ceil(64 / 6)


def test_control_curves_number_candidates_and_keep_the_best_so_far(tmp_path, toy_control):
    outcome = run_control(tmp_path)
    rows = [r for r in csv.DictReader(io.StringIO((outcome.run_dir / schema.CURVES).read_text()))
            if r["stage"] == "search"]
    assert sorted({int(r["candidate"]) for r in rows}) == list(range(6))
    epochs = [int(r["epoch"]) for r in rows]
    assert epochs == sorted(epochs) and len(set(epochs)) == len(epochs), "one row per epoch of the stage"
    best = [float(r["best_so_far"]) for r in rows]
    assert all(b <= a for a, b in zip(best, best[1:])) and best[-1] == min(1 - float(r["val_accuracy"]) for r in rows)


def test_same_seed_same_candidates_other_seed_other_candidates(tmp_path, toy_control):
    def candidates(folder, seed):
        outcome = run_control(folder, seed=seed)
        return json.loads((outcome.run_dir / schema.ARCH).read_text())["details"]["candidates"]

    first = candidates(tmp_path / "a", 0)
    assert first == candidates(tmp_path / "b", 0)
    assert [c["choices"] for c in first] != [c["choices"] for c in candidates(tmp_path / "c", 3)]


def test_control_passes_the_method_contract_checks(tmp_path, toy_control):
    """Registry, config strictness, a smoke run, the record, no read of the test split (the checks make
    it raise), no global seeding, the device and determinism."""
    report = check_method(toy_control.name, task=ToyTask.name, workdir=tmp_path, raise_on_failure=False)
    assert report.ok, str(report)


def test_control_config_is_strict():
    with pytest.raises(Exception, match="candidates"):
        ControlConfig(method=ToySpaceMethod.default_config("smoke", None), candidates=0).validate()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dash", "darts", "dnarch", "spos", "bms", "flexcharts", "dmasking"])
def test_builtin_controls_pass_the_contract_checks(method, tmp_path):
    check_method(f"random-{method}", workdir=tmp_path)


def test_sampling_draws_from_the_run_generator_only():
    for name in ("dash", "darts", "spos", "bms", "flexcharts", "dmasking"):
        cls = methods.get(name)
        config = cls.Config()
        shape = _shape()
        np.random.seed(1)
        first = cls.sample_architecture(config, shape, np.random.default_rng(5))
        np.random.seed(2)  # the global generator does not matter
        assert cls.sample_architecture(config, shape, np.random.default_rng(5)) == first, name


def _shape():
    from nasbench.contracts import TaskShape

    return TaskShape(dims=2, in_channels=1, input_size=(28, 28), output="classes", num_outputs=10)
