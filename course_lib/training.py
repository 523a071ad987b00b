"""Training loops: follow an optimizer on a 2-D surface, or fit a model on a data set.

::

    trajectory = minimize(surface, Adam(lr=0.1), start=(-1.5, 2.0), steps=200)
    history = fit(MLP(64, 10), Adam(lr=1e-3), load_digits(), batch_size=32, epochs=20)

Both work with any optimizer of :mod:`course_lib.optimizers` (or one with the same
``init``/``step``/``gradient_point`` interface), take the gradient where
``optimizer.gradient_point`` says (the look-ahead point for :class:`SutskeverNesterov`), and
stop with a readable reason instead of a traceback when the iterates blow up. A learning-rate
schedule is a function from the update number (counting from 1) to the learning rate; the
common ones are below (:func:`constant`, :func:`step_decay`, :func:`inverse_time_decay`,
:func:`inverse_sqrt_decay`).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import time
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from .optimizers._tree import flatten
from ._arguments import check_positive, check_whole

Schedule = Callable[[int], float]

#: A 2-D iterate farther than this from the origin counts as diverged: every course surface lives
#: within a few units of it, and a plot of the trajectory would be meaningless.
POINT_LIMIT = 1e6

#: A training loss this many times its value before training (or above it, if that was below 1)
#: counts as diverged: a working run never gets there, and stopping early avoids overflow.
LOSS_GROWTH_LIMIT = 1e8

#: With ``progress=None``, runs with more updates than this show a progress bar.
PROGRESS_BAR_UPDATES = 5000


# --- learning-rate schedules -------------------------------------------------------------


def _check_lr(lr) -> None:
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 <= lr < math.inf:
        raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")


def constant(lr: float) -> Schedule:
    """``lr_t = lr`` at every step: the same as no schedule, for comparing against the others."""
    _check_lr(lr)
    return lambda step: lr


def step_decay(lr: float, factor: float = 0.5, every: int = 100) -> Schedule:
    """``lr_t = lr * factor ** ((t - 1) // every)``: multiply by ``factor`` every ``every`` steps.

    With ``every`` set to the updates per epoch this is torch's ``StepLR`` counted in epochs.
    """
    _check_lr(lr)
    check_positive("factor", factor)
    check_whole("every", every, 1)
    return lambda step: lr * factor ** ((step - 1) // every)


def inverse_time_decay(lr: float, decay: float = 0.01) -> Schedule:
    """``lr_t = lr / (1 + decay * (t - 1))``: the 1/t decay of Robbins & Monro.

    Its sum grows without bound while the sum of its squares stays finite, the condition under
    which SGD converges to a minimum of a convex loss instead of jittering around it.
    """
    _check_lr(lr)
    check_positive("decay", decay)
    return lambda step: lr / (1.0 + decay * (step - 1))


def inverse_sqrt_decay(lr: float, decay: float = 0.01) -> Schedule:
    """``lr_t = lr / sqrt(1 + decay * (t - 1))``: a gentler decay, the rate of AdaGrad's own steps."""
    _check_lr(lr)
    check_positive("decay", decay)
    return lambda step: lr / math.sqrt(1.0 + decay * (step - 1))


def _check_schedule(schedule, optimizer) -> None:
    if schedule is None:
        return
    if not callable(schedule):
        raise TypeError(f"schedule must be a function step -> lr (or None), got {type(schedule).__name__}")
    if not dataclasses.is_dataclass(optimizer) or "lr" not in {f.name for f in dataclasses.fields(optimizer)}:
        raise ValueError(
            f"a schedule sets the learning rate, but {optimizer!r} is not an optimizer with an lr field"
        )


def _scheduled(optimizer, schedule, step: int):
    if schedule is None:
        return optimizer
    lr = schedule(step)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 <= lr < math.inf:
        raise ValueError(
            f"the schedule returned lr={lr!r} at step {step}; a learning rate must be a finite number >= 0"
        )
    return dataclasses.replace(optimizer, lr=lr)


# --- 2-D surfaces ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, repr=False)
class Trajectory:
    """The path of one optimizer on a 2-D surface.

    ``points[t]`` is the iterate after ``t`` steps (``points[0]`` is the start), ``losses[t]``
    the surface's value there and ``states[t]`` a copy of the optimizer's state at that moment
    (``states[0]`` is ``optimizer.init(start)``). ``grads[t - 1]`` and ``lrs[t - 1]`` are the
    gradient and learning rate that step ``t`` used. If the run blew up at step ``k``,
    ``diverged_at`` is ``k`` and the arrays stop at step ``k - 1``, the last sane point.
    """

    label: str
    points: np.ndarray
    losses: np.ndarray
    grads: np.ndarray
    lrs: np.ndarray
    states: list
    diverged_at: int | None

    @property
    def steps(self) -> int:
        """The number of steps recorded (fewer than asked for if the run diverged)."""
        return len(self.points) - 1

    def __repr__(self) -> str:
        if self.diverged_at is None:
            ending = f"loss {self.losses[-1]:.4g}"
        else:
            ending = f"diverged at step {self.diverged_at}"
        return f"Trajectory({self.label}: {self.steps} steps from {self.points[0].tolist()}, {ending})"


def _sane_point(point: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(point)) and np.max(np.abs(point)) <= POINT_LIMIT)


def minimize(surface, optimizer, start, steps: int = 100, schedule: Schedule | None = None) -> Trajectory:
    """Run ``optimizer`` for ``steps`` steps on a 2-D ``surface``, starting at ``start``.

    ``surface`` needs ``value(points)`` and ``grad(points)`` for arrays of shape ``(..., 2)``
    (a :class:`course_lib.functions.Surface`). Every gradient is taken at
    ``optimizer.gradient_point(params, state)``. ``schedule(t)`` gives the learning rate of
    step ``t = 1, 2, ...``. The run stops early, with ``diverged_at`` set, at the first step
    whose point is not finite or leaves the box ``|x|, |y| <= POINT_LIMIT``, or whose value is
    not finite.
    """
    check_whole("steps", steps, 0)
    _check_schedule(schedule, optimizer)
    params = np.array(start, dtype=float)
    if params.shape != (2,) or not _sane_point(params):
        raise ValueError(f"start must be two finite numbers (x, y), got {start!r}")
    state = optimizer.init(params)
    points, grads, lrs, states = [params.copy()], [], [], [copy.deepcopy(state)]
    diverged_at = None
    for step in range(1, steps + 1):
        opt = _scheduled(optimizer, schedule, step)
        grad = np.array(surface.grad(opt.gradient_point(params, state)), dtype=float)
        if grad.shape != (2,):
            raise ValueError(f"surface.grad returned shape {grad.shape} for one point; it must return shape (2,)")
        params, state = opt.step(params, grad, state)
        if not _sane_point(params):
            diverged_at = step
            break
        points.append(np.array(params))
        grads.append(grad)
        lrs.append(opt.lr)
        states.append(copy.deepcopy(state))
    points = np.array(points)
    # One vectorised call for all the values is much faster than one call per step.
    with np.errstate(over="ignore", invalid="ignore"):
        losses = np.asarray(surface.value(points), dtype=float)
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        if bad[0] == 0:
            raise ValueError(
                f"the surface's value at start={start!r} is {losses[0]}; pick a start inside its domain"
            )
        keep = bad[0]
        diverged_at = int(keep)
        points, losses, states = points[:keep], losses[:keep], states[:keep]
        grads, lrs = grads[:keep - 1], lrs[:keep - 1]
    return Trajectory(
        label=optimizer.label,
        points=points,
        losses=losses,
        grads=np.array(grads).reshape(-1, 2),
        lrs=np.array(lrs, dtype=float),
        states=states,
        diverged_at=diverged_at,
    )


def effective_step_sizes(trajectory: Trajectory) -> np.ndarray:
    """How far each step moved per unit of gradient, coordinate by coordinate: ``|dtheta| / |g|``.

    Shape ``(steps, 2)``. For plain gradient descent this is the learning rate itself; momentum
    makes it larger when past gradients agree, AdaGrad makes it shrink as squares accumulate,
    and Adam keeps it near ``lr / |g|``. It is NaN where a gradient coordinate is exactly 0.
    """
    moved = np.abs(np.diff(trajectory.points, axis=0))
    gradient = np.abs(trajectory.grads)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gradient > 0, moved / gradient, np.nan)


def step_lengths(optimizer, gradients) -> np.ndarray:
    """How far one parameter moves at each step when ``optimizer`` is fed ``gradients`` in turn.

    The parameter starts at 0 and the gradients do not depend on it, so whatever changes from one
    step to the next comes from the optimizer's state: AdaGrad's steps shrinking on a constant
    gradient, RMSProp's recovering after the gradients drop, Adam's overshooting when they jump.
    ``gradients`` is a 1-D sequence of finite numbers; returns ``|theta_t - theta_(t-1)|`` for
    ``t = 1, ..., len(gradients)``.
    """
    try:
        gradients = np.asarray(gradients, dtype=float)
    except (TypeError, ValueError):
        gradients = None
    if gradients is None or gradients.ndim != 1 or gradients.size == 0 or not np.all(np.isfinite(gradients)):
        raise ValueError("gradients must be a non-empty 1-D sequence of finite numbers")
    param = np.zeros(1)
    state = optimizer.init(param)
    lengths = np.empty(gradients.size)
    for index, gradient in enumerate(gradients):
        new_param, state = optimizer.step(param, np.array([gradient]), state)
        lengths[index] = abs(new_param[0] - param[0])
        param = new_param
    return lengths


# --- models on data sets -----------------------------------------------------------------


class TrainingDiverged(RuntimeError):
    """Raised by :meth:`History.raise_if_diverged` for a run that blew up."""


@dataclasses.dataclass(frozen=True, repr=False)
class History:
    """What :func:`fit` recorded.

    Per update (index ``u - 1`` for update ``u``): ``update_losses``, the mini-batch loss at
    which that update's gradient was taken, and ``update_lrs``, the learning rate it used.
    Per epoch, with index 0 the state before any update: ``train_losses``, ``val_losses``,
    ``train_accuracies`` and ``val_accuracies`` (None for regression), and ``epoch_seconds``,
    the wall-clock time spent in updates up to the end of that epoch (evaluation excluded).
    ``params`` are the parameters when training stopped. ``diverged`` is None for a healthy run
    and otherwise says where and why it stopped; the per-epoch arrays then end at the last
    completed epoch.
    """

    label: str
    batch_size: int
    updates_per_epoch: int
    update_losses: np.ndarray
    update_lrs: np.ndarray
    train_losses: np.ndarray
    val_losses: np.ndarray
    train_accuracies: np.ndarray | None
    val_accuracies: np.ndarray | None
    epoch_seconds: np.ndarray
    params: dict
    diverged: str | None

    @property
    def epochs(self) -> int:
        """Completed epochs."""
        return len(self.train_losses) - 1

    @property
    def seconds(self) -> float:
        """Wall-clock seconds spent in the updates of the completed epochs."""
        return float(self.epoch_seconds[-1])

    def raise_if_diverged(self) -> None:
        """Raise :class:`TrainingDiverged` with the reason if the run diverged."""
        if self.diverged:
            raise TrainingDiverged(self.diverged)

    def __repr__(self) -> str:
        if self.diverged:
            return f"History({self.label}: {self.diverged})"
        accuracy = f", val accuracy {self.val_accuracies[-1]:.3f}" if self.val_accuracies is not None else ""
        return (
            f"History({self.label}, batch size {self.batch_size}: {self.epochs} epochs x "
            f"{self.updates_per_epoch} updates in {self.seconds:.2f} s, training loss "
            f"{self.train_losses[0]:.4g} -> {self.train_losses[-1]:.4g}, "
            f"val loss {self.val_losses[-1]:.4g}{accuracy})"
        )


def _resolve_batch_size(batch_size, n_train: int) -> int:
    if batch_size is None or (isinstance(batch_size, str) and batch_size == "full"):
        return n_train
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise ValueError(
            f"batch_size must be 'full' or None (batch gradient descent), 1 (SGD) or a whole number B "
            f"(mini-batches), got {batch_size!r}"
        )
    if not 1 <= batch_size <= n_train:
        raise ValueError(
            f"batch_size must be between 1 and the {n_train} training examples (or 'full'), got {batch_size}"
        )
    return int(batch_size)


def _divergence(where: str, optimizer) -> str:
    return (
        f"Training diverged {where} (lr={optimizer.lr}). "
        f"The learning rate is probably too large: try a smaller one."
    )


def _all_finite(params) -> bool:
    return all(np.all(np.isfinite(leaf)) for leaf in flatten(params)[0])


def fit(model, optimizer, data, *, batch_size, epochs: int, seed: int = 0, schedule: Schedule | None = None,
        params=None, progress: bool | None = None) -> History:
    """Train ``model`` on ``data.X_train, data.y_train`` with ``optimizer`` and record the run.

    ``batch_size``: ``"full"`` or None for batch gradient descent (one update per epoch), 1 for
    stochastic gradient descent, B for mini-batches of B examples. Each epoch visits every
    training example exactly once, in a fresh random order drawn from a generator seeded once
    with ``seed``, so the same call gives the same run. When B does not divide the number of
    examples the last batch of an epoch is smaller: its gradient is still a mean, so its scale
    is right and only its noise is larger, and dropping it would leave examples unseen.

    ``params`` defaults to ``model.init_params(seed)``. ``schedule(u)`` sets the learning rate
    of update ``u = 1, 2, ...`` (counted across epochs). ``progress`` shows a progress bar:
    True always, False never, None only for runs of more than ``PROGRESS_BAR_UPDATES`` updates.

    The losses and accuracies of the whole training and validation sets are evaluated before
    training and after every epoch. A non-finite mini-batch loss, or one more than
    ``LOSS_GROWTH_LIMIT`` times the initial training loss, stops the run, as does an epoch that
    ends with non-finite parameters; :attr:`History.diverged` then says where and why.
    """
    check_whole("epochs", epochs, 0)
    _check_schedule(schedule, optimizer)
    if progress not in (None, True, False):
        raise ValueError(f"progress must be True, False or None (automatic), got {progress!r}")
    X, y = data.X_train, data.y_train
    batch = _resolve_batch_size(batch_size, len(X))
    updates_per_epoch = math.ceil(len(X) / batch)
    params = model.init_params(seed) if params is None else params
    classifier = hasattr(model, "accuracy")

    train_losses, val_losses, train_accuracies, val_accuracies = [], [], [], []

    def evaluate() -> bool:
        train_losses.append(model.loss(params, X, y))
        val_losses.append(model.loss(params, data.X_val, data.y_val))
        if classifier:
            train_accuracies.append(model.accuracy(params, X, y))
            val_accuracies.append(model.accuracy(params, data.X_val, data.y_val))
        return math.isfinite(train_losses[-1]) and math.isfinite(val_losses[-1])

    with np.errstate(over="ignore", invalid="ignore"):
        if not evaluate():
            raise ValueError(
                f"the starting parameters give a training loss of {train_losses[0]} and a validation loss of "
                f"{val_losses[0]}; both must be finite"
            )
    loss_limit = LOSS_GROWTH_LIMIT * max(train_losses[0], 1.0)
    state = optimizer.init(params)
    rng = np.random.default_rng(seed)
    update_losses, update_lrs, epoch_seconds = [], [], [0.0]
    diverged = None
    show_bar = progress if progress is not None else epochs * updates_per_epoch > PROGRESS_BAR_UPDATES

    # Overflow and NaN warnings would be noise here: the checks below turn them into one message.
    with np.errstate(over="ignore", invalid="ignore"), \
            tqdm(total=epochs, desc=optimizer.label, unit="epoch", disable=not show_bar) as bar:
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            if batch < len(X):
                order = rng.permutation(len(X))
                X_epoch, y_epoch = X[order], y[order]
            else:
                X_epoch, y_epoch = X, y
            for first in range(0, len(X), batch):
                update = len(update_losses) + 1
                opt = _scheduled(optimizer, schedule, update)
                loss, grads = model.loss_and_grad(opt.gradient_point(params, state),
                                                  X_epoch[first:first + batch], y_epoch[first:first + batch])
                if not loss <= loss_limit:
                    if math.isfinite(loss):
                        what = (f"reached {loss:.3g}, over {LOSS_GROWTH_LIMIT:.0e} times "
                                f"its starting value {train_losses[0]:.3g}")
                    else:
                        what = f"became {loss}"
                    diverged = _divergence(f"at epoch {epoch}, update {update}: the mini-batch loss {what}", opt)
                    break
                params, state = opt.step(params, grads, state)
                update_losses.append(loss)
                update_lrs.append(opt.lr)
            if diverged:
                break
            elapsed = time.perf_counter() - started
            if not (_all_finite(params) and evaluate()):
                diverged = _divergence(f"in epoch {epoch}: after update {len(update_losses)} "
                                       f"the parameters or the loss are not finite", opt)
                # Keep the per-epoch records of the completed epochs only.
                del train_losses[epoch:], val_losses[epoch:], train_accuracies[epoch:], val_accuracies[epoch:]
                break
            epoch_seconds.append(epoch_seconds[-1] + elapsed)
            bar.update()
            bar.set_postfix(train_loss=f"{train_losses[-1]:.4g}", val_loss=f"{val_losses[-1]:.4g}")
    return History(
        label=optimizer.label,
        batch_size=batch,
        updates_per_epoch=updates_per_epoch,
        update_losses=np.array(update_losses),
        update_lrs=np.array(update_lrs),
        train_losses=np.array(train_losses),
        val_losses=np.array(val_losses),
        train_accuracies=np.array(train_accuracies) if classifier else None,
        val_accuracies=np.array(val_accuracies) if classifier else None,
        epoch_seconds=np.array(epoch_seconds),
        params=params,
        diverged=diverged,
    )
