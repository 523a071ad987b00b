"""course_lib.demos.amsgrad: lesson 12's counterexample, the three AMSGrad forms and the race on Beale."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.demos import amsgrad
from course_lib.optimizers import SGD, Adam, ReddiAMSGrad

C = 3.0
PAPER_BETAS = (0.0, 1 / (1 + C**2))
PLAYERS = {"SGD": SGD(), "Adam": Adam(betas=PAPER_BETAS), "AMSGrad": Adam(betas=PAPER_BETAS, amsgrad=True)}


@pytest.fixture(scope="module")
def games():
    return amsgrad.counterexample(PLAYERS, C=C, rounds=3000, lr=0.5)


def test_adam_drifts_to_the_worst_point_and_amsgrad_to_the_best(games):
    last_cycle = {name: game.points[-3:] for name, game in games.items()}
    assert np.all(last_cycle["Adam"] > 0.98)
    assert np.all(last_cycle["AMSGrad"] < -0.99) and np.all(last_cycle["SGD"] < -0.98)
    # Adam's average regret levels off at (2C - 4)/3, that of a player sitting at +1; the others' keep falling.
    assert games["Adam"].average_regret[-1] == pytest.approx((2 * C - 4) / 3, abs=0.01)
    for name in ("AMSGrad", "SGD"):
        regret = games[name].average_regret
        assert regret[-1] < 0.05 and regret[-1] < 0.7 * regret[999]


def test_the_game_shows_gradient_c_every_third_round_and_projects(games):
    game = games["Adam"]
    np.testing.assert_array_equal(game.gradients[:6], [C, -1, -1, C, -1, -1])
    assert game.points[0] == 0.0 and np.all(np.abs(game.points) <= 1.0) and len(game.states) == 3000


def test_the_counterexample_figure():
    amsgrad.counterexample(PLAYERS, C=C, rounds=30, lr=0.5)
    left, right = plt.gcf().axes
    assert [line.get_label() for line in left.get_lines()] == list(PLAYERS)
    assert right.get_yscale() == "log" and "(2C - 4)/3 = 0.67" in right.get_lines()[-1].get_label()
    # SGD is the grey dashed baseline, Adam and AMSGrad take the lesson's first two colours.
    assert left.get_lines()[0].get_linestyle() == "--" and left.get_lines()[1].get_color() == "#0072B2"


def test_adam_forgets_the_large_gradient_and_amsgrad_keeps_it(games):
    measured = amsgrad.forgetting(games, first_rounds=30)
    assert list(measured.denominators) == ["Adam", "AMSGrad"]
    # Lesson 12, section 2: Adam's denominators 2.9, 1.3, 1.04 over a late cycle, steps -1.05, +0.76, +0.97.
    np.testing.assert_allclose(measured.denominators["Adam"][-3:], [2.86, 1.31, 1.035], atol=0.01)
    np.testing.assert_allclose(measured.late_cycle["Adam"], [-1.05, 0.76, 0.97], atol=0.01)
    assert measured.net_per_cycle["Adam"] == pytest.approx(0.68, abs=0.005)
    np.testing.assert_allclose(measured.denominators["AMSGrad"][-3:], 2.865, atol=0.01)
    assert measured.net_per_cycle["AMSGrad"] == pytest.approx(-0.35, abs=0.005)
    # torch's correction after the maximum lets AMSGrad's denominator drop a little after round 1.
    assert measured.denominators["AMSGrad"][0] == pytest.approx(3.0) and measured.denominators["AMSGrad"][1] < 2.9
    left, right = plt.gcf().axes
    curves = [line for line in left.get_lines() if not line.get_label().startswith("_")]
    assert len(curves) == 2 and len(right.patches) == 8


@pytest.mark.parametrize("kwargs, name", [
    ({"C": 2.0}, "C"), ({"C": 1.0}, "C"), ({"rounds": 2}, "rounds"), ({"lr": 0.0}, "lr"), ({"lr": -0.5}, "lr"),
    ({"start": 1.5}, "start"),
])
def test_play_rejects_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        amsgrad.play(Adam(betas=PAPER_BETAS), **kwargs)


def test_counterexample_and_forgetting_reject_bad_input(games):
    with pytest.raises(ValueError, match="players"):
        amsgrad.counterexample({})
    with pytest.raises(ValueError, match="first_rounds"):
        amsgrad.forgetting(games, first_rounds=0)
    with pytest.raises(ValueError, match="first_rounds"):
        amsgrad.forgetting(games, first_rounds=3001)
    with pytest.raises(ValueError, match="adaptive"):
        amsgrad.forgetting({"SGD": games["SGD"]})


def test_the_three_forms_take_the_lessons_steps():
    forms = amsgrad.three_forms(burst=10.0, burst_steps=10, steady=1.0, steady_steps=3000)
    assert forms.torch_error < 1e-10 and forms.paper_error < 1e-10
    steps = forms.step_over_lr
    # torch's maximum is the current v here: its steps are Adam's, 0.3 lr at step 100, near lr at 3,000.
    np.testing.assert_array_equal(forms.denominators["torch"], forms.adam_denominator)
    assert round(steps["torch"][99], 1) == 0.3 and steps["torch"][-1] > 0.95
    # optax keeps the corrected burst: 0.1 lr from step 100 on; the paper's form starts at 3.16 lr, peaks at 6.5 lr.
    np.testing.assert_allclose(steps["optax"][99:], 0.1, rtol=1e-3)
    assert round(steps["paper"][0], 2) == 3.16 and round(steps["paper"].max(), 1) == 6.5
    assert np.argmax(steps["paper"]) == 9
    # optax's denominator is never smaller than torch's.
    assert np.all(forms.denominators["optax"] >= forms.denominators["torch"])
    left, right = plt.gcf().axes
    assert len(left.get_lines()) == 4 and len(right.get_lines()) == 3
    assert left.get_yscale() == right.get_yscale() == "log" and "6.5 γ" in right.get_title(loc="left")


@pytest.mark.parametrize("kwargs, name", [
    ({"burst": 0.0}, "burst"), ({"steady": -1.0}, "steady"), ({"burst_steps": 0}, "burst_steps"),
    ({"steady_steps": 1.5}, "steady_steps"), ({"lr": 0.0}, "lr"), ({"betas": (1.0, 0.9)}, "betas"),
    ({"eps": -1.0}, "eps"),
])
def test_three_forms_reject_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        amsgrad.three_forms(**kwargs)


def test_on_beale_amsgrad_keeps_its_peak_and_lags_adam():
    adam, torch, paper = amsgrad.surface_race(
        "beale", [Adam(lr=0.1), Adam(lr=0.1, amsgrad=True), ReddiAMSGrad(lr=0.1)], steps=300)
    assert torch.losses[-1] > adam.losses[-1]
    y_max = [state["max_exp_avg_sq"][1] for state in torch.states]
    assert y_max[-1] == max(y_max)
    adam_y = [state["exp_avg_sq"][1] for state in adam.states]
    assert adam_y[-1] < 0.8 * max(adam_y)
    # The paper's form has no corrections: its first step is 0.1 g / sqrt(0.001 g^2) = 3.16 lr per coordinate.
    np.testing.assert_allclose(np.abs(paper.points[1] - paper.points[0]) / 0.1, np.sqrt(10), rtol=1e-6)
    assert len(plt.gcf().axes) == 3
    assert len(plt.gcf().axes[2].get_lines()) == 5


def test_surface_race_rejects_bad_input():
    with pytest.raises(ValueError, match="optimizers"):
        amsgrad.surface_race("beale", [])
    with pytest.raises(ValueError, match="steps"):
        amsgrad.surface_race("beale", [Adam(lr=0.1)], steps=0)
