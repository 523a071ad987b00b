"""The capstone's bookkeeping: a fair learning-rate race between optimizers, and its verdicts.

A race trains one network with every optimizer at every learning rate of its grid, with the
same seeds and budget. :func:`best_learning_rates` then picks, per optimizer, the rate with the
best mean validation accuracy (ties: lower validation loss), counting a rate at which any seed
blew up as unusable. :func:`seconds_per_call` times optimizer steps against a gradient, fairly
on a busy machine. :func:`learner_contestants` lets a learner's own update functions race.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from . import training

#: Which lesson's update function can drive which contestant of the race.
DRIVES = {
    "momentum_update": ("SGD", "SGD + momentum"),
    "nesterov_update": ("Nesterov",),
    "adagrad_update": ("Adagrad",),
    "adadelta_update": ("Adadelta",),
    "rmsprop_update": ("RMSprop",),
    "adam_update": ("Adam", "AdamW"),
    "adamax_update": ("Adamax",),
    "nadam_update": ("NAdam",),
    "amsgrad_update": ("AMSGrad",),
}


def race(network, contestants: dict, grids: dict, data, *, seeds=(0, 1, 2), budget: dict, names=None,
         progress=print) -> dict:
    """``{name: {lr: [History per seed]}}`` for the ``names`` (default: all) of ``contestants``.

    ``budget`` holds ``batch_size`` and ``epochs``; every run gets the same. ``progress`` is
    told how many runs took how long (``None`` to stay quiet).
    """
    names = list(contestants if names is None else names)
    unknown = [name for name in names if name not in contestants or name not in grids]
    if unknown:
        raise ValueError(f"no contestant or no learning-rate grid for {unknown}")
    started = time.perf_counter()
    sweep = {name: {lr: [training.fit(network, dataclasses.replace(contestants[name], lr=lr), data, seed=seed,
                                      **budget) for seed in seeds]
                    for lr in grids[name]}
             for name in names}
    if progress is not None:
        runs = sum(len(grids[name]) for name in names) * len(seeds)
        progress(f"{', '.join(names)}: {runs} training runs in {time.perf_counter() - started:.1f} s")
    return sweep


def final(runs, field: str) -> np.ndarray:
    """The last value of ``field`` (e.g. ``"val_accuracies"``) of each run; NaN for a run that blew up."""
    return np.array([np.nan if run.diverged else getattr(run, field)[-1] for run in runs])


def _selection_key(runs) -> tuple[float, float]:
    accuracy, loss = final(runs, "val_accuracies"), final(runs, "val_losses")
    if np.isnan(accuracy).any():
        return (-math.inf, -math.inf)
    return (float(accuracy.mean()), -float(loss.mean()))


def best_learning_rates(sweep: dict) -> dict:
    """``{name: lr}``: the rate with the best mean validation accuracy, then the lower loss."""
    return {name: max(runs_by_lr, key=lambda lr: _selection_key(runs_by_lr[lr]))
            for name, runs_by_lr in sweep.items()}


def mean_curve(runs, field: str) -> np.ndarray:
    """``field`` per epoch, averaged over the runs (the seeds)."""
    return np.mean([getattr(run, field) for run in runs], axis=0)


def seconds_per_call(calls: dict, *, repeats: int = 7, number: int = 50) -> dict:
    """Seconds per call of each function: the best of ``repeats`` timings of ``number`` calls.

    Other work on the machine only ever adds time, and the functions take turns, so a busy
    moment slows one repeat of each rather than all repeats of one.
    """
    best = dict.fromkeys(calls, math.inf)
    for _ in range(repeats):
        for key, call in calls.items():
            started = time.perf_counter()
            for _ in range(number):
                call()
            best[key] = min(best[key], (time.perf_counter() - started) / number)
    return best


def learner_contestants(updates, contestants: dict, *, report=print) -> dict:
    """``{contestant name: optimizer}`` for each of the learner's update functions that passes its check.

    A function is matched to contestants by its name (:data:`DRIVES`) and checked against each
    one's configuration; one that fails stays out of the race, and ``report`` says why.
    """
    from . import checks

    chosen = {}
    for update in updates:
        function_name = getattr(update, "__name__", repr(update))
        if function_name not in DRIVES:
            report(f"{function_name}: not one of the lessons' update functions ({', '.join(DRIVES)}); skipped.")
        for name in DRIVES.get(function_name, ()):
            try:
                checks.check_update(update, dataclasses.replace(contestants[name], lr=0.1))
            except checks.CheckFailed as problem:
                report(f"{name}: your {function_name} is not right yet, so it stays out of the race.\n{problem}\n")
            else:
                chosen[name] = checks.learner_optimizer(update, like=contestants[name])
    return chosen
