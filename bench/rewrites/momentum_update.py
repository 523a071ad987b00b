"""Correct rewrites of momentum_update (04_momentum): see README.md."""
import numpy as np

# rewrite: in-place-on-copies: the buffer and the parameter copied, then changed in place
def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):
    g = grad.copy()
    g += weight_decay * param
    new_param = param.copy()
    new_state = {"step": state["step"] + 1}
    if momentum != 0:
        if state["step"] == 0:
            buffer = g.copy()
        else:
            buffer = state["momentum_buffer"].copy()
            buffer *= momentum
            buffer += (1 - dampening) * g
        new_state["momentum_buffer"] = buffer
        g = buffer
    new_param -= lr * g
    return new_param, new_state

# rewrite: one-expression: the direction chosen by a conditional expression, the state by a dict update
def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):
    g = weight_decay * param + grad
    first = state["step"] == 0
    direction = g if momentum == 0 or first else g * (1 - dampening) + state["momentum_buffer"] * momentum
    new_state = dict(state, step=state["step"] + 1)
    if momentum > 0:
        new_state["momentum_buffer"] = direction
    return param + (-lr) * direction, new_state
