"""The capstone's bookkeeping: a fair learning-rate race between optimizers, and its verdicts.

A race trains one network with every optimizer at every learning rate γ of its grid, with the
same seeds and budget (optionally with a schedule whose peak is that γ). :func:`best_learning_rates`
then picks, per optimizer, the γ with the best mean validation accuracy (ties: lower validation
loss), counting a γ at which any seed blew up as unusable. :func:`results_table`,
:func:`grid_table` and :func:`schedule_table` print what a race found. :func:`update_costs` times
one gradient and one optimizer step, fairly on a busy machine. :func:`learner_contestants` and
:func:`replay_learner_runs` let a learner's own update functions race.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time

import numpy as np

from . import schedules, training

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


def warmup_cosine(peak: float, warmup: int, total: int) -> schedules.SequentialLR | schedules.CosineAnnealingLR:
    """A linear warm-up to ``peak`` on update ``warmup``, then half a cosine down to 0 on update ``total``.

    It is torch's ``SequentialLR(LinearLR(start_factor=1/warmup, total_iters=warmup - 1),
    CosineAnnealingLR(T_max=total - warmup), milestones=[warmup - 1])`` stepped after every update,
    the curve of lesson 13's first exercise with a floor of 0 (``warmup == 1``: the cosine alone).
    """
    from .checks.schedule_checks import warmup_cosine_schedule

    whole = [isinstance(value, numbers.Integral) and not isinstance(value, bool) for value in (warmup, total)]
    if not all(whole) or not 1 <= warmup < total:
        raise ValueError(f"warmup and total must be whole numbers with 1 <= warmup < total, got {warmup!r} and "
                         f"{total!r}")
    return warmup_cosine_schedule(peak, int(warmup), int(total), 0.0)


def race(network, contestants: dict, grids: dict, data, *, seeds=(0, 1, 2), budget: dict, names=None,
         schedule=None, progress=print) -> dict:
    """``{name: {lr: [History per seed]}}`` for the ``names`` (default: all) of ``contestants``.

    ``budget`` holds ``batch_size`` and ``epochs``; every run gets the same. ``schedule``, if
    given, turns a grid's γ into the schedule of that run (γ is then the schedule's peak), e.g.
    ``lambda peak: warmup_cosine(peak, 21, 215)``. ``progress`` is told how many runs took how
    long (``None`` to stay quiet).
    """
    names = list(contestants if names is None else names)
    unknown = [name for name in names if name not in contestants or name not in grids]
    if unknown:
        raise ValueError(f"no contestant or no learning-rate grid for {unknown}")
    started = time.perf_counter()
    sweep = {name: {lr: [training.fit(network, dataclasses.replace(contestants[name], lr=lr), data, seed=seed,
                                      schedule=None if schedule is None else schedule(lr), **budget)
                         for seed in seeds]
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


def _on_edge(sweep: dict, name: str, lr: float) -> bool:
    grid = sorted(sweep[name])
    return lr in (grid[0], grid[-1])


def results_table(sweep: dict, best: dict) -> str:
    """One line per optimizer: its grid, the chosen γ, mean ± standard deviation over the seeds of the
    final validation accuracy, the mean validation loss, the median seconds in updates, and how
    many runs of the grid blew up. A chosen γ on the edge of its grid is starred."""
    lines = [f"{'optimizer':16s} {'learning rates tried':24s} {'best lr':>7s}   {'val accuracy':^13s}  "
             f"{'val loss':>8s}  {'update s':>8s}  {'blew up':>7s}"]
    for name, runs_by_lr in sweep.items():
        runs = runs_by_lr[best[name]]
        accuracy = final(runs, "val_accuracies")
        spread = accuracy.std(ddof=1) if len(accuracy) > 1 else math.nan
        blew_up = sum(run.diverged is not None for runs_at_lr in runs_by_lr.values() for run in runs_at_lr)
        tried = sum(len(runs_at_lr) for runs_at_lr in runs_by_lr.values())
        lines.append(f"{name:16s} {' '.join(f'{lr:g}' for lr in runs_by_lr):24s} {best[name]:>7g}"
                     f"{'*' if _on_edge(sweep, name, best[name]) else ' '}  {accuracy.mean():.3f} ± {spread:.3f}  "
                     f"{final(runs, 'val_losses').mean():8.3f}  {np.median([run.seconds for run in runs]):8.3f}  "
                     f"{blew_up:>3d} / {tried}")
    lines.append("val accuracy and loss: mean over the seeds at the best lr; update s: median seconds spent in "
                 "updates; blew up: runs of the whole grid.")
    if any(_on_edge(sweep, name, best[name]) for name in sweep):
        lines.append("* the best learning rate is on the edge of its grid: widen the grid before trusting that row.")
    return "\n".join(lines)


def grid_table(sweep: dict, best: dict) -> str:
    """The mean final validation accuracy at every γ of every grid: ``x`` where a seed blew up,
    ``[...]`` around the chosen γ, and ``v`` after the γ with the lowest mean final training loss."""
    lines = ["mean final validation accuracy at each learning rate of the grid (x: a seed blew up; "
             "[ ]: chosen; v: lowest mean training loss)"]
    for name, runs_by_lr in sweep.items():
        training_losses = {lr: final(runs, "train_losses").mean() for lr, runs in runs_by_lr.items()}
        healthy = {lr: loss for lr, loss in training_losses.items() if not math.isnan(loss)}
        lowest = min(healthy, key=healthy.get) if healthy else None
        cells = []
        for lr, runs in runs_by_lr.items():
            accuracy = final(runs, "val_accuracies")
            text = f"{lr:g}: " + ("x" if np.isnan(accuracy).any() else f"{accuracy.mean():.3f}")
            lowest_mark = "v" if lr == lowest else ""
            cells.append(f"{f'[{text}]' if lr == best[name] else f' {text}'}{lowest_mark}".ljust(16))
        lines.append(f"  {name:16s}" + "".join(cells).rstrip())
    return "\n".join(lines)


def schedule_table(constant: dict, scheduled: dict) -> str:
    """Constant γ against a schedule with peak γ, for every name and γ of ``scheduled`` (``constant``
    must hold the same runs at a constant rate): final validation accuracy (mean ± standard deviation
    over the seeds), validation loss and training loss, means over the seeds."""
    def summary(runs) -> str:
        accuracy = final(runs, "val_accuracies")
        if np.isnan(accuracy).any():
            return f"{'a seed blew up':^35s}"
        return (f"{accuracy.mean():.3f} ± {accuracy.std(ddof=1):.3f}  {final(runs, 'val_losses').mean():8.3f}  "
                f"{final(runs, 'train_losses').mean():10.4f}")

    columns = f"{'val accuracy':^13s}  {'val loss':>8s}  {'train loss':>10s}"
    lines = [f"{'':16s} {'peak lr':>7s}   {'constant rate':^35s}   {'warm-up + cosine':^35s}",
             f"{'':16s} {'':7s}   {columns}   {columns}"]
    for name, runs_by_lr in scheduled.items():
        for lr, runs in runs_by_lr.items():
            lines.append(f"{name:16s} {lr:>7g}   {summary(constant[name][lr])}   {summary(runs)}")
    lines.append("means over the seeds of the final values; val accuracy: mean ± standard deviation.")
    return "\n".join(lines)


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


def update_costs(network, optimizers: dict, data, *, batch_size: int, repeats: int = 7,
                 number: int = 50) -> tuple[float, dict]:
    """``(gradient seconds, {name: step seconds})``: what one update of a race costs.

    The gradient of the network's loss on the first ``batch_size`` training examples, and one step
    of each optimizer with that gradient, timed by :func:`seconds_per_call`.
    """
    params = network.init_params(0)
    batch = (data.X_train[:batch_size], data.y_train[:batch_size])
    _, grads = network.loss_and_grad(params, *batch)

    def one_step(optimizer):
        state = optimizer.init(params)
        return lambda: optimizer.step(params, grads, state)

    timings = seconds_per_call({"gradient": lambda: network.loss_and_grad(params, *batch),
                                **{name: one_step(optimizer) for name, optimizer in optimizers.items()}},
                               repeats=repeats, number=number)
    gradient = timings.pop("gradient")
    return gradient, timings


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


def replay_learner_runs(yours: dict, sweep: dict, best: dict, network, data, *, seeds, budget: dict,
                        report=print) -> dict:
    """Train with each of the learner's optimizers (from :func:`learner_contestants`) as the race did.

    Each one trains at its contestant's chosen γ (``best``) with the race's first seed and budget,
    and is compared with the race's run of that seed: ``report`` gets both final accuracies and the
    largest relative difference of the final weights (a correct function agrees to rounding), or
    why the learner's run stopped. Returns ``{name: History}`` for the runs that ended.
    """
    from . import checks

    if not yours:
        report("No functions of yours in the race: paste them in section 3 to see them here.")
    runs = {}
    for name, optimizer in yours.items():
        reference = sweep[name][best[name]][0]
        try:
            mine = training.fit(network, dataclasses.replace(optimizer, lr=best[name]), data, seed=seeds[0], **budget)
        except checks.CheckFailed as problem:
            report(f"{name}: your function stopped the training.\n{problem}\n")
            continue
        runs[name] = mine
        if mine.diverged:
            report(f"{name}: your run blew up where the reference did not. {mine.diverged}")
            continue
        largest = max(checks.rel_error(reference.params[key], mine.params[key]) for key in reference.params)
        report(f"{name:16s} lr={best[name]:<6g} yours: val accuracy {mine.val_accuracies[-1]:.3f}, reference: "
               f"{reference.val_accuracies[-1]:.3f}; largest relative difference in the final weights {largest:.1e}")
    return runs
