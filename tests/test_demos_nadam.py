"""course_lib.demos.nadam: lesson 11's momentum schedules and NAdam's corrections on a constant gradient."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.demos import nadam
from course_lib.functions import get_surface
from course_lib.optimizers import Adam, NAdam
from course_lib.training import minimize


@pytest.fixture(scope="module")
def schedules():
    return nadam.momentum_schedules(steps=100_000, marks=(1_000, 10_000))


def torch_gradient_weight(momentum_decay, steps, beta1=0.9):
    """The weight of g_t / D_t in torch's NAdam step, written out from torch/optim/nadam.py."""
    t = np.arange(1, steps + 1)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = np.cumprod(mu)
    return mu, (1 - mu) / (1 - mu_product) + (1 - beta1) * mu_next / (1 - mu_product * mu_next)


def test_the_schedules_are_torchs_formulas(schedules):
    for name, (_, decay) in nadam.LIBRARIES.items():
        mu, weight = torch_gradient_weight(decay, 100_000)
        np.testing.assert_allclose(schedules.momentum[name], mu, rtol=1e-12)
        np.testing.assert_allclose(schedules.gradient_weight[name], weight, rtol=1e-12)
    t = np.arange(1, 100_001)
    np.testing.assert_allclose(schedules.gradient_weight["Adam"], 0.1 / (1 - 0.9**t), rtol=1e-12)


def test_torchs_warm_up_has_the_lessons_numbers(schedules):
    torch_mu, torch_weight = schedules.momentum["torch"], schedules.gradient_weight["torch"]
    # Lesson 11, sections 2 and 7: mu_t at steps 1, 1,000, 2,000, 3,000 and 10,000.
    assert [round(torch_mu[t - 1], 2) for t in (1, 1_000, 2_000, 3_000, 10_000)] == [0.45, 0.52, 0.58, 0.62, 0.81]
    assert round(torch_mu[2_000 - 1], 3) == 0.575 and round(torch_mu[430 - 1], 2) == 0.48
    assert 9_000 < np.argmax(torch_mu > 0.8) + 1 < 10_000
    # The gradient weight: 1.06 at step 1, between 0.55 and 0.6 from step 6 to step 700, then 0.53 at 1,000 and
    # 0.27 at 10,000.
    assert round(torch_weight[0], 2) == 1.06 and torch_weight[4] > 0.6
    assert np.all((torch_weight[5:700] > 0.55) & (torch_weight[5:700] < 0.6))
    assert round(torch_weight[1_000 - 1], 2) == 0.53 and round(torch_weight[10_000 - 1], 2) == 0.27
    assert round(torch_weight[-1], 2) == round(schedules.gradient_weight["optax"][-1], 2) == 0.19
    assert schedules.warm_up == {"torch": 23_958, "Keras": 96, "optax": 1}
    assert round(schedules.momentum["Keras"][100 - 1], 2) == 0.89


def test_keras_and_optax_are_torchs_nadam_with_another_momentum_decay(schedules):
    assert schedules.keras_gap <= 1e-15
    assert schedules.optax_gap <= 1e-12


def test_the_figure_marks_torchs_values():
    schedules = nadam.momentum_schedules(steps=20_000, marks=(1_000, 10_000))
    left, right = plt.gcf().axes
    assert left.get_xscale() == right.get_xscale() == "log" and right.get_yscale() == "log"
    for ax, values in ((left, schedules.momentum["torch"]), (right, schedules.gradient_weight["torch"])):
        marked = [line for line in ax.get_lines() if line.get_label() == "torch at the marked steps"]
        np.testing.assert_allclose(marked[0].get_ydata(), values[[999, 9_999]])
    assert len(right.get_lines()) == 5
    # torch's schedule reaches 99 % of beta1 only after 23,958 steps: beyond these 20,000.
    assert schedules.warm_up["torch"] is None and "beyond the plotted steps" in left.get_title(loc="left")
    table = schedules.table([1_000, 3_000])
    assert "1,000" in table and "0.518" in table and "0.624" in table


@pytest.mark.parametrize("kwargs, name", [
    ({"steps": 1}, "steps"), ({"steps": 100.5}, "steps"), ({"beta1": 1.0}, "beta1"),
    ({"steps": 500, "marks": (1_000,)}, "marks"), ({"marks": (0,)}, "marks"),
])
def test_momentum_schedules_reject_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        nadam.momentum_schedules(**kwargs)


@pytest.fixture(scope="module")
def ravine_runs():
    ravine = get_surface("ravine")
    return [minimize(ravine, optimizer, ravine.start, steps=150)
            for optimizer in (Adam(lr=0.3), NAdam(lr=0.3, momentum_decay=1e4), NAdam(lr=0.3))]


def test_a_constant_gradient_gives_the_lessons_steps(ravine_runs):
    optimizers = [Adam(), NAdam(momentum_decay=1e4), NAdam(), NAdam(momentum_decay=1.0)]
    measured = nadam.corrections(ravine_runs, optimizers, steps=200)
    adam, optax, torch, keras = (measured.step_over_lr[optimizer.label] for optimizer in optimizers)
    np.testing.assert_allclose(adam, 1.0, rtol=1e-7)   # eps = 1e-8 in D_t
    # Lesson 11, section 3: optax's form starts at 1.47 lr, torch's dips to 0.73 lr at step 4.
    assert round(optax[0], 2) == 1.47 and round(torch[3], 2) == 0.73 and np.argmin(torch) == 3
    assert round(keras.min(), 2) == 0.70
    assert measured.settled_at == {optimizers[0].label: 1, optimizers[1].label: 9, optimizers[2].label: 37,
                                   optimizers[3].label: 39}
    # Adam's run has no mu_product: only the two NAdam runs are drawn, torch's P_4 = 0.45^4.
    assert list(measured.mu_product) == [run.label for run in ravine_runs[1:]]
    assert round(measured.mu_product["NAdam(lr=0.3)"][4], 3) == 0.041
    left, right = plt.gcf().axes
    assert len(left.get_lines()) == 2 and left.get_yscale() == "log"
    assert len(right.get_lines()) == 4 and right.get_xscale() == "log"


def test_corrections_reject_bad_input(ravine_runs):
    with pytest.raises(ValueError, match="steps"):
        nadam.corrections(ravine_runs, [NAdam()], steps=0)
    with pytest.raises(ValueError, match="mu_product"):
        nadam.corrections(ravine_runs[:1], [NAdam()])
    with pytest.raises(ValueError, match="runs"):
        nadam.corrections(ravine_runs[0], [NAdam()])
    with pytest.raises(ValueError, match="optimizers"):
        nadam.corrections(ravine_runs, [])
