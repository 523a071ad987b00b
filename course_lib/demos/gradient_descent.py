"""Lesson 00's experiments: a straight-line fit seen as a loss surface, and the learner's own
gradient descent on it beside course_lib's.

The line is ŷ = w x + b, and its loss the mean squared error over the N training points,
L(w, b) = (1/N) Σ_i (w x_i + b − y_i)².
"""

from __future__ import annotations

import dataclasses
import numbers

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..models import LinearRegression
from ..optimizers import SGD
from ..training import fit


def _one_feature(data) -> tuple[np.ndarray, np.ndarray]:
    if data.X_train.ndim != 2 or data.X_train.shape[1] != 1:
        raise ValueError(f"data must have one feature x (a line fit), got {data.X_train.shape[1:]} features")
    return data.X_train[:, 0], data.y_train


def line_loss(data, w, b) -> np.ndarray:
    """L(w, b) on ``data``'s training points; ``w`` and ``b`` may be arrays of one shape (a grid)."""
    x, y = _one_feature(data)
    w, b = np.asarray(w, dtype=float), np.asarray(b, dtype=float)
    # The examples run along a new last axis, so that a whole grid of (w, b) is one NumPy expression.
    return np.mean((w[..., None] * x + b[..., None] - y) ** 2, axis=-1)


def _least_squares_line(data) -> tuple[float, float]:
    x, y = _one_feature(data)
    w, b = np.polyfit(x, y, deg=1)
    return float(w), float(b)


def _x_range(x: np.ndarray) -> np.ndarray:
    return np.array([x.min() - 0.3, x.max() + 0.3])


def lines_on_the_loss_surface(data, lines) -> np.ndarray:
    """Each line ``(w, b)`` drawn twice: through the data (left) and as a point on the contour map of
    L(w, b) (right), in the same colour, its legend giving its loss.

    The map is a square around the lines with a margin of 1 in ``w`` and ``b``; its contour levels are
    spaced geometrically, so that the bowl's floor is drawn as finely as its walls. Returns the loss
    of each line, in the order given.
    """
    x, y = _one_feature(data)
    lines = np.asarray(lines, dtype=float)
    if lines.ndim != 2 or lines.shape[1] != 2 or len(lines) == 0 or not np.all(np.isfinite(lines)):
        raise ValueError(f"lines must be a non-empty list of finite pairs (w, b), got {lines.tolist()!r}")
    losses = line_loss(data, lines[:, 0], lines[:, 1])

    centre = (lines.min(axis=0) + lines.max(axis=0)) / 2
    half = np.ptp(lines, axis=0).max() / 2 + 1.0
    ws, bs = np.meshgrid(np.linspace(centre[0] - half, centre[0] + half, 201),
                         np.linspace(centre[1] - half, centre[1] + half, 201))
    heights = line_loss(data, ws, bs)

    fig, (data_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    data_ax.scatter(x, y, color="0.35", s=16, zorder=3, label="training data")
    loss_ax.contour(ws, bs, heights, levels=np.geomspace(heights.min() + 0.05, heights.max(), 14),
                    colors="0.6", linewidths=0.8)
    ends = _x_range(x)
    for index, ((w, b), loss) in enumerate(zip(lines, losses)):
        color = plots.run_style(index)["color"]
        label = f"w = {w:.2f}, b = {b:.2f}: L = {loss:.2f}"
        data_ax.plot(ends, w * ends + b, color=color, linewidth=2, label=label)
        loss_ax.plot(w, b, "o", markersize=10, color=color, label=label)
    data_ax.set(xlabel="x", ylabel="y")
    data_ax.set_title("Lines through the data...", loc="left")
    data_ax.legend(fontsize="small")
    loss_ax.set(xlabel="w (slope)", ylabel="b (intercept)", aspect="equal")
    loss_ax.set_title("...are points on the loss surface L(w, b)", loc="left")
    loss_ax.legend(fontsize="small", loc="lower left")
    return losses


@dataclasses.dataclass(frozen=True)
class DescentComparison:
    """The learner's path against course_lib's run from the same start.

    ``losses[t]`` is L at the learner's ``t``-th point, ``reference_losses[t]`` the training loss of
    ``training.fit`` after ``t`` full-batch updates, and ``reference_line`` its final ``(w, b)``.
    """

    losses: np.ndarray
    reference_losses: np.ndarray
    reference_line: tuple[float, float]

    @property
    def largest_difference(self) -> float:
        """The largest gap between the two loss curves."""
        return float(np.max(np.abs(self.losses - self.reference_losses)))


def compare_with_fit(path, data, lr: float, *, shown_steps=None) -> DescentComparison:
    """The learner's gradient-descent ``path`` on L(w, b) beside ``training.fit`` with ``SGD(lr=lr)``.

    ``path`` has one row ``(w, b)`` per point, the start first. The reference fits
    ``LinearRegression(n_features=1)`` with the exact gradient (``batch_size=None``) from the same
    start for as many updates as the path has steps. Left: both losses' distance to the lowest one,
    on a log scale; right: the learner's line after each of ``shown_steps`` (by default 0, 5 and the
    last step). Returns both loss curves and the reference's final line.
    """
    x, y = _one_feature(data)
    path = np.asarray(path, dtype=float)
    if path.ndim != 2 or path.shape[1] != 2 or len(path) < 2 or not np.all(np.isfinite(path)):
        raise ValueError(f"path must be an array of finite points (w, b), one row per step and at least two rows; "
                         f"got shape {path.shape}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < lr < np.inf:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    steps = len(path) - 1
    shown_steps = (0, min(5, steps), steps) if shown_steps is None else tuple(shown_steps)
    if not all(isinstance(t, numbers.Integral) and 0 <= t <= steps for t in shown_steps):
        raise ValueError(f"shown_steps must be steps between 0 and {steps}, got {shown_steps!r}")

    start = {"w": path[0, :1].copy(), "b": path[0, 1:].copy()}
    reference = fit(LinearRegression(n_features=1), SGD(lr=lr), data, batch_size=None, epochs=steps, params=start)
    comparison = DescentComparison(
        losses=line_loss(data, path[:, 0], path[:, 1]), reference_losses=reference.train_losses,
        reference_line=(float(reference.params["w"][0]), float(reference.params["b"][0])))

    lowest = float(line_loss(data, *_least_squares_line(data)))
    fig, (loss_ax, fit_ax) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    loss_ax.semilogy(comparison.losses - lowest, linewidth=4, alpha=0.5, label="your functions (numerical gradient)")
    loss_ax.semilogy(comparison.reference_losses - lowest, color="black", linestyle="--",
                     label=f"course_lib: fit with SGD(lr={lr:g})")
    loss_ax.set(xlabel="step", ylabel="L(w, b) − lowest possible L (log scale)")
    loss_ax.set_title("Your descent and course_lib's coincide", loc="left")
    loss_ax.legend()
    fit_ax.scatter(x, y, color="0.35", s=16, label="training data")
    ends = _x_range(x)
    # Later steps in stronger colours: grey for the start, then the palette from its end.
    colors = ["0.7", *[plots.run_style(i)["color"] for i in range(len(shown_steps) - 1)][::-1]]
    for t, color in zip(shown_steps, colors):
        fit_ax.plot(ends, path[t, 0] * ends + path[t, 1], color=color, linewidth=2, label=f"after {t} steps")
    fit_ax.set(xlabel="x", ylabel="y")
    fit_ax.set_title("The line as the descent goes on", loc="left")
    fit_ax.legend(fontsize="small")
    return comparison
