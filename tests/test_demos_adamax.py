"""course_lib.demos.adamax: lesson 10's experiments measure what the lesson's text says they do."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.demos import adam, adamax
from course_lib.functions import get_surface
from course_lib.optimizers import Adam, Adamax
from course_lib.training import minimize

BETA2 = 0.999
SIZES = 10.0 ** np.arange(-12, 0.5, 0.5)


@pytest.fixture(scope="module")
def rosenbrock_and_beale():
    runs = adam.compare_on_surfaces([Adam(lr=0.1), Adamax(lr=0.1)], {"rosenbrock": 300, "beale": 200})
    plt.close("all")
    return runs


def axes_drawn() -> int:
    return len(plt.gcf().axes)


def test_a_rare_feature_takes_adam_past_the_papers_bound_and_adamax_stays_below_lr():
    rare = adamax.rare_feature_wakes_up(wakes_up=1000, active=150, seed=0)
    adam_steps, adamax_steps = rare.active_steps["Adam(lr=1.0)"], rare.active_steps["Adamax(lr=1.0)"]
    assert rare.paper_estimate == pytest.approx(3.16, abs=0.01)
    # Adam's first step is the paper's 3.16 lr times what is left of the correction at step 1001.
    assert adam_steps[0] == pytest.approx(rare.paper_estimate * math.sqrt(1 - BETA2**1001), rel=1e-6)
    assert adam_steps[0] == pytest.approx(2.5, abs=0.05)
    assert adam_steps.max() == pytest.approx(5.1, abs=0.1) and adam_steps.max() > rare.paper_estimate
    assert adamax_steps[0] == pytest.approx(0.1, rel=1e-6) and adamax_steps.max() < 1
    assert adam_steps[:100].sum() == pytest.approx(370, abs=1) and adamax_steps[:100].sum() == pytest.approx(63, abs=1)
    assert axes_drawn() == 1


def test_the_lp_root_rises_to_the_decaying_maximum():
    limit = adamax.lp_norm_limit(powers=(1, 2, 4, 8, 16, 32, 64, 128, 256, 4096), beta2=BETA2, steps=60, seed=3)
    gradients = np.random.default_rng(3).normal(size=60) * np.linspace(2.0, 0.5, 60)
    assert limit.u == pytest.approx(np.max(BETA2 ** np.arange(59, -1, -1) * np.abs(gradients)), rel=1e-12)
    assert np.all(np.diff(limit.roots) > 0) and np.all(limit.roots < limit.u)
    # The norm part is within 0.1 % of u from p = 32 on; the weight factor is still below 0.995 at 256.
    by_power = dict(zip(limit.powers, limit.norm_parts))
    assert by_power[16] > 1.001 * limit.u and abs(by_power[32] / limit.u - 1) < 1e-3
    assert dict(zip(limit.powers, limit.weight_factors))[256] < 0.995
    # Huge powers neither overflow nor underflow.
    assert by_power[4096] == pytest.approx(limit.u, rel=1e-9)
    assert axes_drawn() == 2


def test_the_maximum_needs_no_bias_correction():
    estimates = adamax.constant_gradient_scale(gradient=2.0, steps=3000, lr=2e-3)
    assert estimates.adam_raw[0] == pytest.approx(math.sqrt(1 - BETA2), rel=1e-9)
    assert np.allclose(estimates.adam_corrected, 1.0) and np.allclose(estimates.adamax_u, 1.0)
    assert estimates.adamax_u_corrected[0] == pytest.approx(1000, rel=1e-6)
    assert estimates.first_step == pytest.approx(2e-3, rel=1e-6)
    assert estimates.first_step_u_corrected == pytest.approx(2e-6, rel=1e-6)
    assert np.allclose(adamax.constant_gradient_scale(gradient=-2.0, steps=10).adamax_u, 1.0)
    assert axes_drawn() == 1


def test_the_eps_placements_differ_only_near_eps():
    placements = adamax.eps_placements(sizes=SIZES, eps=1e-8, steps=30, seed=4)
    keras, paper = placements.differences["Keras form vs torch"], placements.differences["paper form vs torch"]
    # torch's and Keras's forms stay within about a percent everywhere; the paper's form, without eps,
    # steps as far for gradients of 1e-12 as for gradients of 1.
    assert keras.max() < 0.015 and paper[0] > 0.99
    # Well above eps the differences fall like eps / |g|: about 1e-2 at 1e-6, 1e-8 at 1.
    at = {size: index for index, size in enumerate(placements.sizes)}
    assert 1e-3 < paper[at[1e-6]] < 1e-1 and paper[-1] < 1e-7 and keras[-1] < 1e-9
    assert placements.zero_gradient_movement == {"torch": 0.0, "Keras": 0.0, "paper": 0.0}
    assert axes_drawn() == 1


def test_adamax_falls_behind_adam_on_both_surfaces(rosenbrock_and_beale):
    for adam_run, adamax_run in rosenbrock_and_beale.values():
        assert adamax_run.losses[-1] > 10 * adam_run.losses[-1]


def test_u_keeps_the_steep_start_so_adamax_crawls_on_the_rosenbrock_floor(rosenbrock_and_beale):
    in_x = adamax.scale_in_x(*rosenbrock_and_beale["rosenbrock"])
    assert in_x.gradient[0] == pytest.approx(215.6) and 1.5 < in_x.gradient[-1] < 2.5
    assert 7 < in_x.adamax_u[-1] / in_x.adam_root[-1] < 9.5
    floor = slice(100, None)
    assert np.all((in_x.step_over_lr["AdaMax"][floor] > 0.005) & (in_x.step_over_lr["AdaMax"][floor] < 0.015))
    shorter = in_x.step_over_lr["Adam"][floor] / in_x.step_over_lr["AdaMax"][floor]
    assert 2.5 < shorter.min() < 3.5 and 9 < shorter.max() < 11
    assert axes_drawn() == 3


def test_the_explorers_claims_hold():
    beale, ravine, rosenbrock = (get_surface(name) for name in ("beale", "ravine", "rosenbrock"))
    # On Beale at lr 1 AdaMax ends far lower than Adam.
    assert (minimize(beale, Adamax(lr=1.0), beale.start, steps=200).losses[-1]
            < 0.1 * minimize(beale, Adam(lr=1.0), beale.start, steps=200).losses[-1])
    # eps = 1 slows AdaMax a lot on the ravine and hardly at all on Rosenbrock's banana.
    for surface, factor in ((ravine, 1e3), (rosenbrock, 1.01)):
        plain = minimize(surface, Adamax(lr=0.1), surface.start, steps=200).losses[-1]
        large_eps = minimize(surface, Adamax(lr=0.1, eps=1.0), surface.start, steps=200).losses[-1]
        assert (large_eps > factor * plain) == (surface is ravine)


@pytest.mark.parametrize("call, message", [
    (lambda: adamax.rare_feature_wakes_up(wakes_up=0), "wakes_up"),
    (lambda: adamax.rare_feature_wakes_up(active=1.5), "active"),
    (lambda: adamax.rare_feature_wakes_up(noise=-0.3), "noise"),
    (lambda: adamax.rare_feature_wakes_up(betas=(0.9,)), "betas"),
    (lambda: adamax.lp_norm_limit(powers=()), "powers"),
    (lambda: adamax.lp_norm_limit(powers=(1, -2)), "powers"),
    (lambda: adamax.lp_norm_limit(drawn=(3,)), "drawn"),
    (lambda: adamax.lp_norm_limit(beta2=1.0), "beta2"),
    (lambda: adamax.lp_norm_limit(steps=0), "steps"),
    (lambda: adamax.constant_gradient_scale(gradient=0.0), "gradient"),
    (lambda: adamax.constant_gradient_scale(gradient=math.inf), "gradient"),
    (lambda: adamax.constant_gradient_scale(lr=0), "lr"),
    (lambda: adamax.eps_placements(sizes=()), "sizes"),
    (lambda: adamax.eps_placements(sizes=(1.0, 0.0)), "sizes"),
    (lambda: adamax.eps_placements(sizes=SIZES, eps=-1e-8), "eps"),
    (lambda: adamax.eps_placements(sizes=SIZES, steps=0), "steps"),
])
def test_bad_settings_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_scale_in_x_needs_an_adam_and_an_adamax_run_of_one_length(rosenbrock_and_beale):
    adam_run, adamax_run = rosenbrock_and_beale["rosenbrock"]
    with pytest.raises(ValueError, match="adamax_run"):
        adamax.scale_in_x(adam_run, adam_run)
    with pytest.raises(ValueError, match="adam_run"):
        adamax.scale_in_x(adamax_run, adamax_run)
    with pytest.raises(ValueError, match="steps"):
        adamax.scale_in_x(adam_run, rosenbrock_and_beale["beale"][1])
