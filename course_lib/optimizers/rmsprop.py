"""RMSProp, as ``torch.optim.RMSprop``."""

from __future__ import annotations

import dataclasses

import numpy as np

from ._base import Optimizer, add_l2, check_number, descend, lerp


@dataclasses.dataclass(frozen=True)
class RMSprop(Optimizer):
    r"""Divide each gradient by the root of a leaky average of its recent squares::

        g_t <- g_t + weight_decay * theta_{t-1}                       (L2)
        v_t  = alpha * v_{t-1} + (1 - alpha) * g_t^2
        centered:  gbar_t = alpha * gbar_{t-1} + (1 - alpha) * g_t;  d_t = sqrt(v_t - gbar_t^2) + eps
        otherwise: d_t = sqrt(v_t) + eps                              (eps OUTSIDE the root)
        momentum > 0:  b_t = momentum * b_{t-1} + g_t / d_t;  theta_t = theta_{t-1} - lr * b_t   (b_0 = 0)
        otherwise:     theta_t = theta_{t-1} - lr * g_t / d_t

    State: ``"square_avg"`` (v), ``"grad_avg"`` (gbar, centered only), ``"momentum_buffer"``
    (b, momentum only). Plain RMSProp has no momentum: it is AdaGrad with the running sum
    replaced by a leaky average, so old gradients are forgotten.

    Defaults (torch 2.13): ``lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False``. Hinton's slides use 0.9 for the average (optax's and Keras's default);
    TensorFlow, Keras and optax put eps inside the root.

    References: Hinton, Srivastava & Swersky (2012), Neural Networks for Machine Learning,
    lecture 6e; Graves (2013), Generating Sequences With Recurrent Neural Networks,
    arXiv:1308.0850 (centered and momentum variant).
    """

    lr: float = 1e-2
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum: float = 0.0
    centered: bool = False

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_number("alpha", self.alpha, 0.0, 1.0)
        check_number("eps", self.eps)
        check_number("weight_decay", self.weight_decay)
        check_number("momentum", self.momentum)

    @property
    def slot_names(self) -> tuple[str, ...]:
        names = ("square_avg",)
        if self.centered:
            names += ("grad_avg",)
        if self.momentum > 0:
            names += ("momentum_buffer",)
        return names

    def _update(self, param, grad, slots, step, scalars):
        grad = add_l2(grad, param, self.weight_decay)
        new = {"square_avg": self.alpha * slots["square_avg"]}
        new["square_avg"] += (1.0 - self.alpha) * (grad * grad)
        if self.centered:
            new["grad_avg"] = lerp(slots["grad_avg"], grad, 1.0 - self.alpha)
            # max(., 0): in floating point v - gbar^2 can round just below zero when the gradient
            # barely varies; torch's fused multiply-add gives exactly 0 there.
            denom = np.sqrt(np.maximum(new["square_avg"] - new["grad_avg"] * new["grad_avg"], 0.0))
        else:
            denom = np.sqrt(new["square_avg"])
        denom += self.eps
        scaled = grad / denom
        if self.momentum > 0:
            new["momentum_buffer"] = self.momentum * slots["momentum_buffer"]
            new["momentum_buffer"] += scaled
            return descend(param, new["momentum_buffer"], self.lr), new
        return descend(param, scaled, self.lr), new
