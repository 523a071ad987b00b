"""AdaMax, as ``torch.optim.Adamax``, and Kingma & Ba's original form without eps."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._base import Optimizer, add_l2, check_betas, check_number, descend, lerp


@dataclasses.dataclass(frozen=True)
class Adamax(Optimizer):
    r"""Adam with the root-mean-square replaced by an infinity norm (a decaying maximum)::

        g_t <- g_t + weight_decay * theta_{t-1}                 (L2)
        m_t  = beta1 * m_{t-1} + (1 - beta1) * g_t
        u_t  = max(beta2 * u_{t-1}, |g_t| + eps)                 (eps INSIDE the max; u_0 = 0)
        theta_t = theta_{t-1} - lr / (1 - beta1^t) * m_t / u_t   (no bias correction on u)

    ``u`` needs no correction: a maximum is not pulled towards its zero start the way an
    average is. State: ``"exp_avg"`` (m) and ``"exp_inf"`` (u).

    Defaults (torch 2.13): ``lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0``. optax
    agrees; Keras adds its eps (1e-7) outside the max; the paper has no eps
    (:class:`KingmaBaAdamax`).

    Reference: Kingma & Ba (2015), Adam: A Method for Stochastic Optimization, Section 7.1,
    Algorithm 2.
    """

    lr: float = 2e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_betas(self.betas)
        check_number("eps", self.eps)
        check_number("weight_decay", self.weight_decay)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_inf")

    def _update(self, param, grad, slots, step, scalars):
        beta1, beta2 = self.betas
        grad = add_l2(grad, param, self.weight_decay)
        exp_avg = lerp(slots["exp_avg"], grad, 1.0 - beta1)
        floor = np.abs(grad)
        floor += self.eps
        exp_inf = np.maximum(beta2 * slots["exp_inf"], floor)
        step_size = self.lr / (1.0 - beta1**step)
        return descend(param, exp_avg / exp_inf, step_size), {"exp_avg": exp_avg, "exp_inf": exp_inf}


@dataclasses.dataclass(frozen=True)
class KingmaBaAdamax(Optimizer):
    r"""AdaMax exactly as Kingma & Ba's Algorithm 2, with no eps::

        m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
        u_t = max(beta2 * u_{t-1}, |g_t|)
        theta_t = theta_{t-1} - lr / (1 - beta1^t) * m_t / u_t

    A coordinate whose gradients have all been zero has ``m = u = 0``; it is left where it is.
    Equal to ``Adamax(eps=0)`` otherwise. Defaults: ``lr=2e-3, betas=(0.9, 0.999)``.

    Reference: Kingma & Ba (2015), Adam: A Method for Stochastic Optimization, Algorithm 2.
    """

    lr: float = 2e-3
    betas: tuple[float, float] = (0.9, 0.999)

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_betas(self.betas)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_inf")

    def _update(self, param, grad, slots, step, scalars):
        beta1, beta2 = self.betas
        exp_avg = lerp(slots["exp_avg"], grad, 1.0 - beta1)
        exp_inf = np.maximum(beta2 * slots["exp_inf"], np.abs(grad))
        ratio = np.divide(exp_avg, exp_inf, out=np.zeros_like(exp_avg), where=exp_inf > 0)
        step_size = self.lr / (1.0 - beta1**step)
        return descend(param, ratio, step_size), {"exp_avg": exp_avg, "exp_inf": exp_inf}
