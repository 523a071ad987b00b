"""AdaDelta, as ``torch.optim.Adadelta``."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._base import Optimizer, add_l2, check_number, descend


@dataclasses.dataclass(frozen=True)
class Adadelta(Optimizer):
    r"""Steps measured in the units of the parameter: RMS of past steps over RMS of gradients::

        g_t    <- g_t + weight_decay * theta_{t-1}                    (L2)
        v_t     = rho * v_{t-1} + (1 - rho) * g_t^2
        delta_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t         (OLD u, NEW v; eps inside both)
        u_t     = rho * u_{t-1} + (1 - rho) * delta_t^2               (the unscaled step)
        theta_t = theta_{t-1} - lr * delta_t

    State: ``"square_avg"`` is :math:`v_t`, ``"acc_delta"`` is :math:`u_t`, both starting at 0.
    Zeiler's paper has no learning rate at all; torch's ``lr`` (default 1.0, which is the paper)
    only multiplies the step and does not feed back into ``u``. Because ``u_0 = 0``, ``eps``
    sets the size of the first steps.

    Defaults (torch 2.13): ``lr=1.0, rho=0.9, eps=1e-6, weight_decay=0``. The paper's experiments
    used rho = 0.95; Keras defaults to lr=1e-3, rho=0.95, eps=1e-7.

    Reference: Zeiler (2012), ADADELTA: An Adaptive Learning Rate Method, arXiv:1212.5701.
    """

    lr: float = 1.0
    rho: float = 0.9
    eps: float = 1e-6
    weight_decay: float = 0.0

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_number("rho", self.rho, 0.0, 1.0)
        check_number("eps", self.eps)
        check_number("weight_decay", self.weight_decay)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("square_avg", "acc_delta")

    def _update(self, param, grad, slots, step, scalars):
        grad = add_l2(grad, param, self.weight_decay)
        square_avg = self.rho * slots["square_avg"]
        square_avg += (1.0 - self.rho) * (grad * grad)
        delta = np.sqrt(slots["acc_delta"] + self.eps)
        delta /= np.sqrt(square_avg + self.eps)
        delta *= grad
        acc_delta = self.rho * slots["acc_delta"]
        acc_delta += (1.0 - self.rho) * (delta * delta)
        return descend(param, delta, self.lr), {"square_avg": square_avg, "acc_delta": acc_delta}
