"""The checks of lessons 02 and 03: right answers pass, each registered mistake fails and is named,
misbehaviour is explained in words, and the convention they check is the one training.fit follows."""


import numpy as np
import pytest
from ipython_cells import shown_in_ipython

from course_lib import data, models, training
from course_lib.checks import CheckFailed, mistake_update, mistakes_for, rel_error
from course_lib.checks.sampling import check_minibatch_gd, check_minibatches, check_sgd, check_sgd_epoch
from course_lib.optimizers import SGD

# --- answers written as learners would, independently of course_lib ------------------------


def sgd_epoch(params, X, y, grad_fn, lr, rng):
    losses = []
    for i in rng.permutation(len(X)):
        loss, grads = grad_fn(params, X[i:i + 1], y[i:i + 1])
        params = {name: value - lr * grads[name] for name, value in params.items()}
        losses.append(loss)
    return params, losses


def sgd_epoch_shuffling_the_data(params, X, y, grad_fn, lr, rng):
    order = np.arange(len(X))
    rng.shuffle(order)
    X, y = X[order], y[order]
    params = {name: value.copy() for name, value in params.items()}
    losses = np.zeros(len(X))
    for k in range(len(X)):
        losses[k], grads = grad_fn(params, X[[k]], y[[k]])
        for name in params:
            params[name] -= lr * grads[name]
    return params, losses


def sgd(params, X, y, grad_fn, lr, epochs, seed):
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        params, epoch_losses = sgd_epoch(params, X, y, grad_fn, lr, rng)
        losses.extend(epoch_losses)
    return params, losses


def minibatches(n, batch_size, rng):
    order = rng.permutation(n)
    for first in range(0, n, batch_size):
        yield order[first:first + batch_size]


def minibatches_as_a_list(n, batch_size, rng):
    order = rng.permutation(n)
    return [list(order[k * batch_size:(k + 1) * batch_size]) for k in range(-(-n // batch_size))]


def minibatch_gd(params, X, y, grad_fn, lr, batch_size, epochs, seed):
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        for batch in minibatches(len(X), batch_size, rng):
            loss, grads = grad_fn(params, X[batch], y[batch])
            params = {name: params[name] - lr * grads[name] for name in params}
            losses.append(loss)
    return params, losses


CHECKS = {"sgd_epoch": check_sgd_epoch, "sgd": check_sgd, "minibatches": check_minibatches,
          "minibatch_gd": check_minibatch_gd}

SETTINGS = {
    "sgd_epoch": [{}, {"examples": (1, 2, 9), "lr": 0.03, "model": "softmax", "seed": 5},
                  {"examples": (3, 8), "lr": 0.1, "model": "mlp", "seed": 14}],
    "sgd": [{}, {"examples": (2, 5), "epochs": 4, "lr": 0.05, "model": "softmax", "seed": 2},
            {"examples": (4, 7), "epochs": 3, "lr": 0.05, "model": "mlp", "seed": 23}],
    "minibatches": [{}, {"cases": ((1, 1), (100, 32), (33, 8), (7, 7)), "epochs": 3, "seed": 4},
                    {"cases": ((9, 4), (10, 3)), "epochs": 2, "seed": 6}],
    "minibatch_gd": [{}, {"examples": (3, 11), "batch_size": 3, "epochs": 3, "lr": 0.05, "model": "softmax",
                          "seed": 1},
                     {"examples": (6, 10), "batch_size": 4, "epochs": 2, "lr": 0.1, "model": "mlp", "seed": 4}],
}

RIGHT = [("sgd_epoch", sgd_epoch), ("sgd_epoch", sgd_epoch_shuffling_the_data), ("sgd", sgd),
         ("minibatches", minibatches), ("minibatches", minibatches_as_a_list), ("minibatch_gd", minibatch_gd)]


def failure(name, fn, **settings) -> CheckFailed:
    with pytest.raises(CheckFailed) as caught:
        CHECKS[name](fn, **settings)
    return caught.value


@pytest.mark.parametrize("name, fn", RIGHT, ids=[fn.__name__ for _, fn in RIGHT])
@pytest.mark.parametrize("which", [0, 1, 2], ids=["visible", "hidden-like", "mlp"])
def test_right_answers_pass(name, fn, which, capsys):
    CHECKS[name](fn, **SETTINGS[name][which])
    assert "passed" in capsys.readouterr().out


MISTAKES = [(name, mistake.id) for name in CHECKS for mistake in mistakes_for(name)]


def test_every_exercise_has_registered_mistakes_with_unique_ids():
    ids = [mistake_id for _, mistake_id in MISTAKES]
    assert len(ids) == len(set(ids))
    assert {name for name, _ in MISTAKES} == set(CHECKS)
    assert {"sgd-no-reshuffle", "sgd-reshuffles-with-new-seed-each-epoch", "sgd-samples-with-replacement",
            "batches-drop-last", "batches-overlap", "batches-sum-not-mean"} <= set(ids)


@pytest.mark.parametrize("name, mistake_id", MISTAKES, ids=[m for _, m in MISTAKES])
@pytest.mark.parametrize("which", [0, 1, 2], ids=["visible", "hidden-like", "mlp"])
def test_each_registered_mistake_fails_and_is_named(name, mistake_id, which):
    wrong = mistake_update(name, mistake_id)
    caught = failure(name, wrong, **SETTINGS[name][which])
    assert caught.mistakes == (mistake_id,)
    mistake = next(m for m in mistakes_for(name) if m.id == mistake_id)
    assert f'"{mistake.name}"' in str(caught) and mistake.hint in str(caught)


# --- the convention checked is training.fit's --------------------------------------------------


def test_a_loop_that_passes_reproduces_fit_update_for_update():
    diabetes = data.load_diabetes()
    model = models.LinearRegression(diabetes.n_features)
    start = model.init_params(3)
    history = training.fit(model, SGD(lr=0.01), diabetes, batch_size=1, epochs=2, seed=7, params=start)
    params, losses = sgd(start, diabetes.X_train, diabetes.y_train, model.loss_and_grad, 0.01, 2, 7)
    assert rel_error(history.update_losses, np.array(losses)) <= 1e-12
    assert all(rel_error(history.params[k], params[k]) <= 1e-12 for k in params)

    digits = data.load_digits()
    model = models.SoftmaxRegression(digits.n_features, digits.n_classes)
    start = model.init_params(1)
    history = training.fit(model, SGD(lr=0.1), digits, batch_size=50, epochs=2, seed=5, params=start)
    params, losses = minibatch_gd(start, digits.X_train, digits.y_train, model.loss_and_grad, 0.1, 50, 2, 5)
    assert len(losses) == 2 * 27 and rel_error(history.update_losses, np.array(losses)) <= 1e-12
    assert all(rel_error(history.params[k], params[k]) <= 1e-12 for k in params)


# --- misbehaviour, explained ---------------------------------------------------------------------


def test_an_exception_is_reported_with_its_type_and_the_learners_line():
    def sgd_epoch(params, X, y, grad_fn, lr, rng):
        order = rng.permutation(len(X))
        return params, [grad_fn(params, X[order[0]], y[order[0]])]

    message = str(failure("sgd_epoch", sgd_epoch))
    assert "raised ValueError: X must be a 2-D array" in message
    assert "return params, [grad_fn(params, X[order[0]], y[order[0]])]" in message


@pytest.mark.parametrize("result, phrase", [
    (None, "returned None (no return statement?)"),
    ("list", "returned a list; it must return a tuple"),
    ("swapped", "in the wrong order"),
    ("no losses", "as losses; it must be a list of numbers"),
])
def test_results_of_the_wrong_structure_are_named(result, phrase):
    def sgd_epoch_returning(params, X, y, grad_fn, lr, rng):
        new_params, losses = sgd_epoch(params, X, y, grad_fn, lr, rng)
        return {None: None, "list": [new_params, losses], "swapped": (losses, new_params),
                "no losses": (new_params, 0.5)}[result]

    assert phrase in str(failure("sgd_epoch", sgd_epoch_returning))


def test_a_loop_that_never_ends_is_stopped_with_a_message():
    def sgd_epoch(params, X, y, grad_fn, lr, rng):
        while True:
            grad_fn(params, X[:1], y[:1])

    def minibatches(n, batch_size, rng):
        while True:
            yield np.arange(batch_size)

    assert "Does its loop end?" in str(failure("sgd_epoch", sgd_epoch))
    assert "Does its loop end?" in str(failure("minibatches", minibatches))


def test_randomness_from_numpys_global_generator_is_caught():
    def sgd(params, X, y, grad_fn, lr, epochs, seed):
        losses = []
        for _ in range(epochs):
            for i in np.random.permutation(len(X)):
                loss, grads = grad_fn(params, X[i:i + 1], y[i:i + 1])
                params = {k: params[k] - lr * grads[k] for k in params}
                losses.append(loss)
        return params, losses

    assert "np.random.permutation and np.random.shuffle" in str(failure("sgd", sgd))


def test_extra_draws_from_the_generator_are_caught_even_when_the_epoch_is_right():
    def sgd_epoch_drawing_twice(params, X, y, grad_fn, lr, rng):
        result = sgd_epoch(params, X, y, grad_fn, lr, rng)
        rng.random()
        return result

    assert "drew other random numbers from rng" in str(failure("sgd_epoch", sgd_epoch_drawing_twice))


def test_shuffling_the_callers_data_in_place_is_named():
    def sgd_epoch(params, X, y, grad_fn, lr, rng):
        rng.shuffle(X)
        return params, []

    assert "changed its input X in place" in str(failure("sgd_epoch", sgd_epoch))


@pytest.mark.parametrize("batches, phrase", [
    (lambda n, b, rng: None, "cannot be looped over"),
    (lambda n, b, rng: [np.arange(n) * 1.0], "integer indices"),
    (lambda n, b, rng: [range(n)], "not a range"),
    (lambda n, b, rng: [np.arange(1, n + 1)], f"run from 0 to"),
    (lambda n, b, rng: [rng.permutation(n)], "sizes"),
])
def test_batches_of_the_wrong_kind_are_named(batches, phrase):
    assert phrase in str(failure("minibatches", batches))


def test_a_loop_whose_batches_are_wrong_says_which_examples_and_points_at_the_iterator():
    def minibatch_gd(params, X, y, grad_fn, lr, batch_size, epochs, seed):
        losses = []
        for _ in range(epochs):
            for first in range(0, len(X), batch_size):
                loss, grads = grad_fn(params, X[first:first + batch_size], y[first:first + batch_size])
                params = {k: params[k] - lr * grads[k] for k in params}
                losses.append(loss)
        return params, losses

    message = str(failure("minibatch_gd", minibatch_gd))
    assert "That is the stored order" in message and "your minibatches: if its check fails" in message


def test_numpy_warnings_of_learner_code_do_not_reach_stderr(capfd):
    def sgd_epoch_overflowing(params, X, y, grad_fn, lr, rng):
        np.exp(np.array([1e6]))
        return sgd_epoch(params, X, y, grad_fn, lr, rng)

    check_sgd_epoch(sgd_epoch_overflowing)
    assert capfd.readouterr().err == ""


def test_the_checks_own_arguments_are_validated():
    with pytest.raises(ValueError, match="examples must be"):
        check_sgd_epoch(sgd_epoch, examples=4)
    with pytest.raises(ValueError, match="lr must be"):
        check_sgd(sgd, lr=-1)
    with pytest.raises(ValueError, match="model must be"):
        check_sgd(sgd, model="cnn")
    with pytest.raises(ValueError, match="batch_size must be at most n"):
        check_minibatches(minibatches, cases=((3, 4),))
    with pytest.raises(ValueError, match="batch_size must be at most the smallest"):
        check_minibatch_gd(minibatch_gd, examples=(3, 10), batch_size=4)
    with pytest.raises(CheckFailed, match="needs your function"):
        check_minibatches(None)


def test_in_ipython_the_failure_shows_the_message_and_hides_the_checks_frames():
    cells = [
        "import numpy as np\nfrom course_lib.checks.sampling import check_minibatches",
        "def minibatches(n, batch_size, rng):\n"
        "    order = rng.permutation(n)\n"
        "    for first in range(0, n - batch_size + 1, batch_size):\n"
        "        yield order[first:first + batch_size]",
        "check_minibatches(minibatches)",
    ]
    shown = shown_in_ipython(cells)
    assert "CheckFailed: minibatches does not cut each epoch into the right mini-batches yet." in shown
    assert '"the last, smaller batch is dropped"' in shown
    assert "sampling.py" not in shown and len(shown.strip().splitlines()) < 20


# --- wrong answers that used to keep full marks ------------------------------------------------------


def sgd_epoch_for_two_params(params, X, y, grad_fn, lr, rng):
    """Right for LinearRegression (w, b) and SoftmaxRegression (W, b), wrong for any model with more params."""
    first, second = params
    losses = []
    for i in rng.permutation(len(X)):
        loss, grads = grad_fn(params, X[i:i + 1], y[i:i + 1])
        params = {first: params[first] - lr * grads[first], second: params[second] - lr * grads[second]}
        losses.append(loss)
    return params, losses


def minibatch_gd_for_two_params(params, X, y, grad_fn, lr, batch_size, epochs, seed):
    rng = np.random.default_rng(seed)
    first, second = params
    losses = []
    for _ in range(epochs):
        for batch in minibatches(len(X), batch_size, rng):
            loss, grads = grad_fn(params, X[batch], y[batch])
            params = {first: params[first] - lr * grads[first], second: params[second] - lr * grads[second]}
            losses.append(loss)
    return params, losses


def test_a_loop_written_for_two_params_passes_the_linear_models_and_fails_the_mlp(capsys):
    for model in ("linear", "softmax"):
        check_sgd_epoch(sgd_epoch_for_two_params, examples=(3, 5), model=model)
        check_minibatch_gd(minibatch_gd_for_two_params, examples=(6, 10), batch_size=4, model=model)
    assert capsys.readouterr().out.count("passed") == 4
    for name, wrong, settings in [("sgd_epoch", sgd_epoch_for_two_params, SETTINGS["sgd_epoch"][2]),
                                  ("minibatch_gd", minibatch_gd_for_two_params, SETTINGS["minibatch_gd"][2])]:
        message = str(failure(name, wrong, **settings))
        assert "an MLP, params keys in the order ['b2', 'W2', 'b1', 'W1']" in message
        assert "raised ValueError: too many values to unpack" in message and "first, second = params" in message


def test_a_loop_that_pairs_params_and_grads_by_position_fails():
    def sgd_epoch(params, X, y, grad_fn, lr, rng):
        losses = []
        for i in rng.permutation(len(X)):
            loss, grads = grad_fn(params, X[i:i + 1], y[i:i + 1])
            params = {name: value - lr * grad for (name, value), grad in zip(params.items(), grads.values())}
            losses.append(loss)
        return params, losses

    message = str(failure("sgd_epoch", sgd_epoch))
    assert "params keys in the order ['b', 'w']" in message and "params['b'] has shape (3,)" in message


@pytest.mark.parametrize("reuse", ["dict", "arrays"])
def test_handing_back_the_callers_params_when_lr_is_0_fails_without_naming_a_mistake(reuse):
    def sgd_epoch(params, X, y, grad_fn, lr, rng):
        new_params = params if reuse == "dict" else dict(params)
        losses = []
        for i in rng.permutation(len(X)):
            loss, grads = grad_fn(new_params, X[i:i + 1], y[i:i + 1])
            if lr != 0:
                new_params = {name: new_params[name] - lr * grads[name] for name in new_params}
            losses.append(loss)
        return new_params, losses

    check_sgd_epoch(sgd_epoch, model="mlp")
    for model in ("linear", "softmax", "mlp"):
        caught = failure("sgd_epoch", sgd_epoch, examples=(4,), lr=0.0, model=model)
        message = str(caught)
        assert "the numbers are right, but sgd_epoch" in message and caught.mistakes == ()
        assert ("returned, as new_params, the very dict it was given as params" in message if reuse == "dict"
                else "is the very array it was given as params[" in message)
        assert "even when lr is 0" in message


def test_handing_back_the_callers_params_fails_the_loops_too():
    def minibatch_gd(params, X, y, grad_fn, lr, batch_size, epochs, seed):
        if lr == 0:
            rng = np.random.default_rng(seed)
            losses = [grad_fn(params, X[batch], y[batch])[0] for _ in range(epochs)
                      for batch in minibatches(len(X), batch_size, rng)]
            return params, losses
        return globals()["minibatch_gd"](params, X, y, grad_fn, lr, batch_size, epochs, seed)

    def sgd(params, X, y, grad_fn, lr, epochs, seed):
        if lr == 0:  # nothing moves: views of the params, and the loss of every update
            rng = np.random.default_rng(seed)
            losses = [loss for _ in range(epochs) for loss in sgd_epoch(params, X, y, grad_fn, lr, rng)[1]]
            return {name: value[...] for name, value in params.items()}, losses
        return globals()["sgd"](params, X, y, grad_fn, lr, epochs, seed)

    check_minibatch_gd(minibatch_gd, **SETTINGS["minibatch_gd"][2])
    message = str(failure("minibatch_gd", minibatch_gd, examples=(7, 9), batch_size=3, lr=0.0, model="softmax"))
    assert "the very dict it was given as params" in message
    message = str(failure("sgd", sgd, examples=(1, 3), epochs=1, lr=0.0))
    assert "shares its memory with the array it was given as params[" in message


def test_right_answers_pass_at_lr_0_with_every_model(capsys):
    for model in ("linear", "softmax", "mlp"):
        check_sgd_epoch(sgd_epoch, examples=(1, 4), lr=0.0, model=model)
        check_sgd_epoch(sgd_epoch_shuffling_the_data, examples=(1, 4), lr=0.0, model=model)
        check_sgd(sgd, examples=(3,), epochs=2, lr=0.0, model=model)
        check_minibatch_gd(minibatch_gd, examples=(7, 9), batch_size=3, lr=0.0, model=model)
    assert capsys.readouterr().out.count("passed") == 12
