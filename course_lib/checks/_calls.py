"""The contract between an exercise and a learner's update function, and guarded calls to it.

A learner writes one optimizer step for ONE NumPy array::

    def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                    weight_decay=0.0, amsgrad=False, decoupled_weight_decay=False):
        ...
        return new_param, new_state

``state`` is the dict that the reference optimizer's ``init(param)`` returns, with torch's key
names; the function returns a new parameter and a new state with the same keys, counts the
update in ``state["step"]``, and leaves its inputs untouched. Hyperparameters are the
reference dataclass's fields, with its names and defaults. The look-ahead form
(``sutskever_nesterov_update``) receives ``grad_fn``, a function returning the gradient at any
point, in place of ``grad``, because it decides itself where the gradient is taken.

This module knows the exercises' function names, turns a reference configuration into the
keyword arguments a learner's function accepts, and calls learner code so that whatever it
does (raise, return the wrong thing, write into its inputs) comes back as a sentence.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import numbers
import os
import sysconfig
import traceback
import warnings
from typing import Callable, Mapping

import numpy as np

from .. import optimizers
from ..optimizers import (SGD, Adadelta, Adagrad, Adam, Adamax, ClassicMomentum, KingmaBaAdamax, NAdam,
                          Optimizer, ReddiAMSGrad, RMSprop, SutskeverNesterov)


class CheckFailed(AssertionError):
    """A learner's function does not do what the exercise asks; the message says what and where.

    ``mistakes`` holds the ids of the catalogued mistakes (:data:`course_lib.checks.MISTAKES`)
    that the function's results match, for graders and tests that want more than the words.
    """

    def __init__(self, message: str, mistakes: tuple[str, ...] = ()):
        super().__init__(message)
        self.mistakes = tuple(mistakes)

    def _render_traceback_(self) -> list[str]:
        """What IPython and Jupyter show instead of a traceback: the message alone. The frames would
        be the check's own code, which says nothing to the learner; the cell still fails."""
        return f"{type(self).__name__}: {self}".splitlines()


def fail(message: str, mistakes: tuple[str, ...] = ()):
    """Raise :class:`CheckFailed`; its callers set ``__tracebackhide__`` so IPython and pytest skip them."""
    __tracebackhide__ = True
    raise CheckFailed(message, mistakes) from None


@dataclasses.dataclass(frozen=True)
class UpdateForm:
    """An exercise's update function: its reference class and the hyperparameters its name fixes."""

    optimizer: type[Optimizer]
    implied: Mapping[str, object] = dataclasses.field(default_factory=dict)


UPDATE_FUNCTIONS: dict[str, UpdateForm] = {
    "sgd_update": UpdateForm(SGD, {"momentum": 0.0, "dampening": 0.0, "nesterov": False}),
    "momentum_update": UpdateForm(SGD, {"nesterov": False}),
    "nesterov_update": UpdateForm(SGD, {"nesterov": True, "dampening": 0.0}),
    "classic_momentum_update": UpdateForm(ClassicMomentum),
    "sutskever_nesterov_update": UpdateForm(SutskeverNesterov),
    "adagrad_update": UpdateForm(Adagrad),
    "adadelta_update": UpdateForm(Adadelta),
    "rmsprop_update": UpdateForm(RMSprop),
    "adam_update": UpdateForm(Adam, {"amsgrad": False}),
    "amsgrad_update": UpdateForm(Adam, {"amsgrad": True}),
    "reddi_amsgrad_update": UpdateForm(ReddiAMSGrad),
    "adamax_update": UpdateForm(Adamax),
    "kingma_ba_adamax_update": UpdateForm(KingmaBaAdamax),
    "nadam_update": UpdateForm(NAdam),
}


def takes_gradient_function(optimizer: Optimizer | type[Optimizer]) -> bool:
    """True for look-ahead optimizers (or classes): their update functions get ``grad_fn``, not ``grad``."""
    cls = optimizer if isinstance(optimizer, type) else type(optimizer)
    return cls.gradient_point is not Optimizer.gradient_point


def reference_step(optimizer: Optimizer, param, gradient, state):
    """One correct update of one array, with ``gradient`` an array or (look-ahead) a gradient function."""
    if callable(gradient):
        gradient = gradient(optimizer.gradient_point(param, state))
    return optimizer.step(param, gradient, state)


def update_form(name: str) -> tuple[str, UpdateForm]:
    """The exercise function ``name`` (e.g. "adam_update"), or every field of a reference class ("Adam")."""
    if name in UPDATE_FUNCTIONS:
        return name, UPDATE_FUNCTIONS[name]
    cls = getattr(optimizers, name, None)
    if isinstance(cls, type) and issubclass(cls, Optimizer) and cls is not Optimizer:
        return f"{name}_update", UpdateForm(cls)
    classes = ", ".join(c.__name__ for c in optimizers.TORCH_FORMS + optimizers.PAPER_FORMS)
    raise ValueError(f"unknown update function {name!r}: use an exercise's function name "
                     f"({', '.join(UPDATE_FUNCTIONS)}) or a class of course_lib.optimizers ({classes})")


def update_function(name: str, step: Callable) -> Callable:
    """A function in the learner's signature for ``name`` running ``step(optimizer, param, gradient, state)``.

    ``optimizer`` is the reference class configured from the call's keyword arguments and the
    hyperparameters the name implies, so ``step`` sees exactly what a learner's code would.
    """
    function_name, form = update_form(name)
    gradient_name = "grad_fn" if takes_gradient_function(form.optimizer) else "grad"
    positional = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                  for n in ("param", gradient_name, "state")]
    keywords = [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default)
                for f in dataclasses.fields(form.optimizer) if f.init and f.name not in form.implied]
    signature = inspect.Signature(positional + keywords)

    def update(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        hyperparameters = dict(bound.arguments)
        param, gradient, state = (hyperparameters.pop(n) for n in ("param", gradient_name, "state"))
        return step(form.optimizer(**form.implied, **hyperparameters), param, gradient, state)

    update.__signature__ = signature
    update.__name__ = update.__qualname__ = function_name
    return update


def learner_hyperparameters(fn, reference: Optimizer) -> tuple[dict, str | None]:
    """The keyword arguments ``fn`` gets for ``reference``, and a problem in words if it cannot take them.

    Every hyperparameter the signature accepts is passed. One it lacks may be left out only if
    it has its default value or the function's name fixes it (``nesterov_update`` is Nesterov).
    """
    name = getattr(fn, "__name__", type(fn).__name__)
    form = UPDATE_FUNCTIONS.get(name)
    implied = form.implied if form else {}
    if form and not isinstance(reference, form.optimizer):
        raise TypeError(f"{name} is checked against {form.optimizer.__name__}, got {reference.label}")
    for key, value in implied.items():
        if getattr(reference, key) != value:
            raise ValueError(f"{name} always has {key}={value!r}, but the reference {reference.label} has "
                             f"{key}={getattr(reference, key)!r}")
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}, f"{name} has no signature that Python can read; define it with `def`."
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    by_keyword = {n for n, p in parameters.items()
                  if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    kwargs = {}
    for field in dataclasses.fields(reference):
        value = getattr(reference, field.name)
        if field.name in by_keyword or (takes_any and field.name not in implied):
            kwargs[field.name] = value
        elif field.name not in implied and value != field.default:
            return {}, (f"{name} has no parameter {field.name!r}, but this check uses {field.name}={value!r} "
                        f"({reference.label}). Keep the signature given in the exercise.")
    gradient_name = "grad_fn" if takes_gradient_function(reference) else "grad"
    try:
        inspect.signature(fn).bind(None, None, None, **kwargs)
    except TypeError as error:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return {}, (f"{name} cannot be called as {name}(param, {gradient_name}, state, {shown}): {error}. "
                    f"Keep the signature given in the exercise.")
    return kwargs, None


# --- calling learner code -----------------------------------------------------------------

_COURSE_LIB = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_INSTALLED = tuple({os.path.abspath(sysconfig.get_paths()[key])
                    for key in ("stdlib", "platstdlib", "purelib", "platlib")})


def _learner_frame(tb) -> traceback.FrameSummary | None:
    """The frame of the learner's own code nearest to where the exception was raised."""
    frames = [f for f in traceback.extract_tb(tb) if not os.path.abspath(f.filename).startswith(_COURSE_LIB)]
    own = [f for f in frames if not os.path.abspath(f.filename).startswith(_INSTALLED)]
    return (own or frames or [None])[-1]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one call of an update function gave: a usable ``(param, state)``, or a ``problem`` in words."""

    param: np.ndarray | None = None
    state: dict | None = None
    problem: str | None = None
    raised: type[BaseException] | None = None
    mutated: bool = False
    shared: str | None = None
    """A sentence if a returned array shares memory with an input, another result or an earlier result."""
    returned: tuple = dataclasses.field(default=(), compare=False, repr=False)
    """The arrays exactly as returned (``param`` and ``state`` hold copies taken at once), so that the
    next call's results can be checked for being new arrays."""

    @property
    def broke_down(self) -> bool:
        """Arithmetic gave up: a division by zero or overflow, or NaN/inf in the results."""
        if self.raised is not None:
            return issubclass(self.raised, ArithmeticError)
        if self.problem is not None:
            return False
        arrays = [self.param] + [v for k, v in self.state.items() if k != "step"]
        return not all(np.all(np.isfinite(a)) for a in arrays)


def _changed_input(param, gradient, state, given) -> str | None:
    """Name the first input the call changed; ``given`` holds the copies it received and their objects."""
    given_param, given_gradient, given_state, given_values = given
    if not same_bits(param, given_param):
        return "param"
    if not callable(gradient) and not same_bits(gradient, given_gradient):
        return "grad"
    if set(given_state) != set(state):
        return "state (it added or removed keys)"
    for key, value in state.items():
        if given_state[key] is not given_values[key]:
            return f"state[{key!r}] (it assigned a new value to that key of the input dict)"
        if not same_bits(np.asarray(value), np.asarray(given_state[key])):
            return f"state[{key!r}]"
    return None


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays are identical, bit for bit: same shape, dtype and bytes (so NaN equals NaN).
    Much faster than ``np.array_equal(..., equal_nan=True)`` on the small arrays of the checks."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@contextlib.contextmanager
def quietly():
    """Silence NumPy's floating-point warnings and Python's warnings around learner code: anything
    on stderr zeroes an nbgrader test cell, and NaN or inf is judged from the results instead."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def learner_line(error: Exception) -> str:
    """Where in the learner's own code ``error`` was raised, as a line to append to a message.

    An error that the autograder brought back from the process running the learner's code
    carries that line already, as ``learner_where``.
    """
    if isinstance(getattr(error, "learner_where", None), str):
        return error.learner_where
    frame = _learner_frame(error.__traceback__)
    if frame is None:
        return ""
    return f"\n  in your code ({frame.name}, line {frame.lineno})" + (f": {frame.line.strip()}" if frame.line else "")


def raised_message(name: str, error: Exception) -> str:
    """``name raised TypeError: ...`` and the line of the learner's code that raised it."""
    return f"{name} raised {type(error).__name__}: {str(error)[:200]}{learner_line(error)}"


def call_update(fn, param, gradient, state, hyperparameters: dict, earlier: tuple = ()) -> Outcome:
    """Call ``fn(param, gradient, state, **hyperparameters)`` on copies, and judge what it did.

    The inputs are never exposed: ``fn`` gets copies, which are compared with the originals
    afterwards to catch in-place writes. NumPy's floating-point warnings and Python warnings
    are silenced during the call, because any output on stderr zeroes an nbgrader test cell;
    NaN and inf are judged from the results instead. The results must be new arrays: none may
    share memory with an input, with another result, or with ``earlier`` (what the previous
    step returned); the outcome says so in ``shared``, and keeps copies of the values, so that
    a function that later changes an array it returned cannot change what was judged.
    """
    name = getattr(fn, "__name__", "the function")
    given_param = param.copy()
    given_gradient = gradient if callable(gradient) else gradient.copy()
    given_state = copy.deepcopy(state)
    given_values = dict(given_state)
    try:
        with quietly():
            result = fn(given_param, given_gradient, given_state, **hyperparameters)
    except Exception as error:  # noqa: BLE001 - any failure of learner code becomes a message
        return Outcome(problem=raised_message(name, error), raised=type(error))
    changed = _changed_input(param, gradient, state, (given_param, given_gradient, given_state, given_values))
    if changed:
        return Outcome(problem=f"{name} changed its input {changed} in place.", mutated=True)
    try:
        new_param, new_state = _unpack(result, param, state, name)
    except _Malformed as error:
        return Outcome(problem=str(error))
    returned = {"new_param": new_param, **{f"new_state[{k!r}]": v for k, v in new_state.items()
                                           if isinstance(v, np.ndarray)}}
    inputs = {"param": given_param, **({} if callable(gradient) else {"grad": given_gradient}),
              **{f"state[{k!r}]": v for k, v in given_values.items() if isinstance(v, np.ndarray)}}
    return Outcome(param=new_param.copy(), state={k: np.copy(v) if isinstance(v, np.ndarray) else v
                                                  for k, v in new_state.items()},
                   shared=_sharing(name, returned, inputs, earlier), returned=tuple(returned.values()))


def overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays share memory: a cheap test of their bounds first, the exact one only if
    needed, and "yes" when even that is too costly to decide (an answer must not be that close)."""
    if not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=10_000))
    except np.exceptions.TooHardError:
        return True


def _sharing(name: str, returned: dict, inputs: dict, earlier: tuple) -> str | None:
    """Say which result is not a new array: it shares memory with an input, another result, or a result
    of the previous step. A caller who later changes one of them in place (torch's optimizers
    update their buffers in place) would silently change the other."""
    results = list(returned.items())
    for i, (where, array) in enumerate(results):
        given = next((source for source, value in inputs.items() if overlap(array, value)), None)
        if given is not None:
            return (f"{name}'s {where} shares memory with its input {given} (it is that array, or a view of "
                    f"it): whoever changes one in place later changes the other. Return a new array, such "
                    f"as {given}.copy() or the result of an expression.")
        other = next((other for other, value in results[:i] if overlap(array, value)), None)
        if other is not None:
            return (f"{name}'s {other} and {where} are one array (they share memory): changing one in place "
                    f"would change the other. Return a separate array for each.")
        if any(overlap(array, value) for value in earlier):
            return (f"{name}'s {where} is the array it returned at the previous step, changed in place: "
                    f"the function keeps an array between calls. Build a new array at every step from "
                    f"the inputs, so that each parameter array of a model gets its own results.")
    return None


class _Malformed(Exception):
    """The result does not have the structure the contract asks for."""


_DTYPE_HINTS = {
    "float64": "Computing in float32 loses digits that the checks, and training, need.",
    "float32": ("float32 halves a model's memory, so results must stay float32. An array made without a "
                "dtype, such as np.zeros(shape) or np.array([...]), and a NumPy function of a plain number, "
                "such as np.sqrt(1 - beta2**t), are float64 and turn every result they touch into float64: "
                "make arrays from the inputs (np.zeros_like(param)) and use ** 0.5 or math on plain numbers."),
}
"""Why a result must keep the dtype of its input, by the input's dtype."""


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape}"
    return f"a {type(value).__name__}"


def _unpack(result, param, state, name):
    """Check the structure of ``(new_param, new_state)`` and return it with plain floats for scalars."""
    expected = "the pair (new_param, new_state)"
    if result is None:
        raise _Malformed(f"{name} returned None (no return statement?); it must return {expected}.")
    if isinstance(result, (np.ndarray, numbers.Number, dict)):
        raise _Malformed(f"{name} returned only {_describe(result)}; it must return two things, {expected}.")
    if isinstance(result, list):
        raise _Malformed(f"{name} returned a list; it must return a tuple, {expected} (write `return a, b`).")
    if not isinstance(result, tuple):
        raise _Malformed(f"{name} returned {_describe(result)}; it must return {expected}.")
    if len(result) != 2:
        raise _Malformed(f"{name} returned a tuple of {len(result)} items; it must return exactly two, "
                         f"{expected}.")
    new_param, new_state = result
    if isinstance(new_param, dict) and not isinstance(new_state, dict):
        raise _Malformed(f"{name} returned (new_state, new_param), in the wrong order: the parameter "
                         f"comes first.")
    new_param = _checked_array(new_param, param, "new_param", "param", name)
    if not isinstance(new_state, dict):
        raise _Malformed(f"{name} returned {_describe(new_state)} as new_state; it must be a dict with "
                         f"the keys {list(state)}.")
    missing = [k for k in state if k not in new_state]
    if missing:
        raise _Malformed(f"{name}'s new_state has no key {missing[0]!r}; it must keep every key of the "
                         f"state it was given: {list(state)}.")
    extra = [k for k in new_state if k not in state]
    if extra:
        raise _Malformed(f"{name}'s new_state has the extra key {extra[0]!r}; it must have exactly the "
                         f"keys of the state it was given: {list(state)}.")
    checked = {}
    for key, old in state.items():
        value, where = new_state[key], f"new_state[{key!r}]"
        if key == "step":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise _Malformed(f"{name}'s {where} is {value!r} ({type(value).__name__}); the step "
                                 f"counter must stay a whole number (int).")
            checked[key] = int(value)
        elif isinstance(old, np.ndarray):
            checked[key] = _checked_array(value, old, where, f"state[{key!r}]", name)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            checked[key] = float(value)
        else:
            raise _Malformed(f"{name}'s {where} is {_describe(value)}; it must be a number like "
                             f"state[{key!r}].")
    return new_param, checked


def _checked_array(value, like: np.ndarray, where: str, like_name: str, name: str) -> np.ndarray:
    if isinstance(value, (list, tuple)):
        raise _Malformed(f"{name}'s {where} is a {type(value).__name__}; it must be a NumPy array of shape "
                         f"{like.shape} like {like_name}.")
    if not isinstance(value, np.ndarray):
        if isinstance(value, np.floating) and like.shape == ():
            value = np.asarray(value)
        else:
            raise _Malformed(f"{name}'s {where} is {_describe(value)}; it must be a NumPy array of shape "
                             f"{like.shape} like {like_name}.")
    if not np.issubdtype(value.dtype, np.floating):
        raise _Malformed(f"{name}'s {where} has dtype {value.dtype}; it must hold floats ({like.dtype}) like "
                         f"{like_name}.")
    if value.dtype != like.dtype:
        raise _Malformed(f"{name}'s {where} has dtype {value.dtype} but {like_name} is {like.dtype}: the "
                         f"results must keep the dtype of the inputs. {_DTYPE_HINTS.get(like.dtype.name, '')}")
    if value.shape != like.shape:
        raise _Malformed(f"{name}'s {where} has shape {value.shape} but {like_name} has shape {like.shape}: "
                         f"check the shapes of the arrays you combine.")
    return value


def other_cases(failing: list[int], total: int, noun: str = "case") -> str:
    """The sentence that says which of ``total`` numbered cases (or runs) went wrong besides the one shown."""
    if len(failing) == total:
        return f"Every {noun} goes wrong." if total > 1 else ""
    if len(failing) == 1:
        return f"Every other {noun} is right."
    return f"These {noun}s go wrong: {', '.join(map(str, failing))} (of {total})."
