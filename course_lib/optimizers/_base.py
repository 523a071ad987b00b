"""The explicit-state interface shared by every optimizer in the course.

Every optimizer is a small frozen dataclass of hyperparameters with two methods::

    state = opt.init(params)
    params, state = opt.step(params, grads, state)

``step`` is pure: it returns new arrays and never writes into ``params``, ``grads`` or
``state``. ``params`` is one float array of any shape or a list/tuple/dict of them, and
``grads`` has the same structure. The state is a plain dict: ``state["step"]`` counts the
updates done so far, and every per-parameter buffer (named as in ``torch.optim``, e.g.
``"exp_avg"``) has the structure of ``params``.

A subclass declares its buffers in :meth:`Optimizer.slot_names` and implements the update
of one array in :meth:`Optimizer._update`; the tree handling and the checks live here once.
To change a hyperparameter between steps (a learning-rate schedule), make a new optimizer
with :func:`dataclasses.replace`; the state carries over unchanged, as in ``torch.optim``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from ._tree import flatten, flatten_like, unflatten


def check_number(name: str, value, low: float = 0.0, high: float = math.inf, *,
                 include_high: bool = True) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``low <= value <= high`` (or ``< high``)."""
    upper = "]" if include_high else ")"
    allowed = f"in [{low:g}, {high:g}{upper}" if math.isfinite(high) else f">= {low:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"{name} must be a real number {allowed}, got {value!r}")
    too_high = value > high if include_high else value >= high
    if value < low or too_high:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def check_betas(betas) -> None:
    """Both coefficients of ``betas`` must lie in [0, 1), as in ``torch.optim.Adam``."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        check_number(f"betas[{i}]", beta, 0.0, 1.0, include_high=False)


def add_l2(grad: np.ndarray, param: np.ndarray, weight_decay: float) -> np.ndarray:
    """L2 regularisation folded into the gradient: ``g + weight_decay * p`` (torch's default)."""
    return grad + weight_decay * param if weight_decay else grad


def lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """``start + weight * (end - start)``, evaluated as ``torch.lerp`` does to match its rounding."""
    out = end - start  # the one new array; the rest happens in it
    if weight < 0.5:
        out *= weight
        out += start
    else:
        out *= weight - 1.0
        out += end
    return out


def descend(param: np.ndarray, direction: np.ndarray, step_size: float) -> np.ndarray:
    """``param - step_size * direction`` as a new array, with one allocation instead of two.

    Negating the step size is exact, so the rounding is that of the plain expression.
    """
    out = direction * -step_size
    out += param
    return out


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """Base class: tree handling, input checks and the step counter for every optimizer."""

    def __post_init__(self) -> None:
        # A learning rate taken from np.geomspace is a NumPy scalar, which would turn float32
        # parameters into float64 ones; plain Python numbers keep each array's own dtype.
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.generic):
                object.__setattr__(self, field.name, value.item())
            elif isinstance(value, (tuple, list)):
                object.__setattr__(self, field.name, tuple(v.item() if isinstance(v, np.generic) else v for v in value))
        self._validate()

    # --- what a subclass provides -------------------------------------------------------

    def _validate(self) -> None:
        """Raise ``ValueError`` for hyperparameters outside their valid range."""

    @property
    def slot_names(self) -> tuple[str, ...]:
        """Names of the per-parameter state buffers (they depend on flags such as momentum)."""
        return ()

    def _initial_slot(self, name: str, param: np.ndarray) -> np.ndarray:
        return np.zeros_like(param)

    def _initial_scalars(self) -> dict:
        """State shared by all parameters besides the step counter (NAdam's ``mu_product``)."""
        return {}

    def _next_scalars(self, state: dict, step: int) -> dict:
        return {}

    def _update(self, param, grad, slots: dict, step: int, scalars: dict):
        """Return ``(new_param, new_slots)`` for one array; ``step`` is 1 on the first update."""
        raise NotImplementedError

    # --- the public interface ------------------------------------------------------------

    def init(self, params) -> dict:
        """Return the state before the first step: ``step = 0`` and every buffer at its start."""
        leaves, treedef = flatten(params, "params")
        state = {"step": 0}
        for name in self.slot_names:
            state[name] = unflatten(treedef, [self._initial_slot(name, p) for p in leaves])
        state.update(self._initial_scalars())
        return state

    def gradient_point(self, params, state):
        """Where the next gradient must be evaluated: ``params`` itself for all but look-ahead NAG."""
        return params

    def step(self, params, grads, state):
        """Apply one update and return ``(new_params, new_state)``; the inputs are left untouched."""
        leaves, treedef = flatten(params, "params")
        grad_leaves = flatten_like(grads, treedef, "grads")
        slot_leaves = self._state_slots(state, treedef)
        step = state["step"] + 1
        scalars = self._next_scalars(state, step)
        new_leaves = []
        new_slots: dict[str, list] = {name: [] for name in self.slot_names}
        for i, (param, grad) in enumerate(zip(leaves, grad_leaves)):
            slots = {name: slot_leaves[name][i] for name in self.slot_names}
            new_param, updated = self._update(param, grad, slots, step, scalars)
            # NumPy turns 0-d results into scalars; keep every leaf an array of the input's dtype.
            new_leaves.append(np.asarray(new_param))
            for name in self.slot_names:
                new_slots[name].append(np.asarray(updated[name]))
        new_state = {"step": step, **{n: unflatten(treedef, new_slots[n]) for n in self.slot_names}}
        new_state.update(scalars)
        return unflatten(treedef, new_leaves), new_state

    @property
    def label(self) -> str:
        """A short name for legends: the class, its learning rate and the hyperparameters that differ
        from the defaults."""
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if f.name == "lr" or getattr(self, f.name) != f.default
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _state_slots(self, state, treedef) -> dict[str, list]:
        expected = ("step", *self.slot_names, *self._initial_scalars())
        if not isinstance(state, dict) or any(key not in state for key in expected):
            have = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"state must be the dict that {type(self).__name__}.init(params) returns, with keys "
                f"{list(expected)}; got {have}"
            )
        step = state["step"]
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"state['step'] must be a whole number >= 0, got {step!r}")
        return {name: flatten_like(state[name], treedef, f"state[{name!r}]") for name in self.slot_names}
