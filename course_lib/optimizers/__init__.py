"""Reference optimizers: ``torch.optim``'s eight, plus the paper forms the lessons contrast.

Every class has the same pure, explicit-state interface (see :mod:`._base`)::

    opt = Adam(lr=0.01)
    state = opt.init(params)
    params, state = opt.step(params, grads, state)

Names, hyperparameters and defaults are those of ``torch.optim`` 2.13, and the numbers agree
with it to round-off in float64. The paper forms carry their authors' names.
"""

from ._base import Optimizer
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax, KingmaBaAdamax
from .amsgrad import ReddiAMSGrad
from .classic import ClassicMomentum, SutskeverNesterov
from .nadam import NAdam
from .rmsprop import RMSprop
from .sgd import SGD

TORCH_FORMS = (SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW, Adamax, NAdam)
PAPER_FORMS = (ClassicMomentum, SutskeverNesterov, KingmaBaAdamax, ReddiAMSGrad)

__all__ = [cls.__name__ for cls in TORCH_FORMS + PAPER_FORMS] + ["Optimizer", "TORCH_FORMS", "PAPER_FORMS"]
