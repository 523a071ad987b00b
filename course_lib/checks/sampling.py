"""Checks for the exercises of lessons 02 and 03: one epoch of stochastic gradient descent, the loop
over epochs, the mini-batch iterator and the mini-batch loop.

The exercises, in the signatures the notebooks give::

    sgd_epoch(params, X, y, grad_fn, lr, rng)                         -> (new_params, losses)
    sgd(params, X, y, grad_fn, lr, epochs, seed)                      -> (new_params, losses)
    minibatches(n, batch_size, rng)                                   yields arrays of indices
    minibatch_gd(params, X, y, grad_fn, lr, batch_size, epochs, seed) -> (new_params, losses)

``params`` is a dict of float arrays, as ``model.init_params`` makes it; ``grad_fn(params,
X_batch, y_batch) -> (loss, grads)`` is a model's ``loss_and_grad``, the mean over the batch;
``losses`` lists the batch loss at which each update's gradient was taken. The randomness follows
the convention of :func:`course_lib.training.fit`, so that a correct loop reproduces ``fit``
update for update: one generator ``np.random.default_rng(seed)`` for the whole run, one
``rng.permutation(N)`` per epoch, batches that are consecutive slices of it, the last one smaller
when the batch size does not divide N, and ``params - lr * grads`` after every batch.

The training checks take ``model="linear"`` (LinearRegression), ``"softmax"``
(SoftmaxRegression) or ``"mlp"`` (an MLP with one hidden layer, four params), so that a loop that
only works for the keys or the number of one model's params is caught; the random cases list the
params' keys in the reverse of the model's order, and the new params must be a new dict of new
arrays, never the caller's.

Each ``check_*`` function runs the learner's function on small cases whose examples it can
recognise, so that besides the numbers it can say in words which examples each update used, in
which order and at which parameters. On success it prints one line; otherwise it raises
:class:`~course_lib.checks.CheckFailed` naming the first difference and, when the results are
those of a registered classic mistake (:func:`~course_lib.checks.mistakes_for`), its name and a
hint. The wrong functions registered here are what notebook tests use as simulated learners.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import numbers
from typing import Callable

import numpy as np

from ..models import MLP, LinearRegression, SoftmaxRegression
from ._cases import case_seed
from ._calls import _checked_array, _describe, _Malformed, fail, overlap, quietly, raised_message
from ._compare import MUTANT_TOLERANCE, TOLERANCE, TOLERANCE_NOTE, relative_errors
from .mistakes import EXERCISE_MISTAKES, ExerciseMistake, register_exercise_mistakes
from .._arguments import check_whole

#: How many times more grad_fn calls (or batches) than expected a function may make before it is
#: stopped: a loop that never ends must still come back as a sentence.
_CALL_LIMIT_FACTOR = 10


# --- the reference answers ---------------------------------------------------------------


def _step(params: dict, grads: dict, lr: float) -> dict:
    return {name: params[name] - lr * grads[name] for name in params}


def _sgd_epoch(params, X, y, grad_fn, lr, rng):
    losses = []
    for i in rng.permutation(len(X)):
        loss, grads = grad_fn(params, X[i:i + 1], y[i:i + 1])
        params = _step(params, grads, lr)
        losses.append(loss)
    return params, losses


def _sgd(params, X, y, grad_fn, lr, epochs, seed):
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        params, epoch_losses = _sgd_epoch(params, X, y, grad_fn, lr, rng)
        losses += epoch_losses
    return params, losses


def _minibatches(n, batch_size, rng):
    order = rng.permutation(n)
    for first in range(0, n, batch_size):
        yield order[first:first + batch_size]


def _minibatch_gd(params, X, y, grad_fn, lr, batch_size, epochs, seed):
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        for batch in _minibatches(len(X), batch_size, rng):
            loss, grads = grad_fn(params, X[batch], y[batch])
            params = _step(params, grads, lr)
            losses.append(loss)
    return params, losses


# --- the classic mistakes, each written as a learner would slip -----------------------------


def _sgd_epoch_in_stored_order(params, X, y, grad_fn, lr, rng):
    losses = []
    for i in range(len(X)):
        loss, grads = grad_fn(params, X[i:i + 1], y[i:i + 1])
        params = _step(params, grads, lr)
        losses.append(loss)
    return params, losses


def _sgd_epoch_with_replacement(params, X, y, grad_fn, lr, rng):
    losses = []
    for i in rng.integers(len(X), size=len(X)):
        loss, grads = grad_fn(params, X[i:i + 1], y[i:i + 1])
        params = _step(params, grads, lr)
        losses.append(loss)
    return params, losses


def _sgd_epoch_shuffles_x_and_y_apart(params, X, y, grad_fn, lr, rng):
    X_shuffled, y_shuffled = X[rng.permutation(len(X))], y[rng.permutation(len(y))]
    losses = []
    for i in range(len(X)):
        loss, grads = grad_fn(params, X_shuffled[i:i + 1], y_shuffled[i:i + 1])
        params = _step(params, grads, lr)
        losses.append(loss)
    return params, losses


def _sgd_epoch_gradients_at_start(params, X, y, grad_fn, lr, rng):
    start = params
    losses = []
    for i in rng.permutation(len(X)):
        loss, grads = grad_fn(start, X[i:i + 1], y[i:i + 1])
        params = _step(params, grads, lr)
        losses.append(loss)
    return params, losses


def _sgd_epoch_in_place(params, X, y, grad_fn, lr, rng):
    losses = []
    for i in rng.permutation(len(X)):
        loss, grads = grad_fn(params, X[i:i + 1], y[i:i + 1])
        for name in params:
            params[name] -= lr * grads[name]
        losses.append(loss)
    return params, losses


def _sgd_epoch_update_after_loop(params, X, y, grad_fn, lr, rng):
    losses = []
    for i in rng.permutation(len(X)):
        loss, grads = grad_fn(params, X[i:i + 1], y[i:i + 1])
        losses.append(loss)
    return _step(params, grads, lr), losses


def _sgd_new_generator_each_epoch(params, X, y, grad_fn, lr, epochs, seed):
    losses = []
    for _ in range(epochs):
        params, epoch_losses = _sgd_epoch(params, X, y, grad_fn, lr, np.random.default_rng(seed))
        losses += epoch_losses
    return params, losses


def _sgd_restarts_each_epoch(params, X, y, grad_fn, lr, epochs, seed):
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        new_params, epoch_losses = _sgd_epoch(params, X, y, grad_fn, lr, rng)
        losses += epoch_losses
    return new_params, losses


def _sgd_keeps_last_epoch_losses(params, X, y, grad_fn, lr, epochs, seed):
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        params, losses = _sgd_epoch(params, X, y, grad_fn, lr, rng)
    return params, losses


def _batches_drop_last(n, batch_size, rng):
    order = rng.permutation(n)
    for first in range(0, n - batch_size + 1, batch_size):
        yield order[first:first + batch_size]


def _batches_overlap(n, batch_size, rng):
    order = rng.permutation(n)
    for k in range(math.ceil(n / batch_size)):
        yield order[k:k + batch_size]


def _batches_in_stored_order(n, batch_size, rng):
    for first in range(0, n, batch_size):
        yield np.arange(first, min(first + batch_size, n))


def _batches_with_replacement(n, batch_size, rng):
    for first in range(0, n, batch_size):
        yield rng.integers(n, size=min(batch_size, n - first))


def _batches_new_permutation_each_batch(n, batch_size, rng):
    for first in range(0, n, batch_size):
        yield rng.permutation(n)[first:first + batch_size]


def _minibatch_gd_sums(params, X, y, grad_fn, lr, batch_size, epochs, seed):
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        for batch in _minibatches(len(X), batch_size, rng):
            loss, grads = grad_fn(params, X[batch], y[batch])
            params = _step(params, grads, lr * len(batch))
            losses.append(loss)
    return params, losses


def _minibatch_gd_new_generator_each_epoch(params, X, y, grad_fn, lr, batch_size, epochs, seed):
    losses = []
    for _ in range(epochs):
        for batch in _minibatches(len(X), batch_size, np.random.default_rng(seed)):
            loss, grads = grad_fn(params, X[batch], y[batch])
            params = _step(params, grads, lr)
            losses.append(loss)
    return params, losses


def _minibatch_gd_update_after_batch_loop(params, X, y, grad_fn, lr, batch_size, epochs, seed):
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        for batch in _minibatches(len(X), batch_size, rng):
            loss, grads = grad_fn(params, X[batch], y[batch])
            losses.append(loss)
        params = _step(params, grads, lr)
    return params, losses


_RESHUFFLE_HINT = ("Create the generator once, before the first epoch, and let every epoch draw its own "
                   "permutation from it; a generator made again from the same seed repeats the same draws.")

register_exercise_mistakes("sgd_epoch", [
    ExerciseMistake(
        "sgd-no-reshuffle", "the examples are visited in their stored order",
        "An epoch must visit the examples in a fresh random order, drawn from rng once at the start of the "
        "epoch with rng.permutation; without it every epoch repeats the same sequence of updates.",
        _sgd_epoch_in_stored_order),
    ExerciseMistake(
        "sgd-samples-with-replacement", "examples drawn with replacement",
        "Drawing each example at random (rng.integers, rng.choice) is a valid algorithm, but it is not an "
        "epoch: some examples come twice and about a third never. Shuffle the indices once instead, so that "
        "every example is used exactly once.",
        _sgd_epoch_with_replacement),
    ExerciseMistake(
        "sgd-shuffles-x-and-y-separately", "X and y shuffled with different permutations",
        "Each example's features must stay with its own target. Draw one permutation and index both X and "
        "y with it.",
        _sgd_epoch_shuffles_x_and_y_apart),
    ExerciseMistake(
        "sgd-gradients-at-epoch-start", "every gradient taken at the parameters of the epoch's start",
        "Each update must take its gradient at the parameters the previous update produced, so pass the "
        "latest params to grad_fn, not the ones the epoch started with.",
        _sgd_epoch_gradients_at_start),
    ExerciseMistake(
        "sgd-changes-params-in-place", "changes the caller's params in place",
        "params[name] -= ... writes into the arrays the caller passed in. Build a new dict of new arrays "
        "at each update, so that the params you were given stay as they were.",
        _sgd_epoch_in_place),
    ExerciseMistake(
        "sgd-update-after-loop", "one update after the loop instead of one per example",
        "The update belongs inside the loop over the examples (check its indentation): stochastic gradient "
        "descent moves the parameters after every single example.",
        _sgd_epoch_update_after_loop),
])

register_exercise_mistakes("sgd", [
    ExerciseMistake(
        "sgd-reshuffles-with-new-seed-each-epoch", "a new generator from the same seed every epoch",
        "Every epoch visits the examples in the same order. " + _RESHUFFLE_HINT,
        _sgd_new_generator_each_epoch),
    ExerciseMistake(
        "sgd-restarts-each-epoch", "every epoch starts again from the initial parameters",
        "Each epoch must continue from the parameters the previous epoch returned; keep the result of each "
        "epoch in the variable the next epoch starts from.",
        _sgd_restarts_each_epoch),
    ExerciseMistake(
        "sgd-keeps-last-epoch-losses", "only the last epoch's losses are returned",
        "Collect the losses of every epoch (one per update of the whole run) instead of replacing them "
        "with each new epoch's list.",
        _sgd_keeps_last_epoch_losses),
])

register_exercise_mistakes("minibatches", [
    ExerciseMistake(
        "batches-drop-last", "the last, smaller batch is dropped",
        "When batch_size does not divide n, the remaining examples form one last, smaller batch. Dropping it "
        "leaves those examples out of the epoch.",
        _batches_drop_last),
    ExerciseMistake(
        "batches-overlap", "consecutive batches overlap",
        "Batch k starts at position k * batch_size of the permutation, not at position k: the batches "
        "must not share examples.",
        _batches_overlap),
    ExerciseMistake(
        "batches-no-shuffle", "the batches follow the stored order",
        "Draw one random permutation of the n indices at the start of the epoch and cut it into batches; "
        "without it every epoch sees the same batches.",
        _batches_in_stored_order),
    ExerciseMistake(
        "batches-with-replacement", "indices drawn with replacement",
        "Random indices drawn batch by batch repeat some examples and miss others. Cut one permutation of "
        "all n indices into consecutive slices instead.",
        _batches_with_replacement),
    ExerciseMistake(
        "batches-new-permutation-per-batch", "a new permutation for every batch",
        "Slices of different permutations overlap and leave gaps. Draw a single permutation per epoch, "
        "before the loop, and slice that one.",
        _batches_new_permutation_each_batch),
])

register_exercise_mistakes("minibatch_gd", [
    ExerciseMistake(
        "batches-sum-not-mean", "the batch gradient is a sum instead of a mean",
        "Your updates are batch_size times too large: the gradient of a summed loss grows with the batch. "
        "Use the mean over the batch (what grad_fn returns), so that lr means the same for every batch size.",
        _minibatch_gd_sums),
    ExerciseMistake(
        "minibatch-reshuffles-with-new-seed-each-epoch", "a new generator from the same seed every epoch",
        "Every epoch cuts the same batches. " + _RESHUFFLE_HINT,
        _minibatch_gd_new_generator_each_epoch),
    ExerciseMistake(
        "minibatch-update-after-batch-loop", "one update per epoch instead of one per batch",
        "The update belongs inside the loop over the batches (check its indentation): mini-batch gradient "
        "descent moves the parameters after every batch.",
        _minibatch_gd_update_after_batch_loop),
])


# --- cases the checks can read: recognisable examples and a recording grad_fn ----------------


@dataclasses.dataclass(frozen=True)
class _Visit:
    """One call of grad_fn: which rows of X it got (-1 for a row that is not one of X's), whether
    its targets are those rows' targets, and a copy of the params it got (None if not a dict)."""

    rows: tuple[int, ...]
    targets_match: bool
    params: dict | None


class _TooManyCalls(Exception):
    """Raised by the recording grad_fn to stop a function that calls it far more often than it should."""


class _RecordingGradient:
    """``grad_fn`` for a case: the model's ``loss_and_grad``, remembering every call."""

    def __init__(self, model, X: np.ndarray, y: np.ndarray, limit: int):
        self.model, self.X, self.y, self.limit = model, X, y, limit
        self.row_of = {row.tobytes(): i for i, row in enumerate(X)}
        self.visits: list[_Visit] = []

    def __call__(self, params, X_batch, y_batch):
        if len(self.visits) >= self.limit:
            raise _TooManyCalls(f"grad_fn was called more than {self.limit} times")
        self.visits.append(self._visit(params, X_batch, y_batch))
        return self.model.loss_and_grad(params, X_batch, y_batch)

    def _visit(self, params, X_batch, y_batch) -> _Visit:
        X_batch, y_batch = np.asarray(X_batch), np.asarray(y_batch)
        rows = ()
        if X_batch.ndim == 2 and X_batch.shape[1] == self.X.shape[1] and X_batch.dtype == self.X.dtype:
            rows = tuple(self.row_of.get(np.ascontiguousarray(row).tobytes(), -1) for row in X_batch)
        known = [r for r in rows if r >= 0]
        targets_match = (len(known) == len(rows) and y_batch.shape == (len(rows),)
                         and bool(np.array_equal(y_batch, self.y[known])))
        snapshot = ({k: np.array(v, dtype=float, copy=True) for k, v in params.items()}
                    if isinstance(params, dict) else None)
        return _Visit(rows, targets_match, snapshot)


@dataclasses.dataclass(frozen=True)
class _Case:
    """One data set and starting point; ``settings`` are the arguments that follow ``grad_fn``."""

    number: int
    title: str
    model: object
    X: np.ndarray
    y: np.ndarray
    params: dict
    settings: dict
    rng_seed: int

    def updates_per_epoch(self) -> int:
        return math.ceil(len(self.X) / self.settings.get("batch_size", 1))

    def describe(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"case {self.number} ({self.title}; {settings})"


def _telling_seed(n: int, epochs: int, base: int) -> int:
    """The first seed from ``base`` on whose generator shuffles ``n`` examples, in each of ``epochs``
    epochs, into an order other than the stored one and other than the epochs before (as far as n
    allows), so that forgetting to shuffle or to reshuffle shows in the results."""
    identity = tuple(range(n))
    for seed in itertools.count(base):
        rng = np.random.default_rng(seed)
        orders = [tuple(int(i) for i in rng.permutation(n)) for _ in range(epochs)]
        if math.factorial(min(n, 10)) > epochs:
            if identity not in orders and len(set(orders)) == epochs:
                return seed
        elif n < 2 or orders[0] != identity:
            return seed


def _case(number: int, n: int, kind: str, seed: int, settings: dict) -> _Case:
    """``n`` examples with distinct rows (and, for regression, distinct targets); case 1 of a linear
    problem is small enough to follow by hand."""
    rng = np.random.default_rng([seed, number])
    if kind == "linear" and number == 1:
        X = (np.arange(1.0, n + 1.0) / n)[:, None]
        y = np.round(rng.uniform(-2, 2, size=n), 1) + np.arange(n) * 1e-3
        return _Case(number, f"{n} examples of 1 feature, to follow by hand", LinearRegression(1), X, y,
                     {"w": np.array([0.5]), "b": np.array([0.0])}, settings, _telling_seed(n, 1, seed + number))
    X = rng.normal(size=(n, 3))
    if kind == "linear":
        model, y, what = LinearRegression(3), rng.normal(size=n), "targets"
    elif kind == "softmax":
        model, y, what = SoftmaxRegression(3, 4), rng.integers(4, size=n), "labels of 4 classes"
    else:
        model, y, what = MLP(3, 4, hidden=(5,)), rng.integers(4, size=n), "labels of 4 classes, an MLP"
    params = {k: rng.normal(size=v.shape) for k, v in model.init_params(seed).items()}
    # The keys come in the reverse of the order loss_and_grad lists its gradients in (for the linear
    # models; an MLP lists them in the order of params): new params must pair every array with the
    # gradient of its own name, never by position (zip(params.values(), grads.values())).
    params = dict(reversed(params.items()))
    title = f"{_count(n, 'random example')} of 3 features, {what}, params keys in the order {list(params)}"
    return _Case(number, title, model, X, y, params, settings, _telling_seed(n, 1, seed + number))


# --- calling learner code ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Run:
    """What one call of a training function did: a problem in words, or its results and its visits."""

    problem: str | None = None
    raised: type | None = None
    mutated: bool = False
    aliased: str | None = None
    """In words, how the returned new_params reuse the params the function was given (judged last)."""
    params: dict | None = None
    losses: np.ndarray | None = None
    visits: tuple[_Visit, ...] = ()
    rng_after: dict | None = None
    epochs: tuple[tuple[tuple[int, ...], ...], ...] = ()
    """For an iterator: the index batches of each epoch."""


def _changed(case: _Case, given: tuple) -> str | None:
    params, X, y = given
    if not isinstance(params, dict) or set(params) != set(case.params):
        return "params (it added or removed keys)"
    for key, value in case.params.items():
        if not np.array_equal(params[key], value):
            return f"params[{key!r}]"
    if not np.array_equal(X, case.X):
        return "X"
    if not np.array_equal(y, case.y):
        return "y"
    return None


def _run_training(fn, name: str, case: _Case, with_rng: bool) -> _Run:
    """Call ``fn(params, X, y, grad_fn, *settings[, rng])`` on copies of ``case`` and judge what it did."""
    updates = case.updates_per_epoch() * case.settings.get("epochs", 1)
    grad_fn = _RecordingGradient(case.model, case.X, case.y, _CALL_LIMIT_FACTOR * updates + 10)
    given = (copy.deepcopy(case.params), case.X.copy(), case.y.copy())
    rng = np.random.default_rng(case.rng_seed) if with_rng else None
    arguments = (*given, grad_fn, *case.settings.values(), *([rng] if with_rng else []))
    try:
        with quietly():
            result = fn(*arguments)
    except _TooManyCalls as error:
        return _Run(problem=f"{name} was stopped: {error}, for a run of {updates} updates. Does its loop end?",
                    raised=_TooManyCalls, visits=tuple(grad_fn.visits))
    except Exception as error:  # noqa: BLE001 - any failure of learner code becomes a message
        return _Run(problem=raised_message(name, error), raised=type(error), visits=tuple(grad_fn.visits))
    changed = _changed(case, given)
    if changed:
        return _Run(problem=f"{name} changed its input {changed} in place.", mutated=True,
                    visits=tuple(grad_fn.visits))
    try:
        params, losses = _unpack(result, case.params, name)
    except _Malformed as error:
        return _Run(problem=str(error), visits=tuple(grad_fn.visits))
    return _Run(params=params, losses=losses, visits=tuple(grad_fn.visits), aliased=_reused(result[0], given[0], name),
                rng_after=rng.bit_generator.state if with_rng else None)


def _reused(new_params: dict, params: dict, name: str) -> str | None:
    """In words, how ``new_params`` is the dict ``params`` or holds one of its arrays (or a view of one)."""
    fix = ("Build a new dict of new arrays (params[key] - lr * grads[key] makes a new array, even when lr is 0), "
           "so that the caller's params stay the starting point whatever is done with the result.")
    if new_params is params:
        return f"{name} returned, as new_params, the very dict it was given as params. {fix}"
    for key, value in new_params.items():
        for given_key, given in params.items():
            if isinstance(value, np.ndarray) and isinstance(given, np.ndarray) and overlap(value, given):
                how = "is the very array" if value is given else "shares its memory with the array"
                return f"{name}'s new_params[{key!r}] {how} it was given as params[{given_key!r}]. {fix}"
    return None


def _unpack(result, params: dict, name: str) -> tuple[dict, np.ndarray]:
    expected = "the pair (new_params, losses)"
    if result is None:
        raise _Malformed(f"{name} returned None (no return statement?); it must return {expected}.")
    if isinstance(result, list) and len(result) == 2:
        raise _Malformed(f"{name} returned a list; it must return a tuple, {expected} (write `return a, b`).")
    if not isinstance(result, tuple) or len(result) != 2:
        raise _Malformed(f"{name} returned {_describe(result)}; it must return {expected}.")
    new_params, losses = result
    if not isinstance(new_params, dict):
        if isinstance(losses, dict):
            raise _Malformed(f"{name} returned (losses, new_params), in the wrong order: the params come first.")
        raise _Malformed(f"{name} returned {_describe(new_params)} as new_params; it must be a dict with the "
                         f"keys {list(params)}, like params.")
    if set(new_params) != set(params):
        raise _Malformed(f"{name}'s new_params has the keys {sorted(new_params)}; it must have exactly the keys "
                         f"of params: {sorted(params)}.")
    checked = {key: _checked_array(new_params[key], params[key], f"new_params[{key!r}]", f"params[{key!r}]", name)
               for key in params}
    if isinstance(losses, (dict, str)) or np.ndim(losses) != 1:
        raise _Malformed(f"{name} returned {_describe(losses)} as losses; it must be a list of numbers, one "
                         f"per update.")
    try:
        losses = np.array([float(loss) for loss in losses])
    except (TypeError, ValueError):
        raise _Malformed(f"{name}'s losses hold something that is not a number; keep the loss (a float) that "
                         f"grad_fn returns for each update.") from None
    return checked, losses


def _run_batches(fn, name: str, n: int, batch_size: int, epochs: int, seed: int) -> _Run:
    """Collect ``epochs`` epochs of ``fn(n, batch_size, rng)`` from one generator, as index arrays."""
    rng = np.random.default_rng(seed)
    call = f"{name}({n}, {batch_size}, rng)"
    limit = _CALL_LIMIT_FACTOR * math.ceil(n / batch_size) + 10
    epochs_seen = []
    for _ in range(epochs):
        try:
            with quietly():
                produced = fn(n, batch_size, rng)
            try:
                iterator = iter(produced)
            except TypeError:
                return _Run(problem=f"{call} returned {_describe(produced)}, which cannot be looped over; it must "
                                    f"yield the batches one by one (a generator, written with `yield`).")
            with quietly():
                batches = list(itertools.islice(iterator, limit + 1))
        except Exception as error:  # noqa: BLE001 - any failure of learner code becomes a message
            return _Run(problem=raised_message(name, error), raised=type(error))
        if len(batches) > limit:
            return _Run(problem=f"{call} yielded more than {limit} batches; an epoch of {n} examples in batches of "
                                f"{batch_size} has {math.ceil(n / batch_size)}. Does its loop end?",
                        raised=_TooManyCalls)
        try:
            epochs_seen.append(tuple(_index_array(b, call, n, k) for k, b in enumerate(batches, 1)))
        except _Malformed as error:
            return _Run(problem=str(error))
    batches = tuple(tuple(tuple(int(i) for i in batch) for batch in epoch) for epoch in epochs_seen)
    return _Run(epochs=batches, rng_after=rng.bit_generator.state)


def _index_array(batch, call: str, n: int, number: int) -> np.ndarray:
    where = f"{call}'s batch {number}"
    if isinstance(batch, (slice, range)):
        raise _Malformed(f"{where} is a {type(batch).__name__}; yield an array of the indices themselves "
                         f"(the entries of the shuffled order), not a {type(batch).__name__}.")
    array = np.asarray(batch)
    if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        raise _Malformed(f"{where} is {_describe(batch)} of dtype {array.dtype}; it must be a 1-D array of "
                         f"integer indices.")
    if array.size and (array.min() < 0 or array.max() >= n):
        raise _Malformed(f"{where} holds the index {array.max() if array.max() >= n else array.min()}; the "
                         f"indices of {n} examples run from 0 to {n - 1}.")
    return array


# --- comparing runs and saying how they differ ---------------------------------------------


def _close(expected, got, tolerance: float) -> bool:
    errors = relative_errors(expected, got)
    return errors.size == 0 or float(errors.max()) <= tolerance


def _same_params(a: dict | None, b: dict | None, tolerance: float) -> bool:
    if a is None or b is None:
        return a is b
    return set(a) == set(b) and all(np.shape(a[k]) == np.shape(b[k]) and _close(a[k], b[k], tolerance) for k in a)


def _agree(a: _Run, b: _Run) -> bool:
    """Whether two runs on the same case did the same thing, within :data:`MUTANT_TOLERANCE`."""
    if a.problem is not None or b.problem is not None:
        return a.problem is not None and b.problem is not None and a.raised is b.raised and a.mutated == b.mutated
    if (a.aliased is None) != (b.aliased is None):
        return False
    same_losses = (a.losses is None and b.losses is None) or (
        a.losses is not None and b.losses is not None and a.losses.shape == b.losses.shape
        and _close(a.losses, b.losses, MUTANT_TOLERANCE))
    return (len(a.visits) == len(b.visits) and all(map(_same_visit, a.visits, b.visits))
            and a.rng_after == b.rng_after and a.epochs == b.epochs and same_losses
            and _same_params(a.params, b.params, MUTANT_TOLERANCE))


def _same_visit(a: _Visit, b: _Visit) -> bool:
    return (a.rows == b.rows and a.targets_match == b.targets_match
            and _same_params(a.params, b.params, MUTANT_TOLERANCE))


def _first_array_difference(expected: dict, got: dict) -> str:
    for key in expected:
        errors = relative_errors(expected[key], got[key])
        if errors.size and errors.max() > TOLERANCE:
            at = np.unravel_index(np.argmax(errors), errors.shape)
            index = "".join(f"[{i}]" for i in at)
            return (f"{key}{index}: expected {float(expected[key][at]):.10g}, got {float(got[key][at]):.10g} "
                    f"(relative error {float(errors[at]):.2g})")
    return "no difference"


def _where(case: _Case, update: int) -> str:
    """'update 7 (epoch 2, update 3 of 4)' for a 0-based update number."""
    per_epoch = case.updates_per_epoch()
    epoch, within = divmod(update, per_epoch)
    if case.settings.get("epochs", 1) == 1:
        return f"update {update + 1} of {per_epoch}"
    return f"update {update + 1} (epoch {epoch + 1}, update {within + 1} of {per_epoch})"


def _epoch_rows(visits, case: _Case, epoch: int) -> list[int]:
    per_epoch = case.updates_per_epoch()
    return [r for v in visits[epoch * per_epoch:(epoch + 1) * per_epoch] for r in v.rows]


def _show_order(rows: list[int], limit: int = 12) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return f"[{shown}{', ...' if len(rows) > limit else ''}]"


def _order_problem(case: _Case, expected: _Run, got: _Run, update: int) -> str:
    """Why update ``update`` used other examples than it should, in words."""
    per_epoch = case.updates_per_epoch()
    epoch = update // per_epoch
    n = len(case.X)
    theirs, ours = _epoch_rows(got.visits, case, epoch), _epoch_rows(expected.visits, case, epoch)
    lines = [f"In epoch {epoch + 1} your function visited the examples in the order {_show_order(theirs)}; "
             f"the permutation drawn from the generator gives {_show_order(ours)}."]
    if theirs == list(range(n)):
        lines.append("That is the stored order: the examples were not shuffled.")
    elif len(set(theirs)) < len(theirs) or sorted(theirs) != list(range(n)):
        missing = sorted(set(range(n)) - set(theirs))
        lines.append(f"Some examples came more than once and {len(missing)} never "
                     f"({_show_order(missing, 6)}): an epoch visits each example exactly once.")
    elif epoch > 0 and theirs == _epoch_rows(got.visits, case, epoch - 1):
        lines.append("That is the same order as in the epoch before: each epoch must draw a new permutation.")
    else:
        lines.append("Draw the order from the generator of the exercise, once per epoch (rng.permutation(N)), "
                     "not from np.random, and draw nothing else from it.")
    return "\n".join(lines)


def _training_difference(case: _Case, expected: _Run, got: _Run, unit: str, helper: str | None) -> str | None:
    """The first way ``got`` differs from ``expected`` on ``case``, in words, or None if it does not.

    ``helper`` names the learner's function that a loop relies on for the examples of each update,
    to be suspected first when those are wrong."""
    suspect = (f"\nYour loop takes its examples from your {helper}: if its check fails, fix that first."
               if helper else "")
    if got.problem is not None:
        return f"In {case.describe()}: {got.problem}"
    visits, wanted = got.visits, expected.visits
    for update, (theirs, ours) in enumerate(zip(visits, wanted)):
        where = f"In {case.describe()}, {_where(case, update)}"
        if len(theirs.rows) != len(ours.rows):
            return (f"{where}: grad_fn got {len(theirs.rows)} examples; this update should use {len(ours.rows)} "
                    f"({unit}).{suspect}")
        if -1 in theirs.rows:
            return f"{where}: grad_fn got rows that are not examples of X; pass rows of X as they are."
        if not theirs.targets_match:
            return (f"{where}: grad_fn got the examples {list(theirs.rows)} of X with targets that are not "
                    f"theirs: index X and y with the same indices.")
        if theirs.rows != ours.rows:
            return (f"{where}: grad_fn got the examples {list(theirs.rows)}.\n"
                    + _order_problem(case, expected, got, update) + suspect)
        if not _same_params(ours.params, theirs.params, TOLERANCE):
            stale = _same_params(case.params, theirs.params, TOLERANCE) and update > 0
            return (f"{where}: grad_fn got params that differ from the result of the update before, "
                    f"{_first_array_difference(ours.params, theirs.params)}."
                    + (" They are the params you started with." if stale else ""))
    if len(visits) != len(wanted):
        epochs = case.settings.get("epochs", 1)
        per_epoch = case.updates_per_epoch()
        return (f"In {case.describe()}: your function made {len(visits)} updates (calls of grad_fn); "
                f"{epochs} epoch{'s' if epochs > 1 else ''} of {len(case.X)} examples make {len(wanted)}"
                + (f", {per_epoch} per epoch" if epochs > 1 else "") + f" ({unit}).{suspect}")
    if not _same_params(expected.params, got.params, TOLERANCE):
        return (f"In {case.describe()}: every gradient was taken at the right params, but the returned new_params "
                f"differ, {_first_array_difference(expected.params, got.params)}. After the last update, "
                f"return its result.\n{TOLERANCE_NOTE}")
    if got.losses.shape != expected.losses.shape:
        return (f"In {case.describe()}: your function returned {len(got.losses)} losses; it must return "
                f"{len(expected.losses)}, one per update of the whole run, in order.")
    if not _close(expected.losses, got.losses, TOLERANCE):
        k = int(np.argmax(relative_errors(expected.losses, got.losses)))
        return (f"In {case.describe()}: losses[{k}] is {got.losses[k]:.10g}; expected {expected.losses[k]:.10g}, "
                f"the loss grad_fn returned for that update's batch (before the update).")
    if got.rng_after != expected.rng_after:
        return (f"In {case.describe()}: the results are right, but your function drew other random numbers from "
                f"rng than one rng.permutation(N): the next epoch, drawing from the same generator, would get a "
                f"different order than training.fit's.")
    if got.aliased is not None:
        return f"In {case.describe()}: the numbers are right, but {got.aliased}"
    return None


def _named(function_name: str, run_case: Callable, cases: list, learner_runs: list, expected_runs: list) -> list:
    """The registered mistakes whose wrong function does what the learner's did in every case."""
    found = []
    for mistake in EXERCISE_MISTAKES.get(function_name, ()):
        theirs = [run_case(mistake.wrong, case) for case in cases]
        if (all(_agree(a, b) for a, b in zip(learner_runs, theirs))
                and not all(_agree(a, b) for a, b in zip(expected_runs, theirs))):
            found.append(mistake)
    return found


def _report(name: str, task: str, message: str, mistakes: list) -> None:
    __tracebackhide__ = True
    lines = [f"{name} does not {task} yet.", message]
    lines += [f'This matches a classic mistake, "{m.name}": {m.hint}' for m in mistakes]
    fail("\n".join(lines), tuple(m.id for m in mistakes))


def _check_training(fn, function_name: str, task: str, cases: list[_Case], with_rng: bool, unit: str,
                    helper: str | None = None) -> str:
    """Run ``fn`` and the reference on every case; fail with the first difference, or return the name."""
    __tracebackhide__ = True
    if not callable(fn):
        fail(f"the check needs your function {function_name}, got {_describe(fn)}.")
    name = getattr(fn, "__name__", function_name)
    reference = {"sgd_epoch": _sgd_epoch, "sgd": _sgd, "minibatch_gd": _minibatch_gd}[function_name]

    def run(function, case):
        return _run_training(function, name, case, with_rng)

    expected = [run(reference, case) for case in cases]
    runs = [run(fn, case) for case in cases]
    if not with_rng and runs[0].problem is None and not _agree(run(fn, cases[0]), runs[0]):
        _report(name, task, (f"Called twice with the same seed on {cases[0].describe()}, your function gave "
                             f"different results. All its randomness must come from one "
                             f"np.random.default_rng(seed); np.random.permutation and np.random.shuffle draw "
                             f"from NumPy's global generator instead."), [])
    for case, ours, theirs in zip(cases, expected, runs):
        message = _training_difference(case, ours, theirs, unit, helper)
        if message:
            # Returning the params it was given is no catalogued mistake; with lr=0 it would pass for one
            # (an in-place update by zero), so no mistake is named for it.
            reused = theirs.aliased is not None and message.endswith(theirs.aliased)
            _report(name, task, message, [] if reused else _named(function_name, run, cases, runs, expected))
    return name


def _count(things, noun: str) -> str:
    """``_count([a, b], "case")`` is "2 cases"; a number counts itself."""
    number = things if isinstance(things, int) else len(things)
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _check_examples(examples) -> tuple[int, ...]:
    if not isinstance(examples, (tuple, list)) or not examples:
        raise ValueError(f"examples must be a non-empty tuple of example counts such as (4, 7), got {examples!r}")
    for n in examples:
        check_whole("each number of examples", n, 1)
    return tuple(examples)


def _check_lr(lr) -> None:
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 <= lr < math.inf:
        raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")


def _check_model(model) -> None:
    if model not in ("linear", "softmax", "mlp"):
        raise ValueError(f"model must be 'linear' (LinearRegression), 'softmax' (SoftmaxRegression) or 'mlp' "
                         f"(an MLP with one hidden layer, four params), got {model!r}")


# --- the checks ------------------------------------------------------------------------------


def check_sgd_epoch(fn, *, examples=(4, 7), lr: float = 0.1, model: str = "linear", seed: int = 0) -> None:
    """Check ``fn(params, X, y, grad_fn, lr, rng) -> (new_params, losses)``: one epoch of SGD.

    The epoch must draw ``order = rng.permutation(len(X))`` once, then for each ``i`` in that order
    take ``loss, grads = grad_fn(params, X[i:i+1], y[i:i+1])`` at the latest params, move to new
    params ``params - lr * grads`` (new arrays, the inputs untouched) and record ``loss``. It is run
    on one case per entry of ``examples`` (that many examples; the first, for ``model="linear"``,
    small enough to follow by hand), with a LinearRegression, a SoftmaxRegression or an MLP with one
    hidden layer (``model="linear"``, ``"softmax"`` or ``"mlp"``); the random cases give ``params``
    with its keys in the reverse of the model's order. The returned params must be a new dict of new
    arrays, even with ``lr=0``.
    """
    __tracebackhide__ = True
    examples = _check_examples(examples)
    _check_lr(lr)
    _check_model(model)
    seed = case_seed(seed)
    cases = [_case(k, n, model, seed, {"lr": lr}) for k, n in enumerate(examples, 1)]
    name = _check_training(fn, "sgd_epoch", "do one epoch of stochastic gradient descent", cases,
                           with_rng=True, unit="one example per update, passed as the slices X[i:i+1], y[i:i+1]")
    print(f"check_sgd_epoch passed: {name} visits every example once, in the order rng.permutation gives, takes "
          f"each gradient at the latest params, and returns the right params and losses "
          f"({_count(cases, 'case')}, lr={lr}, relative error <= {TOLERANCE:g}).")


def check_sgd(fn, *, examples=(4, 6), epochs: int = 3, lr: float = 0.1, model: str = "linear",
              seed: int = 0) -> None:
    """Check ``fn(params, X, y, grad_fn, lr, epochs, seed) -> (new_params, losses)``: SGD for several epochs.

    One generator ``np.random.default_rng(seed)`` made before the first epoch, every epoch a new
    ``rng.permutation(len(X))`` from it (one epoch as in :func:`check_sgd_epoch`), each epoch starting
    from the previous one's params, and ``losses`` holding all ``epochs * len(X)`` update losses.
    The result must not change when the function is called again with the same seed.
    """
    __tracebackhide__ = True
    examples = _check_examples(examples)
    check_whole("epochs", epochs, 1)
    _check_lr(lr)
    _check_model(model)
    check_whole("seed", seed, 0)
    seed = case_seed(seed)
    cases = [_case(k, n, model, seed, {"lr": lr, "epochs": epochs, "seed": _telling_seed(n, epochs, seed + k)})
             for k, n in enumerate(examples, 1)]
    name = _check_training(fn, "sgd", "run stochastic gradient descent over several epochs", cases,
                           with_rng=False, unit="one example per update", helper="sgd_epoch")
    print(f"check_sgd passed: {name} reshuffles every epoch from one generator seeded once, continues from "
          f"each epoch's params and returns every update's loss ({_count(cases, 'case')} of "
          f"{_count(epochs, 'epoch')}, lr={lr}), and repeats itself exactly for the same seed.")


def check_minibatches(fn, *, cases=((10, 4), (12, 3), (5, 1), (6, 6)), epochs: int = 2, seed: int = 0) -> None:
    """Check ``fn(n, batch_size, rng)``, which yields the index arrays of one epoch's mini-batches.

    For each ``(n, batch_size)`` in ``cases``, ``epochs`` epochs are drawn from one generator: each
    must draw ``order = rng.permutation(n)`` once and yield the consecutive slices
    ``order[0:B], order[B:2B], ...``, the last one smaller when B does not divide n, so that every
    index appears exactly once per epoch, in ``ceil(n / B)`` batches.
    """
    __tracebackhide__ = True
    if not callable(fn):
        fail(f"check_minibatches needs your function minibatches, got {_describe(fn)}.")
    if not isinstance(cases, (tuple, list)) or not cases:
        raise ValueError(f"cases must be a non-empty tuple of (n, batch_size) pairs, got {cases!r}")
    for pair in cases:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"each case must be a pair (n, batch_size), got {pair!r}")
        check_whole("n", pair[0], 1)
        check_whole("batch_size", pair[1], 1)
        if pair[1] > pair[0]:
            raise ValueError(f"batch_size must be at most n, got the case {pair!r}")
    check_whole("epochs", epochs, 1)
    name = getattr(fn, "__name__", "minibatches")
    seed = case_seed(seed)
    seeds = {pair: _telling_seed(pair[0], epochs, seed + number) for number, pair in enumerate(cases, 1)}

    def run(function, pair):
        return _run_batches(function, name, *pair, epochs, seeds[pair])

    expected = [run(_minibatches, pair) for pair in cases]
    runs = [run(fn, pair) for pair in cases]
    for pair, ours, theirs in zip(cases, expected, runs):
        message = _batches_difference(pair, ours, theirs)
        if message:
            _report(name, "cut each epoch into the right mini-batches", message,
                    _named("minibatches", run, list(cases), runs, expected))
    print(f"check_minibatches passed: {name} covers every index exactly once per epoch, in consecutive slices of "
          f"rng.permutation(n) with a smaller last batch, and draws a new order every epoch "
          f"({_count(cases, 'case')} x {_count(epochs, 'epoch')}).")


def _batches_difference(pair, expected: _Run, got: _Run) -> str | None:
    n, size = pair
    call = f"minibatches({n}, {size}, rng)"
    if got.problem is not None:
        return f"For {call}: {got.problem}"
    for epoch, (theirs, ours) in enumerate(zip(got.epochs, expected.epochs)):
        label = f"{call}, epoch {epoch + 1}" if len(expected.epochs) > 1 else call
        seen = [i for batch in theirs for i in batch]
        missing = sorted(set(range(n)) - set(seen))
        repeated = sorted({i for i in seen if seen.count(i) > 1})
        sizes, wanted_sizes = [len(batch) for batch in theirs], [len(batch) for batch in ours]
        if missing or repeated:
            text = f"{label} yielded batches of sizes {sizes}"
            if missing:
                text += f"; the indices {_show_order(missing, 8)} never appear"
            if repeated:
                text += f"; the indices {_show_order(repeated, 8)} appear more than once"
            return text + ". Every example must be in exactly one batch of each epoch."
        if sizes != wanted_sizes:
            return (f"{label} yielded batches of sizes {sizes}; it should yield {len(ours)} batches of sizes "
                    f"{wanted_sizes}: full batches first, the remainder last.")
        if theirs != ours:
            text = (f"{label} yielded the indices in the order {_show_order(seen)}; the permutation drawn from "
                    f"rng gives {_show_order([i for batch in ours for i in batch])}.")
            if seen == list(range(n)):
                text += " That is the stored order: nothing was shuffled."
            elif epoch > 0 and theirs == got.epochs[epoch - 1]:
                text += " That is the order of the epoch before: each call must draw a new permutation."
            else:
                text += (" Draw the order from the generator you are given, once per epoch "
                         "(rng.permutation(n)), and yield consecutive slices of it.")
            return text
    if got.rng_after != expected.rng_after:
        return (f"{call} yields the right batches, but draws other random numbers from rng than one "
                f"rng.permutation(n) per epoch, so the next epoch's order would not be training.fit's.")
    return None


def check_minibatch_gd(fn, *, examples=(10, 7), batch_size: int = 4, epochs: int = 2, lr: float = 0.1,
                       model: str = "linear", seed: int = 0) -> None:
    """Check ``fn(params, X, y, grad_fn, lr, batch_size, epochs, seed) -> (new_params, losses)``.

    One generator ``np.random.default_rng(seed)`` for the run; every epoch the batches of
    :func:`check_minibatches` from it, in order; for each batch ``loss, grads = grad_fn(params,
    X[batch], y[batch])`` at the latest params (the mean over the batch), then ``params - lr *
    grads``; ``losses`` holds every update's batch loss. This is what :func:`course_lib.training.fit`
    does with ``SGD(lr)`` and ``batch_size``, update for update.
    """
    __tracebackhide__ = True
    examples = _check_examples(examples)
    check_whole("batch_size", batch_size, 1)
    if batch_size > min(examples):
        raise ValueError(f"batch_size must be at most the smallest number of examples {min(examples)}, "
                         f"got {batch_size}")
    check_whole("epochs", epochs, 1)
    _check_lr(lr)
    _check_model(model)
    check_whole("seed", seed, 0)
    seed = case_seed(seed)
    cases = [_case(k, n, model, seed, {"lr": lr, "batch_size": batch_size, "epochs": epochs,
                                       "seed": _telling_seed(n, epochs, seed + k)})
             for k, n in enumerate(examples, 1)]
    name = _check_training(fn, "minibatch_gd", "run mini-batch gradient descent", cases, with_rng=False,
                           unit=f"the next batch of minibatches(N, {batch_size}, rng)", helper="minibatches")
    print(f"check_minibatch_gd passed: {name} takes one step per mini-batch, at the latest params, with the "
          f"batches of one generator seeded once, and returns every update's loss ({_count(cases, 'case')}, "
          f"batch_size={batch_size}, {_count(epochs, 'epoch')}, lr={lr}).")


__all__ = ["check_sgd_epoch", "check_sgd", "check_minibatches", "check_minibatch_gd"]
