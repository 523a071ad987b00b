"""How long the explorer takes to answer a slider change, against the goal of a median <= 100 ms.

One redraw is everything between the slider's new value and the notebook receiving the picture:
rerunning every optimizer's trajectory, redrawing the paths, legend and title, encoding the PNG
and wrapping it in the ``<img>`` the widget sends. For each surface and number of optimizers the
learning-rate slider of the first optimizer is moved through 30 values, as a learner dragging it
would, and the median and 90th percentile are reported. For comparison, the same changes are
timed the simple way: rerun the trajectories and render the whole figure as
``display(fig)`` in an ``ipywidgets.Output`` would (``savefig(..., bbox_inches="tight")``).
The rate-map explorer of lessons 04 and 05 is timed on its condition-number slider, with one map
and with two.

    python -m bench.widgets
"""

from __future__ import annotations

import io
import os
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from course_lib.optimizers import SGD, Adam, RMSprop  # noqa: E402
from course_lib.training import minimize  # noqa: E402
from course_lib.widgets import MAX_STEPS, explore, explore_rate_map  # noqa: E402

GOAL_MS = 100.0
CHANGES = 30
OPTIMIZERS = {
    "ravine": [SGD(lr=0.1), SGD(lr=0.05, momentum=0.9), Adam(lr=0.1), RMSprop(lr=0.05)],
    "rosenbrock": [SGD(lr=1e-3), SGD(lr=5e-4, momentum=0.9), Adam(lr=0.05), RMSprop(lr=0.01)],
}
# The default number of steps, then the worst case: the most optimizers at the steps slider's end.
CASES = [(surface, count, 100) for surface in OPTIMIZERS for count in (1, 2, 4)] + [("rosenbrock", 4, MAX_STEPS)]


def time_slider_changes(surface: str, count: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds per change for the explorer's redraw and for a full re-render of the same state."""
    explorer = explore(OPTIMIZERS[surface][:count], surface=surface, steps=steps)
    slider = explorer.controls[0]["lr"]
    first_lr = explorer.optimizers[0].lr
    # Between a third and twice the starting rate: the runs stay finite, so each one costs all its steps.
    rates = np.geomspace(first_lr / 3, first_lr * 2, CHANGES)
    slider.value = rates[-1]
    fast, full = [], []
    for lr in rates:
        started = time.perf_counter()
        slider.value = lr
        fast.append(time.perf_counter() - started)
        started = time.perf_counter()
        for optimizer in explorer.optimizers:
            minimize(explorer.surface, optimizer, explorer.start, steps=steps)
        explorer.figure.savefig(io.BytesIO(), format="png", bbox_inches="tight")
        full.append(time.perf_counter() - started)
    return 1000 * np.array(fast), 1000 * np.array(full)


def time_condition_number_changes(methods) -> np.ndarray:
    """Milliseconds per move of the rate-map explorer's condition-number slider (lessons 04 and 05)."""
    explorer = explore_rate_map(methods=methods)
    times = []
    # What the slider's observer calls: new maps, the marks and the PNG.
    for condition_number in np.geomspace(2.0, 5000.0, CHANGES):
        started = time.perf_counter()
        explorer.set_condition_number(float(condition_number))
        times.append(time.perf_counter() - started)
    return 1000 * np.array(times)


def main() -> bool:
    print(f"explorer redraw after a slider change ({CHANGES} changes per row, {os.cpu_count()} CPU cores)")
    print(f"{'surface':<11} {'optimizers':>10} {'steps':>6} {'median ms':>10} {'p90 ms':>8} "
          f"{'full re-render ms':>18} {'speed-up':>9}  goal (median <= {GOAL_MS:.0f} ms)")
    all_met = True
    for surface, count, steps in CASES:
        fast, full = time_slider_changes(surface, count, steps)
        median, p90, full_median = np.median(fast), np.percentile(fast, 90), np.median(full)
        met = median <= GOAL_MS
        all_met &= met
        print(f"{surface:<11} {count:>10} {steps:>6} {median:>10.1f} {p90:>8.1f} {full_median:>18.1f} "
              f"{full_median / median:>8.1f}x  {'met' if met else 'NOT met'}")
    for methods in (("heavy_ball",), ("heavy_ball", "nesterov")):
        times = time_condition_number_changes(methods)
        median, p90 = np.median(times), np.percentile(times, 90)
        met = median <= GOAL_MS
        all_met &= met
        print(f"rate map, condition-number slider, {' and '.join(methods)}: median {median:.1f} ms, "
              f"p90 {p90:.1f} ms  {'met' if met else 'NOT met'}")
    print(f"goal met in every case: {'yes' if all_met else 'no'}")
    return all_met


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
