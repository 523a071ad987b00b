"""The learners' self-checks: right answers pass, catalogued mistakes are named, misbehaviour is explained."""

import dataclasses
import inspect
import textwrap

import numpy as np
import pytest
from ipython_cells import shown_in_ipython

from course_lib.checks import (MISTAKES, UPDATE_FUNCTIONS, CheckFailed, check_update, learner_optimizer,
                               mistake_update, mistakes_for, reference_update, rel_error)
from course_lib.checks._calls import Outcome
from course_lib.checks._compare import ROUNDING_UNITS, differences, relative_tolerance
from course_lib.optimizers import (SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, ClassicMomentum,
                                   KingmaBaAdamax, NAdam, ReddiAMSGrad, RMSprop, SutskeverNesterov)

CONFIGURATIONS = [
    SGD(lr=0.1), SGD(lr=0.1, weight_decay=0.1),
    SGD(lr=0.1, momentum=0.9), SGD(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.05),
    SGD(lr=0.1, momentum=0.9, nesterov=True), SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
    ClassicMomentum(lr=0.1), SutskeverNesterov(lr=0.1),
    Adagrad(lr=0.1), Adagrad(lr=0.1, lr_decay=0.1, weight_decay=0.01, initial_accumulator_value=0.1),
    Adadelta(), Adadelta(lr=0.5, rho=0.95, weight_decay=0.01),
    RMSprop(lr=0.01), RMSprop(lr=0.01, momentum=0.9),
    RMSprop(lr=0.01, centered=True, momentum=0.5, weight_decay=0.01),
    Adam(lr=0.1), Adam(lr=0.1, weight_decay=0.01),
    Adam(lr=0.1, weight_decay=0.01, decoupled_weight_decay=True),
    AdamW(lr=0.1), Adam(lr=0.1, amsgrad=True),
    Adam(lr=0.1, amsgrad=True, weight_decay=0.1, decoupled_weight_decay=True),
    Adamax(lr=0.1), Adamax(lr=0.1, weight_decay=0.01),
    NAdam(lr=0.1), NAdam(lr=0.1, weight_decay=0.01),
    NAdam(lr=0.1, weight_decay=0.01, decoupled_weight_decay=True),
    KingmaBaAdamax(lr=0.1), ReddiAMSGrad(lr=0.1),
]

MISTAKE_CASES = [(mistake_id, ref) for ref in CONFIGURATIONS for mistake_id, mistake in MISTAKES.items()
                 if mistake.applies(ref)]


def failure(fn, reference, **options) -> CheckFailed:
    with pytest.raises(CheckFailed) as caught:
        check_update(fn, reference, **options)
    return caught.value


# --- answers written as a learner would, independently of course_lib ----------------------

def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                decoupled_weight_decay=False):
    beta1, beta2 = betas
    t = state["step"] + 1
    if decoupled_weight_decay:
        param = param * (1 - lr * weight_decay)
    else:
        grad = grad + weight_decay * param
    m = beta1 * state["exp_avg"] + (1 - beta1) * grad
    v = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad * grad
    new_state = {"step": t, "exp_avg": m, "exp_avg_sq": v}
    if amsgrad:
        v = new_state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], v)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), new_state


def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):
    grad = grad + weight_decay * param
    if state["step"] == 0:
        buffer = grad
    else:
        buffer = momentum * state["momentum_buffer"] + (1 - dampening) * grad
    return param - lr * buffer, {"step": state["step"] + 1, "momentum_buffer": buffer}


def sutskever_nesterov_update(param, grad_fn, state, lr=1e-3, momentum=0.9):
    velocity = momentum * state["velocity"] - lr * grad_fn(param + momentum * state["velocity"])
    return param + velocity, {"step": state["step"] + 1, "velocity": velocity}


def amsgrad_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   decoupled_weight_decay=False):
    return adam_update(param, grad, state, lr, betas, eps, weight_decay, True, decoupled_weight_decay)


@pytest.mark.parametrize("fn, reference", [
    (adam_update, Adam(lr=0.1, weight_decay=0.01)),
    (adam_update, AdamW(lr=0.1)),
    (amsgrad_update, Adam(lr=0.1, amsgrad=True, weight_decay=0.1, decoupled_weight_decay=True)),
    (momentum_update, SGD(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    (sutskever_nesterov_update, SutskeverNesterov(lr=0.1, momentum=0.8)),
])
def test_answers_written_by_a_learner_pass(fn, reference, capsys):
    check_update(fn, reference)
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("check_update passed") and fn.__name__ in printed and "\n" not in printed


# --- the reference's own update in the learner's signature ---------------------------------

@pytest.mark.parametrize("reference", CONFIGURATIONS, ids=lambda ref: ref.label)
def test_the_reference_update_passes_for_every_configuration(reference, capsys):
    check_update(reference_update(type(reference).__name__), reference, steps=4, seed=3)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("name, reference", [
    ("sgd_update", SGD(lr=0.1, weight_decay=0.01)),
    ("momentum_update", SGD(lr=0.1, momentum=0.9, dampening=0.1)),
    ("nesterov_update", SGD(lr=0.1, momentum=0.9, nesterov=True)),
    ("classic_momentum_update", ClassicMomentum(lr=0.1)),
    ("sutskever_nesterov_update", SutskeverNesterov(lr=0.1)),
    ("adagrad_update", Adagrad(lr=0.1, lr_decay=0.01)),
    ("adadelta_update", Adadelta(lr=0.5)),
    ("rmsprop_update", RMSprop(centered=True, momentum=0.9)),
    ("adam_update", AdamW(lr=0.1)),
    ("amsgrad_update", Adam(lr=0.1, amsgrad=True)),
    ("adamax_update", Adamax(lr=0.1)),
    ("nadam_update", NAdam(lr=0.1)),
])
def test_the_exercise_functions_take_only_the_hyperparameters_their_name_leaves_open(name, reference, capsys):
    update = reference_update(name)
    check_update(update, reference)
    assert "passed" in capsys.readouterr().out
    parameters = list(inspect.signature(update).parameters)
    assert parameters[1] == ("grad_fn" if name.startswith("sutskever") else "grad")
    if name in ("sgd_update", "nesterov_update", "amsgrad_update"):
        assert "nesterov" not in parameters and "amsgrad" not in parameters


def test_a_generated_update_function_binds_its_arguments_as_its_signature_says():
    param, grad = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    state = Adam().init(param)
    by_position = reference_update("adam_update")(param, grad, state, 0.1)
    expected = Adam(lr=0.1).step(param, grad, state)
    assert rel_error(by_position[0], expected[0]) == 0 and by_position[1]["step"] == 1
    with pytest.raises(TypeError):
        reference_update("adam_update")(param, grad, state, momentum=0.9)


def test_an_exercise_function_checked_against_a_contradicting_reference_is_an_authoring_error():
    with pytest.raises(ValueError, match="nesterov_update always has nesterov=True"):
        check_update(reference_update("nesterov_update"), SGD(lr=0.1, momentum=0.9))
    with pytest.raises(TypeError, match="adam_update is checked against Adam"):
        check_update(reference_update("adam_update"), SGD(lr=0.1))


# --- the catalogue of mistakes ------------------------------------------------------------

def test_the_catalogue_has_at_least_fifteen_mistakes_each_shown_by_some_configuration():
    assert len(MISTAKES) >= 15
    assert {mistake_id for mistake_id, _ in MISTAKE_CASES} == set(MISTAKES)
    for mistake in MISTAKES.values():
        assert mistake.id and mistake.name and len(mistake.hint) > 40 and mistake.optimizers


@pytest.mark.parametrize("mistake_id, reference", MISTAKE_CASES,
                         ids=[f"{m}-{ref.label}" for m, ref in MISTAKE_CASES])
def test_every_mistake_fails_and_is_recognised_by_name(mistake_id, reference):
    mistake = MISTAKES[mistake_id]
    error = failure(mistake_update(type(reference).__name__, mistake_id), reference)
    message = str(error)
    assert error.mistakes == (mistake_id,)
    assert mistake.name in message and mistake.hint in message
    assert len(message.splitlines()) < 15


def _fits(name, reference) -> bool:
    form = UPDATE_FUNCTIONS[name]
    return isinstance(reference, form.optimizer) and all(
        getattr(reference, key) == value for key, value in form.implied.items())


@pytest.mark.parametrize("name", UPDATE_FUNCTIONS)
def test_each_mistake_an_exercise_can_make_is_named_in_some_configuration_of_it(name):
    for mistake in mistakes_for(name):
        named = []
        for reference in filter(lambda ref: _fits(name, ref) and mistake.applies(ref), CONFIGURATIONS):
            with pytest.raises(CheckFailed) as caught:
                check_update(mistake_update(name, mistake.id), reference)
            named.append(caught.value.mistakes == (mistake.id,))
        assert named and all(named), f"{mistake.id} in {name}"


def test_an_exercise_is_offered_only_the_mistakes_its_hyperparameters_allow():
    ids = {name: {m.id for m in mistakes_for(name)} for name in UPDATE_FUNCTIONS}
    assert "sgd-buffer-starts-at-zero" not in ids["sgd_update"] and "wrong-sign" in ids["sgd_update"]
    assert "sgd-buffer-starts-at-zero" in ids["momentum_update"]
    assert "nesterov-stale-buffer" in ids["nesterov_update"]
    assert "lr-inside-buffer" not in ids["nesterov_update"]
    assert {"amsgrad-previous-v", "amsgrad-max-of-vhat"} <= ids["amsgrad_update"]
    assert "lookahead-gradient-at-param" in ids["sutskever_nesterov_update"]
    assert set().union(*ids.values()) == set(MISTAKES)


def test_a_mutant_is_a_function_in_the_learners_signature_that_really_differs_from_the_reference():
    wrong = mistake_update("amsgrad_update", "amsgrad-max-of-vhat")
    assert "amsgrad" not in inspect.signature(wrong).parameters and wrong.__name__ == "amsgrad_update"
    param, grad = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    state = Adam(amsgrad=True).init(param)
    right_param, right_state = reference_update("amsgrad_update")(param, grad, state, lr=0.1)
    wrong_param, wrong_state = wrong(param, grad, state, lr=0.1)
    assert rel_error(right_param, wrong_param) < 1e-8
    assert rel_error(right_state["max_exp_avg_sq"], wrong_state["max_exp_avg_sq"]) > 0.5


def test_mistake_update_names_what_it_cannot_do():
    with pytest.raises(ValueError, match="unknown mistake"):
        mistake_update("adam_update", "forgot-everything")
    with pytest.raises(ValueError, match="concerns Adam"):
        mistake_update("sgd_update", "adam-no-bias-correction")
    with pytest.raises(ValueError, match="unknown update function"):
        mistake_update("adam_updte", "wrong-sign")


def test_a_learner_who_makes_two_mistakes_is_told_where_without_a_wrong_name():
    def adam_two_slips(param, grad, state, **hyperparameters):
        new_param, new_state = mistake_update("Adam", "adam-no-bias-correction")(param, grad, state,
                                                                                 **hyperparameters)
        return new_param, {**new_state, "step": state["step"]}
    error = failure(adam_two_slips, Adam(lr=0.1))
    assert error.mistakes == ()
    assert "First difference: case 1 (one element, to follow by hand), step 1" in str(error)
    assert "in state['step']" in str(error) and "Also different: param" in str(error)


def test_a_slip_at_the_first_step_only_is_reported_as_such():
    error = failure(mistake_update("momentum_update", "sgd-buffer-starts-at-zero"),
                    SGD(lr=0.1, momentum=0.9, dampening=0.5))
    assert "steps go wrong (5 per case): case 1: steps 1; case 2: steps 1; case 3: steps 1" in str(error)


# --- misbehaving learner code gets a paragraph, not a traceback ----------------------------

def _adam(param, grad, state, **hyperparameters):
    return adam_update(param, grad, state, **hyperparameters)


MISBEHAVIOURS = {
    "returns None": (lambda p, g, s, **h: None, ["returned None"]),
    "returns only param": (lambda p, g, s, **h: _adam(p, g, s, **h)[0],
                           ["returned only a NumPy array", "two things"]),
    "returns only the state": (lambda p, g, s, **h: _adam(p, g, s, **h)[1], ["returned only a dict"]),
    "wrong order": (lambda p, g, s, **h: _adam(p, g, s, **h)[::-1], ["wrong order", "parameter comes first"]),
    "a list": (lambda p, g, s, **h: list(_adam(p, g, s, **h)), ["returned a list", "tuple"]),
    "three items": (lambda p, g, s, **h: (*_adam(p, g, s, **h), 0), ["tuple of 3 items"]),
    "dropped key": (lambda p, g, s, **h: (_adam(p, g, s, **h)[0], {"step": 1, "exp_avg": s["exp_avg"]}),
                    ["no key 'exp_avg_sq'", "['step', 'exp_avg', 'exp_avg_sq']"]),
    "extra key": (lambda p, g, s, **h: (_adam(p, g, s, **h)[0], {**_adam(p, g, s, **h)[1], "m": 0}),
                  ["extra key 'm'"]),
    "param as a list": (lambda p, g, s, **h: (list(_adam(p, g, s, **h)[0]), _adam(p, g, s, **h)[1]),
                        ["new_param is a list", "NumPy array of shape (1,)"]),
    "param as a float": (lambda p, g, s, **h: (float(_adam(p, g, s, **h)[0][0]), _adam(p, g, s, **h)[1]),
                         ["new_param is a float"]),
    "wrong shape": (lambda p, g, s, **h: (_adam(p, g, s, **h)[0][:, None], _adam(p, g, s, **h)[1]),
                    ["new_param has shape (1, 1) but param has shape (1,)"]),
    "integers": (lambda p, g, s, **h: (np.round(_adam(p, g, s, **h)[0]).astype(int), _adam(p, g, s, **h)[1]),
                 ["new_param has dtype int", "must hold floats"]),
    "float32": (lambda p, g, s, **h: (_adam(p, g, s, **h)[0].astype(np.float32), _adam(p, g, s, **h)[1]),
                ["dtype float32 but param is float64"]),
    "float counter": (lambda p, g, s, **h: (_adam(p, g, s, **h)[0], {**_adam(p, g, s, **h)[1], "step": 1.0}),
                      ["new_state['step'] is 1.0 (float)", "whole number"]),
    "state as a list": (lambda p, g, s, **h: (_adam(p, g, s, **h)[0], list(_adam(p, g, s, **h)[1].values())),
                        ["returned a list as new_state", "must be a dict"]),
    "NaN": (lambda p, g, s, **h: (_adam(p, g, s, **h)[0] * np.nan, _adam(p, g, s, **h)[1]),
            ["in param at index (0,)", "got nan", "NaN or inf comes from a division by zero"]),
}


@pytest.mark.parametrize("behaviour", MISBEHAVIOURS)
def test_misbehaviour_is_named_with_its_step_and_case(behaviour):
    fn, phrases = MISBEHAVIOURS[behaviour]
    message = str(failure(fn, Adam(lr=0.1)))
    for phrase in phrases + ["case 1 (one element, to follow by hand), step 1 (given state['step'] == 0)"]:
        assert phrase in message
    assert "Traceback" not in message and len(message.splitlines()) < 15


def test_an_exception_is_reported_with_its_type_message_and_the_learners_line():
    def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    amsgrad=False, decoupled_weight_decay=False):
        m = betas[0] * state["m"] + (1 - betas[0]) * grad
        return param - lr * m, state
    message = str(failure(adam_update, Adam(lr=0.1)))
    assert "adam_update raised KeyError: 'm'" in message
    assert "in your code (adam_update, line" in message
    assert 'm = betas[0] * state["m"] + (1 - betas[0]) * grad' in message


def test_an_error_raised_inside_numpy_points_at_the_learners_line_not_numpys():
    def adam_update(param, grad, state, **hyperparameters):
        return np.concatenate([param, grad], axis=3), state
    message = str(failure(adam_update, Adam(lr=0.1)))
    assert "AxisError" in message and "np.concatenate([param, grad], axis=3)" in message


def test_an_error_only_on_matrices_is_reported_in_the_matrix_case():
    def adam_update(param, grad, state, **hyperparameters):
        if param.ndim > 1:
            raise ValueError("I only handle vectors")
        return _adam(param, grad, state, **hyperparameters)
    message = str(failure(adam_update, Adam(lr=0.1)))
    assert "case 3 (random, shape (2, 3)), step 1" in message and "I only handle vectors" in message
    assert "param = an array of shape (2, 3)" in message


@pytest.mark.parametrize("write, where", [
    ("param -= 0.1 * grad", "param"),
    ("grad *= 2", "grad"),
    ("state['exp_avg'] *= 0.9", "state['exp_avg']"),
    ("state['step'] += 1", "state['step'] (it assigned a new value to that key of the input dict)"),
])
def test_writing_into_the_inputs_is_caught_and_named(write, where):
    namespace = {"_adam": _adam}
    exec(textwrap.dedent(f"""
        def adam_update(param, grad, state, **hyperparameters):
            result = _adam(param.copy(), grad.copy(), dict(state), **hyperparameters)
            {write}
            return result
    """), namespace)
    error = failure(namespace["adam_update"], Adam(lr=0.1))
    assert f"adam_update changed its input {where} in place" in str(error)
    assert error.mistakes == ("inputs-changed-in-place",)


def test_a_function_that_depends_on_earlier_calls_is_caught_when_fed_its_own_results():
    seen = []

    def adam_update(param, grad, state, **hyperparameters):
        new_param, new_state = _adam(param, grad, state, **hyperparameters)
        again = any(np.array_equal(param, p) and np.array_equal(grad, g) for p, g in seen)
        seen.append((param.copy(), grad.copy()))
        return (new_param * 1.01 if again else new_param), new_state
    message = str(failure(adam_update, Adam(lr=0.1)))
    assert "Every step is right when your function is given the correct inputs" in message
    assert "case 1 (one element, to follow by hand), step 1" in message
    assert "not the reference's step on those same inputs" in message and "something besides its arguments" in message


def test_a_signature_without_a_hyperparameter_in_use_is_named():
    def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        return _adam(param, grad, state, lr=lr, betas=betas, eps=eps)
    message = str(failure(adam_update, Adam(lr=0.1, weight_decay=0.01)))
    assert "adam_update has no parameter 'weight_decay', but this check uses weight_decay=0.01" in message
    check_update(adam_update, Adam(lr=0.1))


def test_a_signature_that_cannot_take_the_arguments_is_named():
    def adam_update(param, grad):
        return param, {}
    message = str(failure(adam_update, Adam()))
    assert "adam_update cannot be called as adam_update(param, grad, state" in message
    assert "needs your update function, got a int" in str(failure(3, Adam()))


def test_numpy_warnings_of_learner_code_do_not_reach_stderr(capfd):
    def adam_update(param, grad, state, **hyperparameters):
        return param / 0.0 * np.log(-param), _adam(param, grad, state, **hyperparameters)[1]
    failure(adam_update, Adam(lr=0.1))
    assert capfd.readouterr().err == ""


def test_the_checks_own_arguments_are_validated():
    with pytest.raises(TypeError, match="reference must be an optimizer"):
        check_update(adam_update, "Adam")
    with pytest.raises(ValueError, match="steps must be"):
        check_update(adam_update, Adam(), steps=0)
    with pytest.raises(ValueError, match="shapes must be"):
        check_update(adam_update, Adam(), shapes=[4])


def test_relative_error_has_a_floor_and_treats_equal_nans_as_equal():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 2.2)
    assert rel_error(0.0, 1e-20) == pytest.approx(1e-8)
    assert rel_error(np.array([np.nan, np.inf]), np.array([np.nan, np.inf])) == 0.0
    assert rel_error(1.0, np.nan) == np.inf


def test_in_ipython_the_failure_shows_the_message_alone():
    cells = [
        "from course_lib.checks import check_update\nfrom course_lib.optimizers import Adam",
        "def adam_update(param, grad, state, **hyperparameters):\n"
        "    t = state['step']\n"
        "    scale = 1.0 / (1 - hyperparameters['betas'][0] ** t)\n"
        "    return param, state",
        "check_update(adam_update, Adam(lr=0.1))",
    ]
    shown = shown_in_ipython(cells)
    assert "CheckFailed: adam_update does not match Adam(lr=0.1) yet." in shown
    assert "ZeroDivisionError" in shown and "scale = 1.0 / (1 - hyperparameters['betas'][0] ** t)" in shown
    assert "Traceback" not in shown and "_calls.py" not in shown and "_check.py" not in shown
    assert shown.strip().startswith("CheckFailed: adam_update does not match")


def test_an_error_in_the_learners_own_code_keeps_its_traceback():
    shown = shown_in_ipython(["def adam_update(param):\n    return 1 / 0", "adam_update(1.0)"])
    assert "Traceback" in shown and "----> 2     return 1 / 0" in shown


# --- the learner's function trains real models ------------------------------------------

def _least_squares():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(40, 3))
    targets = features @ np.array([1.5, -2.0, 0.5]) + 0.3

    def loss_and_grads(params):
        residual = features @ params["w"] + params["b"] - targets
        grads = {"w": features.T @ residual / len(targets), "b": np.array([np.mean(residual)])}
        return 0.5 * np.mean(residual**2), grads
    return {"w": np.zeros(3), "b": np.zeros(1)}, loss_and_grads


def _train(optimizer, params, loss_and_grads, updates):
    state, losses = optimizer.init(params), []
    for _ in range(updates):
        loss, grads = loss_and_grads(optimizer.gradient_point(params, state))
        losses.append(loss)
        params, state = optimizer.step(params, grads, state)
    return params, state, losses


def test_the_learners_function_trains_a_model_exactly_like_the_reference():
    params, loss_and_grads = _least_squares()
    mine = learner_optimizer(adam_update, like=Adam(lr=0.05, weight_decay=1e-3))
    learned, state, losses = _train(mine, params, loss_and_grads, 150)
    expected, expected_state, _ = _train(Adam(lr=0.05, weight_decay=1e-3), params, loss_and_grads, 150)
    assert losses[-1] < losses[0] / 20
    assert rel_error(learned["w"], expected["w"]) < 1e-8 and state["step"] == expected_state["step"] == 150
    assert rel_error(state["exp_avg_sq"]["w"], expected_state["exp_avg_sq"]["w"]) < 1e-8
    assert "adam_update" in mine.label


def test_a_schedule_changes_the_learners_hyperparameters_as_for_any_optimizer():
    params, loss_and_grads = _least_squares()
    mine = learner_optimizer(momentum_update, like=SGD(lr=0.1, momentum=0.9))
    slower = dataclasses.replace(mine, lr=0.01)
    assert slower.lr == 0.01 and slower.update is momentum_update
    learned, _, _ = _train(slower, params, loss_and_grads, 20)
    expected, _, _ = _train(SGD(lr=0.01, momentum=0.9), params, loss_and_grads, 20)
    assert rel_error(learned["b"], expected["b"]) < 1e-8


def test_a_look_ahead_function_trains_with_the_gradient_at_the_look_ahead_point():
    curvature, center = np.array([1.0, 10.0]), np.array([2.0, -1.0])

    def loss_and_grads(params):
        return 0.5 * np.sum(curvature * (params[0] - center) ** 2), [curvature * (params[0] - center)]
    mine = learner_optimizer(sutskever_nesterov_update, like=SutskeverNesterov(lr=0.02, momentum=0.9))
    learned, _, losses = _train(mine, [np.zeros(2)], loss_and_grads, 60)
    expected, _, _ = _train(SutskeverNesterov(lr=0.02, momentum=0.9), [np.zeros(2)], loss_and_grads, 60)
    assert losses[-1] < losses[0] / 100 and rel_error(learned[0], expected[0]) < 1e-8

    wrong = learner_optimizer(mistake_update("sutskever_nesterov_update", "lookahead-gradient-at-param"),
                              like=SutskeverNesterov(lr=0.02, momentum=0.9))
    with pytest.raises(CheckFailed, match="at update 2") as caught:
        _train(wrong, [np.zeros(2)], loss_and_grads, 5)
    assert "known only at the look-ahead point" in str(caught.value)


@pytest.mark.parametrize("slip, phrases", [
    ("raise ValueError('diverged?')", ["raised ValueError: diverged?", "in your code (adam_update, line 5)"]),
    ("new_param = new_param * np.inf", ["NaN or inf from finite inputs"]),
    ("new_state['step'] = state['step']", ["state must count this update"]),
    ("param += 1", ["changed its input param in place"]),
])
def test_a_function_that_misbehaves_in_training_stops_it_with_a_message(slip, phrases):
    namespace = {"np": np, "_adam": _adam}
    exec(textwrap.dedent(f"""
        def adam_update(param, grad, state, **hyperparameters):
            new_param, new_state = _adam(param, grad, state, **hyperparameters)
            if state["step"] == 2:
                {slip}
            return new_param, new_state
    """), namespace)
    params, loss_and_grads = _least_squares()
    with pytest.raises(CheckFailed) as caught:
        _train(learner_optimizer(namespace["adam_update"], like=Adam(lr=0.05)), params, loss_and_grads, 5)
    message = str(caught.value)
    for phrase in phrases + ["while training, at update 3, on parameter array 1 of 2 (shape (3,))"]:
        assert phrase in message
    assert len(message.splitlines()) < 6


def test_learner_optimizer_refuses_a_function_it_cannot_call():
    def adam_update(param, grad, state, lr=1e-3):
        return param, state
    with pytest.raises(CheckFailed, match="has no parameter 'weight_decay'"):
        learner_optimizer(adam_update, like=Adam(weight_decay=0.1))
    with pytest.raises(TypeError, match="like must be an optimizer"):
        learner_optimizer(adam_update, like=None)


def test_the_tolerance_lets_rounding_pass_and_catches_a_slightly_wrong_constant(capsys):
    def rounded_differently(param, grad, state, **hyperparameters):
        new_param, new_state = _adam(param, grad, state, **hyperparameters)
        return new_param * (1 + 1e-13), new_state
    check_update(rounded_differently, Adam(lr=0.1))
    assert "passed" in capsys.readouterr().out

    def lr_slightly_off(param, grad, state, **hyperparameters):
        return _adam(param, grad, state, **{**hyperparameters, "lr": hyperparameters["lr"] * (1 + 1e-6)})
    message = str(failure(lr_slightly_off, Adam(lr=0.1)))
    assert "The difference is small" in message and "1e-08 * max(|expected|, |got|)" in message


# --- a comparison that knows rounding -------------------------------------------------------

def sutskever_nesterov_textbook(param, grad_fn, state, lr=1e-3, momentum=0.9):
    """Sutskever et al.'s eqs. 3-4 written from the look-ahead point: new_param = look_ahead - lr * g."""
    velocity = state["velocity"]
    look_ahead = param + momentum * velocity
    gradient = grad_fn(look_ahead)
    return look_ahead - lr * gradient, {"step": state["step"] + 1, "velocity": momentum * velocity - lr * gradient}


def sutskever_nesterov_velocity_as_difference(param, grad_fn, state, lr=1e-3, momentum=0.9):
    """The same step, with the velocity recovered as new_param - param."""
    look_ahead = param + momentum * state["velocity"]
    new_param = look_ahead - lr * grad_fn(look_ahead)
    return new_param, {"step": state["step"] + 1, "velocity": new_param - param}


@pytest.mark.parametrize("fn", [sutskever_nesterov_textbook, sutskever_nesterov_velocity_as_difference])
@pytest.mark.parametrize("reference", [SutskeverNesterov(lr=0.03, momentum=0.99), SutskeverNesterov(lr=1.5, momentum=0.5),
                                       SutskeverNesterov(lr=0.2, momentum=0.0), SutskeverNesterov(lr=0.1)],
                         ids=lambda ref: ref.label)
def test_textbook_forms_of_sutskevers_nesterov_pass_although_the_velocity_shrinks_to_rounding(fn, reference, capsys):
    for seed in (3, 11):
        check_update(fn, reference, steps=30, seed=seed, shapes=((7,), (3, 2, 2)))
    assert "passed" in capsys.readouterr().out


def _scaled(name: str, factor: float):
    """The right answer with every result multiplied by ``factor``: a rounding-sized change."""
    right = reference_update(name)

    def update(param, gradient, state, **hyperparameters):
        new_param, new_state = right(param, gradient, state, **hyperparameters)
        return new_param * factor, {k: v * factor if isinstance(v, np.ndarray) else v for k, v in new_state.items()}
    update.__signature__, update.__name__ = inspect.signature(right), name
    return update


HARD_FOR_ROUNDING = [
    ("momentum_update", SGD(lr=0.05, momentum=0.99, dampening=0.9, weight_decay=0.01)),
    ("nesterov_update", SGD(lr=0.02, momentum=0.99, weight_decay=0.01, nesterov=True)),
    ("classic_momentum_update", ClassicMomentum(lr=0.2, momentum=0.0)),
    ("sutskever_nesterov_update", SutskeverNesterov(lr=1.5, momentum=0.5)),
    ("adagrad_update", Adagrad(lr=0.3, lr_decay=0.05, weight_decay=0.01)),
    ("adadelta_update", Adadelta(lr=0.1, rho=0.99, eps=1e-8, weight_decay=0.3)),
    ("rmsprop_update", RMSprop(lr=0.05, alpha=0.5, eps=1e-6, centered=True)),
    ("adam_update", Adam(lr=0.1, betas=(0.0, 0.0), weight_decay=1.0)),
    ("adamax_update", Adamax()),
    ("nadam_update", NAdam(lr=0.03, betas=(0.5, 0.9), weight_decay=0.2)),
    ("amsgrad_update", Adam(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True)),
]


@pytest.mark.parametrize("factor", [1 + 1e-12, 1 - 1e-12, 1 + 1e-15])
@pytest.mark.parametrize("name, reference", HARD_FOR_ROUNDING, ids=[name for name, _ in HARD_FOR_ROUNDING])
def test_the_right_answer_changed_by_rounding_passes_every_step_and_every_free_run(name, reference, factor, capsys):
    check_update(_scaled(name, factor), reference, steps=30, seed=6, shapes=((7,), (3, 2, 2), (1, 5)))
    assert "passed" in capsys.readouterr().out


def test_the_rounding_floor_is_a_few_rounding_units_of_the_quantities_combined():
    eps = np.finfo(float).eps
    expected = Outcome(param=np.array([0.5, 1e-10]), state={"step": 1, "velocity": np.array([1e-10, 1e-10])})
    scales = {"param": np.array([0.5, 0.5]), "velocity": np.array([0.5, 0.5])}

    def moved(by):
        return Outcome(param=expected.param, state={"step": 1, "velocity": expected.state["velocity"] + by})
    assert differences(moved(np.array([0.0, 4 * eps * 0.5])), expected, scales) == []
    beyond = differences(moved(np.array([0.0, 2 * ROUNDING_UNITS * eps * 0.5])), expected, scales)
    assert [(d.variable, d.index, d.scale) for d in beyond] == [("state['velocity']", (1,), 0.5)]
    assert "S = 0.5" in beyond[0].note() and "float64's rounding unit" in beyond[0].note()
    assert relative_tolerance(np.float64) == 1e-8 and relative_tolerance(np.float32) == 1e-4


# --- cases that make mistakes visible -----------------------------------------------------

def _message(fn, reference, **options) -> str:
    message = str(failure(fn, reference, **options))
    assert "global variable" not in message, "a real mistake, not hidden state"
    return message


def test_a_buffer_that_is_the_gradient_itself_is_caught_as_shared_memory():
    def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):
        if weight_decay:
            grad = grad + weight_decay * param
        buffer = grad if state["step"] == 0 else momentum * state["momentum_buffer"] + (1 - dampening) * grad
        return param - lr * buffer, {"step": state["step"] + 1, "momentum_buffer": buffer}
    message = _message(momentum_update, SGD(lr=0.1, momentum=0.9))
    assert "case 1 (one element, to follow by hand), step 1" in message
    assert "new_state['momentum_buffer'] shares memory with its input grad" in message and "grad.copy()" in message


def test_results_that_share_memory_with_each_other_or_with_the_previous_step_are_caught():
    def amsgrad_update(param, grad, state, **hyperparameters):
        new_param, new_state = _adam(param, grad, state, **hyperparameters)
        if state["step"] == 0:  # the maximum of 0 and exp_avg_sq is exp_avg_sq: right values, one array
            new_state["max_exp_avg_sq"] = new_state["exp_avg_sq"]
        return new_param, new_state
    message = _message(amsgrad_update, Adam(lr=0.1, amsgrad=True))
    assert "new_state['exp_avg_sq'] and new_state['max_exp_avg_sq'] are one array" in message

    kept = {}

    def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * param
        if state["step"] == 0:
            kept["buffer"] = grad.copy()
        else:
            kept["buffer"] *= momentum
            kept["buffer"] += (1 - dampening) * grad
        return param - lr * kept["buffer"], {"step": state["step"] + 1, "momentum_buffer": kept["buffer"]}
    message = _message(momentum_update, SGD(lr=0.1, momentum=0.9))
    assert "case 1 (one element, to follow by hand), step 2" in message
    assert "new_state['momentum_buffer'] is the array it returned at the previous step" in message


def test_a_float64_result_for_float32_inputs_is_named():
    def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    decoupled_weight_decay=False):
        m = np.zeros(param.shape) + betas[0] * state["exp_avg"] + (1 - betas[0]) * grad
        v = betas[1] * state["exp_avg_sq"] + (1 - betas[1]) * grad * grad
        t = state["step"] + 1
        new_param = param - lr * m / (1 - betas[0]**t) / (np.sqrt(v / (1 - betas[1]**t)) + eps)
        return new_param, {"step": t, "exp_avg": m, "exp_avg_sq": v}
    message = _message(adam_update, Adam(lr=0.1))
    assert "(float32 arrays, shape (2, 2)), step 1" in message
    assert "new_param has dtype float64 but param is float32" in message and "np.zeros_like(param)" in message
    assert "Only this case goes wrong: its arrays are float32" in message


def test_float32_results_are_judged_to_float32_rounding(capsys):
    def adam_in_float64(param, grad, state, **hyperparameters):
        wide = {k: v.astype(np.float64) if isinstance(v, np.ndarray) else v for k, v in state.items()}
        new_param, new_state = _adam(param.astype(np.float64), grad.astype(np.float64), wide, **hyperparameters)
        return new_param.astype(param.dtype), {k: v.astype(param.dtype) if isinstance(v, np.ndarray) else v
                                               for k, v in new_state.items()}
    check_update(adam_in_float64, Adam(lr=0.1, weight_decay=0.1), steps=12)
    assert "passed" in capsys.readouterr().out


def test_telling_the_first_step_by_a_zero_buffer_fails_where_a_gradient_was_exactly_zero():
    def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * param
        buf = state["momentum_buffer"]
        buffer = np.where(buf == 0, grad, momentum * buf + (1 - dampening) * grad)
        return param - lr * buffer, {"step": state["step"] + 1, "momentum_buffer": buffer}
    message = _message(momentum_update, SGD(lr=0.1, momentum=0.9, dampening=0.5))
    assert "At that element the gradient is exactly 0 at step" in message and "by state['step']" in message

    def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * param
        first = not np.any(state["momentum_buffer"])
        buffer = grad.copy() if first else momentum * state["momentum_buffer"] + (1 - dampening) * grad
        return param - lr * buffer, {"step": state["step"] + 1, "momentum_buffer": buffer}
    message = _message(momentum_update, SGD(lr=0.1, momentum=0.9, dampening=0.5))
    assert "(zero gradient everywhere at step 1, as at a minimum), step 2" in message
    assert "Only this case goes wrong: it starts where the gradient is exactly 0 everywhere" in message


def test_code_that_only_works_for_vectors_fails_on_a_0d_array():
    def adagrad_update(param, grad, state, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                       eps=1e-10):
        total = np.array([state["sum"][i] + grad[i] ** 2 for i in range(len(param))]).reshape(param.shape)
        return param - lr * grad / (np.sqrt(total) + eps), {"step": state["step"] + 1, "sum": total}
    message = _message(adagrad_update, Adagrad(lr=0.1))
    assert "case 5 (a 0-d array, shape ()), step 1" in message and "len() of unsized object" in message
    assert "Only this case goes wrong: param is a 0-d array" in message


def test_an_lr_kept_from_an_earlier_call_or_in_the_state_fails_under_a_schedule():
    def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, _first={}):
        lr = _first.setdefault("lr", lr)
        buffer = grad + 0.0 if state["step"] == 0 else momentum * state["momentum_buffer"] + (1 - dampening) * grad
        return param - lr * buffer, {"step": state["step"] + 1, "momentum_buffer": buffer}
    error = failure(momentum_update, SGD(lr=0.1, momentum=0.9))
    assert "(lr changing at every step, as under a schedule, shape (4,)), step 1" in str(error)
    assert "Only this case goes wrong, the one whose lr changes between steps" in str(error)
    assert error.mistakes == ()

    def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):
        lr = state.get("lr", lr)
        buffer = grad + 0.0 if state["step"] == 0 else momentum * state["momentum_buffer"] + (1 - dampening) * grad
        return param - lr * buffer, {"step": state["step"] + 1, "momentum_buffer": buffer, "lr": lr}
    assert "new_state has the extra key 'lr'" in _message(momentum_update, SGD(lr=0.1, momentum=0.9))


def test_an_lr_baked_into_the_buffer_is_named_under_a_schedule_too():
    error = failure(mistake_update("momentum_update", "lr-inside-buffer"), SGD(lr=0.1, momentum=0.9))
    assert error.mistakes == ("lr-inside-buffer",)


def test_dampening_applied_without_momentum_fails_with_the_size_of_the_step():
    def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):
        grad = grad + weight_decay * param
        if momentum == 0:
            return param - lr * (1 - dampening) * grad, {"step": state["step"] + 1}
        buffer = grad if state["step"] == 0 else momentum * state["momentum_buffer"] + (1 - dampening) * grad
        return param - lr * buffer, {"step": state["step"] + 1, "momentum_buffer": buffer}
    check_update(momentum_update, SGD(lr=0.1, momentum=0.9, dampening=0.5))
    message = _message(momentum_update, SGD(lr=0.1, dampening=0.5))
    assert "Your step, new_param - param, is 0.5 times the expected one." in message
    assert "momentum=0.0, dampening=0.5" in message


# --- the exercise's defaults ------------------------------------------------------------------

@pytest.mark.parametrize("name, reference, defaults", [
    (name, reference, {"momentum": 0.9} if name == "nesterov_update" else True)
    for name, reference in HARD_FOR_ROUNDING])
def test_the_defaults_are_checked_by_calling_with_no_keyword_arguments(name, reference, defaults, capsys):
    check_update(reference_update(name), reference, defaults=defaults)
    assert "defaults)" in capsys.readouterr().out


def test_a_wrong_default_is_named_from_the_signature():
    def adam_update(param, grad, state, lr=1e-2, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.0,
                    decoupled_weight_decay=False):
        return _adam(param, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                     decoupled_weight_decay=decoupled_weight_decay)
    check_update(adam_update, Adam(lr=0.1))
    message = _message(adam_update, Adam(lr=0.1), defaults=True)
    assert "(called with no keyword arguments: the defaults), step 1" in message
    assert "Called as adam_update(param, grad, state), your function must use the exercise's defaults: lr=0.001" \
        in message
    assert "Your signature has lr=0.01." in message and "betas=[" not in message.split("Your signature")[1]


def test_defaults_that_cannot_be_called_or_that_the_reference_refuses_are_explained():
    def adam_update(param, grad, state, lr, betas, eps, weight_decay, decoupled_weight_decay):
        return _adam(param, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                     decoupled_weight_decay=decoupled_weight_decay)
    message = str(failure(adam_update, Adam(lr=0.1), defaults=True))
    assert "adam_update cannot be called as adam_update(param, grad, state)" in message
    assert "Give every hyperparameter its default" in message
    with pytest.raises(ValueError, match="defaults=\\{\\} does not make a valid SGD"):
        check_update(reference_update("nesterov_update"), SGD(lr=0.1, momentum=0.9, nesterov=True), defaults=True)
    with pytest.raises(TypeError, match="defaults must be True, False or a dict"):
        check_update(adam_update, Adam(), defaults="yes")
