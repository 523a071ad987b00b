"""Lesson 10's experiments: a rare feature waking up under Adam and AdaMax, the limit from the
L^p norm to the decaying maximum, why that maximum needs no bias correction, where eps goes,
and AdaMax's scale estimate on Rosenbrock's valley floor.

Every function draws one figure and returns the values it measured, so that the lesson can print
the numbers its text quotes and the tests can check them. Lesson 10's race on two surfaces is
lesson 09's :func:`course_lib.demos.adam.compare_on_surfaces`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..checks import mistake_update, rel_error
from ..optimizers import Adam, Adamax, KingmaBaAdamax
from ..optimizers._base import check_betas, check_number
from ..training import Trajectory, step_lengths
from .adam import check_nonnegative, check_positive, check_whole


# --- section 1: why ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RareFeature:
    """Per optimizer label, the step lengths in units of the learning rate from the feature's
    first non-zero gradient on, and Kingma & Ba's estimate of Adam's largest step,
    ``(1 - beta1) / sqrt(1 - beta2)``."""

    active_steps: dict
    paper_estimate: float


def rare_feature_wakes_up(wakes_up: int = 1000, active: int = 150, *, noise: float = 0.3, betas=(0.9, 0.999),
                          seed: int = 0) -> RareFeature:
    """One coordinate whose gradient is 0 for ``wakes_up`` steps and then about 1 for ``active`` steps.

    The active gradients are ``1 + noise * z_t``, ``z_t`` standard normal from
    ``np.random.default_rng(seed)``; Adam and AdaMax run at the learning rate 1 with ``betas``.
    What it shows: Adam's step counter is shared by all coordinates, so by the time this one
    wakes up its bias corrections have faded although its own averages hold nothing; its ``v``
    then fills a hundred times slower than its ``m`` and the steps grow to several learning
    rates, beyond the paper's estimate (dotted line). AdaMax's maximum takes the new scale at
    once and its steps stay below the learning rate.
    """
    check_whole("wakes_up", wakes_up, 1)
    check_whole("active", active, 1)
    check_nonnegative("noise", noise)
    check_betas(betas)
    gradients = np.zeros(wakes_up + active)
    gradients[wakes_up:] = 1.0 + noise * np.random.default_rng(seed).standard_normal(active)
    beta1, beta2 = betas
    paper_estimate = (1.0 - beta1) / math.sqrt(1.0 - beta2)

    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    shown = np.arange(max(wakes_up - 10, 0), wakes_up + active)
    active_steps = {}
    adam, adamax = Adam(lr=1.0, betas=betas), Adamax(lr=1.0, betas=betas)
    for index, optimizer in enumerate((adam, adamax)):
        lengths = step_lengths(optimizer, gradients)
        active_steps[optimizer.label] = lengths[wakes_up:]
        ax.plot(shown + 1, lengths[shown], label=optimizer.label, **plots.run_style(index))
    ax.axvline(wakes_up + 0.5, color="black", linewidth=0.8)
    ax.axhline(1.0, color="0.5", linestyle=":", label="lr")
    ax.axhline(paper_estimate, color="0.5", linestyle="--",
               label=f"Kingma & Ba's (1 - beta1) / sqrt(1 - beta2) = {paper_estimate:.2f}")
    ax.set(xlabel="step", ylabel="step length / lr")
    ax.grid(True, color="0.9")
    ax.legend(fontsize="small")
    adam_longest = active_steps[adam.label].max()
    ax.set_title(f"A feature appears at step {wakes_up + 1}: Adam's steps reach {adam_longest:.1f} x lr, "
                 "AdaMax's stay below lr", loc="left")
    return RareFeature(active_steps=active_steps, paper_estimate=paper_estimate)


# --- section 2: from L^p to the maximum -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LpLimit:
    """For each power ``p``: ``v_t^(1/p)`` after the last gradient (``roots``) and the factor
    ``(1 - beta2^p)^(1/p)`` it carries (``weight_factors``); their ratio is the norm part. ``u``
    is AdaMax's decaying maximum after the last gradient, as ``KingmaBaAdamax`` keeps it."""

    powers: tuple
    roots: np.ndarray
    weight_factors: np.ndarray
    u: float

    @property
    def norm_parts(self) -> np.ndarray:
        return self.roots / self.weight_factors


def lp_norm_limit(powers=(1, 2, 4, 8, 16, 32, 64, 128, 256), *, drawn=(2, 8, 32, 256), beta2: float = 0.999,
                  steps: int = 60, seed: int = 3) -> LpLimit:
    """Adam's second moment generalised to the power ``p``, ``v_t = beta2^p v_(t-1) + (1 - beta2^p) |g_t|^p``,
    and its root ``v_t^(1/p)`` as ``p`` grows, against AdaMax's ``u_t``.

    The ``steps`` gradients are standard normal numbers from ``np.random.default_rng(seed)``,
    scaled from 2 down to 0.5. What it shows: ``v_t^(1/p)`` rises towards the decaying maximum
    ``u_t = max(beta2 u_(t-1), |g_t|)``; split into the factor ``(1 - beta2^p)^(1/p)`` and a
    weighted p-norm, the norm part reaches ``u_t`` by ``p = 32`` while the factor tends to 1 only
    slowly. Left, ``v_t^(1/p)`` at every step for the powers ``drawn``; right, the values after
    the last step against ``p``.
    """
    powers = tuple(powers)
    if not powers or not all(isinstance(p, numbers.Real) and not isinstance(p, bool) and 0 < p < math.inf
                             for p in powers):
        raise ValueError(f"powers must be a non-empty sequence of finite numbers > 0, got {powers!r}")
    if not set(drawn) <= set(powers):
        raise ValueError(f"drawn must be some of the powers {powers}, got {tuple(drawn)!r}")
    check_number("beta2", beta2, 0.0, 1.0, include_high=False)
    check_whole("steps", steps, 1)
    gradients = np.random.default_rng(seed).normal(size=steps) * np.linspace(2.0, 0.5, steps)
    # v_t^(1/p) scales like the gradients, so it is computed for gradients divided by the largest
    # one and scaled back: |g|^p then neither overflows nor loses the largest term, whatever p.
    largest = float(np.max(np.abs(gradients)))
    relative = np.abs(gradients) / largest

    def roots_over_steps(p: float) -> np.ndarray:
        v, roots = 0.0, np.empty(steps)
        for index, size in enumerate(relative):
            v = beta2**p * v + (1.0 - beta2**p) * size**p
            roots[index] = largest * v ** (1.0 / p)
        return roots

    adamax = KingmaBaAdamax(lr=1.0, betas=(0.9, beta2))
    param, state, u = np.zeros(1), adamax.init(np.zeros(1)), np.empty(steps)
    for index, gradient in enumerate(gradients):
        param, state = adamax.step(param, np.array([gradient]), state)
        u[index] = state["exp_inf"][0]
    roots = np.array([roots_over_steps(p)[-1] for p in powers])
    weight_factors = np.array([(1.0 - beta2**p) ** (1.0 / p) for p in powers])

    fig, (over_steps, over_p) = plt.subplots(1, 2, figsize=(14, 4.5), layout="constrained")
    t = np.arange(1, steps + 1)
    over_steps.plot(t, np.abs(gradients), color="0.55", marker="o", markersize=3.5, linestyle="none", zorder=5,
                    label="|g_t|")
    for index, p in enumerate(drawn):
        over_steps.plot(t, roots_over_steps(p), label=f"p = {p:g}", **plots.run_style(index))
    over_steps.plot(t, u, color="black", linestyle="--", label="AdaMax's u_t (p = infinity)")
    over_steps.set(xlabel="step t", ylabel="scale estimate")
    over_steps.legend(fontsize="small")
    over_steps.set_title("As p grows, v_t^(1/p) rises towards the decaying maximum", loc="left")
    over_p.plot(powers, roots, marker="o", label="v_t^(1/p)", **plots.run_style(0))
    over_p.plot(powers, roots / weight_factors, marker="s", label="its norm part, without (1 - beta2^p)^(1/p)",
                **plots.run_style(1))
    over_p.axhline(u[-1], color="black", linestyle="--", label="u_t")
    over_p.set_xscale("log", base=2)
    over_p.set_yscale("log")
    over_p.set(xlabel="p (log scale)", ylabel="value at the last step (log scale)")
    over_p.grid(True, color="0.9")
    over_p.legend(fontsize="small")
    over_p.set_title("The norm part converges by p = 32; the weight factor only slowly", loc="left")
    return LpLimit(powers=powers, roots=roots, weight_factors=weight_factors, u=float(u[-1]))


# --- section 4: no bias correction for u ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScaleEstimates:
    """Each method's estimate of the gradient's size divided by the true size, at every step:
    Adam's raw ``sqrt(v_t)`` and corrected ``sqrt(v_hat_t)``, AdaMax's ``u_t`` and ``u_t``
    divided by ``1 - beta2^t`` (a correction it does not need); and the length of torch's
    AdaMax's first step and of the first step with that correction."""

    adam_raw: np.ndarray
    adam_corrected: np.ndarray
    adamax_u: np.ndarray
    adamax_u_corrected: np.ndarray
    first_step: float
    first_step_u_corrected: float


def constant_gradient_scale(gradient: float = 2.0, steps: int = 3000, *, lr: float = 2e-3,
                            betas=(0.9, 0.999)) -> ScaleEstimates:
    """The size of a constant ``gradient`` as Adam's and AdaMax's states estimate it, step by step.

    What it shows: an average started at zero is pulled towards that zero (Adam's raw
    ``sqrt(v_1)`` is ``sqrt(1 - beta2)``, about 3 % of the truth, hence its correction), while a
    maximum is not: ``u_1 = |g_1| + eps`` is right at once, and dividing it by ``1 - beta2^t``
    makes it a thousand times too large, and AdaMax's first step (at ``lr``) a thousand times
    too short. The figure shows the four estimates over the steps, on log axes.
    """
    if isinstance(gradient, bool) or not isinstance(gradient, numbers.Real) or gradient == 0 \
            or not math.isfinite(gradient):
        raise ValueError(f"gradient must be a finite number other than 0, got {gradient!r}")
    check_whole("steps", steps, 1)
    check_positive("lr", lr)
    check_betas(betas)
    beta2 = betas[1]
    adam, adamax = Adam(betas=betas), Adamax(lr=lr, betas=betas)
    origin, constant = np.zeros(1), np.array([float(gradient)])
    adam_state, adamax_state = adam.init(origin), adamax.init(origin)
    raw_root, u = np.empty(steps), np.empty(steps)
    for index in range(steps):
        _, adam_state = adam.step(origin, constant, adam_state)
        _, adamax_state = adamax.step(origin, constant, adamax_state)
        raw_root[index], u[index] = math.sqrt(adam_state["exp_avg_sq"][0]), adamax_state["exp_inf"][0]
    t = np.arange(1, steps + 1)
    size = abs(float(gradient))
    estimates = {
        "adam_raw": raw_root / size,
        "adam_corrected": raw_root / np.sqrt(1.0 - beta2**t) / size,
        "adamax_u": u / size,
        "adamax_u_corrected": u / (1.0 - beta2**t) / size,
    }
    corrects_u = mistake_update("adamax_update", "adamax-corrects-u")
    right, _ = adamax.step(origin, constant, adamax.init(origin))
    wrong, _ = corrects_u(origin, constant, adamax.init(origin), lr=lr, betas=betas)

    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    ax.plot(t, estimates["adam_raw"], label="Adam's raw sqrt(v_t): needs the correction", **plots.run_style(0))
    ax.plot(t, estimates["adam_corrected"], label="Adam's sqrt(v_hat_t): corrected", color=plots.PALETTE[0],
            linestyle=":")
    ax.plot(t, estimates["adamax_u"], label="AdaMax's u_t: right from step 1", **plots.run_style(1))
    ax.plot(t, estimates["adamax_u_corrected"], label="u_t / (1 - beta2^t): a correction it does not need",
            **plots.run_style(3))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="step t (log scale)", ylabel="estimated |g| / true |g| (log scale)")
    ax.grid(True, color="0.9")
    ax.legend(fontsize="small")
    ax.set_title("A maximum is not pulled towards its zero start; an average is", loc="left")
    return ScaleEstimates(**estimates, first_step=abs(float(right[0])), first_step_u_corrected=abs(float(wrong[0])))


# --- section 5: where eps goes ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EpsPlacements:
    """For each gradient size, the largest relative difference between the steps of the Keras
    form and torch's, and between the paper's form and torch's (``differences``, by those labels);
    and each form's total movement over zero gradients."""

    sizes: np.ndarray
    differences: dict
    zero_gradient_movement: dict


def eps_placements(sizes, *, eps: float = 1e-8, steps: int = 30, noise: float = 0.3, seed: int = 4) -> EpsPlacements:
    """AdaMax with eps inside the maximum (torch, optax), outside it (Keras) and without (the paper).

    For each size in ``sizes`` the three forms take ``steps`` steps on the gradients ``size *
    (1 + noise * z_t)`` (``z_t`` standard normal from ``np.random.default_rng(seed)``, drawn
    size after size), with the same ``eps`` for torch and Keras, and the largest relative
    difference of their steps from torch's is measured. What it shows: the placements differ
    only where the gradients are not much larger than ``eps``; there torch's and Keras's stay
    close, while the paper's form, with no eps, steps as far for tiny gradients as for large
    ones. All three stay put on gradients that are exactly zero.
    """
    sizes = np.asarray(sizes, dtype=float)
    if sizes.ndim != 1 or sizes.size == 0 or not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise ValueError(f"sizes must be a non-empty sequence of finite numbers > 0, got {sizes.tolist()}")
    check_positive("eps", eps)
    check_whole("steps", steps, 1)
    check_nonnegative("noise", noise)
    keras_update = mistake_update("adamax_update", "adamax-eps-outside-max")
    forms = {
        "torch": lambda param, grad, state: Adamax(lr=1.0, eps=eps).step(param, grad, state),
        "Keras": lambda param, grad, state: keras_update(param, grad, state, lr=1.0, eps=eps),
        "paper": lambda param, grad, state: KingmaBaAdamax(lr=1.0).step(param, grad, state),
    }

    def steps_taken(update, gradients) -> np.ndarray:
        origin = np.zeros(1)
        state, taken = Adamax().init(origin), np.empty(len(gradients))
        for index, gradient in enumerate(gradients):
            moved, state = update(origin, np.array([gradient]), state)
            taken[index] = moved[0]
        return taken

    rng = np.random.default_rng(seed)
    differences = {"Keras form vs torch": [], "paper form vs torch": []}
    for size in sizes:
        gradients = size * (1.0 + noise * rng.standard_normal(steps))
        taken = {name: steps_taken(update, gradients) for name, update in forms.items()}
        differences["Keras form vs torch"].append(rel_error(taken["torch"], taken["Keras"]))
        differences["paper form vs torch"].append(rel_error(taken["torch"], taken["paper"]))
    differences = {label: np.array(values) for label, values in differences.items()}
    zeros = np.zeros(steps)
    zero_movement = {name: float(np.abs(steps_taken(update, zeros)).sum()) for name, update in forms.items()}

    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    for index, (label, values) in enumerate(differences.items()):
        # A difference of exactly 0 has no place on a log axis; it is drawn at 1e-16, the round-off floor.
        ax.plot(sizes, np.maximum(values, 1e-16), marker="o", label=label, **plots.run_style(index + 1))
    ax.axvline(eps, color="black", linewidth=0.8, label=f"eps = {eps:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="size of the gradients (log scale)", ylabel="largest relative difference of the steps (log scale)")
    ax.grid(True, color="0.9")
    ax.legend(fontsize="small")
    ax.set_title("The placements differ only where gradients are not much larger than eps", loc="left")
    return EpsPlacements(sizes=sizes, differences=differences, zero_gradient_movement=zero_movement)


# --- section 6: the picture -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScaleInX:
    """At every step of the two runs, for the x coordinate: the gradient's size along AdaMax's
    path, Adam's ``sqrt(v_hat)``, AdaMax's ``u``, and per method the step in units of the
    learning rate (``step_over_lr``, keys ``"Adam"`` and ``"AdaMax"``)."""

    gradient: np.ndarray
    adam_root: np.ndarray
    adamax_u: np.ndarray
    step_over_lr: dict


def scale_in_x(adam_run: Trajectory, adamax_run: Trajectory, *, beta2: float = 0.999) -> ScaleInX:
    """Adam's and AdaMax's state in the x coordinate along their runs (Trajectories of the same length).

    ``beta2`` is the one Adam's run used (its ``v`` is corrected with it). Left, both first
    moments ``m``, the same recursion; middle, AdaMax's ``u`` and Adam's ``sqrt(v_hat)`` against
    the gradient's actual size; right, each step in units of the learning rate. What it shows:
    ``u`` keeps the large gradients of the start for hundreds of steps, while Adam's average
    dilutes them, so on the flat valley floor AdaMax's steps are several times shorter.
    """
    for name, run, key, method in (("adam_run", adam_run, "exp_avg_sq", "Adam"),
                                   ("adamax_run", adamax_run, "exp_inf", "Adamax")):
        if not isinstance(run, Trajectory) or key not in run.states[0]:
            raise ValueError(f"{name} must be the Trajectory of a run of {method} (training.minimize)")
    if adam_run.steps != adamax_run.steps:
        raise ValueError("adam_run and adamax_run must have as many steps, "
                         f"got {adam_run.steps} and {adamax_run.steps}")
    check_number("beta2", beta2, 0.0, 1.0, include_high=False)
    t = np.arange(1, adam_run.steps + 1)
    adam_root = np.sqrt(np.array([state["exp_avg_sq"][0] for state in adam_run.states[1:]]) / (1.0 - beta2**t))
    adamax_u = np.array([state["exp_inf"][0] for state in adamax_run.states[1:]])
    step_over_lr = {label: np.abs(np.diff(run.points[:, 0])) / run.lrs
                    for label, run in (("Adam", adam_run), ("AdaMax", adamax_run))}
    gradient = np.abs(adamax_run.grads[:, 0])

    fig, (moments, scales, ratios) = plt.subplots(1, 3, figsize=(16, 4.5), layout="constrained")
    plots.plot_state([adam_run, adamax_run], "exp_avg", ax=moments, title="m (exp_avg): the same recursion in both")
    scales.plot(t, gradient, color="0.7", label="|g_x| along AdaMax's path")
    scales.plot(t, adam_root, label="Adam's sqrt(v_hat_x)", **plots.run_style(0))
    scales.plot(t, adamax_u, label="AdaMax's u_x (exp_inf)", **plots.run_style(1))
    scales.set_yscale("log")
    scales.set(xlabel="step", ylabel="gradient size (log scale)")
    scales.grid(True, color="0.9")
    scales.legend(fontsize="small")
    scales.set_title("u keeps the first, largest gradient; v_hat dilutes it", loc="left")
    ratios.plot(t, step_over_lr["Adam"], label="Adam: |m_hat| / (sqrt(v_hat) + eps)", **plots.run_style(0))
    ratios.plot(t, step_over_lr["AdaMax"], label="AdaMax: |m_hat| / u", **plots.run_style(1))
    ratios.set_yscale("log")
    ratios.set(xlabel="step", ylabel="step length in x / lr (log scale)")
    ratios.grid(True, color="0.9")
    ratios.legend(fontsize="small")
    floor = slice(len(t) // 3, None)
    shorter = step_over_lr["Adam"][floor] / step_over_lr["AdaMax"][floor]
    ratios.set_title(f"So on the floor AdaMax's steps are {shorter.min():.0f} to {shorter.max():.0f} times shorter",
                     loc="left")
    return ScaleInX(gradient=gradient, adam_root=adam_root, adamax_u=adamax_u, step_over_lr=step_over_lr)
