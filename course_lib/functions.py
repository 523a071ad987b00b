r"""Two-dimensional test surfaces for the course's pictures of optimizer trajectories.

Each surface is a :class:`Surface`: its value and analytic gradient (both vectorised over
points of shape ``(..., 2)``, so a contour plot evaluates a whole grid at once), its known
minima, a plotting window and a start point that gives a telling picture. Look them up in
:data:`SURFACES` or with :func:`get_surface`::

    surface = get_surface("rosenbrock")
    xs, ys = np.linspace(*surface.window[0], 200), np.linspace(*surface.window[1], 200)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)          # shape (200, 200, 2)
    heights = surface.value(grid)                          # shape (200, 200)

The surfaces, in the order of :data:`SURFACES`:

=============  =======================================================  ==========================================
name           f(x, y)                                                  minima (the global one first)
=============  =======================================================  ==========================================
``bowl``       x^2 + y^2                                                (0, 0)
``ravine``     x^2 / 16 + 2 y^2        (condition number 32)            (0, 0)
``rosenbrock`` (1 - x)^2 + 100 (y - x^2)^2                              (1, 1)
``beale``      (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2                   (3, 0.5)
               + (2.625 - x + xy^3)^2
``himmelblau`` (x^2 + y - 11)^2 + (x + y^2 - 7)^2                       four, all with f = 0
``saddle``     x^2 + y^4 / 4 - y^2 / 2                                  (0, +-1); saddle point at (0, 0)
``bumpy``      (x^2 + y^2) / 6 + sin(2x + 1) + 0.8 sin(2y - 0.5)        six, computed numerically
=============  =======================================================  ==========================================
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

Point = tuple[float, float]


@dataclasses.dataclass(frozen=True)
class Surface:
    """A 2-D test function with everything a trajectory plot needs.

    ``value`` maps points of shape ``(..., 2)`` to heights of shape ``(...)``; ``grad`` maps
    them to gradients of shape ``(..., 2)``. ``minima`` lists every minimum worth marking, a
    global one first; ``saddles`` lists saddle points worth marking. ``window`` is
    ``((x_min, x_max), (y_min, y_max))``.
    """

    name: str
    title: str
    value: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    minima: tuple[Point, ...]
    window: tuple[tuple[float, float], tuple[float, float]]
    start: Point
    description: str
    saddles: tuple[Point, ...] = ()


def _coordinates(points) -> tuple[np.ndarray, np.ndarray]:
    points = np.asarray(points, dtype=float)
    if points.ndim == 0 or points.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., 2): (x, y) in the last axis; got shape {points.shape}")
    return points[..., 0], points[..., 1]


def _stack(d_dx, d_dy) -> np.ndarray:
    return np.stack(np.broadcast_arrays(d_dx, d_dy), axis=-1)


def _bowl(points):
    """f(x, y) = x^2 + y^2."""
    x, y = _coordinates(points)
    return x * x + y * y


def _bowl_grad(points):
    x, y = _coordinates(points)
    return _stack(2 * x, 2 * y)


def _ravine(points):
    """f(x, y) = x^2 / 16 + 2 y^2: curvatures 1/8 and 4, condition number 32."""
    x, y = _coordinates(points)
    return x * x / 16 + 2 * y * y


def _ravine_grad(points):
    x, y = _coordinates(points)
    return _stack(x / 8, 4 * y)


def _rosenbrock(points):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 (Rosenbrock 1960)."""
    x, y = _coordinates(points)
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _rosenbrock_grad(points):
    x, y = _coordinates(points)
    valley = y - x * x
    return _stack(-2 * (1 - x) - 400 * x * valley, 200 * valley)


_BEALE_CONSTANTS = (1.5, 2.25, 2.625)


def _beale(points):
    """f(x, y) = sum_{k=1..3} (c_k - x + x y^k)^2 with c = (1.5, 2.25, 2.625)."""
    x, y = _coordinates(points)
    return sum((c - x + x * y**k) ** 2 for k, c in enumerate(_BEALE_CONSTANTS, start=1))


def _beale_grad(points):
    x, y = _coordinates(points)
    d_dx = d_dy = 0.0
    for k, c in enumerate(_BEALE_CONSTANTS, start=1):
        residual = c - x + x * y**k
        d_dx = d_dx + 2 * residual * (y**k - 1)
        d_dy = d_dy + 2 * residual * k * x * y ** (k - 1)
    return _stack(d_dx, d_dy)


def _himmelblau(points):
    """f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2 (Himmelblau 1972)."""
    x, y = _coordinates(points)
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


def _himmelblau_grad(points):
    x, y = _coordinates(points)
    first, second = x * x + y - 11, x + y * y - 7
    return _stack(4 * x * first + 2 * second, 2 * first + 4 * y * second)


def _saddle(points):
    """f(x, y) = x^2 + y^4 / 4 - y^2 / 2: like x^2 - y^2 / 2 near the origin, bounded below."""
    x, y = _coordinates(points)
    return x * x + y**4 / 4 - y * y / 2


def _saddle_grad(points):
    x, y = _coordinates(points)
    return _stack(2 * x, y**3 - y)


def _bumpy(points):
    """f(x, y) = (x^2 + y^2) / 6 + sin(2x + 1) + 0.8 sin(2y - 0.5)."""
    x, y = _coordinates(points)
    return (x * x + y * y) / 6 + np.sin(2 * x + 1) + 0.8 * np.sin(2 * y - 0.5)


def _bumpy_grad(points):
    x, y = _coordinates(points)
    return _stack(x / 3 + 2 * np.cos(2 * x + 1), y / 3 + 1.6 * np.cos(2 * y - 0.5))


# The bumpy surface is separable: its minima are every pair of a minimum of
# x^2/6 + sin(2x + 1) and one of y^2/6 + 0.8 sin(2y - 0.5), each found by Newton's method
# in float64 (tests/test_functions.py re-derives them).
_BUMPY_X = (-1.185916718813524, 1.7115559942271161)
_BUMPY_Y = (-0.48481077977703146, 2.350347104878209, -3.2982249875233256)

SURFACES: dict[str, Surface] = {
    surface.name: surface
    for surface in (
        Surface(
            name="bowl",
            title="Convex bowl",
            value=_bowl,
            grad=_bowl_grad,
            minima=((0.0, 0.0),),
            window=((-2.0, 2.0), (-2.0, 2.0)),
            start=(-1.5, 1.0),
            description="Every direction curves alike, so plain gradient descent heads straight "
                        "for the minimum and only the learning rate matters.",
        ),
        Surface(
            name="ravine",
            title="Ill-conditioned ravine",
            value=_ravine,
            grad=_ravine_grad,
            minima=((0.0, 0.0),),
            window=((-5.0, 5.0), (-2.0, 2.0)),
            start=(-4.5, 1.5),
            description="A step size safe for the steep direction crawls along the flat one, "
                        "so gradient descent zigzags; momentum and per-coordinate scaling fix it.",
        ),
        Surface(
            name="rosenbrock",
            title="Rosenbrock's banana",
            value=_rosenbrock,
            grad=_rosenbrock_grad,
            minima=((1.0, 1.0),),
            window=((-2.0, 2.0), (-1.0, 3.0)),
            start=(-1.2, 1.0),
            description="Finding the curved valley is easy, following its nearly flat floor "
                        "to the minimum is slow.",
        ),
        Surface(
            name="beale",
            title="Beale's function",
            value=_beale,
            grad=_beale_grad,
            minima=((3.0, 0.5),),
            window=((-4.5, 4.5), (-4.5, 4.5)),
            start=(1.0, 1.5),
            description="Its gradients span orders of magnitude across the plane, so a single "
                        "step size overshoots in one place and crawls in another.",
        ),
        Surface(
            name="himmelblau",
            title="Himmelblau's function",
            value=_himmelblau,
            grad=_himmelblau_grad,
            minima=(
                (3.0, 2.0),
                (-2.805118086952745, 3.131312518250573),
                (-3.779310253377747, -3.2831859912861696),
                (3.5844283403304917, -1.8481265269644034),
            ),
            window=((-5.0, 5.0), (-5.0, 5.0)),
            start=(-0.3, -0.9),
            description="Four equally good minima: from a start near the central peak, which one "
                        "a run reaches depends on how the optimizer moves, not only on where it starts.",
        ),
        Surface(
            name="saddle",
            title="Saddle point",
            value=_saddle,
            grad=_saddle_grad,
            minima=((0.0, 1.0), (0.0, -1.0)),
            saddles=((0.0, 0.0),),
            window=((-2.0, 2.0), (-2.0, 2.0)),
            start=(-1.8, 0.01),
            description="Near a saddle the gradient vanishes, so a run that arrives along the "
                        "ridge lingers there before it slides off to a minimum.",
        ),
        Surface(
            name="bumpy",
            title="Bumpy landscape",
            value=_bumpy,
            grad=_bumpy_grad,
            minima=tuple(
                sorted(((x, y) for x in _BUMPY_X for y in _BUMPY_Y), key=lambda p: float(_bumpy(p)))
            ),
            window=((-4.0, 4.0), (-4.0, 4.0)),
            start=(-1.0, 3.5),
            description="Non-convex: five local minima besides the global one, so where a run "
                        "ends depends on its start, its step size and its momentum.",
        ),
    )
}
"""The course's test surfaces by name, in the order the lessons introduce them."""


def get_surface(name: str) -> Surface:
    """Return the surface called ``name``; a ``ValueError`` lists the valid names otherwise."""
    try:
        return SURFACES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown surface {name!r}; choose one of {', '.join(SURFACES)}") from None
