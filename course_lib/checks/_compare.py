"""Comparing numbers the way the checks explain it: relative error with a floor, NaN equal to NaN."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._calls import Outcome

TOLERANCE = 1e-8
"""Largest relative error at which a learner's value counts as equal to the reference's."""

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


@dataclasses.dataclass(frozen=True)
class Difference:
    """One variable of a result that differs from the reference: where, and by how much."""

    variable: str          # "param" or "state['exp_avg']"
    index: tuple           # the element with the largest error
    expected: float
    got: float
    error: float


def differences(outcome: Outcome, expected_param, expected_state: dict, tolerance: float = TOLERANCE):
    """The variables of a well-formed ``outcome`` that differ: the counter, the buffers, the parameter."""
    found = []
    for key, want in expected_state.items():
        found += _difference(f"state[{key!r}]", want, outcome.state[key], tolerance)
    return found + _difference("param", expected_param, outcome.param, tolerance)


def _difference(variable, expected, got, tolerance):
    errors = relative_errors(expected, got)
    if errors.size == 0 or errors.max() <= tolerance:
        return []
    index = np.unravel_index(np.argmax(errors), errors.shape)
    return [Difference(variable, tuple(int(i) for i in index), float(np.asarray(expected)[index]),
                       float(np.asarray(got)[index]), float(errors[index]))]


def outcomes_agree(a: Outcome, b: Outcome) -> bool:
    """Whether two calls on the same inputs did the same thing, within :data:`MUTANT_TOLERANCE`.

    Breaking down counts as one behaviour whatever its form, so a learner whose division by
    zero raised agrees with a mistake whose division gave inf.
    """
    if a.broke_down or b.broke_down:
        return a.broke_down and b.broke_down
    if a.problem is not None or b.problem is not None:
        return a.raised is not None and a.raised is b.raised
    return not differences(a, b.param, b.state, MUTANT_TOLERANCE)
