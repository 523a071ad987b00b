"""AMSGrad in the form of Reddi et al.'s paper (torch's form is ``Adam(amsgrad=True)``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._base import Optimizer, check_betas, check_number, descend, lerp


@dataclasses.dataclass(frozen=True)
class ReddiAMSGrad(Optimizer):
    r"""AMSGrad as Algorithm 2 of Reddi, Kale & Kumar (2018), with constant lr and beta1::

        m_t    = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t    = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        vmax_t = max(vmax_{t-1}, v_t)
        theta_t = theta_{t-1} - lr * m_t / sqrt(vmax_t)

    No bias correction and no eps: this is the form the convergence proof is about. A
    coordinate that has only seen zero gradients (``vmax = 0``) is left where it is. torch's
    ``Adam(amsgrad=True)`` corrects both moments after taking the max of the raw v; optax maxes
    the corrected vhat. All three take different steps.

    Defaults: ``lr=1e-3, betas=(0.9, 0.999)``. The paper's theory also decays lr as 1/sqrt(t)
    and beta1 over time and projects onto a feasible set; pass a schedule for that.

    Reference: Reddi, Kale & Kumar (2018), On the Convergence of Adam and Beyond, ICLR.
    """

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_betas(self.betas)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def _update(self, param, grad, slots, step, scalars):
        beta1, beta2 = self.betas
        exp_avg = lerp(slots["exp_avg"], grad, 1.0 - beta1)
        exp_avg_sq = beta2 * slots["exp_avg_sq"]
        exp_avg_sq += (1.0 - beta2) * (grad * grad)
        max_exp_avg_sq = np.maximum(slots["max_exp_avg_sq"], exp_avg_sq)
        root = np.sqrt(max_exp_avg_sq)
        ratio = np.divide(exp_avg, root, out=np.zeros_like(exp_avg), where=root > 0)
        new = {"exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq, "max_exp_avg_sq": max_exp_avg_sq}
        return descend(param, ratio, self.lr), new
