"""How fast heavy ball and Nesterov converge on a quadratic: the rate r over (learning rate γ, momentum μ).

In the eigenbasis of its Hessian a quadratic is ``L(θ) = Σ_i h_i θ_i² / 2``, with the curvatures
``h_i`` (the Hessian's eigenvalues). The gradient of coordinate ``i`` is ``h_i θ_i``, so each
eigen-direction, momentum buffer included, runs its own one-dimensional optimization. One step maps
a direction's (error, γ × buffer) linearly to the next: a 2x2 matrix that depends on ``a = γ h`` and
``μ`` alone. Its spectral radius is the factor by which that direction's error shrinks per step in
the long run. A whole run shrinks at the **largest** of these over its directions: the slowest
direction is the one left at the end. That largest value is the run's rate ``r``; ``r < 1``
converges (the smaller the faster), ``r >= 1`` does not.

The two matrices' characteristic polynomials (torch's forms and the papers' forms share them: the
forms differ by a change of variables):

* heavy ball:  ``z² - (1 + μ - a) z + μ``
* Nesterov:    ``z² - (1 + μ)(1 - a) z + μ (1 - a)``, which is heavy ball's with the momentum
  ``μ (1 - a)`` (Sutskever et al., 2013, section 2.1).

For curvatures anywhere between ``h_min`` and ``h_max`` (condition number ``κ = h_max / h_min``)
the rate is set by the two ends alone, so :func:`rate` of ``(h_min, h_max)`` is the rate of any
quadratic with that spectrum. The best constant settings (:func:`best_setting`) are Polyak's (1964)
for heavy ball, with ``r = (√κ - 1) / (√κ + 1)``, Lessard, Recht & Packard's (2016) for Nesterov,
with ``r = 1 - 2 / √(3κ + 1)``, and ``γ = 2 / (h_min + h_max)`` for gradient descent, with
``r = (κ - 1) / (κ + 1)``. :func:`check_rate` runs ``course_lib``'s SGD and measures the rate the
run achieves, to set it beside the prediction.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import NamedTuple

import numpy as np

from .functions import SURFACES, Surface, get_surface
from .optimizers import SGD
from .training import minimize

METHODS = ("heavy_ball", "nesterov")
NAMES = {"gradient_descent": "gradient descent", "heavy_ball": "heavy ball", "nesterov": "Nesterov"}
"""How the methods are called in titles and printouts."""

class Setting(NamedTuple):
    """A learning rate γ and momentum μ, with the rate r they achieve."""

    lr: float
    momentum: float
    rate: float


def _check_method(method, allowed=METHODS) -> None:
    if method not in allowed:
        raise ValueError(f"method must be one of {allowed}, got {method!r}")


def _check_curvatures(curvatures) -> np.ndarray:
    h = np.atleast_1d(np.asarray(curvatures, dtype=float))
    if h.ndim != 1 or h.size == 0 or not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ValueError(f"curvatures must be positive finite numbers, got {curvatures!r}")
    return h


def _check_momentum(momentum) -> float:
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
    return float(momentum)


def spectral_radius(method: str, lr, momentum, curvature) -> np.ndarray:
    """The factor per step of one direction's error in the long run: the larger root, in absolute
    value, of the method's characteristic polynomial. Broadcasts over ``lr``, ``momentum`` and
    ``curvature``."""
    _check_method(method)
    lr, mu, h = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lr, momentum, curvature)))
    a = lr * h
    if method == "heavy_ball":
        linear, constant = -(1 + mu - a), mu
    else:
        linear, constant = -(1 + mu) * (1 - a), mu * (1 - a)
    root = np.sqrt((linear * linear - 4 * constant).astype(complex))
    return np.maximum(np.abs((-linear + root) / 2), np.abs((-linear - root) / 2))


def rate(method: str, lr, momentum, curvatures) -> np.ndarray:
    """The rate r of a run on a quadratic with these ``curvatures``: the largest spectral radius
    over them. Broadcasts over ``lr`` and ``momentum``."""
    h = _check_curvatures(curvatures)
    lr, mu = np.broadcast_arrays(np.asarray(lr, dtype=float), np.asarray(momentum, dtype=float))
    return np.max(spectral_radius(method, lr[..., None], mu[..., None], h), axis=-1)


def rate_map(method: str, curvatures, lrs, momenta) -> np.ndarray:
    """:func:`rate` on a grid: one row per momentum, one column per learning rate (as ``imshow`` wants)."""
    lr_grid, momentum_grid = np.meshgrid(np.asarray(lrs, dtype=float), np.asarray(momenta, dtype=float))
    return rate(method, lr_grid, momentum_grid, curvatures)


def stability_limit(method: str, momentum, curvature_max: float):
    """The learning rate at which the stiffest direction stops shrinking, for ``0 <= μ < 1``:
    ``2 (1 + μ) / h_max`` for heavy ball, ``2 (1 + μ) / ((1 + 2μ) h_max)`` for Nesterov. Every
    smaller positive learning rate converges. A float, or an array for an array of momenta."""
    _check_method(method)
    mu = np.asarray(momentum, dtype=float) if not isinstance(momentum, bool) else np.asarray(np.nan)
    if not np.all((mu >= 0) & (mu < 1)):
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    (curvature_max,) = _check_curvatures(curvature_max)
    limit = 2 * (1 + mu) / curvature_max
    limit = limit if method == "heavy_ball" else limit / (1 + 2 * mu)
    return float(limit) if limit.ndim == 0 else limit


def best_setting(method: str, curvatures) -> Setting:
    """The constant (γ, μ) with the smallest rate for curvatures from ``min(curvatures)`` to
    ``max(curvatures)``, and that rate: for ``"gradient_descent"`` (μ = 0), ``"heavy_ball"``
    (Polyak, 1964) or ``"nesterov"`` (Lessard, Recht & Packard, 2016, for quadratics)."""
    _check_method(method, ("gradient_descent",) + METHODS)
    h = _check_curvatures(curvatures)
    low, high = float(h.min()), float(h.max())
    kappa = high / low
    if method == "gradient_descent":
        return Setting(2 / (low + high), 0.0, (kappa - 1) / (kappa + 1))
    if method == "heavy_ball":
        root = np.sqrt(kappa)
        factor = (root - 1) / (root + 1)
        return Setting(float(4 / (np.sqrt(high) + np.sqrt(low)) ** 2), float(factor**2), float(factor))
    root = np.sqrt(3 * kappa + 1)
    return Setting(4 / (3 * high + low), float((root - 2) / (root + 2)), float(1 - 2 / root))


def curvatures(surface, point=None) -> np.ndarray:
    """The curvatures of ``surface`` (a Surface or its name) at ``point``, by default its first
    minimum: the eigenvalues of the Hessian, smallest first, from central differences of the
    gradient (exact up to round-off on a quadratic such as the ravine)."""
    surface = get_surface(surface) if isinstance(surface, str) else surface
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a Surface or the name of one ({', '.join(SURFACES)}), got {surface!r}")
    point = np.asarray(surface.minima[0] if point is None else point, dtype=float)
    step = 1e-6 * max(1.0, float(np.abs(point).max()))
    columns = [(surface.grad(point + step * unit) - surface.grad(point - step * unit)) / (2 * step)
               for unit in np.eye(2)]
    hessian = np.column_stack(columns)
    return np.linalg.eigvalsh((hessian + hessian.T) / 2)


def steps_per_tenfold(rate) -> np.ndarray:
    """How many steps at rate ``r`` divide the error by 10: ``ln 10 / (-ln r)``; inf from r = 1 on."""
    r = np.asarray(rate, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(r < 1, np.log(10) / -np.log(np.maximum(r, np.finfo(float).tiny)), np.inf)


#: Fewest steps before round-off or divergence from which a rate is measured (the later half is fitted).
_FEWEST_STEPS = 6


def _fit_window(norms: np.ndarray, skip: float, floor: float) -> tuple[int, int] | None:
    """The steps a rate is measured over: from ``skip`` of the way in (the transient is over) to the
    last step above ``floor`` (below it the run measures float64 round-off, not itself); ``None`` when
    fewer than ``_FEWEST_STEPS`` steps come before that."""
    below = np.flatnonzero(norms <= floor)
    end = int(below[0]) if below.size else len(norms)
    if end < _FEWEST_STEPS:
        return None
    return min(int(end * skip), end - 3), end


def _rate_over(norms: np.ndarray, start: int, end: int) -> float:
    slope = np.polyfit(np.arange(start, end), np.log(norms[start:end]), 1)[0]
    return float(np.exp(slope))


def measured_rate(errors, skip: float = 0.5, floor: float = 0.0) -> float:
    """The rate a run achieved: ``exp`` of the least-squares slope of ``log |error|`` against the step,
    over the steps after the first ``skip`` fraction (the transient) and before the first error at or
    below ``floor``, where round-off takes over (about ``1e-15 |θ*|`` for a minimum at θ*).

    ``errors`` is the distance to the minimum per step, or the error vectors (one row per step)."""
    if not isinstance(skip, numbers.Real) or not 0 <= skip < 1:
        raise ValueError(f"skip must be a fraction in [0, 1), got {skip!r}")
    norms = np.asarray(errors, dtype=float)
    norms = norms if norms.ndim == 1 else np.linalg.norm(norms.reshape(len(norms), -1), axis=1)
    if norms.size == 0 or not np.all(np.isfinite(norms)):
        raise ValueError("errors must be finite numbers")
    window = _fit_window(norms, skip, floor)
    if window is None:
        raise ValueError(f"too few steps to measure a rate: at least {_FEWEST_STEPS} errors above the floor "
                         f"{floor:g} are needed")
    return _rate_over(norms, *window)


@dataclasses.dataclass(frozen=True)
class RateCheck:
    """A prediction of the map set beside a real run: :func:`check_rate`'s answer.

    ``errors[t]`` is the run's distance to the minimum after ``t`` steps, and ``measured`` the
    rate fitted over the steps ``fitted = (first, end)``, or NaN (``fitted`` None) for a run that
    blew up too soon to measure; ``predicted`` is :func:`rate` at the surface's curvatures.
    ``diverged_at`` is the step at which the run blew up, if it did.
    """

    method: str
    lr: float
    momentum: float
    predicted: float
    measured: float
    errors: np.ndarray = dataclasses.field(repr=False)
    fitted: tuple[int, int] | None
    diverged_at: int | None = None

    def __str__(self) -> str:
        point = f"{NAMES[self.method]:<10} γ = {self.lr:<6g} μ = {self.momentum:<6g} rate from the map {self.predicted:.4f}"
        if self.fitted is None:
            return f"{point}   the run blew up at step {self.diverged_at}, too soon to measure its rate"
        ending = f", diverged at step {self.diverged_at}" if self.diverged_at is not None else ""
        return (f"{point}   measured on the run {self.measured:.4f} "
                f"(steps {self.fitted[0]} to {self.fitted[1] - 1}{ending})")


def check_rate(method: str, lr: float, momentum: float, surface="ravine", *, steps: int = 500) -> RateCheck:
    """Run ``course_lib``'s SGD (torch's form; ``nesterov=True`` for ``"nesterov"``) on ``surface``
    from its start point, and measure the rate of its distance to the nearest minimum, beside the
    rate the map predicts from the curvatures there. With ``momentum = 0`` both methods are
    gradient descent (torch refuses Nesterov without momentum, so plain SGD runs)."""
    _check_method(method)
    surface = get_surface(surface) if isinstance(surface, str) else surface
    if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    momentum = _check_momentum(momentum)
    optimizer = SGD(lr=lr, momentum=momentum, nesterov=method == "nesterov" and momentum > 0)
    run = minimize(surface, optimizer, surface.start, steps=steps)
    minima = np.asarray(surface.minima, dtype=float)
    minimum = minima[np.argmin(np.linalg.norm(minima - run.points[-1], axis=1))]
    errors = np.linalg.norm(run.points - minimum, axis=1)
    # float64 holds the points to about 1e-16 of their size: closer to the minimum than that is noise.
    fitted = _fit_window(errors, 0.5, floor=64 * np.finfo(float).eps * np.abs(minimum).max())
    return RateCheck(method=method, lr=float(lr), momentum=momentum,
                     predicted=float(rate(method, lr, momentum, curvatures(surface, minimum))),
                     measured=np.nan if fitted is None else _rate_over(errors, *fitted), errors=errors,
                     fitted=fitted, diverged_at=run.diverged_at)
