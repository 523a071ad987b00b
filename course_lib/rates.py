"""How fast momentum methods converge on a quadratic: the rate map over (learning rate, momentum).

On ``f(x) = sum_i h_i x_i**2 / 2`` every coordinate evolves on its own, and one step of heavy
ball or Nesterov is a linear map of (position, momentum buffer), a 2x2 matrix per curvature
``h``. After many steps the error shrinks by the matrix's spectral radius per step, so the rate
of a run is the largest spectral radius over the curvatures. Its characteristic polynomials
(the same for torch's forms and the classic ones, which are changes of variables):

* heavy ball:  ``z**2 - (1 + mu - lr h) z + mu``
* Nesterov:    ``z**2 - (1 + mu)(1 - lr h) z + mu (1 - lr h)``

A rate below 1 converges, the smaller the faster; 1 or more diverges (or stalls). For heavy ball
with curvatures in ``[m, L]`` (condition number ``kappa = L / m``) Polyak's choice
``lr = 4 / (sqrt(L) + sqrt(m))**2``, ``mu = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**2`` gives the
best rate, ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)`` (Polyak, 1964; Goh, "Why Momentum Really
Works", Distill 2017), against ``(kappa - 1) / (kappa + 1)`` for plain gradient descent.
"""

from __future__ import annotations

import numbers

import numpy as np

METHODS = ("heavy_ball", "nesterov")


def _check(method: str, curvatures) -> np.ndarray:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    h = np.atleast_1d(np.asarray(curvatures, dtype=float))
    if h.ndim != 1 or h.size == 0 or not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ValueError(f"curvatures must be positive finite numbers, got {curvatures!r}")
    return h


def spectral_radius(method: str, lr, momentum, curvature) -> np.ndarray:
    """The per-step factor of one curvature's error: the larger root of the characteristic
    polynomial in absolute value. Broadcasts over arrays of ``lr``, ``momentum``, ``curvature``."""
    lr, mu, h = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lr, momentum, curvature)))
    if method == "heavy_ball":
        b, c = -(1 + mu - lr * h), mu
    elif method == "nesterov":
        b, c = -(1 + mu) * (1 - lr * h), mu * (1 - lr * h)
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    root = np.sqrt((b * b - 4 * c).astype(complex))
    return np.maximum(np.abs((-b + root) / 2), np.abs((-b - root) / 2))


def rate(method: str, lr, momentum, curvatures) -> np.ndarray:
    """The asymptotic per-step factor of a run on the quadratic with these ``curvatures``."""
    h = _check(method, curvatures)
    lr, mu = np.broadcast_arrays(np.asarray(lr, dtype=float), np.asarray(momentum, dtype=float))
    return np.max(spectral_radius(method, lr[..., None], mu[..., None], h), axis=-1)


def rate_map(method: str, curvatures, lrs, momenta) -> np.ndarray:
    """``rate`` on the grid: rows are ``momenta``, columns ``lrs`` (ready for ``imshow``)."""
    lr_grid, mu_grid = np.meshgrid(np.asarray(lrs, dtype=float), np.asarray(momenta, dtype=float))
    return rate(method, lr_grid, mu_grid, curvatures)


def polyak_optimum(condition_number: float, smallest: float = 1.0) -> tuple[float, float, float]:
    """``(lr, momentum, rate)`` of heavy ball's best setting for curvatures in ``[m, kappa m]``."""
    if isinstance(condition_number, bool) or not isinstance(condition_number, numbers.Real) \
            or not 1 <= condition_number < np.inf:
        raise ValueError(f"condition_number must be a finite number >= 1, got {condition_number!r}")
    if not isinstance(smallest, numbers.Real) or not 0 < smallest < np.inf:
        raise ValueError(f"smallest must be a positive number, got {smallest!r}")
    root = np.sqrt(condition_number)
    lr = 4 / (np.sqrt(smallest * condition_number) + np.sqrt(smallest)) ** 2
    factor = (root - 1) / (root + 1)
    return float(lr), float(factor ** 2), float(factor)


def measured_rate(errors, skip: float = 0.5) -> float:
    """The per-step factor a run achieved: a least-squares fit of ``log |error|`` against the step,
    over the steps after the first ``skip`` fraction (the transient)."""
    norms = np.asarray(errors, dtype=float)
    norms = norms if norms.ndim == 1 else np.linalg.norm(norms.reshape(len(norms), -1), axis=1)
    tail = norms[int(len(norms) * skip):]
    tail = tail[tail > 0]
    if len(tail) < 3:
        raise ValueError("measured_rate needs at least 3 non-zero errors after the transient")
    slope = np.polyfit(np.arange(len(tail)), np.log(tail), 1)[0]
    return float(np.exp(slope))
