"""``check_update``: a learner's update function against the reference, step by step, explained in words."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np

from ..optimizers import Optimizer
from ._cases import case_seed
from ._calls import (UPDATE_FUNCTIONS, Outcome, UpdateForm, call_update, fail, learner_hyperparameters,
                     quietly, same_bits, takes_gradient_function)
from ._compare import FLOAT32_TOLERANCE, ROUNDING_UNITS, TOLERANCE, Difference, differences
from .mistakes import MISTAKES, Mistake, matching_mistakes

_HAND_GRADIENTS = (0.5, -1.0, 2.0, 0.25, -0.5)
"""The gradients of the first case, simple enough to follow with pencil and paper."""

_EXTRA_STEPS = 5
"""Steps of the cases that try one thing each (zero gradients, 0-d, float32, a schedule, the
defaults): what they test shows within a few steps, and more would only cost time."""

_ZERO_SHARE = 0.2
"""The share of gradient elements that are exactly 0: a ReLU or an unused embedding row gives
exact zeros, and they expose code that tells the first step by a zero buffer."""


@dataclasses.dataclass(frozen=True)
class _Quadratic:
    """``grad_fn`` for look-ahead updates: the gradient of ``sum(curvature * (x - center)**2) / 2``."""

    curvature: np.ndarray
    center: np.ndarray

    def __call__(self, x):
        if isinstance(x, np.generic) and self.center.ndim == 0:
            x = np.asarray(x)  # NumPy turns 0-d results into scalars
        if not isinstance(x, np.ndarray) or x.shape != self.center.shape:
            shape = x.shape if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"grad_fn takes a NumPy array of shape {self.center.shape}, got {shape}")
        return self.curvature * (x - self.center)


@dataclasses.dataclass(frozen=True)
class _Call:
    """One step: the hyperparameters, the inputs, and the correct results with their rounding scales."""

    step: int
    reference: Optimizer   # the reference with this step's hyperparameters
    kwargs: dict           # the keyword arguments the learner's function gets
    param: np.ndarray
    gradient: object       # an array, or a _Quadratic for look-ahead updates
    state: dict
    seen: np.ndarray       # the gradient the reference used: ``gradient`` or its value at the look-ahead point
    expected: Outcome
    scales: dict           # S of each float variable (see :class:`~._compare.Difference`)


@dataclasses.dataclass(frozen=True)
class _Case:
    """A run of steps from one start, with what a failure confined to it means."""

    number: int
    title: str
    kind: str              # in brief, for the line that says what passed: "random", "float32", ...
    calls: list[_Call]
    named: bool = True
    """Whether catalogued mistakes are matched on it: only on float64 cases with the reference's
    own hyperparameters, which is how the mistakes' wrong answers are computed."""
    note: str | None = None

    @property
    def finite(self) -> bool:
        """Whether the reference stays finite (with a zero gradient and eps = 0 it divides 0 by 0)."""
        return all(np.all(np.isfinite(v)) for c in self.calls
                   for v in (c.expected.param, *c.expected.state.values()))


@dataclasses.dataclass(frozen=True)
class _Failure:
    """A call whose outcome is not right: a problem in words, or the differing variables."""

    case: _Case
    call: _Call
    outcome: Outcome
    differences: list[Difference]

    @property
    def problem(self) -> str | None:
        """What is wrong in words, when it is not a difference of values."""
        if self.outcome.problem is not None:
            return self.outcome.problem
        return None if self.differences else self.outcome.shared


def _expected_call(step, reference, kwargs, param, gradient, state) -> _Call:
    """The call of step ``step`` on these inputs, with the reference's results for them."""
    seen = gradient(reference.gradient_point(param, state)) if callable(gradient) else gradient
    new_param, new_state = reference.step(param, seen, state)
    expected = Outcome(param=new_param, state=new_state)
    return _Call(step, reference, kwargs, param, gradient, state, seen, expected,
                 _scales(reference, param, seen, state, expected))


def _scales(reference, param, seen, state, expected: Outcome) -> dict:
    """S for each variable: the largest quantity at each element that a correct formula for it may
    combine, so that rounding it differently moves the result by a few rounding units of S.

    Every update combines the parameter, its gradient and the weight-decay term, and each
    variable its own old and new values. Others may differ in units (a squared gradient), so
    they are left out.
    """
    base = np.maximum.reduce([np.abs(param), np.abs(expected.param), np.abs(seen),
                              getattr(reference, "weight_decay", 0.0) * np.abs(param)])
    scales = {"param": base}
    for key, value in expected.state.items():
        if isinstance(value, np.ndarray):
            scales[key] = np.maximum(base, np.maximum(np.abs(state[key]), np.abs(value)))
        elif key != "step":
            scales[key] = max(abs(state[key]), abs(value))
    return scales


def _run_reference(number, title, kind, param, gradients, settings, **options) -> _Case:
    """A case: the reference run from ``param`` on ``gradients``, with ``settings[i] = (reference, kwargs)``."""
    state, calls = settings[0][0].init(param), []
    with quietly():  # a warning on stderr zeroes a test cell; a reference that breaks down is dealt with
        for step, (gradient, (reference, kwargs)) in enumerate(zip(gradients, settings), start=1):
            call = _expected_call(step, reference, kwargs, param, gradient, state)
            calls.append(call)
            param, state = call.expected.param, call.expected.state
    return _Case(number, title, kind, calls, **options)


def _spread(rng, shape, low: float, high: float) -> np.ndarray:
    """Random signs times magnitudes spread evenly over the decades 10**low .. 10**high."""
    return np.asarray(rng.choice([-1.0, 1.0], size=shape) * 10.0 ** rng.uniform(low, high, size=shape))


class _CaseMaker:
    """Random cases for one reference, drawn from one generator in a fixed order.

    Parameters span three decades, so that weight decay does not drown the small gradients;
    gradients span eight, so that eps's place shows at its default size, and a fifth of them
    are exactly 0. For look-ahead updates the gradient is that of a quadratic, and a fifth of
    the coordinates start at its minimum.
    """

    def __init__(self, reference: Optimizer, kwargs: dict, rng: np.random.Generator):
        self.reference, self.kwargs, self.rng = reference, kwargs, rng
        self.look_ahead = takes_gradient_function(reference)

    def random(self, number, title, kind, shape, steps, *, dtype=np.float64, zero_first=False, settings=None,
               **options):
        """A random case; ``zero_first`` makes the first gradient 0 everywhere (a start at a minimum).

        If the reference breaks down on the zero gradients, the case is run without them.
        """
        settings = settings or [(self.reference, self.kwargs)] * steps
        param = _spread(self.rng, shape, -3 if dtype == np.float64 else -1, 0.5).astype(dtype)
        if self.look_ahead:
            curvature = np.asarray(10.0 ** self.rng.uniform(-1, 1, shape), dtype=dtype)
            center = self.rng.normal(size=shape)
            at_minimum = np.full(shape, True) if zero_first else self.rng.random(shape) < _ZERO_SHARE
            runs = [[_Quadratic(curvature, np.where(zeros, param, center).astype(dtype))] * steps
                    for zeros in (at_minimum, False)]
        else:
            values = _spread(self.rng, (steps, *shape), -7 if dtype == np.float64 else -3, 1)
            zeros = self.rng.random((steps, *shape)) < _ZERO_SHARE
            zeros[0] |= zero_first
            runs = [[np.array(g, dtype=dtype) for g in gradients]  # arrays, even of shape ()
                    for gradients in (np.where(zeros, 0.0, values), values)]
        for gradients in runs:
            case = _run_reference(number, title, kind, param, gradients, settings, **options)
            if case.finite:
                break
        return case

    def by_hand(self, steps) -> _Case:
        param = np.ones(1)
        if self.look_ahead:
            gradients = [_Quadratic(np.ones(1), np.zeros(1))] * steps
        else:
            gradients = [np.array([_HAND_GRADIENTS[i % len(_HAND_GRADIENTS)]]) for i in range(steps)]
        return _run_reference(1, "one element, to follow by hand", "by hand", param, gradients,
                              [(self.reference, self.kwargs)] * steps)

    def schedule(self, steps) -> list[tuple[Optimizer, dict]]:
        """Each step's reference and keyword arguments when lr changes at every step, between 1/10 and
        twice its value, as a warm-up, decay or cyclic schedule changes it."""
        lrs = [float(f"{lr:.3g}") for lr in self.reference.lr * 10.0 ** self.rng.uniform(-1, 0.3, size=steps)]
        return [(dataclasses.replace(self.reference, lr=lr), {**self.kwargs, "lr": lr}) for lr in lrs]


_NOTES = {
    "zero": ("Only this case goes wrong: it starts where the gradient is exactly 0 everywhere, as at a minimum "
             "or for weights the first batch does not use. A zero gradient is valid input: tell the first step "
             "by state['step'], not by a buffer or gradient that is zero."),
    "0-d": ("Only this case goes wrong: param is a 0-d array, a single number of shape (). Expressions on "
            "whole arrays work for every shape; param[0], len(param) or a loop over the elements do not."),
    "float32": (f"Only this case goes wrong: its arrays are float32. The results must be float32 too and agree "
                f"to float32's rounding (relative error <= {FLOAT32_TOLERANCE:g})."),
    "schedule": ("Only this case goes wrong, the one whose lr changes between steps, as under a learning-rate "
                 "schedule. Use the lr given to each call: an lr remembered from an earlier call, or folded "
                 "into the state where the method keeps none, is stale as soon as lr changes."),
}


def _cases(reference, kwargs, steps, seed, shapes, defaults) -> list[_Case]:
    """The case by hand, one random case per shape, then cases that try one thing each; ``defaults`` is
    ``(reference, kwargs, note)`` for the case that calls with few or no keyword arguments, or None.

    Random cases come from ``np.random.default_rng(case_seed(seed))``, so that grading draws
    fresh ones (see :mod:`._cases`).
    """
    make = _CaseMaker(reference, kwargs, np.random.default_rng(case_seed(seed)))
    cases = [make.by_hand(steps)]
    for shape in shapes:
        cases.append(make.random(len(cases) + 1, f"random, shape {shape}", "random", shape, steps))
    extra = min(steps, _EXTRA_STEPS)
    zero = make.random(len(cases) + 1, "zero gradient everywhere at step 1, as at a minimum", "zero gradients",
                       (3,), extra, zero_first=True, note=_NOTES["zero"])
    if np.all(zero.calls[0].seen == 0):  # else the reference broke down on zeros, and it repeats a random case
        cases.append(zero)
    cases.append(make.random(len(cases) + 1, "a 0-d array, shape ()", "0-d", (), extra, named=False,
                             note=_NOTES["0-d"]))
    cases.append(make.random(len(cases) + 1, "float32 arrays, shape (2, 2)", "float32", (2, 2), extra,
                             dtype=np.float32, named=False, note=_NOTES["float32"]))
    if "lr" in kwargs and reference.lr > 0:
        cases.append(make.random(len(cases) + 1, "lr changing at every step, as under a schedule, shape (4,)",
                                 "lr schedule", (4,), extra, settings=make.schedule(extra), named=False,
                                 note=_NOTES["schedule"]))
    if defaults is not None:
        default_reference, given, note = defaults
        cases.append(make.random(len(cases) + 1, _defaults_title(given), "defaults", (3,), extra,
                                 settings=[(default_reference, given)] * extra, named=False, note=note))
    return cases


def _defaults_title(given: dict) -> str:
    if not given:
        return "called with no keyword arguments: the defaults"
    return f"called with only {_settings(given)}: the defaults of the rest"


def _settings(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def check_update(fn, reference: Optimizer, *, steps: int = 5, seed: int = 0, shapes=((4,), (2, 3)),
                 defaults: bool | dict = False) -> None:
    """Check a learner's update function against ``reference`` and explain the first difference in words.

    ``fn(param, grad, state, **hyperparameters) -> (new_param, new_state)`` is run, with the
    hyperparameters of ``reference``, on a one-element case worked by hand and on random arrays
    of each shape in ``shapes``, for ``steps`` steps each; then, for a few steps each, on cases
    that try one thing: a gradient exactly 0 everywhere (a start at a minimum), a 0-d array,
    float32 arrays, and lr changing at every step as under a schedule. Random gradients are
    exactly 0 at a fifth of their elements. With ``defaults=True`` the function is also called
    with no keyword arguments at all and compared with the exercise's reference at its defaults;
    ``defaults={"momentum": 0.9}`` passes only those (for ``nesterov_update``, whose default
    momentum of 0 torch refuses).

    Each step is checked twice: from the reference's correct inputs, so one early slip does
    not hide the later ones, and fed the function's own previous results, as in training, where
    it is compared with the reference's step on those same inputs. Values agree within a
    relative error of 1e-8 (1e-4 for float32), or within 16 rounding units of the largest
    quantity a correct formula combines (see :class:`~._compare.Difference`): rounding in any
    order passes, a different formula does not. The results must be new arrays, sharing memory
    with no input, no other result, and nothing returned at the previous step.

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
    if not isinstance(defaults, (bool, dict)):
        raise TypeError(f"defaults must be True, False or a dict of the keyword arguments to pass, "
                        f"got {defaults!r}")
    if not callable(fn):
        fail(f"check_update needs your update function, got a {type(fn).__name__}.")
    name = getattr(fn, "__name__", "your function")
    message, mistakes, cases = _diagnose(fn, name, reference, steps, seed, shapes, defaults)
    if message:
        fail(message, tuple(m.id for m in mistakes))
    keys = ", ".join(repr(k) for k in reference.init(np.ones(1)))
    print(f"check_update passed: {name} matches {reference.label} at every step of {len(cases)} cases "
          f"({_case_kinds(cases)}), from the correct inputs and from its own results (param and state {keys}, "
          f"relative error <= {TOLERANCE:g}, {FLOAT32_TOLERANCE:g} in float32, or {ROUNDING_UNITS} rounding units "
          f"of the quantities combined), returns new arrays and leaves its inputs alone.")


def _case_kinds(cases: list[_Case]) -> str:
    """The cases in brief: "by hand, 2 random, zero gradients, 0-d, float32, lr schedule"."""
    kinds = [case.kind for case in cases]
    return ", ".join(f"{kinds.count(kind)} {kind}" if kinds.count(kind) > 1 else kind for kind in dict.fromkeys(kinds))


def _diagnose(fn, name, reference, steps, seed, shapes, defaults):
    """The failure message (None if ``fn`` passes), the catalogued mistakes it matches, and the cases."""
    kwargs, problem = learner_hyperparameters(fn, reference)
    if problem:
        return problem, [], []
    default_setting = None
    if defaults is not False:
        default_setting, problem = _default_setting(fn, name, reference, {} if defaults is True else defaults)
        if problem:
            return problem, [], []
    cases = _cases(reference, kwargs, steps, seed, shapes, default_setting)
    outcomes = {case.number: _run(fn, case) for case in cases}
    failures = [failure for case in cases for failure in _judged(case, outcomes[case.number])]
    header = f"{name} does not match {reference.label} yet."
    if failures:
        mistakes = _mistakes(reference, failures[0], cases, outcomes)
        return "\n".join([header, *_explain(failures, cases, mistakes)]), mistakes, cases
    for case in cases:
        failure = _free_run(fn, case)
        if failure:
            return "\n".join([header, *_explain_free_run(failure)]), [], cases
    return None, [], cases


def _default_setting(fn, name, reference, given: dict):
    """``(reference at its defaults, given, note)`` for the case that calls ``fn`` with only ``given``, or
    a problem in words if ``fn`` cannot be called so."""
    form = UPDATE_FUNCTIONS.get(name, UpdateForm(type(reference)))
    try:
        default = form.optimizer(**form.implied, **given)
    except (TypeError, ValueError) as error:
        raise ValueError(f"defaults={given!r} does not make a valid {form.optimizer.__name__}: {error}. Pass "
                         f"the hyperparameters whose defaults it refuses, e.g. defaults={{'momentum': 0.9}}.") from None
    call = f"{name}(param, {'grad_fn' if takes_gradient_function(default) else 'grad'}, state" + (
        f", {_settings(given)})" if given else ")")
    parameters = inspect.signature(fn).parameters  # readable: learner_hyperparameters has read it
    try:
        inspect.signature(fn).bind(None, None, None, **given)
    except TypeError as error:
        return None, (f"{name} cannot be called as {call}: {error}. Give every hyperparameter its default, as "
                      f"the exercise's signature does.")
    expected = {f.name: getattr(default, f.name) for f in dataclasses.fields(default)
                if f.init and f.name not in form.implied and f.name not in given}
    note = f"Called as {call}, your function must use the exercise's defaults: {_settings(expected)}."
    wrong = [f"{n}={parameters[n].default!r}" for n in expected
             if n in parameters and parameters[n].default is not inspect.Parameter.empty
             and not _same(parameters[n].default, expected[n])]
    if wrong:
        note += f" Your signature has {', '.join(wrong)}."
    return (default, dict(given), note), None


def _same(a, b) -> bool:
    """Equal values, with a list and a tuple of the same numbers counted as the same."""
    try:
        return np.shape(a) == np.shape(b) and bool(np.all(np.asarray(a) == np.asarray(b)))
    except (TypeError, ValueError):
        return a == b


def _run(fn, case: _Case) -> list[Outcome]:
    """The function's outcome at every step of ``case``, each from the correct inputs."""
    outcomes, earlier = [], ()
    for call in case.calls:
        outcomes.append(call_update(fn, call.param, call.gradient, call.state, call.kwargs, earlier))
        earlier = outcomes[-1].returned
    return outcomes


def _judged(case: _Case, outcomes: list[Outcome]) -> list[_Failure]:
    return [f for f in (_judge(case, call, outcome) for call, outcome in zip(case.calls, outcomes)) if f]


def _judge(case: _Case, call: _Call, outcome: Outcome) -> _Failure | None:
    if outcome.problem is not None:
        return _Failure(case, call, outcome, [])
    found = differences(outcome, call.expected, call.scales)
    return _Failure(case, call, outcome, found) if found or outcome.shared else None


def _free_run(fn, case: _Case) -> _Failure | None:
    """The first step that goes wrong when ``fn`` is fed its own results, each judged against the
    reference's step on those same inputs: rounding cannot pile up, so any difference is real."""
    param, state, earlier = case.calls[0].param, case.calls[0].state, ()
    for call in case.calls:
        with quietly():
            own = call if _same_inputs(call, param, state) else _expected_call(
                call.step, call.reference, call.kwargs, param, call.gradient, state)
        outcome = call_update(fn, param, call.gradient, state, call.kwargs, earlier)
        failure = _judge(case, own, outcome)
        if failure:
            return failure
        param, state, earlier = outcome.param, outcome.state, outcome.returned
    return None


def _same_inputs(call: _Call, param, state) -> bool:
    """Whether ``param`` and ``state`` are bit for bit the inputs of ``call``, whose results are known."""
    return same_bits(param, call.param) and all(
        same_bits(value, call.state[key]) if isinstance(value, np.ndarray) else value == call.state[key]
        for key, value in state.items())


def _mistakes(reference, first: _Failure, cases, outcomes) -> list[Mistake]:
    """The catalogued mistakes that the function's results match on the cases they are matched on."""
    if first.outcome.mutated:
        return [MISTAKES["inputs-changed-in-place"]]
    if not (first.outcome.raised or first.differences):
        return []
    pairs = [(call, outcome) for case in cases if case.named
             for call, outcome in zip(case.calls, outcomes[case.number])]
    return matching_mistakes(reference, [(c.param, c.gradient, c.state) for c, _ in pairs],
                             [o for _, o in pairs], [c.expected for c, _ in pairs])


def _explain(failures: list[_Failure], cases: list[_Case], mistakes: list[Mistake]) -> list[str]:
    first = failures[0]
    lines = [*_describe_failure(first, named=bool(mistakes)), _other_failures(failures, cases)]
    if first.case.note and all(f.case is first.case for f in failures):
        lines.append(first.case.note)
    lines += [f'This matches a classic mistake, "{m.name}": {m.hint}' for m in mistakes]
    if first.differences and first.differences[0].variable != "state['step']":
        lines.append(first.differences[0].note())
    return lines


def _explain_free_run(failure: _Failure) -> list[str]:
    lines = ["Every step is right when your function is given the correct inputs, but fed its own results, as "
             "in training, it goes wrong:", *_describe_failure(failure)]
    if failure.differences:
        lines += ["That is not the reference's step on those same inputs, so your function depends on something "
                  "besides its arguments: a global variable, or a list or dict used as a default argument and "
                  "changed between calls.", failure.differences[0].note()]
    return lines


def _describe_failure(failure: _Failure, named: bool = False) -> list[str]:
    """Where it failed, what went wrong, and the inputs; ``named`` when a catalogued mistake explains it."""
    call = failure.call
    where = f"case {failure.case.number} ({failure.case.title}), step {call.step} (given state['step'] == {call.step - 1})"
    if failure.problem is not None:
        return [f"First problem: {where}: {failure.problem}", _inputs(call)]
    first, *others = failure.differences
    counter = first.variable == "state['step']"
    at = f" at index {first.index}" if first.index else ""
    lines = [f"First difference: {where}, in {first.variable}{at}:",
             f"    expected {first.expected:.10g}, got {first.got:.10g}"
             + ("." if counter else f" (relative error {first.error:.2g}).")
             + (f" Also different: {', '.join(d.variable for d in others)}." if others else "")]
    if not np.isfinite(first.got):
        lines.append("NaN or inf comes from a division by zero, or the root or log of a negative number.")
    elif not named:
        lines += _hints(failure, first)
    return lines + [_inputs(call, first.index or None)]


def _hints(failure: _Failure, first: Difference) -> list[str]:
    """What the numbers suggest when no catalogued mistake explains them."""
    hints = []
    if first.error < 1e-5 and first.dtype == "float64":
        hints.append("The difference is small: look for a float32 value or a rounded constant in your code.")
    ratio = _step_ratio(failure) if first.variable == "param" else None
    if ratio is not None:
        hints.append(f"Your step, new_param - param, is {ratio:.6g} times the expected one.")
    element = len(first.index) == np.ndim(failure.call.seen)  # not a number such as NAdam's mu_product
    zeros = [c.step for c in failure.case.calls[:failure.call.step] if element and c.seen[first.index] == 0]
    if zeros:
        hints.append(f"At that element the gradient is exactly 0 at step{'s' * (len(zeros) > 1)} {_ranges(zeros)}. "
                     f"A zero gradient is valid "
                     f"input: tell the first step by state['step'], not by a zero buffer, and update every element "
                     f"whatever its gradient.")
    return hints


def _step_ratio(failure: _Failure) -> float | None:
    """``got / expected`` of the parameter's step, when it is one number at every element (and not 1)."""
    call = failure.call
    expected, got = call.expected.param - call.param, failure.outcome.param - call.param
    moving = expected != 0
    if not np.any(moving):
        return None
    with np.errstate(all="ignore"):
        ratios = got[moving] / expected[moving]
    ratio = float(ratios.flat[0])
    if not np.all(np.isfinite(ratios)) or abs(ratio - 1) < 1e-6 or np.ptp(ratios) > 1e-6 * abs(ratio):
        return None
    return ratio


def _inputs(call: _Call, at: tuple | None = None) -> str:
    """The inputs of ``call``: whole (small) arrays, or only the element ``at``, which alone decides it."""
    settings = _settings(call.kwargs) or "no keyword arguments"
    param = _show(call.param) if at is None else f"{call.param[at]:.10g}"
    return (f"{'Inputs' if at is None else 'Inputs at that index'}: param = {param}, "
            f"{_show_gradient(call.gradient, at)}, state: {_show_state(call.state, at)}; {settings}.")


def _show(array: np.ndarray) -> str:
    if array.size > 3:
        return f"an array of shape {array.shape}"
    dtype = "" if array.dtype == np.float64 else f" ({array.dtype})"
    return np.array2string(array, separator=", ", formatter={"float_kind": lambda x: f"{x:.6g}"}) + dtype


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


def _other_failures(failures: list[_Failure], cases: list[_Case]) -> str:
    """Which steps go wrong from the correct inputs, so that a slip at one step does not hide the rest."""
    wrong = {case.number: [] for case in cases}
    for failure in failures:
        wrong[failure.case.number].append(failure.call.step)
    if all(len(wrong[case.number]) == len(case.calls) for case in cases):
        return "Given the correct inputs, every step of every case goes wrong."
    if len(failures) == 1:
        return "Given the correct inputs, every other step of every case is right."
    described = "; ".join(f"case {number}: steps {_ranges(steps)}" for number, steps in wrong.items() if steps)
    return f"Given the correct inputs, these steps go wrong ({_lengths(cases)}): {described}."


def _lengths(cases: list[_Case]) -> str:
    """``"5 per case"``, or ``"30 per case, 5 in cases 4-7"`` when the cases that try one thing are shorter."""
    steps = len(cases[0].calls)
    shorter = [case.number for case in cases if len(case.calls) != steps]
    if not shorter:
        return f"{steps} per case"
    return f"{steps} per case, {len(cases[shorter[0] - 1].calls)} in cases {_ranges(shorter)}"


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` as ``"1-3, 5"``."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
