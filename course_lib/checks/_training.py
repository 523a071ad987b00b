"""``learner_optimizer``: a learner's update function as an optimizer that trains real models."""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import numpy as np

from ..optimizers import Optimizer
from ..optimizers._tree import flatten, flatten_like, unflatten
from ._calls import Outcome, call_update, fail, learner_hyperparameters, takes_gradient_function
from ._compare import TOLERANCE, rel_error


@dataclasses.dataclass(frozen=True)
class _GradientAt:
    """``grad_fn`` during training: the loop computed the gradient at one point, the look-ahead point."""

    point: np.ndarray
    gradient: np.ndarray

    def __call__(self, x):
        elsewhere = not isinstance(x, np.ndarray) or x.shape != self.point.shape
        if elsewhere or rel_error(self.point, x) > TOLERANCE:
            raise ValueError("in training the gradient is known only at the look-ahead point, "
                             "param + momentum * velocity")
        return self.gradient.copy()


class _LearnerSteps:
    """Mixed into a reference class: ``step`` runs the learner's ``update`` on every array of the tree."""

    reference_class: type[Optimizer]

    @property
    def reference(self) -> Optimizer:
        """The reference optimizer with these hyperparameters."""
        cls = self.reference_class
        return cls(**{f.name: getattr(self, f.name) for f in dataclasses.fields(cls) if f.init})

    @property
    def label(self) -> str:
        return f"{self.update.__name__} ({self.reference.label})"

    def step(self, params, grads, state):
        """One update of every array by the learner's function, which is stopped with a message if it errs."""
        __tracebackhide__ = True
        name = self.update.__name__
        kwargs, problem = learner_hyperparameters(self.update, self.reference)
        if problem:
            fail(problem)
        leaves, treedef = flatten(params, "params")
        grad_leaves = flatten_like(grads, treedef, "grads")
        slots = self._state_slots(state, treedef)
        scalars = {key: state[key] for key in self._initial_scalars()}
        if takes_gradient_function(self):
            points = flatten_like(self.gradient_point(params, state), treedef, "the look-ahead point")
            grad_leaves = [_GradientAt(p, g) for p, g in zip(points, grad_leaves)]
        results = []
        for i, (param, gradient) in enumerate(zip(leaves, grad_leaves)):
            given = {"step": state["step"], **{n: slots[n][i] for n in self.slot_names}, **scalars}
            outcome = call_update(self.update, param, gradient, given, kwargs)
            problem = outcome.problem or _training_problem(name, outcome, param, gradient, given)
            if problem:
                fail(f"{problem}\nThis happened while training, at update {state['step'] + 1}, on parameter "
                     f"array {i + 1} of {len(leaves)} (shape {param.shape}).")
            results.append(outcome)
        new_state = {"step": state["step"] + 1}
        for key in self.slot_names:
            new_state[key] = unflatten(treedef, [outcome.state[key] for outcome in results])
        new_state.update({key: results[0].state[key] for key in scalars})
        return unflatten(treedef, [outcome.param for outcome in results]), new_state


def _finite(*values) -> bool:
    return all(np.all(np.isfinite(v)) for v in values if not callable(v))


def _training_problem(name: str, outcome: Outcome, param, gradient, given: dict) -> str | None:
    if outcome.state["step"] != given["step"] + 1:
        return (f"{name} returned state['step'] = {outcome.state['step']} after being given {given['step']}: "
                f"the state must count this update.")
    results = [outcome.param, *(outcome.state[k] for k in given if k != "step")]
    if _finite(param, gradient, *(given[k] for k in given if k != "step")) and not _finite(*results):
        return (f"{name} returned NaN or inf from finite inputs. A division by zero, or the root of a "
                f"negative number? (If the loss was growing fast, try a smaller lr.)")
    return None


@functools.cache
def _learner_class(cls: type[Optimizer]) -> type:
    update = dataclasses.field(default=None, compare=False, repr=False, kw_only=True)
    return dataclasses.make_dataclass(f"Learner{cls.__name__}", [("update", Callable, update)],
                                      bases=(_LearnerSteps, cls), frozen=True,
                                      namespace={"reference_class": cls, "__module__": __name__})


def learner_optimizer(fn, like: Optimizer) -> Optimizer:
    """The learner's update function as an optimizer: ``like``'s hyperparameters, ``init`` and gradient point.

    ``opt.step(params, grads, state)`` applies ``fn`` to every array of a parameter tree with
    the hyperparameters of ``like``, so the learner's own code can train a model with
    :mod:`course_lib.training`. Hyperparameters change between steps with
    :func:`dataclasses.replace`, as for every optimizer. If ``fn`` raises, returns the wrong
    structure, writes into its inputs, forgets to count the step or turns finite inputs into
    NaN, training stops with :class:`CheckFailed` saying what, at which update and on which array.
    """
    __tracebackhide__ = True
    if not isinstance(like, Optimizer):
        raise TypeError(f"like must be an optimizer of course_lib.optimizers, got {type(like).__name__}")
    if not callable(fn):
        fail(f"learner_optimizer needs your update function, got a {type(fn).__name__}.")
    _, problem = learner_hyperparameters(fn, like)
    if problem:
        fail(problem)
    values = {f.name: getattr(like, f.name) for f in dataclasses.fields(like) if f.init}
    return _learner_class(type(like))(**values, update=fn)
