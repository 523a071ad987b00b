"""Lesson 12's experiments: Reddi, Kale & Kumar's counterexample to Adam, why Adam forgets and
AMSGrad does not, the three forms that go by the name AMSGrad, and a race on a 2-D surface.

Notation as in the course: the paper's step sizes α_t are our γ_t, here ``γ_t = γ/√t`` with
``γ = lr``; the denominator of a step is ``D_t``, e.g. ``√(v_t/(1 - β₂^t)) + ε`` for Adam.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..checks import rel_error
from ..functions import get_surface
from ..optimizers import SGD, Adam, ReddiAMSGrad
from ..optimizers._base import check_betas, check_number
from ..training import minimize
from .._arguments import check_positive, check_whole

BEST, WORST = -1.0, 1.0
"""The best and the worst fixed point of the counterexample on [-1, 1] (for any C > 2)."""

_BASELINE = {"color": "0.45", "linestyle": "--"}
_FORMS = {
    "torch": "torch: max of raw v, then corrected",
    "optax": "optax: max of corrected v",
    "paper": "paper: max of raw v, uncorrected",
}
# Colours for the whole lesson: Adam blue, torch's AMSGrad orange, the paper's green, optax's purple.
_FORM_SLOT = {"torch": 1, "optax": 3, "paper": 2}


# --- the counterexample ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Game:
    """One player's run of the online game of :func:`play`, round ``t`` at index ``t - 1``.

    ``points`` are the points ``x_t`` played, ``gradients`` the gradients ``g_t`` shown after each
    (``C`` or -1) and ``states`` the optimizer's state after its update of that round.
    """

    optimizer: object
    points: np.ndarray
    gradients: np.ndarray
    states: list

    @property
    def average_regret(self) -> np.ndarray:
        """``R_T / T`` for ``T = 1, 2, ...``: the losses are linear, so ``f_t(x_t) - f_t(-1) = g_t (x_t + 1)``."""
        regret = np.cumsum(self.gradients * (self.points - BEST))
        return regret / np.arange(1, len(regret) + 1)


def play(optimizer, *, C: float = 3.0, rounds: int = 3000, lr: float = 0.5, start: float = 0.0) -> Game:
    """Reddi et al.'s online game (Section 3 of their paper) played by ``optimizer``.

    At round ``t`` the player is at ``x_t`` in [-1, 1] and is shown the gradient of the linear loss
    ``f_t(x) = C x`` if ``t mod 3 = 1``, else ``-x``. It then takes one step with learning rate
    ``γ_t = lr/√t`` (the paper's α_t) and is projected back onto [-1, 1]. Over a cycle of three
    rounds the losses add up to ``(C - 2) x``, so for ``C > 2`` the best fixed point is -1.
    """
    if not _real(C) or not 2 < C < math.inf:
        raise ValueError(f"C must be a finite number larger than 2 (then x = -1 is the best point), got {C!r}")
    check_whole("rounds", rounds, 3)
    check_positive("lr", lr)
    check_number("start", start, -1.0, 1.0)
    x = np.array([float(start)])
    state = optimizer.init(x)
    gradients = np.where(np.arange(1, rounds + 1) % 3 == 1, float(C), -1.0)
    points, states = np.empty(rounds), []
    for t in range(1, rounds + 1):
        points[t - 1] = x[0]
        this_round = dataclasses.replace(optimizer, lr=lr / math.sqrt(t))
        x, state = this_round.step(x, np.array([gradients[t - 1]]), state)
        x = np.clip(x, BEST, WORST)
        states.append(state)
    return Game(optimizer=optimizer, points=points, gradients=gradients, states=states)


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _styles(games: dict) -> dict:
    """Plain SGD is the grey dashed baseline; the other players take the palette in order."""
    styles, slot = {}, 0
    for name, game in games.items():
        if isinstance(game.optimizer, SGD) and game.optimizer.momentum == 0:
            styles[name] = dict(_BASELINE)
        else:
            styles[name] = plots.run_style(slot)
            slot += 1
    return styles


def counterexample(players: dict, *, C: float = 3.0, rounds: int = 3000, lr: float = 0.5,
                   start: float = 0.0) -> dict:
    """Play :func:`play`'s game with each of ``players`` (``{name: optimizer}``) and draw the point
    each plays (left) and its average regret ``R_T/T`` (right), both against the round on a log axis.

    With the paper's setting (``β₁ = 0``, ``β₂ = 1/(1 + C²)``) Adam drifts to the worst point +1 and
    its average regret levels off at ``(2C - 4)/3``, the dotted line (what a player sitting at +1
    pays per round), while AMSGrad and SGD go to -1 and their average regret keeps falling.
    Returns ``{name: Game}``.
    """
    if not isinstance(players, dict) or not players:
        raise ValueError("players must be a non-empty dict {name: optimizer}")
    games = {name: play(optimizer, C=C, rounds=rounds, lr=lr, start=start) for name, optimizer in players.items()}
    styles = _styles(games)
    _, (left, right) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
    rounds_played = np.arange(1, rounds + 1)
    for name, game in games.items():
        left.plot(rounds_played, game.points, label=name, linewidth=0.8, **styles[name])
        right.plot(rounds_played, game.average_regret, label=name, **styles[name])
    right.axhline((2 * C - 4) / 3, color="black", linewidth=0.9, linestyle=":",
                  label=f"staying at x = +1: (2C - 4)/3 = {(2 * C - 4) / 3:.2f}")
    left.set(xscale="log", xlabel="round t", ylabel="point played x_t", ylim=(-1.1, 1.1))
    left.set_title("The point played: Adam drifts to +1, the WORST point;\n"
                   "SGD and AMSGrad go to the best, -1", loc="left")
    right.set(xscale="log", yscale="log", xlabel="round T", ylabel="average regret R_T / T (log scale)")
    right.set_title("Average regret: Adam's levels off at the dotted line,\n"
                    "AMSGrad's and SGD's keep falling", loc="left")
    for ax in (left, right):
        ax.grid(True, color="0.9")
        ax.legend(fontsize="small")
    return games


@dataclasses.dataclass(frozen=True)
class Forgetting:
    """What :func:`forgetting` measured, by player name (adaptive players only).

    ``denominators[name][t - 1]`` is ``D_t`` at round ``t``; ``late_cycle[name]`` the three steps of
    the last full cycle (gradients C, -1, -1) in units of ``γ_t``, before the projection, with + towards
    the worst point; ``net_per_cycle[name]`` their sum.
    """

    denominators: dict
    late_cycle: dict
    net_per_cycle: dict


def _denominators(game: Game) -> tuple[np.ndarray, np.ndarray]:
    """``D_t`` and the step in units of ``γ_t``, ``-m̂_t / D_t``, of an Adam-type player at every round."""
    beta1, beta2 = game.optimizer.betas
    eps = getattr(game.optimizer, "eps", 0.0)
    key = "max_exp_avg_sq" if "max_exp_avg_sq" in game.states[0] else "exp_avg_sq"
    steps = np.array([state["step"] for state in game.states])
    second = np.array([state[key][0] for state in game.states])
    first = np.array([state["exp_avg"][0] for state in game.states])
    if isinstance(game.optimizer, ReddiAMSGrad):
        denominators = np.sqrt(second)
        return denominators, -first / denominators
    denominators = np.sqrt(second / (1 - beta2**steps)) + eps
    return denominators, -(first / (1 - beta1**steps)) / denominators


def forgetting(games: dict, *, first_rounds: int = 30) -> Forgetting:
    """Why Adam loses the game: its denominators ``D_t`` over the first rounds (left, grey bands at the
    rounds with gradient C) and the steps of one late cycle (right), for every adaptive player of
    ``games`` (from :func:`counterexample`).

    Adam's ``v_t`` forgets the large gradient within a round, so its two small steps towards +1
    outweigh its large step towards -1; AMSGrad's maximum keeps the large gradient in every
    denominator, and its cycle moves towards -1. Returns the :class:`Forgetting`.
    """
    adaptive = {name: game for name, game in games.items() if "exp_avg_sq" in game.states[0]}
    if not adaptive:
        raise ValueError("games has no adaptive player (one with the state exp_avg_sq, such as Adam)")
    rounds = len(next(iter(adaptive.values())).points)
    check_whole("first_rounds", first_rounds, 1)
    if first_rounds > rounds:
        raise ValueError(f"first_rounds must be at most the {rounds} rounds played, got {first_rounds}")
    styles = _styles(games)
    last_cycle_start = rounds - 2 - (rounds - 3) % 3      # the last round t <= rounds - 2 with t mod 3 = 1
    cycle = np.arange(last_cycle_start - 1, last_cycle_start + 2)
    result = Forgetting(denominators={}, late_cycle={}, net_per_cycle={})
    _, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    shown = np.arange(1, first_rounds + 1)
    width = 0.8 / len(adaptive)
    for index, (name, game) in enumerate(adaptive.items()):
        denominators, steps = _denominators(game)
        result.denominators[name] = denominators
        result.late_cycle[name] = steps[cycle]
        result.net_per_cycle[name] = float(steps[cycle].sum())
        what = "the maximum of v" if "max_exp_avg_sq" in game.states[0] else "v_t"
        left.plot(shown, denominators[:first_rounds], marker="os^D"[index % 4], label=f"{name}: D_t from {what}",
                  **styles[name])
        offset = (index - (len(adaptive) - 1) / 2) * width
        bars = right.bar(np.arange(4) + offset, [*result.late_cycle[name], result.net_per_cycle[name]], width=width,
                         label=name, color=styles[name]["color"])
        right.bar_label(bars, fmt="%+.2f", fontsize="small", padding=2)
    for t in shown[shown % 3 == 1]:
        left.axvline(t, color="0.85", linewidth=3, zorder=0)
    left.set(xlabel="round t (grey: the rounds with gradient C)", ylabel="denominator D_t")
    left.set_title("Adam forgets the large gradient within a round;\nAMSGrad's maximum holds it", loc="left")
    right.axhline(0, color="black", linewidth=0.8)
    right.set_xticks(np.arange(4), ["gradient C", "gradient -1", "gradient -1", "net per cycle"])
    right.set(ylabel="step / γ_t (+ is towards the worst point)")
    right.margins(y=0.12)
    right.set_title(f"Rounds {last_cycle_start:,} to {last_cycle_start + 2:,}: Adam's two small "
                    "steps\noutweigh its big one; AMSGrad's do not", loc="left")
    for ax in (left, right):
        ax.grid(True, axis="y", color="0.9")
        ax.legend(fontsize="small")
    return result


# --- the three forms ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Forms:
    """What :func:`three_forms` measured at steps ``t = 1 ... T`` (index ``t - 1``).

    ``denominators`` and ``step_over_lr`` (``|θ_t - θ_{t-1}| / γ``) of the three forms, by
    ``"torch"``, ``"optax"`` and ``"paper"``; ``adam_denominator``, Adam's ``D_t`` without a
    maximum; ``torch_error`` and ``paper_error``, the largest relative difference between the steps
    computed here and those of ``course_lib``'s ``Adam(amsgrad=True)`` and ``ReddiAMSGrad``.
    """

    gradients: np.ndarray
    denominators: dict
    step_over_lr: dict
    adam_denominator: np.ndarray
    torch_error: float
    paper_error: float


def _feed(optimizer, gradients: np.ndarray) -> tuple[np.ndarray, list]:
    """The parameter changes and the states when one parameter, starting at 0, is fed ``gradients``."""
    param, state = np.zeros(1), optimizer.init(np.zeros(1))
    changes, states = np.empty(gradients.size), []
    for index, gradient in enumerate(gradients):
        new_param, state = optimizer.step(param, np.array([gradient]), state)
        changes[index] = new_param[0] - param[0]
        states.append(state)
        param = new_param
    return changes, states


def three_forms(*, burst: float = 10.0, burst_steps: int = 10, steady: float = 1.0, steady_steps: int = 3000,
                lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8) -> Forms:
    """torch's, optax's and the paper's AMSGrad on the same gradients: ``burst_steps`` gradients of
    ``burst`` (as at the start of training), then ``steady_steps`` of ``steady``.

    The gradients do not depend on the parameter, so all forms see the same ``m_t`` and ``v_t``
    and differ only in the denominator (left) and so in their steps (right, in units of ``lr``).
    With the defaults, the raw ``v_t`` only grows (its early values were biased low), so torch's
    maximum is the current ``v_t`` at every step and torch takes Adam's steps (Adam's denominator
    is the dotted line under torch's); optax's maximum of the corrected ``v̂`` keeps the burst for
    ever; and the paper's uncorrected form takes long steps while ``v_t`` is still filling. The
    torch and paper forms are checked against ``course_lib``'s optimizers; optax's is computed only
    here. Returns the :class:`Forms`.
    """
    for name, value in (("burst", burst), ("steady", steady), ("lr", lr)):
        check_positive(name, value)
    check_whole("burst_steps", burst_steps, 1)
    check_whole("steady_steps", steady_steps, 1)
    check_betas(betas)
    check_number("eps", eps)
    beta1, beta2 = betas
    gradients = np.concatenate([np.full(burst_steps, float(burst)), np.full(steady_steps, float(steady))])
    steps = np.arange(1, gradients.size + 1)
    torch_changes, torch_states = _feed(Adam(lr=lr, betas=betas, eps=eps, amsgrad=True), gradients)
    paper_changes, _ = _feed(ReddiAMSGrad(lr=lr, betas=betas), gradients)
    raw_m = np.array([state["exp_avg"][0] for state in torch_states])
    raw_v = np.array([state["exp_avg_sq"][0] for state in torch_states])
    correction = 1 - beta2**steps
    denominators = {
        "torch": np.sqrt(np.maximum.accumulate(raw_v) / correction) + eps,
        "optax": np.sqrt(np.maximum.accumulate(raw_v / correction)) + eps,
        "paper": np.sqrt(np.maximum.accumulate(raw_v)),
    }
    corrected_m = raw_m / (1 - beta1**steps)
    numerators = {"torch": corrected_m, "optax": corrected_m, "paper": raw_m}
    changes = {form: -lr * numerators[form] / denominators[form] for form in _FORMS}
    forms = Forms(
        gradients=gradients, denominators=denominators,
        step_over_lr={form: np.abs(change) / lr for form, change in changes.items()},
        adam_denominator=np.sqrt(raw_v / correction) + eps,
        torch_error=rel_error(torch_changes, changes["torch"]), paper_error=rel_error(paper_changes, changes["paper"]))

    _, (left, right) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
    for form, legend in _FORMS.items():
        style = plots.run_style(_FORM_SLOT[form])
        left.plot(steps, denominators[form], label=legend, **style)
        right.plot(steps, forms.step_over_lr[form], label=legend, **style)
    left.plot(steps, forms.adam_denominator, color="0.3", linestyle=":", label="Adam, no maximum")
    left.set(xscale="log", yscale="log", xlabel="step t", ylabel="denominator D_t (log scale)")
    left.set_title(f"{burst_steps} gradients of {burst:g}, then {steady:g}s: torch's maximum "
                   "forgets the burst\nas fast as Adam; optax's never does", loc="left")
    right.set(xscale="log", yscale="log", xlabel="step t", ylabel="|step| / γ (log scale)")
    right.set_title(f"Steps on the same gradients: up to {forms.step_over_lr['paper'].max():.1f} γ "
                    f"(paper),\nAdam's own (torch), {forms.step_over_lr['optax'][-1]:.2g} γ "
                    "at the end (optax)", loc="left")
    for ax in (left, right):
        ax.grid(True, color="0.9")
        ax.legend(fontsize="small")
    return forms


# --- a 2-D surface --------------------------------------------------------------------------


def _widen_earlier_runs(ax, runs) -> None:
    """Draw each run's line (labelled with the run's label, maybe followed by ": ...") 1.6 points wider
    than the next run's, so that a path lying under a later one stays visible around it."""
    order = {run.label: index for index, run in enumerate(runs)}
    for line in ax.get_lines():
        index = order.get(line.get_label().split(":")[0])
        if index is not None:
            widening = 1.6 * (len(runs) - 1 - index)
            line.set_linewidth(line.get_linewidth() + widening)
            line.set_markersize(line.get_markersize() + widening)


def surface_race(surface, optimizers, *, steps: int = 300) -> list:
    """Run each of ``optimizers`` on ``surface`` (a name or a Surface) from its start for ``steps``
    steps, and draw the paths (left), the loss per update (middle) and the raw second moment of the
    y coordinate (right): ``exp_avg_sq`` solid, or, for an AMSGrad, ``max_exp_avg_sq`` solid and
    ``exp_avg_sq`` dotted.

    On Beale's function at ``lr = 0.1`` torch's AMSGrad follows Adam until the gradients shrink,
    then lags: its maximum stays at the peak while Adam's average decays. The paper's form, without
    corrections, takes long first steps and another route. Paths drawn first are drawn thicker, so
    that a path that follows another one stays visible. Returns the Trajectories.
    """
    surface = get_surface(surface) if isinstance(surface, str) else surface
    check_whole("steps", steps, 1)
    if not optimizers:
        raise ValueError("optimizers must name at least one optimizer")
    runs = [minimize(surface, optimizer, surface.start, steps=steps) for optimizer in optimizers]
    _, (left, middle, right) = plt.subplots(1, 3, figsize=(17, 5.5), layout="constrained")
    plots.plot_contours(surface, runs, ax=left, title=f"{surface.title}: the paper's form takes\n"
                                                      "larger early steps and another route")
    plots.plot_loss_per_update(runs, ax=middle, title="Loss: torch's AMSGrad tracks Adam,\n"
                                                      "then lags once the gradients shrink")
    for ax in (left, middle):
        _widen_earlier_runs(ax, runs)
    dotted = []
    for index, run in enumerate(runs):
        if "exp_avg_sq" not in run.states[0]:
            continue
        color = plots.run_style(index)["color"]
        key = "max_exp_avg_sq" if "max_exp_avg_sq" in run.states[0] else "exp_avg_sq"
        right.plot(np.arange(1, run.steps + 1), [state[key][1] for state in run.states[1:]], color=color,
                   label=f"{run.label}: {key}")
        if key == "max_exp_avg_sq":
            dotted.append((run, color))
    # The averages an AMSGrad keeps beside its maximum go on top, where a solid line cannot hide them.
    for run, color in dotted:
        right.plot(np.arange(1, run.steps + 1), [state["exp_avg_sq"][1] for state in run.states[1:]], color=color,
                   linestyle=":", linewidth=2, label=f"{run.label}: exp_avg_sq")
    right.set(xlabel="step (updates done)", ylabel="raw second moment of y")
    right.set_title("State, y coordinate: the average decays\nas the gradients shrink, "
                    "the maximum stays", loc="left")
    right.grid(True, color="0.9")
    right.legend(fontsize="small", loc="lower left", bbox_to_anchor=(0.1, 0.0))
    return runs
