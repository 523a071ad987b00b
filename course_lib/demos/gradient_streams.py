"""One parameter fed a stream of gradients that do not depend on it (lessons 07 to 12).

With the landscape taken out, every change in the step length comes from the optimizer's state:
AdaGrad's steps shrinking for good, AdaDelta's growing from a tiny start, RMSProp recovering after
the gradients drop, Adam overshooting when they jump.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import plots
from ..training import step_lengths


def phased(scales, lengths, *, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Gradients in phases: about ``scales[k]`` for ``lengths[k]`` steps, phase after phase.

    Each gradient is its phase's scale times a normal factor of mean 1 and standard deviation
    ``noise`` (0 gives the scales exactly), drawn from ``np.random.default_rng(seed)``.
    """
    scales = np.asarray(scales, dtype=float)
    lengths = np.asarray(lengths)
    if scales.ndim != 1 or scales.shape != lengths.shape or scales.size == 0:
        raise ValueError("scales and lengths must be two sequences of the same, non-zero length")
    if not np.all(np.isfinite(scales)):
        raise ValueError(f"scales must be finite numbers, got {scales.tolist()}")
    if not np.issubdtype(lengths.dtype, np.integer) or np.any(lengths < 1):
        raise ValueError(f"lengths must be whole numbers >= 1, got {lengths.tolist()}")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not 0 <= noise < np.inf:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    scale_per_step = np.repeat(scales, lengths)
    return scale_per_step * np.random.default_rng(seed).normal(1.0, noise, size=scale_per_step.size)


def plot_step_lengths(streams: dict, *, per_gradient: bool = False, marks=(), log_x: bool = False,
                      ax=None, title=None) -> dict:
    """How far the parameter moves at each step, one curve per entry of ``streams``.

    ``streams`` maps a label to ``(optimizer, gradients)``. With ``per_gradient`` the curve is the
    effective step ``|dtheta| / |g|`` instead of ``|dtheta|``. ``marks`` are steps at which a dotted
    vertical line shows where the stream changes. Both axes are logarithmic with ``log_x``, the
    step-length axis always. Returns the plotted values, by label.
    """
    if not isinstance(streams, dict) or not streams:
        raise ValueError("streams must be a non-empty dict {label: (optimizer, gradients)}")
    ax = plots._axes(ax)
    plotted = {}
    for index, (label, (optimizer, gradients)) in enumerate(streams.items()):
        lengths = step_lengths(optimizer, gradients)
        if per_gradient:
            with np.errstate(divide="ignore", invalid="ignore"):
                lengths = lengths / np.abs(np.asarray(gradients, dtype=float))
        plotted[label] = lengths
        # Each curve a little thinner than the one before, so that curves lying on top of each other stay visible.
        ax.plot(np.arange(1, lengths.size + 1), lengths, label=label, linewidth=max(0.9, (2.6 if log_x else 1.8) - 0.6 * index),
                color=plots.run_style(index)["color"])
    for step in marks:
        ax.axvline(step, color="0.6", linestyle=":")
    ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    what = "effective step |Δθ|/|g|" if per_gradient else "|Δθ|"
    ax.set(xlabel="step t" if log_x else "step", ylabel=f"{what} (log scale)")
    ax.legend(fontsize="small")
    plots._set_title(ax, title, "How far each step moves the parameter")
    return plotted
