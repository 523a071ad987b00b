"""course_lib.demos.batch_gd: lesson 01's batch gradient descent on the diabetes data."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import data
from course_lib.demos import batch_gd
from course_lib.models import LinearRegression


@pytest.fixture(scope="module")
def diabetes():
    return data.load_diabetes()


@pytest.fixture(scope="module")
def model(diabetes):
    return LinearRegression(n_features=diabetes.n_features)


@pytest.fixture(scope="module")
def start(model):
    return model.init_params(seed=0)


def test_the_quadratic_gives_the_lessons_limit_and_condition_number(diabetes):
    quadratic = batch_gd.mse_quadratic(diabetes)
    assert quadratic.limit == pytest.approx(0.2406, abs=5e-5)
    assert quadratic.condition_number == pytest.approx(500, rel=0.02)
    assert quadratic.lowest_loss == pytest.approx(0.4483, abs=5e-5)
    # The bias alone: the features are centred, so the column of ones is an eigenvector with curvature 2.
    assert np.min(np.abs(quadratic.curvatures - 2.0)) < 1e-10
    assert np.all(np.diff(quadratic.curvatures) >= 0)


def test_example_gradients_average_to_the_batch_gradient(diabetes, model, start):
    gradients = batch_gd.plot_example_gradients(model, start, diabetes, features=("bmi", "s5"))
    _, full = model.loss_and_grad(start, diabetes.X_train, diabetes.y_train)
    assert gradients.per_example.shape == (332, 11)
    assert np.allclose(gradients.mean, np.concatenate([full["w"], full["b"]]), rtol=1e-12, atol=1e-14)
    # The lesson: 92 of the 332 point more than 90 degrees away from their mean.
    assert gradients.against_the_mean == 92
    (ax,) = plt.gcf().axes
    assert ax.get_xlabel() == "∂ℓ_i/∂w_bmi" and ax.get_ylabel() == "∂ℓ_i/∂w_s5"
    assert len(ax.collections) == 2


@pytest.mark.parametrize("features", [("bmi",), ("bmi", "height"), ("bmi", "s5", "s1")])
def test_example_gradients_need_two_known_features(diabetes, model, start, features):
    with pytest.raises(ValueError, match="features"):
        batch_gd.plot_example_gradients(model, start, diabetes, features=features)


def test_the_cliff_is_where_the_eigenvalues_say(diabetes, start):
    fractions = [0.1, 0.3, 0.6, 0.9, 0.99, 1.01, 1.05, 1.2]
    cliff = batch_gd.learning_rate_cliff(diabetes, fractions, epochs=300, shown=(0.3, 0.9, 0.99, 1.01), params=start)
    assert cliff.quadratic.limit == pytest.approx(0.2406, abs=5e-5)
    assert np.allclose(cliff.lrs, np.array(fractions) * cliff.quadratic.limit)
    # Up to 0.99 x the limit every run converges, the larger the rate the closer; from 1.01 x on, none.
    assert cliff.diverged.tolist() == [False] * 5 + [True] * 3
    assert np.all(np.diff(cliff.gaps[:5]) < 0) and np.all(cliff.gaps[:5] > 0)
    assert all(run.train_losses[0] == cliff.runs[0.1].train_losses[0] for run in cliff.runs.values())
    curve_ax, sweep_ax = plt.gcf().axes
    assert len(curve_ax.get_lines()) == 4 and curve_ax.get_yscale() == "log"
    assert sweep_ax.get_yscale() == "log"
    assert any(line.get_label().startswith("predicted limit 2/h_max = 0.2406") for line in sweep_ax.get_lines())


@pytest.mark.parametrize("kwargs, message", [
    ({"fractions": []}, "fractions"), ({"fractions": [0.5, -1.0]}, "fractions"), ({"epochs": 0}, "epochs"),
    ({"shown": (0.7,)}, "shown"),
])
def test_the_cliff_rejects_bad_settings(diabetes, kwargs, message):
    arguments = {"fractions": [0.5], "epochs": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        batch_gd.learning_rate_cliff(diabetes, **arguments)


def test_two_correlated_features_make_a_ravine(diabetes, model):
    pair = batch_gd.feature_pair_ravine(diabetes, ("s1", "s2"), fractions=(0.3, 0.95), steps=40)
    # The lesson's numbers: c = 0.89, curvatures 2(1 +- c) = 3.79 and 0.21, kappa = 18, limit 0.528.
    assert pair.correlation == pytest.approx(0.89, abs=0.005)
    assert pair.curvatures == pytest.approx([0.21, 3.79], abs=0.005)
    assert pair.condition_number == pytest.approx(18, abs=0.5)
    assert pair.limit == pytest.approx(0.528, abs=5e-4)
    # The surface is the model's training loss with every other weight and the bias at 0.
    s1, s2 = diabetes.feature_names.index("s1"), diabetes.feature_names.index("s2")
    weights = np.zeros(diabetes.n_features)
    weights[[s1, s2]] = (0.4, -0.7)
    expected = model.loss({"w": weights, "b": np.zeros(1)}, diabetes.X_train, diabetes.y_train)
    assert pair.surface.value(np.array([0.4, -0.7])) == pytest.approx(expected, rel=1e-12)
    point, step = np.array([0.4, -0.7]), 1e-6
    numerical = [(pair.surface.value(point + step * e) - pair.surface.value(point - step * e)) / (2 * step)
                 for e in np.eye(2)]
    assert np.allclose(pair.surface.grad(point), numerical, rtol=1e-6)
    # Both runs head for the minimum; at 0.95 x the limit the steep direction flips sign every step.
    minimum = np.array(pair.surface.minima[0])
    for run in pair.runs:
        assert np.linalg.norm(run.points[-1] - minimum) < 0.5 * np.linalg.norm(run.points[0] - minimum)
    steep = np.linalg.eigh(np.array([[1.0, pair.correlation], [pair.correlation, 1.0]]))[1][:, 1]
    across = (pair.runs[1].points - minimum) @ steep
    assert np.all(np.sign(across[1:11]) == -np.sign(across[:10]))
    (ax,) = plt.gcf().axes
    assert ax.get_xlabel() == "weight of s1" and "0.528" in ax.get_title(loc="left")
    (x_low, x_high), (y_low, y_high) = pair.surface.window
    assert x_low < -1.2 < x_high and y_low < 1.0 < y_high


@pytest.mark.parametrize("kwargs, message", [
    ({"features": ("s1", "weight")}, "features"), ({"fractions": (0.0,)}, "fractions"), ({"steps": 0}, "steps"),
    ({"start": (1.0, np.nan)}, "start"),
])
def test_the_ravine_rejects_bad_settings(diabetes, kwargs, message):
    arguments = {"fractions": (0.5,), "steps": 3} | kwargs
    with pytest.raises(ValueError, match=message):
        batch_gd.feature_pair_ravine(diabetes, **arguments)


def test_timing_one_full_batch_gradient(diabetes, model, start):
    times = batch_gd.time_full_batch_gradient(model, start, diabetes, copies=(1, 4), repeats=2)
    assert times.sizes.tolist() == [332, 1328]
    assert times.seconds.shape == (2,) and np.all(times.seconds > 0) and times.seconds_per_example > 0
    (ax,) = plt.gcf().axes
    assert ax.get_xscale() == ax.get_yscale() == "log" and len(ax.get_lines()) == 2


@pytest.mark.parametrize("kwargs, message", [({"copies": ()}, "copies"), ({"copies": (1, 0)}, "copies"),
                                             ({"repeats": 0}, "repeats")])
def test_timing_rejects_bad_settings(diabetes, model, start, kwargs, message):
    with pytest.raises(ValueError, match=message):
        batch_gd.time_full_batch_gradient(model, start, diabetes, **kwargs)


def _batch_gradient_descent(diabetes, start, lr, epochs):
    X, y = diabetes.X_train, diabetes.y_train
    w, b = start["w"].copy(), float(start["b"][0])
    losses = [np.mean((X @ w + b - y) ** 2)]
    for _ in range(epochs):
        residuals = X @ w + b - y
        w, b = w - lr * 2 / len(y) * X.T @ residuals, b - lr * 2 * np.mean(residuals)
        losses.append(np.mean((X @ w + b - y) ** 2))
    return w, b, np.array(losses)


def test_a_correct_loop_matches_fit(diabetes, model, start):
    lr = 0.9 * batch_gd.mse_quadratic(diabetes).limit
    w, b, losses = _batch_gradient_descent(diabetes, start, lr, 300)
    same = batch_gd.compare_with_fit(losses, w, b, diabetes, lr=lr, params=start)
    assert same.largest_difference < 1e-12
    assert same.validation_loss == pytest.approx(same.reference.val_losses[-1], rel=1e-10)
    # The lesson: the validation loss stays a little above the training loss.
    assert same.reference.train_losses[-1] < same.validation_loss < same.reference.train_losses[-1] + 0.1
    (ax,) = plt.gcf().axes
    assert ax.get_xscale() == "symlog"
    assert "lowest possible training loss" in [text.get_text() for text in ax.get_legend().get_texts()]


def test_a_wrong_loop_is_told_apart(diabetes, start):
    w, b, losses = _batch_gradient_descent(diabetes, start, 0.1, 20)
    assert batch_gd.compare_with_fit(losses, w, b, diabetes, lr=0.05, params=start).largest_difference > 1e-3


@pytest.mark.parametrize("kwargs, message", [
    ({"losses": [1.0]}, "losses"), ({"losses": np.ones((3, 2))}, "losses"), ({"lr": 0}, "lr"),
    ({"w": np.zeros(3)}, "w must"),
])
def test_compare_with_fit_rejects_bad_input(diabetes, start, kwargs, message):
    arguments = {"losses": np.ones(3), "w": np.zeros(10), "b": 0.0, "data": diabetes, "lr": 0.1, "params": start}
    with pytest.raises(ValueError, match=message):
        batch_gd.compare_with_fit(**(arguments | kwargs))
