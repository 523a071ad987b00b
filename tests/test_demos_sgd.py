"""course_lib.demos.sgd: lesson 02's SGD against batch gradient descent, its noise ball and the decaying
step that closes in."""

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import data
from course_lib.demos import sgd
from course_lib.models import LinearRegression
from course_lib.optimizers import SGD
from course_lib.training import fit, inverse_time_decay


@pytest.fixture(scope="module")
def diabetes():
    return data.load_diabetes()


@pytest.fixture(scope="module")
def model(diabetes):
    return LinearRegression(diabetes.n_features)


@pytest.fixture(scope="module")
def start(model):
    return model.init_params(seed=0)


@pytest.fixture(scope="module")
def line_data():
    """The lesson's 60 noisy points."""
    return data.make_linear(n_samples=80, n_features=1, noise=0.8, seed=1)


@pytest.fixture(scope="module")
def race(diabetes, model, start):
    race = sgd.same_work_per_epoch(model, diabetes, params=start, batch_lr=0.2, sgd_lr=0.01, epochs=20)
    plt.close("all")
    return race


def test_sgd_leads_after_one_epoch_and_jitters_above_the_best_fit(race, diabetes):
    assert race.lowest_loss == pytest.approx(0.448, abs=5e-4)
    assert race.batch_gd.updates_per_epoch == 1 and race.sgd.updates_per_epoch == diabetes.n_train == 332
    # After one epoch SGD is far ahead; after 20, batch GD has settled on least squares and SGD has not.
    assert race.sgd.train_losses[1] < race.batch_gd.train_losses[1] - 0.1
    assert race.batch_gd.train_losses[-1] - race.lowest_loss < 1e-3
    assert np.all(race.sgd.train_losses[5:] - race.lowest_loss > 5e-3)
    assert race.batch_gd.label == "batch GD, lr 0.2: 1 update per epoch"
    assert race.sgd.label == "SGD, lr 0.01: 332 updates per epoch"


def test_the_race_draws_both_runs_and_the_least_squares_line(diabetes, model, start):
    sgd.same_work_per_epoch(model, diabetes, params=start, batch_lr=0.2, sgd_lr=0.01, epochs=2)
    (ax,) = plt.gcf().axes
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[:2] == ["batch GD, lr 0.2: 1 update per epoch", "SGD, lr 0.01: 332 updates per epoch"]
    assert labels[-1] == "least squares: 0.448"


@pytest.mark.parametrize("kwargs, message", [({"batch_lr": 0}, "batch_lr"), ({"sgd_lr": -0.1}, "sgd_lr"),
                                             ({"epochs": 0}, "epochs")])
def test_the_race_rejects_bad_settings(diabetes, model, start, kwargs, message):
    arguments = {"params": start, "batch_lr": 0.2, "sgd_lr": 0.01, "epochs": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        sgd.same_work_per_epoch(model, diabetes, **arguments)


def test_a_decaying_step_closes_in_where_a_constant_one_cannot(race, diabetes, model, start):
    decaying = fit(model, SGD(lr=0.02), diabetes, batch_size=1, epochs=20, params=start, progress=False,
                   schedule=inverse_time_decay(0.02, decay=1 / 332))
    decaying = dataclasses.replace(decaying, label="decaying")
    gaps = sgd.gaps_to_least_squares([race.batch_gd, race.sgd, decaying], race.lowest_loss)
    # The lesson: constant SGD stays a few hundredths above; the decaying one ends about as close as batch GD.
    assert 0.01 < gaps[race.sgd.label] < 0.1
    assert gaps["decaying"] < 3 * gaps[race.batch_gd.label] < 3e-3
    (ax,) = plt.gcf().axes
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 3


def test_gaps_need_histories(race):
    with pytest.raises(ValueError, match="runs"):
        sgd.gaps_to_least_squares([], race.lowest_loss)
    with pytest.raises(ValueError, match="runs"):
        sgd.gaps_to_least_squares([race.sgd.train_losses], race.lowest_loss)


def test_the_line_fit_surface_gives_exact_or_one_example_gradients(line_data):
    x, y = line_data.X_train[:, 0], line_data.y_train
    exact = sgd.line_fit_surface(line_data)
    point = np.array([0.7, -0.2])
    residual = point[0] * x + point[1] - y
    assert exact.value(point) == pytest.approx(np.mean(residual ** 2))
    assert np.allclose(exact.grad(point), [2 * np.mean(residual * x), 2 * np.mean(residual)])
    assert np.allclose(exact.minima[0], np.polyfit(x, y, deg=1))
    # With a seed: one example per call, each example once per epoch, in the order of rng.permutation.
    noisy = sgd.line_fit_surface(line_data, seed=3)
    rng = np.random.default_rng(3)
    order = np.concatenate([rng.permutation(60) for _ in range(2)])
    for i in order:
        assert np.allclose(noisy.grad(point), [2 * residual[i] * x[i], 2 * residual[i]])
    (w_low, w_high), (b_low, b_high) = exact.window
    assert w_low < -1.5 < w_high and b_low < -1.0 < b_high


def test_the_line_fit_surface_rejects_bad_input(line_data):
    with pytest.raises(ValueError, match="one feature"):
        sgd.line_fit_surface(data.make_linear(n_features=2))
    with pytest.raises(ValueError, match="start"):
        sgd.line_fit_surface(line_data, start=(0.0, np.inf))


def test_sgd_zig_zags_to_the_bottom_in_one_epoch(line_data):
    paths = sgd.line_fit_paths(line_data, lr=0.1, updates=60, seed=0)
    # The lesson: batch GD has reached the minimum after 60 updates; SGD is near it, and near the bottom
    # its full loss goes up about as often as down.
    assert paths.exact.losses[-1] - paths.lowest_loss < 1e-5
    assert paths.stochastic.losses[-1] - paths.lowest_loss < 0.15 * (paths.stochastic.losses[0] - paths.lowest_loss)
    assert 10 <= paths.stochastic_rises <= 20
    assert paths.stochastic.label == "SGD: 60 updates = 1 epoch"
    map_ax, loss_ax = plt.gcf().axes
    assert map_ax.get_xlabel() == "w (slope)" and len(loss_ax.get_lines()) == 3


@pytest.mark.parametrize("kwargs, message", [({"lr": 0.0}, "lr"), ({"updates": 0}, "updates")])
def test_line_fit_paths_rejects_bad_settings(line_data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sgd.line_fit_paths(line_data, **({"lr": 0.1, "updates": 5, "seed": 0} | kwargs))


def test_a_constant_step_stays_in_its_noise_ball_and_a_decaying_one_closes_in(line_data):
    ball = sgd.noise_ball(line_data, lr=0.1, decay=1 / 60, epochs=30, seed=1)
    constant, decaying = "constant lr 0.1", "lr 0.1 / (1 + (t-1)/60)"
    assert list(ball.runs) == [constant, decaying]
    # Both see the same examples: the first update is the same.
    assert np.allclose(ball.runs[constant].points[1], ball.runs[decaying].points[1])
    assert ball.rms_distance[constant].shape == (30,)
    assert ball.rms_distance[decaying][0] == pytest.approx(ball.rms_distance[constant][0], rel=0.2)
    # The lesson's numbers: 0.35 and 0.025 over the last epoch; slopes about 0 and about -1.
    assert ball.rms_distance[constant][-1] == pytest.approx(0.348, abs=0.005)
    assert ball.rms_distance[decaying][-1] == pytest.approx(0.025, abs=0.005)
    assert abs(ball.slope(constant)) < 0.2
    assert -1.2 < ball.slope(decaying) < -0.7
    # The Robbins-Monro sums: the decaying run's sum of squares levels off, its plain sum keeps growing.
    rates = ball.runs[decaying].lrs
    assert np.sum(rates[-600:] ** 2) < 0.02 * np.sum(rates ** 2) and np.sum(rates[-600:]) > 0.05 * np.sum(rates)
    lr_ax, sums_ax, distance_ax = plt.gcf().axes
    assert len(sums_ax.get_lines()) == 4 and distance_ax.get_yscale() == "log"


@pytest.mark.parametrize("kwargs, message", [({"lr": -1.0}, "lr"), ({"decay": 0.0}, "decay"), ({"epochs": 0}, "epochs")])
def test_noise_ball_rejects_bad_settings(line_data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sgd.noise_ball(line_data, **({"lr": 0.1, "decay": 0.1, "epochs": 1, "seed": 0} | kwargs))


def _learner_sgd(params, X, y, grad_fn, lr, epochs, seed):
    rng, losses = np.random.default_rng(seed), []
    for _ in range(epochs):
        for i in rng.permutation(len(X)):
            loss, grads = grad_fn(params, X[i:i + 1], y[i:i + 1])
            params = {name: params[name] - lr * grads[name] for name in params}
            losses.append(loss)
    return params, losses


def test_a_correct_sgd_matches_fit_update_for_update(diabetes, model, start):
    params, losses = _learner_sgd(start, diabetes.X_train, diabetes.y_train, model.loss_and_grad, 0.01, 2, 0)
    same = sgd.compare_with_fit(params, losses, model, diabetes, lr=0.01, seed=0, start=start)
    assert same.loss_difference <= 1e-12 and same.params_difference <= 1e-12
    assert same.reference.epochs == 2 and same.reference.batch_size == 1
    (ax,) = plt.gcf().axes
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 3


def test_a_wrong_sgd_is_told_apart(diabetes, model, start):
    # A new generator from the same seed every epoch: the same order twice.
    first, first_losses = _learner_sgd(start, diabetes.X_train, diabetes.y_train, model.loss_and_grad, 0.01, 1, 0)
    params, more = _learner_sgd(first, diabetes.X_train, diabetes.y_train, model.loss_and_grad, 0.01, 1, 0)
    same = sgd.compare_with_fit(params, first_losses + more, model, diabetes, lr=0.01, seed=0, start=start)
    assert same.loss_difference > 1e-3 and same.params_difference > 1e-3


def test_replay_with_fit_counts_the_epochs_of_mini_batches(diabetes, model, start):
    reference = fit(model, SGD(lr=0.05), diabetes, batch_size=50, epochs=3, seed=4, params=start)
    same = sgd.replay_with_fit(reference.params, reference.update_losses, model, diabetes, lr=0.05, batch_size=50,
                               seed=4, start=start)
    assert same.reference.epochs == 3 and same.loss_difference == 0 and same.params_difference == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"losses": np.ones(331)}, "losses"), ({"losses": np.ones((332, 2))}, "losses"), ({"losses": []}, "losses"),
    ({"params": {"w": np.zeros(10)}}, "params"), ({"lr": 0}, "lr"), ({"batch_size": 0}, "batch_size"),
])
def test_replay_with_fit_rejects_bad_input(diabetes, model, start, kwargs, message):
    arguments = {"params": start, "losses": np.ones(332), "lr": 0.01, "batch_size": 1, "seed": 0, "start": start}
    with pytest.raises(ValueError, match=message):
        sgd.replay_with_fit(model=model, data=diabetes, **(arguments | kwargs))
