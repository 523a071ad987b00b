"""Lesson 13's experiments: schedules side by side, on noisy problems, the range test and Adam's warm-up."""

from __future__ import annotations

import dataclasses
import math
import numbers

import matplotlib.pyplot as plt
import numpy as np

from .. import plots, schedule_widgets, schedules, training
from ..optimizers import Adam


def _whole(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")


def _named(runs: dict) -> list:
    """The runs of a ``{name: History}`` dict, each labelled with its name for the legends."""
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict {name: History from training.fit}")
    return [dataclasses.replace(run, label=name) for name, run in runs.items()]


def plot_gallery(gallery: dict, updates: int, *, columns: int = 4, title=None) -> dict:
    """One small panel per schedule of ``gallery`` (``{name: schedule}``), over updates 1..``updates``.

    The panels share both axes, so where each schedule spends its updates compares at a glance.
    Returns the learning rates, by name.
    """
    _whole("updates", updates, 1)
    _whole("columns", columns, 1)
    if not isinstance(gallery, dict) or not gallery:
        raise ValueError("gallery must be a non-empty dict {name: schedule}")
    rows = math.ceil(len(gallery) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.75 * columns, 3 * rows), sharex=True, sharey=True,
                             layout="constrained", squeeze=False)
    t = np.arange(1, updates + 1)
    rates = {}
    for index, (ax, (name, schedule)) in enumerate(zip(axes.flat, gallery.items())):
        rates[name] = np.array([schedule(int(step)) for step in t])
        ax.plot(t, rates[name], color=plots.run_style(index % 3)["color"])
        ax.set_title(name, loc="left", fontsize="small")
        ax.grid(True, color="0.9")
    for ax in axes.flat[len(gallery):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("update t")
    for ax in axes[:, 0]:
        ax.set_ylabel("learning rate")
    fig.suptitle(title or f"{len(gallery)} schedules over {updates} updates")
    return rates


def plot_rates_and_losses(runs: dict, *, optimum: float | None = None, titles=None):
    """The learning rate of every update (left) and the loss after every epoch (right), per run.

    ``runs`` maps a name to a :class:`~course_lib.training.History`. With ``optimum`` (the lowest
    training loss there is) the right panel shows the training loss above it on a log scale;
    without, training (solid) and validation (dashed) loss. Returns the two Axes.
    """
    named = _named(runs)
    rate_title, loss_title = titles or ("The learning rates, update by update", None)
    fig, (rate_ax, loss_ax) = plt.subplots(1, 2, figsize=(13, 4.4), layout="constrained")
    for index, run in enumerate(named):
        rate_ax.plot(np.arange(1, len(run.update_lrs) + 1), run.update_lrs, label=run.label, **plots.run_style(index))
    rate_ax.set(xlabel="update t", ylabel="learning rate")
    rate_ax.set_title(rate_title, loc="left")
    rate_ax.legend(fontsize="small")
    if optimum is None:
        plots.plot_loss_per_epoch(named, ax=loss_ax, log_y=True, title=loss_title)
    else:
        for index, run in enumerate(named):
            loss_ax.semilogy(np.asarray(run.train_losses) - optimum, marker="o", markersize=3, label=run.label,
                             **plots.run_style(index))
        loss_ax.set(xlabel="epoch", ylabel="training loss − lowest possible")
        loss_ax.set_title(loss_title or "Training loss above the optimum, per epoch", loc="left")
        loss_ax.legend(fontsize="small")
    return rate_ax, loss_ax


def noisy_race(surface, optimizer, schedules_by_name: dict, *, steps: int, noise: float, repeats: int,
               shown=(), titles=None) -> dict:
    """Each schedule drives ``optimizer`` on ``surface`` with Gaussian noise added to every gradient.

    ``repeats`` runs per schedule (:func:`course_lib.schedule_widgets.noisy_runs`, the same noise
    for every schedule). Left: one run of each schedule named in ``shown`` on the map; right:
    the loss per update averaged over the runs. Returns those mean losses, by name.
    """
    if not isinstance(schedules_by_name, dict) or not schedules_by_name:
        raise ValueError("schedules_by_name must be a non-empty dict {name: schedule}")
    unknown = [name for name in shown if name not in schedules_by_name]
    if unknown:
        raise ValueError(f"shown names schedules that are not in schedules_by_name: {unknown}")
    runs = {name: schedule_widgets.noisy_runs(surface, optimizer, schedule, steps=steps, noise=noise,
                                              repeats=repeats, label=name)
            for name, schedule in schedules_by_name.items()}
    map_title, loss_title = titles or (None, None)
    fig, (map_ax, loss_ax) = plt.subplots(1, 2, figsize=(14, 4.8), layout="constrained", width_ratios=(1.2, 1))
    plots.plot_contours(surface, [runs[name][0] for name in shown], ax=map_ax,
                        title=map_title or "One noisy run of each")
    means = {}
    for index, (name, name_runs) in enumerate(runs.items()):
        means[name] = schedule_widgets.mean_losses(name_runs)
        loss_ax.semilogy(np.arange(len(means[name])), means[name], label=name, **plots.run_style(index))
    loss_ax.set(xlabel="update", ylabel=f"f, mean of {repeats} noisy runs")
    loss_ax.set_title(loss_title or "Mean loss per update", loc="left")
    loss_ax.legend()
    return means


@dataclasses.dataclass(frozen=True)
class RangeTest:
    """A learning-rate range test: the rate and mini-batch loss of every update, the loss smoothed by
    a bias-corrected moving average, and the rate at which the smoothed loss was lowest."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    lowest_at: float
    diverged: str | None


def range_test(model, optimizer, data, *, lowest: float, highest: float, epochs: int, batch_size: int,
               smoothing: float = 0.9, title=None) -> RangeTest:
    """Smith's (2017) range test: one short run whose learning rate grows exponentially from ``lowest``
    to ``highest`` over ``epochs`` epochs, the loss recorded at every update.

    ``optimizer`` gives everything but the rate (e.g. ``SGD(momentum=0.9)``). The run stops where
    the loss blows up. The mini-batch losses are smoothed with a moving average of weight
    ``smoothing``, bias-corrected as Adam's moments are. Draws the losses against the rate.
    """
    if not 0 < lowest < highest < math.inf:
        raise ValueError(f"need 0 < lowest < highest, got lowest={lowest!r}, highest={highest!r}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
    _whole("epochs", epochs, 1)
    updates = epochs * math.ceil(data.n_train / batch_size)
    growth = (highest / lowest) ** (1 / max(updates - 1, 1))
    run = training.fit(model, dataclasses.replace(optimizer, lr=lowest), data, batch_size=batch_size, epochs=epochs,
                       schedule=schedules.ExponentialLR(lowest, gamma=growth))
    losses = np.asarray(run.update_losses, dtype=float)
    weights = 1 - smoothing ** np.arange(1, losses.size + 1)
    average, smoothed = 0.0, np.empty_like(losses)
    for k, loss in enumerate(losses):
        average = smoothing * average + (1 - smoothing) * loss
        smoothed[k] = average / weights[k]
    lrs = np.asarray(run.update_lrs, dtype=float)
    result = RangeTest(lrs, losses, smoothed, float(lrs[np.argmin(smoothed)]), run.diverged)

    fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
    ax.semilogx(lrs, losses, color="0.75", linewidth=0.8, label="mini-batch loss")
    ax.semilogx(lrs, smoothed, label="smoothed", **plots.run_style(0))
    ax.axvline(result.lowest_at, linestyle=":", color=plots.run_style(1)["color"],
               label=f"lowest smoothed loss at lr = {result.lowest_at:.2g}")
    ax.set(xlabel="learning rate (log scale)", ylabel="loss", ylim=(0, 1.5 * losses[0]))
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(title or "Learning-rate range test", loc="left")
    return result


def radam_rectification(beta2: float, updates: int) -> tuple[np.ndarray, int]:
    """RAdam's rectification factor for updates 1..``updates`` (0 while it takes plain momentum steps),
    and the first update at which it takes an adaptive one (Liu et al., 2020, with their threshold 4)."""
    if not 0 < beta2 < 1:
        raise ValueError(f"beta2 must be in (0, 1), got {beta2!r}")
    _whole("updates", updates, 1)
    t = np.arange(1, updates + 1)
    length_infinity = 2 / (1 - beta2) - 1
    length = length_infinity - 2 * t * beta2**t / (1 - beta2**t)
    adaptive = length > 4
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (length - 4) * (length - 2) * length_infinity / ((length_infinity - 4) * (length_infinity - 2) * length)
        factor = np.where(adaptive, np.sqrt(np.where(adaptive, ratio, 0.0)), 0.0)
    first = int(t[np.argmax(adaptive)]) if adaptive.any() else 0
    return factor, first


@dataclasses.dataclass(frozen=True)
class EarlyAdam:
    """Adam fed pure noise: the median and 99th percentile over the coordinates of ``|dtheta| / lr``
    per update; and RAdam's rectification with the first update at which it is not 0."""

    median_step: np.ndarray
    top_step: np.ndarray
    rectification: np.ndarray
    first_adaptive: int


def adam_on_noise(*, updates: int = 300, coordinates: int = 10_000, horizon: int = 6000, seed: int = 0,
                  titles=None) -> EarlyAdam:
    """Why Adam wants a warm-up, in two panels.

    Left: torch's Adam (defaults, lr 1) fed gradients of pure noise, N(0, 1) in every one of
    ``coordinates`` coordinates: how far it moves a coordinate per update, in units of the
    learning rate. Right, over ``horizon`` updates for Adam's default beta2: RAdam's
    rectification and the two warm-ups of Ma & Yarats (2021), linear over 2 / (1 - beta2) updates
    and exponential.
    """
    _whole("updates", updates, 1)
    _whole("coordinates", coordinates, 1)
    _whole("horizon", horizon, 1)
    rng = np.random.default_rng(seed)
    adam = Adam(lr=1.0)
    params = np.zeros(coordinates)
    state = adam.init(params)
    sizes = np.empty((updates, coordinates))
    for index in range(updates):
        new_params, state = adam.step(params, rng.standard_normal(coordinates), state)
        sizes[index] = np.abs(new_params - params)
        params = new_params
    beta2 = adam.betas[1]
    rectification, first = radam_rectification(beta2, horizon)
    result = EarlyAdam(np.median(sizes, axis=1), np.quantile(sizes, 0.99, axis=1), rectification, first)

    size_title, warm_title = titles or (None, None)
    fig, (size_ax, warm_ax) = plt.subplots(1, 2, figsize=(14, 4.4), layout="constrained")
    steps = np.arange(1, updates + 1)
    size_ax.plot(steps, result.median_step, label="median over coordinates", **plots.run_style(0))
    size_ax.plot(steps, result.top_step, label="99th percentile", **plots.run_style(1))
    size_ax.set(xlabel="update t", ylabel="|Δθ| / lr", yscale="log")
    size_ax.set_title(size_title or "Adam on pure noise: the size of its updates", loc="left")
    size_ax.legend()
    t = np.arange(1, horizon + 1)
    warm_ax.plot(t, rectification, label="RAdam's rectification R_t", **plots.run_style(0))
    warm_ax.plot(t, np.minimum(1, (1 - beta2) * t / 2), label=f"linear warm-up over 2/(1-β2) = {2 / (1 - beta2):.0f} updates",
                 **plots.run_style(1))
    warm_ax.plot(t, 1 - np.exp(-(1 - beta2) * t), label="exponential warm-up 1 - exp(-(1-β2) t)", **plots.run_style(2))
    warm_ax.set(xlabel="update t", ylabel="factor on the learning rate")
    warm_ax.set_title(warm_title or f"Warm-up factors for β2 = {beta2}", loc="left")
    warm_ax.legend(fontsize="small")
    return result
