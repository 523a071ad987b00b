"""Checks for the exercises of the lesson on learning-rate schedules: a linear warm-up followed by
a cosine decay, and the one-cycle policy, each written as a function of the update number::

    warmup_cosine(t, peak_lr, warmup, total, floor=0.0)                               -> lr of update t
    one_cycle(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4)  -> lr of update t

``t`` counts updates from 1, as in :mod:`course_lib.schedules` (torch's ``last_epoch`` is
``t - 1``). The exercise's definitions, and the torch schedulers that give the same numbers:

- ``warmup_cosine``: ``peak_lr * t / warmup`` for ``t <= warmup`` (the peak on update
  ``warmup``), then ``floor + (peak_lr - floor) * (1 + cos(pi * (t - warmup) / (total - warmup))) / 2``,
  which is the floor on the last update, ``t = total``. In torch: ``SequentialLR`` of
  ``LinearLR(start_factor=1 / warmup, total_iters=warmup - 1)`` and
  ``CosineAnnealingLR(T_max=total - warmup, eta_min=floor)`` with ``milestones=[warmup - 1]``
  (the cosine alone when ``warmup == 1``). It assumes ``1 <= warmup < total`` and
  ``0 <= floor <= peak_lr``.
- ``one_cycle``: torch's ``OneCycleLR(max_lr, total_steps=total, pct_start, anneal_strategy="cos",
  div_factor, final_div_factor)``, the learning rate only (torch also cycles the momentum). It
  assumes ``1 < pct_start * total < total``.

Each ``check_*`` function calls the learner's function at every update of a few runs, the first one
small enough to work out by hand, and compares the whole curve with :mod:`course_lib.schedules`
(relative error at most :data:`~course_lib.checks.TOLERANCE`). It prints one line when all is
right; otherwise it raises :class:`~course_lib.checks.CheckFailed` naming the run, the first
update that differs and what that update is (in the warm-up, the first one after it, the last
one, ...), expected and actual values, which other runs go wrong, and, when the curve is that of
a registered classic mistake (:func:`~course_lib.checks.mistakes_for`), its name and a hint.
``thorough=True`` adds the edge cases and long runs of the hidden tests; ``seed`` picks other
random runs (drawn through :func:`~course_lib.checks.case_rng`, so fresh ones while grading).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Callable

import numpy as np

from .. import schedules
from ._calls import _describe, fail, other_cases, quietly, raised_message
from ._cases import case_rng
from ._compare import MUTANT_TOLERANCE, TOLERANCE, TOLERANCE_NOTE, relative_errors
from .mistakes import EXERCISE_MISTAKES, ExerciseMistake, register_exercise_mistakes

# --- the reference curves, from course_lib.schedules ------------------------------------------


def warmup_cosine_schedule(peak_lr: float, warmup: int, total: int, floor: float = 0.0) -> schedules.SequentialLR:
    """The exercise's warm-up followed by cosine decay, built from torch's schedulers as
    :mod:`course_lib.schedules` computes them (see the module's docstring)."""
    decay = schedules.CosineAnnealingLR(peak_lr, T_max=total - warmup, eta_min=floor)
    if warmup == 1:
        return decay
    rise = schedules.LinearLR(peak_lr, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1)
    return schedules.SequentialLR((rise, decay), milestones=(warmup - 1,))


def one_cycle_schedule(max_lr: float, total: int, pct_start: float = 0.3, div_factor: float = 25.0,
                       final_div_factor: float = 1e4) -> schedules.OneCycleLR:
    """The exercise's one-cycle policy: torch's ``OneCycleLR`` with cosine annealing."""
    return schedules.OneCycleLR(max_lr, total_steps=total, pct_start=pct_start, anneal_strategy="cos",
                                div_factor=div_factor, final_div_factor=final_div_factor)


# --- the machinery shared by the two checks ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Run:
    """One run of the exercise: the arguments after ``t`` (in order, with their names), its length,
    the right learning rates of updates 1..total, and what each update is, in words."""

    title: str
    names: tuple[str, ...]
    args: tuple
    total: int
    expected: np.ndarray
    phase: Callable[[int], str]


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """The learning rates a function gave for every update of a run, or what went wrong, in words."""

    values: np.ndarray | None = None
    problem: str | None = None
    raised: type[BaseException] | None = None


def _as_number(value, name: str, t: int) -> float:
    """A learner's return value as a float; anything but a single real number gets a sentence."""
    where = f"for update t = {t}"
    if value is None:
        raise _NotANumber(f"{name} returned None {where} (no return statement?); it must return the learning rate, "
                          f"one number.")
    if isinstance(value, (bool, np.bool_)):
        raise _NotANumber(f"{name} returned {value!r} {where}; it must return the learning rate, a number.")
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and np.issubdtype(value.dtype, np.number) \
            and not np.issubdtype(value.dtype, np.complexfloating):
        return float(value.reshape(()))
    if isinstance(value, (list, tuple)):
        raise _NotANumber(f"{name} returned a {type(value).__name__} {where}; it must return one number, the "
                          f"learning rate of update t alone (the check calls it once per update).")
    if isinstance(value, np.ndarray):
        raise _NotANumber(f"{name} returned an array of shape {value.shape} {where}; it must return one number, "
                          f"the learning rate of update t alone (the check calls it once per update).")
    raise _NotANumber(f"{name} returned {_describe(value)} {where}; it must return the learning rate, one number.")


class _NotANumber(Exception):
    pass


def _curve(fn, run: _Run) -> _Outcome:
    """Call ``fn(t, *run.args)`` for t = 1..total; the learning rates, or the first problem in words."""
    name = getattr(fn, "__name__", "your function")
    values = np.empty(run.total)
    for t in range(1, run.total + 1):
        try:
            with quietly():
                value = fn(t, *run.args)
        except Exception as error:  # noqa: BLE001 - any failure of learner code becomes a message
            return _Outcome(problem=f"at update t = {t} ({run.phase(t)}), {raised_message(name, error)}",
                            raised=type(error))
        try:
            values[t - 1] = _as_number(value, name, t)
        except _NotANumber as problem:
            return _Outcome(problem=str(problem))
    return _Outcome(values=values)


def _first_difference(run: _Run, outcome: _Outcome) -> str | None:
    """What is wrong with one run's outcome, in words; None when every learning rate is right."""
    if outcome.problem is not None:
        return outcome.problem
    errors = relative_errors(run.expected, outcome.values)
    wrong = np.flatnonzero(errors > TOLERANCE)
    if not wrong.size:
        return None
    t = int(wrong[0]) + 1
    expected, got = float(run.expected[t - 1]), float(outcome.values[t - 1])
    more = f" {wrong.size} of the {run.total} updates differ." if wrong.size > 1 else " Only that update differs."
    return (f"at update t = {t} ({run.phase(t)}):\n    expected {expected:.10g}, got {got:.10g} "
            f"(relative error {errors[t - 1]:.2g}).{more}")


def _agree(a: _Outcome, b: _Outcome) -> bool:
    """Whether two functions did the same on a run, within :data:`MUTANT_TOLERANCE`."""
    if a.values is None or b.values is None:
        return a.values is None and b.values is None and a.raised is not None and a.raised is b.raised
    return float(np.max(relative_errors(a.values, b.values), initial=0.0)) <= MUTANT_TOLERANCE


def _matching_mistakes(exercise: str, runs: list[_Run], outcomes: list[_Outcome]) -> list[ExerciseMistake]:
    """The registered mistakes whose wrong function does what the learner's did on every run (and is wrong)."""
    found = []
    for mistake in EXERCISE_MISTAKES.get(exercise, ()):
        theirs = []
        for run, outcome in zip(runs, outcomes):
            theirs.append(_curve(mistake.wrong, run))
            if not _agree(outcome, theirs[-1]):
                break
        else:
            if any(_first_difference(run, wrong) for run, wrong in zip(runs, theirs)):
                found.append(mistake)
    return found


def _run_check(exercise: str, fn, runs: list[_Run], check_name: str) -> None:
    """Run every case; on the first wrong one raise :class:`CheckFailed` with the diagnosis."""
    __tracebackhide__ = True
    if not callable(fn):
        fail(f"{check_name} needs your function {exercise}, got {_describe(fn)}.")
    name = getattr(fn, "__name__", "your function")
    outcomes = [_curve(fn, run) for run in runs]
    verdicts = [_first_difference(run, outcome) for run, outcome in zip(runs, outcomes)]
    failing = [number for number, verdict in enumerate(verdicts, start=1) if verdict]
    if not failing:
        return
    first = failing[0]
    run, outcome = runs[first - 1], outcomes[first - 1]
    kind = "difference" if outcome.problem is None else "problem"
    lines = [f"{name} does not do what the exercise asks yet.",
             f"First {kind}: run {first} ({run.title}), {verdicts[first - 1]}"]
    others = other_cases(failing, len(runs), "run")
    if others:
        lines.append(others)
    mistakes = _matching_mistakes(exercise, runs, outcomes)
    lines += [f'This matches a classic mistake, "{m.name}": {m.hint}' for m in mistakes]
    if outcome.problem is None:
        lines.append(TOLERANCE_NOTE)
    fail("\n".join(lines), tuple(m.id for m in mistakes))


def _check_options(thorough, seed) -> None:
    if not isinstance(thorough, bool):
        raise TypeError(f"thorough must be True or False, got {thorough!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")


def _named(function_name: str):
    """Give a wrong answer the exercise's name, so that messages about it read as they would for a learner's."""
    def rename(fn):
        fn.__name__ = fn.__qualname__ = function_name
        return fn
    return rename


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _g(value: float) -> str:
    return f"{value:.4g}"


# --- exercise 1: linear warm-up, then cosine decay to a floor -----------------------------------


def _warmup_cosine_phase(warmup: int, total: int):
    def phase(t: int) -> str:
        if t == total:
            return "the last update, which uses the floor"
        if t < warmup:
            return f"the {_ordinal(t)} of the {warmup} warm-up updates"
        if t == warmup:
            return ("the last warm-up update, which uses the peak" if warmup > 1
                    else "the only warm-up update, which uses the peak")
        if t == warmup + 1:
            return "the first update after the warm-up"
        return f"the {_ordinal(t - warmup)} update after the warm-up, of {total - warmup}"
    return phase


def _warmup_cosine_run(title: str, peak_lr: float, warmup: int, total: int, floor: float | None) -> _Run:
    """A run that passes ``floor``, or leaves it at its default (0) when it is None."""
    schedule = warmup_cosine_schedule(peak_lr, warmup, total, 0.0 if floor is None else floor)
    expected = np.array([schedule(t) for t in range(1, total + 1)])
    names, args = ("peak_lr", "warmup", "total"), (peak_lr, warmup, total)
    shown = f"peak_lr = {_g(peak_lr)}, warmup = {warmup}, total = {total}, "
    if floor is None:
        shown += "floor left at its default"
    else:
        names, args, shown = names + ("floor",), args + (floor,), shown + f"floor = {_g(floor)}"
    return _Run(f"{shown}{title}", names, args, total, expected, _warmup_cosine_phase(warmup, total))


def _warmup_cosine_runs(thorough: bool, seed: int) -> list[_Run]:
    rng = case_rng(1300 + seed)
    runs = [_warmup_cosine_run(", worked by hand", 1.0, 4, 12, 0.1)]
    for warmups, lengths in (((5, 40), (20, 120)), ((20, 120), (150, 400))):
        peak_lr = float(10 ** rng.uniform(-3.5, -0.5))
        warmup = int(rng.integers(*warmups))
        total = warmup + int(rng.integers(*lengths))
        runs.append(_warmup_cosine_run("", peak_lr, warmup, total, float(peak_lr * rng.uniform(0.01, 0.2))))
    if thorough:
        peak_lr = float(10 ** rng.uniform(-3, 0))
        runs += [
            _warmup_cosine_run(" (warmup = 1: the peak on the first update)", peak_lr, 1, 30, peak_lr / 50),
            _warmup_cosine_run(" (a single update after the warm-up)", peak_lr, 9, 10, peak_lr / 7),
            _warmup_cosine_run(" (decays to 0)", peak_lr, 6, 45, None),
            _warmup_cosine_run(" (floor = peak_lr: flat after the warm-up)", peak_lr, 3, 20, peak_lr),
            _warmup_cosine_run(" (warmup = 2, total = 3)", peak_lr, 2, 3, peak_lr / 3),
            _warmup_cosine_run(" (a tiny peak)", 3e-7, 7, 40, 1e-9),
            _warmup_cosine_run(" (a long run)", float(10 ** rng.uniform(-2, 0)), int(rng.integers(50, 150)),
                               int(rng.integers(600, 900)), 0.0),
        ]
    return runs


def check_warmup_cosine(fn, *, thorough: bool = False, seed: int = 0) -> None:
    """Check ``warmup_cosine(t, peak_lr, warmup, total, floor=0.0)``: the learning rate of update ``t``.

    Compared at every update with :func:`warmup_cosine_schedule` (torch's ``SequentialLR`` of
    ``LinearLR`` and ``CosineAnnealingLR``, as :mod:`course_lib.schedules` computes it) on a run
    worked by hand and two random runs (``thorough``: ``warmup = 1``, a single update after the
    warm-up, ``floor`` left at its default, ``floor = peak_lr``, the shortest run, a tiny peak and a long run).
    """
    __tracebackhide__ = True
    _check_options(thorough, seed)
    runs = _warmup_cosine_runs(thorough, seed)
    _run_check("warmup_cosine", fn, runs, "check_warmup_cosine")
    print(f"check_warmup_cosine passed: {fn.__name__} gives torch's learning rate (SequentialLR of LinearLR and "
          f"CosineAnnealingLR) at all {sum(r.total for r in runs)} updates of {len(runs)} runs.")


def _cosine_part(peak_lr, floor, done, length):
    return floor + (peak_lr - floor) * (1 + math.cos(math.pi * done / length)) / 2


@_named("warmup_cosine")
def _decay_one_update_late(t, peak_lr, warmup, total, floor=0.0):
    if t <= warmup:
        return peak_lr * t / warmup
    return _cosine_part(peak_lr, floor, t - warmup - 1, total - warmup)


@_named("warmup_cosine")
def _decays_to_zero(t, peak_lr, warmup, total, floor=0.0):
    if t <= warmup:
        return peak_lr * t / warmup
    return _cosine_part(peak_lr, 0.0, t - warmup, total - warmup)


@_named("warmup_cosine")
def _floor_on_top(t, peak_lr, warmup, total, floor=0.0):
    if t <= warmup:
        return peak_lr * t / warmup
    return floor + _cosine_part(peak_lr, 0.0, t - warmup, total - warmup)


@_named("warmup_cosine")
def _warmup_at_peak(t, peak_lr, warmup, total, floor=0.0):
    if t <= warmup:
        return peak_lr
    return _cosine_part(peak_lr, floor, t - warmup, total - warmup)


@_named("warmup_cosine")
def _warmup_from_zero(t, peak_lr, warmup, total, floor=0.0):
    if t <= warmup:
        return peak_lr * (t - 1) / warmup
    return _cosine_part(peak_lr, floor, t - warmup, total - warmup)


@_named("warmup_cosine")
def _decay_clock_from_start(t, peak_lr, warmup, total, floor=0.0):
    if t <= warmup:
        return peak_lr * t / warmup
    return _cosine_part(peak_lr, floor, t, total)


register_exercise_mistakes("warmup_cosine", [
    ExerciseMistake(
        "warmup-cosine-decay-one-late", "the decay starts one update late",
        "The warm-up reaches the peak on update t = warmup, and that is where the cosine starts: its clock reads 0 "
        "there and total − warmup on the last update. Yours lags one update behind, so the peak is used twice "
        "and the last update never gets down to the floor. (In torch this is the milestone of SequentialLR set "
        "one update too late.)",
        _decay_one_update_late),
    ExerciseMistake(
        "warmup-cosine-ignores-floor", "decays to 0 instead of to the floor",
        "The cosine must end at floor, not at 0: it moves between peak_lr and floor, so its amplitude is "
        "peak_lr − floor and floor is added on top (torch's eta_min).",
        _decays_to_zero),
    ExerciseMistake(
        "warmup-cosine-floor-on-top", "the floor added to a cosine that already spans the whole peak",
        "Your decay starts above the peak: adding floor to a cosine that goes from peak_lr to 0 gives one that "
        "goes from peak_lr + floor to floor. Scale the cosine by peak_lr − floor.",
        _floor_on_top),
    ExerciseMistake(
        "warmup-cosine-starts-at-peak", "no warm-up: the rate starts at the peak",
        "During the warm-up the rate must grow linearly, from peak_lr / warmup on the first update to peak_lr "
        "on update t = warmup. Yours uses the peak from the first update on, which is exactly what the warm-up "
        "is there to avoid.",
        _warmup_at_peak),
    ExerciseMistake(
        "warmup-cosine-warmup-from-zero", "the warm-up starts at 0, so the first update is wasted",
        "With t counted from 1, the first update must already use peak_lr / warmup, and update t = warmup the "
        "full peak. Yours gives the first update a learning rate of 0 (it does nothing) and never uses the peak.",
        _warmup_from_zero),
    ExerciseMistake(
        "warmup-cosine-clock-from-start", "the cosine counts from the first update, not from the end of the warm-up",
        "The decay's clock must start when the warm-up ends: it reads 0 at t = warmup and runs over the "
        "total − warmup remaining updates. Counting from t = 0 makes the rate drop abruptly right after the warm-up.",
        _decay_clock_from_start),
])


# --- exercise 2: the one-cycle policy -------------------------------------------------------------


def _one_cycle_phase(total: int, pct_start: float):
    end_of_rise = pct_start * total - 1  # torch's last_epoch at which the rise ends (a float)

    def phase(t: int) -> str:
        step = t - 1
        if t == total:
            return f"the last update, torch's step {step}, which uses the lowest rate"
        if step <= end_of_rise:
            where = "the first update, which uses the starting rate" if t == 1 else "in the rise"
            return f"{where}, torch's step {step}; the rise ends at step pct_start * total - 1 = {end_of_rise:.4g}"
        return f"in the fall, torch's step {step}; the rise ended at step pct_start * total - 1 = {end_of_rise:.4g}"
    return phase


def _one_cycle_run(title: str, max_lr: float, total: int, settings: tuple | None) -> _Run:
    """A run that passes ``settings = (pct_start, div_factor, final_div_factor)``, or none of them (the defaults)."""
    schedule = one_cycle_schedule(max_lr, total, *(settings or ()))
    expected = np.array([schedule(t) for t in range(1, total + 1)])
    names = ("max_lr", "total") + (("pct_start", "div_factor", "final_div_factor") if settings else ())
    args = (max_lr, total) + tuple(settings or ())
    shown = ", ".join(f"{n} = {_g(a)}" for n, a in zip(names, args))
    return _Run(f"{shown}{title}", names, args, total, expected, _one_cycle_phase(total, schedule.pct_start))


def _fractional_pct_start(rng, total: int, low: float, high: float) -> float:
    """A pct_start in about [low, high] whose pct_start * total is halfway between whole numbers, or near it."""
    whole = int(rng.integers(max(2, int(low * total)), max(3, int(high * total))))
    return (whole + float(rng.uniform(0.3, 0.7))) / total


def _one_cycle_runs(thorough: bool, seed: int) -> list[_Run]:
    rng = case_rng(1310 + seed)
    runs = [_one_cycle_run(", the other arguments at their defaults, worked by hand", 1.0, 10, None)]
    for lengths in ((30, 120), (150, 400)):
        total = int(rng.integers(*lengths))
        settings = (_fractional_pct_start(rng, total, 0.1, 0.5), float(rng.uniform(5, 50)),
                    float(10 ** rng.uniform(1, 4)))
        runs.append(_one_cycle_run("", float(10 ** rng.uniform(-3, 0)), total, settings))
    if thorough:
        max_lr = float(10 ** rng.uniform(-3, 0))
        # The shortest run comes last: a rounded end of the rise divides by zero there, and the autograder's
        # answer process does not answer again after the learner's code has raised.
        runs += [
            _one_cycle_run(" (pct_start * total a whole number)", max_lr, 40, (0.25, 10.0, 100.0)),
            _one_cycle_run(" (a long rise)", max_lr, 50, (0.9, 25.0, 1e4)),
            _one_cycle_run(" (div_factor = 1: it starts at max_lr)", max_lr, 25, (0.3, 1.0, 1e3)),
            _one_cycle_run(" (final_div_factor = 1: it ends where it started)", max_lr, 25, (0.3, 20.0, 1.0)),
            _one_cycle_run(" (a long run)", float(10 ** rng.uniform(-2, 0)), int(rng.integers(600, 900)),
                           (float(rng.uniform(0.2, 0.4)), 25.0, 1e4)),
            _one_cycle_run(" (the rise ends before the second update: max_lr is never used)", max_lr, 3,
                           (0.5, 25.0, 1e4)),
        ]
    return runs


def check_one_cycle(fn, *, thorough: bool = False, seed: int = 0) -> None:
    """Check ``one_cycle(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4)``.

    Compared at every update with :func:`one_cycle_schedule` (torch's ``OneCycleLR`` with cosine
    annealing, as :mod:`course_lib.schedules` computes it) on a run worked by hand with the
    defaults and two random runs whose rise ends between two updates (``thorough``: a rise shorter
    than one update, a rise that ends on a whole step, a long rise, ``div_factor = 1``,
    ``final_div_factor = 1`` and a long run).
    """
    __tracebackhide__ = True
    _check_options(thorough, seed)
    runs = _one_cycle_runs(thorough, seed)
    _run_check("one_cycle", fn, runs, "check_one_cycle")
    print(f"check_one_cycle passed: {fn.__name__} gives torch's OneCycleLR learning rate at all "
          f"{sum(r.total for r in runs)} updates of {len(runs)} runs.")


def _cosine_between(start, end, fraction):
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


def _one_cycle_by(t, max_lr, total, pct_start, div_factor, final_div_factor, *, step=None, end_of_rise=None,
                  lowest=None, anneal=_cosine_between):
    """One-cycle with some of its parts replaced, for the mistakes below."""
    initial = max_lr / div_factor
    lowest = initial / final_div_factor if lowest is None else lowest
    step = t - 1 if step is None else step
    end_of_rise = pct_start * total - 1 if end_of_rise is None else end_of_rise
    if step <= end_of_rise:
        return anneal(initial, max_lr, step / end_of_rise)
    return anneal(max_lr, lowest, (step - end_of_rise) / (total - 1 - end_of_rise))


@_named("one_cycle")
def _lowest_from_max(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    return _one_cycle_by(t, max_lr, total, pct_start, div_factor, final_div_factor,
                         lowest=max_lr / final_div_factor)


@_named("one_cycle")
def _step_is_t(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    return _one_cycle_by(t, max_lr, total, pct_start, div_factor, final_div_factor, step=t)


@_named("one_cycle")
def _rise_ends_late(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    return _one_cycle_by(t, max_lr, total, pct_start, div_factor, final_div_factor, end_of_rise=pct_start * total)


@_named("one_cycle")
def _rise_end_rounded(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    return _one_cycle_by(t, max_lr, total, pct_start, div_factor, final_div_factor,
                         end_of_rise=int(pct_start * total) - 1)


@_named("one_cycle")
def _linear_annealing(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    return _one_cycle_by(t, max_lr, total, pct_start, div_factor, final_div_factor,
                         anneal=lambda start, end, fraction: start + (end - start) * fraction)


@_named("one_cycle")
def _ends_where_it_started(t, max_lr, total, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
    return _one_cycle_by(t, max_lr, total, pct_start, div_factor, final_div_factor, lowest=max_lr / div_factor)


register_exercise_mistakes("one_cycle", [
    ExerciseMistake(
        "one-cycle-lowest-from-max", "the lowest rate computed from max_lr",
        "final_div_factor divides the STARTING rate, max_lr / div_factor, not max_lr itself: the run ends "
        "div_factor times lower than yours (torch's min_lr = initial_lr / final_div_factor).",
        _lowest_from_max),
    ExerciseMistake(
        "one-cycle-step-is-t", "torch's step counter taken to be t instead of t − 1",
        "torch's formulas use its step counter, which is 0 on the first update (last_epoch = t − 1). Yours "
        "is one step ahead everywhere: the first update is already above max_lr / div_factor, and the last one "
        "overshoots the end of the cycle.",
        _step_is_t),
    ExerciseMistake(
        "one-cycle-rise-ends-late", "the rise ends at step pct_start * total instead of pct_start * total − 1",
        "In torch's step numbers (from 0), the rise ends at step pct_start * total − 1: that is the step on "
        "which max_lr is reached. Yours reaches it one step later.",
        _rise_ends_late),
    ExerciseMistake(
        "one-cycle-rise-end-rounded", "the end of the rise rounded to a whole step",
        "torch keeps the end of the rise, pct_start * total − 1, as it is, a number that need not be whole: "
        "then max_lr falls between two updates and neither uses it exactly. Do not round it.",
        _rise_end_rounded),
    ExerciseMistake(
        "one-cycle-linear", "linear instead of cosine annealing",
        "The exercise asks for torch's default anneal_strategy='cos': each phase follows half a cosine "
        "between its two rates, (1 + cos(pi * fraction)) / 2 of the way, not a straight line.",
        _linear_annealing),
    ExerciseMistake(
        "one-cycle-ends-where-it-started", "final_div_factor left out: the fall ends at the starting rate",
        "The second phase must go below where the first began: down to max_lr / div_factor / final_div_factor. "
        "Those last, very small steps are the annihilation part of Smith's policy.",
        _ends_where_it_started),
])
