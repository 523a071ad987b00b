"""course_lib.comparison: the capstone's race, its choice of learning rates, its timing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from course_lib import comparison, data, models
from course_lib.checks import mistake_update, reference_update
from course_lib.optimizers import SGD, Adam


@pytest.fixture(scope="module")
def small_race():
    digits = data.load_digits()
    network = models.MLP(digits.n_features, digits.n_classes, hidden=(16,))
    contestants = {"SGD": SGD(), "Adam": Adam()}
    grids = {"SGD": (0.01, 0.3, 30.0), "Adam": (1e-4, 0.01)}
    messages = []
    sweep = comparison.race(network, contestants, grids, digits, seeds=(0, 1), budget=dict(batch_size=64, epochs=2),
                            progress=messages.append)
    return sweep, messages


def test_the_race_runs_every_rate_and_seed_and_says_how_long(small_race):
    sweep, messages = small_race
    assert {name: sorted(runs) for name, runs in sweep.items()} == {"SGD": [0.01, 0.3, 30.0], "Adam": [1e-4, 0.01]}
    assert all(len(runs) == 2 for runs_by_lr in sweep.values() for runs in runs_by_lr.values())
    assert messages and "10 training runs in" in messages[0]


def test_a_rate_that_blew_up_is_never_chosen(small_race):
    sweep, _ = small_race
    assert any(run.diverged for run in sweep["SGD"][30.0])
    assert np.isnan(comparison.final(sweep["SGD"][30.0], "val_accuracies")).any()
    best = comparison.best_learning_rates(sweep)
    assert best["SGD"] != 30.0
    accuracies = {lr: comparison.final(runs, "val_accuracies").mean() for lr, runs in sweep["Adam"].items()}
    assert best["Adam"] == max(accuracies, key=accuracies.get)


def test_timing_takes_the_best_repeat_of_each_call():
    timings = comparison.seconds_per_call({"fast": lambda: None, "slow": lambda: sum(range(20_000))},
                                          repeats=3, number=5)
    assert 0 <= timings["fast"] < timings["slow"]


def test_only_a_learners_update_that_passes_its_check_races():
    said = []
    right = reference_update("adam_update")
    wrong = mistake_update("adam_update", "adam-no-bias-correction")
    other = lambda param, grad, state: (param, state)  # noqa: E731
    chosen = comparison.learner_contestants([right, wrong, other], {"Adam": Adam(), "AdamW": Adam(
        decoupled_weight_decay=True, weight_decay=0.01)}, report=said.append)
    assert set(chosen) == {"Adam", "AdamW"}
    assert any("is not right yet" in line for line in said) and any("<lambda>" in line for line in said)


def test_unknown_contestants_are_named():
    with pytest.raises(ValueError, match="no contestant or no learning-rate grid"):
        comparison.race(None, {"SGD": SGD()}, {}, None, budget={}, names=["SGD"])
