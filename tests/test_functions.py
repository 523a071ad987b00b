"""The 2-D test surfaces: analytic gradients, vectorisation, and that the listed minima are right."""

import dataclasses

import numpy as np
import pytest
from scipy.optimize import minimize  # scipy comes with scikit-learn

from course_lib.functions import SURFACES, Surface, get_surface

SURFACE_NAMES = ["bowl", "ravine", "rosenbrock", "beale", "himmelblau", "saddle", "bumpy"]


def surfaces():
    return pytest.mark.parametrize("surface", SURFACES.values(), ids=list(SURFACES))


def random_points(surface: Surface, count: int, seed: int = 0) -> np.ndarray:
    (x_low, x_high), (y_low, y_high) = surface.window
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(x_low, x_high, count), rng.uniform(y_low, y_high, count)])


def central_differences(function, points: np.ndarray, step: float) -> np.ndarray:
    """d function / d (x, y) in a new last axis; of the gradient this is the Hessian."""
    columns = []
    for axis in range(2):
        offset = np.zeros(2)
        offset[axis] = step
        columns.append((function(points + offset) - function(points - offset)) / (2 * step))
    return np.stack(columns, axis=-1)


def hessian(surface: Surface, point) -> np.ndarray:
    # From the analytic gradient, so that an error in it cannot hide behind the value's.
    return central_differences(surface.grad, np.asarray(point, dtype=float), step=1e-5)


def ring(center, radius: float, count: int = 24) -> np.ndarray:
    angles = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
    return np.asarray(center) + radius * np.column_stack([np.cos(angles), np.sin(angles)])


def stationary_points(surface: Surface) -> list:
    return list(surface.minima) + list(surface.saddles)


def test_surfaces_come_in_the_lesson_order_under_their_own_names():
    assert list(SURFACES) == SURFACE_NAMES
    for name, surface in SURFACES.items():
        assert surface.name == name
        assert surface.title and surface.description.endswith(".")


@surfaces()
def test_analytic_gradient_matches_central_differences(surface):
    points = np.vstack([random_points(surface, 500), stationary_points(surface), [surface.start]])
    analytic = surface.grad(points)
    numeric = central_differences(surface.value, points, step=1e-6)
    # Rounding in the difference quotient grows with |f|, which reaches 1e5 on Beale's window.
    tolerance = 1e-6 * np.linalg.norm(analytic, axis=-1) + 1e-9 * (1.0 + np.abs(surface.value(points)))
    error = np.linalg.norm(numeric - analytic, axis=-1)
    worst = np.argmax(error / tolerance)
    assert np.all(error <= tolerance), (
        f"{surface.name}: gradient at {points[worst]} is {analytic[worst]}, "
        f"central differences give {numeric[worst]}"
    )


@surfaces()
def test_value_and_grad_evaluate_a_whole_grid_at_once(surface):
    (x_low, x_high), (y_low, y_high) = surface.window
    xs, ys = np.linspace(x_low, x_high, 5), np.linspace(y_low, y_high, 7)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    heights, slopes = surface.value(grid), surface.grad(grid)
    assert heights.shape == (7, 5)
    assert slopes.shape == (7, 5, 2)
    for row in range(7):
        for column in range(5):
            point = grid[row, column]
            assert surface.value(point) == pytest.approx(heights[row, column], rel=1e-14, abs=1e-14)
            np.testing.assert_allclose(surface.grad(point), slopes[row, column], rtol=1e-14, atol=1e-14)


@surfaces()
def test_one_point_as_a_tuple_gives_a_scalar_and_a_pair(surface):
    assert np.shape(surface.value(surface.start)) == ()
    assert np.shape(surface.grad(surface.start)) == (2,)
    assert np.isfinite(surface.value(surface.start))


@surfaces()
@pytest.mark.parametrize("bad_shape", [(3,), (4, 3), ()])
def test_points_without_a_last_axis_of_two_are_refused(surface, bad_shape):
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        surface.value(np.zeros(bad_shape))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        surface.grad(np.zeros(bad_shape))


@surfaces()
def test_gradient_vanishes_at_every_minimum_and_saddle(surface):
    for point in stationary_points(surface):
        assert np.linalg.norm(surface.grad(point)) < 1e-12 * max(1.0, abs(surface.value(point))) + 1e-13, point


@surfaces()
def test_listed_minima_are_accurate_to_1e_8(surface):
    """A few Newton steps from a listed point must not move it: it is where the gradient is zero."""
    for listed in stationary_points(surface):
        point = np.array(listed)
        for _ in range(5):
            point = point - np.linalg.solve(hessian(surface, point), surface.grad(point))
        assert np.max(np.abs(point - listed)) < 1e-8, (listed, point)


@surfaces()
@pytest.mark.parametrize("radius", [1e-3, 1e-1])
def test_minima_are_lower_than_a_ring_around_them(surface, radius):
    for minimum in surface.minima:
        assert np.all(surface.value(ring(minimum, radius)) > surface.value(minimum)), minimum


def test_the_saddle_point_has_higher_and_lower_neighbours():
    surface = SURFACES["saddle"]
    for saddle in surface.saddles:
        neighbours = surface.value(ring(saddle, 1e-2)) - surface.value(saddle)
        assert neighbours.max() > 0 > neighbours.min()


@surfaces()
def test_first_minimum_is_the_lowest_point_of_the_window(surface):
    (x_low, x_high), (y_low, y_high) = surface.window
    grid = np.stack(np.meshgrid(np.linspace(x_low, x_high, 301), np.linspace(y_low, y_high, 301)), axis=-1)
    lowest = surface.value(surface.minima[0])
    assert lowest <= surface.value(grid).min()
    assert all(lowest <= surface.value(m) + 1e-12 for m in surface.minima)


@surfaces()
def test_every_minimum_in_the_window_is_listed(surface):
    """Descend from every grid point lower than its 8 neighbours: each descent that stays in the
    window must end at a listed minimum, and every listed minimum must be reached."""
    (x_low, x_high), (y_low, y_high) = surface.window
    size = 201
    xs, ys = np.linspace(x_low, x_high, size), np.linspace(y_low, y_high, size)
    heights = surface.value(np.stack(np.meshgrid(xs, ys), axis=-1))
    inner = heights[1:-1, 1:-1]
    is_local_minimum = np.ones_like(inner, dtype=bool)
    for d_row in (-1, 0, 1):
        for d_column in (-1, 0, 1):
            if d_row or d_column:
                neighbour = heights[1 + d_row:size - 1 + d_row, 1 + d_column:size - 1 + d_column]
                is_local_minimum &= inner < neighbour
    rows, columns = np.nonzero(is_local_minimum)
    listed = np.array(surface.minima)
    reached = set()
    for start in np.column_stack([xs[columns + 1], ys[rows + 1]]):
        # Narrow valleys (Rosenbrock's, Beale's) fool the grid, so polish each candidate; a descent
        # still inside the window after 60 iterations has found no minimum and fails below.
        options = {"gtol": 1e-10, "maxiter": 60}
        end = minimize(surface.value, start, jac=surface.grad, method="BFGS", options=options).x
        if x_low < end[0] < x_high and y_low < end[1] < y_high:
            distances = np.max(np.abs(listed - end), axis=1)
            assert distances.min() < 1e-5, f"descent from {start} ends at {end}, which is not listed"
            reached.add(int(np.argmin(distances)))
    assert reached == set(range(len(listed)))


@surfaces()
def test_start_and_minima_lie_inside_the_window(surface):
    (x_low, x_high), (y_low, y_high) = surface.window
    assert x_low < x_high and y_low < y_high
    for x, y in [surface.start, *stationary_points(surface)]:
        assert x_low < x < x_high and y_low < y < y_high


def test_bumpy_has_one_global_and_five_local_minima():
    surface = SURFACES["bumpy"]
    depths = sorted(float(surface.value(m)) for m in surface.minima)
    assert len(depths) == 6
    assert depths[1] - depths[0] > 0.1


def test_ravine_is_ill_conditioned_enough_to_motivate_momentum():
    surface = SURFACES["ravine"]
    curvatures = np.linalg.eigvalsh(hessian(surface, (0.0, 0.0)))
    assert 25 <= curvatures.max() / curvatures.min() <= 50


def test_himmelblau_has_four_minima_at_height_zero():
    surface = SURFACES["himmelblau"]
    assert len(surface.minima) == 4
    assert np.allclose(surface.value(np.array(surface.minima)), 0.0, atol=1e-20)


def test_get_surface_returns_the_registered_surface():
    for name, surface in SURFACES.items():
        assert get_surface(name) is surface


@pytest.mark.parametrize("bad_name", ["Rosenbrock", "mountain", "", None, 3])
def test_get_surface_lists_the_valid_names_for_an_unknown_one(bad_name):
    with pytest.raises(ValueError, match="unknown surface") as error:
        get_surface(bad_name)
    for name in SURFACE_NAMES:
        assert name in str(error.value)


def test_surfaces_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SURFACES["bowl"].start = (0.0, 0.0)
