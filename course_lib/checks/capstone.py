"""Lesson 14's exercise: a training recipe (an optimizer by name, its hyperparameters, a batch size,
a number of epochs and, optionally, a warm-up + cosine schedule) that must reach a target validation
accuracy within a budget.

:func:`check_recipe` checks what every test of the exercise needs before it trains: the four keys
(five with ``"schedule"``), values of the right types within the budget, an optimizer that can be
built, a warm-up shorter than the run. Both the visible and the hidden test call it, so a recipe
with a key too many or too few scores in neither. Its classic mistakes are registered here too.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

from .. import optimizers
from ..comparison import warmup_cosine
from ._calls import fail
from .mistakes import ExerciseMistake, register_exercise_mistakes

RECIPE_KEYS = ("optimizer", "hyperparameters", "batch_size", "epochs")
"""The keys every recipe has."""

OPTIONAL_KEYS = ("schedule",)
"""The keys a recipe may add."""

TRAINING_EXAMPLES = 1348
"""The digits' training set, which one epoch visits once."""

BATCH_SIZES = (16, TRAINING_EXAMPLES)
"""The smallest and largest batch size a recipe may use (the smallest keeps grading fast)."""

MAX_EPOCHS = 2
"""The budget: a recipe trains for 1 to this many epochs."""


class Recipe(NamedTuple):
    """A checked recipe, ready for ``training.fit(network, optimizer, data, batch_size=..., epochs=...,
    schedule=...)``; ``schedule`` is None for a constant learning rate."""

    optimizer: optimizers.Optimizer
    batch_size: int
    epochs: int
    schedule: object


def _whole(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_recipe(recipe) -> Recipe:
    """Check a recipe's keys, types and budget and build its optimizer and schedule.

    ``recipe["schedule"]``, when present and not None, is ``{"warmup": w}``: a linear warm-up to the
    optimizer's learning rate γ on update w, then half a cosine down to 0 on the recipe's last update
    (:func:`course_lib.comparison.warmup_cosine`). Raises :class:`~course_lib.checks.CheckFailed`
    (an ``AssertionError``) saying what is wrong, with the id of the classic mistake it is when it is one.
    """
    __tracebackhide__ = True
    wanted = ", ".join(repr(key) for key in RECIPE_KEYS)
    if not isinstance(recipe, dict):
        fail(f"choose_training() must return a dict with the keys {wanted}, got {recipe!r}.")
    missing = [key for key in RECIPE_KEYS if key not in recipe]
    extra = [key for key in recipe if key not in RECIPE_KEYS + OPTIONAL_KEYS]
    if missing or extra:
        said = ([f"has no key {', '.join(map(repr, missing))}"] if missing else []) + (
            [f"has the extra key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}"] if extra else [])
        fail(f"choose_training()'s recipe {' and '.join(said)}; it must have exactly the keys {wanted} (and "
             f"'schedule' if you use one), with the optimizer's settings (lr, momentum, ...) inside "
             f"'hyperparameters'.", ("recipe-wrong-keys",))
    names = [cls.__name__ for cls in optimizers.TORCH_FORMS]
    name, hyperparameters = recipe["optimizer"], recipe["hyperparameters"]
    if not isinstance(name, str) or name not in names:
        fail(f"'optimizer' must be one of the names {names}, got {name!r}.")
    if not isinstance(hyperparameters, dict) or not all(isinstance(key, str) for key in hyperparameters):
        fail(f"'hyperparameters' must be a dict of keyword arguments such as {{'lr': 0.01}}, got {hyperparameters!r}.")
    try:
        optimizer = getattr(optimizers, name)(**hyperparameters)
    except (TypeError, ValueError) as problem:
        fail(f"{name}(**{hyperparameters!r}) cannot be built: {problem}")
    batch_size, epochs = recipe["batch_size"], recipe["epochs"]
    low, high = BATCH_SIZES
    if not _whole(batch_size) or not low <= batch_size <= high:
        fail(f"'batch_size' must be a whole number from {low} to {high}, got {batch_size!r}.", ("recipe-over-budget",))
    if not _whole(epochs) or not 1 <= epochs <= MAX_EPOCHS:
        fail(f"'epochs' must be 1 or {MAX_EPOCHS} (the budget), got {epochs!r}.", ("recipe-over-budget",))
    updates = int(epochs) * math.ceil(TRAINING_EXAMPLES / batch_size)
    return Recipe(optimizer, int(batch_size), int(epochs), _schedule(recipe.get("schedule"), optimizer.lr, updates))


def _schedule(wanted, peak: float, updates: int):
    __tracebackhide__ = True
    if wanted is None:
        return None
    if not isinstance(wanted, dict) or set(wanted) != {"warmup"}:
        fail(f"'schedule' must be left out (a constant learning rate) or be {{'warmup': w}} (warm-up + cosine), "
             f"got {wanted!r}.")
    warmup = wanted["warmup"]
    if not _whole(warmup) or not 1 <= warmup < updates:
        fail(f"the warm-up counts updates: it must be a whole number from 1 to {updates - 1}, since your batch size "
             f"and epochs make {updates} updates in all; got {warmup!r}.", ("recipe-warmup-longer-than-run",))
    return warmup_cosine(peak, int(warmup), updates)


def _recipe(optimizer: str, *, batch_size: int = 32, epochs: int = 2, schedule=None, **hyperparameters):
    def choose_training():
        recipe = {"optimizer": optimizer, "hyperparameters": hyperparameters, "batch_size": batch_size,
                  "epochs": epochs}
        return recipe if schedule is None else {**recipe, "schedule": schedule}
    return choose_training


def _learning_rate_also_on_top():
    return {"optimizer": "Adamax", "hyperparameters": {"lr": 0.03}, "lr": 0.03, "batch_size": 32, "epochs": 2}


_learning_rate_also_on_top.__name__ = _learning_rate_also_on_top.__qualname__ = "choose_training"


register_exercise_mistakes("choose_training", [
    ExerciseMistake(
        "recipe-untuned-default-lr", "kept the library's default learning rate",
        "torch's defaults are starting points, not tuned values: look at the sweep for the learning rate "
        "that did best within a small budget.",
        _recipe("Adam")),
    ExerciseMistake(
        "recipe-over-budget", "spends more than the budget allows",
        "Count the epochs and check the batch size against the limits stated in the exercise.",
        _recipe("Adam", epochs=5, lr=0.01)),
    ExerciseMistake(
        "recipe-picked-on-one-seed", "picked the learning rate that won on one seed",
        "A setting at the edge of blowing up can win on one seed and lose on others: prefer the one whose "
        "mean over seeds is high and whose spread is small.",
        _recipe("SGD", lr=0.3)),
    ExerciseMistake(
        "recipe-wrong-keys", "the recipe's keys are not the four asked for",
        "The recipe is a dict with exactly the keys 'optimizer', 'hyperparameters', 'batch_size' and 'epochs' "
        "(and 'schedule' if you use one). The learning rate and the optimizer's other settings go inside "
        "'hyperparameters', not next to them.",
        _learning_rate_also_on_top),
    ExerciseMistake(
        "recipe-warmup-longer-than-run", "a warm-up longer than the whole run",
        "A schedule counts updates, not epochs: work out how many updates your batch size and epochs make, "
        "and end the warm-up well before the last one so that the decay has room.",
        _recipe("Adam", lr=0.03, schedule={"warmup": 200})),
])
