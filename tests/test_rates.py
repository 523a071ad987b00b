"""course_lib.rates: the predicted rate of momentum methods against the rate real runs achieve."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import rates, training
from course_lib.functions import get_surface
from course_lib.optimizers import SGD, ClassicMomentum, SutskeverNesterov

RAVINE = get_surface("ravine")
CURVATURES = (1 / 8, 4.0)  # x**2 / 16 + 2 y**2


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


def test_polyaks_setting_is_the_best_point_of_the_heavy_ball_map():
    lr, momentum, best = rates.polyak_optimum(32, smallest=1 / 8)
    assert best == pytest.approx((np.sqrt(32) - 1) / (np.sqrt(32) + 1))
    assert rates.rate("heavy_ball", lr, momentum, CURVATURES) == pytest.approx(best, rel=1e-6)
    grid = rates.rate_map("heavy_ball", CURVATURES, np.linspace(0.01, 1.0, 200), np.linspace(0, 0.99, 200))
    assert grid.min() >= best - 1e-6
    assert _measured(SGD(lr=lr, momentum=momentum), steps=300) == pytest.approx(best, abs=5e-3)


def test_divergence_shows_as_a_rate_above_one():
    assert rates.rate("heavy_ball", 0.6, 0.1, CURVATURES) > 1  # lr h beyond 2 (1 + mu)
    run = training.minimize(RAVINE, SGD(lr=0.6, momentum=0.1), RAVINE.start, steps=200)
    assert run.diverged_at is not None


def test_plain_gradient_descent_is_the_zero_momentum_row():
    assert rates.rate("heavy_ball", 0.4, 0.0, CURVATURES) == pytest.approx(max(abs(1 - 0.4 * h) for h in CURVATURES))


@pytest.mark.parametrize("call, words", [
    (lambda: rates.rate("adam", 0.1, 0.9, CURVATURES), "method must be one of"),
    (lambda: rates.rate("nesterov", 0.1, 0.9, [0.0, 1.0]), "curvatures must be positive"),
    (lambda: rates.polyak_optimum(0.5), "condition_number must be a finite number >= 1"),
])
def test_bad_input_names_what_is_wrong(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_the_map_marks_the_best_point_polyak_and_the_learners_choice():
    import matplotlib

    matplotlib.use("agg")
    from course_lib import plots

    ax = plots.plot_rate_map("heavy_ball", CURVATURES, learner=(0.1, 0.8))
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[0].startswith("best on the grid: rate 0.70")
    assert labels[1] == "Polyak's setting: rate 0.700"
    assert labels[2] == f"yours: rate {float(rates.rate('heavy_ball', 0.1, 0.8, CURVATURES)):.3f}"
    nesterov = plots.plot_rate_map("nesterov", CURVATURES)
    assert not any("Polyak" in t.get_text() for t in nesterov.get_legend().get_texts())
