"""The checks of the lesson on torch.optim: right answers pass, every catalogued mistake fails and is
named, misbehaving code is explained in words. The checks that judge with torch itself run only when
torch is installed; the others need no torch."""

import warnings

import numpy as np
import pytest
from check_failures import failure

from course_lib.checks import EXERCISE_MISTAKES, MISTAKES, fresh_cases, mistake_update, mistakes_for
from course_lib.checks import torch_checks
from course_lib.checks.torch_checks import (ADAMW_DEFAULT_DECAY, check_decay_groups, check_decay_groups_in_torch,
                                            check_train_epochs, check_train_epochs_in_torch)

CHECKS = {"decay_groups": check_decay_groups, "train_epochs": check_train_epochs}
TORCH_CHECKS = {"decay_groups": check_decay_groups_in_torch, "train_epochs": check_train_epochs_in_torch}


# --- answers written as a learner would, independently of course_lib ------------------------

def decay_groups(named_shapes, weight_decay):
    with_decay, without = [], []
    for name, shape in named_shapes:
        (with_decay if len(shape) > 1 else without).append(name)
    return [{"params": with_decay, "weight_decay": weight_decay}, {"params": without, "weight_decay": 0.0}]


def train_epochs(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = []
    for epoch in range(epochs):
        for batch in batches:
            zero_grad()
            loss = backward(batch)
            step()
            losses.append(loss)
        scheduler_step()
    return losses


ANSWERS = {"decay_groups": decay_groups, "train_epochs": train_epochs}


# Other correct ways: one group per parameter, tuples, a name key, numpy numbers; zero_grad at the end of the
# iteration, zeros instead of None, the losses as an array.

def decay_groups_one_per_parameter(named_shapes, weight_decay):
    return tuple({"params": (name,), "weight_decay": np.float64(weight_decay if len(shape) >= 2 else 0),
                  "name": name} for name, shape in reversed(named_shapes))


def train_epochs_clearing_afterwards(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = np.zeros(epochs * len(batches))
    for epoch in range(epochs):
        for index, batch in enumerate(batches):
            losses[epoch * len(batches) + index] = backward(batch)
            step()
            zero_grad(set_to_none=False)
        scheduler_step()
    return losses


ALTERNATIVES = [("decay_groups", decay_groups_one_per_parameter), ("train_epochs", train_epochs_clearing_afterwards)]


@pytest.mark.parametrize("name", CHECKS)
@pytest.mark.parametrize("thorough", [False, True])
def test_a_right_answer_passes_with_one_line_saying_what_was_checked(name, thorough, capsys):
    CHECKS[name](ANSWERS[name], thorough=thorough)
    printed = capsys.readouterr().out.strip()
    assert printed.startswith(f"check_{name} passed: {name}") and "\n" not in printed


@pytest.mark.parametrize("name, fn", ALTERNATIVES, ids=[fn.__name__ for _, fn in ALTERNATIVES])
def test_other_correct_formulations_pass_too(name, fn, capsys):
    CHECKS[name](fn, thorough=True)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("name", CHECKS)
def test_other_seeds_and_fresh_cases_draw_other_cases_that_a_right_answer_passes(name, capsys):
    draw = {"decay_groups": lambda seed: [c.named_shapes for c in torch_checks._groups_cases(True, seed)],
            "train_epochs": lambda seed: [tuple(map(tuple, c.batches)) for c in torch_checks._loop_cases(True, seed)]}
    first = draw[name](0)
    assert first != draw[name](1)
    with fresh_cases(777):
        assert first != draw[name](0)
        CHECKS[name](ANSWERS[name], thorough=True, seed=2)
    assert first == draw[name](0), "outside fresh_cases, the cases are the learner's again"
    assert capsys.readouterr().out.count("passed") == 1


def test_the_cases_keep_to_the_exercises_assumptions():
    for case in torch_checks._groups_cases(True, 0):
        names = [n for n, _ in case.named_shapes]
        assert len(names) == len(set(names)) and case.weight_decay >= 0
        assert all(isinstance(s, tuple) and all(isinstance(d, int) and d > 0 for d in s) for _, s in case.named_shapes)
    assert any(len(s) == 0 for c in torch_checks._groups_cases(False, 0) for _, s in c.named_shapes), \
        "a scalar parameter in the visible cases"
    for case in torch_checks._loop_cases(True, 0):
        rows = np.concatenate(case.batches)
        assert len(rows) == len(set(rows.tolist())) and case.epochs >= 0


# --- the catalogue of these exercises' mistakes -------------------------------------------

MISTAKE_CASES = [(name, mistake) for name in CHECKS for mistake in mistakes_for(name)]


def test_every_exercise_registers_its_mistakes_with_ids_of_its_own():
    for name in CHECKS:
        assert len(EXERCISE_MISTAKES[name]) >= 6, name
    ids = [m.id for name in CHECKS for m in EXERCISE_MISTAKES[name]]
    others = [m.id for name, ms in EXERCISE_MISTAKES.items() if name not in CHECKS for m in ms]
    assert len(ids) == len(set(ids)) and not set(ids) & (set(MISTAKES) | set(others))
    for name, mistake in MISTAKE_CASES:
        assert mistake.name and len(mistake.hint) > 40 and mistake.wrong.__name__ == name


@pytest.mark.parametrize("name, mistake", MISTAKE_CASES, ids=[m.id for _, m in MISTAKE_CASES])
@pytest.mark.parametrize("thorough", [False, True])
def test_every_mistake_fails_its_check_and_is_named_with_its_hint(name, mistake, thorough):
    error = failure(CHECKS[name], mistake_update(name, mistake.id), thorough=thorough)
    message = str(error)
    assert error.mistakes == (mistake.id,)
    assert f'"{mistake.name}": {mistake.hint}' in message
    assert message.startswith(f"{name} does not do what the exercise asks yet.\nFirst problem: case ")
    assert len(message.splitlines()) < 10


@pytest.mark.parametrize("name, mistake", MISTAKE_CASES, ids=[m.id for _, m in MISTAKE_CASES])
def test_every_mistake_is_named_in_fresh_cases_too(name, mistake):
    with fresh_cases(31337):
        error = failure(CHECKS[name], mistake_update(name, mistake.id), thorough=True, seed=1)
    assert error.mistakes == (mistake.id,)


@pytest.mark.torch
@pytest.mark.parametrize("name, mistake", MISTAKE_CASES, ids=[m.id for _, m in MISTAKE_CASES])
def test_every_mistake_fails_in_torch_and_is_named(name, mistake):
    pytest.importorskip("torch", reason="these checks run torch: pip install torch==2.13.0")
    error = failure(TORCH_CHECKS[name], mistake_update(name, mistake.id))
    assert error.mistakes == (mistake.id,), str(error)


@pytest.mark.torch
@pytest.mark.parametrize("name", CHECKS)
def test_a_right_answer_passes_in_torch(name, capsys):
    pytest.importorskip("torch", reason="these checks run torch: pip install torch==2.13.0")
    for seed in (0, 1):
        TORCH_CHECKS[name](ANSWERS[name], seed=seed)
    TORCH_CHECKS[name](dict(ALTERNATIVES)[name])
    assert capsys.readouterr().out.count("passed") == 3


def test_two_mistakes_at_once_fail_without_a_wrong_name():
    def decay_groups(named_shapes, weight_decay):  # biases only spared, and that group without its decay
        return [{"params": [n for n, _ in named_shapes if not n.endswith("bias")], "weight_decay": weight_decay},
                {"params": [n for n, _ in named_shapes if n.endswith("bias")]}]

    error = failure(check_decay_groups, decay_groups)
    assert error.mistakes == () and "classic mistake" not in str(error)


# --- what the messages say ------------------------------------------------------------------

def test_a_wrong_decay_names_the_parameter_its_shape_and_what_it_is():
    message = str(failure(check_decay_groups, mistake_update("decay_groups", "groups-only-biases-spared")))
    assert "the parameter '1.weight' (shape (32,), one-dimensional: a bias, or the weight or bias of a " \
           "normalisation layer) gets weight decay 0.1; it must get 0." in message
    assert "2 of the 6 parameters are wrong." not in message  # only the LayerNorm's gain is wrong in case 1


def test_a_group_without_weight_decay_is_told_it_got_adamws_default():
    message = str(failure(check_decay_groups, mistake_update("decay_groups", "groups-default-decay")))
    assert f"gets weight decay {ADAMW_DEFAULT_DECAY:g} AdamW's default, because its group does not set weight_decay" \
        in message


@pytest.mark.parametrize("returned, words", [
    (None, "returned None (no return statement?)"),
    ({"params": [], "weight_decay": 0.1}, "returned one dict"),
    ([], "returned no groups at all"),
    (["0.weight"], "group 1 is a str"),
    ([{"weight_decay": 0.0}], "group 1 has no 'params' key"),
    ([{"params": {"0.weight"}}], "group 1 lists its params in a set; torch refuses that"),
    ([{"params": "0.weight"}], "group 1's 'params' is a str"),
    ([{"params": [("0.weight", (32, 64))]}], "group 1's params holds a tuple"),
    ([{"params": ["fc.weight"], "weight_decay": 0.1}], "group 1 names 'fc.weight', which is not a parameter"),
    ([{"params": ["0.weight"], "lr": 0.1, "weight_decay": 0.1}], "group 1 sets 'lr'"),
    ([{"params": ["0.weight"], "weight_decay": -1}], "group 1's weight_decay is -1"),
])
def test_groups_of_the_wrong_shape_get_a_sentence(returned, words):
    message = str(failure(check_decay_groups, lambda named_shapes, weight_decay: returned))
    assert words in message and "classic mistake" not in message


def test_a_set_that_could_not_cross_from_the_students_process_is_named_as_a_set():
    class Opaque:  # what the autograder's wire makes of a set
        type_name = "set"

    message = str(failure(check_decay_groups, lambda named_shapes, weight_decay: [{"params": Opaque()}]))
    assert "lists its params in a set" in message


def test_a_missing_parameter_and_a_parameter_twice_are_told_apart():
    def drops_the_last(named_shapes, weight_decay):
        return decay_groups(named_shapes[:-1], weight_decay)

    message = str(failure(check_decay_groups, drops_the_last))
    assert "'3.bias' (shape (10,)" in message and "is in no group, so the optimizer would never update it" in message
    message = str(failure(check_decay_groups, mistake_update("decay_groups", "groups-parameter-twice")))
    assert "is listed 2 times; torch refuses a parameter in two groups" in message


@pytest.mark.parametrize("mistake, words", [
    ("loop-no-zero-grad", "update 2 (epoch 1 of 2, batch 2 of 3): step() found the gradients of batches 1 and 2 added"),
    ("loop-zero-grad-after-backward",
     "update 1 (epoch 1 of 2, batch 1 of 3): step() found no gradient in .grad at all"),
    ("loop-scheduler-before-step", "update 1 (epoch 1 of 2, batch 1 of 3): the scheduler had been stepped 1 time(s) "
                                   "already, so this update used the learning rate 0.05 instead of 0.1"),
    ("loop-scheduler-every-batch", "update 2 (epoch 1 of 2, batch 2 of 3): the scheduler had been stepped 1 time(s)"),
    ("loop-scheduler-never-stepped", "update 4 (epoch 2 of 2, batch 1 of 3): the scheduler had been stepped only 0 "
                                     "time(s), so this update used the learning rate 0.1 instead of 0.05"),
])
def test_a_wrong_order_is_described_at_the_update_where_it_shows(mistake, words):
    assert words in str(failure(check_train_epochs, mistake_update("train_epochs", mistake)))


def test_a_step_before_backward_is_told_it_used_the_previous_batch():
    message = str(failure(check_train_epochs, mistake_update("train_epochs", "loop-step-before-backward"),
                          thorough=True))
    assert "step() found no gradient in .grad at all" in message  # update 1; update 2 uses batch 1's
    assert "loop-step-before-backward" in failure(check_train_epochs, mistake_update(
        "train_epochs", "loop-step-before-backward")).mistakes
    case = torch_checks._loop_cases(False, 0)[0]
    outcome = torch_checks._call_loop(mistake_update("train_epochs", "loop-step-before-backward"), case)
    assert "the previous one, not of batch 2: it ran before this batch's backward()" in \
        torch_checks._update_problem(case, 1, outcome.trace.updates[1])


@pytest.mark.parametrize("returned, words", [
    (None, "returned None (no return statement?); it must return the losses"),
    ("losses", "returned a str; it must return a list of the losses"),
    ([0.0], "returned 1 number(s); it must return the 6 losses"),
    ("shifted", "returned other numbers than the losses backward() returned"),
])
def test_wrong_losses_get_a_sentence(returned, words):
    def train_epochs(batches, epochs, zero_grad, backward, step, scheduler_step):
        losses = globals()["train_epochs"](batches, epochs, zero_grad, backward, step, scheduler_step)
        return [loss + 1 for loss in losses] if returned == "shifted" else returned

    message = str(failure(check_train_epochs, train_epochs))
    assert "case 1" in message and words in message and "classic mistake" not in message


def test_too_many_updates_and_scheduler_steps_are_counted():
    def extra_update(batches, epochs, zero_grad, backward, step, scheduler_step):
        losses = globals()["train_epochs"](batches, epochs, zero_grad, backward, step, scheduler_step)
        zero_grad()
        backward(batches[0])
        step()
        return losses

    assert "called step() 7 times for 2 epoch(s) of 3 batches" in str(failure(check_train_epochs, extra_update))

    def extra_schedule(batches, epochs, zero_grad, backward, step, scheduler_step):
        losses = globals()["train_epochs"](batches, epochs, zero_grad, backward, step, scheduler_step)
        scheduler_step()
        return losses

    assert "stepped the scheduler 3 times in 2 epoch(s)" in str(failure(check_train_epochs, extra_schedule))


def test_batches_out_of_order_and_a_batch_that_is_not_one_are_explained():
    def shuffled(batches, epochs, zero_grad, backward, step, scheduler_step):
        return globals()["train_epochs"](batches[::-1], epochs, zero_grad, backward, step, scheduler_step)

    assert "use the batches in the order given" in str(failure(check_train_epochs, shuffled))

    def made_up(batches, epochs, zero_grad, backward, step, scheduler_step):
        return [backward(np.arange(3))]

    message = str(failure(check_train_epochs, made_up))
    assert "raised ValueError: backward() was given a NumPy array of shape (3,) that is not one of the batches" \
        in message and "return [backward(np.arange(3))]" in message


def test_an_exception_is_reported_with_the_learners_line():
    def train_epochs(batches, epochs, zero_grad, backward, step, scheduler_step):
        for batch in batches:
            zero_grad()
            backward(batch)
            step(batch)

    message = str(failure(check_train_epochs, train_epochs))
    assert "raised TypeError" in message and "step(batch)" in message


def test_a_function_that_prints_or_warns_is_judged_by_what_it_does(capsys):
    def train_epochs(batches, epochs, zero_grad, backward, step, scheduler_step):
        warnings.warn("chatty")
        print("epoch done")
        return globals()["train_epochs"](batches, epochs, zero_grad, backward, step, scheduler_step)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_train_epochs(train_epochs)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("check", [check_decay_groups, check_train_epochs])
@pytest.mark.parametrize("bad", [None, 0.1, "decay_groups"])
def test_something_that_is_not_a_function_is_named(check, bad):
    assert str(failure(check, bad)).startswith(f"{check.__name__} needs your function")


@pytest.mark.parametrize("check", [check_decay_groups, check_train_epochs])
@pytest.mark.parametrize("options, error", [({"thorough": 1}, TypeError), ({"seed": -1}, ValueError),
                                            ({"seed": 1.5}, ValueError), ({"seed": True}, ValueError)])
def test_bad_options_are_refused(check, options, error):
    with pytest.raises(error):
        check(ANSWERS[check.__name__.removeprefix("check_")], **options)


def test_the_numpy_model_keeps_torchs_bookkeeping():
    case = torch_checks._loop_cases(False, 0)[0]
    model = torch_checks._NumpyModel(case)
    model.step()
    assert np.all(model.params() == 0), "no gradient, no update"
    first = model.backward(0)
    one = model.grad.copy()
    model.backward(0)
    assert np.allclose(model.grad, 2 * one), "backward adds into .grad"
    model.zero_grad(set_to_none=False)
    assert np.all(model.grad == 0)
    model.backward(0)
    model.scheduler_step()
    model.step()
    assert np.allclose(model.params(), -case.lr * case.factor * one)
    assert first > 0
