"""An explorer for the lessons: sliders on the hyperparameters of one or several optimizers, a
surface picker, a start point and the number of steps, redrawn at once on every change::

    explore([SGD(lr=0.01), SGD(lr=0.01, momentum=0.9)], surface="ravine")

(Lessons 04 and 05 also have :func:`explore_rate_map`, the rate maps of heavy ball and Nesterov
with a slider for the condition number; it is described at the end of this module.)

The controls are derived from each optimizer's dataclass fields, so a lesson gets an explorer
for its own method in one line: a float gets a slider (logarithmic for ``lr`` and ``eps``),
a bool a checkbox, ``betas`` two sliders; other fields keep the values given. ``fields=`` limits
the controls to the hyperparameters a lesson is about.

How it renders, and why. ipympl is not available, so the picture is a PNG inside an
``ipywidgets.HTML`` (an ``<img>`` with a data URL), which JupyterLab shows without any
extension. The figure is a plain Agg figure outside pyplot. The costly parts of a render are
the contours, the axes and the text, and they change only with the surface; so they are
rendered once and kept as a bitmap, and a redraw pastes that bitmap and draws only the paths,
markers, legend and title over it (Agg "blitting") before encoding the PNG. bench/widgets.py
measures a whole redraw, trajectories included, at 2 to 4 times faster than the simple way of
rendering the full figure into an ``ipywidgets.Output``. Sliders update continuously while
dragged: the widget frontend keeps at most one update in flight and merges the rest, so a fast
redraw follows the mouse and a slow one never builds a backlog.

The computation is independent of the widgets: :class:`Explorer` runs the trajectories and
renders the picture (``set_optimizer``, ``set_surface``, ``set_start``, ``set_steps``,
``redraw``, ``png``), and its ``widget`` attribute is the control panel that calls them. Every
picture carries a ``caption`` listing the state it shows (surface, start, steps and every
optimizer with all its hyperparameters) as the ``alt`` text of its ``<img>``. Image and caption
travel in one widget update, so a browser test that waits for an ``alt`` naming the new slider
value has the picture that belongs to it. (``ipywidgets.Image`` has no such attribute: its tooltip
is not rendered in ipywidgets 8.1.)
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import math
import numbers
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from . import plots, rates
from .functions import SURFACES
from .optimizers import Optimizer
from .training import minimize

MAX_OPTIMIZERS = len(plots.PALETTE)
#: The steps slider's end: 4 optimizers x 300 steps still redraw within about 100 ms on 2 cores.
MAX_STEPS = 300


def canvas_png(canvas) -> bytes:
    """The drawn Agg canvas as PNG bytes. Level 1 compresses about as well as the default on these
    flat-coloured plots, twice as fast: a slider's redraw waits on it."""
    width, height = canvas.get_width_height()
    picture = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    encoded = io.BytesIO()
    picture.save(encoded, format="png", compress_level=1)
    return encoded.getvalue()


def picture_html(png: bytes, caption: str) -> str:
    """An ``<img>`` holding ``png``, with ``caption`` as its ``alt`` text (what the browser tests read)."""
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="{html.escape(caption)}">'


@dataclasses.dataclass(frozen=True)
class _Range:
    """A slider's span; for a logarithmic slider ``step`` is in decades."""

    low: float
    high: float
    step: float
    log: bool = False


# Spans that cover what the lessons show: from too timid to divergent learning rates, and
# averaging coefficients up to the "long memory" end that matters for Adam's beta2.
_RANGES = {
    "lr": _Range(1e-4, 10.0, 0.05, log=True),
    "eps": _Range(1e-10, 1.0, 0.5, log=True),
    "momentum": _Range(0.0, 0.99, 0.01),
    "dampening": _Range(0.0, 0.99, 0.01),
    "beta1": _Range(0.0, 0.99, 0.01),
    "beta2": _Range(0.0, 0.9999, 0.0001),
    "rho": _Range(0.0, 0.999, 0.001),
    "alpha": _Range(0.0, 0.999, 0.001),
    "weight_decay": _Range(0.0, 1.0, 0.01),
    "lr_decay": _Range(0.0, 0.1, 0.001),
    "initial_accumulator_value": _Range(0.0, 1.0, 0.01),
    "momentum_decay": _Range(0.0, 0.02, 0.0005),
}
_ELEMENT_NAMES = {"betas": ("beta1", "beta2")}
_SIGNIFICANT_DIGITS = 4
_CONTROL_LAYOUT = {"width": "330px"}
_CONTROL_STYLE = {"description_width": "110px"}


def explore(optimizers, surface="ravine", *, start=None, steps: int = 100, fields=None) -> "Explorer":
    """Build an explorer for ``optimizers`` (one or a list) on ``surface``; show it by leaving it last in a cell.

    ``surface`` is a name from :data:`course_lib.functions.SURFACES` or a Surface; ``start``
    defaults to the surface's own start point; ``steps`` is the initial number of steps;
    ``fields`` (e.g. ``("lr", "momentum")``) limits the sliders to those hyperparameters.
    """
    return Explorer(optimizers, surface, start=start, steps=steps, fields=fields)


class Explorer:
    """Trajectories of several optimizers on one surface, their picture, and the controls that change them.

    The methods compute and render without a browser; ``widget`` is the control panel (an
    ``ipywidgets`` box) and ``controls[i]`` maps each hyperparameter of optimizer ``i`` to its
    control (a pair of sliders for ``betas``).
    """

    def __init__(self, optimizers, surface="ravine", *, start=None, steps: int = 100, fields=None):
        self.optimizers = _as_optimizers(optimizers)
        self.surface = plots._as_surface(surface)
        self.start = self.surface.start if start is None else _as_start(start, self.surface)
        self.steps = _as_steps(steps)
        self.trajectories = self._run()
        self.figure = Figure(dpi=80, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.ax = self.figure.add_subplot()
        self._heading = self.ax.set_title("", loc="left")
        self._contours, self._markers = plots._draw_surface(self.ax, self.surface)
        self._paths, self._start_marker = plots._draw_paths(self.ax, self.trajectories)
        self._fit_figure()
        self._build_widgets(_as_fields(fields, self.optimizers))
        self.redraw()

    # --- the computation ---------------------------------------------------------------

    def set_optimizer(self, index: int, optimizer: Optimizer) -> None:
        """Replace optimizer ``index`` (e.g. by ``dataclasses.replace(old, lr=0.1)``) and redraw."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.optimizers):
            raise ValueError(f"index must be 0 to {len(self.optimizers) - 1}, got {index!r}")
        self.optimizers[index] = _as_optimizers([optimizer])[0]
        self.redraw()

    def set_surface(self, surface) -> None:
        """Switch to another surface (a name or a Surface), starting from its own start point."""
        self.surface = plots._as_surface(surface)
        self.start = self.surface.start
        for artist in self._contours + self._markers:
            artist.remove()
        self._contours, self._markers = plots._draw_surface(self.ax, self.surface)
        self._fit_figure()
        self.redraw()

    def set_start(self, start) -> None:
        """Start every optimizer from ``start = (x, y)`` inside the surface's window."""
        self.start = _as_start(start, self.surface)
        self.redraw()

    def set_steps(self, steps: int) -> None:
        """Run every optimizer for ``steps`` steps."""
        self.steps = _as_steps(steps)
        self.redraw()

    def redraw(self) -> None:
        """Rerun the trajectories, update the paths, legend and title in place, and show the new PNG."""
        self.trajectories = self._run()
        for path, trajectory in zip(self._paths, self.trajectories):
            path.set_data(trajectory.points[:, 0], trajectory.points[:, 1])
        self._start_marker.set_data([self.start[0]], [self.start[1]])
        for text, trajectory in zip(self._legend.get_texts(), self.trajectories):
            text.set_text(plots._path_label(trajectory))
        x, y = self.start
        self._heading.set_text(f"{self.surface.title}: {self.steps} steps from ({x:.3g}, {y:.3g})")
        self.png = self._render()
        self.picture.value = picture_html(self.png, self.caption)
        self.problem.value = ""

    @property
    def caption(self) -> str:
        """The state the current picture shows, in words a test can search for."""
        x, y = self.start
        runs = "; ".join(repr(optimizer) for optimizer in self.optimizers)
        return f"surface={self.surface.name}; start=({x:.4g}, {y:.4g}); steps={self.steps}; {runs}"

    def _run(self):
        return [minimize(self.surface, optimizer, self.start, steps=self.steps) for optimizer in self.optimizers]

    def _dynamic_artists(self) -> list:
        return [*self._paths, self._start_marker, *self._markers, self._legend, self._heading]

    def _fit_figure(self) -> None:
        """Size the figure for the surface's window and a fresh legend; the static bitmap must then be redone."""
        handles = [*self._paths, self._start_marker, *self._markers]
        self._legend = plots._legend_below(self.ax, handles, columns=1)
        self.figure.set_size_inches(plots._map_figsize(self.surface, len(handles), width=6.0, max_map_height=4.2))
        self._background = None

    def _render(self) -> bytes:
        canvas = self.figure.canvas
        if self._background is None or not self._legend_fits():
            self.figure.set_layout_engine("constrained")
            canvas.draw()
            # The layout stays as computed with every artist visible; then the static parts alone are kept.
            self.figure.set_layout_engine("none")
            hidden = [*self._paths, self._start_marker, *self._markers, self._legend]
            heading = self._heading.get_text()
            for artist in hidden:
                artist.set_visible(False)
            # matplotlib misplaces an invisible title but leaves an empty one where it was.
            self._heading.set_text("")
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._heading.set_text(heading)
            for artist in hidden:
                artist.set_visible(True)
        canvas.restore_region(self._background)
        for artist in self._dynamic_artists():
            self.figure.draw_artist(artist)
        return canvas_png(canvas)

    def _legend_fits(self) -> bool:
        """False when longer labels have pushed the legend past the figure's edge: time for a new layout."""
        box = self._legend.get_window_extent(self.figure.canvas.get_renderer())
        return box.x0 >= 0 and box.y0 >= 0 and box.x1 <= self.figure.bbox.width

    # --- the widgets ---------------------------------------------------------------------

    def _build_widgets(self, fields) -> None:
        self._syncing = False
        self.picture = widgets.HTML()
        self.problem = widgets.HTML()
        # A lesson's own surface (say, the loss of a model over two of its weights) joins the menu.
        choices = dict(SURFACES)
        choices.setdefault(self.surface.name, self.surface)
        self.surface_picker = widgets.Dropdown(options=list(choices), value=self.surface.name,
                                               description="surface", layout=_CONTROL_LAYOUT, style=_CONTROL_STYLE)
        self._surface_choices = choices
        self.start_sliders = tuple(
            widgets.FloatSlider(description=name, readout_format=".2f", layout=_CONTROL_LAYOUT, style=_CONTROL_STYLE)
            for name in ("start x", "start y")
        )
        self._fit_start_sliders()
        self.steps_slider = widgets.IntSlider(value=self.steps, min=1, max=max(MAX_STEPS, self.steps),
                                              description="steps", layout=_CONTROL_LAYOUT, style=_CONTROL_STYLE)
        self._requested = [{} for _ in self.optimizers]
        self.controls = []
        groups = []
        for index, optimizer in enumerate(self.optimizers):
            controls = _controls_for(optimizer, fields)
            for name, control in controls.items():
                for element in _elements(control):
                    element.observe(lambda change, i=index, n=name: self._on_hyperparameter(i, n), names="value")
            self.controls.append(controls)
            # The heading's square has the colour of the optimizer's path, which ties each group to its line.
            color = plots.run_style(index)["color"]
            heading = widgets.HTML(f'<b style="color:{color}">&#9632; {type(optimizer).__name__}</b>')
            groups.append(widgets.VBox([heading, *(e for control in controls.values() for e in _elements(control))]))
        self.surface_picker.observe(lambda change: self._on_surface(), names="value")
        for slider in self.start_sliders:
            slider.observe(lambda change: self._on_start(), names="value")
        self.steps_slider.observe(lambda change: self.set_steps(self.steps_slider.value), names="value")
        panel = widgets.VBox([self.surface_picker, *self.start_sliders, self.steps_slider, *groups, self.problem])
        self.widget = widgets.HBox([panel, self.picture])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _on_hyperparameter(self, index: int, name: str) -> None:
        control = self.controls[index][name]
        if isinstance(control, tuple):
            value = tuple(_slider_value(element) for element in control)
        else:
            value = control.value if isinstance(control, widgets.Checkbox) else _slider_value(control)
        # Every requested value is kept, so that an invalid combination becomes valid when another control fixes it.
        self._requested[index][name] = value
        try:
            optimizer = dataclasses.replace(self.optimizers[index], **self._requested[index])
        except (TypeError, ValueError) as error:
            what = f"{type(self.optimizers[index]).__name__}: {error}"
            self.problem.value = (f'<span style="color:{plots.PALETTE[1]}">{html.escape(what)}. '
                                  "The picture still shows the last valid setting.</span>")
            return
        self.set_optimizer(index, optimizer)

    def _on_surface(self) -> None:
        self.set_surface(self._surface_choices[self.surface_picker.value])
        # The start sliders take the new window and start point without each triggering a redraw.
        self._syncing = True
        try:
            self._fit_start_sliders()
        finally:
            self._syncing = False

    def _on_start(self) -> None:
        if not self._syncing:
            self.set_start(tuple(slider.value for slider in self.start_sliders))

    def _fit_start_sliders(self) -> None:
        for slider, (low, high), value in zip(self.start_sliders, self.surface.window, self.start):
            # Deferred validation lets the new span and value arrive together, whatever the old span was.
            with slider.hold_trait_notifications():
                slider.min, slider.max, slider.step, slider.value = low, high, (high - low) / 200, value


def _controls_for(optimizer: Optimizer, fields) -> dict:
    controls = {}
    for field in dataclasses.fields(optimizer):
        if not field.init or (fields is not None and field.name not in fields):
            continue
        value = getattr(optimizer, field.name)
        if isinstance(value, bool):
            controls[field.name] = widgets.Checkbox(value=value, description=field.name, indent=False,
                                                    layout=_CONTROL_LAYOUT)
        elif isinstance(value, numbers.Real):
            controls[field.name] = _slider(field.name, float(value))
        elif isinstance(value, tuple) and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
            names = _ELEMENT_NAMES.get(field.name, tuple(f"{field.name}[{i}]" for i in range(len(value))))
            controls[field.name] = tuple(_slider(name, float(v)) for name, v in zip(names, value))
    return controls


def _elements(control) -> tuple:
    return control if isinstance(control, tuple) else (control,)


def _slider(name: str, value: float):
    span = _RANGES.get(name) or _Range(0.0, max(1.0, 2 * abs(value)), max(1.0, 2 * abs(value)) / 100)
    common = {"description": name, "continuous_update": True, "layout": _CONTROL_LAYOUT, "style": _CONTROL_STYLE}
    if span.log and value > 0:
        low = min(math.log10(span.low), math.floor(math.log10(value)))
        high = max(math.log10(span.high), math.ceil(math.log10(value)))
        return widgets.FloatLogSlider(value=value, base=10, min=low, max=high, step=span.step,
                                      readout_format=f".{_SIGNIFICANT_DIGITS - 1}g", **common)
    low, high = min(span.low, value), max(span.high, value)
    return widgets.FloatSlider(value=value, min=low, max=high, step=span.step,
                               readout_format=f".{_SIGNIFICANT_DIGITS}g", **common)


def _slider_value(slider) -> float:
    """The value to four significant digits, for readable labels: 10**-1.5 becomes 0.03162, not 0.0316227766."""
    return float(f"{slider.value:.{_SIGNIFICANT_DIGITS}g}")


# --- argument checks ----------------------------------------------------------------------------


def _as_optimizers(optimizers) -> list[Optimizer]:
    if not isinstance(optimizers, (list, tuple)):
        optimizers = [optimizers]
    if not optimizers:
        raise TypeError("optimizers must be an optimizer or a non-empty list of them, "
                        "e.g. [SGD(lr=0.01), Adam(lr=0.1)]")
    for position, optimizer in enumerate(optimizers):
        if not isinstance(optimizer, Optimizer):
            kind = type(optimizer).__name__
            hint = " (the class itself? write SGD(lr=0.01), with parentheses)" if isinstance(optimizer, type) else ""
            raise TypeError(f"optimizers[{position}] is a {kind}, not an optimizer from course_lib.optimizers{hint}")
    if len(optimizers) > MAX_OPTIMIZERS:
        raise ValueError(
            f"at most {MAX_OPTIMIZERS} optimizers fit in one explorer (one per colour), got {len(optimizers)}"
        )
    return list(optimizers)


def _as_start(start, surface) -> tuple[float, float]:
    point = np.asarray(start, dtype=float) if _is_pair(start) else None
    if point is None or not np.all(np.isfinite(point)):
        raise ValueError(f"start must be a point (x, y) of two finite numbers, got {start!r}")
    (x_low, x_high), (y_low, y_high) = surface.window
    if not (x_low <= point[0] <= x_high and y_low <= point[1] <= y_high):
        raise ValueError(
            f"start={start!r} lies outside the window of {surface.name!r}: x in [{x_low:g}, {x_high:g}], "
            f"y in [{y_low:g}, {y_high:g}]"
        )
    return float(point[0]), float(point[1])


def _is_pair(value) -> bool:
    return (isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str) and len(value) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value))


def _as_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    return int(steps)


def _as_fields(fields, optimizers) -> frozenset | None:
    if fields is None:
        return None
    if isinstance(fields, str) or not isinstance(fields, Sequence):
        raise TypeError(f"fields must be a list of hyperparameter names such as ['lr', 'momentum'], got {fields!r}")
    known = {f.name for optimizer in optimizers for f in dataclasses.fields(optimizer) if f.init}
    unknown = [name for name in fields if name not in known]
    if unknown:
        raise ValueError(
            f"no optimizer here has the hyperparameter(s) {unknown}; they have: {', '.join(sorted(known))}"
        )
    return frozenset(fields)


# --- the rate map of lessons 04 and 05 ----------------------------------------------------------


def explore_rate_map(condition_number: float = 32.0, *, methods=None, curvature_max: float = 4.0,
                     learner=(0.1, 0.9)) -> "RateMapExplorer":
    """An explorer of the rate maps (:func:`course_lib.plots.plot_rate_maps`) with a slider for the
    condition number κ; show it by leaving it last in a cell.

    The quadratic's curvatures are ``curvature_max / κ`` and ``curvature_max`` (the ravine's for
    ``κ = 32`` and the default ``curvature_max = 4``), so moving κ flattens the gentle direction and
    leaves the stiff one, and with it every stability limit, where it is. ``methods`` is
    ``("heavy_ball", "nesterov")`` by default, or one of them; ``learner = (lr, momentum)`` is your
    point, which two more sliders move (the learning-rate axis ends at ``4.2 / curvature_max``, past
    every stable setting, or a little past your point if that is further).
    """
    return RateMapExplorer(condition_number, methods=methods, curvature_max=curvature_max, learner=learner)


class RateMapExplorer:
    """Rate maps for one condition number, their picture, and the sliders that change them.

    ``set_condition_number``, ``set_learner`` and ``redraw`` work without a browser; ``shown[i]``
    holds what panel ``i`` marks (:meth:`course_lib.plots.RatePanel.update`), ``png`` and ``caption``
    the picture; ``widget`` is the control panel and ``controls`` its sliders by name
    (``"condition number"``, ``"lr"``, ``"momentum"``). As in :class:`Explorer`, the picture is a PNG
    in an ``<img>`` whose ``alt`` text is the caption. A redraw computes the maps (a grid of
    ``RESOLUTION`` x ``RESOLUTION`` settings per method) and draws only what changes over a bitmap of
    the rest, rendered once (as :class:`Explorer` does).
    """

    RESOLUTION = 160
    MAX_CONDITION_NUMBER = 1e4

    def __init__(self, condition_number: float = 32.0, *, methods=None, curvature_max: float = 4.0,
                 learner=(0.1, 0.9)):
        self.methods = _as_methods(methods)
        if isinstance(curvature_max, bool) or not isinstance(curvature_max, numbers.Real) \
                or not 0 < curvature_max < math.inf:
            raise ValueError(f"curvature_max must be a positive number, got {curvature_max!r}")
        self.curvature_max = float(curvature_max)
        self.condition_number = self._as_condition_number(condition_number)
        # The learning-rate axis of plots.plot_rate_map: past every stable setting, and past your point.
        self.lr_max = 4.2 / self.curvature_max
        if _is_pair(learner) and learner[0] > 0:
            self.lr_max = max(self.lr_max, 1.1 * float(learner[0]))
        self.learner = self._as_learner(learner)
        self.figure = Figure(figsize=(5.4 * len(self.methods) + 1.5, 6.2), dpi=72, layout="constrained")
        FigureCanvasAgg(self.figure)
        axes = self.figure.subplots(1, len(self.methods), squeeze=False)[0]
        self.panels = [plots.RatePanel(ax, method, self.lr_max, resolution=self.RESOLUTION)
                       for ax, method in zip(axes, self.methods)]
        self._background = None
        self._build_widgets()
        self.redraw()

    @property
    def curvatures(self) -> tuple[float, float]:
        """The quadratic's smallest and largest curvature."""
        return self.curvature_max / self.condition_number, self.curvature_max

    def set_condition_number(self, condition_number: float) -> None:
        """Redraw for condition number ``condition_number`` (1 to ``MAX_CONDITION_NUMBER``)."""
        self.condition_number = self._as_condition_number(condition_number)
        self.redraw()

    def set_learner(self, lr: float, momentum: float) -> None:
        """Move your point to ``(lr, momentum)`` and redraw."""
        self.learner = self._as_learner((lr, momentum))
        self.redraw()

    def redraw(self) -> None:
        """Recompute the maps and marks, render the figure and show the new PNG."""
        self.shown = [panel.update(self.curvatures, self.learner) for panel in self.panels]
        canvas = self.figure.canvas
        # The frame comes last, over the map's edges.
        changing = [artist for panel in self.panels for artist in panel.artists]
        changing += [spine for panel in self.panels for spine in panel.ax.spines.values()]
        if self._background is None:
            plots.add_rate_colorbar(self.figure, self.panels[0].image, [panel.ax for panel in self.panels])
            canvas.draw()
            # The layout stays as first computed; then the parts that never change (axes, ticks, labels,
            # colour bar: most of the text, which is most of the cost) are rendered once and kept as a bitmap.
            self.figure.set_layout_engine("none")
            titles = [(panel.title, panel.title.get_text()) for panel in self.panels]
            for artist in changing:
                artist.set_visible(False)
            # matplotlib misplaces an invisible title; an empty one keeps its place (and draws nothing).
            for title, _ in titles:
                title.set_visible(True)
                title.set_text("")
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            for artist in changing:
                artist.set_visible(True)
            for title, text in titles:
                title.set_text(text)
        canvas.restore_region(self._background)
        for artist in changing:
            self.figure.draw_artist(artist)
        self.png = canvas_png(canvas)
        self.picture.value = picture_html(self.png, self.caption)

    @property
    def caption(self) -> str:
        """The state the picture shows, in words a test (or a screen reader) can use."""
        low, high = self.curvatures
        lr, momentum = self.learner
        parts = [f"condition number={self.condition_number:.4g}; curvatures {low:.4g} to {high:.4g}; "
                 f"yours: lr={lr:.4g}, momentum={momentum:.4g}"]
        for method, shown in zip(self.methods, self.shown):
            best = shown["best"]
            parts.append(f"{rates.NAMES[method]}: best lr={best.lr:.4g}, momentum={best.momentum:.4g}, "
                         f"rate={best.rate:.4f}; yours rate={shown['yours']:.4f}")
        return "; ".join(parts)

    def _as_condition_number(self, value) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not 1 <= value <= self.MAX_CONDITION_NUMBER:
            raise ValueError(f"condition_number must be a number from 1 to {self.MAX_CONDITION_NUMBER:g}, "
                             f"got {value!r}")
        return float(value)

    def _as_learner(self, learner) -> tuple[float, float]:
        if not (_is_pair(learner) and 0 < learner[0] <= self.lr_max and 0 <= learner[1] < 1):
            raise ValueError(f"learner must be a pair (lr, momentum) with 0 < lr <= {self.lr_max:.4g} "
                             f"(the end of the learning-rate axis) and 0 <= momentum < 1, got {learner!r}")
        return float(learner[0]), float(learner[1])

    # --- the widgets ---------------------------------------------------------------------

    def _build_widgets(self) -> None:
        common = {"continuous_update": True, "layout": _CONTROL_LAYOUT, "style": _CONTROL_STYLE}
        lr, momentum = self.learner
        self.controls = {
            "condition number": widgets.FloatLogSlider(
                value=self.condition_number, base=10, min=0, max=math.log10(self.MAX_CONDITION_NUMBER), step=0.01,
                description="condition no. κ", readout_format=".4g", **common),
            "lr": widgets.FloatSlider(value=lr, min=self.lr_max / 200, max=self.lr_max, step=self.lr_max / 200,
                                      description="your γ (lr)", readout_format=".4g", **common),
            "momentum": widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01, description="your μ",
                                            readout_format=".2f", **common),
        }
        self.controls["condition number"].observe(
            lambda change: self.set_condition_number(_slider_value(self.controls["condition number"])), names="value")
        for name in ("lr", "momentum"):
            self.controls[name].observe(lambda change: self.set_learner(
                _slider_value(self.controls["lr"]), _slider_value(self.controls["momentum"])), names="value")
        self.picture = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), self.picture])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _as_methods(methods) -> tuple[str, ...]:
    if methods is None:
        return rates.METHODS
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    if not methods or len(set(methods)) != len(methods) or not set(methods) <= set(rates.METHODS):
        raise ValueError(f"methods must be one or both of {rates.METHODS}, got {methods!r}")
    return methods
