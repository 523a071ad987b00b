"""course_lib.demos.lr_schedules: lesson 13's experiments give the numbers the lesson states."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import schedules, training
from course_lib.data import load_diabetes, load_digits
from course_lib.demos import lr_schedules
from course_lib.functions import get_surface
from course_lib.models import MLP, LinearRegression
from course_lib.optimizers import SGD


def test_the_gallery_draws_each_schedule_on_shared_axes():
    gallery = {"cosine": schedules.CosineAnnealingLR(0.1, T_max=100), "step": schedules.StepLR(0.1, step_size=30),
               "one-cycle": schedules.OneCycleLR(0.1, total_steps=100)}
    rates = lr_schedules.plot_gallery(gallery, updates=100, columns=2)
    assert rates["cosine"][0] == pytest.approx(0.1) and rates["step"][30] == pytest.approx(0.01)
    visible = [ax for ax in plt.gcf().axes if ax.get_visible()]
    assert len(visible) == 3 and len(plt.gcf().axes) == 4


def test_a_decaying_rate_gets_both_speed_and_precision_on_the_diabetes_data():
    diabetes = load_diabetes()
    regression = LinearRegression(diabetes.n_features)
    setting = dict(batch_size=16, epochs=6, seed=0)
    runs = {"constant 0.1": training.fit(regression, SGD(lr=0.1), diabetes, **setting),
            "cosine": training.fit(regression, SGD(lr=0.1), diabetes, **setting,
                                   schedule=schedules.CosineAnnealingLR(0.1, T_max=6 * 21))}
    rate_ax, loss_ax = lr_schedules.plot_rates_and_losses(runs, optimum=0.0)
    assert [line.get_label() for line in rate_ax.get_lines()] == ["constant 0.1", "cosine"]
    assert runs["cosine"].train_losses[-1] < runs["constant 0.1"].train_losses[-1]
    assert loss_ax.get_yscale() == "log"


def test_noisy_race_settles_with_a_decaying_rate_and_not_with_a_constant_one():
    ravine = get_surface("ravine")
    races = {"constant 0.4": schedules.LinearLR(0.4, start_factor=1.0, total_iters=0),
             "cosine from 0.4": schedules.CosineAnnealingLR(0.4, T_max=300)}
    means = lr_schedules.noisy_race(ravine, SGD(), races, steps=300, noise=0.5, repeats=20, shown=("cosine from 0.4",))
    assert means["cosine from 0.4"][-1] < 0.2 * means["constant 0.4"][-1]
    with pytest.raises(ValueError, match="shown"):
        lr_schedules.noisy_race(ravine, SGD(), races, steps=10, noise=0.5, repeats=2, shown=("missing",))


def test_the_range_test_finds_its_lowest_loss_between_its_ends():
    digits = load_digits()
    network = MLP(digits.n_features, digits.n_classes, hidden=(16,))
    result = lr_schedules.range_test(network, SGD(momentum=0.9), digits, lowest=1e-4, highest=10.0,
                                     epochs=1, batch_size=32)
    assert result.lrs[0] == pytest.approx(1e-4) and np.all(np.diff(result.lrs) > 0)
    assert 1e-3 < result.lowest_at < 10.0 and result.smoothed.shape == result.losses.shape
    # The bias-corrected average starts at the first loss itself.
    assert result.smoothed[0] == pytest.approx(result.losses[0])


@pytest.mark.parametrize("kwargs, message", [
    ({"lowest": 1.0, "highest": 0.1}, "lowest < highest"), ({"smoothing": 1.0}, "smoothing"), ({"epochs": 0}, "epochs"),
])
def test_the_range_test_rejects_bad_settings(kwargs, message):
    digits = load_digits()
    settings = {"lowest": 1e-4, "highest": 10.0, "epochs": 1, "batch_size": 32} | kwargs
    with pytest.raises(ValueError, match=message):
        lr_schedules.range_test(MLP(digits.n_features, digits.n_classes, hidden=(4,)), SGD(), digits, **settings)


def test_radam_starts_adaptive_steps_at_update_5_and_reaches_most_of_its_rate_later():
    factor, first = lr_schedules.radam_rectification(0.999, 6000)
    # Liu et al.'s threshold: the length of the approximated average exceeds 4 from the 5th update on
    # (n_t = t for small t, to first order).
    assert first == 5 and np.all(factor[:4] == 0) and 0 < factor[4] < 0.1
    assert 0.7 < factor[1999] < 0.9 and np.all(np.diff(factor[4:]) > 0)
    with pytest.raises(ValueError, match="beta2"):
        lr_schedules.radam_rectification(1.0, 10)


def test_adam_on_noise_moves_every_coordinate_by_lr_at_first_and_far_less_later():
    early = lr_schedules.adam_on_noise(updates=300, coordinates=2000, horizon=3000)
    assert early.median_step[0] == pytest.approx(1.0, abs=1e-6)
    assert 4 < early.median_step[0] / early.median_step[-1] < 9
    assert len(plt.gcf().axes) == 2
