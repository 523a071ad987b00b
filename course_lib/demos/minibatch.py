"""Lesson 03's experiments: mini-batch gradient descent on the digits, from B = 1 (SGD) to B = N (batch
gradient descent).

Update t averages the gradients of a batch 𝓑_t of B examples, g_t = (1/|𝓑_t|) Σ_{i∈𝓑_t} ∇ℓ_i(θ_{t−1}),
and moves θ_t = θ_{t−1} − γ g_t; an epoch cuts a fresh permutation of the N examples into ⌈N/B⌉ batches.
Drawn without replacement, the batch gradient's variance around ∇L is σ²/B · (N − B)/(N − 1).
"""

from __future__ import annotations

import dataclasses
import numbers
import time

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..optimizers import SGD
from ..training import fit
from .sgd import FitComparison, replay_with_fit
from .._arguments import check_whole


def _check_batch_sizes(batch_sizes, n: int) -> list[int]:
    batch_sizes = list(batch_sizes)
    if not batch_sizes or not all(isinstance(b, numbers.Integral) and not isinstance(b, bool) and 1 <= b <= n
                                  for b in batch_sizes):
        raise ValueError(f"batch_sizes must be whole numbers between 1 and the {n} training examples, "
                         f"got {batch_sizes!r}")
    return [int(b) for b in batch_sizes]


def _sorted_runs(runs) -> list:
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict {batch size: History}, as train_at_batch_sizes returns it")
    return [runs[size] for size in sorted(runs)]


# --- progress and time per epoch --------------------------------------------------------------


def train_at_batch_sizes(model, data, epochs_by_batch_size: dict, *, lr: float, params) -> dict:
    """``training.fit`` of ``model`` on ``data`` with ``SGD(lr=lr)`` from ``params``, once per batch size
    B of ``epochs_by_batch_size`` (``{B: epochs}``; B = N is batch gradient descent). Returns the
    Histories by batch size, each labelled with its B and its updates per epoch.
    """
    if not isinstance(epochs_by_batch_size, dict) or not epochs_by_batch_size:
        raise ValueError("epochs_by_batch_size must be a non-empty dict {batch size B: epochs}")
    _check_batch_sizes(epochs_by_batch_size, data.n_train)
    for epochs in epochs_by_batch_size.values():
        check_whole("each number of epochs", epochs, 1)
    runs = {}
    for batch_size, epochs in epochs_by_batch_size.items():
        history = fit(model, SGD(lr=lr), data, batch_size=batch_size, epochs=epochs, params=params, progress=False)
        updates = history.updates_per_epoch
        runs[batch_size] = dataclasses.replace(
            history, label=f"B = {batch_size}: {updates} update{'s' if updates > 1 else ''} per epoch")
    return runs


def fastest_epoch(history) -> float:
    """The seconds of a run's fastest epoch: the one least disturbed by other programs."""
    return float(np.diff(history.epoch_seconds).min())


def plot_noise_and_epoch_time(runs: dict) -> dict:
    """Left: the loss of every update's batch, log scales; right: the fastest epoch of each run, as bars.
    ``runs`` is ``{B: History}``. Returns the fastest epoch's seconds by batch size."""
    histories = _sorted_runs(runs)
    seconds = {history.batch_size: fastest_epoch(history) for history in histories}
    fig, (update_ax, time_ax) = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained")
    plots.plot_loss_per_update(histories, ax=update_ax, title="Per update: SGD's losses are noise around a trend")
    update_ax.set_xscale("log")
    time_ax.bar([f"B = {size}" for size in seconds], [1e3 * s for s in seconds.values()],
                color=[plots.run_style(index)["color"] for index in range(len(seconds))])
    time_ax.set_yscale("log")
    time_ax.set(ylabel="milliseconds per epoch (log scale)")
    slowest, fastest = max(seconds.values()), min(seconds.values())
    time_ax.set_title(f"The same {_examples_per_epoch(histories)}example gradients per epoch, "
                      f"{slowest / fastest:.0f} times the time", loc="left")
    return seconds


def _examples_per_epoch(histories) -> str:
    """N followed by a space, read off a run of B = 1 (N updates) or of B = N (one update); else nothing."""
    known = ({h.updates_per_epoch for h in histories if h.batch_size == 1}
             | {h.batch_size for h in histories if h.updates_per_epoch == 1})
    return f"{known.pop()} " if len(known) == 1 else ""


def plot_progress(runs: dict) -> dict:
    """The training loss after each epoch of each run (``{B: History}``), against the updates made so far
    (left) and against the seconds spent in updates (right), log scales. Returns, by batch size, the
    plotted ``{"updates": ..., "seconds": ..., "losses": ...}`` at the end of each epoch."""
    plotted = {}
    fig, (update_ax, time_ax) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    for index, history in enumerate(_sorted_runs(runs)):
        curve = {"updates": np.arange(1, history.epochs + 1) * history.updates_per_epoch,
                 "seconds": history.epoch_seconds[1:], "losses": history.train_losses[1:]}
        plotted[history.batch_size] = curve
        style = dict(marker="o", markersize=3, label=history.label, **plots.run_style(index))
        update_ax.loglog(curve["updates"], curve["losses"], **style)
        time_ax.loglog(curve["seconds"], curve["losses"], **style)
    update_ax.set(xlabel="updates (log scale)", ylabel="training loss after each epoch")
    update_ax.set_title("Per update: from B = 8 to N, the same progress", loc="left")
    time_ax.set(xlabel="seconds spent in updates (log scale)", ylabel="training loss after each epoch")
    time_ax.set_title("Per second: small and mid-sized batches win", loc="left")
    for ax in (update_ax, time_ax):
        ax.legend(fontsize="small")
    return plotted


# --- variance ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GradientVariance:
    """For each of ``batch_sizes``, ``measured``: the mean of ‖batch gradient − ∇L‖² over random batches
    drawn without replacement; ``sigma2``: σ², the same for single examples, exactly, over all N."""

    batch_sizes: np.ndarray
    measured: np.ndarray
    sigma2: float
    n: int

    @property
    def independent(self) -> np.ndarray:
        """σ²/B, the variance if the B examples were drawn independently."""
        return self.sigma2 / self.batch_sizes

    @property
    def without_replacement(self) -> np.ndarray:
        """σ²/B · (N − B)/(N − 1), the variance of a batch of B different examples."""
        return self.independent * (self.n - self.batch_sizes) / (self.n - 1)


def gradient_variance(model, params, data, batch_sizes, *, batches: int = 100, seed: int = 0) -> GradientVariance:
    """Measure how far a batch's mean gradient lies from the full gradient, against the batch size.

    Computes the gradient of each training example's loss at ``params`` (``model.loss_and_grad`` on
    one example, all parameters flattened), their mean ∇L and σ²; then, for each B of ``batch_sizes``,
    draws ``batches`` batches of B different examples from ``np.random.default_rng(seed)``. Draws the
    measurements over both predictions, on log scales.
    """
    X, y = data.X_train, data.y_train
    n = len(X)
    batch_sizes = np.array(_check_batch_sizes(batch_sizes, n))
    check_whole("batches", batches, 2)
    example_gradients = np.array([np.concatenate([g.ravel() for g in model.loss_and_grad(params, X[i:i + 1],
                                                                                         y[i:i + 1])[1].values()])
                                  for i in range(n)])
    full = example_gradients.mean(axis=0)
    rng = np.random.default_rng(seed)
    measured = [np.mean([np.sum((example_gradients[rng.choice(n, size, replace=False)].mean(axis=0) - full) ** 2)
                         for _ in range(batches)])
                for size in batch_sizes]
    variance = GradientVariance(batch_sizes=batch_sizes, measured=np.array(measured), n=n,
                                sigma2=float(np.mean(np.sum((example_gradients - full) ** 2, axis=1))))

    fig, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    ax.loglog(batch_sizes, variance.independent, color="0.5", linestyle="--", label="σ²/B (independent draws)")
    ax.loglog(batch_sizes, variance.without_replacement, color=plots.PALETTE[0],
              label="σ²/B · (N − B)/(N − 1) (without replacement)")
    ax.loglog(batch_sizes, variance.measured, "o", color=plots.PALETTE[1], label=f"measured: {batches} batches per B")
    ax.set(xlabel="batch size B", ylabel="E ‖batch gradient − full gradient‖²")
    ax.set_title(f"Gradient variance falls like 1/B, and faster near B = N = {n}", loc="left")
    ax.legend()
    return variance


# --- time per example --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExampleTimes:
    """Microseconds per example of one gradient computation, for each of ``batch_sizes``, by model name."""

    batch_sizes: list
    microseconds: dict


def time_per_example(models: dict, data, batch_sizes, *, examples: int = 384, repeats: int = 5) -> ExampleTimes:
    """Time the gradient computation alone, per example, for each model (``{name: model}``) and batch
    size, on this machine now: batch after batch over the first ``examples`` training examples (all of
    them for B = N), the fastest of ``repeats`` runs. The cost per example of a small batch does not
    depend on how many batches there are, so a few hundred examples suffice. Draws µs per example
    against B, log scales.
    """
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict {name: model}")
    X, y = data.X_train, data.y_train
    n = len(X)
    batch_sizes = _check_batch_sizes(batch_sizes, n)
    check_whole("examples", examples, 1)
    check_whole("repeats", repeats, 1)
    times = ExampleTimes(batch_sizes=batch_sizes, microseconds={})
    for name, model in models.items():
        params = model.init_params(seed=0)
        per_example = []
        for batch_size in batch_sizes:
            timed = n if batch_size == n else min(examples, n)
            fastest = np.inf
            for _ in range(repeats):
                began = time.perf_counter()
                for first in range(0, timed, batch_size):
                    model.loss_and_grad(params, X[first:first + batch_size], y[first:first + batch_size])
                fastest = min(fastest, time.perf_counter() - began)
            per_example.append(1e6 * fastest / timed)
        times.microseconds[name] = np.array(per_example)

    fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
    for index, (name, microseconds) in enumerate(times.microseconds.items()):
        ax.loglog(batch_sizes, microseconds, marker="o", label=name, **plots.run_style(index))
    ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes])
    ax.set(xlabel="batch size B", ylabel="µs per example (gradient only)")
    ax.set_title("Time per example falls until the arrays are big enough", loc="left")
    ax.legend()
    return times


# --- the learner's loop against fit ------------------------------------------------------------


def compare_with_fit(params, losses, model, data, *, lr: float, batch_size: int, seed: int, start) -> FitComparison:
    """The learner's mini-batch run (final ``params`` and one loss per update) against ``training.fit``
    with the same start, learning rate, batch size and seed. Draws the batch losses and the training and
    validation losses after each epoch, on a log scale.
    """
    comparison = replay_with_fit(params, losses, model, data, lr=lr, batch_size=batch_size, seed=seed, start=start)
    losses, reference = np.asarray(losses, dtype=float), comparison.reference
    epoch_ends = np.arange(reference.epochs + 1) * reference.updates_per_epoch
    fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
    ax.semilogy(np.arange(1, len(losses) + 1), losses, color="0.7", linewidth=0.7,
                label=f"your losses: one batch of {batch_size} each ({reference.updates_per_epoch} per epoch)")
    ax.semilogy(epoch_ends, reference.train_losses, "o-", color=plots.PALETTE[0], label="training loss after each epoch")
    ax.semilogy(epoch_ends, reference.val_losses, "s--", color=plots.PALETTE[1], label="validation loss after each epoch")
    ax.set(xlabel="update", ylabel="loss (log scale)")
    ax.set_title("Mini-batch losses: noisy, but far less than single examples", loc="left")
    ax.legend(fontsize="small")
    return comparison
