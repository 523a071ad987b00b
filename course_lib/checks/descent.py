"""Checks for the exercises of lessons 00 and 01: a numerical gradient, one gradient-descent step, the
loop that records a descent, the full-batch gradient of least squares and the batch gradient-descent loop.

Each ``check_*`` function runs the learner's function on a few cases, the first small enough to
follow with pencil and paper, and compares every number it returns with the right one (relative
error, as :func:`~course_lib.checks.rel_error`, at most :data:`~course_lib.checks.TOLERANCE`). It
prints one line saying what passed, or raises :class:`~course_lib.checks.CheckFailed` naming the
case, the first wrong number, expected and actual values, which other cases go wrong, and, when
the results are those of a classic mistake, its name and a hint. ``thorough=True`` adds the edge
cases and long runs that the hidden tests use.

The learner's code gets read-only copies of the arrays it is given, so writing into one raises
inside their function; the check reports it as "changes its input ... in place" and names the
input. Every array the function returns must be new: one that is an input, or a view of one, is
reported as such, at every learning rate (only ``batch_gradient_descent`` with zero epochs may
hand back the ``w`` it was given, as the lesson's own loop does). A history (the trajectory, the
losses) that stops early, as a loop that breaks when the gradient vanishes does, is told to make
every step. The classic mistakes are registered with
:func:`~course_lib.checks.register_exercise_mistakes`, each with a wrong answer in the exercise's
own signature, which notebook tests use as simulated learners (``mistake_update(name, id)``).
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Callable

import numpy as np

from ..functions import get_surface
from ..models import LinearRegression
from ._cases import case_rng
from ._calls import _describe, _Malformed, fail, learner_line, other_cases, overlap, quietly, raised_message
from ._check import _Quadratic
from ._compare import MUTANT_TOLERANCE, TOLERANCE, TOLERANCE_NOTE, relative_errors
from .mistakes import EXERCISE_MISTAKES, ExerciseMistake, register_exercise_mistakes

# --- the machinery shared by the five checks ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Case:
    """One call of the exercise: its arguments (in the exercise's order, with their names) and the right results."""

    title: str
    names: tuple[str, ...]
    args: tuple
    expected: dict[str, np.ndarray]
    fresh: bool = True
    """Whether every array the call returns must be new, sharing no memory with an input array."""


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """What one call gave: the results by name (when they could be read), or a problem in words.

    ``aliased`` says, in words, which returned array is (or views) one of the inputs, when the
    case wants new arrays; it is judged after the numbers, so a wrong number is reported first.
    """

    results: dict[str, np.ndarray] | None = None
    problem: str | None = None
    raised: type[BaseException] | None = None
    written: str | None = None
    aliased: str | None = None


@dataclasses.dataclass(frozen=True)
class _Exercise:
    """How to read an exercise's return value and how to describe its numbers."""

    name: str
    read: Callable[[object, str], dict[str, np.ndarray]]
    where: Callable[[str, tuple], str]
    shape_notes: dict[str, str] = dataclasses.field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    """What the function returns, in words, one entry per item of the returned tuple (or one for a single value)."""
    new_array_hint: str = "Return a new array (arithmetic such as a - b makes one; a.copy() copies)."
    cut_short: dict[str, str] = dataclasses.field(default_factory=dict)
    """For a history (one row per step): what to say when it stops early, its rows a prefix of the right ones."""


def _plain_where(variable: str, index: tuple) -> str:
    return f"{variable}[{', '.join(map(str, index))}]" if index else variable


def _read_only_copy(value, writable: bool = False):
    if not isinstance(value, np.ndarray):
        return value
    copy = value.copy()
    copy.setflags(write=writable)
    return copy


def _raw_call(fn, case: _Case, writable: frozenset = frozenset()):
    """``fn(*case.args)`` on copies of the arrays, read-only except those named in ``writable``;
    returns what it returned and the arguments it was given."""
    args = [_read_only_copy(value, name in writable) for name, value in zip(case.names, case.args)]
    with quietly():
        return fn(*args), args


def _aliased_input(exercise: _Exercise, case: _Case, value, args: list, name: str) -> str | None:
    """In words, the first returned array that is, or shares memory with, one of the array inputs."""
    items = value if isinstance(value, tuple) else (value,)
    for what, item in zip(exercise.outputs, items):
        if not isinstance(item, np.ndarray):
            continue
        for input_name, arg in zip(case.names, args):
            if isinstance(arg, np.ndarray) and overlap(item, arg):
                how = "the very array" if item is arg else "an array that shares its memory with the array"
                return (f"{name} returned, as {what}, {how} it was given as {input_name}, not a new array: "
                        f"the caller's {input_name} and your result would change together. "
                        f"{exercise.new_array_hint}")
    return None


def _writes_into_input(error: Exception) -> bool:
    return isinstance(error, ValueError) and "read-only" in str(error)


def _written_input(fn, case: _Case) -> str | None:
    """The array input that ``fn`` writes into: the one whose being read-only makes it raise."""
    arrays = [name for name, value in zip(case.names, case.args) if isinstance(value, np.ndarray)]
    for name in arrays:
        try:
            _raw_call(fn, case, writable=frozenset(arrays) - {name})
        except Exception as error:  # noqa: BLE001 - any failure of learner code is judged, not propagated
            if _writes_into_input(error):
                return name
    return None


def _call(exercise: _Exercise, fn, case: _Case) -> _Outcome:
    """Call the learner's ``fn`` on ``case`` and say what it did: its results, or a problem in words."""
    name = getattr(fn, "__name__", "your function")
    try:
        value, args = _raw_call(fn, case)
    except Exception as error:  # noqa: BLE001 - any failure of learner code becomes a message
        written = _written_input(fn, case) if _writes_into_input(error) else None
        if written:
            return _Outcome(problem=f"{name} changes its input {written} in place.{learner_line(error)}",
                            written=written)
        return _Outcome(problem=raised_message(name, error),
                        raised=type(error))
    aliased = _aliased_input(exercise, case, value, args, name) if case.fresh else None
    try:
        return _Outcome(results=exercise.read(value, name), aliased=aliased)
    except _Malformed as error:
        return _Outcome(problem=str(error))


def _array(value, what: str, name: str) -> np.ndarray:
    """``value`` as a float array; lists, numbers, None and integer arrays get a sentence instead."""
    if value is None:
        raise _Malformed(f"{name} returned None as {what} (no return statement?).")
    if isinstance(value, (list, tuple)):
        raise _Malformed(f"{name} returned a {type(value).__name__} as {what}; it must be a NumPy array "
                         f"(np.array(...) turns a list of numbers or of rows into one).")
    if not isinstance(value, np.ndarray):
        raise _Malformed(f"{name} returned {_describe(value)} as {what}; it must be a NumPy array.")
    if not np.issubdtype(value.dtype, np.floating):
        raise _Malformed(f"{name} returned {what} with dtype {value.dtype}; it must hold floats.")
    return value.astype(float)


def _number(value, what: str, name: str) -> np.ndarray:
    """A single real number (a float, a NumPy scalar or an array of one element) as a 0-d float array."""
    if value is None:
        raise _Malformed(f"{name} returned None as {what} (no return statement?).")
    if isinstance(value, np.ndarray) and value.size == 1 and np.issubdtype(value.dtype, np.floating):
        return value.reshape(()).astype(float)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return np.asarray(float(value))
    raise _Malformed(f"{name} returned {_describe(value)} as {what}; it must be a single number (a float).")


def _tuple(value, names: tuple[str, ...], name: str) -> tuple:
    wanted = f"the tuple ({', '.join(names)})"
    if value is None:
        raise _Malformed(f"{name} returned None (no return statement?); it must return {wanted}.")
    if not isinstance(value, tuple):
        shown = "a list" if isinstance(value, list) else _describe(value)
        raise _Malformed(f"{name} returned {shown}; it must return {wanted} (write `return {', '.join(names)}`).")
    if len(value) != len(names):
        raise _Malformed(f"{name} returned a tuple of {len(value)} items; it must return {wanted}.")
    return value


@dataclasses.dataclass(frozen=True)
class _Verdict:
    """What is wrong with one call: a wrong number (``numeric``) or a problem of another kind, in words."""

    text: str
    numeric: bool = False


def _judge(exercise: _Exercise, case: _Case, outcome: _Outcome) -> _Verdict | None:
    """What is wrong with ``outcome``: a problem, a wrong shape or the first wrong number; None if all is right."""
    if outcome.problem is not None:
        return _Verdict(outcome.problem)
    for variable, want in case.expected.items():  # every shape first: a history cut short explains the rest
        got = outcome.results[variable]
        if got.shape != want.shape:
            note = exercise.shape_notes.get(variable, "")
            return _Verdict(f"{variable} has shape {got.shape} but must have shape {want.shape}{note}."
                            + _cut_short(exercise, variable, want, got))
    for variable, want in case.expected.items():
        got = outcome.results[variable]
        errors = relative_errors(want, got)
        if errors.size and errors.max() > TOLERANCE:
            index = tuple(int(i) for i in np.unravel_index(np.argmax(errors), errors.shape))
            expected, actual = float(want[index]), float(got[index])
            return _Verdict(f"in {exercise.where(variable, index)}:\n    expected {expected:.10g}, got "
                            f"{actual:.10g} (relative error {errors[index]:.2g}).", numeric=True)
    if outcome.aliased is not None:
        return _Verdict(outcome.aliased)
    return None


def _cut_short(exercise: _Exercise, variable: str, want: np.ndarray, got: np.ndarray) -> str:
    """The exercise's words for a history that stops at least two rows early, its rows those of the right one."""
    note = exercise.cut_short.get(variable)
    rows = got.shape[0] if got.ndim else 0
    if (note is None or got.ndim != want.ndim or got.shape[1:] != want.shape[1:] or not 0 < rows <= len(want) - 2
            or float(np.max(relative_errors(want[:rows], got), initial=0.0)) > TOLERANCE):
        return ""
    return " " + note.format(first="first row is" if rows == 1 else f"first {rows} rows are",
                             losses="first loss is" if rows == 1 else f"first {rows} losses are")


def _agree(a: _Outcome, b: _Outcome) -> bool:
    """Whether two calls on the same case did the same thing, within :data:`MUTANT_TOLERANCE`."""
    if a.written or b.written:
        return a.written == b.written
    if a.aliased or b.aliased:
        if (a.aliased is None) != (b.aliased is None):
            return False
    if a.raised or b.raised:
        return a.raised is b.raised
    if a.results is None or b.results is None:
        return a.problem == b.problem
    if a.results.keys() != b.results.keys():
        return False
    return all(a.results[k].shape == b.results[k].shape
               and float(np.max(relative_errors(a.results[k], b.results[k]), initial=0.0)) <= MUTANT_TOLERANCE
               for k in a.results)


def _matching_mistakes(exercise: _Exercise, cases: list[_Case], outcomes: list[_Outcome]) -> list[ExerciseMistake]:
    """The registered mistakes whose wrong answer does what the learner's did in every case (and is wrong)."""
    found = []
    for mistake in EXERCISE_MISTAKES.get(exercise.name, ()):
        theirs = []
        for case, outcome in zip(cases, outcomes):
            theirs.append(_call(exercise, mistake.wrong, case))
            if not _agree(outcome, theirs[-1]):
                break
        else:
            if any(_judge(exercise, case, wrong) for case, wrong in zip(cases, theirs)):
                found.append(mistake)
    return found


def _run_check(exercise: _Exercise, fn, cases: list[_Case], check_name: str) -> None:
    """Run every case; on the first wrong one raise :class:`CheckFailed` with the diagnosis."""
    __tracebackhide__ = True
    if not callable(fn):
        fail(f"{check_name} needs your function {exercise.name}, got a {type(fn).__name__}.")
    name = getattr(fn, "__name__", "your function")
    outcomes = [_call(exercise, fn, case) for case in cases]
    verdicts = [_judge(exercise, case, outcome) for case, outcome in zip(cases, outcomes)]
    failing = [number for number, verdict in enumerate(verdicts, start=1) if verdict]
    if not failing:
        return
    first = failing[0]
    case, verdict = cases[first - 1], verdicts[first - 1]
    where = f"case {first} ({case.title})"
    if verdict.numeric:
        lines = [f"{name} does not do what the exercise asks yet.", f"First difference: {where}, {verdict.text}"]
    else:
        lines = [f"{name} does not do what the exercise asks yet.", f"First problem: {where}: {verdict.text}"]
    others = other_cases(failing, len(cases))
    if others:
        lines.append(others)
    mistakes = _matching_mistakes(exercise, cases, outcomes)
    lines += [f'This matches a classic mistake, "{m.name}": {m.hint}' for m in mistakes]
    if verdict.numeric:
        lines.append(TOLERANCE_NOTE)
    fail("\n".join(lines), tuple(m.id for m in mistakes))


def _show(array) -> str:
    array = np.asarray(array, dtype=float)
    if array.size > 6:
        return f"an array of shape {array.shape}"
    return np.array2string(array, separator=", ", formatter={"float_kind": lambda x: f"{x:.4g}"})


def _named(function_name: str):
    """Give a wrong answer the exercise's name, so that messages about it read as they would for a learner's."""
    def rename(fn):
        fn.__name__ = fn.__qualname__ = function_name
        return fn
    return rename


def _check_thorough(thorough) -> None:
    if not isinstance(thorough, bool):
        raise TypeError(f"thorough must be True or False, got {thorough!r}")


# --- lesson 00, exercise 1: a numerical gradient -----------------------------------------


@dataclasses.dataclass(frozen=True)
class _TestFunction:
    """A function f of a 1-D array, for the learner's numerical gradient to differentiate."""

    formula: str
    value: Callable[[np.ndarray], float]
    size: int

    def __call__(self, theta):
        if not isinstance(theta, np.ndarray) or theta.shape != (self.size,):
            got = f"shape {theta.shape}" if isinstance(theta, np.ndarray) else f"a {type(theta).__name__}"
            raise ValueError(f"f takes a NumPy array of shape ({self.size},), like theta; it was given {got}")
        return float(self.value(theta))


def _central_difference(f, theta: np.ndarray, h: float) -> np.ndarray:
    gradient = np.zeros_like(theta, dtype=float)
    for j in range(theta.size):
        step = np.zeros_like(theta, dtype=float)
        step[j] = h
        gradient[j] = (f(theta + step) - f(theta - step)) / (2 * h)
    return gradient


def _log_sum_exp(theta):
    return np.log(np.sum(np.exp(theta)))


def _quartic_chain(theta):
    return np.sum(theta**4) / 4 - np.sum(theta[:-1] * theta[1:])


def _wavy(theta):
    return np.sum(np.sin(theta)) + theta[0] * theta[1] * theta[2]


def _away_from_zero(rng, f, size: int, h: float) -> np.ndarray:
    """A random point where no partial derivative is close to 0, so relative errors stay meaningful."""
    while True:
        theta = rng.uniform(-1.5, 1.5, size)
        if np.min(np.abs(_central_difference(f, theta, h))) > 0.05:
            return theta


def _gradient_cases(thorough: bool) -> list[_Case]:
    rng = case_rng(0)
    by_hand = _TestFunction("θ[0]² + 3 θ[0] θ[1]", lambda t: t[0] ** 2 + 3 * t[0] * t[1], 2)
    settings = [(by_hand, np.array([1.0, 2.0]), 1e-5)]
    softmax = _TestFunction("log(Σ exp(θ_i))", _log_sum_exp, 5)
    chain = _TestFunction("Σ θ_i⁴ / 4 − Σ θ_i θ_(i+1)", _quartic_chain, 3)
    settings += [(softmax, rng.normal(size=5), 1e-5), (chain, _away_from_zero(rng, chain, 3, 1e-3), 1e-3)]
    if thorough:
        single = _TestFunction("exp(θ0)", lambda t: np.exp(t[0]), 1)
        long_chain = _TestFunction(chain.formula, _quartic_chain, 9)
        # With a large h every third derivative shows: a one-sided difference, or an h other than the
        # one given, is off by percents here, whatever the tolerance of the comparison.
        wavy = _TestFunction("Σ sin(θ_i) + θ0 θ1 θ2", _wavy, 3)
        settings += [(single, np.array([0.5]), 1e-4), (long_chain, _away_from_zero(rng, long_chain, 9, 1e-2), 1e-2),
                     (softmax, 3 * rng.normal(size=5), None), (wavy, _away_from_zero(rng, wavy, 3, 0.3), 0.3)]
    cases = []
    for f, theta, h in settings:
        where = f"at θ = {_show(theta)}" if theta.size <= 6 else f"at a θ of length {theta.size}"
        if h is None:
            title = f"f(θ) = {f.formula} {where}, h left at its default"
            cases.append(_Case(title, ("f", "theta"), (f, theta), {"gradient": _central_difference(f, theta, 1e-5)}))
        else:
            title = f"f(θ) = {f.formula} {where}, h = {h:g}"
            cases.append(_Case(title, ("f", "theta", "h"), (f, theta, h),
                               {"gradient": _central_difference(f, theta, h)}))
    return cases


def _read_gradient(value, name):
    return {"gradient": _array(value, "the gradient", name)}


_NUMERICAL_GRADIENT = _Exercise(
    "numerical_gradient", _read_gradient, _plain_where,
    {"gradient": " (one partial derivative per coordinate of theta)"},
    outputs=("the gradient",),
    new_array_hint="Fill a new array (np.zeros(len(theta)), then one entry per coordinate).",
)


def check_numerical_gradient(fn, *, thorough: bool = False) -> None:
    r"""Check ``numerical_gradient(f, theta, h=1e-5)``: the central difference of ``f`` at ``theta``.

    Entry ``j`` must be ``(f(theta + h e_j) - f(theta - h e_j)) / (2 h)``, returned as a new float
    array shaped like ``theta``, with ``theta`` left as it was. Compared with that formula on three
    functions (``thorough``: four more, one of them with ``h`` left at its default, one with an ``h``
    so large that a one-sided difference or an ignored ``h`` is off by percents).
    """
    __tracebackhide__ = True
    _check_thorough(thorough)
    cases = _gradient_cases(thorough)
    _run_check(_NUMERICAL_GRADIENT, fn, cases, "check_numerical_gradient")
    print(f"check_numerical_gradient passed: {fn.__name__} gives the central difference of {len(cases)} functions "
          f"(relative error <= {TOLERANCE:g}) and leaves theta alone.")


@_named("numerical_gradient")
def _forward_difference(f, theta, h=1e-5):
    gradient = np.zeros_like(theta)
    for j in range(len(theta)):
        shifted = theta.copy()
        shifted[j] += h
        gradient[j] = (f(shifted) - f(theta)) / h
    return gradient


@_named("numerical_gradient")
def _divides_by_h(f, theta, h=1e-5):
    gradient = np.zeros_like(theta)
    for j in range(len(theta)):
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        gradient[j] = (f(up) - f(down)) / h
    return gradient


@_named("numerical_gradient")
def _perturbs_all_coordinates(f, theta, h=1e-5):
    gradient = np.zeros_like(theta)
    for j in range(len(theta)):
        gradient[j] = (f(theta + h) - f(theta - h)) / (2 * h)
    return gradient


@_named("numerical_gradient")
def _shifts_theta_in_place(f, theta, h=1e-5):
    gradient = np.zeros_like(theta)
    for j in range(len(theta)):
        theta[j] += h
        up = f(theta)
        theta[j] -= 2 * h
        down = f(theta)
        theta[j] += h
        gradient[j] = (up - down) / (2 * h)
    return gradient


register_exercise_mistakes("numerical_gradient", [
    ExerciseMistake(
        "fd-forward-difference", "one-sided (forward) difference",
        "You compare f(θ + h e_j) with f(θ) itself. That one-sided difference has an error that shrinks only "
        "like h; evaluate f on both sides of θ, at θ + h e_j and θ − h e_j, and divide by the distance "
        "between those two points.",
        _forward_difference),
    ExerciseMistake(
        "fd-divides-by-h", "central difference divided by h instead of 2h",
        "Your values are twice the slope. The two points θ + h e_j and θ − h e_j are 2h apart, and the "
        "difference of f must be divided by that distance.",
        _divides_by_h),
    ExerciseMistake(
        "fd-perturbs-all-coordinates", "every coordinate nudged at once",
        "A partial derivative moves ONE coordinate j and keeps all the others fixed. Yours shifts every "
        "coordinate by h together, so every entry comes out the same: the slope along the diagonal. Add h "
        "to entry j only (h times the unit vector e_j).",
        _perturbs_all_coordinates),
    ExerciseMistake(
        "fd-mutates-theta", "theta shifted in place",
        "Your function writes into the caller's theta (theta[j] += h, or a 'copy' made with =, which is "
        "the same array), even if it shifts it back afterwards. Build each shifted point as a new array "
        "(theta.copy(), or theta + h * e_j), so that theta stays exactly as it was.",
        _shifts_theta_in_place),
])


# --- lesson 00, exercise 2: one gradient-descent step ---------------------------------------


def _step_cases(thorough: bool) -> list[_Case]:
    rng = case_rng(1)
    settings = [(np.array([1.0, -2.0]), np.array([0.5, 1.0]), 0.1),
                (rng.normal(size=5), rng.normal(size=5), 0.01),
                (rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), 0.5)]
    if thorough:
        # lr = 0 and a zero gradient leave the values as they were: the result must still be a new array.
        settings += [(np.array([3.0]), np.array([-4.0]), 2.5),
                     (rng.normal(size=(3, 2, 2)), 100 * rng.normal(size=(3, 2, 2)), 1e-4),
                     (rng.normal(size=4), rng.normal(size=4), 0.0),
                     (rng.normal(size=(2, 3)), np.zeros((2, 3)), 0.3),
                     (rng.normal(size=1), np.zeros(1), 0.0)]
    cases = []
    for theta, grad, lr in settings:
        shown = (f"theta = {_show(theta)}, grad = {_show(grad)}" if theta.size <= 3
                 else f"theta and grad of shape {theta.shape}")
        cases.append(_Case(f"{shown}, lr = {lr:g}", ("theta", "grad", "lr"), (theta, grad, lr),
                           {"new theta": theta - lr * grad}))
    return cases


def _read_step(value, name):
    return {"new theta": _array(value, "the new parameters", name)}


_GRADIENT_DESCENT_STEP = _Exercise(
    "gradient_descent_step", _read_step, _plain_where, {"new theta": " (the same shape as theta)"},
    outputs=("the new parameters",),
    new_array_hint="Return theta - lr * grad, a new array, at every lr, even when lr is 0 or grad is 0.",
)


def check_gradient_descent_step(fn, *, thorough: bool = False) -> None:
    """Check ``gradient_descent_step(theta, grad, lr)``: ``theta - lr * grad`` as a new array.

    Run on a case worked by hand, a vector and a matrix (``thorough``: one element, a 3-D array
    with large gradients, ``lr = 0``, and a zero gradient), with ``theta`` and ``grad`` read-only;
    in every case the result must be a new array, never ``theta`` or ``grad`` or a view of them.
    """
    __tracebackhide__ = True
    _check_thorough(thorough)
    cases = _step_cases(thorough)
    _run_check(_GRADIENT_DESCENT_STEP, fn, cases, "check_gradient_descent_step")
    print(f"check_gradient_descent_step passed: {fn.__name__} moves against the gradient by lr times its size in "
          f"{len(cases)} cases of several shapes, and leaves theta and grad alone.")


@_named("gradient_descent_step")
def _ascends(theta, grad, lr):
    return theta + lr * grad


@_named("gradient_descent_step")
def _steps_in_place(theta, grad, lr):
    theta -= lr * grad
    return theta


@_named("gradient_descent_step")
def _returns_the_step(theta, grad, lr):
    return -lr * grad


register_exercise_mistakes("gradient_descent_step", [
    ExerciseMistake(
        "gd-ascends", "steps uphill (wrong sign)",
        "Your parameters move by the right amount in the wrong direction: the gradient points uphill, and "
        "gradient descent moves against it.",
        _ascends),
    ExerciseMistake(
        "gd-step-in-place", "updates theta in place",
        "theta -= ... writes into the caller's array, so the point before the step is lost (and every "
        "trajectory that stored it changes too). Return the new parameters as a new array.",
        _steps_in_place),
    ExerciseMistake(
        "gd-returns-the-step", "returns the step instead of the new parameters",
        "Your result is the change, −lr times the gradient, not where the step lands: add it to theta.",
        _returns_the_step),
])


# --- lesson 00, exercise 3: the loop that records the descent --------------------------------


@dataclasses.dataclass(frozen=True)
class _SurfaceGradient:
    """``grad_fn`` of a course surface, for one point of shape (2,)."""

    name: str

    def __call__(self, theta):
        if not isinstance(theta, np.ndarray) or theta.shape != (2,):
            got = f"shape {theta.shape}" if isinstance(theta, np.ndarray) else f"a {type(theta).__name__}"
            raise ValueError(f"grad_fn takes a NumPy array of shape (2,), one point; it was given {got}")
        return get_surface(self.name).grad(theta)


def _descent_path(grad_fn, start: np.ndarray, lr: float, steps: int) -> np.ndarray:
    points = [start.astype(float)]
    for _ in range(steps):
        points.append(points[-1] - lr * grad_fn(points[-1]))
    return np.array(points)


def _path_cases(thorough: bool) -> list[_Case]:
    rng = case_rng(2)
    bowl = (_Quadratic(np.full(2, 2.0), np.zeros(2)), "grad_fn(θ) = 2 θ (the bowl x² + y²)")
    ravine = (_Quadratic(np.array([1 / 8, 4.0]), np.zeros(2)), "grad_fn(θ) = (x / 8, 4 y) (the ravine)")
    curvature, center = 10.0 ** rng.uniform(-1, 0.5, 3), rng.normal(size=3)
    tilted = (_Quadratic(curvature, center),
              f"grad_fn(θ) = c * (θ − m), c = {_show(curvature)}, m = {_show(center)}")
    settings = [(bowl, np.array([1.0, -2.0]), 0.25, 3, ""), (ravine, np.array([-4.5, 1.5]), 0.4, 12, ""),
                (tilted, rng.normal(size=3), 0.2, 8, "")]
    if thorough:
        rosenbrock = (_SurfaceGradient("rosenbrock"), "grad_fn = the gradient of the Rosenbrock surface")
        single = (_Quadratic(np.array([3.0]), np.array([1.0])), "grad_fn(θ) = 3 (θ − 1)")
        settings += [(bowl, np.array([0.5, 0.5]), 0.1, 0, ""), (single, np.array([-2.0]), 0.3, 5, ""),
                     (rosenbrock, np.array([-1.2, 1.0]), 1e-3, 300, ""),
                     (ravine, np.array([3.0, -1.0]), 0.45, 60, ""),
                     # Where the gradient is exactly 0, tiny, or huge, every step must still be made and recorded.
                     (tilted, center.copy(), 0.2, 6, " (start = m, the minimum: the gradient is exactly 0 there)"),
                     (bowl, rng.normal(size=2), 0.5, 7, " (the first step lands exactly on the minimum)"),
                     (bowl, np.array([1.0, -2.0]), 0.25, 90, " (the gradient shrinks to about 1e-27)"),
                     (ravine, np.array([1.0, 1.0]), 0.6, 25, " (lr above 2 / 4: the descent diverges)")]
    cases = []
    for (grad_fn, formula), start, lr, steps, note in settings:
        title = f"{formula}, start = {_show(start)}, lr = {lr:g}, steps = {steps}{note}"
        cases.append(_Case(title, ("grad_fn", "start", "lr", "steps"), (grad_fn, start, lr, steps),
                           {"trajectory": _descent_path(grad_fn, start, lr, steps)}))
    return cases


def _read_path(value, name):
    return {"trajectory": _array(value, "the trajectory", name)}


def _path_where(variable: str, index: tuple) -> str:
    row, column = index
    when = "the start" if row == 0 else f"the point after {row} step{'s' if row > 1 else ''}"
    return f"trajectory[{row}, {column}] (coordinate {column} of {when})"


_RUN_GRADIENT_DESCENT = _Exercise(
    "run_gradient_descent", _read_path, _path_where,
    {"trajectory": " (steps + 1 rows: the start, then the point after each step; one column per coordinate)"},
    outputs=("the trajectory",),
    new_array_hint="Build the trajectory as a new array (np.array(points) copies the points into one).",
    cut_short={"trajectory": "Your {first} right, then the trajectory stops: make every one of the steps asked "
                             "for, even where the gradient is 0 (the point no longer moves) or the descent diverges."},
)


def check_run_gradient_descent(fn, *, thorough: bool = False) -> None:
    """Check ``run_gradient_descent(grad_fn, start, lr, steps)``: every point of the descent, start first.

    The result must be a float array of shape ``(steps + 1, d)`` whose row ``t`` is the point after
    ``t`` steps of ``theta - lr * grad_fn(theta)``, with ``start`` left as it was. Run on the bowl
    (worked by hand), the ravine and a tilted 3-D quadratic (``thorough``: zero steps, one
    coordinate, 300 steps on Rosenbrock, a long zig-zag on the ravine, a start at the minimum, a
    step that lands exactly on it, a gradient that shrinks to nothing and a diverging descent, all
    of which must still record ``steps + 1`` points).
    """
    __tracebackhide__ = True
    _check_thorough(thorough)
    cases = _path_cases(thorough)
    _run_check(_RUN_GRADIENT_DESCENT, fn, cases, "check_run_gradient_descent")
    print(f"check_run_gradient_descent passed: {fn.__name__} records every point of {len(cases)} descents, start "
          f"first, and leaves start alone.")


@_named("run_gradient_descent")
def _misses_start(grad_fn, start, lr, steps):
    theta, points = start.copy(), []
    for _ in range(steps):
        theta = theta - lr * grad_fn(theta)
        points.append(theta)
    return np.array(points)


@_named("run_gradient_descent")
def _stores_one_array(grad_fn, start, lr, steps):
    theta = start.copy()
    points = [theta]
    for _ in range(steps):
        theta -= lr * grad_fn(theta)
        points.append(theta)
    return np.array(points)


@_named("run_gradient_descent")
def _moves_start(grad_fn, start, lr, steps):
    theta = start
    points = [theta.copy()]
    for _ in range(steps):
        theta -= lr * grad_fn(theta)
        points.append(theta.copy())
    return np.array(points)


@_named("run_gradient_descent")
def _gradient_once(grad_fn, start, lr, steps):
    grad = grad_fn(start)
    points = [start.copy()]
    for _ in range(steps):
        points.append(points[-1] - lr * grad)
    return np.array(points)


register_exercise_mistakes("run_gradient_descent", [
    ExerciseMistake(
        "trajectory-misses-start", "the start is not recorded",
        "Row 0 must be the starting point and row t the point after t steps: steps + 1 rows in all.",
        _misses_start),
    ExerciseMistake(
        "trajectory-aliases-one-array", "every row is the same array",
        "You store one array object at every step and then change it in place (theta -= ...), so every "
        "stored row shows its final value. Make a new array at each step (theta = theta - ...) or store a "
        "copy.",
        _stores_one_array),
    ExerciseMistake(
        "trajectory-moves-start", "start changed in place",
        "Your loop updates the caller's start array itself. Begin from a copy of start (or build each new "
        "point as a new array), so that start stays as it was.",
        _moves_start),
    ExerciseMistake(
        "trajectory-stale-gradient", "gradient taken once, at the start",
        "The slope changes as you move: evaluate grad_fn at the current point inside the loop, once per step.",
        _gradient_once),
])


# --- lesson 01, exercise 1: the full-batch gradient of least squares -------------------------


def _regression_problem(rng, examples: int, features: int, scale: float = 1.0):
    X = rng.normal(size=(examples, features))
    y = X @ rng.normal(size=features) + 0.5 + 0.3 * rng.normal(size=examples)
    w = scale * rng.normal(size=features)
    return X, y, w, float(scale * rng.normal())


def _model_gradient(w, b, X, y) -> tuple[np.ndarray, float]:
    _, grads = LinearRegression(X.shape[1]).loss_and_grad({"w": w, "b": np.array([b])}, X, y)
    return grads["w"], float(grads["b"][0])


def _loss_gradient_by_differences(w, b, X, y, h=1e-6) -> np.ndarray:
    """Central differences of the mean squared error in (w, b): an independent second opinion."""
    def loss(point):
        return float(np.mean((X @ point[:-1] + point[-1] - y) ** 2))
    return _central_difference(loss, np.append(w, b), h)


def _gradient_case(title, w, b, X, y) -> _Case:
    grad_w, grad_b = _model_gradient(w, b, X, y)
    return _Case(title, ("w", "b", "X", "y"), (w, b, X, y), {"grad_w": grad_w, "grad_b": np.asarray(grad_b)})


def _mse_cases(thorough: bool) -> list[_Case]:
    rng = case_rng(3)
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]])
    cases = [_gradient_case("3 examples, 2 features, worked by hand: w = [0.5, -0.5], b = 0.25, "
                            "X = [[1, 2], [3, -1], [0, 1]], y = [1, 0, 2]",
                            np.array([0.5, -0.5]), 0.25, X, np.array([1.0, 0.0, 2.0]))]
    sizes = [(40, 4), (7, 1)] + ([(1, 3), (500, 12)] if thorough else [])
    for examples, features in sizes:
        X, y, w, b = _regression_problem(rng, examples, features)
        plural = "s" if examples > 1 else ""
        cases.append(_gradient_case(f"random, {examples} example{plural} x {features} features", w, b, X, y))
    if thorough:
        X, y, w, b = _regression_problem(rng, 60, 5, scale=100.0)
        cases.append(_gradient_case("60 examples x 5 features, far from the optimum (weights ~ 100)", w, b, X, y))
    for case in cases:
        differences = _loss_gradient_by_differences(*case.args)
        assert np.allclose(differences, np.append(case.expected["grad_w"], case.expected["grad_b"]),
                           rtol=1e-5, atol=1e-6), "the model's gradient disagrees with finite differences"
    return cases


def _read_mse_gradient(value, name):
    grad_w, grad_b = _tuple(value, ("grad_w", "grad_b"), name)
    return {"grad_w": _array(grad_w, "grad_w", name), "grad_b": _number(grad_b, "grad_b", name)}


_MSE_GRADIENT = _Exercise("mse_gradient", _read_mse_gradient, _plain_where,
                          {"grad_w": " (one entry per feature, like w)"}, outputs=("grad_w", "grad_b"))


def check_mse_gradient(fn, *, thorough: bool = False) -> None:
    """Check ``mse_gradient(w, b, X, y) -> (grad_w, grad_b)``, the gradient of the mean squared error.

    Compared with :meth:`course_lib.models.LinearRegression.loss_and_grad` (itself checked here
    against central differences of the loss) on a case worked by hand and two random ones
    (``thorough``: one example, 500 examples x 12 features, and weights far from the optimum).
    """
    __tracebackhide__ = True
    _check_thorough(thorough)
    cases = _mse_cases(thorough)
    _run_check(_MSE_GRADIENT, fn, cases, "check_mse_gradient")
    print(f"check_mse_gradient passed: {fn.__name__} agrees with LinearRegression.loss_and_grad and with finite "
          f"differences of the loss in {len(cases)} cases, and leaves w, X and y alone.")


def _residual(w, b, X, y):
    return X @ w + b - y


@_named("mse_gradient")
def _sums(w, b, X, y):
    r = _residual(w, b, X, y)
    return 2 * X.T @ r, 2 * np.sum(r)


@_named("mse_gradient")
def _drops_factor_two(w, b, X, y):
    r = _residual(w, b, X, y)
    return X.T @ r / len(y), np.mean(r)


@_named("mse_gradient")
def _flipped_residual(w, b, X, y):
    r = y - (X @ w + b)
    return 2 * X.T @ r / len(y), 2 * np.mean(r)


@_named("mse_gradient")
def _forgets_bias(w, b, X, y):
    r = X @ w - y
    return 2 * X.T @ r / len(y), 2 * np.mean(r)


register_exercise_mistakes("mse_gradient", [
    ExerciseMistake(
        "batch-gradient-sums-instead-of-mean", "summed over the examples instead of averaged",
        "The loss is a MEAN over the N examples, so its gradient is a mean too. A sum is N times larger: the "
        "step would then grow with the size of the data set, and a learning rate that works for one data "
        "set would diverge on a larger one.",
        _sums),
    ExerciseMistake(
        "mse-gradient-misses-factor-2", "the factor 2 from the square left out",
        "The derivative of r² is 2r. Your values are half the right ones: they are the gradient of "
        "(1/2N) Σ r², a different loss than the (1/N) Σ r² that LinearRegression and torch's MSELoss use.",
        _drops_factor_two),
    ExerciseMistake(
        "mse-gradient-wrong-sign", "residual y − prediction without the minus sign",
        "Your gradient points the wrong way. If you write the residual as y − (X w + b), the chain rule "
        "brings a factor −1 from the inner derivative; with r = X w + b − y it does not.",
        _flipped_residual),
    ExerciseMistake(
        "mse-gradient-ignores-bias", "bias left out of the prediction",
        "The prediction is X w + b: the residual must include b, or the gradient is taken at the wrong point "
        "(as if b were 0).",
        _forgets_bias),
])


# --- lesson 01, exercise 2: the batch gradient-descent loop ----------------------------------


def _batch_descent(X, y, w, b, lr, epochs):
    model, params = LinearRegression(X.shape[1]), {"w": w.astype(float), "b": np.array([float(b)])}
    losses = []
    for _ in range(epochs):
        loss, grads = model.loss_and_grad(params, X, y)
        losses.append(loss)
        params = {key: params[key] - lr * grads[key] for key in params}
    losses.append(model.loss(params, X, y))
    return params["w"], float(params["b"][0]), np.array(losses)


def _loop_case(title, X, y, w, b, lr, epochs) -> _Case:
    final_w, final_b, losses = _batch_descent(X, y, w, b, lr, epochs)
    # With no epoch at all, handing back the w it was given is what the lesson's own loop does.
    return _Case(title, ("X", "y", "w", "b", "lr", "epochs"), (X, y, w, b, lr, epochs),
                 {"w": final_w, "b": np.asarray(final_b), "losses": losses}, fresh=epochs > 0)


def _least_squares(X, y) -> tuple[np.ndarray, float]:
    solution = np.linalg.lstsq(np.hstack([X, np.ones((len(X), 1))]), y, rcond=None)[0]
    return solution[:-1], float(solution[-1])


def _largest_curvature(X) -> float:
    """The largest eigenvalue of the Hessian (2/N) X1^T X1 of the mean squared error in (w, b)."""
    design = np.hstack([X, np.ones((len(X), 1))])
    return float(np.linalg.eigvalsh(2 * design.T @ design / len(X))[-1])


def _loop_cases(thorough: bool) -> list[_Case]:
    rng = case_rng(4)
    cases = [_loop_case("3 examples, 1 feature, worked by hand: X = [[1], [2], [3]], y = [2, 4, 6], "
                        "w = [0], b = 0, lr = 0.05, epochs = 3",
                        np.array([[1.0], [2.0], [3.0]]), np.array([2.0, 4.0, 6.0]), np.zeros(1), 0.0, 0.05, 3)]
    X, y, w, b = _regression_problem(rng, 30, 3)
    cases.append(_loop_case("random, 30 examples x 3 features, lr = 0.1, epochs = 20", X, y, w, b, 0.1, 20))
    if thorough:
        X, y, w, b = _regression_problem(rng, 12, 2)
        cases.append(_loop_case("12 examples x 2 features, epochs = 0", X, y, w, b, 0.1, 0))
        X, y, w, b = _regression_problem(rng, 200, 8)
        cases.append(_loop_case("200 examples x 8 features, lr = 0.02, epochs = 150", X, y, w, b, 0.02, 150))
        X, y, w, b = _regression_problem(rng, 5, 6)
        cases.append(_loop_case("5 examples x 6 features (more features than examples), lr = 0.05, epochs = 40",
                                X, y, w, b, 0.05, 40))
        # Where the gradient is exactly 0, tiny, or the loss grows, every epoch must still run and be recorded.
        y = rng.integers(-5, 6, size=2).astype(float)
        cases.append(_loop_case(f"X = [[-1], [1]], y = {_show(y)}, w = [0], b = 0, lr = 0.5, epochs = 5 (the first "
                                f"epoch lands exactly on the minimum, where the gradient is 0)",
                                np.array([[-1.0], [1.0]]), y, np.zeros(1), 0.0, 0.5, 5))
        X, y, _, _ = _regression_problem(rng, 15, 3)
        w, b = _least_squares(X, y)
        cases.append(_loop_case("15 examples x 3 features, starting at the least-squares solution (gradient ~ 1e-15), "
                                "lr = 0.1, epochs = 4", X, y, w, b, 0.1, 4))
        X, y, w, b = _regression_problem(rng, 10, 2)
        cases.append(_loop_case("10 examples x 2 features, lr = 0, epochs = 3", X, y, w, b, 0.0, 3))
        X, y, w, b = _regression_problem(rng, 20, 2)
        lr = 2.4 / _largest_curvature(X)
        cases.append(_loop_case(f"20 examples x 2 features, lr = {lr:.4g} (1.2 times the largest stable lr: the loss "
                                f"grows), epochs = 30", X, y, w, b, lr, 30))
    return cases


def _read_loop(value, name):
    w, b, losses = _tuple(value, ("w", "b", "losses"), name)
    return {"w": _array(w, "w", name), "b": _number(b, "b", name), "losses": _array(losses, "losses", name)}


def _loop_where(variable: str, index: tuple) -> str:
    if variable == "losses":
        epoch = index[0]
        return f"losses[{epoch}] (the loss {'before training' if epoch == 0 else f'after {epoch} epochs'})"
    return _plain_where(f"the final {variable}", index)


_BATCH_GRADIENT_DESCENT = _Exercise(
    "batch_gradient_descent", _read_loop, _loop_where,
    {"losses": " (epochs + 1 numbers: the loss before training, then after each epoch)",
     "w": " (one weight per feature)"},
    outputs=("the final w", "the final b", "losses"),
    new_array_hint="Return the final weights as a new array (w - lr * grad_w makes one, even when lr is 0).",
    cut_short={"losses": "Your {losses} right, then the history stops: run every one of the epochs asked for, "
                         "even when the gradient is 0, the loss no longer goes down, or it grows."},
)


def check_batch_gradient_descent(fn, *, thorough: bool = False) -> None:
    """Check ``batch_gradient_descent(X, y, w, b, lr, epochs) -> (w, b, losses)``.

    One update per epoch with the gradient of the mean squared error over all examples;
    ``losses[k]`` is the loss after ``k`` epochs (``losses[0]`` before training). Compared with
    :class:`~course_lib.models.LinearRegression` trained step by step, on a case worked by hand and
    a random one (``thorough``: zero epochs, 150 epochs on 200 examples, more features than
    examples, a first epoch that lands exactly on the minimum, a start at the least-squares
    solution, ``lr = 0`` and a diverging run, all of which must record ``epochs + 1`` losses), with
    every input read-only. After at least one epoch the final ``w`` must be a new array.
    """
    __tracebackhide__ = True
    _check_thorough(thorough)
    cases = _loop_cases(thorough)
    _run_check(_BATCH_GRADIENT_DESCENT, fn, cases, "check_batch_gradient_descent")
    print(f"check_batch_gradient_descent passed: {fn.__name__} makes one full-batch update per epoch and records "
          f"every loss in {len(cases)} cases, and leaves its inputs alone.")


def _mean_squared_error(w, b, X, y):
    return float(np.mean(_residual(w, b, X, y) ** 2))


def _full_gradient(w, b, X, y):
    r = _residual(w, b, X, y)
    return 2 * X.T @ r / len(y), 2 * np.mean(r)


@_named("batch_gradient_descent")
def _updates_per_example(X, y, w, b, lr, epochs):
    losses = [_mean_squared_error(w, b, X, y)]
    for _ in range(epochs):
        for i in range(len(y)):
            grad_w, grad_b = _full_gradient(w, b, X[i:i + 1], y[i:i + 1])
            w, b = w - lr * grad_w, b - lr * grad_b
        losses.append(_mean_squared_error(w, b, X, y))
    return w, b, np.array(losses)


@_named("batch_gradient_descent")
def _loss_after_updates_only(X, y, w, b, lr, epochs):
    losses = []
    for _ in range(epochs):
        grad_w, grad_b = _full_gradient(w, b, X, y)
        w, b = w - lr * grad_w, b - lr * grad_b
        losses.append(_mean_squared_error(w, b, X, y))
    return w, b, np.array(losses)


@_named("batch_gradient_descent")
def _loss_before_updates_only(X, y, w, b, lr, epochs):
    losses = []
    for _ in range(epochs):
        losses.append(_mean_squared_error(w, b, X, y))
        grad_w, grad_b = _full_gradient(w, b, X, y)
        w, b = w - lr * grad_w, b - lr * grad_b
    return w, b, np.array(losses)


@_named("batch_gradient_descent")
def _moves_w_in_place(X, y, w, b, lr, epochs):
    losses = [_mean_squared_error(w, b, X, y)]
    for _ in range(epochs):
        grad_w, grad_b = _full_gradient(w, b, X, y)
        w -= lr * grad_w
        b -= lr * grad_b
        losses.append(_mean_squared_error(w, b, X, y))
    return w, b, np.array(losses)


register_exercise_mistakes("batch_gradient_descent", [
    ExerciseMistake(
        "batch-gd-updates-per-example", "one update per example instead of one per epoch",
        "Batch gradient descent averages the gradient over ALL examples and then makes a single update per "
        "epoch. Yours updates after every example, which is stochastic gradient descent (lesson 02).",
        _updates_per_example),
    ExerciseMistake(
        "loss-history-misses-start", "the loss before training is not recorded",
        "losses[0] must be the loss at the starting w and b, and losses[k] the loss after k epochs: "
        "epochs + 1 numbers. Yours starts after the first update.",
        _loss_after_updates_only),
    ExerciseMistake(
        "loss-history-misses-end", "the loss after the last update is not recorded",
        "You record the loss before each update, so the loss of the final w and b is missing. Record it "
        "once more after the loop: losses has epochs + 1 entries.",
        _loss_before_updates_only),
    ExerciseMistake(
        "batch-gd-moves-start-in-place", "the starting weights changed in place",
        "w -= ... writes into the caller's array w, so the starting point is lost (train twice from the "
        "same w and the second run starts where the first ended). Write w = w - ... instead.",
        _moves_w_in_place),
])
