"""NAdam, as ``torch.optim.NAdam``."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._base import Optimizer, add_l2, check_betas, check_number, descend, lerp


@dataclasses.dataclass(frozen=True)
class NAdam(Optimizer):
    r"""Adam with a Nesterov look-ahead on the first moment and a momentum warm-up schedule::

        mu_t    = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))       (rises from ~beta1/2 to beta1)
        P_t     = P_{t-1} * mu_t,   P_0 = 1                            (state "mu_product")
        m_t     = beta1 * m_{t-1} + (1 - beta1) * g_t                  (the CONSTANT beta1)
        v_t     = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        d_t     = sqrt(v_t / (1 - beta2^t)) + eps
        theta_t = theta_{t-1} - lr * (1 - mu_t) / (1 - P_t) * g_t / d_t
                              - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m_t / d_t

    The second term already uses next step's momentum ``mu_{t+1}``: that is the look-ahead.
    Weight decay is L2 by default, decoupled (as AdamW) with ``decoupled_weight_decay=True``.

    Defaults (torch 2.13): ``lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False``. Keras uses ``0.96^t`` (no 0.004, so the
    warm-up ends after ~100 steps instead of ~25,000); optax keeps mu = beta1 constant.

    Reference: Dozat (2016), Incorporating Nesterov Momentum into Adam, ICLR workshop.
    """

    lr: float = 2e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum_decay: float = 4e-3
    decoupled_weight_decay: bool = False

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_betas(self.betas)
        check_number("eps", self.eps)
        check_number("weight_decay", self.weight_decay)
        check_number("momentum_decay", self.momentum_decay)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def _initial_scalars(self) -> dict:
        return {"mu_product": 1.0}

    def momentum_at(self, step: int) -> float:
        """The scheduled momentum coefficient mu_t."""
        return self.betas[0] * (1.0 - 0.5 * 0.96 ** (step * self.momentum_decay))

    def _next_scalars(self, state, step):
        return {"mu_product": state["mu_product"] * self.momentum_at(step)}

    def _update(self, param, grad, slots, step, scalars):
        beta1, beta2 = self.betas
        if self.decoupled_weight_decay:
            if self.weight_decay:
                param = param * (1.0 - self.lr * self.weight_decay)
        else:
            grad = add_l2(grad, param, self.weight_decay)
        mu, mu_next = self.momentum_at(step), self.momentum_at(step + 1)
        mu_product = scalars["mu_product"]
        exp_avg = lerp(slots["exp_avg"], grad, 1.0 - beta1)
        exp_avg_sq = beta2 * slots["exp_avg_sq"]
        exp_avg_sq += (1.0 - beta2) * (grad * grad)
        denom = np.sqrt(exp_avg_sq / (1.0 - beta2**step))
        denom += self.eps
        gradient_weight = self.lr * (1.0 - mu) / (1.0 - mu_product)
        momentum_weight = self.lr * mu_next / (1.0 - mu_product * mu_next)
        new_param = descend(param, grad / denom, gradient_weight)
        new_param -= momentum_weight * (exp_avg / denom)
        return new_param, {"exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
