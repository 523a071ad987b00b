"""The plots draw what they promise: one path per trajectory with its data, labels and legends,
markers at the minima, saddle points and start, log scales where the values need them, diverged
runs marked rather than dropped, and clear errors for bad arguments."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from course_lib import data, plots, rates  # noqa: E402
from course_lib.functions import get_surface  # noqa: E402
from course_lib.models import LinearRegression  # noqa: E402
from course_lib.optimizers import SGD, Adagrad, Adam  # noqa: E402
from course_lib.training import fit, minimize  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def ravine_runs():
    ravine = get_surface("ravine")
    optimizers = [SGD(lr=0.3), SGD(lr=0.05, momentum=0.9), Adam(lr=0.3)]
    return ravine, [minimize(ravine, opt, ravine.start, steps=40) for opt in optimizers]


@pytest.fixture(scope="module")
def fits():
    problem = data.make_linear(n_samples=60, n_features=2, seed=1)
    model = LinearRegression(n_features=2)
    return [fit(model, opt, problem, batch_size=10, epochs=4, seed=0) for opt in (SGD(lr=0.01), SGD(lr=0.1))]


def diverging_run(surface_name="bowl"):
    surface = get_surface(surface_name)
    run = minimize(surface, SGD(lr=5.0), surface.start, steps=40)
    assert run.diverged_at is not None
    return run


def lines_labelled(ax, prefix):
    return [line for line in ax.get_lines() if line.get_label().startswith(prefix)]


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


# --- contours ------------------------------------------------------------------------------


def test_contours_draw_one_path_per_trajectory_with_its_points(ravine_runs):
    surface, runs = ravine_runs
    ax = plots.plot_contours(surface, runs)
    for index, run in enumerate(runs):
        (path,) = lines_labelled(ax, run.label + ":")
        np.testing.assert_array_equal(np.column_stack(path.get_data()), run.points)
        assert to_hex(path.get_color()) == to_hex(plots.PALETTE[index])
    texts = legend_texts(ax)
    for run in runs:
        assert any(text.startswith(run.label) and "final f" in text for text in texts)
    assert {"start", "minimum"} <= set(texts)


def test_contours_mark_start_minima_and_saddles():
    saddle = get_surface("saddle")
    run = minimize(saddle, SGD(lr=0.05), saddle.start, steps=20)
    ax = plots.plot_contours(saddle, [run])
    (start,) = lines_labelled(ax, "start")
    np.testing.assert_allclose(np.column_stack(start.get_data()), [saddle.start])
    (minima,) = lines_labelled(ax, "minimum")
    np.testing.assert_allclose(np.column_stack(minima.get_data()), saddle.minima)
    (saddles,) = lines_labelled(ax, "saddle point")
    np.testing.assert_allclose(np.column_stack(saddles.get_data()), saddle.saddles)


def test_contours_show_the_window_at_equal_scale_with_labelled_axes(ravine_runs):
    surface, runs = ravine_runs
    ax = plots.plot_contours(surface, runs)
    assert ax.get_xlim() == surface.window[0] and ax.get_ylim() == surface.window[1]
    assert ax.get_aspect() == 1.0
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    assert surface.title in ax.get_title(loc="left")


def contour_levels(ax):
    (filled,) = [c for c in ax.collections if hasattr(c, "levels") and c.filled]
    return np.asarray(filled.levels)


def test_contour_levels_are_log_spaced_only_where_heights_span_decades():
    rosenbrock = contour_levels(plots.plot_contours("rosenbrock"))
    heights_above_lowest = rosenbrock[1:] - rosenbrock[0]
    ratios = heights_above_lowest[1:] / heights_above_lowest[:-1]
    np.testing.assert_allclose(ratios, ratios[0])
    assert ratios[0] > 1.5
    bowl_gaps = np.diff(contour_levels(plots.plot_contours("bowl")))
    np.testing.assert_allclose(bowl_gaps, bowl_gaps[0])
    forced = np.diff(contour_levels(plots.plot_contours("rosenbrock", log_levels=False)))
    np.testing.assert_allclose(forced, forced[0])


def test_a_diverged_path_says_where_it_blew_up():
    run = diverging_run()
    ax = plots.plot_contours("bowl", [run])
    assert f"diverged at step {run.diverged_at}" in " ".join(legend_texts(ax))


def test_contours_draw_into_a_given_axes_and_accept_a_single_trajectory(ravine_runs):
    surface, runs = ravine_runs
    figure, (left, right) = plt.subplots(1, 2)
    assert plots.plot_contours(surface, runs[0], ax=left, title="plain SGD") is left
    assert plots.plot_contours(surface, runs[1:], ax=right) is right
    assert left.get_title(loc="left") == "plain SGD"
    assert len(lines_labelled(left, "SGD(lr=0.3)")) == 1
    assert lines_labelled(right, "SGD(lr=0.3)") == []


def test_the_3d_surface_carries_the_paths_and_a_log_height_where_needed():
    rosenbrock = get_surface("rosenbrock")
    runs = [minimize(rosenbrock, opt, rosenbrock.start, steps=30) for opt in (SGD(lr=1e-3), Adam(lr=0.05))]
    ax = plots.plot_surface_3d(rosenbrock, runs, resolution=20)
    assert ax.name == "3d"
    for run in runs:
        (path,) = lines_labelled(ax, run.label + ":")
        np.testing.assert_allclose(path.get_data_3d()[0], run.points[:, 0])
    assert "log10" in ax.get_zlabel()
    assert plots.plot_surface_3d("bowl", resolution=20).get_zlabel() == "f(x, y)"
    with pytest.raises(ValueError, match="projection='3d'"):
        plots.plot_surface_3d("bowl", ax=plt.figure().add_subplot())


# --- losses -------------------------------------------------------------------------------


def test_loss_per_update_has_one_curve_per_run_on_a_log_axis(ravine_runs):
    _, runs = ravine_runs
    ax = plots.plot_loss_per_update(runs)
    for run in runs:
        (curve,) = lines_labelled(ax, run.label)
        np.testing.assert_array_equal(curve.get_ydata(), run.losses)
        np.testing.assert_array_equal(curve.get_xdata(), np.arange(len(run.losses)))
    assert ax.get_yscale() == "log" and "log" in ax.get_ylabel()
    assert ax.get_xlabel() == "update"
    assert [text for text in legend_texts(ax)] == [run.label for run in runs]


def test_loss_axis_stays_linear_when_the_values_do_not_span_decades():
    bowl, saddle = get_surface("bowl"), get_surface("saddle")
    slow = minimize(bowl, SGD(lr=0.01), bowl.start, steps=10)
    assert 0 < slow.losses.min() and slow.losses.max() < 10 * slow.losses.min()
    below_zero = minimize(saddle, SGD(lr=0.05), saddle.start, steps=100)
    assert below_zero.losses.min() < 0
    for run in (slow, below_zero):
        assert plots.plot_loss_per_update(run).get_yscale() == "linear"


def test_a_diverged_run_is_marked_on_the_top_edge_and_does_not_set_the_scale(ravine_runs):
    _, runs = ravine_runs
    blown = diverging_run("ravine")
    ax = plots.plot_loss_per_update([*runs, blown])
    assert f"diverged at update {blown.diverged_at}" in " ".join(legend_texts(ax))
    crosses = [line for line in ax.get_lines() if line.get_marker() == "X"]
    assert len(crosses) == 1
    assert crosses[0].get_xdata()[0] == blown.diverged_at and crosses[0].get_ydata()[0] == pytest.approx(0.97)
    assert ax.get_ylim()[1] < blown.losses.max()


def test_loss_per_update_of_histories_counts_updates_from_one(fits):
    ax = plots.plot_loss_per_update(fits)
    (curve,) = lines_labelled(ax, fits[0].label)
    np.testing.assert_array_equal(curve.get_xdata(), np.arange(1, len(fits[0].update_losses) + 1))


def test_loss_per_epoch_draws_training_and_validation_from_epoch_zero(fits):
    ax = plots.plot_loss_per_epoch(fits)
    for history in fits:
        (train,) = lines_labelled(ax, history.label)
        np.testing.assert_array_equal(train.get_xdata(), np.arange(history.epochs + 1))
        np.testing.assert_array_equal(train.get_ydata(), history.train_losses)
        dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"
                  and np.array_equal(line.get_ydata(), history.val_losses)]
        assert len(dashed) == 1 and dashed[0].get_color() == train.get_color()
    assert {"training (solid)", "validation (dashed)"} <= set(legend_texts(ax))
    assert ax.get_xlabel() == "epoch"


# --- learning-rate sweep ------------------------------------------------------------------


def test_lr_sweep_plots_final_losses_and_marks_diverged_runs():
    bowl = get_surface("bowl")
    rates = (0.01, 0.1, 0.5, 1.5, 5.0)
    runs = {lr: minimize(bowl, SGD(lr=lr), bowl.start, steps=30) for lr in rates}
    diverged = [lr for lr, run in runs.items() if run.diverged_at is not None]
    assert diverged and len(diverged) < len(rates)
    ax = plots.plot_lr_sweep({"SGD": runs})
    (curve,) = lines_labelled(ax, "SGD")
    healthy = [lr for lr in rates if lr not in diverged]
    np.testing.assert_array_equal(curve.get_xdata(), healthy)
    np.testing.assert_array_equal(curve.get_ydata(), [runs[lr].losses[-1] for lr in healthy])
    (crosses,) = [line for line in ax.get_lines() if line.get_marker() == "X" and len(line.get_xdata())]
    np.testing.assert_array_equal(crosses.get_xdata(), diverged)
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "learning rate"
    assert "diverged (on the top edge)" in legend_texts(ax)


def test_lr_sweep_takes_one_series_per_optimizer(fits):
    ax = plots.plot_lr_sweep({"SGD": {0.01: fits[0], 0.1: fits[1]}, "Adam": {0.05: fits[0]}})
    assert legend_texts(ax) == ["SGD", "Adam"]
    assert lines_labelled(ax, "SGD")[0].get_ydata()[1] == fits[1].train_losses[-1]


@pytest.mark.parametrize(
    "sweeps, error, message",
    [
        ([1, 2], TypeError, "dict"),
        ({}, TypeError, "non-empty"),
        ({"SGD": [1]}, TypeError, r"sweeps\['SGD'\]"),
        ({"SGD": {-0.1: None}}, ValueError, "learning rates must be"),
        ({"SGD": {0.1: "run"}}, TypeError, "item 0 is a str"),
    ],
)
def test_lr_sweep_rejects_malformed_sweeps(sweeps, error, message):
    with pytest.raises(error, match=message):
        plots.plot_lr_sweep(sweeps)


# --- internal state -----------------------------------------------------------------------


def test_state_plot_shows_each_coordinate_of_a_buffer(ravine_runs):
    _, runs = ravine_runs
    momentum = runs[1]
    ax = plots.plot_state(momentum, "momentum_buffer")
    x_line, y_line = lines_labelled(ax, momentum.label)
    expected = np.array([state["momentum_buffer"] for state in momentum.states])
    np.testing.assert_array_equal(x_line.get_ydata(), expected[:, 0])
    np.testing.assert_array_equal(y_line.get_ydata(), expected[:, 1])
    np.testing.assert_array_equal(x_line.get_xdata(), [state["step"] for state in momentum.states])
    assert ax.get_ylabel() == "momentum_buffer"
    assert ax.get_yscale() == "linear" and expected.min() < 0


def test_accumulated_squares_get_a_log_axis_despite_starting_at_zero():
    ravine = get_surface("ravine")
    run = minimize(ravine, Adagrad(lr=1.0), ravine.start, steps=30)
    sums = np.array([state["sum"] for state in run.states])
    assert np.all(sums[0] == 0) and sums[1:].max() > 100 * sums[1:].min()
    ax = plots.plot_state(run, "sum")
    assert ax.get_yscale() == "log"
    np.testing.assert_array_equal(lines_labelled(ax, run.label)[1].get_ydata(), sums[:, 1])


def test_state_norm_is_one_line_per_run():
    ravine = get_surface("ravine")
    runs = [minimize(ravine, Adagrad(lr=lr), ravine.start, steps=50) for lr in (0.5, 1.0)]
    ax = plots.plot_state(runs, "sum", norm=True)
    for run in runs:
        (line,) = lines_labelled(ax, run.label)
        expected = [np.linalg.norm(state["sum"]) for state in run.states]
        np.testing.assert_allclose(line.get_ydata(), expected)
    assert ax.get_ylabel().startswith("‖sum‖")


def test_state_plot_names_the_entries_a_trajectory_has(ravine_runs):
    _, runs = ravine_runs
    with pytest.raises(ValueError, match="no state entry 'exp_avg'.*'momentum_buffer'"):
        plots.plot_state(runs[1], "exp_avg")


def test_effective_step_of_plain_gradient_descent_is_the_learning_rate(ravine_runs):
    _, runs = ravine_runs
    ax = plots.plot_effective_step(runs[0])
    x_line, y_line = lines_labelled(ax, runs[0].label)
    np.testing.assert_allclose(x_line.get_ydata(), 0.3)
    np.testing.assert_allclose(y_line.get_ydata(), 0.3)
    assert "|Δθ| / |g|" in ax.get_ylabel()


# --- animation ----------------------------------------------------------------------------


def test_animation_offers_a_player_and_a_still_fallback(ravine_runs):
    surface, runs = ravine_runs
    before = plt.get_fignums()
    animation = plots.animate_trajectories(surface, runs[:2], frames=3, dpi=20)
    assert animation.frames == 3
    bundle = animation._repr_mimebundle_()
    assert "<script" in bundle["text/html"] and "Animation" in bundle["text/html"]
    assert animation.png.startswith(PNG_SIGNATURE)
    assert plt.get_fignums() == before


def test_animation_needs_trajectories_and_sane_settings(ravine_runs):
    surface, runs = ravine_runs
    with pytest.raises(ValueError, match="at least one trajectory"):
        plots.animate_trajectories(surface, [])
    with pytest.raises(ValueError, match="frames must be a whole number >= 2"):
        plots.animate_trajectories(surface, runs, frames=1)


# --- styles and arguments -----------------------------------------------------------------


def test_run_styles_are_distinct_and_repeat_only_with_another_line_style():
    styles = [plots.run_style(i) for i in range(2 * len(plots.PALETTE))]
    first_round = styles[: len(plots.PALETTE)]
    assert len({style["color"] for style in first_round}) == len(plots.PALETTE)
    assert styles[len(plots.PALETTE)]["color"] == styles[0]["color"]
    assert styles[len(plots.PALETTE)]["linestyle"] != styles[0]["linestyle"]
    with pytest.raises(ValueError, match="index"):
        plots.run_style(-1)


def test_bad_arguments_get_clear_errors(ravine_runs):
    surface, runs = ravine_runs
    with pytest.raises(ValueError, match="unknown surface 'banana'"):
        plots.plot_contours("banana")
    with pytest.raises(TypeError, match="surface must be a Surface or the name of one"):
        plots.plot_contours(42)
    with pytest.raises(TypeError, match="item 1 is a ndarray, expected a Trajectory"):
        plots.plot_contours(surface, [runs[0], runs[0].points])
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plots.plot_loss_per_update(runs, ax="left")
    with pytest.raises(TypeError, match="expected a Trajectory or History"):
        plots.plot_loss_per_update(3.0)
    with pytest.raises(ValueError, match="resolution"):
        plots.plot_contours(surface, resolution=2)


def test_look_ahead_figure_marks_where_each_method_takes_its_gradient():
    ravine = get_surface("ravine")
    axes, theta, velocity, look_ahead = plots.plot_look_ahead(ravine, 0.1, 0.9, floor_at=0.0)
    np.testing.assert_allclose(look_ahead, theta + 0.9 * velocity)
    rings = [[tuple(line.get_xydata()[0]) for line in ax.lines if line.get_marker() == "o"
              and line.get_markerfacecolor() == "none"] for ax in axes]
    assert rings == [[tuple(theta)], [tuple(look_ahead)]]
    arrows = [[child for child in ax.texts if getattr(child, "arrow_patch", None) is not None] for ax in axes]
    assert [len(found) for found in arrows] == [2, 2]
    # The gradient step lands where lr times the gradient at the ring takes the look-ahead point.
    landings = [tuple(line.get_xydata()[0]) for ax in axes for line in ax.lines if line.get_marker() == "D"]
    expected = [tuple(look_ahead - 0.1 * ravine.grad(where)) for where in (theta, look_ahead)]
    np.testing.assert_allclose(landings, expected)
    # On this step the path is about to cross the floor: heavy ball's gradient pushes on, Nesterov's brakes.
    titles = [ax.get_title(loc="left") for ax in axes]
    assert "adds to the momentum step" in titles[0] and "brakes the momentum step" in titles[1]
    assert axes[0].get_xlim() == axes[1].get_xlim() and axes[0].get_ylim() == axes[1].get_ylim()
    assert any(list(line.get_ydata()) == [0.0, 0.0] and line.get_linestyle() == "--" for line in axes[0].lines)


# --- the rate maps of lessons 04 and 05 ---------------------------------------------------------------

RAVINE_CURVATURES = (1 / 8, 4.0)


def _shown_grid(panel_or_ax):
    image = panel_or_ax.images[0]
    return np.ma.getdata(image.get_array()), np.ma.getmaskarray(image.get_array())


def _marker(ax, marker):
    (line,) = [line for line in ax.lines if line.get_marker() == marker]
    return tuple(line.get_xydata()[0])


def test_the_rate_map_shows_the_rates_of_its_grid_and_marks_the_best_points():
    ax = plots.plot_rate_map("heavy_ball", RAVINE_CURVATURES, learner=(0.4, 0.6))
    values, diverged = _shown_grid(ax)
    lr_max = 4.2 / 4
    lrs = (np.arange(values.shape[1]) + 0.5) * lr_max / values.shape[1]
    momenta = (np.arange(values.shape[0]) + 0.5) / values.shape[0]
    expected = rates.rate_map("heavy_ball", RAVINE_CURVATURES, lrs, momenta)
    np.testing.assert_allclose(values[~diverged], expected[~diverged])
    np.testing.assert_array_equal(diverged, expected >= 1)
    assert ax.images[0].get_extent() == [0.0, lr_max, 0.0, 1.0]
    best = rates.best_setting("heavy_ball", RAVINE_CURVATURES)
    assert _marker(ax, "*") == pytest.approx((best.lr, best.momentum))
    assert _marker(ax, "s") == pytest.approx((2 / 4.125, 0.0))
    assert _marker(ax, "o") == (0.4, 0.6)
    title = ax.get_title(loc="left")
    assert title == "Heavy ball, κ = 32\nr: best 0.700, gradient descent 0.939, yours 0.800"
    (limit,) = [line for line in ax.lines if line.get_linestyle() == "--"]
    np.testing.assert_allclose(limit.get_xdata(), 2 * (1 + limit.get_ydata()) / 4)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["best setting (Polyak)", "gradient descent's best (μ = 0)", "yours",
                      "stability limit: γ h_max = 2(1 + μ)", "grey: diverges (r ≥ 1)"]
    colorbar = ax.figure.axes[1]
    assert colorbar.get_yticklabels()[3].get_text() == "0.9 (22)"


def test_the_two_maps_side_by_side_share_their_axes_and_one_colour_bar():
    axes = plots.plot_rate_maps(RAVINE_CURVATURES, learner=(0.1, 0.95))
    assert [ax.get_title(loc="left").split("\n")[0] for ax in axes] == ["Heavy ball, κ = 32", "Nesterov, κ = 32"]
    assert axes[0].get_xlim() == axes[1].get_xlim()
    assert len(axes[0].figure.axes) == 3
    nesterov_best = rates.best_setting("nesterov", RAVINE_CURVATURES)
    assert _marker(axes[1], "*") == pytest.approx((nesterov_best.lr, nesterov_best.momentum))
    (limit,) = [line for line in axes[1].lines if line.get_linestyle() == "--"]
    mu = limit.get_ydata()
    np.testing.assert_allclose(limit.get_xdata(), 2 * (1 + mu) / (1 + 2 * mu) / 4)
    assert "yours 0.969" in axes[1].get_title(loc="left")
    named = plots.plot_rate_maps(RAVINE_CURVATURES, learner=(0.4, 0.6), point_name="section 3's run")
    assert named[0].get_title(loc="left").endswith("section 3's run 0.800")
    assert "section 3's run" in [text.get_text() for text in named[0].get_legend().get_texts()]


def test_the_run_is_at_every_point_the_slowest_of_its_directions():
    axes = plots.plot_rate_by_direction("heavy_ball", RAVINE_CURVATURES, learner=(0.4, 0.6), point_name="yours",
                                        names=("along the floor", "across the valley"))
    flat, stiff, whole = (np.ma.filled(ax.images[0].get_array().astype(float), np.inf) for ax in axes)
    np.testing.assert_allclose(whole, np.maximum(flat, stiff))
    assert axes[0].get_title(loc="left") == "h = 0.125 alone (along the floor)\nr: yours 0.800"
    assert axes[1].get_title(loc="left") == "h = 4 alone (across the valley)\nr: yours 0.775"
    assert not any(line.get_marker() == "*" and np.isfinite(line.get_xdata()[0]) for line in axes[0].lines)


def test_one_directions_rate_against_lr_times_curvature():
    ax = plots.plot_rate_by_curvature(0.95, lr=0.1, curvatures=RAVINE_CURVATURES, names=("x", "y"))
    heavy, nesterov = [line for line in ax.lines if line.get_label().endswith("μ = 0.95")]
    a = heavy.get_xdata()
    np.testing.assert_allclose(heavy.get_ydata(), rates.spectral_radius("heavy_ball", a, 0.95, 1.0))
    np.testing.assert_allclose(nesterov.get_ydata(), rates.spectral_radius("nesterov", a, 0.95, 1.0))
    marks = sorted(line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":")
    assert marks == pytest.approx([0.1 / 8, 0.4])


def test_the_rate_check_draws_each_run_and_a_line_at_the_maps_rate():
    checks = [rates.check_rate(method, 0.1, 0.95) for method in rates.METHODS]
    ax = plots.plot_rate_check(checks)
    runs = [line for line in ax.lines if line.get_linestyle() == "-"]
    predictions = [line for line in ax.lines if line.get_linestyle() != "-"]
    for check, run, prediction in zip(checks, runs, predictions):
        np.testing.assert_array_equal(run.get_ydata(), check.errors)
        steps, values = prediction.get_xdata(), prediction.get_ydata()
        assert (steps[0], steps[-1] + 1) == check.fitted
        np.testing.assert_allclose(values[1:] / values[:-1], check.predicted)
        assert np.all(values >= check.errors[steps] * (1 - 1e-12))  # a line over the run's peaks
    assert "measured r = " in runs[0].get_label() and f"{checks[1].predicted:.4f}" in predictions[1].get_label()


def test_a_run_too_short_to_measure_gets_no_rate_line():
    ax = plots.plot_rate_check(rates.check_rate("heavy_ball", 50.0, 0.5))
    assert len(ax.lines) == 1


def test_coordinates_step_lengths_and_the_constant_gradient_buffer():
    ravine = get_surface("ravine")
    run = minimize(ravine, SGD(lr=0.48), ravine.start, steps=30)
    ax = plots.plot_coordinates(run, names=("x (along)", "y (across)"))
    along, across = ax.lines[:2]
    np.testing.assert_array_equal(across.get_ydata(), run.points[:, 1])
    assert along.get_label() == "x (along)"

    ax = plots.plot_step_lengths([run], marks=(11, 21), mark_text="dotted: the rate drops")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.linalg.norm(np.diff(run.points, axis=0), axis=1))
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step (dotted: the rate drops)"
    assert [line.get_xdata()[0] for line in ax.lines[1:]] == [11, 21]

    ax = plots.plot_constant_gradient_buffer([SGD(momentum=0.9), SGD(momentum=0.9, dampening=0.9)], steps=40)
    buffer, limit, damped, damped_limit = ax.lines
    np.testing.assert_allclose(buffer.get_ydata(), (1 - 0.9 ** np.arange(1, 41)) / 0.1)
    assert limit.get_ydata()[0] == pytest.approx(10) and damped_limit.get_ydata()[0] == pytest.approx(1)
    assert damped.get_ydata()[0] == 1.0  # torch's buffer starts at the gradient itself, dampening or not


def test_the_state_of_one_coordinate():
    ravine = get_surface("ravine")
    run = minimize(ravine, SGD(lr=0.1, momentum=0.9), ravine.start, steps=30)
    ax = plots.plot_state(run, "momentum_buffer", coordinate=1)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [state["momentum_buffer"][1] for state in run.states])
    assert ax.get_ylabel() == "momentum_buffer[1]" and ax.lines[1].get_ydata()[0] == 0
    shifted = plots.plot_state(run, "momentum_buffer", coordinate=0, first_style=2)
    assert to_hex(shifted.lines[0].get_color()) == to_hex(plots.PALETTE[2])


@pytest.mark.parametrize("call, error, message", [
    (lambda: plots.plot_rate_map("adam", RAVINE_CURVATURES), ValueError, "method must be one of"),
    (lambda: plots.plot_rate_map("nesterov", RAVINE_CURVATURES, learner=(0.1, 1.0)), ValueError,
     r"learner must be a pair \(lr, momentum\)"),
    (lambda: plots.plot_rate_maps([0, 4]), ValueError, "curvatures must be positive"),
    (lambda: plots.plot_rate_by_direction("heavy_ball", RAVINE_CURVATURES, names=("x",)), ValueError,
     "names must describe each"),
    (lambda: plots.plot_rate_by_curvature(0.9, curvatures=RAVINE_CURVATURES), ValueError, "give lr"),
    (lambda: plots.plot_rate_check([0.5]), TypeError, "RateCheck"),
    (lambda: plots.plot_constant_gradient_buffer([SGD()]), ValueError, "keeps no momentum buffer"),
    (lambda: plots.plot_state(minimize(get_surface("ravine"), SGD(lr=0.1, momentum=0.5), (1, 1), steps=3),
                              "momentum_buffer", coordinate=2), ValueError, "coordinate must be 0 to 1"),
])
def test_rate_and_momentum_plots_reject_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()
