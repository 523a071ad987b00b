"""Lesson 11's experiments: NAdam's momentum schedule as torch, Keras and optax run it, and what
NAdam's bias corrections make of a constant gradient.

In the course's notation (torch's): at step ``t`` NAdam's scheduled momentum coefficient is
``μ_t = β₁ (1 - ½ · 0.96^(t ψ))`` with ``ψ = momentum_decay``, ``P_t = μ_1 ⋯ μ_t`` is the state
``mu_product``, and the update is
``θ_t = θ_{t-1} - γ (1 - μ_t)/(1 - P_t) · g_t/D_t - γ μ_{t+1}/(1 - P_t μ_{t+1}) · m_t/D_t``.
"""

from __future__ import annotations

import dataclasses
import numbers

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..checks import rel_error
from ..optimizers import NAdam
from ..optimizers._base import check_number
from .._arguments import check_whole
from ..training import Trajectory, step_lengths

LIBRARIES = {
    "torch": ("torch NAdam (momentum_decay=4e-3)", 4e-3),
    "Keras": ("Keras Nadam = NAdam(momentum_decay=1.0)", 1.0),
    "optax": ("optax nadam = NAdam(momentum_decay=1e4)", 1e4),
}
"""Each library's schedule as torch's ``momentum_decay`` ψ, with its legend: Keras drops the 0.004 from
the exponent, and optax's constant μ = β₁ is what a huge ψ gives once 0.96^(t ψ) underflows to 0."""

# Colours as in every figure of lesson 11: Adam blue, optax's form orange, torch's green, Keras's purple.
_COLOR_SLOT = {"Adam": 0, "optax": 1, "torch": 2, "Keras": 3}


def update_weights(optimizer: NAdam, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two weights of NAdam's update at each of ``steps`` (1, 2, ... in order, from 1): the one on
    ``g_t / D_t``, ``(1 - μ_t)/(1 - P_t)``, and the one on ``m_t / D_t``, ``μ_{t+1}/(1 - P_t μ_{t+1})``."""
    momentum, next_momentum = optimizer.momentum_at(steps), optimizer.momentum_at(steps + 1)
    product = np.cumprod(momentum)
    return (1 - momentum) / (1 - product), next_momentum / (1 - product * next_momentum)


@dataclasses.dataclass(frozen=True)
class Schedules:
    """What :func:`momentum_schedules` measured, by library (``"torch"``, ``"Keras"``, ``"optax"``).

    ``momentum[name][t - 1]`` is ``μ_t``, and ``gradient_weight[name][t - 1]`` the whole weight of
    ``g_t / D_t`` in the update of step ``t`` (directly and through ``m_t``); ``gradient_weight``
    also has ``"Adam"``, whose weight is ``(1 - β₁)/(1 - β₁^t)``. ``warm_up[name]`` is the first step
    at which ``μ_t`` reaches 99 % of ``β₁`` (None if it does not within the steps computed). ``keras_gap`` is the largest difference between
    Keras's schedule ``β₁(1 - ½ · 0.96^t)`` and ``NAdam(momentum_decay=1.0)``'s, and ``optax_gap``
    the largest relative error between optax's constant-μ weights and ``NAdam(momentum_decay=1e4)``'s
    over the first 300 steps.
    """

    steps: np.ndarray
    momentum: dict
    gradient_weight: dict
    warm_up: dict
    keras_gap: float
    optax_gap: float

    def table(self, steps) -> str:
        """``μ_t`` and the gradient weight of each library at the given steps, one line per step."""
        names = list(self.momentum)
        lines = [f"{'step t':>8}" + "".join(f"  {name + ' μ_t':>10} {'weight':>6}" for name in names)]
        for step in steps:
            index = _step_index("steps", step, self.steps)
            lines.append(f"{step:>8,}" + "".join(
                f"  {self.momentum[name][index]:>10.3f} {self.gradient_weight[name][index]:>6.3f}" for name in names))
        return "\n".join(lines)


def _step_index(what: str, step, steps: np.ndarray) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or not 1 <= step <= steps[-1]:
        raise ValueError(f"{what} must be whole numbers from 1 to {steps[-1]}, got {step!r}")
    return int(step) - 1


def momentum_schedules(*, steps: int = 100_000, beta1: float = 0.9, marks=(1_000, 10_000)) -> Schedules:
    """Plot the momentum schedule ``μ_t`` of torch, Keras and optax (left) and the weight each gives
    today's gradient (right, with Adam's), for ``t = 1 ... steps`` on a log axis.

    The figure shows that the three "NAdam"s differ: torch warms up over some 24,000 steps (at
    ``ψ = 4e-3``), Keras over about 100, optax not at all; and that once warmed up NAdam weights
    today's gradient by ``(1 - β₁) + β₁(1 - β₁)`` (0.19 at ``β₁ = 0.9``), about twice Adam's
    ``1 - β₁``. Dots on torch's curves give its values at the steps in ``marks``. It also checks that
    Keras's schedule is ``NAdam(momentum_decay=1.0)`` and optax's weights those of
    ``NAdam(momentum_decay=1e4)``. Returns the :class:`Schedules`.
    """
    check_whole("steps", steps, 2)
    check_number("beta1", beta1, 0.0, 1.0, include_high=False)
    step_numbers = np.arange(1, steps + 1)
    mark_indices = [_step_index("marks", mark, step_numbers) for mark in marks]
    optimizers = {name: NAdam(betas=(beta1, 0.999), momentum_decay=decay) for name, (_, decay) in LIBRARIES.items()}
    momentum, gradient_weight = {}, {}
    for name, optimizer in optimizers.items():
        momentum[name] = optimizer.momentum_at(step_numbers)
        on_gradient, on_momentum = update_weights(optimizer, step_numbers)
        gradient_weight[name] = on_gradient + (1 - beta1) * on_momentum
    gradient_weight["Adam"] = (1 - beta1) / (1 - beta1**step_numbers)
    warm_up = {name: int(step_numbers[np.argmax(mu >= 0.99 * beta1)]) if mu[-1] >= 0.99 * beta1 else None
               for name, mu in momentum.items()}

    keras_gap = float(np.max(np.abs(beta1 * (1 - 0.5 * 0.96**step_numbers) - momentum["Keras"])))
    first = step_numbers[:300]
    optax_weights = ((1 - beta1) / (1 - beta1**first), beta1 / (1 - beta1 ** (first + 1)))
    optax_gap = max(rel_error(constant, scheduled)
                    for constant, scheduled in zip(optax_weights, update_weights(optimizers["optax"], first)))

    _, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), layout="constrained")
    for name, (legend, _) in LIBRARIES.items():
        color = plots.run_style(_COLOR_SLOT[name])["color"]
        left.plot(step_numbers, momentum[name], color=color, label=legend)
        right.plot(step_numbers, gradient_weight[name], color=color, label=legend)
    right.plot(step_numbers, gradient_weight["Adam"], label="Adam", **plots.run_style(_COLOR_SLOT["Adam"]))
    left.axhline(0.99 * beta1, color="0.6", linewidth=0.8, linestyle="--", label="99 % of β₁")
    for ax, values, where in ((left, momentum["torch"], (6, -12)), (right, gradient_weight["torch"], (6, 4))):
        marked_steps, marked_values = step_numbers[mark_indices], values[mark_indices]
        ax.plot(marked_steps, marked_values, linestyle="none", marker="o", markersize=6, markerfacecolor="white",
                markeredgecolor="black", zorder=5, label="torch at the marked steps")
        for step, value in zip(marked_steps, marked_values):
            ax.annotate(f"t = {step:,}: {value:.2f}", xy=(step, value), xytext=where, textcoords="offset points",
                        fontsize="small")
    torch_warm_up, keras_warm_up = warm_up["torch"], warm_up["Keras"]
    left.set(xscale="log", xlabel="step t", ylabel="momentum coefficient μ_t")
    left.set_title(f"The schedule μ_t: 99 % of β₁ at step {_step_text(torch_warm_up)} in torch,\n"
                   f"{_step_text(keras_warm_up)} in Keras, at once in optax", loc="left")
    right.set(xscale="log", yscale="log", xlabel="step t", ylabel="weight of g_t in the step (log scale)")
    right.set_title("How much today's gradient counts:\nNAdam listens to the present more than Adam", loc="left")
    left.legend(fontsize="small", loc="center left")
    right.legend(fontsize="small", loc="upper right")
    for ax in (left, right):
        ax.grid(True, color="0.9")
    return Schedules(steps=step_numbers, momentum=momentum, gradient_weight=gradient_weight, warm_up=warm_up,
                     keras_gap=keras_gap, optax_gap=optax_gap)


def _step_text(step) -> str:
    return "beyond the plotted steps" if step is None else f"{step:,}"


@dataclasses.dataclass(frozen=True)
class Corrections:
    """What :func:`corrections` measured, by optimizer label.

    ``mu_product[label][k]`` is the state ``P_k`` after ``k`` updates of that run (``k = 0`` first);
    ``step_over_lr[label][t - 1]`` is ``|θ_t - θ_{t-1}| / γ`` when every gradient is 1, and
    ``settled_at[label]`` the first step from which that ratio stays within 1 % of 1 (None if it
    has not settled by the last step).
    """

    mu_product: dict
    step_over_lr: dict
    settled_at: dict


def _settled_at(moved: np.ndarray):
    """The first step from which ``moved`` stays within 1 % of 1, or None if its last step is outside."""
    outside = np.flatnonzero(np.abs(moved - 1) > 0.01)
    if not outside.size:
        return 1
    return int(outside[-1]) + 2 if outside[-1] < moved.size - 1 else None


def corrections(runs, optimizers, *, steps: int = 200) -> Corrections:
    """Two views of NAdam's bias corrections: the state ``mu_product`` along ``runs`` (left) and how
    far each of ``optimizers`` moves per step, in units of its ``lr``, when every gradient is 1
    (right, log step axis).

    Adam's corrections make that step exactly ``γ`` from the first step; NAdam's do not while
    ``m_t`` is young: optax's form (a huge ``momentum_decay``) starts above ``γ``, torch's and
    Keras's schedules dip below it, and all settle at ``γ``. Runs without a ``mu_product`` (Adam's)
    keep their colour slot but are not drawn on the left. Returns the :class:`Corrections`.
    """
    check_whole("steps", steps, 1)
    if isinstance(runs, Trajectory) or not all(isinstance(run, Trajectory) for run in runs):
        raise ValueError("runs must be a list of Trajectories (from training.minimize)")
    with_product = [(index, run) for index, run in enumerate(runs) if "mu_product" in run.states[0]]
    if not with_product:
        raise ValueError("runs: none of them has the state mu_product; give it NAdam runs")
    if not optimizers:
        raise ValueError("optimizers must name at least one optimizer")

    mu_product = {run.label: np.array([state["mu_product"] for state in run.states]) for _, run in with_product}
    step_over_lr = {optimizer.label: step_lengths(optimizer, np.ones(steps)) / optimizer.lr for optimizer in optimizers}
    settled_at = {label: _settled_at(moved) for label, moved in step_over_lr.items()}

    _, (left, right) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
    for index, run in with_product:
        left.plot(np.arange(len(run.states)), mu_product[run.label], label=run.label, **plots.run_style(index))
    left.set(yscale="log", xlabel="step (updates done)", ylabel="mu_product P_t (log scale)")
    left.set_title("State mu_product = P_t along the runs above:\n"
                   "torch's early μ_t of 0.45 drives it to 0 fastest", loc="left")
    for index, (label, moved) in enumerate(step_over_lr.items()):
        right.plot(np.arange(1, steps + 1), moved, label=label, **plots.run_style(index))
    right.set(xscale="log", xlabel="step t", ylabel="|step| / γ")
    right.set_title("Step on a constant gradient g = 1:\nexactly γ for Adam, not for NAdam", loc="left")
    for ax in (left, right):
        ax.grid(True, color="0.9")
        ax.legend(fontsize="small")
    return Corrections(mu_product=mu_product, step_over_lr=step_over_lr, settled_at=settled_at)
