"""AdaGrad, as ``torch.optim.Adagrad``."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._base import Optimizer, add_l2, check_number, descend


@dataclasses.dataclass(frozen=True)
class Adagrad(Optimizer):
    r"""Per-coordinate steps that shrink with the sum of all past squared gradients::

        g_t   <- g_t + weight_decay * theta_{t-1}                 (L2, if weight_decay != 0)
        lr_t   = lr / (1 + (t - 1) * lr_decay)                    (the first step is undecayed)
        s_t    = s_{t-1} + g_t^2,        s_0 = initial_accumulator_value
        theta_t = theta_{t-1} - lr_t * g_t / (sqrt(s_t) + eps)    (eps OUTSIDE the root)

    State ``"sum"`` is :math:`s_t`. The effective per-coordinate step ``lr_t / (sqrt(s_t) + eps)``
    can only shrink, which is AdaGrad's strength on sparse features and its weakness on long runs.

    Defaults (torch 2.13): ``lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10``. Keras and optax put eps inside the root and start the sum at 0.1; ``lr_decay``
    is torch's addition, not in the paper.

    Reference: Duchi, Hazan & Singer (2011), Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization, JMLR 12.
    """

    lr: float = 1e-2
    lr_decay: float = 0.0
    weight_decay: float = 0.0
    initial_accumulator_value: float = 0.0
    eps: float = 1e-10

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_number("lr_decay", self.lr_decay)
        check_number("weight_decay", self.weight_decay)
        check_number("initial_accumulator_value", self.initial_accumulator_value)
        check_number("eps", self.eps)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("sum",)

    def _initial_slot(self, name, param):
        return np.full_like(param, self.initial_accumulator_value)

    def _update(self, param, grad, slots, step, scalars):
        grad = add_l2(grad, param, self.weight_decay)
        decayed_lr = self.lr / (1 + (step - 1) * self.lr_decay)
        total = slots["sum"] + grad * grad
        denom = np.sqrt(total)
        denom += self.eps
        return descend(param, grad / denom, decayed_lr), {"sum": total}
