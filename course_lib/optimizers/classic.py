"""The textbook forms of momentum that the lessons contrast with torch's."""

from __future__ import annotations

import dataclasses

from ._base import Optimizer, check_number
from ._tree import flatten, flatten_like, unflatten


@dataclasses.dataclass(frozen=True)
class ClassicMomentum(Optimizer):
    r"""Heavy-ball momentum in the classic velocity form (Polyak 1964; Ruder 2016)::

        v_0 = 0
        v_t = momentum * v_{t-1} + lr * g_t
        theta_t = theta_{t-1} - v_t

    The learning rate sits inside the velocity. With a constant ``lr`` this is exactly
    :class:`SGD` with the same ``momentum`` (``v_t = lr * b_t``); when ``lr`` changes between
    steps, torch rescales the whole accumulated buffer at once while this form only weights the
    new gradients, so the trajectories part.

    Defaults: ``lr=1e-3`` (as ``SGD``), ``momentum=0.9``.
    """

    lr: float = 1e-3
    momentum: float = 0.9

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_number("momentum", self.momentum)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("velocity",)

    def _update(self, param, grad, slots, step, scalars):
        velocity = self.momentum * slots["velocity"]
        velocity += self.lr * grad
        return param - velocity, {"velocity": velocity}


@dataclasses.dataclass(frozen=True)
class SutskeverNesterov(Optimizer):
    r"""Nesterov's accelerated gradient in Sutskever et al.'s look-ahead form (2013, eqs. 3-4)::

        v_t     = momentum * v_{t-1} - lr * grad f(theta_{t-1} + momentum * v_{t-1})
        theta_t = theta_{t-1} + v_t,          v_0 = 0

    The gradient is taken at the look-ahead point, so the caller must evaluate it at
    ``opt.gradient_point(params, state)`` (``theta + momentum * v``), not at ``params``; the
    training loops in :mod:`course_lib.training` do this for every optimizer. With a constant
    ``lr``, the look-ahead point after each step is exactly the iterate of
    ``SGD(momentum=..., nesterov=True)``.

    Defaults: ``lr=1e-3``, ``momentum=0.9``.

    Reference: Sutskever, Martens, Dahl & Hinton (2013), On the importance of initialization
    and momentum in deep learning, ICML.
    """

    lr: float = 1e-3
    momentum: float = 0.9

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_number("momentum", self.momentum)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("velocity",)

    def gradient_point(self, params, state):
        leaves, treedef = flatten(params, "params")
        velocity = flatten_like(state["velocity"], treedef, "state['velocity']")
        return unflatten(treedef, [p + self.momentum * v for p, v in zip(leaves, velocity)])

    def _update(self, param, grad, slots, step, scalars):
        velocity = self.momentum * slots["velocity"]
        velocity -= self.lr * grad
        return param + velocity, {"velocity": velocity}
