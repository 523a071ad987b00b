"""The checks of lessons 00 and 01: right answers pass, every catalogued mistake fails and is named,
misbehaving code is explained in words."""

import numpy as np
import pytest
from check_failures import failure

from course_lib.checks import EXERCISE_MISTAKES, MISTAKES, mistake_update, mistakes_for, rel_error
from course_lib.checks.descent import (check_batch_gradient_descent, check_gradient_descent_step,
                                       check_mse_gradient, check_numerical_gradient, check_run_gradient_descent)

CHECKS = {
    "numerical_gradient": check_numerical_gradient,
    "gradient_descent_step": check_gradient_descent_step,
    "run_gradient_descent": check_run_gradient_descent,
    "mse_gradient": check_mse_gradient,
    "batch_gradient_descent": check_batch_gradient_descent,
}


# --- answers written as a learner would, independently of course_lib ----------------------

def numerical_gradient(f, theta, h=1e-5):
    gradient = np.zeros(len(theta))
    for j in range(len(theta)):
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        gradient[j] = (f(up) - f(down)) / (2 * h)
    return gradient


def gradient_descent_step(theta, grad, lr):
    return theta - lr * grad


def run_gradient_descent(grad_fn, start, lr, steps):
    points = [start.copy()]
    for _ in range(steps):
        points.append(gradient_descent_step(points[-1], grad_fn(points[-1]), lr))
    return np.array(points)


def mse_gradient(w, b, X, y):
    residual = X @ w + b - y
    return 2 / len(y) * X.T @ residual, 2 * residual.mean()


def batch_gradient_descent(X, y, w, b, lr, epochs):
    losses = [np.mean((X @ w + b - y) ** 2)]
    for _ in range(epochs):
        grad_w, grad_b = mse_gradient(w, b, X, y)
        w, b = w - lr * grad_w, b - lr * grad_b
        losses.append(np.mean((X @ w + b - y) ** 2))
    return w, b, np.array(losses)


ANSWERS = {fn.__name__: fn for fn in (numerical_gradient, gradient_descent_step, run_gradient_descent,
                                      mse_gradient, batch_gradient_descent)}


# Other correct ways to write the same answers: the checks must not insist on one formulation.

def numerical_gradient_with_unit_vectors(f, theta, h=1e-5):
    basis = np.eye(len(theta))
    return np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in basis])


def run_gradient_descent_preallocated(grad_fn, start, lr, steps):
    points = np.empty((steps + 1, len(start)))
    points[0] = start
    for t in range(steps):
        points[t + 1] = points[t] - lr * grad_fn(points[t])
    return points


def mse_gradient_by_broadcasting(w, b, X, y):
    residual = X @ w + b - y
    return np.mean(2 * residual[:, None] * X, axis=0), float(np.mean(2 * residual))


def batch_gradient_descent_with_array_bias(X, y, w, b, lr, epochs):
    params = np.append(w, b)
    design = np.hstack([X, np.ones((len(X), 1))])
    losses = np.zeros(epochs + 1)
    for epoch in range(epochs + 1):
        residual = design @ params - y
        losses[epoch] = np.mean(residual**2)
        if epoch < epochs:
            params = params - lr * 2 * design.T @ residual / len(y)
    return params[:-1], params[-1:], losses


ALTERNATIVES = [("numerical_gradient", numerical_gradient_with_unit_vectors),
                ("run_gradient_descent", run_gradient_descent_preallocated),
                ("mse_gradient", mse_gradient_by_broadcasting),
                ("batch_gradient_descent", batch_gradient_descent_with_array_bias)]


@pytest.mark.parametrize("name", CHECKS)
@pytest.mark.parametrize("thorough", [False, True])
def test_a_right_answer_passes_with_one_line_saying_what_was_checked(name, thorough, capsys):
    CHECKS[name](ANSWERS[name], thorough=thorough)
    printed = capsys.readouterr().out.strip()
    assert printed.startswith(f"check_{name} passed: {name}") and "\n" not in printed


@pytest.mark.parametrize("name, fn", ALTERNATIVES, ids=[fn.__name__ for _, fn in ALTERNATIVES])
def test_other_correct_formulations_pass_too(name, fn, capsys):
    CHECKS[name](fn, thorough=True)
    assert "passed" in capsys.readouterr().out


# --- the catalogue of these exercises' mistakes -------------------------------------------

MISTAKE_CASES = [(name, mistake) for name in CHECKS for mistake in mistakes_for(name)]


def test_every_exercise_registers_its_mistakes_with_ids_of_its_own():
    for name in CHECKS:
        assert len(EXERCISE_MISTAKES[name]) >= 3, name
    ids = [m.id for name in CHECKS for m in EXERCISE_MISTAKES[name]]
    assert len(ids) == len(set(ids)) and not set(ids) & set(MISTAKES)
    for name, mistake in MISTAKE_CASES:
        assert mistake.name and len(mistake.hint) > 40 and mistake.wrong.__name__ == name


@pytest.mark.parametrize("name, mistake", MISTAKE_CASES, ids=[m.id for _, m in MISTAKE_CASES])
@pytest.mark.parametrize("thorough", [False, True])
def test_every_mistake_fails_its_check_and_is_named_with_its_hint(name, mistake, thorough):
    error = failure(CHECKS[name], mistake_update(name, mistake.id), thorough=thorough)
    message = str(error)
    assert error.mistakes == (mistake.id,)
    assert f'"{mistake.name}": {mistake.hint}' in message
    assert message.startswith(f"{name} does not do what the exercise asks yet.")
    assert "case 1 (" in message and len(message.splitlines()) < 12


def test_two_mistakes_at_once_fail_without_a_wrong_name():
    def numerical_gradient(f, theta, h=1e-5):
        gradient = np.zeros(len(theta))
        for j in range(len(theta)):
            up = theta.copy()
            up[j] += h
            gradient[j] = (f(up) - f(theta)) / (2 * h)
        return gradient
    error = failure(check_numerical_gradient, numerical_gradient)
    assert error.mistakes == () and "First difference: case 1" in str(error) and "expected 3, got 1.5 " in str(error)


def test_a_mistake_in_one_case_only_is_located():
    def gradient_descent_step(theta, grad, lr):
        return theta - lr * grad if theta.ndim == 1 else theta - grad
    message = str(failure(check_gradient_descent_step, gradient_descent_step))
    assert "First difference: case 3 (theta and grad of shape (2, 3), lr = 0.5)" in message
    assert "These cases go wrong" not in message and "Every other case is right" in message


def test_an_edge_case_that_only_the_thorough_check_tries_is_caught_there():
    def run_gradient_descent(grad_fn, start, lr, steps):
        points = [start.copy()]
        for _ in range(max(steps, 1)):
            points.append(points[-1] - lr * grad_fn(points[-1]))
        return np.array(points)
    check_run_gradient_descent(run_gradient_descent)
    message = str(failure(check_run_gradient_descent, run_gradient_descent, thorough=True))
    assert "steps = 0" in message and "trajectory has shape (2, 2) but must have shape (1, 2)" in message


# --- misbehaving learner code gets a sentence, not a traceback ------------------------------

MISBEHAVIOURS = [
    ("numerical_gradient", lambda f, theta, h=1e-5: None, "numerical_gradient returned None as the gradient"),
    ("numerical_gradient", lambda f, theta, h=1e-5: list(numerical_gradient(f, theta, h)),
     "returned a list as the gradient; it must be a NumPy array"),
    ("numerical_gradient", lambda f, theta, h=1e-5: numerical_gradient(f, theta, h).sum(),
     "returned a float64 as the gradient"),
    ("gradient_descent_step", lambda theta, grad, lr: np.round(theta - lr * grad).astype(int),
     "returned the new parameters with dtype int64; it must hold floats"),
    ("gradient_descent_step", lambda theta, grad, lr: (theta - lr * grad).ravel(),
     "new theta has shape (6,) but must have shape (2, 3) (the same shape as theta)"),
    ("run_gradient_descent", lambda grad_fn, start, lr, steps: list(run_gradient_descent(grad_fn, start, lr, steps)),
     "returned a list as the trajectory"),
    ("run_gradient_descent", lambda grad_fn, start, lr, steps: run_gradient_descent(grad_fn, start, lr, steps).T,
     "trajectory has shape (2, 4) but must have shape (4, 2)"),
    ("mse_gradient", lambda w, b, X, y: np.append(*mse_gradient(w, b, X, y)),
     "returned a NumPy array of shape (3,); it must return the tuple (grad_w, grad_b)"),
    ("mse_gradient", lambda w, b, X, y: (mse_gradient(w, b, X, y)[0], mse_gradient(w, b, X, y)[0]),
     "returned a NumPy array of shape (2,) as grad_b; it must be a single number"),
    ("mse_gradient", lambda w, b, X, y: [*mse_gradient(w, b, X, y)], "returned a list; it must return the tuple"),
    ("batch_gradient_descent", lambda X, y, w, b, lr, epochs: batch_gradient_descent(X, y, w, b, lr, epochs)[::2],
     "returned a tuple of 2 items; it must return the tuple (w, b, losses)"),
    ("batch_gradient_descent",
     lambda X, y, w, b, lr, epochs: (*batch_gradient_descent(X, y, w, b, lr, epochs)[:2],
                                     list(batch_gradient_descent(X, y, w, b, lr, epochs)[2])),
     "returned a list as losses"),
]


@pytest.mark.parametrize("name, fn, phrase", MISBEHAVIOURS, ids=[p for _, _, p in MISBEHAVIOURS])
def test_a_result_of_the_wrong_kind_is_described_in_words(name, fn, phrase):
    fn.__name__ = name
    error = failure(CHECKS[name], fn)
    message = str(error)
    assert phrase in message and "First problem: case" in message
    assert "Traceback" not in message and error.mistakes == ()


def test_an_exception_is_reported_with_its_type_message_and_the_learners_line():
    def mse_gradient(w, b, X, y):
        residual = X @ w + b - y
        return 2 * X @ residual / len(y), 2 * residual.mean()
    message = str(failure(check_mse_gradient, mse_gradient))
    assert "mse_gradient raised ValueError: matmul: Input operand 1 has a mismatch" in message
    assert "in your code (mse_gradient, line" in message and "return 2 * X @ residual / len(y)" in message


def test_calling_f_with_something_else_than_a_point_is_explained():
    def numerical_gradient(f, theta, h=1e-5):
        return np.array([(f(theta[j] + h) - f(theta[j] - h)) / (2 * h) for j in range(len(theta))])
    message = str(failure(check_numerical_gradient, numerical_gradient))
    assert "f takes a NumPy array of shape (2,), like theta; it was given a float" in message
    assert "f(theta[j] + h)" in message


@pytest.mark.parametrize("name, fn, written", [
    ("mse_gradient", lambda w, b, X, y: (X.__setitem__((0, 0), 1.0), mse_gradient(w, b, X, y))[1], "X"),
    ("mse_gradient", lambda w, b, X, y: mse_gradient(w, b, X, y - y.mean()) if y.sort() is None else None, "y"),
    ("batch_gradient_descent", lambda X, y, w, b, lr, epochs: (np.multiply(w, 1.0, out=w),
                                                               batch_gradient_descent(X, y, w, b, lr, epochs))[1],
     "w"),
    ("gradient_descent_step", lambda theta, grad, lr: np.subtract(theta, lr * grad, out=grad), "grad"),
])
def test_writing_into_any_input_is_caught_and_the_input_named(name, fn, written):
    fn.__name__ = name
    message = str(failure(CHECKS[name], fn))
    assert f"{name} changes its input {written} in place" in message


def test_writing_into_theta_and_restoring_it_is_still_caught():
    def numerical_gradient(f, theta, h=1e-5):
        gradient = np.zeros(len(theta))
        for j in range(len(theta)):
            saved = theta[j]
            theta[j] = saved + h
            up = f(theta)
            theta[j] = saved - h
            down = f(theta)
            theta[j] = saved
            gradient[j] = (up - down) / (2 * h)
        return gradient
    error = failure(check_numerical_gradient, numerical_gradient)
    assert "numerical_gradient changes its input theta in place" in str(error)
    assert "in your code (numerical_gradient, line" in str(error) and "theta[j] = saved + h" in str(error)
    assert error.mistakes == ("fd-mutates-theta",)


def test_numpy_warnings_of_learner_code_do_not_reach_stderr(capfd):
    def gradient_descent_step(theta, grad, lr):
        return theta - lr * grad / 0.0 * np.log(-np.abs(theta))
    failure(check_gradient_descent_step, gradient_descent_step)
    assert capfd.readouterr().err == ""


def test_the_checks_own_arguments_are_validated():
    assert "check_mse_gradient needs your function mse_gradient, got a str" in str(
        failure(check_mse_gradient, "mse_gradient"))
    with pytest.raises(TypeError, match="thorough must be True or False"):
        check_numerical_gradient(numerical_gradient, thorough=1)


# --- wrong answers that used to keep full marks: each fails the thorough (hidden) check now ----------


def _stops_when_the_gradient_is_zero(grad_fn, start, lr, steps):
    points = [start.copy()]
    for _ in range(steps):
        grad = grad_fn(points[-1])
        if not np.any(grad):
            break
        points.append(points[-1] - lr * grad)
    return np.array(points)


def _stops_when_the_gradient_is_tiny(grad_fn, start, lr, steps):
    points = [start.copy()]
    for _ in range(steps):
        grad = grad_fn(points[-1])
        if np.linalg.norm(grad) < 1e-12:
            break
        points.append(points[-1] - lr * grad)
    return np.array(points)


def _stops_when_it_diverges(grad_fn, start, lr, steps):
    points = [start.copy()]
    for _ in range(steps):
        grad = grad_fn(points[-1])
        if np.linalg.norm(grad) > 1e3:
            break
        points.append(points[-1] - lr * grad)
    return np.array(points)


@pytest.mark.parametrize("early", [_stops_when_the_gradient_is_zero, _stops_when_the_gradient_is_tiny,
                                   _stops_when_it_diverges], ids=lambda fn: fn.__name__.strip("_"))
def test_a_descent_that_stops_early_fails_the_thorough_check_and_is_told_to_make_every_step(early):
    def run_gradient_descent(grad_fn, start, lr, steps):
        return early(grad_fn, start, lr, steps)
    check_run_gradient_descent(run_gradient_descent)
    error = failure(check_run_gradient_descent, run_gradient_descent, thorough=True)
    message = str(error)
    assert "right, then the trajectory stops: make every one of the steps asked for" in message
    assert "but must have shape" in message and error.mistakes == ()
    if early is not _stops_when_it_diverges:
        assert "(start = m, the minimum: the gradient is exactly 0 there)" in message
        assert "Your first row is right" in message


def test_a_descent_step_that_hands_back_theta_when_nothing_moves_fails_at_lr_0_and_at_a_zero_gradient():
    def gradient_descent_step(theta, grad, lr):
        return theta if lr == 0 or not np.any(grad) else theta - lr * grad

    def gradient_descent_step_zero_gradient_only(theta, grad, lr):
        return theta if not np.any(grad) else theta - lr * grad
    gradient_descent_step_zero_gradient_only.__name__ = "gradient_descent_step"

    check_gradient_descent_step(gradient_descent_step)
    message = str(failure(check_gradient_descent_step, gradient_descent_step, thorough=True))
    assert "First problem: case 6 (theta and grad of shape (4,), lr = 0)" in message
    assert ("returned, as the new parameters, the very array it was given as theta, not a new array" in message
            and "even when lr is 0 or grad is 0" in message)
    message = str(failure(check_gradient_descent_step, gradient_descent_step_zero_gradient_only, thorough=True))
    assert "grad = [0, 0, 0]" not in message and "theta and grad of shape (2, 3), lr = 0.3" in message
    assert "the very array it was given as theta" in message


def test_a_step_that_returns_a_view_of_an_input_fails_too():
    def gradient_descent_step(theta, grad, lr):
        return theta.reshape(theta.shape) if lr == 0 else theta - lr * grad
    message = str(failure(check_gradient_descent_step, gradient_descent_step, thorough=True))
    assert "an array that shares its memory with the array it was given as theta" in message


def test_a_trajectory_that_is_a_view_of_start_fails():
    def run_gradient_descent(grad_fn, start, lr, steps):
        if steps == 0:
            return np.atleast_2d(start)
        return globals()["run_gradient_descent"](grad_fn, start, lr, steps)
    message = str(failure(check_run_gradient_descent, run_gradient_descent, thorough=True))
    assert "steps = 0" in message and "shares its memory with the array it was given as start" in message


def _batch_gd_stopping(stop):
    def batch_gradient_descent(X, y, w, b, lr, epochs):
        losses = [np.mean((X @ w + b - y) ** 2)]
        for _ in range(epochs):
            grad_w, grad_b = mse_gradient(w, b, X, y)
            if stop(grad_w, grad_b, losses):
                break
            w, b = w - lr * grad_w, b - lr * grad_b
            losses.append(np.mean((X @ w + b - y) ** 2))
        return w, b, np.array(losses)
    return batch_gradient_descent


@pytest.mark.parametrize("stop", [
    lambda grad_w, grad_b, losses: not np.any(grad_w) and grad_b == 0,
    lambda grad_w, grad_b, losses: np.linalg.norm(grad_w) + abs(grad_b) < 1e-10,
    lambda grad_w, grad_b, losses: len(losses) > 1 and losses[-1] >= losses[-2],
], ids=["zero-gradient", "tiny-gradient", "loss-stops-falling"])
def test_a_batch_loop_that_stops_early_fails_the_thorough_check(stop):
    wrong = _batch_gd_stopping(stop)
    check_batch_gradient_descent(wrong)
    message = str(failure(check_batch_gradient_descent, wrong, thorough=True))
    assert "(the first epoch lands exactly on the minimum, where the gradient is 0)" in message
    assert "right, then the history stops: run every one of the epochs asked for" in message


def test_a_batch_loop_that_diverges_must_record_every_epoch():
    wrong = _batch_gd_stopping(lambda grad_w, grad_b, losses: losses[-1] > 10 * losses[0])
    message = str(failure(check_batch_gradient_descent, wrong, thorough=True))
    assert "the loss grows), epochs = 30" in message and "then the history stops" in message


def test_a_batch_loop_that_hands_back_w_at_lr_0_fails_but_zero_epochs_may_return_w_itself(capsys):
    def batch_gradient_descent(X, y, w, b, lr, epochs):
        if lr == 0:
            return w, b, np.full(epochs + 1, np.mean((X @ w + b - y) ** 2))
        return globals()["batch_gradient_descent"](X, y, w, b, lr, epochs)
    message = str(failure(check_batch_gradient_descent, batch_gradient_descent, thorough=True))
    assert "lr = 0, epochs = 3" in message and "the very array it was given as w, not a new array" in message
    # The lesson's own loop hands back the w it was given when there is no epoch at all: that stays right.
    w = np.zeros(1)
    assert ANSWERS["batch_gradient_descent"](np.ones((2, 1)), np.ones(2), w, 0.0, 0.1, 0)[0] is w
    check_batch_gradient_descent(ANSWERS["batch_gradient_descent"], thorough=True)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", ["forward difference", "h ignored"])
def test_a_large_h_case_tells_a_wrong_difference_by_percents_whatever_the_tolerance(wrong):
    from course_lib.checks.descent import _gradient_cases

    def numerical_gradient_wrong(f, theta, h=1e-5):
        gradient = np.zeros(len(theta))
        for j in range(len(theta)):
            step = np.zeros(len(theta))
            if wrong == "forward difference":
                step[j] = h
                gradient[j] = (f(theta + step) - f(theta)) / h
            else:
                step[j] = 1e-5
                gradient[j] = (f(theta + step) - f(theta - step)) / 2e-5
        return gradient
    numerical_gradient_wrong.__name__ = "numerical_gradient"
    errors = [rel_error(case.expected["gradient"], numerical_gradient_wrong(*case.args))
              for case in _gradient_cases(thorough=True)]
    assert max(errors) > 1e-3
    assert "does not do what the exercise asks" in str(failure(check_numerical_gradient, numerical_gradient_wrong,
                                                               thorough=True))
