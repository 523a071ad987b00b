"""The catalogue of classic mistakes in optimizer updates, each with a wrong answer that makes it.

Every :class:`Mistake` has a stable ``id``, a ``name`` and a ``hint`` written for learners (the
hint points the way without giving the code), the optimizer classes it concerns, and for each of
them a *mutant*: a wrong update ``(optimizer, param, gradient, state) -> (new_param, new_state)``
written the way a learner slips. The list follows the pitfalls of ``optimizer-spec.md``.

:func:`course_lib.checks.check_update` names a mistake when the learner's results equal its
mutant's on the same inputs at every step of every case. Notebook and grader tests get a mutant
in the learner's signature from :func:`mistake_update` and use it as a simulated wrong answer::

    wrong = mistake_update("adam_update", "adam-no-bias-correction")
    wrong(param, grad, state, lr=0.1)      # what a learner who forgot the correction returns
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Callable, Iterator, Mapping

import numpy as np

from ..optimizers import (SGD, Adadelta, Adagrad, Adam, Adamax, ClassicMomentum, NAdam, Optimizer, RMSprop,
                          SutskeverNesterov)
from ._calls import Outcome, UpdateForm, call_update, reference_step, update_form, update_function
from ._compare import outcomes_agree

WrongStep = Callable[[Optimizer, np.ndarray, object, dict], tuple]


def _always(optimizer: Optimizer) -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class Mistake:
    """One classic mistake: how to name it, how to hint at the fix, and a wrong update per optimizer."""

    id: str
    name: str
    hint: str
    mutants: Mapping[type, WrongStep]
    shows_when: Callable[[Optimizer], bool] = _always
    """The hyperparameters under which the mistake changes anything (e.g. ``weight_decay > 0``)."""

    @property
    def optimizers(self) -> tuple[type, ...]:
        """The optimizer classes it concerns (their subclasses too)."""
        return tuple(self.mutants)

    def mutant_for(self, cls: type) -> WrongStep | None:
        """The wrong update for optimizer class ``cls``, or None if the mistake does not concern it."""
        return next((self.mutants[base] for base in cls.__mro__ if base in self.mutants), None)

    def applies(self, optimizer: Optimizer) -> bool:
        """Whether a learner checked against ``optimizer`` can make this mistake and be told so."""
        return self.mutant_for(type(optimizer)) is not None and self.shows_when(optimizer)


def _variant(optimizer: Optimizer, **changes) -> Optimizer:
    """``optimizer`` with some hyperparameters changed, as the nearest class that lets them be set."""
    cls = next(c for c in type(optimizer).__mro__
               if all(f.init for f in dataclasses.fields(c) if f.name in changes))
    values = {f.name: getattr(optimizer, f.name) for f in dataclasses.fields(cls) if f.init}
    return cls(**{**values, **changes})


# --- mistakes any optimizer can suffer ----------------------------------------------------

def _ascends(optimizer, param, gradient, state):
    new_param, new_state = reference_step(optimizer, param, gradient, state)
    return param - (new_param - param), new_state


def _writes_into_inputs(optimizer, param, gradient, state):
    new_param, new_state = reference_step(optimizer, param, gradient, state)
    param[...] = new_param
    for key, value in new_state.items():
        if isinstance(state[key], np.ndarray):
            state[key][...] = value
        else:
            state[key] = value
    return param, state


def _keeps_step(optimizer, param, gradient, state):
    new_param, new_state = reference_step(optimizer, param, gradient, state)
    return new_param, {**new_state, "step": state["step"]}


def _returns_given_state(optimizer, param, gradient, state):
    new_param, _ = reference_step(optimizer, param, gradient, state)
    return new_param, state


def _ignores_weight_decay(optimizer, param, gradient, state):
    return reference_step(_variant(optimizer, weight_decay=0.0), param, gradient, state)


# --- SGD with momentum, and the classic forms ------------------------------------------------

def _sgd_buffer_from_zero(opt, param, grad, state):
    grad = grad + opt.weight_decay * param
    buf = opt.momentum * state["momentum_buffer"] + (1 - opt.dampening) * grad
    return param - opt.lr * buf, {"step": state["step"] + 1, "momentum_buffer": buf}


def _sgd_lr_in_buffer(opt, param, grad, state):
    velocity = opt.momentum * state["momentum_buffer"] + opt.lr * (grad + opt.weight_decay * param)
    return param - velocity, {"step": state["step"] + 1, "momentum_buffer": velocity}


def _sgd_decay_after_momentum(opt, param, grad, state):
    if state["step"] == 0:
        buf = grad.copy()
    else:
        buf = opt.momentum * state["momentum_buffer"] + (1 - opt.dampening) * grad
    direction = grad + opt.momentum * buf if opt.nesterov else buf
    new_state = {"step": state["step"] + 1, "momentum_buffer": buf}
    return param - opt.lr * (direction + opt.weight_decay * param), new_state


def _nesterov_previous_buffer(opt, param, grad, state):
    grad = grad + opt.weight_decay * param
    buf = grad.copy() if state["step"] == 0 else opt.momentum * state["momentum_buffer"] + grad
    new_state = {"step": state["step"] + 1, "momentum_buffer": buf}
    return param - opt.lr * (grad + opt.momentum * state["momentum_buffer"]), new_state


def _classic_lr_outside_velocity(opt, param, grad, state):
    velocity = opt.momentum * state["velocity"] + grad
    return param - opt.lr * velocity, {"step": state["step"] + 1, "velocity": velocity}


def _lookahead_gradient_at_param(opt, param, grad_fn, state):
    velocity = opt.momentum * state["velocity"] - opt.lr * grad_fn(param)
    return param + velocity, {"step": state["step"] + 1, "velocity": velocity}


# --- AdaGrad and AdaDelta ----------------------------------------------------------------

def _adagrad_eps_in_root(opt, param, grad, state):
    grad = grad + opt.weight_decay * param
    total = state["sum"] + grad**2
    lr = opt.lr / (1 + state["step"] * opt.lr_decay)
    return param - lr * grad / np.sqrt(total + opt.eps), {"step": state["step"] + 1, "sum": total}


def _adagrad_decay_from_first_step(opt, param, grad, state):
    grad = grad + opt.weight_decay * param
    total = state["sum"] + grad**2
    lr = opt.lr / (1 + (state["step"] + 1) * opt.lr_decay)
    return param - lr * grad / (np.sqrt(total) + opt.eps), {"step": state["step"] + 1, "sum": total}


def _adadelta_square_avg(opt, param, grad, state):
    grad = grad + opt.weight_decay * param
    return grad, opt.rho * state["square_avg"] + (1 - opt.rho) * grad**2


def _adadelta_new_state(opt, state, square_avg, accumulated):
    acc_delta = opt.rho * state["acc_delta"] + (1 - opt.rho) * accumulated**2
    return {"step": state["step"] + 1, "square_avg": square_avg, "acc_delta": acc_delta}


def _adadelta_eps_outside_roots(opt, param, grad, state):
    grad, square_avg = _adadelta_square_avg(opt, param, grad, state)
    delta = (np.sqrt(state["acc_delta"]) + opt.eps) / (np.sqrt(square_avg) + opt.eps) * grad
    return param - opt.lr * delta, _adadelta_new_state(opt, state, square_avg, delta)


def _adadelta_new_u_in_numerator(opt, param, grad, state):
    grad, square_avg = _adadelta_square_avg(opt, param, grad, state)
    delta = np.sqrt(state["acc_delta"] + opt.eps) / np.sqrt(square_avg + opt.eps) * grad
    new_state = _adadelta_new_state(opt, state, square_avg, delta)
    delta = np.sqrt(new_state["acc_delta"] + opt.eps) / np.sqrt(square_avg + opt.eps) * grad
    return param - opt.lr * delta, new_state


def _adadelta_accumulates_scaled_step(opt, param, grad, state):
    grad, square_avg = _adadelta_square_avg(opt, param, grad, state)
    step = opt.lr * np.sqrt(state["acc_delta"] + opt.eps) / np.sqrt(square_avg + opt.eps) * grad
    return param - step, _adadelta_new_state(opt, state, square_avg, step)


# --- RMSprop -----------------------------------------------------------------------------

def _rmsprop_averages(opt, param, grad, state):
    """The decayed gradient and the new averages (v, and gbar when centered), all right."""
    grad = grad + opt.weight_decay * param
    new_state = {"step": state["step"] + 1,
                 "square_avg": opt.alpha * state["square_avg"] + (1 - opt.alpha) * grad**2}
    if opt.centered:
        new_state["grad_avg"] = opt.alpha * state["grad_avg"] + (1 - opt.alpha) * grad
    return grad, new_state


def _rmsprop_finish(opt, param, scaled, state, new_state):
    """The end of a right RMSprop step from the scaled gradient g / d."""
    if opt.momentum > 0:
        new_state["momentum_buffer"] = opt.momentum * state["momentum_buffer"] + scaled
        return param - opt.lr * new_state["momentum_buffer"], new_state
    return param - opt.lr * scaled, new_state


def _rmsprop_variance(opt, new_state, grad_avg):
    return new_state["square_avg"] - grad_avg**2 if opt.centered else new_state["square_avg"]


def _rmsprop_eps_in_root(opt, param, grad, state):
    grad, new_state = _rmsprop_averages(opt, param, grad, state)
    variance = _rmsprop_variance(opt, new_state, new_state.get("grad_avg"))
    return _rmsprop_finish(opt, param, grad / np.sqrt(variance + opt.eps), state, new_state)


def _rmsprop_previous_grad_avg(opt, param, grad, state):
    grad, new_state = _rmsprop_averages(opt, param, grad, state)
    variance = _rmsprop_variance(opt, new_state, state["grad_avg"])
    return _rmsprop_finish(opt, param, grad / (np.sqrt(variance) + opt.eps), state, new_state)


def _rmsprop_lr_in_buffer(opt, param, grad, state):
    grad, new_state = _rmsprop_averages(opt, param, grad, state)
    variance = _rmsprop_variance(opt, new_state, new_state.get("grad_avg"))
    buf = opt.momentum * state["momentum_buffer"] + opt.lr * grad / (np.sqrt(variance) + opt.eps)
    return param - buf, {**new_state, "momentum_buffer": buf}


# --- Adam, AMSGrad and weight decay --------------------------------------------------------

def _decayed(opt, param, grad):
    """Weight decay as torch applies it: decoupled shrinks the weights, L2 adds to the gradient."""
    if getattr(opt, "decoupled_weight_decay", False):
        return param * (1 - opt.lr * opt.weight_decay), grad
    return param, grad + opt.weight_decay * param


def _adam_moments(opt, param, grad, state):
    """Everything before Adam's last line, right: the decay, both averages and AMSGrad's maximum."""
    beta1, beta2 = opt.betas
    param, grad = _decayed(opt, param, grad)
    new_state = {"step": state["step"] + 1,
                 "exp_avg": beta1 * state["exp_avg"] + (1 - beta1) * grad,
                 "exp_avg_sq": beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2}
    second = new_state["exp_avg_sq"]
    if opt.amsgrad:
        second = new_state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], second)
    return param, new_state["exp_avg"], second, new_state


def _adam_uncorrected(opt, param, grad, state):
    param, m, v, new_state = _adam_moments(opt, param, grad, state)
    return param - opt.lr * m / (np.sqrt(v) + opt.eps), new_state


def _adam_first_uncorrected(opt, param, grad, state):
    param, m, v, new_state = _adam_moments(opt, param, grad, state)
    v_hat = v / (1 - opt.betas[1] ** new_state["step"])
    return param - opt.lr * m / (np.sqrt(v_hat) + opt.eps), new_state


def _adam_second_uncorrected(opt, param, grad, state):
    param, m, v, new_state = _adam_moments(opt, param, grad, state)
    m_hat = m / (1 - opt.betas[0] ** new_state["step"])
    return param - opt.lr * m_hat / (np.sqrt(v) + opt.eps), new_state


def _adam_eps_in_root(opt, param, grad, state):
    param, m, v, new_state = _adam_moments(opt, param, grad, state)
    t = new_state["step"]
    m_hat, v_hat = m / (1 - opt.betas[0] ** t), v / (1 - opt.betas[1] ** t)
    return param - opt.lr * m_hat / np.sqrt(v_hat + opt.eps), new_state


def _adam_eps_hat(opt, param, grad, state):
    param, m, v, new_state = _adam_moments(opt, param, grad, state)
    t = new_state["step"]
    step_size = opt.lr * np.sqrt(1 - opt.betas[1] ** t) / (1 - opt.betas[0] ** t)
    return param - step_size * m / (np.sqrt(v) + opt.eps), new_state


def _adam_count_from_zero(opt, param, grad, state):
    param, m, v, new_state = _adam_moments(opt, param, grad, state)
    t = state["step"]
    m_hat, v_hat = m / (1 - opt.betas[0] ** t), v / (1 - opt.betas[1] ** t)
    return param - opt.lr * m_hat / (np.sqrt(v_hat) + opt.eps), new_state


def _amsgrad_previous_v(opt, param, grad, state):
    param, m, _, new_state = _adam_moments(opt, param, grad, state)
    t = new_state["step"]
    new_state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], state["exp_avg_sq"])
    v_hat = new_state["max_exp_avg_sq"] / (1 - opt.betas[1] ** t)
    return param - opt.lr * m / (1 - opt.betas[0] ** t) / (np.sqrt(v_hat) + opt.eps), new_state


def _amsgrad_max_of_v_hat(opt, param, grad, state):
    param, m, _, new_state = _adam_moments(opt, param, grad, state)
    t = new_state["step"]
    v_hat = new_state["exp_avg_sq"] / (1 - opt.betas[1] ** t)
    new_state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], v_hat)
    m_hat = m / (1 - opt.betas[0] ** t)
    return param - opt.lr * m_hat / (np.sqrt(new_state["max_exp_avg_sq"]) + opt.eps), new_state


def _decay_without_lr(opt, param, gradient, state):
    return reference_step(_variant(opt, weight_decay=0.0), param * (1 - opt.weight_decay), gradient, state)


def _decay_forms_swapped(opt, param, gradient, state):
    swapped = _variant(opt, decoupled_weight_decay=not opt.decoupled_weight_decay)
    return reference_step(swapped, param, gradient, state)


# --- AdaMax and NAdam ------------------------------------------------------------------------

def _adamax_average(opt, param, grad, state):
    grad = grad + opt.weight_decay * param
    return grad, opt.betas[0] * state["exp_avg"] + (1 - opt.betas[0]) * grad


def _adamax_corrects_u(opt, param, grad, state):
    grad, m = _adamax_average(opt, param, grad, state)
    u = np.maximum(opt.betas[1] * state["exp_inf"], np.abs(grad) + opt.eps)
    t = state["step"] + 1
    u_hat = u / (1 - opt.betas[1] ** t)
    return param - opt.lr / (1 - opt.betas[0] ** t) * m / u_hat, {"step": t, "exp_avg": m, "exp_inf": u}


def _adamax_eps_outside_max(opt, param, grad, state):
    grad, m = _adamax_average(opt, param, grad, state)
    u = np.maximum(opt.betas[1] * state["exp_inf"], np.abs(grad))
    t = state["step"] + 1
    step_size = opt.lr / (1 - opt.betas[0] ** t)
    return param - step_size * m / (u + opt.eps), {"step": t, "exp_avg": m, "exp_inf": u}


def _adamax_count_from_zero(opt, param, grad, state):
    grad, m = _adamax_average(opt, param, grad, state)
    u = np.maximum(opt.betas[1] * state["exp_inf"], np.abs(grad) + opt.eps)
    step_size = opt.lr / (1 - opt.betas[0] ** state["step"])
    return param - step_size * m / u, {"step": state["step"] + 1, "exp_avg": m, "exp_inf": u}


def _nadam_written_out(opt, param, grad, state, *, t, mu_next, eps_in_root=False):
    """NAdam as a learner writes it, with the step number and the look-ahead momentum it believes in."""
    beta1, beta2 = opt.betas
    param, grad = _decayed(opt, param, grad)
    mu = opt.momentum_at(t)
    mu_product = state["mu_product"] * mu
    m = beta1 * state["exp_avg"] + (1 - beta1) * grad
    v = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
    v_hat = v / (1 - beta2**t)
    denom = np.sqrt(v_hat + opt.eps) if eps_in_root else np.sqrt(v_hat) + opt.eps
    new_param = (param - opt.lr * (1 - mu) / (1 - mu_product) * grad / denom
                 - opt.lr * mu_next / (1 - mu_product * mu_next) * m / denom)
    return new_param, {"step": state["step"] + 1, "exp_avg": m, "exp_avg_sq": v, "mu_product": mu_product}


def _nadam_momentum_off_by_one(opt, param, grad, state):
    t = state["step"] + 1
    return _nadam_written_out(opt, param, grad, state, t=t, mu_next=opt.momentum_at(t))


def _nadam_count_from_zero(opt, param, grad, state):
    t = state["step"]
    return _nadam_written_out(opt, param, grad, state, t=t, mu_next=opt.momentum_at(t + 1))


def _nadam_eps_in_root(opt, param, grad, state):
    t = state["step"] + 1
    return _nadam_written_out(opt, param, grad, state, t=t, mu_next=opt.momentum_at(t + 1), eps_in_root=True)


def _nadam_schedule_without_decay(opt, param, gradient, state):
    return reference_step(_variant(opt, momentum_decay=1.0), param, gradient, state)


# --- the catalogue ---------------------------------------------------------------------------

def _decays(optimizer: Optimizer) -> bool:
    return getattr(optimizer, "weight_decay", 0) > 0


MISTAKES: dict[str, Mistake] = {m.id: m for m in (
    Mistake("wrong-sign", "steps uphill (wrong sign)",
            "Your parameter moves by the right amount but in the wrong direction, so the loss would grow. "
            "Gradient descent moves against the gradient.",
            {Optimizer: _ascends}),
    Mistake("inputs-changed-in-place", "changes its inputs in place",
            "Operators such as -=, *= or += on an array, out=..., or assigning to state[key] write into the "
            "caller's objects. Build new arrays and a new dict, so that param and state stay as they were.",
            {Optimizer: _writes_into_inputs}),
    Mistake("step-not-incremented", "the step counter is not counted up",
            "The state you return must record this update: its 'step' is one more than the one you "
            "were given.",
            {Optimizer: _keeps_step}),
    Mistake("state-not-updated", "returns the state it was given",
            "The parameter moves, but the state you return is the old one, so the next call starts from "
            "stale buffers. Return a new dict holding the values you just computed.",
            {Optimizer: _returns_given_state}, shows_when=lambda opt: bool(opt.slot_names)),
    Mistake("weight-decay-ignored", "weight decay left out",
            "With weight_decay > 0 the update must also pull every weight towards zero; your function gives "
            "the result that belongs to weight_decay=0.",
            {Optimizer: _ignores_weight_decay}, shows_when=_decays),
    Mistake("step-used-before-increment",
            "step counter used before it is counted up (t = 0 on the first step)",
            "On the first call state['step'] is 0, but the formulas need t = 1 there (1 - beta**0 is 0). "
            "Count this update first, then use the new count everywhere.",
            {Adam: _adam_count_from_zero, Adamax: _adamax_count_from_zero, NAdam: _nadam_count_from_zero}),
    Mistake("sgd-buffer-starts-at-zero", "momentum buffer started at zero, dampened on the first step",
            "In torch's SGD the first step sets the buffer to the gradient itself, without the "
            "(1 - dampening) factor; dampening only applies from the second step on.",
            {SGD: _sgd_buffer_from_zero}, shows_when=lambda opt: opt.momentum > 0 and opt.dampening > 0),
    Mistake("lr-inside-buffer", "learning rate inside the momentum buffer (classic form)",
            "Your buffer holds lr times what it should. In torch's form the buffer accumulates without lr, "
            "and lr multiplies it only when the parameter moves; the classic form with lr inside gives the "
            "same parameters only while lr stays constant.",
            {SGD: _sgd_lr_in_buffer, RMSprop: _rmsprop_lr_in_buffer},
            shows_when=lambda opt: opt.momentum > 0 and not getattr(opt, "nesterov", False)),
    Mistake("lr-outside-velocity", "learning rate outside the velocity (torch form)",
            "In the classic form the velocity includes lr: it is exactly what the parameter moves by. Yours "
            "accumulates bare gradients and applies lr afterwards, which is torch's form.",
            {ClassicMomentum: _classic_lr_outside_velocity}, shows_when=lambda opt: opt.lr != 1),
    Mistake("weight-decay-after-momentum", "weight decay added after the momentum",
            "torch adds weight_decay * param to the gradient before the momentum buffer sees it, so the "
            "buffer carries the decay too. Yours adds it afterwards.",
            {SGD: _sgd_decay_after_momentum},
            shows_when=lambda opt: opt.momentum > 0 and opt.weight_decay > 0),
    Mistake("nesterov-stale-buffer", "Nesterov step uses the previous buffer",
            "The Nesterov step combines the gradient with the buffer of THIS step, after updating it, not "
            "with the buffer you were given.",
            {SGD: _nesterov_previous_buffer}, shows_when=lambda opt: opt.nesterov),
    Mistake("lookahead-gradient-at-param",
            "gradient taken at the current point instead of the look-ahead point",
            "Sutskever's Nesterov evaluates the gradient where momentum is about to carry the parameter: "
            "param plus momentum times the velocity, not param itself.",
            {SutskeverNesterov: _lookahead_gradient_at_param}, shows_when=lambda opt: opt.momentum > 0),
    Mistake("eps-inside-root", "eps inside the square root",
            "In torch's form eps is added after taking the square root, to keep the denominator away from "
            "zero; yours adds it under the root, as Keras and optax do.",
            {Adagrad: _adagrad_eps_in_root, RMSprop: _rmsprop_eps_in_root, Adam: _adam_eps_in_root,
             NAdam: _nadam_eps_in_root},
            # An AdaGrad sum that starts far above eps**2 hides where eps is.
            shows_when=lambda opt: getattr(opt, "initial_accumulator_value", 0.0) == 0),
    Mistake("adagrad-lr-decay-off-by-one", "learning-rate decay off by one",
            "The first step uses the full lr: the decay counts the updates done BEFORE this one, which is "
            "none on the first call.",
            {Adagrad: _adagrad_decay_from_first_step}, shows_when=lambda opt: opt.lr_decay > 0),
    Mistake("adadelta-eps-outside-roots", "AdaDelta's eps outside the roots",
            "In AdaDelta eps goes inside both square roots, RMS = sqrt(average + eps). Since acc_delta "
            "starts at 0, eps alone sets the size of the first steps.",
            {Adadelta: _adadelta_eps_outside_roots}),
    Mistake("adadelta-new-u-in-numerator", "AdaDelta's numerator uses the updated acc_delta",
            "The step is scaled by the RMS of the PREVIOUS steps: use acc_delta as you were given it, and "
            "update it afterwards with the step you just computed.",
            {Adadelta: _adadelta_new_u_in_numerator}),
    Mistake("adadelta-accumulates-scaled-step", "AdaDelta accumulates lr times the step",
            "acc_delta accumulates the squares of the unscaled step; lr only multiplies the step when the "
            "parameter moves and must not feed back into the statistics.",
            {Adadelta: _adadelta_accumulates_scaled_step}, shows_when=lambda opt: opt.lr != 1),
    Mistake("rmsprop-stale-grad-avg", "centered RMSprop uses the previous gradient average",
            "The centered denominator subtracts the square of the gradient average of THIS step, after it "
            "has been updated with the current gradient.",
            {RMSprop: _rmsprop_previous_grad_avg}, shows_when=lambda opt: opt.centered),
    Mistake("adam-no-bias-correction", "Adam without bias correction",
            "Both averages start at zero, so in the first steps they are far too small; Adam corrects each "
            "for that bias before using it. Yours corrects neither.",
            {Adam: _adam_uncorrected}),
    Mistake("adam-no-first-correction", "bias correction of the first moment forgotten",
            "exp_avg starts at zero and underestimates the gradient early on; it needs its bias correction "
            "(with beta1) before use. Without it, the first step is 10 times too small.",
            {Adam: _adam_first_uncorrected}),
    Mistake("adam-no-second-correction", "bias correction of the second moment forgotten",
            "exp_avg_sq starts at zero too and needs its own bias correction (with beta2) before the square "
            "root. Without it, the first step is about 31.6 times too large.",
            {Adam: _adam_second_uncorrected}),
    Mistake("adam-eps-hat", "eps added to the uncorrected root (Keras/TensorFlow form)",
            "Folding both corrections into the step size moves eps: torch adds eps to the root of the "
            "bias-corrected second moment, not to the root of exp_avg_sq itself.",
            {Adam: _adam_eps_hat}),
    Mistake("amsgrad-previous-v", "AMSGrad's maximum misses the current second moment",
            "The running maximum must include this step's exp_avg_sq: take the maximum after updating the "
            "average, with its new value.",
            {Adam: _amsgrad_previous_v}, shows_when=lambda opt: opt.amsgrad),
    Mistake("amsgrad-max-of-vhat", "AMSGrad keeps the maximum of the bias-corrected v (optax form)",
            "torch keeps the maximum of the RAW exp_avg_sq and applies this step's bias correction after "
            "taking the maximum.",
            {Adam: _amsgrad_max_of_v_hat}, shows_when=lambda opt: opt.amsgrad),
    Mistake("decoupled-decay-without-lr", "decoupled weight decay not scaled by lr",
            "In torch the decoupled decay is proportional to the learning rate as well as to weight_decay; "
            "yours shrinks the weights by weight_decay alone.",
            {Adam: _decay_without_lr, NAdam: _decay_without_lr},
            shows_when=lambda opt: opt.decoupled_weight_decay and opt.weight_decay > 0),
    Mistake("decay-forms-swapped", "L2 and decoupled weight decay swapped",
            "With decoupled_weight_decay=False the decay is L2: it joins the gradient and goes through the "
            "averages. With True it shrinks the weights directly, before the step. Yours does the other one.",
            {Adam: _decay_forms_swapped, NAdam: _decay_forms_swapped}, shows_when=_decays),
    Mistake("adamax-corrects-u", "AdaMax bias-corrects the infinity norm",
            "exp_inf is a decaying maximum, not an average, so it is not biased towards zero: only exp_avg "
            "gets a bias correction.",
            {Adamax: _adamax_corrects_u}),
    Mistake("adamax-eps-outside-max", "AdaMax's eps outside the maximum (Keras form)",
            "torch adds eps to |grad| inside the maximum, so exp_inf itself includes it.",
            {Adamax: _adamax_eps_outside_max}),
    Mistake("nadam-momentum-off-by-one", "NAdam uses mu_t where mu_(t+1) belongs",
            "The momentum term looks one step ahead: it uses next step's coefficient mu_(t+1), and the "
            "product of the mus up to it, while the gradient term uses mu_t.",
            {NAdam: _nadam_momentum_off_by_one}),
    Mistake("nadam-schedule-exponent", "NAdam's schedule without momentum_decay (Keras form)",
            "In torch's schedule the exponent of 0.96 is the step number times momentum_decay, so the "
            "warm-up is slow; yours uses the step number alone, as Keras does.",
            {NAdam: _nadam_schedule_without_decay}, shows_when=lambda opt: opt.momentum_decay != 1),
)}
"""Every catalogued mistake, by id, in the order of the lessons."""


@dataclasses.dataclass(frozen=True)
class ExerciseMistake:
    """A classic mistake in an exercise that is not an optimizer update (a gradient check, a
    training loop, a batch iterator): its id, name and hint, and the exercise's function written
    with the mistake (``wrong``), in the exercise's own signature."""

    id: str
    name: str
    hint: str
    wrong: Callable


EXERCISE_MISTAKES: dict[str, tuple[ExerciseMistake, ...]] = {}
"""The mistakes of the lessons' other exercises, by the exercise's function name. The modules
that check those exercises fill it in with :func:`register_exercise_mistakes`."""


def register_exercise_mistakes(function_name: str, mistakes) -> None:
    """Record the classic mistakes of the exercise ``function_name``; ids must be unique."""
    mistakes = tuple(mistakes)
    known = set(MISTAKES) | {m.id for ms in EXERCISE_MISTAKES.values() for m in ms}
    clashes = [m.id for m in mistakes if m.id in known]
    if clashes or len({m.id for m in mistakes}) != len(mistakes):
        raise ValueError(f"mistake ids must be unique; already used or repeated: {clashes}")
    EXERCISE_MISTAKES[function_name] = mistakes


def mistake_update(name: str, mistake_id: str) -> Callable:
    """A wrong update function in the learner's signature: ``name`` written with the mistake ``mistake_id``.

    ``name`` is an exercise's function name (``"adam_update"``, ``"nesterov_update"``, ...) or a
    class of :mod:`course_lib.optimizers` (``"Adam"``: every hyperparameter in the signature).
    For the other exercises (``"numerical_gradient"``, ...) it is their registered wrong version.
    """
    if name in EXERCISE_MISTAKES:
        found = {m.id: m.wrong for m in EXERCISE_MISTAKES[name]}
        if mistake_id not in found:
            raise ValueError(f"{name} has no catalogued mistake {mistake_id!r}; it has {', '.join(found)}")
        return found[mistake_id]
    if mistake_id not in MISTAKES:
        raise ValueError(f"unknown mistake {mistake_id!r}; the catalogue has {', '.join(MISTAKES)}")
    mistake = MISTAKES[mistake_id]
    function_name, form = update_form(name)
    mutant = mistake.mutant_for(form.optimizer)
    if mutant is None:
        concerned = ", ".join(cls.__name__ for cls in mistake.optimizers)
        raise ValueError(f"mistake {mistake_id!r} concerns {concerned}, not {function_name} "
                         f"({form.optimizer.__name__})")
    update = update_function(name, mutant)
    update.__doc__ = f"A wrong {function_name}, with the mistake {mistake.name!r} ({mistake.id})."
    return update


def mistakes_for(name: str) -> list:
    """The mistakes a learner's ``name`` (e.g. ``"nesterov_update"``) can make and be told about.

    A mistake counts if it concerns the function's reference class and shows under some setting
    of the hyperparameters the function takes: ``sgd_update`` has no momentum, so none of the
    momentum mistakes; ``momentum_update`` takes ``dampening``, so its tests must try one for
    ``sgd-buffer-starts-at-zero`` to cost points.
    """
    if name in EXERCISE_MISTAKES:
        return list(EXERCISE_MISTAKES[name])
    settings = list(_settings(update_form(name)[1]))
    return [m for m in MISTAKES.values() if any(m.applies(optimizer) for optimizer in settings)]


def _settings(form: UpdateForm) -> Iterator[Optimizer]:
    """The reference class with each open hyperparameter at its default and, for flags and for
    defaults of 0 or 1 (which switch features off), at the other value too."""
    fields = [f for f in dataclasses.fields(form.optimizer) if f.init]
    choices = []
    for field in fields:
        if field.name in form.implied:
            choices.append([form.implied[field.name]])
        elif isinstance(field.default, bool):
            choices.append([False, True])
        elif field.default in (0, 1):
            choices.append([field.default, 0.5])
        else:
            choices.append([field.default])
    for values in itertools.product(*choices):
        try:
            yield form.optimizer(**{f.name: v for f, v in zip(fields, values)})
        except ValueError:
            continue  # a combination the optimizer refuses, such as Nesterov with dampening


def matching_mistakes(reference: Optimizer, inputs, learner: list[Outcome],
                      correct: list[Outcome]) -> list[Mistake]:
    """The mistakes whose mutant does what the learner did on every one of ``inputs`` and is not right.

    ``inputs`` are the ``(param, gradient, state)`` of each call, ``learner`` and ``correct`` the
    learner's and the reference's outcomes on them.
    """
    found = []
    for mistake in MISTAKES.values():
        if not mistake.applies(reference):
            continue
        wrong = functools.partial(mistake.mutant_for(type(reference)), reference)
        outcomes = []
        for (param, gradient, state), theirs in zip(inputs, learner):
            outcomes.append(call_update(wrong, param, gradient, state, {}))
            if not outcomes_agree(theirs, outcomes[-1]):
                break
        else:
            if not all(outcomes_agree(c, o) for c, o in zip(correct, outcomes)):
                found.append(mistake)
    return found
