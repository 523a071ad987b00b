"""Lesson 02's experiments: stochastic gradient descent against batch gradient descent, on the diabetes
data and on a two-parameter line fit whose loss can be drawn.

SGD's update t uses the gradient of one example, g_t = ∇ℓ_{i_t}(θ_{t−1}), and moves θ_t = θ_{t−1} − γ_t g_t.
Every epoch visits the N examples once, in a fresh random order (reshuffling).
"""

from __future__ import annotations

import dataclasses
import math

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..checks import rel_error
from ..functions import Surface
from ..optimizers import SGD
from ..training import History, Trajectory, fit, inverse_time_decay, minimize
from .batch_gd import mse_quadratic
from .._arguments import check_positive, check_whole


def _updates_per_epoch_label(updates: int) -> str:
    return f"{updates} update{'s' if updates > 1 else ''} per epoch"


# --- the diabetes data ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Race:
    """Batch gradient descent and SGD with the same work per epoch, and the least-squares fit they
    approach: its parameters and training loss, the lowest there is."""

    batch_gd: History
    sgd: History
    least_squares: dict
    lowest_loss: float


def same_work_per_epoch(model, data, *, params, batch_lr: float, sgd_lr: float, epochs: int) -> Race:
    """Batch gradient descent (one update per epoch) and SGD (one update per example) on the linear
    ``model`` of ``data``, both from ``params`` for ``epochs`` epochs. Draws their training (solid) and
    validation (dashed) losses per epoch, and the least-squares loss as a dotted line.
    """
    check_positive("batch_lr", batch_lr)
    check_positive("sgd_lr", sgd_lr)
    check_whole("epochs", epochs, 1)
    quadratic = mse_quadratic(data)
    batch = fit(model, SGD(lr=batch_lr), data, batch_size="full", epochs=epochs, params=params)
    stochastic = fit(model, SGD(lr=sgd_lr), data, batch_size=1, epochs=epochs, params=params, progress=False)
    race = Race(batch_gd=dataclasses.replace(batch, label=f"batch GD, lr {batch_lr:g}: {_updates_per_epoch_label(1)}"),
                sgd=dataclasses.replace(stochastic, label=f"SGD, lr {sgd_lr:g}: "
                                                          f"{_updates_per_epoch_label(data.n_train)}"),
                least_squares=quadratic.least_squares, lowest_loss=quadratic.lowest_loss)

    ax = plots.plot_loss_per_epoch([race.batch_gd, race.sgd],
                                   title="Same work per epoch: SGD leads at first, then jitters above the best fit")
    ax.axhline(race.lowest_loss, color="black", linewidth=0.8, linestyle=":",
               label=f"least squares: {race.lowest_loss:.3f}")
    top = max(batch.train_losses[0], batch.val_losses.max(), stochastic.val_losses.max())
    ax.set_ylim(race.lowest_loss - 0.08 * (top - race.lowest_loss), top + 0.05 * (top - race.lowest_loss))
    ax.legend()
    return race


def gaps_to_least_squares(runs, lowest_loss: float, *, title=None) -> dict:
    """The training loss minus ``lowest_loss`` after every epoch of each run (a History), on a log
    scale. Returns each run's final gap, by label."""
    runs = list(runs)
    if not runs or not all(isinstance(run, History) for run in runs):
        raise ValueError("runs must be a non-empty list of Histories (what training.fit returns)")
    fig, ax = plt.subplots(figsize=(8, 4.4), layout="constrained")
    for index, run in enumerate(runs):
        ax.semilogy(run.train_losses - lowest_loss, marker="o", markersize=3, label=run.label,
                    **plots.run_style(index))
    ax.set(xlabel="epoch", ylabel="training loss − least-squares loss")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title or "A decaying step lets SGD converge; a constant one cannot", loc="left")
    ax.legend(fontsize="small")
    return {run.label: float(run.train_losses[-1] - lowest_loss) for run in runs}


# --- the line fit -----------------------------------------------------------------------------


def line_fit_surface(data, *, seed=None, start=(-1.5, -1.0)) -> Surface:
    """The line fit's loss L(w, b) = (1/N) Σ_i (w x_i + b − y_i)² on ``data``'s N training points, as a
    :class:`~course_lib.functions.Surface`.

    Its value is always the full L. Its gradient is exact, ∇L, when ``seed`` is None. With a seed, each
    call returns the gradient of one example's loss, ∇ℓ_i = 2 (w x_i + b − y_i) (x_i, 1), visiting the
    examples epoch by epoch, each epoch in a fresh order from ``np.random.default_rng(seed)``: such a
    surface feeds one SGD run, and a second run needs a surface of its own. The window is a square
    around the least-squares line that holds ``start``.
    """
    if data.X_train.ndim != 2 or data.X_train.shape[1] != 1:
        raise ValueError(f"data must have one feature x (a line fit), got {data.X_train.shape[1:]} features")
    x, y = data.X_train[:, 0], data.y_train
    best = np.polyfit(x, y, deg=1)
    start = np.asarray(start, dtype=float)
    if start.shape != (2,) or not np.all(np.isfinite(start)):
        raise ValueError(f"start must be a finite point (w, b), got {start.tolist()!r}")
    if seed is not None:
        rng = np.random.default_rng(seed)

        def example_order():
            while True:
                yield from rng.permutation(len(x))

        visits = example_order()

    def value(points):
        points = np.asarray(points, dtype=float)
        return np.mean((points[..., :1] * x + points[..., 1:] - y) ** 2, axis=-1)

    def grad(point):
        used = slice(None) if seed is None else [next(visits)]
        residual = point[0] * x[used] + point[1] - y[used]
        return np.array([2 * np.mean(residual * x[used]), 2 * np.mean(residual)])

    half = 1.2 * np.max(np.abs(start - best))
    return Surface(name="line_fit", title="Line fit", value=value, grad=grad, minima=(tuple(best),),
                   window=tuple((float(centre - half), float(centre + half)) for centre in best),
                   start=tuple(start), description=f"Mean squared error of the line w x + b on {len(x)} points.")


@dataclasses.dataclass(frozen=True)
class LineFitPaths:
    """Batch gradient descent (``exact``) and SGD (``stochastic``), the same number of updates each, on
    the line fit, and the lowest loss there is."""

    exact: Trajectory
    stochastic: Trajectory
    lowest_loss: float

    @property
    def stochastic_rises(self) -> int:
        """How many of SGD's updates in the second half of its run raised the full loss."""
        changes = np.diff(self.stochastic.losses)
        return int(np.sum(changes[len(changes) // 2:] > 0))


def line_fit_paths(data, *, lr: float, updates: int, seed: int) -> LineFitPaths:
    """Batch GD and SGD with learning rate ``lr`` for ``updates`` updates each on the line fit of
    ``data`` (:func:`line_fit_surface`), SGD's order of examples drawn from ``seed``. Left: both paths
    on the contour map of L(w, b); right: the full loss L after each update.
    """
    check_positive("lr", lr)
    check_whole("updates", updates, 1)
    exact = line_fit_surface(data)
    epochs = updates / data.n_train
    paths = LineFitPaths(
        exact=dataclasses.replace(minimize(exact, SGD(lr=lr), exact.start, steps=updates),
                                  label=f"batch GD: {updates} updates = {updates} epochs"),
        stochastic=dataclasses.replace(minimize(line_fit_surface(data, seed=seed), SGD(lr=lr), exact.start,
                                                steps=updates),
                                       label=f"SGD: {updates} updates = {epochs:g} epoch{'s' if epochs != 1 else ''}"),
        lowest_loss=float(exact.value(np.array(exact.minima[0]))))

    fig, (map_ax, loss_ax) = plt.subplots(1, 2, figsize=(13, 5.8), layout="constrained")
    plots.plot_contours(exact, [paths.exact, paths.stochastic], ax=map_ax,
                        title="Same lr, same number of updates")
    map_ax.set(xlabel="w (slope)", ylabel="b (intercept)")
    plots.plot_loss_per_update([paths.exact, paths.stochastic], ax=loss_ax,
                               title="The full loss L after each update")
    loss_ax.axhline(paths.lowest_loss, color="black", linewidth=0.8, linestyle=":", label="lowest possible L")
    loss_ax.legend()
    return paths


@dataclasses.dataclass(frozen=True)
class NoiseBall:
    """SGD runs on the line fit (``runs``, by label), and for each the root mean square of the distance
    to the minimiser over each epoch's updates (``rms_distance``, by label, epoch 1 first)."""

    runs: dict
    rms_distance: dict

    def slope(self, label: str, from_epoch: int = 5) -> float:
        """The slope of log(rms distance) against log(epoch), fitted from ``from_epoch`` to the end:
        about 0 for a run stuck in its noise ball, −1/2 for a distance that falls like 1/√t."""
        distances = self.rms_distance[label]
        epochs = np.arange(1, len(distances) + 1)
        return float(np.polyfit(np.log(epochs[from_epoch - 1:]), np.log(distances[from_epoch - 1:]), 1)[0])


def noise_ball(data, *, lr: float, decay: float, epochs: int, seed: int) -> NoiseBall:
    """SGD on the line fit of ``data`` for ``epochs`` epochs, at a constant learning rate ``lr`` and at
    γ_t = lr/(1 + (t − 1)·decay), both seeing the same examples in the same order (from ``seed``).

    Three panels: the learning rate per update (SGD's only state), the running sums of γ_t and of γ_t²
    (the two Robbins–Monro conditions), and the distance to the minimiser after every update (faint)
    with its root mean square over each epoch (dots).
    """
    check_positive("lr", lr)
    check_positive("decay", decay)
    check_whole("epochs", epochs, 1)
    n = data.n_train
    exact = line_fit_surface(data)
    # A decay of 1/60 reads best as "(t-1)/60".
    per_update = f"/{1 / decay:.0f}" if abs(1 / decay - round(1 / decay)) < 1e-9 else f"·{decay:g}"
    schedules = {f"constant lr {lr:g}": None,
                 f"lr {lr:g} / (1 + (t-1){per_update})": inverse_time_decay(lr, decay=decay)}
    runs = {label: minimize(line_fit_surface(data, seed=seed), SGD(lr=lr), exact.start, steps=epochs * n,
                            schedule=schedule)
            for label, schedule in schedules.items()}
    squared = {label: np.sum((run.points[1:] - exact.minima[0]) ** 2, axis=1) for label, run in runs.items()}
    ball = NoiseBall(runs=runs, rms_distance={label: np.sqrt(values.reshape(epochs, n).mean(axis=1))
                                              for label, values in squared.items()})

    fig, (lr_ax, sums_ax, distance_ax) = plt.subplots(1, 3, figsize=(15, 4.4), layout="constrained")
    updates = np.arange(1, epochs * n + 1)
    for index, (label, run) in enumerate(runs.items()):
        color = plots.run_style(index)["color"]
        lr_ax.loglog(updates, run.lrs, color=color, label=label)
        sums_ax.loglog(updates, np.cumsum(run.lrs), color=color, label=f"sum of lr: {label}")
        sums_ax.loglog(updates, np.cumsum(run.lrs ** 2), color=color, linestyle="--", label=f"sum of lr²: {label}")
        distance_ax.loglog(updates, np.sqrt(squared[label]), color=color, linewidth=0.4, alpha=0.35)
        distance_ax.loglog(updates[n - 1::n], ball.rms_distance[label], "o-", color=color, markersize=3, label=label)
    lr_ax.set(xlabel="update t", ylabel="learning rate")
    lr_ax.set_title("The step size: SGD's only state", loc="left")
    sums_ax.set(xlabel="update t", ylabel="running sum")
    sums_ax.set_title("Sum of lr grows without end; sum of lr² levels off\nonly for the decay", loc="left")
    distance_ax.set(xlabel="update t", ylabel="distance to the minimiser")
    distance_ax.set_title("Constant lr stalls in a noise ball;\nthe decaying one keeps closing in", loc="left")
    for ax in (lr_ax, sums_ax, distance_ax):
        ax.legend(fontsize="small")
    return ball


# --- the learner's loop against fit -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FitComparison:
    """The learner's run against ``reference``, ``training.fit``'s run with the same start, learning
    rate, batch size and seed: the largest relative differences of the per-update losses and of the
    final parameters."""

    reference: History
    loss_difference: float
    params_difference: float


def replay_with_fit(params, losses, model, data, *, lr: float, batch_size, seed: int, start) -> FitComparison:
    """Run ``training.fit`` as the learner's loop should have: ``model`` on ``data`` from ``start`` with
    ``SGD(lr=lr)``, ``batch_size`` and ``seed``, for as many epochs as ``losses`` (one per update) fill.
    ``params`` are the learner's final parameters."""
    check_positive("lr", lr)
    n = data.n_train
    if batch_size in (None, "full"):
        batch_size = n
    check_whole("batch_size", batch_size, 1)
    updates_per_epoch = math.ceil(n / batch_size)
    losses = np.asarray(losses, dtype=float)
    epochs, rest = divmod(losses.size, updates_per_epoch)
    if losses.ndim != 1 or epochs < 1 or rest:
        raise ValueError(f"losses must hold one loss per update of whole epochs ({updates_per_epoch} per epoch), "
                         f"got {losses.size} in shape {losses.shape}")
    if not isinstance(params, dict) or set(params) != set(start):
        raise ValueError(f"params must be a dict with the keys {sorted(start)}, like start")
    reference = fit(model, SGD(lr=lr), data, batch_size=batch_size, epochs=epochs, seed=seed, params=start,
                    progress=False)
    return FitComparison(reference=reference, loss_difference=rel_error(reference.update_losses, losses),
                         params_difference=max(rel_error(reference.params[name], params[name]) for name in start))


def compare_with_fit(params, losses, model, data, *, lr: float, seed: int, start) -> FitComparison:
    """The learner's SGD run (final ``params`` and one loss per update) against ``training.fit`` with
    ``batch_size=1``. Draws the single-example losses, their mean over each epoch and the full training
    loss after each epoch, on a log scale.
    """
    comparison = replay_with_fit(params, losses, model, data, lr=lr, batch_size=1, seed=seed, start=start)
    losses = np.asarray(losses, dtype=float)
    n, epochs = data.n_train, comparison.reference.epochs
    fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
    ax.semilogy(np.arange(1, len(losses) + 1), losses, color="0.7", linewidth=0.5,
                label="your losses: one example each")
    epoch_ends = np.arange(epochs + 1) * n
    ax.semilogy(epoch_ends[1:], losses.reshape(epochs, n).mean(axis=1), "o-", color=plots.PALETTE[1],
                label="their mean over each epoch")
    ax.semilogy(epoch_ends, comparison.reference.train_losses, "s--", color=plots.PALETTE[0],
                label="full training loss after each epoch")
    ax.set(xlabel="update", ylabel="loss (log scale)")
    ax.set_title("Single-example losses span decades; their mean tracks the full loss", loc="left")
    ax.legend(fontsize="small")
    return comparison
