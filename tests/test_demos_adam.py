"""course_lib.demos.adam: lesson 09's experiments measure what the lesson's text says they do."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import checks
from course_lib.demos import adam
from course_lib.functions import get_surface
from course_lib.optimizers import Adam, RMSprop
from course_lib.training import minimize

BETA1, BETA2 = 0.9, 0.999


@pytest.fixture(scope="module")
def variants():
    return {
        "both corrections (torch)": checks.reference_update("adam_update"),
        "no correction at all": checks.mistake_update("adam_update", "adam-no-bias-correction"),
        "first-moment correction omitted": checks.mistake_update("adam_update", "adam-no-first-correction"),
        "second-moment correction omitted": checks.mistake_update("adam_update", "adam-no-second-correction"),
    }


@pytest.fixture(scope="module")
def rosenbrock_and_ravine():
    runs = adam.compare_on_surfaces([RMSprop(lr=0.1), Adam(lr=0.1)], {"rosenbrock": 300, "ravine": 150})
    assert len(plt.gcf().axes) == 4
    plt.close("all")
    return runs


def axes_drawn() -> int:
    return len(plt.gcf().axes)


def test_rmsprop_starts_at_ten_learning_rates_and_adam_at_one():
    why = adam.rmsprop_against_adam(lr=0.3, steps=150)
    rmsprop, adam_steps = why.step_over_lr["RMSprop(lr=0.3)"], why.step_over_lr["Adam(lr=0.3)"]
    assert rmsprop[0] == pytest.approx(10.0, rel=1e-6) and adam_steps[0] == pytest.approx(1.0, rel=1e-6)
    # After 150 steps RMSProp still moves about one learning rate per step; Adam has all but stopped.
    assert np.all((rmsprop[-20:] > 0.9) & (rmsprop[-20:] < 1.1))
    assert np.all(adam_steps[-20:] < 0.01)
    assert axes_drawn() == 2


def test_the_first_step_without_corrections_is_off_by_3_16_0_1_or_31_6(variants):
    effects = adam.bias_correction_over_time(variants, steps=3000)
    first = {label: lengths[0] for label, lengths in effects.step_over_lr.items()}
    assert first == pytest.approx({"both corrections (torch)": 1.0, "no correction at all": math.sqrt(10),
                                   "first-moment correction omitted": 0.1,
                                   "second-moment correction omitted": math.sqrt(1000)}, rel=1e-6)
    assert np.allclose(effects.step_over_lr["both corrections (torch)"], 1.0)
    # Without any correction the step grows to about 6.6 lr around step 12 and is still 1.026 lr at step 3000.
    uncorrected = effects.step_over_lr["no correction at all"]
    assert uncorrected.argmax() + 1 == 12 and uncorrected.max() == pytest.approx(6.57, abs=0.01)
    assert uncorrected[-1] == pytest.approx(1.026, abs=0.001)
    # The first factor is below 1.01 from step 44 on; the second is still 1.26 at step 1000.
    assert effects.first_factor[42] > 1.01 > effects.first_factor[43]
    assert effects.second_factor[999] == pytest.approx(1.26, abs=0.005)
    assert axes_drawn() == 2


def test_a_long_memory_overshoots_higher_and_longer_after_the_gradients_jump():
    jump = adam.gradient_scale_jump(beta2s=(0.99, 0.999), before=0.01, after=1.0, jump_at=500, steps=1500, seed=0)
    assert jump.longest_after_jump[0.999] == pytest.approx(4.0, abs=0.1)
    assert jump.longest_after_jump[0.99] == pytest.approx(2.05, abs=0.05)
    # "for hundreds of steps": long steps last about six times longer with the longer memory.
    assert np.sum(jump.step_over_lr[0.999][500:] > 1.5) > 150 > 50 > np.sum(jump.step_over_lr[0.99][500:] > 1.5)
    # Before the jump both track the gradients' size, the shorter memory with more wobble.
    before = {beta2: tracking[100:500] for beta2, tracking in jump.tracking.items()}
    assert all(abs(values.mean() - 1) < 0.05 for values in before.values())
    assert before[0.99].std() > 1.5 * before[0.999].std()
    # After it, sqrt(v_hat) lags for about 1/(1 - beta2) steps.
    assert jump.tracking[0.99][699] > 0.9 and jump.tracking[0.999][699] < 0.65
    assert axes_drawn() == 2


def largest_preconditioned_curvature(run, step: int, lr: float = 0.1) -> float:
    """The largest |eigenvalue| of diag(lr / (sqrt(v) + eps)) times Rosenbrock's Hessian after ``step`` steps."""
    x, y = run.points[step]
    hessian = np.array([[2 - 400 * (y - x * x) + 800 * x * x, -400 * x], [-400 * x, 200.0]])
    scaling = np.diag(lr / (np.sqrt(run.states[step]["square_avg"]) + 1e-8))
    return float(np.abs(np.linalg.eigvals(scaling @ hessian)).max())


def test_rmsprop_leaves_the_rosenbrock_floor_near_step_280_and_wins_on_the_ravine(rosenbrock_and_ravine):
    rmsprop, adam_run = rosenbrock_and_ravine["rosenbrock"]
    # Faster along the floor than Adam until the jump, then the loss rises more than a hundredfold.
    assert np.all(rmsprop.losses[60:275] < adam_run.losses[60:275])
    late = rmsprop.losses[250:]
    assert 276 <= 250 + late.argmax() <= 285 and late.max() > 100 * late[:late.argmax()].min()
    # Its steps were a few hundredths of lr just before, not about lr.
    steps = np.abs(np.diff(rmsprop.points, axis=0)).max(axis=1) / 0.1
    assert np.all(steps[250:270] < 0.1) and steps[270:285].max() > 4
    # The cause: as v forgets the steep start, the preconditioned curvature lr / sqrt(v) * Hessian passes
    # the stability limit 2 well before the jump.
    assert largest_preconditioned_curvature(rmsprop, 150) < 2 < largest_preconditioned_curvature(rmsprop, 250)
    ravine_rmsprop, ravine_adam = rosenbrock_and_ravine["ravine"]
    assert ravine_rmsprop.losses[-1] < 1e-6 * ravine_adam.losses[-1]


def test_adams_state_along_the_rosenbrock_floor(rosenbrock_and_ravine):
    run = rosenbrock_and_ravine["rosenbrock"][1]
    state = adam.plot_adam_state(run)
    assert axes_drawn() == 3
    # The step over the learning rate is |m_hat| / (sqrt(v_hat) + eps), exactly 1 at the first step.
    t = np.arange(1, run.steps + 1)[:, None]
    m_hat = np.array([s["exp_avg"] for s in run.states[1:]]) / (1 - BETA1**t)
    v_hat = state.exp_avg_sq / (1 - BETA2**t)
    assert np.allclose(state.step_over_lr, np.abs(m_hat) / (np.sqrt(v_hat) + 1e-8), rtol=1e-9)
    assert np.allclose(state.step_over_lr[0], 1.0)
    # Along the floor the step in x stays at a few hundredths of lr, and v still remembers the start.
    assert np.all((state.step_over_lr[100:, 0] > 0.02) & (state.step_over_lr[100:, 0] < 0.1))
    v_x = state.exp_avg_sq[:, 0]
    assert v_x.argmax() < 50 and v_x[-1] > 0.75 * v_x.max()


def test_l2_weights_settle_at_h_over_h_plus_lambda_and_adamw_shrinks_all_alike():
    curvatures = np.array([0.01, 0.1, 1.0, 10.0, 100.0])
    decay = adam.weight_decay_forms(curvatures=curvatures, weight_decay=0.5, lr=0.01, steps=1500, settle=500)
    assert np.allclose(decay.l2_minimum, curvatures / (curvatures + 0.5))
    assert np.allclose(decay.settled["L2"], decay.l2_minimum, atol=0.02)
    assert np.ptp(decay.settled["decoupled"]) < 1e-5 and decay.settled["decoupled"][0] == pytest.approx(0.85, abs=0.01)
    # Without decay Adam moves all five alike; with L2 the smallest-gradient weight collapses within 200
    # steps while the largest-gradient one barely moves.
    assert np.ptp(decay.no_decay, axis=1).max() < 1e-6
    assert decay.paths["L2"][200, 0] < 0.05
    assert np.abs(decay.paths["L2"][:, -1] - decay.no_decay[:, -1]).max() < 0.01
    assert axes_drawn() == 3


def test_the_keras_form_is_torch_with_a_growing_eps_and_starts_16_times_shorter():
    forms = adam.keras_eps_form(eps=1e-3, gradient_size=1e-3, steps=3000, seed=1)
    assert forms.keras_against_eps_t < 1e-12
    torch_steps, keras_steps = forms.step_over_lr["torch"], forms.step_over_lr["Keras"]
    assert torch_steps[0] == pytest.approx(0.525, abs=0.001) and keras_steps[0] == pytest.approx(0.034, abs=0.001)
    assert round(torch_steps[0] / keras_steps[0]) == 16
    # Thousands of steps later the two forms are close.
    assert keras_steps[-100:].mean() > 0.95 * torch_steps[-100:].mean()
    assert axes_drawn() == 1


@pytest.mark.parametrize("gradient, within_a_percent", [(3.5e-4, True), (2.5e-4, False)])
def test_with_the_default_eps_the_first_steps_agree_to_a_percent_from_gradients_of_about_3e_4(gradient,
                                                                                               within_a_percent):
    keras_update = checks.mistake_update("adam_update", "adam-eps-hat")
    start, grad = np.zeros(1), np.array([gradient])
    torch_step, _ = Adam(lr=1.0).step(start, grad, Adam().init(start))
    keras_step, _ = keras_update(start, grad, Adam().init(start), lr=1.0, eps=1e-7)
    assert (abs(keras_step[0] / torch_step[0] - 1) < 0.01) == within_a_percent


def steps_after_zeros(gradients, zeros: int = 20_000) -> np.ndarray:
    """Adam's step lengths (lr = 1) on ``gradients`` for a coordinate whose gradient was 0 for ``zeros``
    steps: its averages are still 0, only the step counter has moved on."""
    state = dict(Adam().init(np.zeros(1)), step=zeros)
    lengths = []
    for gradient in gradients:
        moved, state = Adam(lr=1.0).step(np.zeros(1), np.array([gradient]), state)
        lengths.append(abs(moved[0]))
    return np.array(lengths)


def test_adams_step_exceeds_the_papers_bound_but_not_the_cauchy_schwarz_limit():
    paper_bound = (1 - BETA1) / math.sqrt(1 - BETA2)
    strict_limit = (1 - BETA1) / math.sqrt((1 - BETA2) * (1 - BETA1**2 / BETA2))
    assert paper_bound == pytest.approx(3.16, abs=0.01) and strict_limit == pytest.approx(7.3, abs=0.05)
    lone = steps_after_zeros(np.ones(1))
    steady = steps_after_zeros(np.ones(100))
    growing = steps_after_zeros((BETA2 / BETA1) ** np.arange(100))
    assert lone[0] == pytest.approx(paper_bound, rel=1e-3)
    assert steady.max() == pytest.approx(6.57, abs=0.01)
    assert 7.0 < growing.max() < strict_limit


def test_weight_decay_on_digits_l2_underfits_and_adamw_keeps_the_fit():
    trained = adam.weight_decay_on_digits(checks.reference_update("adam_update"), lr=3e-3, weight_decay=0.1,
                                          epochs=10)
    assert trained.largest_difference < 1e-10
    runs = list(trained.runs.values())
    none, l2, decoupled = (run.val_accuracies[-1] for run in runs)
    assert l2 < none - 0.02 and abs(decoupled - none) < 0.01
    squared = [trained.squared_weights[run.label] for run in runs]
    # AdamW still shrinks the weights by about 15 %; L2 by far more.
    assert 0.8 < squared[2] / squared[0] < 0.9 and squared[1] < 0.2 * squared[0]
    assert axes_drawn() == 2


def test_weight_decay_on_digits_reports_a_wrong_update():
    wrong = checks.mistake_update("adam_update", "adam-no-bias-correction")
    assert adam.weight_decay_on_digits(wrong, epochs=1).largest_difference > 1e-3


def test_plot_adam_state_needs_an_adam_run():
    ravine = get_surface("ravine")
    with pytest.raises(ValueError, match="run"):
        adam.plot_adam_state(minimize(ravine, RMSprop(lr=0.1), ravine.start, steps=3))


@pytest.mark.parametrize("call, message", [
    (lambda: adam.rmsprop_against_adam(lr=0), "lr"),
    (lambda: adam.rmsprop_against_adam(steps=0), "steps"),
    (lambda: adam.rmsprop_against_adam(surface="nowhere"), "surface"),
    (lambda: adam.bias_correction_over_time({}), "variants"),
    (lambda: adam.bias_correction_over_time({"a": 1}), "variants"),
    (lambda: adam.bias_correction_over_time({"a": Adam().step}, steps=2.5), "steps"),
    (lambda: adam.bias_correction_over_time({"a": Adam().step}, betas=(0.9, 1.0)), "betas"),
    (lambda: adam.gradient_scale_jump(beta2s=(1.0,)), "beta2s"),
    (lambda: adam.gradient_scale_jump(beta2s=0.99), "beta2s"),
    (lambda: adam.gradient_scale_jump(jump_at=1500), "jump_at"),
    (lambda: adam.gradient_scale_jump(before=0), "before"),
    (lambda: adam.gradient_scale_jump(noise=-1), "noise"),
    (lambda: adam.compare_on_surfaces(Adam(), {"ravine": 3}), "optimizers"),
    (lambda: adam.compare_on_surfaces([Adam()], {}), "steps_by_surface"),
    (lambda: adam.compare_on_surfaces([Adam()], {"ravine": 0}), "steps_by_surface"),
    (lambda: adam.weight_decay_forms(curvatures=(1.0, -1.0)), "curvatures"),
    (lambda: adam.weight_decay_forms(weight_decay=-0.1), "weight_decay"),
    (lambda: adam.weight_decay_forms(settle=2000), "settle"),
    (lambda: adam.keras_eps_form(eps=0), "eps"),
    (lambda: adam.keras_eps_form(gradient_size=-1e-3), "gradient_size"),
    (lambda: adam.weight_decay_on_digits(checks.reference_update("adam_update"), epochs=0), "epochs"),
    (lambda: adam.weight_decay_on_digits(checks.reference_update("adam_update"), lr=-1), "lr"),
])
def test_bad_settings_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()
