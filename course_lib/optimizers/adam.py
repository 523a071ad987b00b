"""Adam and AdamW (with the AMSGrad flag), as ``torch.optim.Adam`` and ``torch.optim.AdamW``."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._base import Optimizer, add_l2, check_betas, check_number, descend, lerp


@dataclasses.dataclass(frozen=True)
class Adam(Optimizer):
    r"""Momentum on the gradient, RMSProp scaling, and bias correction for both averages::

        L2 (default):   g_t <- g_t + weight_decay * theta_{t-1}
        decoupled:      theta <- theta * (1 - lr * weight_decay)     (before the step, AdamW)
        m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        amsgrad:  vmax_t = max(vmax_{t-1}, v_t)   (max of the RAW v), used instead of v_t below
        theta_t = theta - lr * mhat_t / (sqrt(vhat_t) + eps),
                  mhat_t = m_t / (1 - beta1^t),  vhat_t = v_t / (1 - beta2^t)

    ``t`` counts from 1, so the corrections never divide by zero; at ``t = 1`` they make the
    first step exactly ``lr * sign(g)`` (when eps is negligible). State: ``"exp_avg"`` (m),
    ``"exp_avg_sq"`` (v) and, with ``amsgrad=True``, ``"max_exp_avg_sq"`` (vmax).

    Defaults (torch 2.13): ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    amsgrad=False, decoupled_weight_decay=False``. beta2 is 0.999, not 0.99. Keras and
    TensorFlow add their eps (1e-7) to the *uncorrected* sqrt(v); torch and the paper add it
    to sqrt(vhat). torch's AMSGrad maxes the raw v and then corrects it; Reddi et al.'s paper
    has no correction (:class:`ReddiAMSGrad`), optax maxes the corrected vhat.

    References: Kingma & Ba (2015), Adam: A Method for Stochastic Optimization, ICLR,
    Algorithm 1; Loshchilov & Hutter (2019), Decoupled Weight Decay Regularization, ICLR;
    Reddi, Kale & Kumar (2018), On the Convergence of Adam and Beyond, ICLR.
    """

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False
    decoupled_weight_decay: bool = False

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_betas(self.betas)
        check_number("eps", self.eps)
        check_number("weight_decay", self.weight_decay)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def _update(self, param, grad, slots, step, scalars):
        beta1, beta2 = self.betas
        if self.decoupled_weight_decay:
            if self.weight_decay:
                param = param * (1.0 - self.lr * self.weight_decay)
        else:
            grad = add_l2(grad, param, self.weight_decay)
        new = {"exp_avg": lerp(slots["exp_avg"], grad, 1.0 - beta1)}
        new["exp_avg_sq"] = beta2 * slots["exp_avg_sq"]
        new["exp_avg_sq"] += (1.0 - beta2) * (grad * grad)
        second_moment = new["exp_avg_sq"]
        if self.amsgrad:
            second_moment = new["max_exp_avg_sq"] = np.maximum(slots["max_exp_avg_sq"], second_moment)
        step_size = self.lr / (1.0 - beta1**step)
        denom = np.sqrt(second_moment)
        denom /= (1.0 - beta2**step) ** 0.5
        denom += self.eps
        return descend(param, new["exp_avg"] / denom, step_size), new


@dataclasses.dataclass(frozen=True)
class AdamW(Adam):
    r"""Adam with decoupled weight decay, as ``torch.optim.AdamW``::

        theta <- theta * (1 - lr * weight_decay)      then the Adam step of :class:`Adam`

    The decay shrinks the weights directly instead of passing through the adaptive scaling,
    so every weight decays at the same relative rate. ``torch.optim.Adam(weight_decay=...)``
    is L2 regularisation, not this.

    Defaults (torch 2.13): as :class:`Adam`, but ``weight_decay=1e-2``. optax's default is 1e-4
    and Keras's 0.004. The paper scales the decay by the schedule multiplier, the libraries by
    lr: paper lambda = torch ``weight_decay * lr`` when the schedule is constant.

    Reference: Loshchilov & Hutter (2019), Decoupled Weight Decay Regularization, ICLR.
    """

    weight_decay: float = 1e-2
    decoupled_weight_decay: bool = dataclasses.field(default=True, init=False)
