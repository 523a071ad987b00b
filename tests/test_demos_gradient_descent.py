"""course_lib.demos.gradient_descent: lesson 00's line fit as a loss surface, and the learner's descent
against course_lib's."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import data
from course_lib.demos import gradient_descent
from course_lib.models import LinearRegression


@pytest.fixture(scope="module")
def line_data():
    """The lesson's 30 training points."""
    return data.make_linear(n_samples=40, n_features=1, noise=0.5, seed=6)


def _least_squares(line_data):
    return np.polyfit(line_data.X_train[:, 0], line_data.y_train, deg=1)


def _descent(line_data, lr, steps, gradient):
    initial = LinearRegression(n_features=1).init_params(seed=0)
    points = [np.concatenate([initial["w"], initial["b"]])]
    for _ in range(steps):
        points.append(points[-1] - lr * gradient(points[-1]))
    return np.array(points)


def _central_difference(loss, theta, step=1e-5):
    return np.array([(loss(theta + step * e) - loss(theta - step * e)) / (2 * step) for e in np.eye(len(theta))])


def test_line_loss_is_the_mean_squared_error_on_a_grid(line_data):
    x, y = line_data.X_train[:, 0], line_data.y_train
    ws, bs = np.meshgrid([-1.0, 0.5, 2.0], [0.0, 1.0])
    expected = [[np.mean((w * x + b - y) ** 2) for w, b in zip(w_row, b_row)] for w_row, b_row in zip(ws, bs)]
    assert np.allclose(gradient_descent.line_loss(line_data, ws, bs), expected, rtol=1e-12)


def test_the_least_squares_line_is_the_lowest_of_the_three(line_data):
    best = _least_squares(line_data)
    losses = gradient_descent.lines_on_the_loss_surface(line_data, [(-0.5, 3.5), (2.5, 0.0), tuple(best)])
    # The legend's numbers, as the lesson shows them.
    assert np.allclose(losses, [3.54, 3.31, 0.17], atol=0.005)
    data_ax, loss_ax = plt.gcf().axes
    assert len(data_ax.get_lines()) == 3 and len(loss_ax.get_lines()) == 3
    assert loss_ax.get_aspect() == 1.0
    assert [text.get_text() for text in loss_ax.get_legend().get_texts()][-1].endswith("L = 0.17")
    # Every line lies inside the map.
    (w_low, w_high), (b_low, b_high) = loss_ax.get_xlim(), loss_ax.get_ylim()
    assert w_low < -0.5 and w_high > 2.5 and b_low < 0.0 and b_high > 3.5


def test_lines_on_the_loss_surface_rejects_bad_input(line_data):
    with pytest.raises(ValueError, match="lines"):
        gradient_descent.lines_on_the_loss_surface(line_data, [(1.0, 2.0, 3.0)])
    with pytest.raises(ValueError, match="lines"):
        gradient_descent.lines_on_the_loss_surface(line_data, [])
    with pytest.raises(ValueError, match="one feature"):
        gradient_descent.lines_on_the_loss_surface(data.make_linear(n_features=2), [(1.0, 2.0)])


def test_a_numerical_gradient_descent_matches_fit_to_rounding(line_data):
    def loss(theta):
        return float(gradient_descent.line_loss(line_data, theta[0], theta[1]))

    path = _descent(line_data, 0.1, 60, lambda theta: _central_difference(loss, theta))
    same = gradient_descent.compare_with_fit(path, line_data, lr=0.1)
    # The lesson: "the two runs agree to about 1e-10 or better".
    assert same.losses.shape == same.reference_losses.shape == (61,)
    assert same.largest_difference < 1e-10
    assert np.allclose(same.reference_line, path[-1], rtol=1e-8)
    assert np.allclose(same.reference_line, _least_squares(line_data), atol=1e-3)
    loss_ax, fit_ax = plt.gcf().axes
    assert loss_ax.get_yscale() == "log" and len(loss_ax.get_lines()) == 2
    assert [line.get_label() for line in fit_ax.get_lines()] == ["after 0 steps", "after 5 steps", "after 60 steps"]


def test_a_wrong_descent_is_told_apart(line_data):
    x, y = line_data.X_train[:, 0], line_data.y_train

    def half_gradient(theta):  # the textbook 1/(2N) convention: half the lesson's gradient
        residual = theta[0] * x + theta[1] - y
        return np.array([np.mean(residual * x), np.mean(residual)])

    path = _descent(line_data, 0.1, 20, half_gradient)
    assert gradient_descent.compare_with_fit(path, line_data, lr=0.1).largest_difference > 1e-2


@pytest.mark.parametrize("kwargs, message", [
    ({"path": np.zeros((1, 2))}, "path"), ({"path": np.zeros((5, 3))}, "path"),
    ({"path": np.full((5, 2), np.nan)}, "path"), ({"lr": 0.0}, "lr"), ({"lr": "0.1"}, "lr"),
    ({"shown_steps": (0, 9)}, "shown_steps"),
])
def test_compare_with_fit_rejects_bad_input(line_data, kwargs, message):
    arguments = {"path": np.zeros((5, 2)), "data": line_data, "lr": 0.1} | kwargs
    with pytest.raises(ValueError, match=message):
        gradient_descent.compare_with_fit(**arguments)
