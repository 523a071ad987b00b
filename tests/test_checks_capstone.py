"""The capstone's exercise check: a recipe's keys, types and budget, its optional warm-up + cosine
schedule, and every registered mistake refused or, for the ones only training can reveal, short of
the target."""

from __future__ import annotations

import numpy as np
import pytest
from check_failures import failure

from course_lib import comparison, data, models, training
from course_lib.checks import mistake_update, mistakes_for
from course_lib.checks.capstone import Recipe, check_recipe
from course_lib.optimizers import SGD, Adam, Adamax

HIDDEN_SEEDS = (7, 1234, 90210, 31337, 2024)


def recipe(**changes):
    return {"optimizer": "Adamax", "hyperparameters": {"lr": 0.03}, "batch_size": 32, "epochs": 2, **changes}


def mean_accuracy(checked: Recipe) -> float:
    digits, network = data.load_digits(), models.MLP(64, 10, hidden=(32,))
    runs = [training.fit(network, checked.optimizer, digits, batch_size=checked.batch_size, epochs=checked.epochs,
                         schedule=checked.schedule, seed=seed) for seed in HIDDEN_SEEDS]
    assert not any(run.diverged for run in runs)
    return float(np.mean([run.val_accuracies[-1] for run in runs]))


def test_a_recipe_without_a_schedule_trains_at_a_constant_rate():
    checked = check_recipe(recipe())
    assert checked == Recipe(Adamax(lr=0.03), 32, 2, None)
    assert check_recipe(recipe(schedule=None)).schedule is None


def test_a_warmup_builds_the_capstones_warmup_cosine_over_the_recipes_own_updates():
    checked = check_recipe(recipe(optimizer="Adam", batch_size=64, schedule={"warmup": np.int64(5)}))
    updates = 2 * 22  # two epochs of ceil(1348 / 64) batches
    expected = comparison.warmup_cosine(0.03, 5, updates)
    assert [checked.schedule(t) for t in range(1, updates + 1)] == [expected(t) for t in range(1, updates + 1)]
    assert checked.optimizer == Adam(lr=0.03) and (checked.batch_size, checked.epochs) == (64, 2)


def test_a_scheduled_recipe_can_reach_the_target():
    assert mean_accuracy(check_recipe(recipe(optimizer="Adam", schedule={"warmup": 8}))) >= 0.96


@pytest.mark.parametrize("schedule, said", [
    ({"warmup": 86}, "from 1 to 85"),
    ({"warmup": 0}, "from 1 to 85"),
    ({"warmup": 8.0}, "from 1 to 85"),
    ({"warmup": True}, "from 1 to 85"),
    ({"warmup": 8, "floor": 0.0}, "{'warmup': w}"),
    ("warmup_cosine", "{'warmup': w}"),
])
def test_a_schedule_that_does_not_fit_the_run_is_explained(schedule, said):
    caught = failure(check_recipe, recipe(schedule=schedule))
    assert said in str(caught)


def test_the_warmup_counts_updates_of_the_recipes_own_batches():
    assert check_recipe(recipe(batch_size=16, epochs=1, schedule={"warmup": 84})).schedule is not None
    assert "from 1 to 84" in str(failure(check_recipe, recipe(batch_size=16, epochs=1, schedule={"warmup": 85})))


@pytest.mark.parametrize("changes, said", [
    ({"lr": 0.03}, "extra key 'lr'"),
    ({"scheduler": {"warmup": 8}}, "extra key 'scheduler'"),
    ({"batch_size": 8}, "'batch_size'"),
    ({"epochs": 3}, "'epochs'"),
    ({"optimizer": "Lion"}, "'optimizer'"),
    ({"hyperparameters": {"lr": -1.0}}, "cannot be built"),
])
def test_a_recipe_outside_the_rules_says_what_is_wrong(changes, said):
    assert said in str(failure(check_recipe, recipe(**changes)))


def test_the_missing_keys_are_named_and_the_schedule_is_mentioned():
    message = str(failure(check_recipe, {"optimizer": "SGD", "hyperparameters": {}}))
    assert "'batch_size', 'epochs'" in message and "'schedule' if you use one" in message


REFUSED = {"recipe-over-budget", "recipe-wrong-keys", "recipe-warmup-longer-than-run"}


@pytest.mark.parametrize("mistake", [m.id for m in mistakes_for("choose_training")])
def test_every_registered_mistake_is_refused_or_misses_the_target(mistake):
    wrong = mistake_update("choose_training", mistake)()
    if mistake in REFUSED:
        assert mistake in failure(check_recipe, wrong).mistakes
    else:
        assert mean_accuracy(check_recipe(wrong)) < 0.96


def test_the_registered_mistakes_are_these_five():
    assert REFUSED | {"recipe-untuned-default-lr", "recipe-picked-on-one-seed"} == {
        m.id for m in mistakes_for("choose_training")}


def test_the_solution_reaches_the_target_and_sgd_alone_has_no_momentum():
    assert mean_accuracy(check_recipe(recipe())) >= 0.96
    assert check_recipe(recipe(optimizer="SGD", hyperparameters={"lr": 0.3})).optimizer == SGD(lr=0.3)
