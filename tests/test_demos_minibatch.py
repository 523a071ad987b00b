"""course_lib.demos.minibatch: lesson 03's batch sizes on the digits, the gradient variance against
sigma^2/B (N - B)/(N - 1), the time per example, and the learner's loop against fit."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import data
from course_lib.demos import minibatch
from course_lib.models import MLP, SoftmaxRegression
from course_lib.optimizers import SGD
from course_lib.training import fit


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.fixture(scope="module")
def model(digits):
    return SoftmaxRegression(digits.n_features, digits.n_classes)


@pytest.fixture(scope="module")
def start(model):
    return model.init_params(seed=0)


@pytest.fixture(scope="module")
def runs(digits, model, start):
    """The lesson's runs, shortened, with overlapping numbers of updates: 1348 for B = 1 and 1352 for B = 8,
    430 for B = 32 and 440 for B = 128, 60 for B = N."""
    return minibatch.train_at_batch_sizes(model, digits, {1: 1, 8: 8, 32: 10, 128: 40, 1348: 60}, lr=0.05,
                                          params=start)


def test_each_batch_size_is_labelled_with_its_updates_per_epoch(runs):
    assert sorted(runs) == [1, 8, 32, 128, 1348]
    assert [runs[b].updates_per_epoch for b in sorted(runs)] == [1348, 169, 43, 11, 1]
    assert runs[8].label == "B = 8: 169 updates per epoch" and runs[1348].label == "B = 1348: 1 update per epoch"


def test_sgd_is_noisy_and_its_epochs_are_slow(runs):
    seconds = minibatch.plot_noise_and_epoch_time({1: runs[1], 1348: runs[1348]})
    assert set(seconds) == {1, 1348} and all(s > 0 for s in seconds.values())
    update_ax, time_ax = plt.gcf().axes
    assert update_ax.get_xscale() == update_ax.get_yscale() == time_ax.get_yscale() == "log"
    assert len(time_ax.patches) == 2
    assert time_ax.get_title(loc="left").startswith("The same 1348 example gradients per epoch")
    # SGD's single-example losses span many decades; batch GD's fall smoothly.
    assert np.ptp(np.log10(runs[1].update_losses)) > 5
    assert np.all(np.diff(runs[1348].update_losses) < 0)


def test_per_update_every_batch_size_from_8_makes_the_same_progress(runs):
    progress = minibatch.plot_progress(runs)
    assert set(progress) == set(runs)
    assert progress[8]["updates"].tolist() == [169 * epoch for epoch in range(1, 9)]
    assert np.all(progress[32]["seconds"] > 0) and np.all(np.diff(progress[32]["seconds"]) > 0)
    # The lesson: counted in updates, B = 8 to N lie on one curve; B = 1 falls behind.
    loss_after_430 = np.interp(np.log(430), np.log(progress[128]["updates"]), progress[128]["losses"])
    assert progress[32]["losses"][-1] == pytest.approx(loss_after_430, rel=0.05)
    assert runs[128].train_losses[5] == pytest.approx(runs[1348].train_losses[55], rel=0.05)
    assert runs[8].train_losses[2] == pytest.approx(runs[32].train_losses[8], rel=0.05)
    assert runs[1].train_losses[1] > 1.2 * runs[8].train_losses[8]
    update_ax, time_ax = plt.gcf().axes
    assert len(update_ax.get_lines()) == len(time_ax.get_lines()) == 5


@pytest.mark.parametrize("epochs_by_batch_size, message", [
    ({}, "epochs_by_batch_size"), ({0: 1}, "batch_sizes"), ({2000: 1}, "batch_sizes"), ({8: 0}, "epochs"),
])
def test_train_at_batch_sizes_rejects_bad_settings(digits, model, start, epochs_by_batch_size, message):
    with pytest.raises(ValueError, match=message):
        minibatch.train_at_batch_sizes(model, digits, epochs_by_batch_size, lr=0.05, params=start)


def test_the_plots_need_runs_by_batch_size(runs):
    with pytest.raises(ValueError, match="runs"):
        minibatch.plot_progress({})
    with pytest.raises(ValueError, match="runs"):
        minibatch.plot_noise_and_epoch_time(list(runs.values()))


def test_the_measured_variance_follows_the_finite_population_formula(digits, model, start):
    trained = fit(model, SGD(lr=0.05), digits, batch_size=32, epochs=1, params=start).params
    variance = minibatch.gradient_variance(model, trained, digits, batch_sizes=2 ** np.arange(11), batches=100)
    assert variance.n == 1348 and variance.measured.shape == (11,)
    # sigma^2 is the mean squared distance of the example gradients from their mean: B = 1 measures it.
    assert variance.measured[0] == pytest.approx(variance.sigma2, rel=0.15)
    # Every measurement within a quarter of sigma^2/B (N - B)/(N - 1), and B = 1024 far below sigma^2/B.
    assert np.all(np.abs(variance.measured / variance.without_replacement - 1) < 0.25)
    assert variance.measured[-1] < 0.3 * variance.independent[-1]
    # The lesson's numbers at B = 32: about 33 times less variance than B = 1, about 5.8 times less noise.
    assert variance.measured[0] / variance.measured[5] == pytest.approx(33, rel=0.1)
    (ax,) = plt.gcf().axes
    assert ax.get_xscale() == ax.get_yscale() == "log" and len(ax.get_lines()) == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_sizes": [0, 4]}, "batch_sizes"), ({"batch_sizes": [1349]}, "batch_sizes"),
    ({"batch_sizes": []}, "batch_sizes"), ({"batches": 1}, "batches"),
])
def test_gradient_variance_rejects_bad_settings(digits, model, start, kwargs, message):
    with pytest.raises(ValueError, match=message):
        minibatch.gradient_variance(model, start, digits, **({"batch_sizes": [1, 2], "batches": 5} | kwargs))


def test_timing_the_gradient_per_example(digits, model):
    network = MLP(digits.n_features, digits.n_classes, hidden=(16,))
    times = minibatch.time_per_example({"softmax": model, "MLP": network}, digits, batch_sizes=[1, 32, 1348],
                                       examples=64, repeats=1)
    assert times.batch_sizes == [1, 32, 1348] and list(times.microseconds) == ["softmax", "MLP"]
    assert all(us.shape == (3,) and np.all(us > 0) for us in times.microseconds.values())
    (ax,) = plt.gcf().axes
    assert ax.get_xscale() == "log" and len(ax.get_lines()) == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"models": {}}, "models"), ({"batch_sizes": [0]}, "batch_sizes"), ({"examples": 0}, "examples"),
    ({"repeats": 0}, "repeats"),
])
def test_timing_rejects_bad_settings(digits, model, kwargs, message):
    arguments = {"models": {"softmax": model}, "batch_sizes": [8], "examples": 16, "repeats": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        minibatch.time_per_example(data=digits, **arguments)


def _learner_minibatch_gd(params, X, y, grad_fn, lr, batch_size, epochs, seed, same_order=False):
    rng, losses = np.random.default_rng(seed), []
    for _ in range(epochs):
        if same_order:
            rng = np.random.default_rng(seed)
        order = rng.permutation(len(X))
        for first in range(0, len(X), batch_size):
            batch = order[first:first + batch_size]
            loss, grads = grad_fn(params, X[batch], y[batch])
            params = {name: params[name] - lr * grads[name] for name in params}
            losses.append(loss)
    return params, losses


def test_a_correct_loop_matches_fit_update_for_update(digits, model, start):
    params, losses = _learner_minibatch_gd(start, digits.X_train, digits.y_train, model.loss_and_grad, 0.1, 32, 2, 0)
    same = minibatch.compare_with_fit(params, losses, model, digits, lr=0.1, batch_size=32, seed=0, start=start)
    assert same.loss_difference <= 1e-12 and same.params_difference <= 1e-12
    assert same.reference.epochs == 2 and same.reference.updates_per_epoch == 43
    (ax,) = plt.gcf().axes
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 3
    assert ax.get_legend().get_texts()[0].get_text() == "your losses: one batch of 32 each (43 per epoch)"


def test_a_loop_that_repeats_its_batches_is_told_apart(digits, model, start):
    params, losses = _learner_minibatch_gd(start, digits.X_train, digits.y_train, model.loss_and_grad, 0.1, 32, 2, 0,
                                           same_order=True)
    same = minibatch.compare_with_fit(params, losses, model, digits, lr=0.1, batch_size=32, seed=0, start=start)
    assert same.loss_difference > 1e-3 and same.params_difference > 1e-3


def test_compare_with_fit_needs_whole_epochs(digits, model, start):
    with pytest.raises(ValueError, match="losses"):
        minibatch.compare_with_fit(start, np.ones(44), model, digits, lr=0.1, batch_size=32, seed=0, start=start)
