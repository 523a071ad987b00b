"""Correct rewrites of classic_momentum_update (04_momentum): see README.md."""
import numpy as np

# rewrite: in-place-on-copies: the velocity and the parameter copied, then changed in place
def classic_momentum_update(param, grad, state, lr=1e-3, momentum=0.9):
    velocity = state["velocity"].copy()
    velocity *= momentum
    velocity += lr * grad
    new_param = param.copy()
    new_param -= velocity
    return new_param, {"step": state["step"] + 1, "velocity": velocity}

# rewrite: negated-velocity: the step kept as u = -v, added to the parameter
def classic_momentum_update(param, grad, state, lr=1e-3, momentum=0.9):
    step = -momentum * state["velocity"] - lr * grad
    return param + step, {"velocity": -step, "step": state["step"] + 1}
