"""The checks of the lesson on learning-rate schedules: right answers pass, every catalogued mistake
fails and is named, misbehaving code is explained in words, and the reference curves are the
exercise's formulas and torch's schedulers."""

import math

import numpy as np
import pytest
from check_failures import failure

from course_lib.checks import (EXERCISE_MISTAKES, MISTAKES, fresh_cases, mistake_update, mistakes_for,
                               rel_error)
from course_lib.checks.schedule_checks import (check_one_cycle, check_warmup_cosine, one_cycle_schedule,
                                               warmup_cosine_schedule)

CHECKS = {"warmup_cosine": check_warmup_cosine, "one_cycle": check_one_cycle}


# --- answers written as a learner would, independently of course_lib ------------------------

def warmup_cosine(t, peak_lr, warmup, total, floor=0.0):
    if t <= warmup:
        return peak_lr * t / warmup
    progress = (t - warmup) / (total - warmup)
    return floor + (peak_lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def one_cycle(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    step = t - 1
    initial = max_lr / div_factor
    lowest = initial / final_div_factor
    top = pct_start * total - 1
    if step <= top:
        start, end, fraction = initial, max_lr, step / top
    else:
        start, end, fraction = max_lr, lowest, (step - top) / (total - 1 - top)
    return end + (start - end) * (math.cos(math.pi * fraction) + 1) / 2


ANSWERS = {"warmup_cosine": warmup_cosine, "one_cycle": one_cycle}


# Other correct ways to write them: NumPy scalars, a 0-d array, cosine written as a squared sine.

def warmup_cosine_with_numpy(t, peak_lr, warmup, total, floor=0.0):
    rise = peak_lr * np.minimum(t / warmup, 1.0)
    done = np.clip((t - warmup) / (total - warmup), 0.0, 1.0)
    fall = floor + (peak_lr - floor) * np.cos(np.pi * done / 2) ** 2
    return np.where(t <= warmup, rise, fall)


def one_cycle_with_sines(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    initial = np.float64(max_lr) / div_factor  # a NumPy float, not a Python one
    lowest = initial / final_div_factor
    top = pct_start * total - 1
    if t - 1 <= top:
        return initial + (max_lr - initial) * np.sin(np.pi / 2 * (t - 1) / top) ** 2
    return lowest + (max_lr - lowest) * np.cos(np.pi / 2 * (t - 1 - top) / (total - 1 - top)) ** 2


ALTERNATIVES = [("warmup_cosine", warmup_cosine_with_numpy), ("one_cycle", one_cycle_with_sines)]


@pytest.mark.parametrize("name", CHECKS)
@pytest.mark.parametrize("thorough", [False, True])
def test_a_right_answer_passes_with_one_line_saying_what_was_checked(name, thorough, capsys):
    CHECKS[name](ANSWERS[name], thorough=thorough)
    printed = capsys.readouterr().out.strip()
    assert printed.startswith(f"check_{name} passed: {name}") and "\n" not in printed


@pytest.mark.parametrize("name, fn", ALTERNATIVES, ids=[fn.__name__ for _, fn in ALTERNATIVES])
def test_other_correct_formulations_pass_too(name, fn, capsys):
    CHECKS[name](fn, thorough=True)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("name", CHECKS)
def test_other_seeds_and_fresh_cases_draw_other_runs_that_a_right_answer_passes(name, capsys):
    from course_lib.checks import schedule_checks

    draw = {"warmup_cosine": schedule_checks._warmup_cosine_runs, "one_cycle": schedule_checks._one_cycle_runs}[name]
    titles = [run.title for run in draw(False, 0)]
    assert titles != [run.title for run in draw(False, 1)]
    with fresh_cases(12345):
        assert titles != [run.title for run in draw(False, 0)]
        CHECKS[name](ANSWERS[name], thorough=True, seed=3)
    assert titles == [run.title for run in draw(False, 0)], "outside fresh_cases, the runs are the learner's again"
    assert capsys.readouterr().out.count("passed") == 1


# --- the reference curves ------------------------------------------------------------------------

@pytest.mark.parametrize("peak_lr, warmup, total, floor", [(1.0, 4, 12, 0.1), (0.3, 1, 20, 0.0), (2e-3, 9, 10, 1e-4),
                                                           (0.05, 37, 500, 0.001), (0.1, 2, 3, 0.1)])
def test_the_warmup_cosine_reference_is_the_exercise_formula(peak_lr, warmup, total, floor):
    schedule = warmup_cosine_schedule(peak_lr, warmup, total, floor)
    ours = np.array([schedule(t) for t in range(1, total + 1)])
    formula = np.array([warmup_cosine(t, peak_lr, warmup, total, floor) for t in range(1, total + 1)])
    assert rel_error(formula, ours) < 1e-12
    assert math.isclose(ours[warmup - 1], peak_lr) and math.isclose(ours[-1], floor, abs_tol=1e-15)
    assert np.all(np.diff(ours[:warmup]) > 0) and np.all(np.diff(ours[warmup - 1:]) <= 1e-15)


@pytest.mark.parametrize("max_lr, total, settings", [(1.0, 10, ()), (0.02, 77, (0.17, 14.0, 3000.0)),
                                                     (0.5, 3, (0.5, 25.0, 1e4)), (0.1, 40, (0.25, 10.0, 100.0))])
def test_the_one_cycle_reference_is_the_formula_of_torchs_source(max_lr, total, settings):
    schedule = one_cycle_schedule(max_lr, total, *settings)
    ours = np.array([schedule(t) for t in range(1, total + 1)])
    formula = np.array([one_cycle(t, max_lr, total, *settings) for t in range(1, total + 1)])
    assert rel_error(formula, ours) < 1e-12


def _torch_curve(make, total, lr):
    torch = pytest.importorskip("torch", reason="torch is the conformance oracle: pip install torch==2.13.0")
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=lr, momentum=0.9)
    scheduler = make(torch.optim.lr_scheduler, optimizer)
    lrs = []
    for _ in range(total):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return np.array(lrs)


@pytest.mark.torch
@pytest.mark.parametrize("peak_lr, warmup, total, floor", [(1.0, 4, 12, 0.1), (0.3, 1, 20, 0.0), (0.05, 37, 500, 1e-3),
                                                           (0.1, 2, 3, 0.1)])
def test_the_lessons_torch_recipe_for_warmup_cosine_gives_the_reference(peak_lr, warmup, total, floor):
    def make(lr_scheduler, optimizer):
        decay = lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup, eta_min=floor)
        if warmup == 1:
            return decay
        rise = lr_scheduler.LinearLR(optimizer, start_factor=1 / warmup, total_iters=warmup - 1)
        return lr_scheduler.SequentialLR(optimizer, [rise, decay], milestones=[warmup - 1])

    schedule = warmup_cosine_schedule(peak_lr, warmup, total, floor)
    ours = np.array([schedule(t) for t in range(1, total + 1)])
    np.testing.assert_allclose(ours, _torch_curve(make, total, peak_lr), rtol=1e-12, atol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("max_lr, total, settings", [(1.0, 10, ()), (0.02, 77, (0.17, 14.0, 3000.0)),
                                                     (0.5, 3, (0.5, 25.0, 1e4))])
def test_the_one_cycle_reference_is_torchs_one_cycle(max_lr, total, settings):
    names = dict(zip(("pct_start", "div_factor", "final_div_factor"), settings))

    def make(lr_scheduler, optimizer):
        return lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total, cycle_momentum=False, **names)

    schedule = one_cycle_schedule(max_lr, total, *settings)
    ours = np.array([schedule(t) for t in range(1, total + 1)])
    np.testing.assert_allclose(ours, _torch_curve(make, total, max_lr), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("thorough", [False, True])
def test_every_run_keeps_to_the_exercises_assumptions(thorough):
    from course_lib.checks import schedule_checks

    for run in schedule_checks._warmup_cosine_runs(thorough, 0):
        settings = dict(zip(run.names, run.args))
        peak_lr, warmup, total = (settings[name] for name in ("peak_lr", "warmup", "total"))
        floor = settings.get("floor", 0.0)
        assert 1 <= warmup < total and 0 <= floor <= peak_lr and run.total == total
    for run in schedule_checks._one_cycle_runs(thorough, 0):
        settings = dict(zip(run.names, run.args))
        assert 1 < settings.get("pct_start", 0.3) * run.total < run.total


# --- the catalogue of these exercises' mistakes -------------------------------------------

MISTAKE_CASES = [(name, mistake) for name in CHECKS for mistake in mistakes_for(name)]


def test_every_exercise_registers_its_mistakes_with_ids_of_its_own():
    for name in CHECKS:
        assert len(EXERCISE_MISTAKES[name]) >= 5, name
    ids = [m.id for name in CHECKS for m in EXERCISE_MISTAKES[name]]
    others = [m.id for name, ms in EXERCISE_MISTAKES.items() if name not in CHECKS for m in ms]
    assert len(ids) == len(set(ids)) and not set(ids) & (set(MISTAKES) | set(others))
    for name, mistake in MISTAKE_CASES:
        assert mistake.name and len(mistake.hint) > 40 and mistake.wrong.__name__ == name


@pytest.mark.parametrize("name, mistake", MISTAKE_CASES, ids=[m.id for _, m in MISTAKE_CASES])
@pytest.mark.parametrize("thorough", [False, True])
def test_every_mistake_fails_its_check_and_is_named_with_its_hint(name, mistake, thorough):
    error = failure(CHECKS[name], mistake_update(name, mistake.id), thorough=thorough)
    message = str(error)
    assert error.mistakes == (mistake.id,)
    assert f'"{mistake.name}": {mistake.hint}' in message
    assert message.startswith(f"{name} does not do what the exercise asks yet.")
    assert "First difference: run " in message and len(message.splitlines()) < 10


@pytest.mark.parametrize("name, mistake", MISTAKE_CASES, ids=[m.id for _, m in MISTAKE_CASES])
def test_every_mistake_is_named_in_fresh_cases_too(name, mistake):
    with fresh_cases(2024):
        error = failure(CHECKS[name], mistake_update(name, mistake.id), thorough=True, seed=1)
    assert error.mistakes == (mistake.id,)


def test_two_mistakes_at_once_fail_without_a_wrong_name():
    def warmup_cosine(t, peak_lr, warmup, total, floor=0.0):
        if t <= warmup:
            return peak_lr  # no warm-up ...
        return peak_lr * (1 + math.cos(math.pi * (t - warmup) / (total - warmup))) / 2  # ... and no floor

    error = failure(check_warmup_cosine, warmup_cosine)
    assert error.mistakes == () and "classic mistake" not in str(error)


def test_a_formula_that_is_right_almost_everywhere_is_shown_where_it_is_not():
    def warmup_cosine(t, peak_lr, warmup, total, floor=0.0):
        return floor if t == total else globals()["warmup_cosine"](t, peak_lr, warmup, total, floor) * (1 + 1e-6)

    message = str(failure(check_warmup_cosine, warmup_cosine))
    assert "update t = 1 (the 1st of the 4 warm-up updates)" in message and "11 of the 12 updates differ" in message


def test_an_answer_that_is_wrong_only_at_the_end_is_told_which_update_that_is():
    def one_cycle(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
        right = globals()["one_cycle"](t, max_lr, total, pct_start, div_factor, final_div_factor)
        return right * 2 if t == total else right

    message = str(failure(check_one_cycle, one_cycle))
    assert "update t = 10 (the last update, torch's step 9, which uses the lowest rate)" in message
    assert "Only that update differs." in message


# --- misbehaving code is explained in words ------------------------------------------------

def test_an_exception_is_reported_with_the_update_and_the_learners_line():
    def warmup_cosine(t, peak_lr, warmup, total, floor=0.0):
        return peak_lr * t / (warmup - t)  # divides by zero on update t = warmup

    message = str(failure(check_warmup_cosine, warmup_cosine))
    assert "at update t = 4 (the last warm-up update, which uses the peak)" in message
    assert "raised ZeroDivisionError" in message and "return peak_lr * t / (warmup - t)" in message


@pytest.mark.parametrize("returned, words", [(None, "returned None for update t = 1 (no return statement?)"),
                                             ([0.1], "returned a list for update t = 1"),
                                             (np.zeros(3), "returned an array of shape (3,)"),
                                             ("0.1", "returned a str"),
                                             (True, "returned True")])
def test_a_return_value_that_is_not_one_number_gets_a_sentence(returned, words):
    def one_cycle(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
        return returned

    message = str(failure(check_one_cycle, one_cycle))
    assert words in message and "classic mistake" not in message


def test_numbers_of_every_kind_are_accepted():
    def warmup_cosine(t, peak_lr, warmup, total, floor=0.0):
        value = globals()["warmup_cosine"](t, peak_lr, warmup, total, floor)
        return [np.float64(value), np.array(value), np.array([value]), np.int64(0) + value][t % 4]

    check_warmup_cosine(warmup_cosine, thorough=True)


def test_a_function_that_prints_or_warns_is_judged_by_its_numbers_only(capsys):
    import warnings

    def warmup_cosine(t, peak_lr, warmup, total, floor=0.0):
        warnings.warn("chatty")
        np.log(np.zeros(1))  # a NumPy warning
        return globals()["warmup_cosine"](t, peak_lr, warmup, total, floor)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_warmup_cosine(warmup_cosine)
    assert capsys.readouterr().err == ""


def test_a_nan_is_a_wrong_number_not_a_crash():
    def one_cycle(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
        return float("nan")

    message = str(failure(check_one_cycle, one_cycle))
    assert "got nan" in message


@pytest.mark.parametrize("bad", [None, 0.1, "warmup_cosine"])
def test_something_that_is_not_a_function_is_named(bad):
    message = str(failure(check_warmup_cosine, bad))
    assert message.startswith("check_warmup_cosine needs your function warmup_cosine")


@pytest.mark.parametrize("options, error", [({"thorough": 1}, TypeError), ({"seed": -1}, ValueError),
                                            ({"seed": 1.5}, ValueError), ({"seed": True}, ValueError)])
def test_bad_options_are_refused(options, error):
    with pytest.raises(error):
        check_one_cycle(one_cycle, **options)
