"""The schedule explorer: every schedule on the menu is the course_lib.schedules object it names,
controls rerun and redraw, unused knobs are greyed out, a bad combination is explained and can be
fixed by another control, the runs are what training.minimize computes, and bad arguments get clear
errors. No browser needed."""

import base64
import dataclasses
import html
import io
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from course_lib import schedules  # noqa: E402
from course_lib.functions import get_surface  # noqa: E402
from course_lib.optimizers import SGD, Adam  # noqa: E402
from course_lib.schedule_widgets import (KNOBS, REPEATS, SCHEDULES, ScheduleExplorer, Settings,  # noqa: E402
                                         build_schedule, explore_schedules, mean_losses, noisy_runs,
                                         noisy_surface)
from course_lib.training import minimize  # noqa: E402


def shown_picture(explorer):
    match = re.fullmatch(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)">', explorer.picture.value)
    assert match, explorer.picture.value[:80]
    return base64.b64decode(match.group(1)), html.unescape(match.group(2))


@pytest.fixture(scope="module")
def explorer():
    return explore_schedules("warm-up + cosine", lr=0.3, steps=120, warmup=10, noise=0.4)


EXPECTED = {
    "constant": lambda: schedules.LinearLR(0.3, start_factor=1.0, total_iters=0),
    "step decay": lambda: schedules.StepLR(0.3, step_size=40, gamma=0.5),
    "exponential": lambda: schedules.ExponentialLR(0.3, gamma=0.5),
    "cosine": lambda: schedules.CosineAnnealingLR(0.3, T_max=120, eta_min=0.03),
    "cosine, warm restarts": lambda: schedules.CosineAnnealingWarmRestarts(0.3, T_0=40, T_mult=2, eta_min=0.03),
    "linear warm-up": lambda: schedules.LinearLR(0.3, start_factor=1 / 10, total_iters=9),
    "warm-up + cosine": lambda: schedules.SequentialLR(
        (schedules.LinearLR(0.3, start_factor=1 / 10, total_iters=9),
         schedules.CosineAnnealingLR(0.3, T_max=110, eta_min=0.03)), milestones=(9,)),
    "one-cycle": lambda: schedules.OneCycleLR(0.3, total_steps=120, pct_start=10 / 120),
    "inverse sqrt": lambda: schedules.InverseSqrtLR(0.3, warmup=10),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_every_schedule_on_the_menu_is_the_course_lib_schedule_it_names(name):
    settings = Settings(schedule=name, lr=0.3, steps=120, warmup=10, floor=0.1, gamma=0.5, period=40, T_mult=2)
    ours, expected = build_schedule(settings), EXPECTED[name]()
    assert [ours(t) for t in range(1, 121)] == pytest.approx([expected(t) for t in range(1, 121)], rel=1e-12)


def test_warmup_cosine_peaks_on_update_warmup_and_ends_on_the_floor():
    schedule = build_schedule(Settings(schedule="warm-up + cosine", lr=0.3, steps=50, warmup=5, floor=0.2))
    assert schedule(1) == pytest.approx(0.06) and schedule(5) == pytest.approx(0.3)
    assert schedule(50) == pytest.approx(0.06) and schedule(6) < 0.3


def test_the_picture_shows_the_settings_and_both_curves(explorer):
    png, alt = shown_picture(explorer)
    assert png == explorer.png and Image.open(io.BytesIO(png)).size[0] > 600
    assert alt == explorer.caption
    assert alt.startswith("schedule=warm-up + cosine; lr=0.3; steps=120; warmup=10; floor=0; noise=0.4; surface=ravine")
    assert len(explorer.lrs["schedule"]) == 120 and np.all(explorer.lrs["constant"] == 0.3)
    assert explorer.mean_losses["schedule"].shape == (121,)
    assert explorer.mean_losses["schedule"][-1] < explorer.mean_losses["constant"][-1]


def test_a_control_reruns_and_redraws_and_greys_out_what_the_schedule_does_not_use(explorer):
    before = explorer.png
    explorer.controls["schedule"].value = "step decay"
    assert explorer.settings.schedule == "step decay" and explorer.png != before
    assert isinstance(explorer.schedule, schedules.StepLR)
    assert {k for k in KNOBS if not explorer.controls[k].disabled} == {"period", "gamma"}
    explorer.controls["gamma"].value = 0.5
    assert explorer.schedule.gamma == 0.5 and "gamma=0.5" in shown_picture(explorer)[1]
    explorer.controls["lr"].value = 0.1
    assert explorer.settings.lr == 0.1 and explorer.lrs["constant"][0] == 0.1
    explorer.controls["schedule"].value = "warm-up + cosine"
    assert {k for k in KNOBS if not explorer.controls[k].disabled} == {"warmup", "floor"}


def test_a_bad_combination_is_explained_and_another_control_can_fix_it():
    explorer = explore_schedules("cosine", lr=0.3, steps=100, warmup=0)
    shown = explorer.png
    explorer.controls["schedule"].value = "one-cycle"  # needs a rise of at least two updates
    assert "warmup &gt;= 2" in explorer.problem.value and explorer.png == shown
    assert explorer.settings.schedule == "cosine" and not explorer.controls["warmup"].disabled
    explorer.controls["warmup"].value = 30
    assert explorer.settings.schedule == "one-cycle" and explorer.settings.warmup == 30
    assert explorer.problem.value == "" and explorer.png != shown


def test_the_surface_menu_redraws_the_map():
    explorer = explore_schedules("cosine", lr=0.001, steps=50, noise=0.1)
    explorer.controls["surface"].value = "rosenbrock"
    assert explorer.settings.surface == "rosenbrock" and explorer.runs[0].points[0].tolist() == list(
        get_surface("rosenbrock").start)


def test_the_noisy_runs_are_minimize_on_a_noisy_surface_with_the_same_noise_for_both():
    explorer = explore_schedules("cosine", optimizer=SGD(momentum=0.5), lr=0.2, steps=40, noise=0.3, seed=7)
    surface = get_surface("ravine")
    # Batched runs draw the noise of all REPEATS runs at once, so compare with one run of noise of that shape.
    rng = np.random.default_rng(7)
    draws = rng.standard_normal((40, REPEATS, 2))[:, 0]
    for index, schedule in enumerate((schedules.LinearLR(0.2, start_factor=1.0, total_iters=0), explorer.schedule)):
        replay = iter(draws)
        noisy = dataclasses.replace(surface, grad=lambda p: surface.grad(p) + 0.3 * next(replay))
        expected = minimize(noisy, SGD(momentum=0.5), surface.start, steps=40, schedule=schedule)
        np.testing.assert_allclose(explorer.runs[index].points, expected.points, rtol=1e-12)
        np.testing.assert_allclose(explorer.runs[index].losses, expected.losses, rtol=1e-12)


def test_noisy_surface_gives_the_same_noise_for_the_same_seed_and_leaves_the_surface_alone():
    surface = get_surface("bowl")
    one, two, other = (noisy_surface(surface, 0.5, seed) for seed in (3, 3, 4))
    point = np.array([1.0, -1.0])
    assert np.array_equal(one.grad(point), two.grad(point)) and not np.array_equal(one.grad(point), other.grad(point))
    assert np.array_equal(surface.grad(point), [2.0, -2.0])
    assert np.array_equal(noisy_surface(surface, 0.0, 1).grad(point), surface.grad(point))


def test_a_diverging_run_is_said_to_diverge():
    explorer = explore_schedules("constant", lr=2.0, steps=30, noise=0.0)
    assert "constant diverged" in explorer.caption and "schedule diverged" in explorer.caption
    assert explorer.runs[0].diverged_at is not None


def test_adam_works_in_the_explorer_too():
    explorer = explore_schedules("linear warm-up", optimizer=Adam(), lr=0.1, steps=60, warmup=20)
    assert np.isfinite(explorer.mean_losses["schedule"]).all()


@pytest.mark.parametrize("arguments, error", [
    (dict(schedule="cosine annealing"), ValueError), (dict(lr=0.0), ValueError), (dict(steps=1), ValueError),
    (dict(steps=50, warmup=50), ValueError), (dict(floor=1.5), ValueError), (dict(gamma=0.0), ValueError),
    (dict(noise=-1.0), ValueError), (dict(surface="moon"), ValueError), (dict(period=0), ValueError),
    (dict(schedule="inverse sqrt", warmup=0), ValueError), (dict(momentum=0.9), TypeError),
])
def test_bad_arguments_get_clear_errors(arguments, error):
    with pytest.raises(error):
        explore_schedules(**arguments)


def test_set_refuses_unknown_settings_and_bad_values_without_changing_anything(explorer):
    settings, png = explorer.settings, explorer.png
    with pytest.raises(ValueError, match="unknown settings"):
        explorer.set(speed=3)
    with pytest.raises(ValueError, match="warmup"):
        explorer.set(schedule="one-cycle", warmup=1)
    assert explorer.settings == settings and explorer.png == png


def test_an_optimizer_without_a_learning_rate_is_refused():
    with pytest.raises(TypeError, match="optimizer"):
        ScheduleExplorer(Settings(), optimizer="SGD")


def test_noisy_runs_are_independent_runs_that_share_the_noise_of_a_seed():
    surface = get_surface("ravine")
    decay = schedules.CosineAnnealingLR(0.3, T_max=50)
    runs = noisy_runs(surface, Adam(), decay, steps=50, noise=0.5, seed=3, repeats=5, label="cosine")
    assert len(runs) == 5 and all(r.label == "cosine" and r.steps == 50 for r in runs)
    assert runs[0].lrs.tolist() == [decay(t) for t in range(1, 51)]
    assert not np.array_equal(runs[0].points, runs[1].points)
    again = noisy_runs(surface, Adam(), decay, steps=50, noise=0.5, seed=3, repeats=5)
    assert all(np.array_equal(a.points, b.points) for a, b in zip(runs, again))
    draws = np.random.default_rng(3).standard_normal((50, 5, 2))
    np.testing.assert_allclose(runs[2].grads, surface.grad(runs[2].points[:-1]) + 0.5 * draws[:, 2], rtol=1e-12)
    np.testing.assert_allclose(mean_losses(runs), np.mean([r.losses for r in runs], axis=0))


def test_a_diverged_noisy_run_is_cut_and_its_mean_loss_is_inf_from_there():
    runs = noisy_runs(get_surface("ravine"), SGD(), lambda t: 0.6, steps=80, noise=0.1, repeats=3)
    assert all(r.diverged_at is not None and r.steps < 80 for r in runs)
    assert np.isinf(mean_losses(runs)[-1]) and np.isfinite(mean_losses(runs)[0])


@pytest.mark.parametrize("arguments, error", [(dict(steps=0), ValueError), (dict(noise=-0.1), ValueError),
                                              (dict(repeats=0), ValueError), (dict(optimizer="SGD"), TypeError),
                                              (dict(schedule=0.1), TypeError)])
def test_noisy_runs_refuses_bad_arguments(arguments, error):
    given = dict(surface=get_surface("bowl"), optimizer=SGD(), schedule=lambda t: 0.1, steps=5, noise=0.1)
    given.update(arguments)
    with pytest.raises(error):
        noisy_runs(given.pop("surface"), given.pop("optimizer"), given.pop("schedule"), **given)
