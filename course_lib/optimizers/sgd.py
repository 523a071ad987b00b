"""Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``."""

from __future__ import annotations

import dataclasses

from ._base import Optimizer, add_l2, check_number, descend


@dataclasses.dataclass(frozen=True)
class SGD(Optimizer):
    r"""Gradient descent, heavy-ball momentum and Nesterov momentum in torch's form.

    With weight decay :math:`\lambda`, momentum :math:`\mu` and dampening :math:`\tau`::

        g_t <- g_t + lambda * theta_{t-1}                    (L2, only if weight_decay != 0)
        b_1  = g_1                                           (the buffer starts AT the gradient)
        b_t  = mu * b_{t-1} + (1 - tau) * g_t                (t > 1)
        theta_t = theta_{t-1} - lr * b_t                     (nesterov=False)
        theta_t = theta_{t-1} - lr * (g_t + mu * b_t)        (nesterov=True)

    Without momentum the update is plain ``theta - lr * g``: batch, stochastic or mini-batch
    gradient descent, depending only on which gradient you pass in.

    The Nesterov form is Sutskever et al.'s look-ahead method rewritten so that the gradient is
    taken at the stored iterate, which is the look-ahead point ``theta + mu * v`` of
    :class:`SutskeverNesterov`. The classic ``v = gamma v + eta g`` form is :class:`ClassicMomentum`;
    the two agree only while the learning rate is constant.

    Defaults (torch 2.13): ``lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False``.
    Nesterov needs ``momentum > 0`` and ``dampening == 0``.

    References: Robbins & Monro (1951), A Stochastic Approximation Method; Polyak (1964),
    Some methods of speeding up the convergence of iteration methods; Sutskever, Martens, Dahl &
    Hinton (2013), On the importance of initialization and momentum in deep learning.
    """

    lr: float = 1e-3
    momentum: float = 0.0
    dampening: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False

    def _validate(self) -> None:
        check_number("lr", self.lr)
        check_number("momentum", self.momentum)
        check_number("dampening", self.dampening)
        check_number("weight_decay", self.weight_decay)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "nesterov=True needs momentum > 0 and dampening = 0, "
                f"got momentum={self.momentum!r}, dampening={self.dampening!r}"
            )

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if self.momentum else ()

    def _update(self, param, grad, slots, step, scalars):
        grad = add_l2(grad, param, self.weight_decay)
        if not self.momentum:
            return descend(param, grad, self.lr), {}
        if step == 1:
            buf = grad.copy()
        else:
            buf = self.momentum * slots["momentum_buffer"]
            buf += (1.0 - self.dampening) * grad if self.dampening else grad
        direction = grad + self.momentum * buf if self.nesterov else buf
        return descend(param, direction, self.lr), {"momentum_buffer": buf}
