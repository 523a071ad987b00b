"""The figures of the capstone race (plots.plot_accuracy_per_epoch, plot_race, plot_lr_sensitivity,
plot_schedule_effect): one curve per contestant and setting with its data, the contestants' own
colours, blown-up runs left out of means, and clear errors for bad arguments."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from course_lib import comparison, data, models, plots  # noqa: E402
from course_lib.optimizers import SGD, Adam  # noqa: E402

BUDGET = dict(batch_size=128, epochs=2)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def race():
    digits = data.load_digits()
    network = models.MLP(digits.n_features, digits.n_classes, hidden=(8,))
    contestants = {"SGD": SGD(), "Adam": Adam()}
    grids = {"SGD": (0.1, 100.0), "Adam": (0.003, 0.03)}
    sweep = comparison.race(network, contestants, grids, digits, seeds=(0, 1), budget=BUDGET, progress=None)
    scheduled = comparison.race(network, contestants, grids, digits, seeds=(0, 1), budget=BUDGET, progress=None,
                                schedule=lambda peak: comparison.warmup_cosine(peak, 2, 22))
    return sweep, scheduled


def labels(ax):
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_accuracy_per_epoch_lists_the_contestants_best_first_with_their_rates(race):
    sweep, _ = race
    runs = {"SGD": sweep["SGD"][0.1][0], "Adam": sweep["Adam"][0.03][0]}
    ax = plots.plot_accuracy_per_epoch(runs, title="t")
    best_first = sorted(runs, key=lambda name: -runs[name].val_accuracies[-1])
    shown = [text.get_text() for text in ax.get_legend().get_texts()]
    assert [label.split(" (")[0] for label in shown] == best_first
    assert f"Adam (lr=0.03): {runs['Adam'].val_accuracies[-1]:.3f}" in shown
    adam = next(line for line in ax.get_lines() if line.get_label().startswith("Adam"))
    np.testing.assert_array_equal(adam.get_ydata(), runs["Adam"].val_accuracies)
    assert to_hex(adam.get_color()) == to_hex(plots.CONTESTANT_STYLES["Adam"]["color"]) and ax.get_title(loc="left") == "t"


def test_the_race_figure_averages_the_seeds_and_stacks_step_on_gradient(race):
    sweep, _ = race
    winners = {"SGD": sweep["SGD"][0.1], "Adam": sweep["Adam"][0.03]}
    accuracy_ax, loss_ax, cost_ax = plots.plot_race(winners, gradient_seconds=50e-6,
                                                    step_seconds={"SGD": 20e-6, "Adam": 70e-6})
    adam = next(line for line in accuracy_ax.get_lines() if line.get_label() == "Adam (lr=0.03)")
    np.testing.assert_allclose(adam.get_ydata(), comparison.mean_curve(winners["Adam"], "val_accuracies")[1:])
    assert len(loss_ax.get_lines()) == 2 and loss_ax.get_yscale() == "log"
    bars = cost_ax.patches
    assert len(bars) == 4
    assert sorted(bar.get_width() for bar in bars) == pytest.approx([20, 50, 50, 70])
    assert [tick.get_text() for tick in cost_ax.get_yticklabels()] == ["Adam", "SGD"]
    assert accuracy_ax.figure.legends


def test_the_sensitivity_figure_has_a_column_per_family_and_skips_rates_that_blew_up(race):
    sweep, _ = race
    assert any(run.diverged for run in sweep["SGD"][100.0])
    axes = plots.plot_lr_sensitivity(sweep, {"plain": ("SGD",), "adaptive": ("Adam",)})
    assert axes.shape == (2, 2)
    sgd_bars = axes[1, 0].containers[0]
    np.testing.assert_allclose(sgd_bars.lines[0].get_xdata(), [0.1])
    adam_means = axes[1, 1].containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(adam_means, [comparison.final(sweep["Adam"][lr], "val_accuracies").mean()
                                            for lr in (0.003, 0.03)])
    assert "first seed" in axes[0, 0].get_title(loc="left")


def test_the_schedule_figure_sets_each_peak_constant_against_scheduled(race):
    sweep, scheduled = race
    rate_ax, sgd_ax, adam_ax = plots.plot_schedule_effect(sweep, scheduled)
    assert labels(rate_ax) == ["constant, lr 0.1", "warm-up + cosine, lr 0.1", "constant, lr 100",
                               "warm-up + cosine, lr 100"]
    np.testing.assert_allclose(rate_ax.get_lines()[1].get_ydata(), scheduled["SGD"][0.1][0].update_lrs)
    constant_blew_up = any(run.diverged for run in sweep["SGD"][100.0])
    assert ("constant, lr 100" in labels(sgd_ax)) is not constant_blew_up
    assert labels(adam_ax) == ["constant, lr 0.003", "warm-up + cosine, lr 0.003", "constant, lr 0.03",
                               "warm-up + cosine, lr 0.03"]
    dashed = [line for line in adam_ax.get_lines() if line.get_linestyle() == "--"]
    np.testing.assert_allclose(dashed[1].get_ydata(), comparison.mean_curve(scheduled["Adam"][0.03], "val_losses"))


@pytest.mark.parametrize("draw", [
    lambda: plots.plot_accuracy_per_epoch([]),
    lambda: plots.plot_race({}, gradient_seconds=1.0, step_seconds={}),
    lambda: plots.plot_lr_sensitivity({}, {"f": ("SGD",)}),
    lambda: plots.plot_schedule_effect({}, {}),
])
def test_empty_or_wrong_inputs_are_refused(draw):
    with pytest.raises(TypeError, match="non-empty dict"):
        draw()
