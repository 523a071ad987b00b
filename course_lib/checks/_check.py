"""``check_update``: a learner's update function against the reference, step by step, explained in words."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..optimizers import Optimizer
from ._cases import case_seed
from ._calls import (Outcome, call_update, fail, learner_hyperparameters, reference_step,
                     takes_gradient_function)
from ._compare import TOLERANCE, TOLERANCE_NOTE, Difference, differences
from .mistakes import MISTAKES, Mistake, matching_mistakes

_HAND_GRADIENTS = (0.5, -1.0, 2.0, 0.25, -0.5)
"""The gradients of the first case, simple enough to follow with pencil and paper."""


@dataclasses.dataclass(frozen=True)
class _Quadratic:
    """``grad_fn`` for look-ahead updates: the gradient of ``sum(curvature * (x - center)**2) / 2``."""

    curvature: np.ndarray
    center: np.ndarray

    def __call__(self, x):
        if not isinstance(x, np.ndarray) or x.shape != self.center.shape:
            shape = x.shape if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"grad_fn takes a NumPy array of shape {self.center.shape}, got {shape}")
        return self.curvature * (x - self.center)


@dataclasses.dataclass(frozen=True)
class _Call:
    """One step of a case: the correct inputs, and the correct results as an :class:`Outcome`."""

    case: int
    title: str
    step: int
    param: np.ndarray
    gradient: object
    state: dict
    expected: Outcome


@dataclasses.dataclass(frozen=True)
class _Failure:
    """A call whose outcome is not right: a problem in words, or the differing variables."""

    call: _Call
    outcome: Outcome
    differences: list[Difference]


def _spread(rng, shape, low: int, high: float) -> np.ndarray:
    """Random signs times magnitudes spread evenly over the decades 10**low .. 10**high."""
    return rng.choice([-1.0, 1.0], size=shape) * 10.0 ** rng.uniform(low, high, size=shape)


def _cases(reference: Optimizer, steps: int, seed: int, shapes) -> list[list[_Call]]:
    """A one-element case to follow by hand, then one random case per shape, run through the reference.

    Random gradients span eight decades, so that eps's place shows at its default size, and
    parameters three, so that weight decay does not drown the small gradients.
    """
    rng = np.random.default_rng(case_seed(seed))
    look_ahead = takes_gradient_function(reference)
    cases = []
    for number, shape in enumerate([(1,), *shapes], start=1):
        if number == 1:
            title, param = "one element, to follow by hand", np.ones(1)
            if look_ahead:
                gradients = [_Quadratic(np.ones(1), np.zeros(1))] * steps
            else:
                gradients = [np.array([_HAND_GRADIENTS[i % len(_HAND_GRADIENTS)]]) for i in range(steps)]
        else:
            title, param = f"random, shape {shape}", _spread(rng, shape, -3, 0.5)
            if look_ahead:
                gradients = [_Quadratic(10.0 ** rng.uniform(-1, 1, shape), rng.normal(size=shape))] * steps
            else:
                gradients = [_spread(rng, shape, -7, 1) for _ in range(steps)]
        state, calls = reference.init(param), []
        for step, gradient in enumerate(gradients, start=1):
            new_param, new_state = reference_step(reference, param, gradient, state)
            expected = Outcome(param=new_param, state=new_state)
            calls.append(_Call(number, title, step, param, gradient, state, expected))
            param, state = new_param, new_state
        cases.append(calls)
    return cases


def _judge(call: _Call, outcome: Outcome) -> _Failure | None:
    if outcome.problem is not None:
        return _Failure(call, outcome, [])
    found = differences(outcome, call.expected.param, call.expected.state)
    return _Failure(call, outcome, found) if found else None


def check_update(fn, reference: Optimizer, *, steps: int = 5, seed: int = 0, shapes=((4,), (2, 3))) -> None:
    """Check a learner's update function against ``reference`` and explain the first difference in words.

    ``fn(param, grad, state, **hyperparameters) -> (new_param, new_state)`` is run on a
    one-element case worked by hand, then on random arrays of each shape in ``shapes``, for
    ``steps`` steps each, with the hyperparameters of ``reference``. Each step is checked twice:
    from the reference's correct inputs, so one early slip does not hide the later ones, and
    fed the function's own previous results, as in training. Values agree when their relative
    error ``|a - b| / max(|a|, |b|, 1e-12)`` is at most 1e-8.

    On success it prints one line saying what was checked. Otherwise it raises
    :class:`CheckFailed` whose message names the step, the case, the state variable (or the
    parameter) that first differs, expected and actual values, the inputs at that element,
    which other steps go wrong, and, when the results are those of a catalogued mistake, its
    name and a hint. Functions that raise, return the wrong structure, NaN, or write into their
    inputs get a paragraph saying so, with the offending line of their code.

    Look-ahead references (:class:`~course_lib.optimizers.SutskeverNesterov`) are checked the
    same way, except that the function receives ``grad_fn``, the gradient of a fixed quadratic,
    in place of ``grad``, and must evaluate it where the method says.
    """
    __tracebackhide__ = True
    if not isinstance(reference, Optimizer):
        raise TypeError(f"reference must be an optimizer of course_lib.optimizers, "
                        f"got {type(reference).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    if not all(isinstance(s, tuple) and all(isinstance(n, int) and n > 0 for n in s) for s in shapes):
        raise ValueError(f"shapes must be tuples of positive whole numbers, such as ((4,), (2, 3)); "
                         f"got {shapes!r}")
    if not callable(fn):
        fail(f"check_update needs your update function, got a {type(fn).__name__}.")
    name = getattr(fn, "__name__", "your function")
    message, mistakes = _diagnose(fn, name, reference, steps, seed, shapes)
    if message:
        fail(message, tuple(m.id for m in mistakes))
    keys = ", ".join(repr(k) for k in reference.init(np.ones(1)))
    print(f"check_update passed: {name} matches {reference.label} at every step of {1 + len(shapes)} "
          f"cases x {steps} steps (param and state {keys}, relative error <= {TOLERANCE:g}), and leaves its "
          f"inputs alone.")


def _diagnose(fn, name, reference, steps, seed, shapes) -> tuple[str | None, list[Mistake]]:
    """The failure message (None if ``fn`` passes) and the catalogued mistakes it matches."""
    kwargs, problem = learner_hyperparameters(fn, reference)
    if problem:
        return problem, []
    cases = _cases(reference, steps, seed, shapes)
    calls = [call for case in cases for call in case]
    outcomes = [call_update(fn, c.param, c.gradient, c.state, kwargs) for c in calls]
    failures = [f for f in map(_judge, calls, outcomes) if f is not None]
    header = f"{name} does not match {reference.label} yet."
    if failures:
        first = failures[0]
        if first.outcome.mutated:
            mistakes = [MISTAKES["inputs-changed-in-place"]]
        elif first.outcome.raised or first.differences:
            inputs = [(c.param, c.gradient, c.state) for c in calls]
            mistakes = matching_mistakes(reference, inputs, outcomes, [c.expected for c in calls])
        else:
            mistakes = []
        lines = [header, *_describe_failure(first, kwargs, named=bool(mistakes))]
        lines.append(_other_failures(failures, cases))
        lines += [f'This matches a classic mistake, "{m.name}": {m.hint}' for m in mistakes]
        if first.differences and first.differences[0].variable != "state['step']":
            lines.append(TOLERANCE_NOTE)
        return "\n".join(lines), mistakes
    for case in cases:
        failure = _free_run(fn, kwargs, case)
        if failure:
            return "\n".join([
                header,
                "Every step is right when your function is given the correct inputs, but fed its own "
                "results, as in training, it goes wrong:",
                *_describe_failure(failure, kwargs),
                "So it depends on something besides its arguments: a global variable, or a list or dict "
                "used as a default argument and changed between calls.",
            ]), []
    return None, []


def _free_run(fn, kwargs, case: list[_Call]) -> _Failure | None:
    param, state = case[0].param, case[0].state
    for call in case:
        outcome = call_update(fn, param, call.gradient, state, kwargs)
        failure = _judge(call, outcome)
        if failure:
            return failure
        param, state = outcome.param, outcome.state
    return None


def _describe_failure(failure: _Failure, kwargs: dict, named: bool = False) -> list[str]:
    """Where it failed, what went wrong, and the inputs; ``named`` when a catalogued mistake explains it."""
    call = failure.call
    where = f"case {call.case} ({call.title}), step {call.step} (given state['step'] == {call.step - 1})"
    if failure.outcome.problem is not None:
        return [f"First problem: {where}: {failure.outcome.problem}", _inputs(call, kwargs)]
    first, *others = failure.differences
    counter = first.variable == "state['step']"
    at = f" at index {first.index}" if first.index else ""
    lines = [f"First difference: {where}, in {first.variable}{at}:",
             f"    expected {first.expected:.10g}, got {first.got:.10g}"
             + ("." if counter else f" (relative error {first.error:.2g}).")
             + (f" Also different: {', '.join(d.variable for d in others)}." if others else "")]
    if not np.isfinite(first.got):
        lines.append("NaN or inf comes from a division by zero, or the root or log of a negative number.")
    elif first.error < 1e-5 and not named:
        lines.append("The difference is small: look for a float32 value or a rounded constant in your code.")
    return lines + [_inputs(call, kwargs, first.index or None)]


def _inputs(call: _Call, kwargs: dict, at: tuple | None = None) -> str:
    """The inputs of ``call``: whole (small) arrays, or only the element ``at``, which alone decides it."""
    settings = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    param = _show(call.param) if at is None else f"{call.param[at]:.10g}"
    return (f"{'Inputs' if at is None else 'Inputs at that index'}: param = {param}, "
            f"{_show_gradient(call.gradient, at)}, state: {_show_state(call.state, at)}; {settings}.")


def _show(array: np.ndarray) -> str:
    if array.size > 3:
        return f"an array of shape {array.shape}"
    return np.array2string(array, separator=", ", formatter={"float_kind": lambda x: f"{x:.6g}"})


def _show_gradient(gradient, at=None) -> str:
    if isinstance(gradient, _Quadratic):
        if at is None:
            return "grad_fn(x) = curvature * (x - center)"
        return (f"grad_fn(x) = curvature * (x - center) with curvature = {gradient.curvature[at]:.10g}, "
                f"center = {gradient.center[at]:.10g}")
    return f"grad = {_show(gradient)}" if at is None else f"grad = {gradient[at]:.10g}"


def _show_state(state: dict, at=None) -> str:
    shown = []
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            value = _show(value) if at is None else f"{value[at]:.10g}"
        shown.append(f"{key} = {value:.10g}" if isinstance(value, float) else f"{key} = {value}")
    return ", ".join(shown)


def _other_failures(failures: list[_Failure], cases: list[list[_Call]]) -> str:
    """Which steps go wrong from the correct inputs, so that a slip at one step does not hide the rest."""
    by_case = {case[0].case: [] for case in cases}
    for failure in failures:
        by_case[failure.call.case].append(failure.call.step)
    steps = len(cases[0])
    if all(len(wrong) == steps for wrong in by_case.values()):
        return "Given the correct inputs, every step of every case goes wrong."
    if len(failures) == 1:
        return "Given the correct inputs, every other step of every case is right."
    described = "; ".join(f"case {case}: steps {_ranges(wrong)}" for case, wrong in by_case.items() if wrong)
    return f"Given the correct inputs, these steps go wrong ({steps} per case): {described}."


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` as ``"1-3, 5"``."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
