"""The training loops: trajectories on 2-D surfaces, fitting models on data, schedules and divergence."""

import dataclasses

import numpy as np
import pytest

from course_lib import data, training
from course_lib.functions import SURFACES
from course_lib.models import MLP, LinearRegression, SoftmaxRegression
from course_lib.optimizers import SGD, Adagrad, Adam, Optimizer, SutskeverNesterov
from course_lib.training import (
    TrainingDiverged,
    constant,
    effective_step_sizes,
    fit,
    inverse_sqrt_decay,
    inverse_time_decay,
    minimize,
    step_decay,
)


@dataclasses.dataclass(frozen=True)
class Quadratic:
    """f(x, y) = a x^2 + b y^2, with only what minimize needs; it also notes where its gradient was taken."""

    a: float = 1.0
    b: float = 1.0
    gradient_points: list = dataclasses.field(default_factory=list)

    def value(self, points):
        points = np.asarray(points)
        return self.a * points[..., 0] ** 2 + self.b * points[..., 1] ** 2

    def grad(self, points):
        points = np.asarray(points, dtype=float)
        self.gradient_points.append(points.copy())
        return np.stack([2 * self.a * points[..., 0], 2 * self.b * points[..., 1]], axis=-1)


@dataclasses.dataclass(frozen=True)
class InPlaceMomentum(Optimizer):
    """Heavy-ball momentum written the careless way: it overwrites its inputs instead of returning new arrays."""

    lr: float = 0.1
    momentum: float = 0.5

    @property
    def slot_names(self):
        return ("velocity",)

    def _update(self, param, grad, slots, step, scalars):
        velocity = slots["velocity"]
        velocity *= self.momentum
        velocity += grad
        param -= self.lr * velocity
        return param, {"velocity": velocity}


# --- minimize ------------------------------------------------------------------------------


def test_minimize_records_start_points_losses_states_and_label():
    surface = Quadratic(1.0, 3.0)
    trajectory = minimize(surface, Adam(lr=0.1), start=(1.0, -2.0), steps=25)
    assert trajectory.steps == 25 and trajectory.diverged_at is None
    assert trajectory.points.shape == (26, 2) and trajectory.losses.shape == (26,)
    assert trajectory.grads.shape == (25, 2) and trajectory.lrs.shape == (25,)
    np.testing.assert_array_equal(trajectory.points[0], [1.0, -2.0])
    np.testing.assert_allclose(trajectory.losses, surface.value(trajectory.points))
    assert [state["step"] for state in trajectory.states] == list(range(26))
    assert trajectory.label == Adam(lr=0.1).label
    assert trajectory.losses[-1] < trajectory.losses[0]
    assert "25 steps" in repr(trajectory)


def test_gradient_descent_on_a_quadratic_follows_the_closed_form():
    lr, steps = 0.1, 30
    trajectory = minimize(Quadratic(1.0, 2.0), SGD(lr=lr), start=(1.5, -1.0), steps=steps)
    t = np.arange(steps + 1)
    # Each step multiplies a coordinate of a x^2 by (1 - 2 a lr).
    expected = np.column_stack([1.5 * (1 - 2 * lr) ** t, -1.0 * (1 - 4 * lr) ** t])
    np.testing.assert_allclose(trajectory.points, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(trajectory.grads, Quadratic(1.0, 2.0).grad(trajectory.points[:-1]))


def test_recorded_states_and_points_are_copies_even_when_the_optimizer_works_in_place():
    trajectory = minimize(Quadratic(), InPlaceMomentum(), start=(1.0, 1.0), steps=5)
    velocities = np.array([state["velocity"] for state in trajectory.states])
    assert len({tuple(v) for v in velocities}) == 6
    assert len({tuple(p) for p in trajectory.points}) == 6
    # The recorded history is the real one: v_t = momentum v_{t-1} + g_t, theta_t = theta_{t-1} - lr v_t.
    np.testing.assert_allclose(velocities[1:], 0.5 * velocities[:-1] + trajectory.grads)
    np.testing.assert_allclose(np.diff(trajectory.points, axis=0), -0.1 * velocities[1:])


def test_sutskever_nesterov_takes_its_gradient_at_the_look_ahead_point():
    surface = Quadratic(1.0, 4.0)
    momentum = 0.8
    trajectory = minimize(surface, SutskeverNesterov(lr=0.05, momentum=momentum), start=(2.0, 1.0), steps=15)
    look_ahead = trajectory.points[:-1] + momentum * np.array([s["velocity"] for s in trajectory.states[:-1]])
    np.testing.assert_allclose(np.array(surface.gradient_points), look_ahead, rtol=1e-14)
    assert not np.allclose(look_ahead[1:], trajectory.points[1:-1])
    # With a constant lr the look-ahead points are exactly torch's Nesterov iterates.
    torch_form = minimize(surface, SGD(lr=0.05, momentum=momentum, nesterov=True), start=(2.0, 1.0), steps=15)
    np.testing.assert_allclose(look_ahead[1:], torch_form.points[1:-1], rtol=1e-12)


def test_a_schedule_sets_the_learning_rate_of_every_step():
    schedule = step_decay(0.1, factor=0.5, every=4)
    trajectory = minimize(Quadratic(), SGD(lr=1.0), start=(1.0, -1.0), steps=12, schedule=schedule)
    expected = [schedule(step) for step in range(1, 13)]
    assert expected[0] == 0.1 and expected[-1] == 0.025
    np.testing.assert_allclose(trajectory.lrs, expected)
    # For plain gradient descent the effective step is the learning rate itself.
    np.testing.assert_allclose(effective_step_sizes(trajectory), np.column_stack([expected, expected]), rtol=1e-12)


def test_effective_step_sizes_shrink_for_adagrad_and_are_nan_where_the_gradient_is_zero():
    trajectory = minimize(Quadratic(), Adagrad(lr=0.1), start=(1.0, 0.0), steps=20)
    sizes = effective_step_sizes(trajectory)
    assert sizes.shape == (20, 2)
    assert np.all(np.diff(sizes[:, 0]) < 0)
    assert np.all(np.isnan(sizes[:, 1]))


def test_step_lengths_follow_each_optimizer_on_a_fixed_gradient_stream():
    constant = np.full(400, 0.5)
    assert np.allclose(training.step_lengths(SGD(lr=0.1), constant), 0.05)
    # AdaGrad on a constant gradient: the sum is t g^2, so step t moves lr / sqrt(t).
    assert np.allclose(training.step_lengths(Adagrad(lr=0.1), constant), 0.1 / np.sqrt(np.arange(1, 401)))
    # Adam with both corrections moves exactly lr per step on a constant gradient.
    assert np.allclose(training.step_lengths(Adam(lr=0.01, eps=0.0), constant), 0.01)


@pytest.mark.parametrize("gradients", [[], [[1.0, 2.0]], [1.0, np.nan], "abc"])
def test_step_lengths_rejects_what_is_not_a_stream_of_numbers(gradients):
    with pytest.raises(ValueError, match="gradients must be"):
        training.step_lengths(SGD(lr=0.1), gradients)


def test_minimize_stops_when_the_iterates_blow_up():
    trajectory = minimize(Quadratic(), SGD(lr=2.0), start=(1.0, 1.0), steps=100)
    assert trajectory.diverged_at is not None and trajectory.diverged_at < 100
    assert trajectory.steps == trajectory.diverged_at - 1
    assert len(trajectory.losses) == len(trajectory.states) == trajectory.steps + 1
    assert len(trajectory.grads) == len(trajectory.lrs) == trajectory.steps
    assert np.all(np.isfinite(trajectory.points)) and np.all(np.isfinite(trajectory.losses))
    assert np.max(np.abs(trajectory.points)) <= training.POINT_LIMIT
    assert f"diverged at step {trajectory.diverged_at}" in repr(trajectory)


def test_minimize_stops_where_the_value_stops_being_finite():
    class Cliff(Quadratic):
        def value(self, points):
            heights = super().value(points)
            return np.where(np.asarray(points)[..., 0] < -3, np.inf, heights)

    trajectory = minimize(Cliff(), SGD(lr=1.2), start=(-1.0, 0.0), steps=20)
    # x alternates in sign and grows by 1.4 each step: -1, 1.4, -1.96, 2.74, -3.84 (off the cliff).
    assert trajectory.diverged_at == 4
    np.testing.assert_allclose(trajectory.points[:, 0], [-1.0, 1.4, -1.96, 2.744])
    assert np.all(np.isfinite(trajectory.losses)) and len(trajectory.states) == 4 and len(trajectory.grads) == 3


@pytest.mark.parametrize("surface", SURFACES.values(), ids=list(SURFACES))
def test_minimize_descends_every_course_surface_from_its_start(surface):
    trajectory = minimize(surface, Adam(lr=0.01), start=surface.start, steps=100)
    assert trajectory.diverged_at is None
    assert trajectory.losses[-1] < trajectory.losses[0]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"start": (1.0, 2.0, 3.0)}, ValueError, "start must be two finite numbers"),
        ({"start": (np.nan, 0.0)}, ValueError, "start must be two finite numbers"),
        ({"steps": -1}, ValueError, "steps must be a whole number >= 0"),
        ({"steps": 2.5}, ValueError, "steps must be a whole number"),
        ({"schedule": 0.1}, TypeError, "schedule must be a function step -> lr"),
        ({"schedule": lambda step: -0.1}, ValueError, r"schedule returned lr=-0.1 at step 1"),
    ],
)
def test_minimize_rejects_bad_arguments_clearly(kwargs, error, message):
    arguments = {"start": (1.0, 1.0), "steps": 5, **kwargs}
    with pytest.raises(error, match=message):
        minimize(Quadratic(), SGD(lr=0.1), **arguments)


def test_minimize_rejects_a_gradient_of_the_wrong_shape():
    class Flat(Quadratic):
        def grad(self, points):
            return np.zeros(3)

    with pytest.raises(ValueError, match=r"surface.grad returned shape \(3,\).*shape \(2,\)"):
        minimize(Flat(), SGD(lr=0.1), start=(1.0, 1.0))


# --- schedules -----------------------------------------------------------------------------


def test_schedules_start_at_lr_and_decay_as_documented():
    steps = np.arange(1, 202)
    for schedule in (constant(0.3), step_decay(0.3, 0.1, 50), inverse_time_decay(0.3, 0.1),
                     inverse_sqrt_decay(0.3, 0.1)):
        assert schedule(1) == 0.3
    assert {constant(0.3)(s) for s in steps} == {0.3}
    decayed = [step_decay(0.3, 0.1, 50)(s) for s in (50, 51, 101, 151)]
    np.testing.assert_allclose(decayed, [0.3, 0.03, 0.003, 0.0003])
    np.testing.assert_allclose([inverse_time_decay(0.3, 0.1)(s) for s in steps], 0.3 / (1 + 0.1 * (steps - 1)))
    np.testing.assert_allclose([inverse_sqrt_decay(0.3, 0.1)(s) for s in steps],
                               0.3 / np.sqrt(1 + 0.1 * (steps - 1)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: constant(-1.0), "lr must be a finite number >= 0"),
        (lambda: step_decay(0.1, every=0), "every must be a whole number >= 1"),
        (lambda: step_decay(0.1, factor=0.0), "factor must be a finite number > 0"),
        (lambda: inverse_time_decay(0.1, decay=-1.0), "decay must be a finite number > 0"),
        (lambda: inverse_sqrt_decay(float("inf")), "lr must be a finite number >= 0"),
    ],
)
def test_bad_schedule_arguments_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --- fit -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SpyRegression(LinearRegression):
    """Linear regression that notes the targets of every batch it is given (the targets are example ids)."""

    batches: list = dataclasses.field(default_factory=list)

    def loss_and_grad(self, params, X, y):
        self.batches.append(np.array(y))
        return super().loss_and_grad(params, X, y)


def numbered(dataset):
    """The same data set with each training example's target replaced by its index."""
    return dataclasses.replace(dataset, y_train=np.arange(dataset.n_train, dtype=float))


@pytest.fixture(scope="module")
def linear():
    return data.make_linear(n_samples=200, n_features=2)


@pytest.mark.parametrize("batch_size, per_epoch", [("full", 1), (None, 1), (1, 150), (32, 5), (50, 3), (150, 1)])
def test_updates_per_epoch_follow_the_batch_size(linear, batch_size, per_epoch):
    history = fit(LinearRegression(2), SGD(lr=0.01), linear, batch_size=batch_size, epochs=3, progress=False)
    assert history.updates_per_epoch == per_epoch
    assert len(history.update_losses) == len(history.update_lrs) == 3 * per_epoch
    assert history.batch_size == (150 if batch_size in ("full", None) else batch_size)
    assert history.epochs == 3 and history.diverged is None


@pytest.mark.parametrize("batch_size", [1, 32, 150])
def test_every_epoch_visits_every_example_exactly_once_in_a_fresh_order(linear, batch_size):
    model = SpyRegression(2)
    fit(model, SGD(lr=0.01), numbered(linear), batch_size=batch_size, epochs=3, progress=False)
    per_epoch = -(-150 // batch_size)
    assert len(model.batches) == 3 * per_epoch
    sizes = [len(b) for b in model.batches[:per_epoch]]
    assert sizes[:-1] == [batch_size] * (per_epoch - 1) and sizes[-1] == 150 - batch_size * (per_epoch - 1)
    orders = [np.concatenate(model.batches[e * per_epoch:(e + 1) * per_epoch]) for e in range(3)]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(150))
    if batch_size < 150:
        assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])


def test_the_same_seed_reproduces_a_run_and_another_seed_changes_it():
    digits = data.load_digits()
    model = MLP(64, 10, hidden=(16,))

    def run(seed):
        return fit(model, Adam(lr=0.01), digits, batch_size=64, epochs=2, seed=seed, progress=False)

    first, again, other = run(0), run(0), run(1)
    np.testing.assert_array_equal(first.update_losses, again.update_losses)
    np.testing.assert_array_equal(first.val_losses, again.val_losses)
    for name in first.params:
        np.testing.assert_array_equal(first.params[name], again.params[name])
    assert not np.array_equal(first.update_losses, other.update_losses)


def test_fit_records_epoch_zero_and_an_mlp_learns_the_digits():
    digits = data.load_digits()
    model = MLP(64, 10, hidden=(32,))
    history = fit(model, Adam(lr=0.01), digits, batch_size=32, epochs=3, seed=5, progress=False)
    start = model.init_params(5)
    assert history.train_losses[0] == model.loss(start, digits.X_train, digits.y_train)
    assert history.val_accuracies[0] == model.accuracy(start, digits.X_val, digits.y_val)
    assert len(history.train_losses) == len(history.val_losses) == len(history.train_accuracies) == 4
    assert history.val_accuracies[-1] > 0.9 and history.val_losses[-1] < 0.5 * history.val_losses[0]
    assert history.train_losses[-1] == pytest.approx(model.loss(history.params, digits.X_train, digits.y_train))
    assert np.all(np.diff(history.epoch_seconds) > 0) and history.seconds == history.epoch_seconds[-1]
    assert "val accuracy" in repr(history)


def test_full_batch_update_losses_are_the_training_losses_of_the_epochs(linear):
    history = fit(LinearRegression(2), SGD(lr=0.1), linear, batch_size="full", epochs=20, progress=False)
    np.testing.assert_allclose(history.update_losses, history.train_losses[:-1], rtol=1e-12)
    assert np.all(np.diff(history.train_losses) < 0)
    assert history.train_accuracies is None and history.val_accuracies is None


def test_full_batch_gradient_descent_is_stable_exactly_below_the_documented_learning_rate():
    diabetes = data.load_diabetes()
    with_ones = np.column_stack([diabetes.X_train, np.ones(diabetes.n_train)])
    limit = 1.0 / np.linalg.eigvalsh(with_ones.T @ with_ones / diabetes.n_train).max()

    def run(lr):
        return fit(LinearRegression(10), SGD(lr=lr), diabetes, batch_size="full", epochs=400, progress=False)

    below, above = run(0.97 * limit), run(1.03 * limit)
    assert below.diverged is None and below.train_losses[-1] < 0.5 * below.train_losses[0]
    assert above.diverged is not None


def test_fit_starts_from_given_params_without_changing_them(linear):
    model = LinearRegression(2)
    start = {"w": np.array([3.0, -3.0]), "b": np.array([1.0])}
    kept = {name: value.copy() for name, value in start.items()}
    history = fit(model, SGD(lr=0.1), linear, batch_size=16, epochs=1, params=start, progress=False)
    assert history.train_losses[0] == model.loss(kept, linear.X_train, linear.y_train)
    for name in start:
        np.testing.assert_array_equal(start[name], kept[name])


def test_a_schedule_sets_the_learning_rate_of_every_update(linear):
    schedule = inverse_time_decay(0.2, decay=0.5)
    history = fit(LinearRegression(2), SGD(lr=1.0), linear, batch_size=50, epochs=4, schedule=schedule,
                  progress=False)
    np.testing.assert_allclose(history.update_lrs, [schedule(u) for u in range(1, 13)])
    constant_lr = fit(LinearRegression(2), SGD(lr=0.2), linear, batch_size=50, epochs=4, progress=False)
    np.testing.assert_allclose(constant_lr.update_lrs, 0.2)
    assert not np.allclose(history.train_losses[1:], constant_lr.train_losses[1:])


def test_fit_takes_sutskever_nesterov_gradients_at_the_look_ahead_point():
    blobs = data.make_blobs()
    model = SoftmaxRegression(2, 2)
    look_ahead = fit(model, SutskeverNesterov(lr=0.1, momentum=0.9), blobs, batch_size=10, epochs=3,
                     progress=False)
    torch_form = fit(model, SGD(lr=0.1, momentum=0.9, nesterov=True), blobs, batch_size=10, epochs=3,
                     progress=False)
    # Same batches and a constant lr: the look-ahead points are torch's iterates, so the losses agree.
    np.testing.assert_allclose(look_ahead.update_losses, torch_form.update_losses, rtol=1e-10)


def test_a_huge_learning_rate_stops_with_a_clear_message_instead_of_garbage():
    diabetes = data.load_diabetes()
    history = fit(LinearRegression(10), SGD(lr=5.0), diabetes, batch_size=1, epochs=3, progress=False)
    assert history.diverged is not None
    assert "diverged at epoch 1, update" in history.diverged and "lr=5.0" in history.diverged
    assert "learning rate is probably too large" in history.diverged
    assert np.all(np.isfinite(history.update_losses)) and len(history.update_losses) < diabetes.n_train
    assert len(history.train_losses) == len(history.val_losses) == 1 and history.epochs == 0
    assert repr(history).startswith("History(SGD(lr=5.0): Training diverged")
    with pytest.raises(TrainingDiverged, match="diverged at epoch 1"):
        history.raise_if_diverged()


def test_parameters_that_overflow_in_one_step_are_caught_at_the_end_of_the_epoch(linear):
    with np.errstate(over="raise", invalid="raise"):
        history = fit(LinearRegression(2), SGD(lr=1e308), linear, batch_size="full", epochs=5, progress=False)
    assert "in epoch 1: after update 1 the parameters or the loss are not finite" in history.diverged
    assert history.epochs == 0 and len(history.epoch_seconds) == 1


def test_a_healthy_run_does_not_raise():
    history = fit(LinearRegression(2), SGD(lr=0.1), data.make_linear(), batch_size=8, epochs=2, progress=False)
    assert history.diverged is None
    history.raise_if_diverged()


def test_the_progress_bar_appears_only_when_asked_or_for_long_runs(linear, capsys, monkeypatch):
    model = LinearRegression(2)
    fit(model, SGD(lr=0.01), linear, batch_size=10, epochs=2, progress=False)
    fit(model, SGD(lr=0.01), linear, batch_size=10, epochs=2)
    assert capsys.readouterr().err == ""
    fit(model, SGD(lr=0.01), linear, batch_size=10, epochs=2, progress=True)
    assert "SGD(lr=0.01)" in capsys.readouterr().err
    monkeypatch.setattr(training, "PROGRESS_BAR_UPDATES", 20)
    fit(model, SGD(lr=0.01), linear, batch_size=10, epochs=2)
    assert "2/2" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": "half"}, r"batch_size must be 'full' or None .* 1 \(SGD\) or a whole number B"),
        ({"batch_size": 1.5}, "batch_size must be 'full' or None"),
        ({"batch_size": True}, "batch_size must be 'full' or None"),
        ({"batch_size": 0}, "batch_size must be between 1 and the 150 training examples"),
        ({"batch_size": 151}, "batch_size must be between 1 and the 150 training examples"),
        ({"epochs": -1}, "epochs must be a whole number >= 0"),
        ({"progress": "yes"}, "progress must be True, False or None"),
    ],
)
def test_fit_rejects_bad_arguments_clearly(linear, kwargs, message):
    arguments = {"batch_size": 10, "epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        fit(LinearRegression(2), SGD(lr=0.1), linear, **arguments)


def test_a_model_that_does_not_fit_the_data_is_rejected_before_training(linear):
    with pytest.raises(ValueError, match="X has 64 features per example but LinearRegression"):
        fit(LinearRegression(2), SGD(lr=0.1), data.load_digits(), batch_size=10, epochs=1)
    with pytest.raises(ValueError, match="integer class labels"):
        fit(SoftmaxRegression(2, 2), SGD(lr=0.1), linear, batch_size=10, epochs=1)
    with pytest.raises(ValueError, match="starting parameters give a training loss of inf.*both must be finite"):
        fit(LinearRegression(2), SGD(lr=0.1), linear, batch_size=10, epochs=1,
            params={"w": np.array([np.inf, 0.0]), "b": np.zeros(1)})
