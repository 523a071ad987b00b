"""The lessons' pictures: optimizer paths on 2-D surfaces, loss curves, learning-rate sweeps,
the optimizers' internal state, an animation of the paths, and the convergence-rate maps of
heavy ball and Nesterov (lessons 04 and 05).

Every function draws into ``ax`` when given one, so that a notebook can put several panels in
one figure, and otherwise on a new figure; it returns what it drew on and never calls
``plt.show``. Titles default to what the reader should look at; pass ``title=`` to change it.

Colours come from Okabe & Ito's colour-universal-design palette (2008), which stays
distinguishable with the common colour-vision deficiencies. The ``i``-th run of a call is drawn
in ``PALETTE[i]`` (see :func:`run_style`), so passing a lesson's optimizers in the same order keeps
each one's colour from plot to plot. Black is reserved for the markers (start, minima, saddle
points), and yellow comes last because it is faint on a light background.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
import numbers
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.colors import BoundaryNorm, FuncNorm, ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import ScaledTranslation

from .functions import SURFACES, Surface, get_surface
from .training import History, Trajectory, effective_step_sizes

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
"""Okabe-Ito colours without black: blue, vermillion, bluish green, reddish purple, orange,
sky blue, yellow."""

_LINESTYLES = ("-", "--", ":", "-.")
# Light greys: the contours give the landscape's shape without competing with the coloured paths.
_BACKGROUND = ListedColormap(plt.get_cmap("Greys")(np.linspace(0.0, 0.45, 256)))
_MARKER_STYLE = {"linestyle": "none", "color": "black", "zorder": 5}
_LOG_DECADES = 2.0


def run_style(index: int) -> dict:
    """Colour and line style of the ``index``-th run: palette colours first, then dashed ones."""
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"index must be a whole number >= 0, got {index!r}")
    cycle, slot = divmod(index, len(PALETTE))
    return {"color": PALETTE[slot], "linestyle": _LINESTYLES[cycle % len(_LINESTYLES)]}


# --- surfaces and paths ---------------------------------------------------------------------


def plot_contours(surface, trajectories=(), *, ax=None, title=None, log_levels=None, resolution=200):
    """Contour map of ``surface`` with the path of every trajectory on it.

    ``surface`` is a :class:`~course_lib.functions.Surface` or its name; ``trajectories`` is one
    :class:`~course_lib.training.Trajectory` or a sequence of them (e.g. one per optimizer, all
    from :func:`~course_lib.training.minimize`). Each path shows every iterate as a dot, so the
    spacing of the dots is the step length; its legend entry gives the optimizer's label and the
    final loss, or the step at which it diverged. The start is a white circle, minima are black
    stars and saddle points black crosses.

    Contour levels are log-spaced when the heights span many decades (Rosenbrock, Beale), where
    evenly spaced levels would all crowd the walls and leave the valley floor blank; force either
    with ``log_levels=True/False``. Returns the Axes.
    """
    surface = _as_surface(surface)
    trajectories = _as_trajectories(trajectories)
    legend_rows = math.ceil((len(trajectories) + 3) / 2)
    ax = _axes(ax, figsize=_map_figsize(surface, legend_rows))
    _, markers = _draw_surface(ax, surface, log_levels=log_levels, resolution=resolution)
    paths, start = _draw_paths(ax, trajectories)
    _legend_below(ax, [*paths, start, *markers] if trajectories else markers)
    question = "where does each path go, and how directly?" if trajectories else "contour lines of f(x, y)"
    _set_title(ax, title, f"{surface.title}: {question}")
    return ax


def plot_surface_3d(surface, trajectories=(), *, ax=None, title=None, log_z=None, resolution=60):
    """The landscape of ``surface`` in 3-D, with the trajectories' paths lying on it.

    ``ax`` must be a 3-D Axes (``fig.add_subplot(projection="3d")``) if given. When the heights
    span many decades the vertical axis shows ``log10(1 + f - min f)`` instead of ``f`` (force
    with ``log_z``), which keeps a narrow valley such as Rosenbrock's visible. Returns the Axes.
    """
    surface = _as_surface(surface)
    trajectories = _as_trajectories(trajectories)
    if ax is None:
        ax = plt.figure(figsize=(7.5, 5.5), layout="constrained").add_subplot(projection="3d")
    elif getattr(ax, "name", None) != "3d":
        raise ValueError("ax must be a 3-D Axes: create it with fig.add_subplot(projection='3d')")
    xs, ys, heights = _grid(surface, resolution)
    log = _needs_log_levels(heights) if log_z is None else bool(log_z)
    lowest = float(heights.min())

    def vertical(values):
        return np.log10(1.0 + (values - lowest)) if log else values

    # Paths and markers are drawn over the surface even where it hides them: seeing the whole path matters more here.
    ax.computed_zorder = False
    ax.plot_surface(xs, ys, vertical(heights), color="0.8", shade=True, linewidth=0, antialiased=False, alpha=0.85,
                    zorder=1)
    lift = 0.01 * np.ptp(vertical(heights))
    (x_low, x_high), (y_low, y_high) = surface.window
    handles = []
    for index, trajectory in enumerate(trajectories):
        points = trajectory.points.astype(float)
        outside = ~((points[:, 0] >= x_low) & (points[:, 0] <= x_high)
                    & (points[:, 1] >= y_low) & (points[:, 1] <= y_high))
        points[outside] = np.nan
        with np.errstate(invalid="ignore", over="ignore"):
            heights_on_path = vertical(surface.value(points)) + lift
        handles += ax.plot(points[:, 0], points[:, 1], heights_on_path, marker="o", markersize=2, linewidth=1.5,
                           zorder=3, label=_path_label(trajectory), **run_style(index))
    for name, marker, where in (("minimum", "*", surface.minima), ("saddle point", "X", surface.saddles)):
        if where:
            spots = np.array(where, dtype=float)
            handles += ax.plot(spots[:, 0], spots[:, 1], vertical(surface.value(spots)) + lift, marker=marker,
                               markersize=11, markeredgecolor="white", label=name, **_MARKER_STYLE)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("log10(1 + f - min f)" if log else "f(x, y)")
    _legend_below(ax, handles)
    _set_title(ax, title, f"{surface.title}: the landscape the optimizers walk down")
    return ax


def _draw_surface(ax, surface: Surface, *, log_levels=None, resolution=200) -> tuple[list, list[Line2D]]:
    """Contours, minima and saddle points of ``surface`` in its window; returns ``(contours, markers)``."""
    xs, ys, heights = _grid(surface, resolution)
    log = _needs_log_levels(heights) if log_levels is None else bool(log_levels)
    levels = _levels(heights, log)
    norm = BoundaryNorm(levels, _BACKGROUND.N)
    contours = [
        ax.contourf(xs, ys, heights, levels=levels, cmap=_BACKGROUND, norm=norm, zorder=0),
        ax.contour(xs, ys, heights, levels=levels, colors="0.55", linewidths=0.5, zorder=1),
    ]
    if log:
        contours.append(ax.text(0.99, 0.01, "contours log-spaced", transform=ax.transAxes, ha="right",
                               va="bottom", fontsize="x-small", color="0.3"))
    markers = []
    for name, marker, size, where in (("minimum", "*", 13, surface.minima), ("saddle point", "X", 10, surface.saddles)):
        if where:
            spots = np.array(where, dtype=float)
            markers += ax.plot(spots[:, 0], spots[:, 1], marker=marker, markersize=size, markeredgecolor="white",
                               label=name, **_MARKER_STYLE)
    (x_low, x_high), (y_low, y_high) = surface.window
    ax.set_xlim(x_low, x_high)
    ax.set_ylim(y_low, y_high)
    # Equal scales keep the geometry true: a ravine looks narrow, and gradients cross contours at right angles.
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return contours, markers


def _draw_paths(ax, trajectories: Sequence[Trajectory]) -> tuple[list[Line2D], Line2D]:
    """One line per trajectory and one marker per distinct start; returns ``(paths, starts)``."""
    paths = [
        ax.plot(t.points[:, 0], t.points[:, 1], marker="o", markersize=2.5, linewidth=1.4, zorder=3,
                label=_path_label(t), **run_style(i))[0]
        for i, t in enumerate(trajectories)
    ]
    starts = np.unique(np.array([t.points[0] for t in trajectories], dtype=float).reshape(-1, 2), axis=0)
    (marker,) = ax.plot(starts[:, 0], starts[:, 1], marker="o", markersize=8, markerfacecolor="white",
                        markeredgewidth=1.5, label="start", **_MARKER_STYLE)
    return paths, marker


def _path_label(trajectory: Trajectory) -> str:
    if trajectory.diverged_at is not None:
        return f"{trajectory.label}: diverged at step {trajectory.diverged_at}"
    return f"{trajectory.label}: final f = {trajectory.losses[-1]:.3g}"


def _grid(surface: Surface, resolution: int):
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 10:
        raise ValueError(f"resolution must be a whole number >= 10 (grid points per axis), got {resolution!r}")
    (x_low, x_high), (y_low, y_high) = surface.window
    xs, ys = np.meshgrid(np.linspace(x_low, x_high, resolution), np.linspace(y_low, y_high, resolution))
    return xs, ys, surface.value(np.stack([xs, ys], axis=-1))


def _needs_log_levels(heights: np.ndarray) -> bool:
    """True when the middle 90 % of the heights above the lowest spans more than two decades."""
    above = heights - heights.min()
    low, high = np.percentile(above, [5, 95])
    return high > 10**_LOG_DECADES * low


def _levels(heights: np.ndarray, log: bool, count: int = 24) -> np.ndarray:
    lowest, highest = float(heights.min()), float(heights.max())
    if not log:
        return np.linspace(lowest, highest, count)
    # Start the geometric spacing at the valley floor's typical height rather than at zero.
    floor = max(float(np.percentile(heights - lowest, 0.5)), 1e-9 * (highest - lowest))
    return np.concatenate([[lowest], lowest + np.geomspace(floor, highest - lowest, count - 1)])


# --- losses ---------------------------------------------------------------------------------


def plot_loss_per_update(runs, *, ax=None, title=None, log_y=None):
    """The loss update by update, for one or several runs (Trajectories or Histories).

    A :class:`~course_lib.training.Trajectory` starts at update 0 (the loss at the start point);
    a :class:`~course_lib.training.History` gives the mini-batch loss of each update, so its
    curve is as noisy as the batches are small. The loss axis is logarithmic when none of the
    losses is negative and the positive ones span more than two decades (``log_y`` forces it
    either way), so that a straight line means a constant rate of improvement. A run that
    diverged leaves through the top of the plot, and a cross on the top edge marks the update at
    which it blew up, so the healthy runs keep a readable scale. Returns the Axes.
    """
    runs = _as_runs(runs)
    ax = _axes(ax)
    curves = []
    for index, run in enumerate(runs):
        if isinstance(run, Trajectory):
            updates, losses = np.arange(len(run.losses)), np.asarray(run.losses, dtype=float)
        else:
            losses = np.asarray(run.update_losses, dtype=float)
            updates = np.arange(1, len(losses) + 1)
        blew_up = _divergence_point(run, updates[-1] + 1 if len(updates) else 1)
        _plot_run(ax, updates, losses, run.label, blew_up, "update", run_style(index)["color"], linewidth=1.2)
        curves.append((losses, blew_up))
    _finish_axes(ax, curves, log_y, xlabel="update")
    _set_title(ax, title, "Loss per update: lower, sooner and steadier is better")
    return ax


def plot_loss_per_epoch(histories, *, ax=None, title=None, log_y=None):
    """Training (solid) and validation (dashed) loss after each epoch for one or several fits.

    Epoch 0 is the loss before any update. Log axis and diverged runs as in
    :func:`plot_loss_per_update`. Returns the Axes.
    """
    histories = _as_runs(histories, kind=History)
    ax = _axes(ax)
    curves = []
    for index, history in enumerate(histories):
        color = run_style(index)["color"]
        train = np.asarray(history.train_losses, dtype=float)
        validation = np.asarray(history.val_losses, dtype=float)
        epochs = np.arange(len(train))
        blew_up = _divergence_point(history, len(train))
        _plot_run(ax, epochs, train, history.label, blew_up, "epoch", color, marker="o", markersize=3)
        ax.plot(np.arange(len(validation)), validation, linestyle="--", marker="o", markersize=3,
                markerfacecolor="white", color=color)
        curves += [(train, blew_up), (validation, blew_up)]
    ax.plot([], [], color="0.4", label="training (solid)")
    ax.plot([], [], color="0.4", linestyle="--", label="validation (dashed)")
    _finish_axes(ax, curves, log_y, xlabel="epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    _set_title(ax, title, "Loss per epoch: does the validation loss follow the training loss down?")
    return ax


def plot_lr_sweep(sweeps, *, ax=None, title=None, log_y=None):
    """Final loss against the learning rate, one curve per optimizer, log learning-rate axis.

    ``sweeps`` maps a series name to ``{lr: run}``, where each run is the Trajectory or History
    obtained with that learning rate, e.g. ``{"SGD": {1e-3: run_a, 1e-2: run_b}, "Adam": {...}}``.
    The final loss of a History is its last full training-set loss. Runs that diverged have no
    final loss; instead of being dropped they are drawn as crosses on the top edge, at their
    learning rate. Log loss axis as in :func:`plot_loss_per_update`. Returns the Axes.
    """
    if not isinstance(sweeps, Mapping) or not sweeps:
        raise TypeError(
            "sweeps must be a non-empty dict {series name: {lr: run}}, "
            f"e.g. {{'SGD': {{0.01: trajectory}}}}; got {type(sweeps).__name__}"
        )
    ax = _axes(ax)
    curves = []
    for index, (name, runs_by_lr) in enumerate(sweeps.items()):
        if not isinstance(runs_by_lr, Mapping) or not runs_by_lr:
            raise TypeError(f"sweeps[{name!r}] must be a non-empty dict {{lr: run}}, got {type(runs_by_lr).__name__}")
        for lr in runs_by_lr:
            if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < lr < math.inf:
                raise ValueError(
                    f"sweeps[{name!r}] has learning rate {lr!r}; learning rates must be finite numbers > 0"
                )
        lrs = sorted(runs_by_lr)
        runs = _as_runs([runs_by_lr[lr] for lr in lrs])
        lrs = np.array(lrs, dtype=float)
        finals = np.array([math.nan if _diverged(run) else float(_losses(run)[-1]) for run in runs])
        healthy = np.isfinite(finals)
        color = run_style(index)["color"]
        ax.plot(lrs[healthy], finals[healthy], marker="o", color=color, label=str(name))
        if not healthy.all():
            _mark_on_top(ax, lrs[~healthy], color)
        curves.append((finals[healthy], None))
    if any(_diverged(run) for runs_by_lr in sweeps.values() for run in runs_by_lr.values()):
        ax.plot([], [], marker="X", markersize=10, markeredgecolor="black", markerfacecolor="white",
                linestyle="none", label="diverged (on the top edge)")
    ax.set_xscale("log")
    _finish_axes(ax, curves, log_y, xlabel="learning rate", ylabel="final loss")
    _set_title(ax, title, "Final loss vs learning rate: too small is slow, too large diverges")
    return ax


def _losses(run) -> np.ndarray:
    return run.losses if isinstance(run, Trajectory) else run.train_losses


def _diverged(run) -> bool:
    return (run.diverged_at if isinstance(run, Trajectory) else run.diverged) is not None


def _divergence_point(run, next_x):
    """Where a diverged run blew up on the x-axis (None for a healthy run)."""
    if not _diverged(run):
        return None
    return run.diverged_at if isinstance(run, Trajectory) else next_x


def _plot_run(ax, xs, losses, label, blew_up, unit: str, color, **style) -> None:
    if blew_up is not None:
        label = f"{label}: diverged at {unit} {blew_up}"
        _mark_on_top(ax, [blew_up], color)
    ax.plot(xs, losses, color=color, label=label, **style)


def _mark_on_top(ax, xs, color) -> None:
    ax.plot(xs, np.full(len(xs), 0.97), transform=ax.get_xaxis_transform(), marker="X", markersize=10,
            markeredgecolor="black", color=color, linestyle="none", clip_on=False, zorder=5)


def _finish_axes(ax, curves, log_y, *, xlabel: str, ylabel: str = "loss") -> None:
    """Labels, grid, legend, and a value axis scaled to the healthy runs.

    ``curves`` holds ``(values, blew_up)`` pairs; a diverged run (``blew_up`` not None) only
    contributes its first value, so that its explosion does not flatten everything else.
    """
    kept = [np.ravel(values) if blew_up is None else np.ravel(values)[:1] for values, blew_up in curves]
    values = np.concatenate(kept) if kept else np.array([])
    values = values[np.isfinite(values)]
    if log_y is None:
        positive = values[values > 0]
        log_y = (positive.size > 0 and values.min() >= 0
                 and positive.max() > 10**_LOG_DECADES * positive.min())
    if log_y:
        # Zeros (a buffer's starting value) are left out rather than drawn as a plunge to the bottom.
        ax.set_yscale("log", nonpositive="mask")
    if values.size and any(blew_up is not None for _, blew_up in curves):
        low, high = values.min(), values.max()
        if log_y:
            ax.set_ylim(low / 2, high * 2)
        else:
            margin = 0.1 * (high - low) or 1.0
            ax.set_ylim(low - margin, high + margin)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel} (log scale)" if log_y else ylabel)
    ax.grid(True, which="major", color="0.9")
    ax.legend(fontsize="small")


# --- internal state -------------------------------------------------------------------------


def plot_state(trajectories, key: str, *, norm: bool = False, coordinate: int | None = None, first_style: int = 0,
               ax=None, title=None, log_y=None):
    """An optimizer's state buffer ``key`` (e.g. ``"momentum_buffer"``, ``"exp_avg_sq"``) over the steps.

    Per coordinate (x solid, y dashed) by default, only coordinate ``coordinate`` (0 for x, 1 for
    y, with a line at zero when it changes sign), or its Euclidean norm with ``norm=True``, for
    each trajectory in its own colour: ``run_style(first_style + i)`` for the ``i``-th, so that runs keep
    the colours of a figure where others came first. The step axis counts updates done, so step ``t`` shows
    the state after the ``t``-th update (step 0 is the initial state). Log axis as in
    :func:`plot_loss_per_update`, which accumulated squares usually get. Returns the Axes.
    """
    trajectories = _as_trajectories(trajectories)
    if not trajectories:
        raise ValueError("plot_state needs at least one trajectory")
    if norm and coordinate is not None:
        raise ValueError("give norm=True or a coordinate, not both")
    ax = _axes(ax)
    curves = []
    for index, trajectory in enumerate(trajectories):
        steps, values = _state_series(trajectory, key)
        if norm:
            values = np.linalg.norm(values, axis=1, keepdims=True)
        elif coordinate is not None:
            if isinstance(coordinate, bool) or not isinstance(coordinate, int) or not 0 <= coordinate < values.shape[1]:
                raise ValueError(f"coordinate must be 0 to {values.shape[1] - 1}, got {coordinate!r}")
            values = values[:, [coordinate]]
        _plot_coordinates(ax, steps, values, trajectory.label, run_style(first_style + index)["color"])
        curves.append((values, None))
    if coordinate is not None and min(v.min() for v, _ in curves) < 0 < max(v.max() for v, _ in curves):
        ax.axhline(0, color="0.5", linewidth=0.8)
    what = f"‖{key}‖" if norm else key if coordinate is None else f"{key}[{coordinate}]"
    _finish_axes(ax, curves, log_y, xlabel="step (updates done)", ylabel=what)
    _set_title(ax, title, f"{what} over the steps: what the optimizer remembers")
    return ax


def plot_effective_step(trajectories, *, ax=None, title=None, log_y=None):
    """The effective step size per coordinate, ``|Δθ_i| / |g_i|``, at every step (x solid, y dashed).

    It is how far a coordinate moved per unit of its gradient
    (:func:`~course_lib.training.effective_step_sizes`): a flat line at ``lr`` for plain gradient
    descent, growing where momentum builds up, shrinking as AdaGrad's squares accumulate, and
    different for the two coordinates under any per-coordinate method. Log axis as in
    :func:`plot_loss_per_update`. Returns the Axes.
    """
    trajectories = _as_trajectories(trajectories)
    if not trajectories:
        raise ValueError("plot_effective_step needs at least one trajectory")
    ax = _axes(ax)
    curves = []
    for index, trajectory in enumerate(trajectories):
        sizes = effective_step_sizes(trajectory)
        _plot_coordinates(ax, np.arange(1, len(sizes) + 1), sizes, trajectory.label, run_style(index)["color"])
        curves.append((sizes, None))
    _finish_axes(ax, curves, log_y, xlabel="step", ylabel="effective step |Δθ| / |g|")
    _set_title(ax, title, "Effective step |Δθ| / |g|: how far each coordinate moves per unit of gradient")
    return ax


def plot_coordinates(trajectory, *, names=("x", "y"), ax=None, title=None):
    """Each coordinate of one trajectory's iterates against the step, in its own colour, with a line at
    zero: which coordinates shrink, which flip sign, which crawl. ``names`` label the coordinates,
    e.g. ``("x (along the floor)", "y (across)")``. Returns the Axes."""
    (trajectory,) = _as_trajectories(trajectory)
    if len(names) != trajectory.points.shape[1]:
        raise ValueError(f"names must name each of the {trajectory.points.shape[1]} coordinates, got {names!r}")
    ax = _axes(ax)
    steps = np.arange(len(trajectory.points))
    for index, name in enumerate(names):
        ax.plot(steps, trajectory.points[:, index], marker="o", markersize=3, color=run_style(index)["color"],
                label=name)
    ax.axhline(0, color="0.5", linewidth=0.8)
    ax.set(xlabel="step", ylabel="coordinate")
    ax.legend(fontsize="small")
    _set_title(ax, title, f"{trajectory.label}: the coordinates step by step")
    return ax


def plot_step_lengths(trajectories, *, marks=(), mark_text="dotted", ax=None, title=None):
    """The length of every step, ``|θ_t - θ_(t-1)|``, on a log axis, one line per trajectory; a dotted
    line at each step in ``marks`` (e.g. where a schedule changes the learning rate), explained in the
    x label by ``mark_text``. Returns the Axes."""
    trajectories = _as_trajectories(trajectories)
    if not trajectories:
        raise ValueError("plot_step_lengths needs at least one trajectory")
    ax = _axes(ax)
    for index, trajectory in enumerate(trajectories):
        lengths = np.linalg.norm(np.diff(trajectory.points, axis=0), axis=1)
        ax.semilogy(np.arange(1, len(lengths) + 1), lengths, marker="o", markersize=2.5, label=trajectory.label,
                    **run_style(index))
    for step in marks:
        ax.axvline(step, color="0.5", linestyle=":", linewidth=1)
    ax.set(xlabel=f"step ({mark_text})" if len(marks) else "step", ylabel="step length |θ_t − θ_(t−1)|")
    ax.grid(True, which="major", color="0.9")
    ax.legend(fontsize="small")
    _set_title(ax, title, "Step lengths: how far each update moves the parameters")
    return ax


def plot_constant_gradient_buffer(optimizers, *, steps: int = 60, ax=None, title=None):
    """What momentum's buffer does with the same gradient, 1, at every step: for each optimizer (with a
    ``"momentum_buffer"``), the buffer step by step and, dotted, its limit ``(1 - τ) / (1 - μ)``, the
    sum of the weights the buffer gives past gradients. Returns the Axes."""
    optimizers = list(optimizers) if isinstance(optimizers, Sequence) else [optimizers]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    ax = _axes(ax, figsize=(8, 4.2))
    for index, optimizer in enumerate(optimizers):
        momentum = getattr(optimizer, "momentum", 0)
        if not 0 < momentum < 1:
            raise ValueError(f"{optimizer!r} keeps no momentum buffer: give it a momentum between 0 and 1")
        param, buffers = np.zeros(1), []
        state = optimizer.init(param)
        for _ in range(steps):
            param, state = optimizer.step(param, np.ones(1), state)
            buffers.append(float(state["momentum_buffer"][0]))
        limit = (1 - getattr(optimizer, "dampening", 0.0)) / (1 - momentum)
        color = run_style(index)["color"]
        ax.plot(np.arange(1, steps + 1), buffers, marker="o", markersize=3, color=color,
                label=f"{optimizer.label}: {buffers[-1]:.3f} after {steps} steps, limit {limit:g}")
        ax.axhline(limit, color=color, linestyle=":", linewidth=1.2)
    ax.set(xlabel="step", ylabel="momentum_buffer (gradient = 1)")
    ax.legend(fontsize="small")
    _set_title(ax, title, "A constant gradient: the buffer grows to its limit (dotted), (1 − τ)/(1 − μ)")
    return ax


def _state_series(trajectory: Trajectory, key: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(key, str):
        raise TypeError(f"key must be the name of a state entry (a str), got {type(key).__name__}")
    if not trajectory.states:
        raise ValueError(f"trajectory {trajectory.label!r} has no recorded states (no steps were taken)")
    if key not in trajectory.states[0]:
        available = ", ".join(repr(k) for k in trajectory.states[0] if k != "step") or "none"
        raise ValueError(f"trajectory {trajectory.label!r} has no state entry {key!r}; its entries: {available}")
    steps = np.array([state["step"] for state in trajectory.states])
    values = np.array([np.ravel(np.asarray(state[key], dtype=float)) for state in trajectory.states])
    return steps, values


def _plot_coordinates(ax, steps, values: np.ndarray, label: str, color) -> None:
    """One line per column of ``values``: x solid, y dashed; a single column is labelled as the run."""
    if values.shape[1] == 1:
        ax.plot(steps, values[:, 0], color=color, label=label)
        return
    names = ("x", "y") if values.shape[1] == 2 else [f"[{i}]" for i in range(values.shape[1])]
    for column, name in enumerate(names):
        ax.plot(steps, values[:, column], color=color, linestyle=_LINESTYLES[column % len(_LINESTYLES)],
                label=f"{label}: {name}")


# --- animation ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TrajectoryAnimation:
    """What :func:`animate_trajectories` returns: an HTML/JavaScript player and a still image.

    A notebook shows the player; viewers that do not run JavaScript (PDF export, some static
    renderers) fall back to ``png``, the last frame, since both are offered to the frontend.
    """

    html: str
    png: bytes
    frames: int

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html, "image/png": base64.b64encode(self.png).decode("ascii")}


def animate_trajectories(surface, trajectories, *, ax=None, title=None, log_levels=None, frames: int = 30,
                         interval_ms: int = 100, dpi: int = 72) -> TrajectoryAnimation:
    """Animate the paths of ``trajectories`` on the contour map of ``surface``, all in step.

    Each frame draws the paths up to the same step, so the faster optimizer visibly pulls
    ahead. At most ``frames`` frames are rendered (the steps are subsampled evenly), which keeps
    a notebook's run time to a second or two. Without ``ax`` the figure is closed after rendering,
    so only the player appears in the notebook. Returns a :class:`TrajectoryAnimation`, which a
    notebook displays as an interactive player with the last frame as its static fallback.
    """
    surface = _as_surface(surface)
    trajectories = _as_trajectories(trajectories)
    if not trajectories:
        raise ValueError("animate_trajectories needs at least one trajectory")
    for name, value, low in (("frames", frames, 2), ("interval_ms", interval_ms, 1), ("dpi", dpi, 10)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    own_figure = ax is None
    ax = _axes(ax, figsize=_map_figsize(surface, legend_rows=math.ceil((len(trajectories) + 3) / 2)))
    _, markers = _draw_surface(ax, surface, log_levels=log_levels)
    paths, start = _draw_paths(ax, trajectories)
    _legend_below(ax, [*paths, start, *markers])
    _set_title(ax, title, f"{surface.title}: the paths step by step")
    longest = max(len(t.points) for t in trajectories)
    shown = np.unique(np.linspace(1, longest, min(frames, longest)).round().astype(int))

    counter = ax.text(0.02, 0.97, "", transform=ax.transAxes, va="top", fontsize="small",
                      bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})

    def draw_frame(count):
        for path, trajectory in zip(paths, trajectories):
            path.set_data(trajectory.points[:count, 0], trajectory.points[:count, 1])
        counter.set_text(f"step {count - 1}")

    figure = ax.figure
    original_dpi = figure.dpi
    figure.set_dpi(dpi)
    # The layout does not change between frames; computing it once, not per frame, saves a third of the time.
    figure.canvas.draw()
    layout = figure.get_layout_engine()
    figure.set_layout_engine("none")
    animation = FuncAnimation(figure, draw_frame, frames=shown, interval=interval_ms, blit=False, repeat=False)
    try:
        html = animation.to_jshtml(default_mode="once")
        still = io.BytesIO()
        figure.savefig(still, format="png", dpi=dpi)
    finally:
        figure.set_layout_engine(layout)
        figure.set_dpi(original_dpi)
        if own_figure:
            plt.close(figure)
    return TrajectoryAnimation(html=html, png=still.getvalue(), frames=len(shown))


# --- argument handling ----------------------------------------------------------------------


def _as_surface(surface) -> Surface:
    if isinstance(surface, str):
        return get_surface(surface)
    if isinstance(surface, Surface):
        return surface
    raise TypeError(
        f"surface must be a Surface or the name of one ({', '.join(SURFACES)}), got {type(surface).__name__}"
    )


def _as_trajectories(trajectories) -> list[Trajectory]:
    return _as_runs(trajectories, kind=Trajectory)


def _as_runs(runs, kind=(Trajectory, History)) -> list:
    """One run or a sequence of them as a list, with a clear error for anything else."""
    if isinstance(runs, kind):
        return [runs]
    names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
    if not isinstance(runs, Sequence) or isinstance(runs, str):
        raise TypeError(f"expected a {names} or a list of them, got {type(runs).__name__}")
    for position, run in enumerate(runs):
        if not isinstance(run, kind):
            raise TypeError(f"item {position} is a {type(run).__name__}, expected a {names}")
    return list(runs)


def _axes(ax, figsize=(7.0, 4.5)):
    if ax is None:
        return plt.figure(figsize=figsize, layout="constrained").add_subplot()
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes (e.g. from plt.subplots()), got {type(ax).__name__}")
    return ax


def _legend_below(ax, handles, columns: int = 2):
    """Legend under the x-axis label, where it cannot hide a path, at a fixed distance in inches."""
    below_label = ScaledTranslation(0, -0.5, ax.figure.dpi_scale_trans)
    return ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                     bbox_transform=ax.transAxes + below_label, ncols=columns, fontsize="small", frameon=False)


def _map_figsize(surface: Surface, legend_rows: int, width: float = 7.0, max_map_height: float = 5.0):
    """A figure in which the surface's window fits at equal scale on both axes, above a legend."""
    (x_low, x_high), (y_low, y_high) = surface.window
    map_height = min(max_map_height, (width - 0.8) * (y_high - y_low) / (x_high - x_low))
    # Title, tick labels and x label take about an inch; each legend row a fifth of one.
    return width, map_height + 1.1 + 0.2 * legend_rows


def _set_title(ax, title, default: str) -> None:
    """Left-aligned, so that a long title may run over the legend instead of off the figure."""
    ax.set_title(default if title is None else title, loc="left")


# --- convergence rates of heavy ball and Nesterov (lessons 04 and 05) ------------------------

#: Rates from 0 to 0.999 get their own colours; slower ones share the last (the colour bar's arrow).
RATE_RANGE = (0.0, 0.999)
# Colour follows -log10(1 - r), so that 0.9, 0.99 and 0.999 (about 22, 230 and 2300 steps to divide
# the error by 10) lie equally far apart: on a linear scale every slow setting would look the same.
_RATE_NORM = FuncNorm((lambda r: -np.log10(1 - np.minimum(r, RATE_RANGE[1])), lambda s: 1 - 10.0**-s),
                      vmin=RATE_RANGE[0], vmax=RATE_RANGE[1])
_DIVERGES = "0.86"
_RATE_COLORS = plt.get_cmap("viridis_r").with_extremes(bad=_DIVERGES)
#: The colour bar's ticks; the same values are drawn as thin white lines of equal rate on the maps.
RATE_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
_LIMIT_TEXT = {"heavy_ball": "γ {h} = 2(1 + μ)", "nesterov": "γ {h} = 2(1 + μ)/(1 + 2μ)"}
_BEST_BY = {"heavy_ball": "Polyak", "nesterov": "Lessard et al."}
_MAP_MARKER = {"linestyle": "none", "markeredgecolor": "black", "zorder": 6, "clip_on": False}


class RatePanel:
    """One map of the rate over (learning rate γ, momentum μ), drawn once and then updated in place.

    The ``plot_rate_*`` functions draw with it, and :class:`course_lib.widgets.RateMapExplorer`
    calls :meth:`update` at every change of the condition number. ``whole=False`` draws one
    eigen-direction alone: no best settings, since they belong to the whole quadratic. The
    learning-rate axis runs from 0 to ``lr_max``; the grid has ``resolution`` cells per axis.
    ``point_name`` names the point :meth:`update` places (the learner's, by default).
    """

    def __init__(self, ax, method: str, lr_max: float, *, whole: bool = True, resolution: int = 240,
                 point_name: str = "yours"):
        from . import rates

        rates._check_method(method)
        if not isinstance(lr_max, numbers.Real) or not 0 < lr_max < math.inf:
            raise ValueError(f"lr_max must be a positive number, got {lr_max!r}")
        self.ax, self.method, self.whole, self.point_name = ax, method, whole, point_name
        # Cell centres, so that no cell sits at lr = 0 or μ = 1, where nothing moves.
        self.lrs = (np.arange(resolution) + 0.5) * lr_max / resolution
        self.momenta = (np.arange(resolution) + 0.5) / resolution
        self.image = ax.imshow(np.full((resolution, resolution), np.nan), origin="lower", aspect="auto",
                               extent=(0.0, lr_max, 0.0, 1.0), cmap=_RATE_COLORS, norm=_RATE_NORM,
                               interpolation="nearest")
        self.levels = None
        # Above the lines of equal rate, which crowd along it.
        (self.limit,) = ax.plot([], [], color="black", linestyle="--", linewidth=1.5, zorder=3)
        # Markers may stick out of the axes (gradient descent's sits on the μ = 0 edge). Their "no data" is
        # NaN, not empty: an empty line drawn outside the axes breaks matplotlib's constrained layout.
        (self.best,) = ax.plot([np.nan], [np.nan], marker="*", markersize=18, color="white", **_MAP_MARKER)
        (self.descent,) = ax.plot([np.nan], [np.nan], marker="s", markersize=9, color=PALETTE[5], **_MAP_MARKER)
        (self.yours,) = ax.plot([np.nan], [np.nan], marker="o", markersize=11, color=PALETTE[1],
                                markeredgewidth=1.5, **_MAP_MARKER)
        limit = _LIMIT_TEXT[method].format(h="h_max" if whole else "h")
        self.limit.set_label(f"stability limit: {limit}")
        self.best.set_label(f"best setting ({_BEST_BY[method]})")
        self.descent.set_label("gradient descent's best (μ = 0)")
        self.yours.set_label(point_name)
        diverges = Patch(facecolor=_DIVERGES, edgecolor="0.6", label="grey: diverges (r ≥ 1)")
        handles = [*([self.best, self.descent] if whole else []), self.yours, self.limit, diverges]
        # The legend never changes (the rates are in the title), so a redraw need not lay it out again.
        self.legend = _legend_below(ax, handles, columns=1)
        ax.set(xlim=(0.0, lr_max), ylim=(0.0, 1.0), xlabel="learning rate γ", ylabel="momentum μ")
        self.title = ax.set_title("", loc="left", fontsize=11)

    def update(self, curvatures, learner=None, heading=None) -> dict:
        """Draw the map of ``curvatures`` and the point ``learner = (lr, momentum)``, if given, under a
        title of ``heading`` (by default the method and κ) and the marked rates.

        Returns what the markers show: ``"best"`` and ``"descent"`` (:class:`course_lib.rates.Setting`,
        for a whole quadratic) and ``"yours"`` (the learner's rate).
        """
        from . import rates

        h = rates._check_curvatures(curvatures)
        grid = rates.rate_map(self.method, h, self.lrs, self.momenta)
        self.image.set_data(np.ma.masked_where(grid >= 1, grid))
        if self.levels is not None:
            self.levels.remove()
        self.levels = self.ax.contour(self.lrs, self.momenta, grid, levels=RATE_LEVELS, colors="white",
                                      linewidths=0.6, alpha=0.8)
        self.limit.set_data(rates.stability_limit(self.method, self.momenta, h.max()), self.momenta)
        shown, rates_shown = {}, []
        if self.whole:
            best = shown["best"] = rates.best_setting(self.method, h)
            descent = shown["descent"] = rates.best_setting("gradient_descent", h)
            self.best.set_data([best.lr], [best.momentum])
            self.descent.set_data([descent.lr], [0.0])
            rates_shown += [f"best {best.rate:.3f}", f"gradient descent {descent.rate:.3f}"]
        if learner is None:
            self.yours.set_data([np.nan], [np.nan])
        else:
            lr, momentum = learner
            mine = shown["yours"] = float(rates.rate(self.method, lr, momentum, h))
            self.yours.set_data([lr], [momentum])
            rates_shown.append(f"{self.point_name} {mine:.3f}" + (" (diverges)" if mine >= 1 else ""))
        if heading is None:
            name = rates.NAMES[self.method].capitalize()
            heading = f"{name}, κ = {h.max() / h.min():.4g}" if self.whole else f"{name}: h = {h[0]:g} alone"
        self.title.set_text(heading + ("\nr: " + ", ".join(rates_shown) if rates_shown else ""))
        return shown

    @property
    def artists(self) -> list:
        """What :meth:`update` changes, for a caller that redraws only those."""
        return [self.image, self.levels, self.limit, self.best, self.descent, self.yours, self.title]


def add_rate_colorbar(figure, image, axes):
    """The colour bar of the rate maps beside ``axes``: each tick gives r and, in brackets, the steps
    that r needs to divide the error by 10 (:func:`course_lib.rates.steps_per_tenfold`)."""
    from . import rates

    ticks = (0.0, *RATE_LEVELS)
    bar = figure.colorbar(image, ax=axes, ticks=ticks, extend="max", fraction=0.04, pad=0.02, aspect=35)
    bar.ax.set_yticklabels(["0"] + [f"{r:g} ({steps:.0f})" for r, steps in
                                    zip(RATE_LEVELS, rates.steps_per_tenfold(RATE_LEVELS))])
    bar.ax.tick_params(labelsize="small")
    bar.set_label("rate r, the error's factor per step (steps to divide it by 10)")
    return bar


def _default_lr_max(curvatures, learner) -> float:
    """Just past the largest stable learning rate (4 / h_max as μ nears 1), and past the learner's point."""
    return max(4.2 / float(np.max(curvatures)), 1.1 * learner[0] if learner is not None else 0.0)


def _as_learner(learner):
    if learner is None:
        return None
    fine = (isinstance(learner, (Sequence, np.ndarray)) and not isinstance(learner, str) and len(learner) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in learner)
            and learner[0] > 0 and 0 <= learner[1] < 1)
    if not fine:
        raise ValueError(f"learner must be a pair (lr, momentum) with lr > 0 and 0 <= momentum < 1, got {learner!r}")
    return float(learner[0]), float(learner[1])


def plot_rate_map(method: str, curvatures, *, learner=None, point_name="yours", lr_max=None, ax=None, title=None,
                  colorbar=True):
    """The rate r of heavy ball or Nesterov on a quadratic, over (learning rate γ, momentum μ).

    ``curvatures`` are the quadratic's, e.g. ``(1/8, 4)`` for the ravine; only the smallest and
    the largest matter (:mod:`course_lib.rates`). Colour is the rate: bright where the error falls
    fast, dark where it crawls, with white lines of equal rate at the colour bar's ticks; grey
    diverges, right of the dashed stability limit. Marked: the method's best setting (a star),
    gradient descent's best on the μ = 0 edge (a square) and ``learner = (lr, momentum)`` (a
    circle, named ``point_name`` in the legend), with their rates in the title. Returns the Axes.
    """
    learner = _as_learner(learner)
    ax = _axes(ax, figsize=(6.0, 6.4))
    panel = RatePanel(ax, method, _default_lr_max(curvatures, learner) if lr_max is None else lr_max,
                      point_name=point_name)
    panel.update(curvatures, learner, heading=title)
    if colorbar:
        add_rate_colorbar(ax.figure, panel.image, ax)
    return ax


def plot_rate_maps(curvatures, *, methods=None, learner=None, point_name="yours", lr_max=None, axes=None):
    """:func:`plot_rate_map` of heavy ball and Nesterov side by side, on the same axes and colours,
    with one colour bar. Returns the Axes."""
    from . import rates

    methods = rates.METHODS if methods is None else tuple(methods)
    learner = _as_learner(learner)
    if axes is None:
        axes = plt.figure(figsize=(13, 6.6), layout="constrained").subplots(1, len(methods), squeeze=False)[0]
    lr_max = _default_lr_max(curvatures, learner) if lr_max is None else lr_max
    panels = [RatePanel(ax, method, lr_max, point_name=point_name) for ax, method in zip(axes, methods)]
    for panel in panels:
        panel.update(curvatures, learner)
    add_rate_colorbar(axes[0].figure, panels[0].image, list(axes))
    return axes


def plot_rate_by_direction(method: str, curvatures, *, learner=None, point_name="yours", names=None, lr_max=None,
                           axes=None):
    """The rate of each eigen-direction alone, one map per curvature, then the whole quadratic's,
    which is at every point the largest of them. ``names`` describe the directions in the titles,
    e.g. ``("along the floor", "across the valley")``. Returns the Axes."""
    from . import rates

    h = rates._check_curvatures(curvatures)
    learner = _as_learner(learner)
    if names is not None and len(names) != len(h):
        raise ValueError(f"names must describe each of the {len(h)} curvatures, got {names!r}")
    if axes is None:
        axes = plt.figure(figsize=(13, 6.0), layout="constrained").subplots(1, len(h) + 1)
    lr_max = _default_lr_max(h, learner) if lr_max is None else lr_max
    for index, (ax, curvature) in enumerate(zip(axes, h)):
        what = f" ({names[index]})" if names is not None else ""
        panel = RatePanel(ax, method, lr_max, whole=False, point_name=point_name)
        panel.update([curvature], learner, heading=f"h = {curvature:g} alone{what}")
    whole = RatePanel(axes[len(h)], method, lr_max, point_name=point_name)
    whole.update(h, learner, heading="The run: the larger of the two" if len(h) == 2 else "The run: the largest of all")
    add_rate_colorbar(axes[0].figure, whole.image, list(axes))
    return axes


def plot_rate_by_curvature(momentum: float, *, lr=None, curvatures=(), names=(), methods=None, a_max=4.2,
                           ax=None, title=None):
    """One direction's rate against ``a = γ h`` at a fixed ``momentum``, one curve per method.

    With ``lr`` and ``curvatures`` given, a dotted line marks each direction at ``a = lr h``,
    labelled with ``names``. The line r = 1 separates shrinking errors from growing ones. Returns the Axes.
    """
    from . import rates

    momentum = rates._check_momentum(momentum)
    methods = rates.METHODS if methods is None else tuple(methods)
    curvatures = np.atleast_1d(np.asarray(curvatures, dtype=float))
    if curvatures.size and lr is None:
        raise ValueError("give lr to mark the curvatures: each is drawn at a = lr × curvature")
    ax = _axes(ax, figsize=(9, 4.4))
    a = np.linspace(0.0, a_max, 841)[1:]
    for index, method in enumerate(methods):
        ax.plot(a, rates.spectral_radius(method, a, momentum, 1.0), color=run_style(index)["color"], linewidth=2,
                label=f"{rates.NAMES[method]}, μ = {momentum:g}")
    for index, curvature in enumerate(curvatures):
        where = lr * curvature
        name = names[index] if index < len(names) else f"h = {curvature:g}"
        ax.axvline(where, color="0.4", linestyle=":", linewidth=1)
        ax.annotate(f"{name}\na = {where:.3g}", xy=(where, 0.04), xytext=(4, 0), textcoords="offset points",
                    fontsize="small", color="0.25")
    ax.axhline(1, color="black", linewidth=0.9)
    ax.set(xlim=(0, a_max), ylim=(0, 1.3), xlabel="a = γ h: learning rate × curvature of the direction",
           ylabel="rate r of that direction")
    ax.legend(loc="upper right", fontsize="small")
    ax.grid(True, color="0.92")
    _set_title(ax, title, "One direction's rate: below 1 its error shrinks, above 1 it grows")
    return ax


def plot_rate_check(checks, *, ax=None, title=None):
    """Runs against the map. For each :class:`course_lib.rates.RateCheck`, the run's distance to the
    minimum per step (log scale) and, dashed, a line falling at the map's rate over the steps on which
    the run's rate was measured: parallel lines mean the map predicted the run. Returns the Axes."""
    from . import rates

    checks = [checks] if isinstance(checks, rates.RateCheck) else list(checks)
    if not checks or not all(isinstance(check, rates.RateCheck) for check in checks):
        raise TypeError("checks must be a RateCheck or a list of them, from course_lib.rates.check_rate")
    ax = _axes(ax, figsize=(7, 4.5))
    for index, check in enumerate(checks):
        name = rates.NAMES[check.method]
        measured = f"measured r = {check.measured:.4f}" if check.fitted else "blew up too soon to measure"
        ax.semilogy(np.arange(len(check.errors)), check.errors, color=run_style(index)["color"], linewidth=1.4,
                    label=f"{name}: the run, {measured}")
        if check.fitted is None:
            continue
        first, end = check.fitted
        span = np.arange(first, end)
        # The dashed line touches the run's highest points from above: an oscillating run's peaks lie on it.
        offset = np.max(np.log(check.errors[span]) - (span - first) * np.log(check.predicted))
        ax.semilogy(span, np.exp(offset) * check.predicted ** (span - first), color="black",
                    linestyle=_LINESTYLES[1 + index % 3], linewidth=1.6,
                    label=f"{name}: the map's r = {check.predicted:.4f}")
    ax.set(xlabel="step t", ylabel="distance to the minimum (log scale)")
    ax.grid(True, which="major", color="0.9")
    ax.legend(fontsize="small")
    _set_title(ax, title, "The runs fall at the slopes the map predicts")
    return ax


def plot_look_ahead(surface, lr: float, momentum: float, *, after: int = 2, window=None, floor_at=None, axes=None):
    """Heavy ball and Nesterov side by side at one moment of a run: where each takes its gradient.

    Runs Sutskever et al.'s Nesterov form for ``after`` steps on ``surface``, then draws the next
    step on two copies of the map: the momentum step μv (blue), the same in both, and the gradient
    step (vermillion), computed at the current point θ (heavy ball, left) or at the look-ahead point
    θ + μv (Nesterov, right). A ring marks where the gradient is taken, a diamond where the step
    lands, and each title says whether the gradient step brakes the momentum step or adds to it.
    ``window`` is ``((x_low, x_high), (y_low, y_high))``, by default around the points, the same in
    both panels; ``floor_at`` draws the valley floor ``y = floor_at`` as a dashed line. Returns the
    two Axes and the run's point, velocity and look-ahead point, for printing.
    """
    from .optimizers import SutskeverNesterov
    from .training import minimize

    surface = _as_surface(surface)
    rule = SutskeverNesterov(lr=lr, momentum=momentum)
    run = minimize(surface, rule, surface.start, steps=after)
    theta, velocity = run.points[-1], run.states[-1]["velocity"]
    look_ahead = rule.gradient_point(theta, run.states[-1])
    landings = {where: look_ahead - lr * surface.grad(point) for where, point in (("θ", theta),
                                                                               ("θ + μv", look_ahead))}
    if window is None:
        # A square around the points, with room for the labels: both panels show the same piece of the map.
        points = np.array([theta, look_ahead, *landings.values()])
        centre, half = (points.min(axis=0) + points.max(axis=0)) / 2, 0.8 * max(np.ptp(points, axis=0).max(), 0.2)
        window = tuple((middle - half, middle + half) for middle in centre)
    if axes is None:
        axes = plt.figure(figsize=(12, 6.6), layout="constrained").subplots(1, 2)
    momentum_color, gradient_color = PALETTE[0], PALETTE[1]
    for ax, name, (where, new_theta) in zip(axes, ("Heavy ball", "Nesterov"), landings.items()):
        gradient_step = new_theta - look_ahead
        effect = "brakes" if np.dot(gradient_step, look_ahead - theta) < 0 else "adds to"
        plot_contours(surface, ax=ax, title=f"{name}: the gradient, taken at {where},\n{effect} the momentum step")
        ax.get_legend().remove()
        ax.plot(run.points[:, 0], run.points[:, 1], color="0.45", marker="o", markersize=4, linewidth=1)
        if floor_at is not None:
            ax.axhline(floor_at, color="0.5", linestyle="--", linewidth=0.9)
            ax.annotate(f"floor of the valley, y = {floor_at:g}", xy=(window[0][0], floor_at), xytext=(4, 4),
                        textcoords="offset points", color="0.35", fontsize=10)
        _arrow(ax, theta, look_ahead, momentum_color)
        _arrow(ax, look_ahead, new_theta, gradient_color)
        ring = theta if where == "θ" else look_ahead
        ax.plot(*ring, marker="o", markersize=16, markerfacecolor="none", markeredgecolor=gradient_color,
                markeredgewidth=2.2, zorder=8)
        ax.plot(*new_theta, marker="D", markersize=8, color="black", zorder=8)
        for point, text, offset, color in (
                (theta, "θ", (-18, 4), "black"), (look_ahead, "θ + μv", (-52, -14), "black"),
                (new_theta, "new θ", (8, -4), "black"),
                ((theta + look_ahead) / 2, "momentum step μv", (8, 0), momentum_color),
                ((look_ahead + new_theta) / 2, f"gradient step −γ∇f({where})\n(ring: where it is taken)",
                 (14, -4), gradient_color)):
            ax.annotate(text, xy=point, xytext=offset, textcoords="offset points", color=color, fontsize=11,
                        zorder=7)
        ax.set(xlim=window[0], ylim=window[1], xlabel="x (grey: the path so far)")
    return axes, theta, velocity, look_ahead


def _arrow(ax, start, end, color) -> None:
    ax.annotate("", xy=end, xytext=start, zorder=6,
                arrowprops=dict(arrowstyle="-|>", color=color, linewidth=2.4, shrinkA=0, shrinkB=0))


# --- the race of lesson 14 ------------------------------------------------------------------

CONTESTANT_STYLES = {
    "SGD": {"color": PALETTE[0], "linestyle": "-"},
    "SGD + momentum": {"color": PALETTE[5], "linestyle": "-"},
    "Nesterov": {"color": PALETTE[5], "linestyle": "--"},
    "Adagrad": {"color": PALETTE[2], "linestyle": "-"},
    "Adadelta": {"color": PALETTE[2], "linestyle": "--"},
    "RMSprop": {"color": PALETTE[3], "linestyle": "-"},
    "Adam": {"color": PALETTE[1], "linestyle": "-"},
    "AdamW": {"color": PALETTE[1], "linestyle": "--"},
    "AMSGrad": {"color": PALETTE[1], "linestyle": ":"},
    "NAdam": {"color": PALETTE[4], "linestyle": "-"},
    "Adamax": {"color": PALETTE[4], "linestyle": "--"},
}
"""The race's contestants: one colour per family of methods, one line style per variant, so that a
method looks the same in every figure of the lesson. Other names get :func:`run_style`."""


def _contestant_style(name: str, index: int) -> dict:
    return dict(CONTESTANT_STYLES.get(name, run_style(index)))


def _constant_lr(run: History) -> float:
    """The learning rate of a run at a constant rate (its first update's)."""
    return float(run.update_lrs[0]) if len(run.update_lrs) else math.nan


def _check_runs_by_name(runs, what: str) -> None:
    if not isinstance(runs, Mapping) or not runs:
        raise TypeError(f"{what} must be a non-empty dict {{contestant name: ...}}, got {type(runs).__name__}")


def plot_accuracy_per_epoch(runs, *, ax=None, title=None):
    """Validation accuracy after every epoch, one run per contestant: ``{name: History}``.

    Epoch 0 is the network before training. The legend gives each run's learning rate and final
    accuracy, best first. Returns the Axes.
    """
    _check_runs_by_name(runs, "runs")
    ax = _axes(ax, figsize=(10, 5))
    order = list(runs)
    for name in sorted(runs, key=lambda name: -runs[name].val_accuracies[-1]):
        run = runs[name]
        ax.plot(np.arange(len(run.val_accuracies)), run.val_accuracies, marker="o", markersize=3,
                label=f"{name} (lr={_constant_lr(run):g}): {run.val_accuracies[-1]:.3f}",
                **_contestant_style(name, order.index(name)))
    ax.set(xlabel="epoch", ylabel="validation accuracy")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, color="0.9")
    ax.legend(title="final accuracy, best first", fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    _set_title(ax, title, "Validation accuracy per epoch")
    return ax


def plot_race(winners, *, gradient_seconds: float, step_seconds, axes=None):
    """The race at each contestant's chosen learning rate: ``winners`` is ``{name: [History per seed]}``.

    Left, the validation accuracy and middle, the validation loss (log scale) per epoch, both
    averaged over the seeds. Right, the cost of one update in microseconds: the gradient of one
    batch (grey, ``gradient_seconds``) plus the optimizer's step (``step_seconds[name]``), as
    :func:`course_lib.comparison.update_costs` measures them. Returns the three Axes.
    """
    from .comparison import mean_curve

    _check_runs_by_name(winners, "winners")
    if axes is None:
        axes = plt.figure(figsize=(16, 5.4), layout="constrained").subplots(1, 3, width_ratios=(1, 1, 0.8))
    by_epoch, loss_by_epoch, cost = axes
    seeds = len(next(iter(winners.values())))
    for index, (name, runs) in enumerate(winners.items()):
        style = _contestant_style(name, index)
        accuracy, loss = mean_curve(runs, "val_accuracies"), mean_curve(runs, "val_losses")
        by_epoch.plot(np.arange(1, len(accuracy)), accuracy[1:], marker="o", markersize=3,
                      label=f"{name} (lr={_constant_lr(runs[0]):g})", **style)
        loss_by_epoch.plot(np.arange(len(loss)), loss, marker="o", markersize=3, **style)
    by_epoch.set_ylabel(f"validation accuracy (mean of {seeds} seeds)")
    by_epoch.set_title("Tuned, they finish within a point of each other", loc="left")
    loss_by_epoch.set_yscale("log")
    loss_by_epoch.set_ylabel(f"validation loss (mean of {seeds} seeds, log scale)")
    loss_by_epoch.set_title("Validation loss: early differences, a close finish", loc="left")
    for ax in (by_epoch, loss_by_epoch):
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, color="0.9")

    names = list(winners)[::-1]
    rows = np.arange(len(names))
    cost.barh(rows, np.full(len(names), 1e6 * gradient_seconds), color="0.8")
    cost.barh(rows, [1e6 * step_seconds[name] for name in names], left=1e6 * gradient_seconds,
              color=[_contestant_style(name, len(names) - 1 - row)["color"] for row, name in enumerate(names)])
    cost.set_yticks(rows, names)
    cost.set_xlabel("microseconds per update, fastest of several repeats\n"
                    "(grey: gradient of one batch; colour: optimizer step)")
    cost.grid(True, axis="x", color="0.9")
    cost.set_title("The cost of one update on this network", loc="left")
    by_epoch.figure.legend(*by_epoch.get_legend_handles_labels(), loc="outside lower center", ncols=6,
                           fontsize="small")
    return axes


def plot_lr_sensitivity(sweep, families, *, axes=None):
    """How each contestant's result depends on its learning rate, one column per family.

    ``sweep`` is ``{name: {lr: [History per seed]}}`` and ``families`` ``{family: (name, ...)}``.
    Top row, :func:`plot_lr_sweep` of the first seed: the final training loss against the learning
    rate, a cross where a run blew up. Bottom row, the mean final validation accuracy over the
    seeds with bars of one standard deviation (a rate at which a seed blew up is left out).
    Returns the 2 × (number of families) array of Axes.
    """
    from .comparison import final

    _check_runs_by_name(sweep, "sweep")
    _check_runs_by_name(families, "families")
    if axes is None:
        axes = plt.figure(figsize=(16, 9), layout="constrained").subplots(2, len(families), sharex="col",
                                                                         squeeze=False)
    seeds = len(next(iter(next(iter(sweep.values())).values())))
    for (loss_ax, accuracy_ax), (family, names) in zip(np.asarray(axes).T, families.items()):
        plot_lr_sweep({name: {lr: runs[0] for lr, runs in sweep[name].items()} for name in names}, ax=loss_ax,
                      log_y=True, title=f"{family}: training loss, first seed")
        loss_ax.set_xlabel("")
        loss_ax.set_ylabel("final training loss (log scale)")
        for index, name in enumerate(names):
            lrs = np.array(list(sweep[name]), dtype=float)
            accuracies = np.array([final(runs, "val_accuracies") for runs in sweep[name].values()])
            healthy = ~np.isnan(accuracies).any(axis=1)
            accuracy_ax.errorbar(lrs[healthy], accuracies[healthy].mean(axis=1),
                                 yerr=accuracies[healthy].std(axis=1, ddof=1), marker="o", capsize=3, label=name,
                                 color=run_style(index)["color"])
        accuracy_ax.set_xscale("log")
        accuracy_ax.set(xlabel="learning rate", ylabel=f"final validation accuracy (mean of {seeds} seeds)")
        accuracy_ax.grid(True, color="0.9")
        accuracy_ax.legend(fontsize="small", loc="lower left")
        accuracy_ax.set_title(f"{family}: validation accuracy, {seeds} seeds", loc="left")
    return axes


def plot_schedule_effect(constant, scheduled, *, axes=None):
    """The same contestants and peaks at a constant learning rate and with a schedule.

    ``constant`` and ``scheduled`` are ``{name: {lr: [History per seed]}}``; ``scheduled``'s rates
    are the schedules' peaks and ``constant`` must hold runs at the same rates. First panel: the
    learning rate of every update of the first contestant's runs, the same budget spent two ways.
    Then one panel per contestant: the validation loss per epoch, mean over the seeds (log scale),
    constant solid and scheduled dashed, one colour per peak. Returns the Axes.
    """
    from .comparison import mean_curve

    _check_runs_by_name(scheduled, "scheduled")
    if axes is None:
        axes = plt.figure(figsize=(4.2 * (len(scheduled) + 1), 4.6), layout="constrained").subplots(
            1, len(scheduled) + 1)
    rate_ax, *loss_axes = axes
    first = next(iter(scheduled))
    for index, lr in enumerate(scheduled[first]):
        color = run_style(index)["color"]
        for runs, linestyle, how in ((constant[first][lr], "-", "constant"),
                                     (scheduled[first][lr], "--", "warm-up + cosine")):
            rates = runs[0].update_lrs
            rate_ax.plot(np.arange(1, len(rates) + 1), rates, color=color, linestyle=linestyle,
                         label=f"{how}, lr {lr:g}")
    rate_ax.set(xlabel="update", ylabel="learning rate")
    rate_ax.set_title(f"Learning rate per update: {first}", loc="left")
    rate_ax.legend(fontsize="small")
    seeds = len(next(iter(scheduled[first].values())))
    for ax, (name, runs_by_lr) in zip(loss_axes, scheduled.items()):
        for index, (lr, runs) in enumerate(runs_by_lr.items()):
            color = run_style(index)["color"]
            for group, linestyle, how in ((constant[name][lr], "-", "constant"), (runs, "--", "warm-up + cosine")):
                if any(run.diverged for run in group):
                    continue
                loss = mean_curve(group, "val_losses")
                ax.plot(np.arange(len(loss)), loss, color=color, linestyle=linestyle, marker="o", markersize=3,
                        label=f"{how}, lr {lr:g}")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, color="0.9")
        ax.legend(fontsize="small")
        ax.set_title(f"{name}: validation loss", loc="left")
    loss_axes[0].set_ylabel(f"validation loss (mean of {seeds} seeds, log scale)")
    return axes
