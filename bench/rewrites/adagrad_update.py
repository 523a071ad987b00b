"""Correct rewrites of adagrad_update (06_adagrad): see README.md."""
import numpy as np

# rewrite: in-place-on-copies: the sum and the parameter copied, then changed in place; sqrt as a power
def adagrad_update(param, grad, state, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                   initial_accumulator_value=0.0, eps=1e-10):
    g = grad + weight_decay * param
    total = state["sum"].copy()
    total += np.square(g)
    new_param = param.copy()
    new_param -= lr / (1 + state["step"] * lr_decay) * g / (total ** 0.5 + eps)
    return new_param, {"step": state["step"] + 1, "sum": total}

# rewrite: scaled-gradient-first: g / (sqrt(s) + eps) formed first, then multiplied by the decayed rate
def adagrad_update(param, grad, state, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                   initial_accumulator_value=0.0, eps=1e-10):
    t = state["step"] + 1
    g = np.add(grad, np.multiply(weight_decay, param))
    total = np.add(state["sum"], g * g)
    scaled = g / np.add(np.sqrt(total), eps)
    clr = lr / (1.0 + lr_decay * (t - 1))
    return param - clr * scaled, {"sum": total, "step": t}
