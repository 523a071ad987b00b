"""Lesson 09's experiments: what RMSProp leaves undone, Adam's bias correction, the memory of
beta2, Adam's state on a surface, L2 regularisation against decoupled weight decay, and the
Keras form of eps.

Every function draws one figure and returns the values it measured, so that the lesson can print
the numbers its text quotes and the tests can check them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..checks import learner_optimizer, mistake_update, rel_error
from ..data import load_digits
from ..functions import get_surface
from ..models import MLP
from ..optimizers import Adam, AdamW, RMSprop
from ..optimizers._base import Optimizer, check_betas, check_number
from ..training import Trajectory, fit, minimize


def check_whole(name: str, value, minimum: int) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is a whole number >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")


def check_positive(name: str, value) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is a finite number > 0."""
    check_nonnegative(name, value)
    if value == 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def check_nonnegative(name: str, value) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is a finite number >= 0."""
    check_number(name, value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _longest_move_over_lr(run: Trajectory) -> np.ndarray:
    """Each step's largest coordinate move divided by the learning rate that step used."""
    return np.abs(np.diff(run.points, axis=0)).max(axis=1) / run.lrs


def _log_panel(ax, *, xlabel: str, ylabel: str, title: str, log_x: bool = False) -> None:
    ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.grid(True, color="0.9")
    ax.legend(fontsize="small")
    ax.set_title(title, loc="left")


# --- section 1: why ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StepsOverLr:
    """Per run label, every step's largest coordinate move in units of the learning rate; and the runs."""

    step_over_lr: dict
    runs: list


def rmsprop_against_adam(lr: float = 0.3, steps: int = 150, surface: str = "himmelblau") -> StepsOverLr:
    """RMSProp and Adam at the same learning rate ``lr`` for ``steps`` steps on ``surface``.

    What it shows: RMSProp's first step is ten times ``lr`` in every coordinate (its average of
    squared gradients starts at zero and is not corrected), and near the minimum its steps stay
    about ``lr`` long because nothing averages the direction. Adam's first step is exactly
    ``lr`` per coordinate and its steps shrink once successive gradients disagree. Left, the
    paths; right, each step's largest coordinate move divided by ``lr`` (log scale).
    """
    check_positive("lr", lr)
    check_whole("steps", steps, 1)
    surface = get_surface(surface)
    runs = [minimize(surface, optimizer, surface.start, steps=steps) for optimizer in (RMSprop(lr=lr), Adam(lr=lr))]
    fig, (paths, lengths) = plt.subplots(1, 2, figsize=(13, 5.5), layout="constrained")
    plots.plot_contours(surface, runs, ax=paths, title="RMSProp's first step overshoots; Adam walks in and settles")
    measured = {}
    for index, run in enumerate(runs):
        measured[run.label] = _longest_move_over_lr(run)
        lengths.plot(np.arange(1, run.steps + 1), measured[run.label], label=run.label, **plots.run_style(index))
    _log_panel(lengths, xlabel="step", ylabel="step length / lr (log scale)",
               title="RMSProp: 10 x lr at first, then about lr for ever; Adam: lr, then shrinking")
    return StepsOverLr(step_over_lr=measured, runs=runs)


# --- section 3: bias correction ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BiasCorrection:
    """The two correction factors at every step (``first_factor`` multiplies m, ``second_factor``
    divides the root of v), and per variant the step length in units of the learning rate on a
    constant gradient."""

    first_factor: np.ndarray
    second_factor: np.ndarray
    step_over_lr: dict


def bias_correction_over_time(variants: Mapping[str, Callable], steps: int = 3000,
                              betas=(0.9, 0.999)) -> BiasCorrection:
    """How long the bias corrections matter: their factors, and what leaving them out does.

    ``variants`` maps a label to an update function in the exercise's signature
    (``update(param, grad, state, lr=..., betas=...)``), e.g. the reference and the catalogued
    mistakes of ``checks``. Each runs for ``steps`` steps on the constant gradient 1, where the
    correct step is exactly the learning rate every time. Left, the factors ``1 / (1 - beta1^t)``
    and ``1 / sqrt(1 - beta2^t)``: the first is gone within tens of steps, the second lasts
    thousands. Right, each variant's step length in units of the learning rate.
    """
    if not isinstance(variants, Mapping) or not variants or not all(map(callable, variants.values())):
        raise ValueError("variants must be a non-empty dict {label: update function}")
    check_whole("steps", steps, 1)
    check_betas(betas)
    beta1, beta2 = betas
    t = np.arange(1, steps + 1)
    first_factor = 1.0 / (1.0 - beta1**t)
    second_factor = 1.0 / np.sqrt(1.0 - beta2**t)

    # The gradient does not depend on the parameter, so every step starts from 0 and its length is
    # where it lands: no rounding from a parameter that grows by one unit per step.
    origin, gradient = np.zeros(1), np.ones(1)
    step_over_lr = {}
    for label, update in variants.items():
        state, lengths = Adam(betas=betas).init(origin), np.empty(steps)
        for index in range(steps):
            moved, state = update(origin, gradient, state, lr=1.0, betas=betas)
            lengths[index] = abs(moved[0])
        step_over_lr[label] = lengths

    fig, (factors, runs) = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
    factors.plot(t, first_factor, label=rf"first moment: $1/(1-\beta_1^t)$, $\beta_1 = {beta1:g}$",
                 **plots.run_style(0))
    factors.plot(t, second_factor, label=rf"second moment, after the root: $1/\sqrt{{1-\beta_2^t}}$, "
                                         rf"$\beta_2 = {beta2:g}$", **plots.run_style(1))
    _log_panel(factors, log_x=True, xlabel="step t (log scale)", ylabel="correction factor (log scale)",
               title="beta1's correction is gone by step 50; beta2's lasts thousands of steps")
    for index, (label, lengths) in enumerate(step_over_lr.items()):
        runs.plot(t, lengths, label=label, **plots.run_style(index))
    _log_panel(runs, log_x=True, xlabel="step t (log scale)", ylabel="step length / lr (log scale)",
               title="Constant gradient: only the corrected step is lr from the start")
    return BiasCorrection(first_factor=first_factor, second_factor=second_factor, step_over_lr=step_over_lr)


# --- section 4: the memory of beta2 ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScaleJump:
    """Per beta2: the step length in units of the learning rate at every step, ``sqrt(v_hat)``
    divided by the gradients' true root mean square at every step, and the longest step after
    the jump."""

    step_over_lr: dict
    tracking: dict
    longest_after_jump: dict


def gradient_scale_jump(beta2s=(0.99, 0.999), *, before: float = 0.01, after: float = 1.0, jump_at: int = 500,
                        steps: int = 1500, noise: float = 0.5, beta1: float = 0.9, seed: int = 0) -> ScaleJump:
    """Adam fed one coordinate's noisy gradients whose scale jumps from ``before`` to ``after``.

    The gradient of step ``t`` is its scale times ``1 + noise * z_t``, ``z_t`` standard normal
    from ``np.random.default_rng(seed)``; the scale changes after step ``jump_at``. What it
    shows: after the jump ``m_hat`` follows within about ten steps while ``sqrt(v_hat)`` still
    remembers the small gradients for about ``1 / (1 - beta2)`` steps, so the steps overshoot,
    longer and higher the larger ``beta2``. Left, the step length in units of the learning rate;
    right, ``sqrt(v_hat)`` divided by the gradients' true root mean square, ``scale *
    sqrt(1 + noise^2)``.
    """
    if isinstance(beta2s, (str, bytes)) or not isinstance(beta2s, Sequence) or not beta2s:
        raise ValueError(f"beta2s must be a non-empty sequence of numbers in [0, 1), got {beta2s!r}")
    check_number("beta1", beta1, 0.0, 1.0, include_high=False)
    for beta2 in beta2s:
        check_number("beta2s", beta2, 0.0, 1.0, include_high=False)
    check_positive("before", before)
    check_positive("after", after)
    check_whole("steps", steps, 2)
    check_whole("jump_at", jump_at, 1)
    if jump_at >= steps:
        raise ValueError(f"jump_at must be smaller than steps ({steps}), got {jump_at!r}")
    check_nonnegative("noise", noise)
    t = np.arange(1, steps + 1)
    scale = np.where(t <= jump_at, before, after)
    gradients = scale * (1.0 + noise * np.random.default_rng(seed).standard_normal(steps))
    true_rms = scale * math.sqrt(1.0 + noise**2)

    step_over_lr, tracking = {}, {}
    for beta2 in beta2s:
        optimizer = Adam(lr=1.0, betas=(beta1, beta2))
        origin = np.zeros(1)
        state, lengths, roots = optimizer.init(origin), np.empty(steps), np.empty(steps)
        for index, gradient in enumerate(gradients):
            moved, state = optimizer.step(origin, np.array([gradient]), state)
            lengths[index] = abs(moved[0])
            roots[index] = math.sqrt(state["exp_avg_sq"][0] / (1.0 - beta2 ** t[index]))
        step_over_lr[beta2], tracking[beta2] = lengths, roots / true_rms

    fig, (steps_ax, tracking_ax) = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
    for index, beta2 in enumerate(beta2s):
        label = rf"$\beta_2$ = {beta2:g} (memory about {round(1 / (1 - beta2))} steps)"
        steps_ax.plot(t, step_over_lr[beta2], label=label, linewidth=1, **plots.run_style(index))
        tracking_ax.plot(t, tracking[beta2], label=label, **plots.run_style(index))
    for ax in (steps_ax, tracking_ax):
        ax.axvline(jump_at, color="black", linewidth=0.8)
        ax.grid(True, color="0.9")
        ax.legend(fontsize="small")
        ax.set_xlabel("step")
    steps_ax.set_ylabel("step length / lr")
    steps_ax.set_title(f"After the jump at step {jump_at}, the long memory overshoots longer", loc="left")
    tracking_ax.set_yscale("log")
    tracking_ax.set_ylabel("sqrt(v_hat) / the gradients' true RMS (log scale)")
    tracking_ax.set_title("sqrt(v_hat) lags behind the new scale for about 1/(1 - beta2) steps", loc="left")
    longest = {beta2: float(step_over_lr[beta2][jump_at:].max()) for beta2 in beta2s}
    return ScaleJump(step_over_lr=step_over_lr, tracking=tracking, longest_after_jump=longest)


# --- section 5: the picture -------------------------------------------------------------------


def compare_on_surfaces(optimizers: Sequence[Optimizer], steps_by_surface: Mapping[str, int]) -> dict:
    """Every optimizer of ``optimizers`` from each surface's start, ``steps_by_surface[name]`` steps.

    One column per surface: the paths on the contour map above, the loss per step below.
    Returns ``{surface name: [Trajectory per optimizer]}``, the runs in the order given, so that
    their states can be plotted next (lessons 09 and 10 use it alike).
    """
    if isinstance(optimizers, Optimizer) or not isinstance(optimizers, Sequence) or not optimizers:
        raise ValueError("optimizers must be a non-empty list of course_lib optimizers")
    if not isinstance(steps_by_surface, Mapping) or not steps_by_surface:
        raise ValueError("steps_by_surface must be a non-empty dict {surface name: steps}")
    for name, steps in steps_by_surface.items():
        check_whole(f"steps_by_surface[{name!r}]", steps, 1)
    surfaces = {name: get_surface(name) for name in steps_by_surface}
    columns = len(surfaces)
    fig, axes = plt.subplots(2, columns, figsize=(6.5 * columns, 9.5), layout="constrained", height_ratios=(1.3, 1),
                             squeeze=False)
    runs = {}
    for column, (name, surface) in enumerate(surfaces.items()):
        runs[name] = [minimize(surface, optimizer, surface.start, steps=steps_by_surface[name])
                      for optimizer in optimizers]
        plots.plot_contours(surface, runs[name], ax=axes[0, column])
        plots.plot_loss_per_update(runs[name], ax=axes[1, column], title=f"{surface.title}: loss per step")
    return runs


@dataclasses.dataclass(frozen=True)
class AdamState:
    """Per step (rows) and coordinate (columns): the step length in units of the learning rate,
    ``|m_hat| / (sqrt(v_hat) + eps)``, and ``v`` (``exp_avg_sq``) after the step."""

    step_over_lr: np.ndarray
    exp_avg_sq: np.ndarray


def plot_adam_state(run: Trajectory) -> AdamState:
    """What Adam remembers along ``run`` (a :class:`~course_lib.training.Trajectory` of Adam).

    Left, ``m`` (``exp_avg``); middle, ``v`` (``exp_avg_sq``); right, the step in units of the
    learning rate, which is ``|m_hat| / (sqrt(v_hat) + eps)``: about 1 while the gradients agree,
    small when they cancel or when ``v`` still remembers larger gradients than the current ones.
    """
    if not isinstance(run, Trajectory) or "exp_avg_sq" not in run.states[0]:
        raise ValueError("run must be the Trajectory of an Adam run (training.minimize with Adam)")
    step_over_lr = np.abs(np.diff(run.points, axis=0)) / run.lrs[:, None]
    fig, (first, second, ratio) = plt.subplots(1, 3, figsize=(16, 4.5), layout="constrained")
    plots.plot_state(run, "exp_avg", ax=first, title="m (exp_avg): the smoothed gradient")
    plots.plot_state(run, "exp_avg_sq", ax=second, title="v (exp_avg_sq): the gradient's squared size")
    steps = np.arange(1, run.steps + 1)
    for column, coordinate in enumerate(("x", "y")):
        ratio.plot(steps, step_over_lr[:, column], color=plots.PALETTE[0], linestyle=("-", "--")[column],
                   label=f"{run.label}: {coordinate}")
    _log_panel(ratio, xlabel="step", ylabel="|m_hat| / (sqrt(v_hat) + eps)",
               title="Step / lr: 1 while gradients agree, small when they cancel")
    exp_avg_sq = np.array([state["exp_avg_sq"] for state in run.states[1:]])
    return AdamState(step_over_lr=step_over_lr, exp_avg_sq=exp_avg_sq)


# --- section 6: weight decay ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DecayForms:
    """The weights at every step (rows; one column per curvature) without decay and per form of
    decay, each form's mean weights over the last steps, and the minimum of the L2-penalised
    loss, ``h / (h + weight_decay)``."""

    curvatures: np.ndarray
    no_decay: np.ndarray
    paths: dict
    settled: dict
    l2_minimum: np.ndarray


def weight_decay_forms(curvatures=(0.01, 0.1, 1.0, 10.0, 100.0), *, weight_decay: float = 0.5, lr: float = 0.01,
                       steps: int = 1500, noise: float = 0.3, settle: int = 500, seed: int = 0) -> DecayForms:
    """L2 regularisation (``Adam(weight_decay=...)``) against decoupled decay (``AdamW``).

    Weight ``i`` has the loss ``h_i / 2 * (theta_i - 1)^2``, one per entry of ``curvatures``,
    and starts at its minimum, 1. Its gradient is ``h_i * (theta_i - 1 + xi_t)``, with one noise
    ``xi_t`` (standard deviation ``noise``) shared by all weights. Without decay Adam moves all
    of them alike, since it ignores the gradient's scale. What it shows: with L2 each weight
    settles near the minimum of the penalised loss, ``h_i / (h_i + weight_decay)``, so the
    weights with small gradients collapse and those with large ones hardly move; with AdamW all
    shrink together to one value. Left and middle, the weights over the steps; right, their mean
    over the last ``settle`` steps against the curvature.
    """
    curvatures = np.asarray(curvatures, dtype=float)
    if curvatures.ndim != 1 or curvatures.size == 0 or not np.all(np.isfinite(curvatures) & (curvatures > 0)):
        raise ValueError(f"curvatures must be a non-empty sequence of finite numbers > 0, got {curvatures.tolist()}")
    check_nonnegative("weight_decay", weight_decay)
    check_positive("lr", lr)
    check_whole("steps", steps, 1)
    check_nonnegative("noise", noise)
    check_whole("settle", settle, 1)
    if settle > steps:
        raise ValueError(f"settle must be at most steps ({steps}), got {settle!r}")
    shared_noise = noise * np.random.default_rng(seed).standard_normal(steps)

    def weights_over_steps(optimizer):
        param = np.ones(curvatures.size)
        state, path = optimizer.init(param), [param]
        for xi in shared_noise:
            param, state = optimizer.step(param, curvatures * (param - 1.0 + xi), state)
            path.append(param)
        return np.array(path)

    no_decay = weights_over_steps(Adam(lr=lr))
    forms = {"L2": Adam(lr=lr, weight_decay=weight_decay), "decoupled": AdamW(lr=lr, weight_decay=weight_decay)}
    paths = {label: weights_over_steps(optimizer) for label, optimizer in forms.items()}
    settled = {label: path[-settle:].mean(axis=0) for label, path in paths.items()}
    l2_minimum = curvatures / (curvatures + weight_decay)

    fig, (l2_ax, decoupled_ax, settled_ax) = plt.subplots(1, 3, figsize=(16, 5), layout="constrained")
    for ax, (label, path) in zip((l2_ax, decoupled_ax), paths.items()):
        ax.plot(no_decay[:, 0], color="0.6", linestyle="--", label="no decay (every weight alike)")
        for index, curvature in enumerate(curvatures):
            ax.plot(path[:, index], linewidth=1, label=f"curvature h = {curvature:g}", **plots.run_style(index))
        ax.set(ylim=(-0.05, 1.15), xlabel="step", ylabel="weight")
        ax.grid(True, color="0.9")
    l2_ax.set_title(f"L2: Adam(weight_decay={weight_decay:g}) fans the weights out", loc="left")
    decoupled_ax.set_title(f"Decoupled: AdamW(weight_decay={weight_decay:g}) shrinks all alike", loc="left")
    decoupled_ax.text(0.98, 0.04, "the weights' curves lie on top of each other", transform=decoupled_ax.transAxes,
                      ha="right", va="bottom", fontsize="small", color="0.3")
    for index, (label, values) in enumerate(settled.items()):
        settled_ax.plot(curvatures, values, marker="o", label=f"{label}: {type(forms[label]).__name__}"
                        f"(weight_decay={weight_decay:g})",
                        **plots.run_style(index))
    settled_ax.plot(curvatures, l2_minimum, color="black", linestyle=":",
                    label="minimum of the L2-penalised loss, h / (h + λ)")
    settled_ax.set_xscale("log")
    settled_ax.set(xlabel="curvature h (the size of the weight's gradients)",
                   ylabel=f"weight, mean of the last {settle} steps")
    settled_ax.grid(True, color="0.9")
    settled_ax.legend(fontsize="small")
    settled_ax.set_title("L2 spares large-gradient weights; AdamW treats all alike", loc="left")
    fig.legend(*l2_ax.get_legend_handles_labels(), loc="outside lower center", ncols=curvatures.size + 1,
               fontsize="small")
    return DecayForms(curvatures=curvatures, no_decay=no_decay, paths=paths, settled=settled, l2_minimum=l2_minimum)


# --- section 7: the Keras form of eps ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EpsForms:
    """Per form (``"torch"``, ``"Keras"``, ``"torch with eps_t"``) the step length in units of
    the learning rate at every step, and the largest relative difference between the last two."""

    step_over_lr: dict
    keras_against_eps_t: float


def keras_eps_form(eps: float = 1e-3, gradient_size: float = 1e-3, *, steps: int = 3000, noise: float = 0.3,
                   betas=(0.9, 0.999), seed: int = 1) -> EpsForms:
    """torch's Adam (eps added to ``sqrt(v_hat)``) against the Keras form (eps added to the root
    of the uncorrected ``v``), both with the same ``eps``, on one coordinate's noisy gradients of
    about ``gradient_size``.

    What it shows: the Keras form is torch's with the growing eps ``eps / sqrt(1 - beta2^t)``
    (the third curve, which lies on the Keras one), so with the same number its first steps are
    much shorter whenever the gradients are not much larger than ``eps``; the two approach each
    other only after thousands of steps. The gradients are ``gradient_size * (1 + noise * z_t)``
    with ``z_t`` standard normal from ``np.random.default_rng(seed)``.
    """
    check_positive("eps", eps)
    check_positive("gradient_size", gradient_size)
    check_whole("steps", steps, 1)
    check_nonnegative("noise", noise)
    check_betas(betas)
    beta2 = betas[1]
    gradients = gradient_size * (1.0 + noise * np.random.default_rng(seed).standard_normal(steps))
    keras_update = mistake_update("adam_update", "adam-eps-hat")
    forms = {
        "torch": lambda t, param, grad, state: Adam(lr=1.0, betas=betas, eps=eps).step(param, grad, state),
        "Keras": lambda t, param, grad, state: keras_update(param, grad, state, lr=1.0, betas=betas, eps=eps),
        "torch with eps_t": lambda t, param, grad, state: Adam(
            lr=1.0, betas=betas, eps=eps / math.sqrt(1.0 - beta2**t)).step(param, grad, state),
    }
    step_over_lr = {}
    origin = np.zeros(1)
    for label, update in forms.items():
        state, lengths = Adam().init(origin), np.empty(steps)
        for index, gradient in enumerate(gradients):
            moved, state = update(index + 1, origin, np.array([gradient]), state)
            lengths[index] = abs(moved[0])
        step_over_lr[label] = lengths

    fig, ax = plt.subplots(figsize=(8.5, 4.5), layout="constrained")
    legend = {"torch": "torch: eps on sqrt(v_hat)", "Keras": "Keras: eps_hat on sqrt(v)",
              "torch with eps_t": "torch with eps_t = eps / sqrt(1 - beta2^t)"}
    t = np.arange(1, steps + 1)
    for index, (label, lengths) in enumerate(step_over_lr.items()):
        style = plots.run_style(index)
        if label == "torch with eps_t":
            # Dotted and wider, so that the Keras curve it covers still shows through.
            style["linestyle"] = ":"
        ax.plot(t, lengths, label=legend[label], linewidth=2 if label == "torch with eps_t" else 1.2, **style)
    ax.set_xscale("log")
    ax.set(xlabel="step (log scale)", ylabel="step length / lr")
    ax.grid(True, color="0.9")
    ax.legend(fontsize="small")
    shorter = step_over_lr["torch"][0] / step_over_lr["Keras"][0]
    ax.set_title(f"eps = {eps:g}, gradients near {gradient_size:g}: Keras's first step is {shorter:.0f} times "
                 "shorter", loc="left")
    return EpsForms(step_over_lr=step_over_lr,
                    keras_against_eps_t=rel_error(step_over_lr["Keras"], step_over_lr["torch with eps_t"]))


# --- section 10: use it -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DigitsTraining:
    """The largest relative difference between the weights the learner's update and course_lib's
    Adam learn; per run label the training history and the sum of the squared weights (biases
    left out) at the end."""

    largest_difference: float
    runs: dict
    squared_weights: dict


def weight_decay_on_digits(update: Callable, *, lr: float = 3e-3, weight_decay: float = 0.1, epochs: int = 10,
                           batch_size: int = 32, hidden=(32,), seed: int = 0) -> DigitsTraining:
    """The learner's ``update`` (``adam_update``) trains a small network on the handwritten digits.

    First as Adam without decay, next to course_lib's ``Adam`` on the same batches (left panel:
    the curves should coincide); then with L2 (``Adam(weight_decay=...)``) and with decoupled
    decay (``AdamW``) at the same ``weight_decay`` (right panel). What it shows: at a
    ``weight_decay`` that suits decoupled decay, L2 drives most weights of this network towards
    zero and it underfits, while AdamW keeps the fit and still shrinks the weights.
    """
    check_positive("lr", lr)
    check_nonnegative("weight_decay", weight_decay)
    check_whole("epochs", epochs, 1)
    digits = load_digits()
    model = MLP(digits.n_features, digits.n_classes, hidden=hidden)
    settings = dict(batch_size=batch_size, epochs=epochs, seed=seed)
    yours = fit(model, learner_optimizer(update, like=Adam(lr=lr)), digits, **settings)
    reference = fit(model, Adam(lr=lr), digits, **settings)
    largest = max(rel_error(reference.params[name], yours.params[name]) for name in reference.params)
    decayed = [fit(model, learner_optimizer(update, like=like), digits, **settings)
               for like in (Adam(lr=lr, weight_decay=weight_decay), AdamW(lr=lr, weight_decay=weight_decay))]
    runs = {run.label: run for run in (yours, *decayed)}
    squared = {label: sum(float(np.sum(w**2)) for name, w in run.params.items() if name.startswith("W"))
               for label, run in runs.items()}

    fig, (same, decay) = plt.subplots(1, 2, figsize=(14, 4.5), layout="constrained")
    plots.plot_loss_per_epoch([yours, reference], ax=same, title="Your update and course_lib's Adam: the same curves")
    plots.plot_loss_per_epoch(list(runs.values()), ax=decay,
                              title=f"Same weight_decay = {weight_decay:g}: L2 strangles the network, AdamW does not")
    return DigitsTraining(largest_difference=largest, runs=runs, squared_weights=squared)
