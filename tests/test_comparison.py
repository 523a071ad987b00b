"""course_lib.comparison: the capstone's race (constant or scheduled), its choice of learning rates, its
tables, its timing, and the learner's own update functions in the race."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from course_lib import comparison, data, models, schedules
from course_lib.checks import mistake_update, reference_update
from course_lib.optimizers import SGD, Adam

BUDGET = dict(batch_size=64, epochs=2)


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.fixture(scope="module")
def network(digits):
    return models.MLP(digits.n_features, digits.n_classes, hidden=(16,))


@pytest.fixture(scope="module")
def small_race(digits, network):
    contestants = {"SGD": SGD(), "Adam": Adam()}
    grids = {"SGD": (0.01, 0.3, 30.0), "Adam": (1e-4, 0.01)}
    messages = []
    sweep = comparison.race(network, contestants, grids, digits, seeds=(0, 1), budget=BUDGET, progress=messages.append)
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


def test_warmup_cosine_is_lesson_13s_curve_with_a_floor_of_zero():
    for warmup, total in ((1, 30), (2, 30), (21, 215), (85, 86)):
        schedule = comparison.warmup_cosine(0.3, warmup, total)
        t = np.arange(1, total + 1)
        expected = np.where(t <= warmup, 0.3 * t / warmup,
                            0.3 * (1 + np.cos(np.pi * (t - warmup) / (total - warmup))) / 2)
        np.testing.assert_allclose([schedule(int(k)) for k in t], expected, rtol=1e-12, atol=1e-15)
    assert comparison.warmup_cosine(0.3, np.int64(4), np.int64(12))(4) == pytest.approx(0.3)


@pytest.mark.parametrize("warmup, total", [(0, 10), (10, 10), (11, 10), (2.0, 10), (True, 10), (3, 10.5)])
def test_warmup_cosine_refuses_a_warmup_that_does_not_fit(warmup, total):
    with pytest.raises(ValueError, match="1 <= warmup < total"):
        comparison.warmup_cosine(0.1, warmup, total)


def test_a_scheduled_race_gives_every_run_its_own_schedule_with_the_grid_rate_as_peak(digits, network):
    sweep = comparison.race(network, {"Adam": Adam()}, {"Adam": (0.01, 0.03)}, digits, seeds=(0,), budget=BUDGET,
                            schedule=lambda peak: comparison.warmup_cosine(peak, 5, 44), progress=None)
    for peak, (run,) in sweep["Adam"].items():
        expected = comparison.warmup_cosine(peak, 5, 44)
        np.testing.assert_allclose(run.update_lrs, [expected(t) for t in range(1, 45)])
    constant = comparison.race(network, {"Adam": Adam()}, {"Adam": (0.03,)}, digits, seeds=(0,), budget=BUDGET,
                               progress=None)
    assert (constant["Adam"][0.03][0].update_lrs == 0.03).all()


def test_the_results_table_has_a_row_per_optimizer_and_flags_a_choice_on_the_edge(small_race):
    sweep, _ = small_race
    best = comparison.best_learning_rates(sweep)
    table = comparison.results_table(sweep, best)
    rows = {line.split()[0]: line for line in table.splitlines()[1:3]}
    assert set(rows) == {"SGD", "Adam"}
    blew_up = sum(run.diverged is not None for runs in sweep["SGD"].values() for run in runs)
    assert blew_up > 0 and rows["SGD"].endswith(f"{blew_up} / 6")
    accuracy = comparison.final(sweep["Adam"][best["Adam"]], "val_accuracies")
    assert f"{accuracy.mean():.3f} ± {accuracy.std(ddof=1):.3f}" in rows["Adam"]
    assert f"{best['Adam']:g}*" in rows["Adam"]  # 0.01 tops Adam's grid of two
    assert "widen the grid" in table


def test_the_grid_table_marks_the_choice_blow_ups_and_the_lowest_training_loss():
    def run(accuracy, training_loss, diverged=None):
        return _Run(np.array([0.1, accuracy]), np.array([3.0, 0.5]), np.array([3.0, training_loss]), diverged)

    sweep = {"X": {0.1: [run(0.90, 0.05), run(0.92, 0.05)], 0.3: [run(0.95, 0.20), run(0.95, 0.20)],
                   1.0: [run(0.5, 9.0, "blew up"), run(0.9, 0.01)]}}
    table = comparison.grid_table(sweep, comparison.best_learning_rates(sweep))
    (row,) = table.splitlines()[1:]
    assert "0.1: 0.910v" in row and "[0.3: 0.950]" in row and "1: x" in row


@dataclasses.dataclass
class _Run:
    val_accuracies: np.ndarray
    val_losses: np.ndarray
    train_losses: np.ndarray
    diverged: str | None


def test_the_schedule_table_sets_each_peak_against_the_constant_rate():
    steady = [_Run(np.array([0.1, 0.97]), np.array([3.0, 0.08]), np.array([3.0, 0.02]), None)] * 2
    shaky = [_Run(np.array([0.1, 0.90]), np.array([3.0, 0.3]), np.array([3.0, 0.2]), None),
             _Run(np.array([0.1, 0.5]), np.array([3.0, 9.0]), np.array([3.0, 9.0]), "blew up")]
    table = comparison.schedule_table({"X": {0.1: steady, 0.3: shaky}}, {"X": {0.1: steady, 0.3: steady}})
    lines = table.splitlines()
    assert "constant rate" in lines[0] and "warm-up + cosine" in lines[0]
    assert lines[2].split()[:2] == ["X", "0.1"] and lines[2].count("0.970 ± 0.000") == 2
    assert "a seed blew up" in lines[3] and "0.970 ± 0.000" in lines[3]


def test_timing_takes_the_best_repeat_of_each_call():
    timings = comparison.seconds_per_call({"fast": lambda: None, "slow": lambda: sum(range(20_000))},
                                          repeats=3, number=5)
    assert 0 <= timings["fast"] < timings["slow"]


def test_update_costs_time_one_gradient_and_each_optimizers_step(digits, network):
    gradient, steps = comparison.update_costs(network, {"SGD": SGD(lr=0.1), "Adam": Adam(lr=0.01)}, digits,
                                              batch_size=32, repeats=2, number=3)
    assert gradient > 0 and set(steps) == {"SGD", "Adam"} and all(seconds > 0 for seconds in steps.values())


def test_only_a_learners_update_that_passes_its_check_races():
    said = []
    right = reference_update("adam_update")
    wrong = mistake_update("adam_update", "adam-no-bias-correction")
    other = lambda param, grad, state: (param, state)  # noqa: E731
    chosen = comparison.learner_contestants([right, wrong, other], {"Adam": Adam(), "AdamW": Adam(
        decoupled_weight_decay=True, weight_decay=0.01)}, report=said.append)
    assert set(chosen) == {"Adam", "AdamW"}
    assert any("is not right yet" in line for line in said) and any("<lambda>" in line for line in said)


def test_a_learners_correct_update_replays_the_reference_run(small_race, digits, network):
    sweep, _ = small_race
    best = comparison.best_learning_rates(sweep)
    yours = comparison.learner_contestants([reference_update("adam_update")], {"Adam": Adam(), "AdamW": Adam()},
                                           report=lambda line: None)
    said = []
    runs = comparison.replay_learner_runs({"Adam": yours["Adam"]}, sweep, best, network, digits, seeds=(0, 1),
                                          budget=BUDGET, report=said.append)
    (line,) = said
    assert line.startswith("Adam") and f"lr={best['Adam']:g}" in line
    assert float(line.rsplit(" ", 1)[1]) < 1e-10
    assert runs["Adam"].val_accuracies[-1] == sweep["Adam"][best["Adam"]][0].val_accuracies[-1]


def test_a_learners_update_that_fails_during_training_is_reported_not_raised(small_race, digits, network):
    sweep, _ = small_race
    broken = []

    def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    decoupled_weight_decay=False):
        if broken:
            raise ZeroDivisionError("a bug that the check did not reach")
        return reference_update("adam_update")(param, grad, state, lr=lr, betas=betas, eps=eps,
                                               weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay)

    said = []
    yours = comparison.learner_contestants([adam_update], {"Adam": Adam(), "AdamW": Adam()}, report=said.append)
    assert "Adam" in yours, said
    broken.append(True)
    runs = comparison.replay_learner_runs({"Adam": yours["Adam"]}, sweep, comparison.best_learning_rates(sweep),
                                          network, digits, seeds=(0,), budget=BUDGET, report=said.append)
    assert runs == {} and "stopped the training" in said[-1] and "ZeroDivisionError" in said[-1]


def test_with_no_functions_of_the_learner_the_replay_says_so(small_race, digits, network):
    sweep, _ = small_race
    said = []
    assert comparison.replay_learner_runs({}, sweep, {}, network, digits, seeds=(0,), budget=BUDGET,
                                          report=said.append) == {}
    assert said == ["No functions of yours in the race: paste them in section 3 to see them here."]


def test_unknown_contestants_are_named():
    with pytest.raises(ValueError, match="no contestant or no learning-rate grid"):
        comparison.race(None, {"SGD": SGD()}, {}, None, budget={}, names=["SGD"])


def test_the_warmup_of_the_capstone_is_torchs_recipe_in_course_lib_schedules():
    schedule = comparison.warmup_cosine(0.03, 9, 86)
    assert isinstance(schedule, schedules.SequentialLR) and schedule.milestones == (8,)
