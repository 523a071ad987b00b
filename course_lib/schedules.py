"""Learning-rate schedules, as ``torch.optim.lr_scheduler`` computes them.

A schedule is a function of the update number ``t`` (1 for the first update) returning the
learning rate that update uses, so it plugs into ``training.minimize(..., schedule=s)`` and
``training.fit(..., schedule=s)``. Each one here equals torch's scheduler stepped once per
update: ``s(t)`` is ``scheduler.get_last_lr()`` after ``t - 1`` calls of ``scheduler.step()``
(torch's ``last_epoch == t - 1``). Stepping per epoch instead is a matter of units: give the
sizes in updates (``step_size = epochs * updates_per_epoch``).

==========================  =====================================================================
``StepLR``                  ``lr * gamma ** ((t - 1) // step_size)``
``ExponentialLR``           ``lr * gamma ** (t - 1)``
``CosineAnnealingLR``       ``eta_min + (lr - eta_min) (1 + cos(pi (t - 1) / T_max)) / 2``
                            (Loshchilov & Hutter, 2017, SGDR without restarts)
``CosineAnnealingWarmRestarts``  the same within each cycle; cycles of ``T_0``, ``T_0 T_mult``, ...
``LinearLR``                ``lr`` times a factor going linearly from ``start_factor`` to
                            ``end_factor`` over ``total_iters`` updates, then constant
``SequentialLR``            one schedule until each milestone, then the next, restarted at 0
``OneCycleLR``              Smith & Topin (2019): from ``max_lr / div_factor`` up to ``max_lr``
                            over ``pct_start`` of the run, then down to ``initial / final_div_factor``
``InverseSqrtLR``           Vaswani et al. (2017): linear warm-up, then ``1 / sqrt(t)``
==========================  =====================================================================

Only the learning rate is scheduled here; torch's ``OneCycleLR`` also cycles the momentum
(or Adam's beta1) by default, which a course_lib optimizer keeps fixed.
"""

from __future__ import annotations

import dataclasses
import math
import numbers


def _whole(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")


def _number(name: str, value, low: float = 0.0, high: float = math.inf, *, low_open: bool = False,
            high_open: bool = True) -> None:
    fine = (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
            and (value > low if low_open else value >= low) and (value < high if high_open else value <= high))
    if not fine:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must be a number in {left}{low:g}, {high:g}{right}, got {value!r}")


class _Schedule:
    """Validation of the update number, shared by every schedule."""

    def __call__(self, t: int) -> float:
        _whole("t (the update number)", t, 1)
        return float(self.lr_at(t - 1))

    def lr_at(self, epoch: int) -> float:
        """The learning rate at torch's ``last_epoch == epoch`` (0 before the first step)."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class StepLR(_Schedule):
    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        _number("lr", self.lr)
        _whole("step_size", self.step_size, 1)
        _number("gamma", self.gamma, 0.0, low_open=True)

    def lr_at(self, epoch: int) -> float:
        return self.lr * self.gamma ** (epoch // self.step_size)


@dataclasses.dataclass(frozen=True)
class ExponentialLR(_Schedule):
    lr: float
    gamma: float

    def __post_init__(self):
        _number("lr", self.lr)
        _number("gamma", self.gamma, 0.0, low_open=True)

    def lr_at(self, epoch: int) -> float:
        return self.lr * self.gamma ** epoch


@dataclasses.dataclass(frozen=True)
class CosineAnnealingLR(_Schedule):
    """Half a cosine from ``lr`` down to ``eta_min`` over ``T_max`` updates; torch's form goes
    back up after ``T_max`` (the cosine continues), which is why runs end at ``T_max``."""

    lr: float
    T_max: int
    eta_min: float = 0.0

    def __post_init__(self):
        _number("lr", self.lr)
        _whole("T_max", self.T_max, 1)
        _number("eta_min", self.eta_min)

    def lr_at(self, epoch: int) -> float:
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


@dataclasses.dataclass(frozen=True)
class CosineAnnealingWarmRestarts(_Schedule):
    """SGDR (Loshchilov & Hutter, 2017): cosine cycles of ``T_0``, ``T_0 * T_mult``, ... updates,
    each restarting at ``lr``."""

    lr: float
    T_0: int
    T_mult: int = 1
    eta_min: float = 0.0

    def __post_init__(self):
        _number("lr", self.lr)
        _whole("T_0", self.T_0, 1)
        _whole("T_mult", self.T_mult, 1)
        _number("eta_min", self.eta_min)

    def lr_at(self, epoch: int) -> float:
        within, length = epoch % self.T_0 if self.T_mult == 1 else epoch, self.T_0
        while within >= length:  # whole cycles, counted exactly (torch's log form can round)
            within, length = within - length, length * self.T_mult
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * within / length)) / 2


@dataclasses.dataclass(frozen=True)
class LinearLR(_Schedule):
    """A linear warm-up (or decay): the factor goes from ``start_factor`` to ``end_factor``."""

    lr: float
    start_factor: float = 1.0 / 3
    end_factor: float = 1.0
    total_iters: int = 5

    def __post_init__(self):
        _number("lr", self.lr)
        _number("start_factor", self.start_factor, 0.0, 1.0, low_open=True, high_open=False)
        _number("end_factor", self.end_factor, 0.0, 1.0, high_open=False)
        _whole("total_iters", self.total_iters, 0)

    def lr_at(self, epoch: int) -> float:
        done = min(epoch, self.total_iters) / self.total_iters if self.total_iters else 1.0
        return self.lr * (self.start_factor + (self.end_factor - self.start_factor) * done)


@dataclasses.dataclass(frozen=True)
class SequentialLR(_Schedule):
    """``schedules[0]`` until ``milestones[0]``, then ``schedules[1]`` from its own start, ...:
    the usual warm-up followed by a decay."""

    schedules: tuple
    milestones: tuple

    def __post_init__(self):
        if not self.schedules or not all(isinstance(s, _Schedule) for s in self.schedules):
            raise ValueError(f"schedules must be schedules of course_lib.schedules, got {self.schedules!r}")
        if len(self.milestones) != len(self.schedules) - 1:
            raise ValueError(f"milestones must have one entry fewer than schedules ({len(self.schedules) - 1}), "
                             f"got {self.milestones!r}")
        for milestone in self.milestones:
            _whole("each milestone", milestone, 1)
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError(f"milestones must increase, got {self.milestones!r}")

    def lr_at(self, epoch: int) -> float:
        started = 0
        for schedule, milestone in zip(self.schedules, (*self.milestones, math.inf)):
            if epoch < milestone:
                return schedule.lr_at(epoch - started)
            started = milestone
        raise AssertionError("unreachable: the last milestone is infinite")


@dataclasses.dataclass(frozen=True)
class OneCycleLR(_Schedule):
    """Smith & Topin (2019): up from ``max_lr / div_factor`` to ``max_lr`` over ``pct_start`` of
    ``total_steps``, then down to ``max_lr / div_factor / final_div_factor`` (cosine or linear)."""

    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def __post_init__(self):
        _number("max_lr", self.max_lr)
        _whole("total_steps", self.total_steps, 2)
        _number("pct_start", self.pct_start, 0.0, 1.0, low_open=True)
        if self.anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {self.anneal_strategy!r}")
        _number("div_factor", self.div_factor, 0.0, low_open=True)
        _number("final_div_factor", self.final_div_factor, 0.0, low_open=True)

    def lr_at(self, epoch: int) -> float:
        initial = self.max_lr / self.div_factor
        phases = ((float(self.pct_start * self.total_steps) - 1, initial, self.max_lr),
                  (float(self.total_steps - 1), self.max_lr, initial / self.final_div_factor))
        start_step = 0.0
        for index, (end_step, start_lr, end_lr) in enumerate(phases):
            if epoch <= end_step or index == len(phases) - 1:
                fraction = (epoch - start_step) / (end_step - start_step)
                if self.anneal_strategy == "linear":
                    return (end_lr - start_lr) * fraction + start_lr
                return end_lr + (start_lr - end_lr) / 2 * (math.cos(math.pi * fraction) + 1)
            start_step = end_step
        raise AssertionError("unreachable: the last phase takes every step")


@dataclasses.dataclass(frozen=True)
class InverseSqrtLR(_Schedule):
    """The Transformer's schedule (Vaswani et al., 2017), peaking at ``lr`` after ``warmup`` updates:
    ``lr * min(t / warmup, sqrt(warmup / t))`` for update ``t``. torch has no class for it; it is
    ``LambdaLR`` with that factor."""

    lr: float
    warmup: int = 4000

    def __post_init__(self):
        _number("lr", self.lr)
        _whole("warmup", self.warmup, 1)

    def lr_at(self, epoch: int) -> float:
        t = epoch + 1
        return self.lr * min(t / self.warmup, math.sqrt(self.warmup / t))
