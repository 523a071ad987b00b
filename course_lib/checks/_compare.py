"""Comparing numbers the way the checks explain it: relative error with a floor, NaN equal to NaN.

The exercises' lessons (descent, sampling) compare with :func:`relative_errors` and
:data:`TOLERANCE`. ``check_update`` compares with a tolerance that knows rounding
(:func:`differences`): a relative part, about half the digits of the dtype, and an absolute
floor of a few rounding units of the largest quantity that a correct formula for the value may
combine. The floor matters when a value is the small difference of large ones (a velocity that
has shrunk to 1e-10 next to a parameter of 0.5, or ``grad + weight_decay * param`` cancelling):
there any correct order of the operations moves the result by a rounding unit of the large
quantities, which is a large *relative* error of the small result, and no real mistake is that
small.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._calls import Outcome

TOLERANCE = 1e-8
"""Largest relative error at which a learner's float64 value counts as equal to the reference's:
about the square root of float64's rounding unit (1.5e-8), so half the digits must agree."""

FLOAT32_TOLERANCE = 1e-4
"""The same rule for float32, whose rounding unit is 1.2e-7 (square root 3.5e-4)."""

ROUNDING_UNITS = 16
"""The rounding floor, in rounding units of the largest quantity combined: a few operations,
each rounding by at most one unit, times a margin of four."""

FLOOR = 1e-12
"""Smallest denominator of the relative error, so that two numbers that should be 0 compare absolutely."""

MUTANT_TOLERANCE = 1e-6
"""Looser tolerance for "these are the results of that mistake": the same slip can be coded many ways."""

TOLERANCE_NOTE = (f"(Values agree when |expected - got| / max(|expected|, |got|, {FLOOR:g}) <= "
                  f"{TOLERANCE:g}: rounding passes, a different formula does not.)")


def relative_errors(expected, got) -> np.ndarray:
    """Element-wise ``|expected - got| / max(|expected|, |got|, FLOOR)``; equal NaN or inf count as 0."""
    expected, got = np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
    with np.errstate(all="ignore"):
        errors = np.abs(expected - got) / np.maximum(np.maximum(np.abs(expected), np.abs(got)), FLOOR)
    same = (expected == got) | (np.isnan(expected) & np.isnan(got))
    return np.where(same, 0.0, np.where(np.isnan(errors), np.inf, errors))


def rel_error(expected, got) -> float:
    """The largest element-wise relative error between two arrays (or numbers) of one shape."""
    return float(np.max(relative_errors(expected, got), initial=0.0))


def relative_tolerance(dtype) -> float:
    """:data:`TOLERANCE` for float64 values, :data:`FLOAT32_TOLERANCE` for float32 (and smaller) ones."""
    return TOLERANCE if rounding_unit(dtype) <= _EPS[np.dtype(np.float64)] else FLOAT32_TOLERANCE


def rounding_unit(dtype) -> float:
    """Machine epsilon of a float dtype: the relative rounding error of one operation is at most half of it."""
    dtype = np.dtype(dtype)
    if dtype not in _EPS:
        _EPS[dtype] = float(np.finfo(dtype).eps)
    return _EPS[dtype]


_EPS = {np.dtype(np.float64): float(np.finfo(np.float64).eps)}
"""Machine epsilons by dtype, looked up once: ``np.finfo`` is slow next to the small arrays it serves."""


@dataclasses.dataclass(frozen=True)
class Difference:
    """One variable of a result that differs from the reference: where, by how much, and what was allowed."""

    variable: str          # "param" or "state['exp_avg']"
    index: tuple           # the element furthest outside the tolerance
    expected: float
    got: float
    error: float           # relative error |expected - got| / max(|expected|, |got|)
    tolerance: float = 0.0  # the relative tolerance used (0 for the step counter, compared exactly)
    scale: float = 0.0     # S: the magnitude whose rounding units make the absolute floor
    dtype: str = "float64"

    @property
    def floor(self) -> float:
        """The absolute difference always allowed at that element: ROUNDING_UNITS rounding units of S."""
        return ROUNDING_UNITS * rounding_unit(self.dtype) * self.scale

    def note(self) -> str:
        """The tolerance rule in words, with the numbers that applied at this element."""
        allowed = max(self.tolerance * max(abs(self.expected), abs(self.got)), self.floor)
        return (f"(Values agree when |expected - got| <= max({self.tolerance:g} * max(|expected|, |got|), "
                f"{ROUNDING_UNITS} * eps * S), with eps = {rounding_unit(self.dtype):.2g}, {self.dtype}'s rounding "
                f"unit, and S = {self.scale:.3g}, the largest of |param|, |grad|, weight_decay * |param|, |new param| "
                f"and this variable's old and new values at that element: any correct order of the operations "
                f"passes, a different formula does not. Here {allowed:.2g} was allowed and the difference is "
                f"{abs(self.expected - self.got):.2g}.)")


def differences(outcome: Outcome, expected: Outcome, scales: dict, tolerance: float | None = None):
    """The variables of a well-formed ``outcome`` that differ from ``expected``: the counter, the buffers,
    the parameter.

    ``scales[variable]`` is S for each float variable (see :class:`Difference`); ``tolerance`` is
    the relative part, by default the one of the expected values' dtype.
    """
    found = []
    for key, want in expected.state.items():
        variable = f"state[{key!r}]"
        if key == "step":
            if outcome.state[key] != want:
                found.append(Difference(variable, (), want, outcome.state[key], abs(outcome.state[key] - want)
                                        / max(abs(want), abs(outcome.state[key]), 1)))
        else:
            found += _difference(variable, want, outcome.state[key], scales[key], tolerance)
    return found + _difference("param", expected.param, outcome.param, scales["param"], tolerance)


def _difference(variable, expected, got, scale, tolerance):
    dtype = np.asarray(expected).dtype  # float64 for a plain number such as NAdam's mu_product
    expected, got = np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
    tolerance = relative_tolerance(dtype) if tolerance is None else tolerance
    floor = ROUNDING_UNITS * rounding_unit(dtype) * np.asarray(scale, dtype=float)
    with np.errstate(all="ignore"):
        allowed = np.maximum(tolerance * np.maximum(np.abs(expected), np.abs(got)), floor)
        excess = np.abs(expected - got) / allowed
    if np.all(excess <= 1):  # NaN fails this, and goes on to be judged below
        return []
    same = (expected == got) | (np.isnan(expected) & np.isnan(got))
    excess = np.where(same, 0.0, np.where(np.isnan(excess), np.inf, excess))
    if excess.max() <= 1:
        return []
    index = np.unravel_index(np.argmax(excess), excess.shape)
    error = float(relative_errors(expected[index], got[index]))
    return [Difference(variable, tuple(int(i) for i in index), float(expected[index]), float(got[index]), error,
                       tolerance, float(np.broadcast_to(scale, expected.shape)[index]), dtype.name)]


def outcomes_agree(a: Outcome, b: Outcome) -> bool:
    """Whether two calls on the same inputs did the same thing, within :data:`MUTANT_TOLERANCE`.

    Breaking down counts as one behaviour whatever its form, so a learner whose division by
    zero raised agrees with a mistake whose division gave inf. The rounding floor of each
    variable comes from the largest of the two parameters and of its two values: the inputs,
    which both calls share, are not at hand here.
    """
    if a.broke_down or b.broke_down:
        return a.broke_down and b.broke_down
    if a.problem is not None or b.problem is not None:
        return a.raised is not None and a.raised is b.raised
    return not differences(a, b, _shared_scales(a, b), MUTANT_TOLERANCE)


def _shared_scales(a: Outcome, b: Outcome) -> dict:
    params = np.maximum(np.abs(a.param), np.abs(b.param))
    scales = {"param": params}
    for key, value in b.state.items():
        if key != "step":
            own = np.maximum(np.abs(value), np.abs(a.state[key]))
            scales[key] = np.maximum(params, own) if isinstance(value, np.ndarray) else own
    return scales
