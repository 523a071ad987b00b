"""The explorer: controls derived from the optimizers' fields, every control change reruns the
trajectories and redraws the picture (checked on the Line2D data and the rendered PNG), the
picture carries a caption of its state, and bad arguments get clear errors. No browser needed."""

import base64
import dataclasses
import html
import io
import re

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from course_lib.functions import get_surface  # noqa: E402
from course_lib.optimizers import SGD, Adam, AdamW  # noqa: E402
from course_lib.training import minimize  # noqa: E402
from course_lib.widgets import Explorer, explore  # noqa: E402


def shown_picture(explorer):
    """The PNG bytes and the alt text of the <img> the notebook receives."""
    match = re.fullmatch(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)">', explorer.picture.value)
    assert match, explorer.picture.value[:80]
    return base64.b64decode(match.group(1)), html.unescape(match.group(2))


def path_points(explorer, index):
    return np.column_stack(explorer._paths[index].get_data())


def test_controls_follow_the_optimizer_fields():
    explorer = explore([SGD(lr=0.01), Adam(lr=0.1)], surface="bowl")
    sgd, adam = explorer.controls
    assert set(sgd) == {"lr", "momentum", "dampening", "weight_decay", "nesterov"}
    assert isinstance(sgd["lr"], widgets.FloatLogSlider) and sgd["lr"].value == pytest.approx(0.01)
    assert isinstance(sgd["momentum"], widgets.FloatSlider) and not isinstance(sgd["momentum"], widgets.FloatLogSlider)
    assert isinstance(sgd["nesterov"], widgets.Checkbox) and sgd["nesterov"].value is False
    beta1, beta2 = adam["betas"]
    assert (beta1.description, beta1.value, beta2.description, beta2.value) == ("beta1", 0.9, "beta2", 0.999)
    assert isinstance(adam["eps"], widgets.FloatLogSlider)


def test_fixed_fields_get_no_control_and_fields_limits_the_controls():
    explorer = explore([AdamW(lr=0.01), SGD(lr=0.1, momentum=0.5)], fields=("lr", "momentum"))
    assert "decoupled_weight_decay" not in explore(AdamW(lr=0.01)).controls[0]
    assert set(explorer.controls[0]) == {"lr"}
    assert set(explorer.controls[1]) == {"lr", "momentum"}


def test_moving_a_slider_reruns_and_redraws_that_optimizer():
    explorer = explore([SGD(lr=0.01), SGD(lr=0.01, momentum=0.9)], surface="ravine")
    before_png = explorer.png
    other_before = path_points(explorer, 1)
    explorer.controls[0]["lr"].value = 0.1
    assert explorer.optimizers[0] == SGD(lr=0.1)
    expected = minimize(get_surface("ravine"), SGD(lr=0.1), get_surface("ravine").start, steps=100)
    np.testing.assert_array_equal(explorer.trajectories[0].points, expected.points)
    np.testing.assert_array_equal(path_points(explorer, 0), expected.points)
    np.testing.assert_array_equal(path_points(explorer, 1), other_before)
    assert explorer.png != before_png
    assert explorer._legend.get_texts()[0].get_text().startswith("SGD(lr=0.1):")


def test_log_slider_values_reach_the_optimizer_rounded_to_four_digits():
    explorer = explore(SGD(lr=0.01))
    explorer.controls[0]["lr"].value = 10**-1.5
    assert explorer.optimizers[0].lr == 0.03162


def test_betas_sliders_set_the_pair():
    explorer = explore(Adam(lr=0.1), surface="bowl", steps=20)
    explorer.controls[0]["betas"][1].value = 0.9
    assert explorer.optimizers[0].betas == (0.9, 0.9)


def test_the_picture_carries_a_caption_of_the_state_it_shows():
    explorer = explore([SGD(lr=0.01), Adam(lr=0.1)], surface="bowl", steps=30)
    explorer.controls[1]["lr"].value = 0.5
    png, alt = shown_picture(explorer)
    assert png == explorer.png and png.startswith(b"\x89PNG")
    assert alt == explorer.caption
    assert "surface=bowl" in alt and "steps=30" in alt
    assert repr(SGD(lr=0.01)) in alt and repr(Adam(lr=0.5)) in alt


def test_an_invalid_combination_is_explained_and_the_last_valid_picture_kept():
    explorer = explore(SGD(lr=0.05), surface="bowl", steps=20)
    shown = explorer.picture.value
    explorer.controls[0]["nesterov"].value = True
    assert "nesterov=True needs momentum &gt; 0" in explorer.problem.value
    assert explorer.picture.value == shown and explorer.optimizers[0] == SGD(lr=0.05)
    explorer.controls[0]["momentum"].value = 0.5
    assert explorer.optimizers[0] == SGD(lr=0.05, momentum=0.5, nesterov=True)
    assert explorer.problem.value == ""


def test_the_surface_picker_moves_the_start_sliders_to_the_new_window():
    explorer = explore(SGD(lr=1e-3), surface="ravine", steps=20)
    explorer.surface_picker.value = "rosenbrock"
    rosenbrock = get_surface("rosenbrock")
    assert explorer.surface is rosenbrock and explorer.start == rosenbrock.start
    x_slider, y_slider = explorer.start_sliders
    assert (x_slider.min, x_slider.max, x_slider.value) == (-2.0, 2.0, rosenbrock.start[0])
    assert (y_slider.min, y_slider.max, y_slider.value) == (-1.0, 3.0, rosenbrock.start[1])
    np.testing.assert_array_equal(path_points(explorer, 0)[0], rosenbrock.start)
    assert explorer.ax.get_xlim() == rosenbrock.window[0]
    (minimum,) = [line for line in explorer.ax.get_lines() if line.get_label() == "minimum"]
    np.testing.assert_array_equal(np.column_stack(minimum.get_data()), rosenbrock.minima)
    assert "surface=rosenbrock" in shown_picture(explorer)[1]


def test_start_and_steps_controls_rerun_the_paths():
    explorer = explore(SGD(lr=0.1), surface="bowl", steps=20)
    explorer.start_sliders[0].value = 1.0
    explorer.steps_slider.value = 7
    assert explorer.start == (1.0, get_surface("bowl").start[1])
    assert len(explorer.trajectories[0].points) == 8
    np.testing.assert_array_equal(path_points(explorer, 0)[0], explorer.start)
    assert "steps=7" in explorer.caption


def test_the_fast_redraw_looks_like_a_full_render():
    explorer = explore([SGD(lr=0.3), Adam(lr=0.2)], surface="rosenbrock", steps=50)
    explorer.controls[0]["lr"].value = 1e-3
    fast = np.asarray(Image.open(io.BytesIO(explorer.png)).convert("RGB"), dtype=float)
    buffer = io.BytesIO()
    explorer.figure.savefig(buffer, format="png")
    full = np.asarray(Image.open(buffer).convert("RGB"), dtype=float)
    assert fast.shape == full.shape
    # Only antialiased edges may differ, where the fast path draws paths over the axes frame.
    assert np.mean(np.abs(fast - full) > 8) < 0.002


def test_methods_work_without_the_widgets():
    explorer = Explorer([SGD(lr=0.1)], "bowl", steps=10)
    explorer.set_optimizer(0, dataclasses.replace(explorer.optimizers[0], momentum=0.9))
    explorer.set_surface("saddle")
    explorer.set_start((0.5, 0.5))
    explorer.set_steps(5)
    assert explorer.caption.startswith("surface=saddle; start=(0.5, 0.5); steps=5; SGD(lr=0.1, momentum=0.9")
    np.testing.assert_array_equal(path_points(explorer, 0), explorer.trajectories[0].points)


def test_the_explorer_displays_as_its_widget():
    explorer = explore(SGD(lr=0.1), steps=5)
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: explore([]), TypeError, "non-empty list"),
        (lambda: explore(SGD), TypeError, "the class itself"),
        (lambda: explore([SGD(lr=0.1), "Adam"]), TypeError, r"optimizers\[1\] is a str"),
        (lambda: explore([SGD(lr=0.1)] * 8), ValueError, "at most 7 optimizers"),
        (lambda: explore(SGD(lr=0.1), surface="banana"), ValueError, "unknown surface 'banana'"),
        (lambda: explore(SGD(lr=0.1), surface="bowl", start=(5, 0)), ValueError, "outside the window of 'bowl'"),
        (lambda: explore(SGD(lr=0.1), start="origin"), ValueError, r"start must be a point \(x, y\)"),
        (lambda: explore(SGD(lr=0.1), steps=0), ValueError, "steps must be a whole number >= 1"),
        (lambda: explore(SGD(lr=0.1), fields=("lr", "beta1")), ValueError, r"hyperparameter\(s\) \['beta1'\]"),
        (lambda: explore(SGD(lr=0.1), fields="lr"), TypeError, "list of hyperparameter names"),
        (lambda: explore(SGD(lr=0.1), steps=5).set_optimizer(1, SGD()), ValueError, "index must be 0 to 0"),
    ],
)
def test_bad_arguments_get_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_lesson_surface_joins_the_picker_and_can_be_chosen_again():
    bowl = get_surface("bowl")
    own = dataclasses.replace(bowl, name="two weights", title="Loss over two weights", start=(1.0, 0.5))
    explorer = explore(SGD(lr=0.1), surface=own, steps=10)
    assert explorer.surface_picker.value == "two weights" and "two weights" in explorer.surface_picker.options
    explorer.surface_picker.value = "ravine"
    assert explorer.surface is get_surface("ravine")
    explorer.surface_picker.value = "two weights"
    assert explorer.surface is own and explorer.start == own.start


# --- the rate-map explorer of lessons 04 and 05 ----------------------------------------------------

from course_lib import rates  # noqa: E402
from course_lib.widgets import RateMapExplorer, explore_rate_map  # noqa: E402


def shown_rates(panel):
    return np.ma.getdata(panel.image.get_array()), np.ma.getmaskarray(panel.image.get_array())


def test_the_condition_number_slider_redraws_both_maps_for_the_new_curvatures():
    explorer = explore_rate_map(32, learner=(0.4, 0.6))
    before = explorer.png
    explorer.controls["condition number"].value = 10**2.5
    assert explorer.condition_number == 316.2 and explorer.curvatures == pytest.approx((4 / 316.2, 4.0))
    for panel, method in zip(explorer.panels, rates.METHODS):
        values, diverged = shown_rates(panel)
        expected = rates.rate_map(method, explorer.curvatures, panel.lrs, panel.momenta)
        np.testing.assert_allclose(values[~diverged], expected[~diverged])
        np.testing.assert_array_equal(diverged, expected >= 1)
        best = rates.best_setting(method, explorer.curvatures)
        np.testing.assert_allclose(panel.best.get_xydata()[0], (best.lr, best.momentum))
        assert panel.title.get_text().startswith(f"{rates.NAMES[method].capitalize()}, κ = 316.2\nr: best {best.rate:.3f}")
    assert explorer.png != before


def test_the_learner_sliders_move_the_point_and_its_rates():
    explorer = explore_rate_map(32, learner=(0.4, 0.6))
    explorer.controls["lr"].value = 0.2
    explorer.controls["momentum"].value = 0.8
    assert explorer.learner == (0.2, 0.8)
    for panel, shown, method in zip(explorer.panels, explorer.shown, rates.METHODS):
        assert tuple(panel.yours.get_xydata()[0]) == (0.2, 0.8)
        assert shown["yours"] == pytest.approx(rates.rate(method, 0.2, 0.8, (1 / 8, 4)))


def test_the_rate_map_picture_carries_a_caption_of_its_state():
    explorer = explore_rate_map(32, learner=(0.4, 0.6))
    png, alt = shown_picture(explorer)
    assert png == explorer.png and png.startswith(b"\x89PNG") and alt == explorer.caption
    assert alt.startswith("condition number=32; curvatures 0.125 to 4; yours: lr=0.4, momentum=0.6; heavy ball: "
                          "best lr=0.7221, momentum=0.4894, rate=0.6996; yours rate=0.8000; Nesterov:")
    assert "yours rate=1.2484" in alt  # past Nesterov's stability limit at this momentum


def test_the_fast_rate_map_redraw_looks_like_a_full_render():
    explorer = explore_rate_map(10, learner=(0.3, 0.5))
    explorer.set_condition_number(500)
    fast = np.asarray(Image.open(io.BytesIO(explorer.png)).convert("RGB"), dtype=float)
    buffer = io.BytesIO()
    explorer.figure.savefig(buffer, format="png")
    full = np.asarray(Image.open(buffer).convert("RGB"), dtype=float)
    assert fast.shape == full.shape
    assert np.mean(np.abs(fast - full) > 8) < 0.002


def test_one_method_alone_and_the_methods_without_the_widgets():
    explorer = RateMapExplorer(100, methods="heavy_ball", learner=(0.5, 0.7))
    assert len(explorer.panels) == 1 and "Nesterov" not in explorer.caption
    explorer.set_learner(0.6, 0.8)
    explorer.set_condition_number(1)
    # At kappa = 1 heavy ball's best is plain gradient descent at lr = 1 / h, which is done in one step.
    assert explorer.shown[0]["best"] == pytest.approx((0.25, 0.0, 0.0))
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


def test_a_point_past_the_usual_axis_stretches_it():
    explorer = explore_rate_map(32, learner=(2.0, 0.5))
    assert explorer.lr_max == pytest.approx(2.2) and explorer.controls["lr"].max == pytest.approx(2.2)
    assert explorer.panels[0].image.get_extent()[1] == pytest.approx(2.2)


@pytest.mark.parametrize("call, message", [
    (lambda: explore_rate_map(0.5), "condition_number must be a number from 1 to 10000"),
    (lambda: explore_rate_map(32, methods=("adam",)), "methods must be one or both of"),
    (lambda: explore_rate_map(32, methods=()), "methods must be one or both of"),
    (lambda: explore_rate_map(32, curvature_max=-1), "curvature_max must be a positive number"),
    (lambda: explore_rate_map(32, learner=(-0.1, 0.5)), r"0 < lr <= 1.05"),
    (lambda: explore_rate_map(32, learner=(0.1, 1.0)), "0 <= momentum < 1"),
    (lambda: explore_rate_map(32).set_condition_number(1e5), "condition_number must be a number from 1"),
])
def test_the_rate_map_explorer_rejects_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
