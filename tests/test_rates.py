"""course_lib.rates: the rate the map predicts for heavy ball and Nesterov against the rate real runs
achieve, the best settings against the map, the stability limits against runs, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import rates, training
from course_lib.functions import get_surface
from course_lib.optimizers import SGD, ClassicMomentum, SutskeverNesterov

RAVINE = get_surface("ravine")
CURVATURES = (1 / 8, 4.0)  # x**2 / 16 + 2 y**2
KAPPA = 32


def _measured(optimizer, steps=400) -> float:
    run = training.minimize(RAVINE, optimizer, RAVINE.start, steps=steps)
    return rates.measured_rate(run.points - np.asarray(RAVINE.minima[0]))


@pytest.mark.parametrize("lr, momentum", [(0.05, 0.9), (0.2, 0.5), (0.3, 0.3), (0.1, 0.0), (0.01, 0.95)])
def test_heavy_ball_runs_decay_at_the_predicted_rate(lr, momentum):
    predicted = rates.rate("heavy_ball", lr, momentum, CURVATURES)
    assert _measured(SGD(lr=lr, momentum=momentum)) == pytest.approx(predicted, abs=5e-3)
    assert _measured(ClassicMomentum(lr=lr, momentum=momentum)) == pytest.approx(predicted, abs=5e-3)


@pytest.mark.parametrize("lr, momentum", [(0.05, 0.9), (0.2, 0.5), (0.3, 0.3), (0.01, 0.95)])
def test_nesterov_runs_decay_at_the_predicted_rate(lr, momentum):
    predicted = rates.rate("nesterov", lr, momentum, CURVATURES)
    assert _measured(SGD(lr=lr, momentum=momentum, nesterov=True)) == pytest.approx(predicted, abs=5e-3)
    assert _measured(SutskeverNesterov(lr=lr, momentum=momentum)) == pytest.approx(predicted, abs=5e-3)


def test_the_best_settings_have_the_closed_forms_of_polyak_and_lessard_recht_packard():
    root = np.sqrt(KAPPA)
    polyak = rates.best_setting("heavy_ball", CURVATURES)
    assert polyak == pytest.approx((4 / (2 + np.sqrt(1 / 8)) ** 2, ((root - 1) / (root + 1)) ** 2, (root - 1) / (root + 1)))
    assert polyak == pytest.approx((0.7221, 0.4894, 0.6996), abs=1e-4)  # the numbers lesson 04 quotes
    nesterov = rates.best_setting("nesterov", CURVATURES)
    root3 = np.sqrt(3 * KAPPA + 1)
    assert nesterov == pytest.approx((4 / (3 * 4 + 1 / 8), (root3 - 2) / (root3 + 2), 1 - 2 / root3))
    assert rates.best_setting("gradient_descent", CURVATURES) == pytest.approx((2 / 4.125, 0.0, 31 / 33))


@pytest.mark.parametrize("method", ["heavy_ball", "nesterov", "gradient_descent"])
@pytest.mark.parametrize("kappa", [2.0, 32.0, 1000.0])
def test_each_best_setting_achieves_its_rate_and_no_point_of_the_map_does_better(method, kappa):
    curvatures = (1.0, kappa)
    best = rates.best_setting(method, curvatures)
    map_method = "heavy_ball" if method == "gradient_descent" else method
    # At the best point the polynomial has a double root, where rounding of 1e-16 moves the roots by about 1e-8.
    assert rates.rate(map_method, best.lr, best.momentum, curvatures) == pytest.approx(best.rate, rel=1e-7)
    momenta = [0.0] if method == "gradient_descent" else np.linspace(0, 0.999, 400)
    grid = rates.rate_map(map_method, curvatures, np.linspace(1e-4, 4.2 / kappa, 400), momenta)
    assert grid.min() >= best.rate - 1e-7
    assert grid.min() <= best.rate + 0.02  # and the grid comes close to it


def test_polyaks_setting_is_what_a_run_achieves():
    best = rates.best_setting("heavy_ball", CURVATURES)
    # Polyak's point has a double root, so the error falls like t r^t: a small excess over r remains.
    assert _measured(SGD(lr=best.lr, momentum=best.momentum), steps=300) == pytest.approx(best.rate, abs=5e-3)


def test_the_rate_of_a_whole_spectrum_is_the_rate_of_its_two_ends():
    rng = np.random.default_rng(0)
    lrs, momenta = rng.uniform(0, 1.05, 3000), rng.uniform(0, 0.999, 3000)
    spectrum = np.linspace(1 / 8, 4, 300)
    for method in rates.METHODS:
        np.testing.assert_allclose(rates.rate(method, lrs, momenta, spectrum),
                                   rates.rate(method, lrs, momenta, CURVATURES), rtol=1e-12)


def test_nesterov_in_one_direction_is_heavy_ball_with_the_momentum_reduced_by_the_curvature():
    rng = np.random.default_rng(1)
    lr, momentum, h = rng.uniform(0, 1, 500), rng.uniform(0, 0.999, 500), rng.uniform(0.1, 4, 500)
    np.testing.assert_allclose(rates.spectral_radius("nesterov", lr, momentum, h),
                               rates.spectral_radius("heavy_ball", lr, momentum * (1 - lr * h), h), rtol=1e-9)


@pytest.mark.parametrize("method", rates.METHODS)
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9, 0.99])
def test_the_stability_limit_is_where_the_rate_crosses_one_and_runs_blow_up(method, momentum):
    limit = rates.stability_limit(method, momentum, 4.0)
    assert rates.rate(method, 0.999 * limit, momentum, CURVATURES) < 1 < rates.rate(method, 1.001 * limit, momentum,
                                                                                     CURVATURES)
    optimizer = SGD(lr=1.05 * limit, momentum=momentum, nesterov=method == "nesterov" and momentum > 0)
    assert training.minimize(RAVINE, optimizer, RAVINE.start, steps=3000).diverged_at is not None
    np.testing.assert_allclose(rates.stability_limit(method, [momentum, 0.0], 4.0),
                               [limit, rates.stability_limit(method, 0.0, 4.0)])


def test_the_limits_are_the_lessons_formulas():
    assert rates.stability_limit("heavy_ball", 0.9, 4.0) == pytest.approx(2 * 1.9 / 4)
    assert rates.stability_limit("nesterov", 0.95, 4.0) == pytest.approx(2 * 1.95 / 2.9 / 4)  # lr 0.34 in lesson 05


def test_divergence_shows_as_a_rate_above_one():
    assert rates.rate("heavy_ball", 0.6, 0.1, CURVATURES) > 1  # lr h beyond 2 (1 + mu)
    run = training.minimize(RAVINE, SGD(lr=0.6, momentum=0.1), RAVINE.start, steps=200)
    assert run.diverged_at is not None


def test_plain_gradient_descent_is_the_zero_momentum_row():
    assert rates.rate("heavy_ball", 0.4, 0.0, CURVATURES) == pytest.approx(max(abs(1 - 0.4 * h) for h in CURVATURES))
    assert rates.rate("nesterov", 0.4, 0.0, CURVATURES) == pytest.approx(rates.rate("heavy_ball", 0.4, 0.0, CURVATURES))


def test_the_map_is_the_rate_on_a_grid_with_one_row_per_momentum():
    lrs, momenta = np.array([0.1, 0.2, 0.3]), np.array([0.0, 0.5])
    grid = rates.rate_map("nesterov", CURVATURES, lrs, momenta)
    assert grid.shape == (2, 3)
    assert grid[1, 2] == pytest.approx(rates.rate("nesterov", 0.3, 0.5, CURVATURES))


def test_curvatures_are_the_hessians_eigenvalues_at_the_minimum():
    np.testing.assert_allclose(rates.curvatures("ravine"), CURVATURES, rtol=1e-9)
    expected = np.linalg.eigvalsh(np.array([[802.0, -400.0], [-400.0, 200.0]]))  # Rosenbrock at (1, 1)
    np.testing.assert_allclose(rates.curvatures(get_surface("rosenbrock")), expected, rtol=1e-6)


def test_steps_per_tenfold():
    np.testing.assert_allclose(rates.steps_per_tenfold([0.1, 0.5, 0.9]), [1.0, np.log(10) / np.log(2),
                                                                          np.log(10) / -np.log(0.9)])
    assert rates.steps_per_tenfold(1.0) == np.inf and rates.steps_per_tenfold(0.0) < 0.01


def test_measured_rate_fits_after_the_transient_and_stops_at_round_off():
    steps = np.arange(200)
    assert rates.measured_rate(0.8**steps) == pytest.approx(0.8, rel=1e-12)
    # A fast mode dies out first; the fit over the second half sees the slow one alone.
    assert rates.measured_rate(0.5**steps + 1e-3 * 0.9**steps) == pytest.approx(0.9, rel=1e-6)
    # Once the error sits at round-off it stops falling; those steps must not count.
    floored = np.maximum(0.5**steps, 1e-15 * np.random.default_rng(0).uniform(1, 2, 200))
    assert rates.measured_rate(floored, floor=4e-15) == pytest.approx(0.5, rel=1e-6)
    assert rates.measured_rate(np.column_stack([0.7**steps, 0.0 * steps])) == pytest.approx(0.7)


def test_check_rate_sets_the_map_beside_a_real_run():
    check = rates.check_rate("heavy_ball", 0.4, 0.6, "ravine")
    assert check.predicted == pytest.approx(rates.rate("heavy_ball", 0.4, 0.6, CURVATURES))
    assert check.measured == pytest.approx(check.predicted, abs=1e-3)
    run = training.minimize(RAVINE, SGD(lr=0.4, momentum=0.6), RAVINE.start, steps=500)
    np.testing.assert_allclose(check.errors, np.linalg.norm(run.points, axis=1))
    first, end = check.fitted
    assert check.measured == pytest.approx(np.exp(np.polyfit(np.arange(first, end), np.log(check.errors[first:end]),
                                                             1)[0]))
    text = str(check)
    assert "heavy ball" in text and f"{check.predicted:.4f}" in text and f"{check.measured:.4f}" in text


def test_check_rate_measures_a_diverging_run_too_and_runs_gradient_descent_without_momentum():
    diverging = rates.check_rate("nesterov", 0.4, 0.6)  # past Nesterov's limit 0.364 at mu = 0.6
    assert diverging.diverged_at is not None and diverging.measured == pytest.approx(diverging.predicted, rel=1e-3)
    assert "diverged at step" in str(diverging)
    too_soon = rates.check_rate("heavy_ball", 50.0, 0.5)
    assert too_soon.fitted is None and np.isnan(too_soon.measured) and "too soon to measure" in str(too_soon)
    plain = rates.check_rate("nesterov", 0.48, 0.0)
    assert plain.measured == pytest.approx(0.94, abs=1e-4) == plain.predicted


@pytest.mark.parametrize("call, words", [
    (lambda: rates.rate("adam", 0.1, 0.9, CURVATURES), "method must be one of"),
    (lambda: rates.rate("nesterov", 0.1, 0.9, [0.0, 1.0]), "curvatures must be positive"),
    (lambda: rates.best_setting("adam", CURVATURES), "method must be one of"),
    (lambda: rates.stability_limit("heavy_ball", 1.0, 4.0), r"momentum must be in \[0, 1\)"),
    (lambda: rates.measured_rate([1.0, 0.5, 0.25, 0.125, 1e-20, 1e-30], floor=1e-16), "too few steps"),
    (lambda: rates.measured_rate([1.0, np.nan, 0.5]), "finite"),
    (lambda: rates.check_rate("heavy_ball", -0.1, 0.5), "lr must be a positive number"),
    (lambda: rates.check_rate("heavy_ball", 0.1, 1.2), r"momentum must be a number in \[0, 1\)"),
])
def test_bad_input_names_what_is_wrong(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_near_a_minimum_away_from_the_origin_the_local_rate_holds_and_round_off_ends_the_fit():
    check = rates.check_rate("heavy_ball", 1.5e-3, 0.95, "rosenbrock", steps=4000)
    assert check.measured == pytest.approx(check.predicted, abs=1e-4)
    # The minimum (1, 1) is held to about 1e-16: the fit stops where the distance gets that small.
    first, end = check.fitted
    assert end < 4000 and check.errors[end] <= 64 * np.finfo(float).eps < check.errors[end - 1]
