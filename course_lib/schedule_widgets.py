"""An explorer for learning-rate schedules: the rate of every update, and what it does to gradient
descent on a surface whose gradients carry noise, next to the same run at the schedule's peak rate
held constant::

    explore_schedules("warm-up + cosine", lr=0.4, steps=300, warmup=20, noise=0.5)

Three panels: the learning rate per update (the schedule and the constant rate), the paths of one
noisy run of each on the surface, and the loss per update averaged over several noise draws (the
same draws for both, so that only the schedule differs). The controls are the schedule (a menu of
:data:`SCHEDULES`), the peak rate ``lr``, the number of updates, and the knobs the schedules take:
``warmup`` (the warm-up, or one-cycle's rise, in updates), ``floor`` (the last rate as a fraction
of ``lr``), ``gamma``, ``period`` (``StepLR``'s ``step_size``, SGDR's ``T_0``), ``T_mult``, and the
noise. A schedule's unused knobs are greyed out.

The computation does not need the widgets: :meth:`ScheduleExplorer.set` changes settings, reruns
and redraws; ``schedule`` is the :mod:`course_lib.schedules` object in use, ``runs`` the two
trajectories of the map, ``mean_losses`` the averaged curves, ``png`` and ``caption`` the picture.
The picture is a PNG in an ``ipywidgets.HTML`` (no ipympl needed), its ``alt`` text the caption.
The noisy runs come from :func:`noisy_runs` (many runs in one go, the same noise for every
schedule), which a lesson can call too, and :func:`mean_losses` averages them;
:func:`noisy_surface` is a surface with noisy gradients for :func:`~course_lib.training.minimize`.
"""

from __future__ import annotations

import dataclasses
import html
import math
import numbers

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import plots, schedules
from .functions import SURFACES, Surface
from .optimizers import SGD, Optimizer
from .training import POINT_LIMIT, Trajectory
from .widgets import canvas_png, picture_html

SCHEDULES = {
    "constant": ("lr at every update", ()),
    "step decay": ("StepLR(lr, step_size=period, gamma)", ("period", "gamma")),
    "exponential": ("ExponentialLR(lr, gamma)", ("gamma",)),
    "cosine": ("CosineAnnealingLR(lr, T_max=steps, eta_min=floor * lr)", ("floor",)),
    "cosine, warm restarts": ("CosineAnnealingWarmRestarts(lr, T_0=period, T_mult, eta_min=floor * lr)",
                              ("period", "T_mult", "floor")),
    "linear warm-up": ("LinearLR(lr, start_factor=1/warmup, total_iters=warmup - 1), then constant", ("warmup",)),
    "warm-up + cosine": ("warm-up to lr on update warmup, then cosine to floor * lr on the last update",
                         ("warmup", "floor")),
    "one-cycle": ("OneCycleLR(lr, total_steps=steps, pct_start=warmup / steps)", ("warmup",)),
    "inverse sqrt": ("InverseSqrtLR(lr, warmup): lr * min(t / warmup, sqrt(warmup / t))", ("warmup",)),
}
"""The schedules on offer: what each one is in torch's terms, and the knobs it uses."""

KNOBS = ("warmup", "floor", "gamma", "period", "T_mult")

#: Noise draws averaged in the loss panel: enough for a readable curve, few enough to redraw at once.
REPEATS = 8
MAX_STEPS = 1000


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the picture depends on."""

    schedule: str = "warm-up + cosine"
    lr: float = 0.4
    steps: int = 300
    warmup: int = 20
    floor: float = 0.0
    gamma: float = 0.1
    period: int = 100
    T_mult: int = 1
    noise: float = 0.5
    surface: str = "ravine"
    seed: int = 0

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        _number("lr", self.lr, 0.0, math.inf, low_open=True)
        _whole("steps", self.steps, 2, MAX_STEPS)
        _whole("warmup", self.warmup, 0, self.steps - 1)
        _number("floor", self.floor, 0.0, 1.0)
        _number("gamma", self.gamma, 0.0, 1.0, low_open=True)
        _whole("period", self.period, 1, MAX_STEPS)
        _whole("T_mult", self.T_mult, 1, 10)
        _number("noise", self.noise, 0.0, math.inf)
        if self.surface not in SURFACES:
            raise ValueError(f"surface must be one of {list(SURFACES)}, got {self.surface!r}")
        _whole("seed", self.seed, 0, 2**32 - 1)


def _whole(name, value, low, high) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def _number(name, value, low, high, *, low_open=False) -> None:
    fine = (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
            and (value > low if low_open else value >= low) and value <= high)
    if not fine:
        raise ValueError(f"{name} must be a number in {'(' if low_open else '['}{low:g}, {high:g}], got {value!r}")


def build_schedule(settings: Settings):
    """The :mod:`course_lib.schedules` object (a function of the update number) that ``settings`` describe."""
    s, lr = settings, settings.lr
    if s.schedule == "constant":
        return schedules.LinearLR(lr, start_factor=1.0, total_iters=0)
    if s.schedule == "step decay":
        return schedules.StepLR(lr, step_size=s.period, gamma=s.gamma)
    if s.schedule == "exponential":
        return schedules.ExponentialLR(lr, gamma=s.gamma)
    if s.schedule == "cosine":
        return schedules.CosineAnnealingLR(lr, T_max=s.steps, eta_min=s.floor * lr)
    if s.schedule == "cosine, warm restarts":
        return schedules.CosineAnnealingWarmRestarts(lr, T_0=s.period, T_mult=s.T_mult, eta_min=s.floor * lr)
    if s.schedule in ("linear warm-up", "warm-up + cosine", "inverse sqrt") and s.warmup < 1:
        raise ValueError(f"{s.schedule} needs warmup >= 1, got {s.warmup}")
    if s.schedule == "linear warm-up":
        return schedules.LinearLR(lr, start_factor=1 / s.warmup, total_iters=s.warmup - 1)
    if s.schedule == "warm-up + cosine":
        decay = schedules.CosineAnnealingLR(lr, T_max=s.steps - s.warmup, eta_min=s.floor * lr)
        if s.warmup == 1:
            return decay
        rise = schedules.LinearLR(lr, start_factor=1 / s.warmup, total_iters=s.warmup - 1)
        return schedules.SequentialLR((rise, decay), milestones=(s.warmup - 1,))
    if s.schedule == "one-cycle":
        if s.warmup < 2:
            raise ValueError(f"one-cycle needs a rise of at least 2 updates (warmup >= 2), got {s.warmup}")
        return schedules.OneCycleLR(lr, total_steps=s.steps, pct_start=s.warmup / s.steps)
    return schedules.InverseSqrtLR(lr, warmup=s.warmup)


def noisy_surface(surface: Surface, noise: float, seed: int) -> Surface:
    """``surface`` whose gradients get independent Gaussian noise of standard deviation ``noise``
    added, drawn from its own generator: two runs on ``noisy_surface(s, noise, seed)`` see the
    same noise, one draw per gradient, in the same order."""
    _number("noise", noise, 0.0, math.inf)
    rng = np.random.default_rng(seed)
    exact = surface.grad
    return dataclasses.replace(surface, grad=lambda point: exact(point) + noise * rng.standard_normal(np.shape(point)))


def noisy_runs(surface: Surface, optimizer: Optimizer, schedule, *, steps: int, noise: float, seed: int = 0,
               repeats: int = REPEATS, label: str | None = None) -> list[Trajectory]:
    """``repeats`` runs of ``optimizer`` on ``surface`` with Gaussian noise of standard deviation ``noise``
    added to every gradient, ``schedule(t)`` setting the learning rate of step ``t``: one
    :class:`~course_lib.training.Trajectory` per run, as :func:`~course_lib.training.minimize`
    would record it (without the optimizer states), cut where a run diverged.

    The runs are computed together: course_lib's optimizers work element by element, so one step
    on an array of shape ``(repeats, 2)`` is a step of every run. The noise comes from
    ``np.random.default_rng(seed)``, one array of shape ``(repeats, 2)`` per step, so two calls
    with the same seed see the same noise, whatever their schedules.
    """
    _whole("steps", steps, 1, 10**6)
    _whole("repeats", repeats, 1, 10**4)
    _number("noise", noise, 0.0, math.inf)
    if not isinstance(optimizer, Optimizer) or "lr" not in {f.name for f in dataclasses.fields(optimizer)}:
        raise TypeError(f"optimizer must be an optimizer of course_lib.optimizers with an lr, got {optimizer!r}")
    if not callable(schedule):
        raise TypeError(f"schedule must be a function of the update number, got {schedule!r}")
    rng = np.random.default_rng(seed)
    params = np.tile(np.asarray(surface.start, dtype=float), (repeats, 1))
    state = optimizer.init(params)
    points, grads, lrs = [params], [], []
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            stepper = dataclasses.replace(optimizer, lr=schedule(t))
            grad = surface.grad(stepper.gradient_point(params, state)) + noise * rng.standard_normal(params.shape)
            params, state = stepper.step(params, grad, state)
            points.append(params)
            grads.append(grad)
            lrs.append(stepper.lr)
        points, grads = np.array(points), np.array(grads)
        losses = np.asarray(surface.value(points), dtype=float)
    runs = []
    sane = np.all(np.isfinite(points), axis=2) & (np.max(np.abs(points), axis=2) <= POINT_LIMIT) & np.isfinite(losses)
    for run in range(repeats):
        bad = np.flatnonzero(~sane[:, run])
        keep = int(bad[0]) if bad.size else steps + 1
        runs.append(Trajectory(label=label or optimizer.label, points=points[:keep, run], losses=losses[:keep, run],
                               grads=grads[:keep - 1, run], lrs=np.array(lrs[:keep - 1]), states=[],
                               diverged_at=keep if bad.size else None))
    return runs


def mean_losses(runs: list[Trajectory]) -> np.ndarray:
    """The loss after each step averaged over ``runs``; inf from the step where any of them diverged."""
    # A diverged run ends with its last sane point; the step at which it blew up counts as inf.
    length = max(len(run.losses) + (run.diverged_at is not None) for run in runs)
    padded = [np.concatenate([run.losses, np.full(length - len(run.losses), np.inf)]) for run in runs]
    return np.mean(padded, axis=0)


class ScheduleExplorer:
    """The runs and the picture for one setting, and (``widget``) the controls that change it."""

    def __init__(self, settings: Settings, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer) or "lr" not in {f.name for f in dataclasses.fields(optimizer)}:
            raise TypeError(f"optimizer must be an optimizer of course_lib.optimizers with an lr, got {optimizer!r}")
        self.optimizer = optimizer
        self.settings = settings
        self._build_figure()
        self._build_widgets()
        self._compute()
        self._draw()

    # --- the computation -------------------------------------------------------------------

    def set(self, **changes) -> None:
        """Change some settings (names of :class:`Settings`), rerun and redraw; invalid ones raise ValueError."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(Settings)}
        if unknown:
            names = [f.name for f in dataclasses.fields(Settings)]
            raise ValueError(f"unknown settings {sorted(unknown)}; the settings are {names}")
        settings = dataclasses.replace(self.settings, **changes)
        build_schedule(settings)  # raises before anything changes
        self.settings = settings
        self._compute()
        self._draw()

    def _compute(self) -> None:
        s = self.settings
        self.schedule = build_schedule(s)
        surface = SURFACES[s.surface]
        constant = schedules.LinearLR(s.lr, start_factor=1.0, total_iters=0)
        self.lrs, self.mean_losses, self.runs = {}, {}, []
        for name, schedule in (("constant", constant), ("schedule", self.schedule)):
            self.lrs[name] = np.array([schedule(t) for t in range(1, s.steps + 1)])
            label = "lr constant" if name == "constant" else s.schedule
            runs = noisy_runs(surface, self.optimizer, schedule, steps=s.steps, noise=s.noise, seed=s.seed,
                              label=label)
            losses = mean_losses(runs)
            self.mean_losses[name] = np.concatenate([losses, np.full(s.steps + 1 - len(losses), np.inf)])
            self.runs.append(runs[0])

    @property
    def caption(self) -> str:
        """The state the picture shows, in words a test (or a screen reader) can use."""
        s = self.settings
        knobs = "; ".join(f"{name}={getattr(s, name):g}" for name in SCHEDULES[s.schedule][1])
        ends = ", ".join(f"{name} {self._final(name)}" for name in ("constant", "schedule"))
        return (f"schedule={s.schedule}; lr={s.lr:g}; steps={s.steps}" + (f"; {knobs}" if knobs else "")
                + f"; noise={s.noise:g}; surface={s.surface}; {self.optimizer!r}; mean final loss: {ends}")

    def _final(self, name: str) -> str:
        value = self.mean_losses[name][-1]
        return f"{value:.3g}" if np.isfinite(value) else "diverged"

    # --- the picture -----------------------------------------------------------------------

    def _draw(self) -> None:
        """Put the new curves, paths and titles into the figure's lines (built once), then render the PNG."""
        s = self.settings
        if getattr(self, "_drawn_surface", None) != s.surface:
            self._draw_map()
        updates = np.arange(1, s.steps + 1)
        for index, name in enumerate(("constant", "schedule")):
            label = self.runs[index].label
            self._rate_lines[index].set_data(updates, self.lrs[name])
            curve = self.mean_losses[name]
            self._loss_lines[index].set_data(np.arange(s.steps + 1), np.where(np.isfinite(curve), curve, np.nan))
            self._path_lines[index].set_data(self.runs[index].points[:, 0], self.runs[index].points[:, 1])
            for line in (self._rate_lines[index], self._loss_lines[index]):
                line.set_label(label)
        rates, paths, losses = self.axes
        rates.relim()
        rates.autoscale_view()
        rates.set_ylim(0, None)
        rates.set_title(SCHEDULES[s.schedule][0], loc="left", fontsize="small")
        rates.legend(fontsize="small", loc="best")
        paths.set_title(f"One noisy run of each (noise {s.noise:g})", loc="left", fontsize="small")
        curves = np.concatenate(list(self.mean_losses.values()))
        positive = curves[np.isfinite(curves) & (curves > 0)]
        losses.set_yscale("log" if positive.size and np.all(curves[np.isfinite(curves)] > 0) else "linear")
        losses.relim()
        losses.autoscale_view()
        losses.set_title(f"mean final loss: constant {self._final('constant')}, schedule {self._final('schedule')}",
                         loc="left", fontsize="small")
        canvas = self.figure.canvas
        canvas.draw()
        self.png = canvas_png(canvas)
        self.picture.value = picture_html(self.png, self.caption)
        self.problem.value = ""
        self._grey_out()

    def _build_figure(self) -> None:
        self.figure = Figure(figsize=(13.5, 3.9), dpi=72)
        FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.05, right=0.99, bottom=0.14, top=0.9, wspace=0.22)
        self.axes = self.figure.subplots(1, 3, width_ratios=(1, 1.25, 1))
        rates, _, losses = self.axes
        self._rate_lines = [rates.plot([], [], **plots.run_style(i))[0] for i in range(2)]
        self._loss_lines = [losses.plot([], [], **plots.run_style(i))[0] for i in range(2)]
        rates.set(xlabel="update t", ylabel="learning rate")
        losses.set(xlabel="update", ylabel=f"loss, mean of {REPEATS} noise draws")

    def _draw_map(self) -> None:
        """The contours of the surface (only when it changes) and two empty paths on top."""
        paths = self.axes[1]
        paths.clear()
        plots.plot_contours(SURFACES[self.settings.surface], [], ax=paths, resolution=100)
        paths.get_legend().remove()
        start = SURFACES[self.settings.surface].start
        self._path_lines = [paths.plot([], [], marker="o", markersize=2, linewidth=1, zorder=3,
                                       **plots.run_style(i))[0] for i in range(2)]
        paths.plot([start[0]], [start[1]], marker="o", markersize=7, markerfacecolor="white", color="black",
                   linestyle="none", zorder=5)
        self._drawn_surface = self.settings.surface

    # --- the widgets -----------------------------------------------------------------------

    def _build_widgets(self) -> None:
        s = self.settings
        layout, style = {"width": "320px"}, {"description_width": "90px"}
        common = {"layout": layout, "style": style, "continuous_update": False}
        self.controls = {
            "schedule": widgets.Dropdown(options=list(SCHEDULES), value=s.schedule, description="schedule",
                                         layout=layout, style=style),
            "lr": widgets.FloatLogSlider(value=s.lr, base=10, min=min(-3, math.floor(math.log10(s.lr))),
                                         max=max(1, math.ceil(math.log10(s.lr))), step=0.05, description="peak lr",
                                         readout_format=".3g", **common),
            "steps": widgets.IntSlider(value=s.steps, min=min(20, s.steps), max=MAX_STEPS, description="updates",
                                       **common),
            "warmup": widgets.IntSlider(value=s.warmup, min=0, max=max(500, s.warmup), description="warmup", **common),
            "floor": widgets.FloatSlider(value=s.floor, min=0.0, max=1.0, step=0.01, description="floor / lr",
                                         **common),
            "gamma": widgets.FloatSlider(value=s.gamma, min=min(0.01, s.gamma), max=1.0, step=0.001,
                                         description="gamma", readout_format=".3f", **common),
            "period": widgets.IntSlider(value=s.period, min=1, max=max(500, s.period), description="period", **common),
            "T_mult": widgets.IntSlider(value=s.T_mult, min=1, max=max(3, s.T_mult), description="T_mult", **common),
            "noise": widgets.FloatSlider(value=s.noise, min=0.0, max=max(2.0, s.noise), step=0.05, description="noise",
                                         **common),
            "surface": widgets.Dropdown(options=list(SURFACES), value=s.surface, description="surface",
                                        layout=layout, style=style),
        }
        for name, control in self.controls.items():
            control.observe(lambda change, n=name: self._on_control(n), names="value")
        self._requested = {}
        self.picture = widgets.HTML()
        self.problem = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([widgets.VBox(list(self.controls.values())[:5]),
                                                  widgets.VBox([*list(self.controls.values())[5:], self.problem])]),
                                    self.picture])

    def _grey_out(self, schedule: str | None = None) -> None:
        used = SCHEDULES[schedule or self.settings.schedule][1]
        for knob in KNOBS:
            self.controls[knob].disabled = knob not in used

    def _on_control(self, name: str) -> None:
        value = self.controls[name].value
        # Every requested value is kept until a valid setting uses it, so that a combination made
        # invalid by one control (one-cycle with warmup 0) becomes valid when another one fixes it.
        self._requested[name] = float(f"{value:.3g}") if name == "lr" else value
        try:
            self.set(**self._requested)
        except ValueError as error:
            self.problem.value = (f'<span style="color:{plots.PALETTE[1]}">{html.escape(str(error))}. '
                                  "The picture still shows the last valid setting.</span>")
            self._grey_out(self._requested.get("schedule"))
        else:
            self._requested = {}

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def explore_schedules(schedule: str = "warm-up + cosine", *, optimizer: Optimizer | None = None,
                      **settings) -> ScheduleExplorer:
    """An explorer for ``schedule`` (a name from :data:`SCHEDULES`); show it by leaving it last in a cell.

    ``optimizer`` (default plain SGD) is run at the schedule's rates and at ``lr`` held constant;
    its own ``lr`` is ignored. The other keywords are the fields of :class:`Settings`: ``lr``,
    ``steps``, ``warmup``, ``floor``, ``gamma``, ``period``, ``T_mult``, ``noise``, ``surface``, ``seed``.
    """
    unknown = set(settings) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise TypeError(f"explore_schedules got unknown settings {sorted(unknown)}")
    chosen = Settings(schedule=schedule, **settings)
    build_schedule(chosen)
    return ScheduleExplorer(chosen, SGD() if optimizer is None else optimizer)
