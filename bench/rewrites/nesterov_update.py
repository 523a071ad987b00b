"""Correct rewrites of nesterov_update (05_nesterov): see README.md."""
import numpy as np

# rewrite: in-place-on-copies: the buffer and the parameter copied, then changed in place
def nesterov_update(param, grad, state, lr=1e-3, momentum=0.0, weight_decay=0.0):
    g = grad.copy()
    g += weight_decay * param
    if state["step"] == 0:
        buffer = g.copy()
    else:
        buffer = state["momentum_buffer"].copy()
        buffer *= momentum
        buffer += g
    direction = g + momentum * buffer
    new_param = param.copy()
    new_param -= lr * direction
    return new_param, {"step": state["step"] + 1, "momentum_buffer": buffer}

# rewrite: expanded: the step split into its gradient part and its momentum part
def nesterov_update(param, grad, state, lr=1e-3, momentum=0.0, weight_decay=0.0):
    g = grad + weight_decay * param
    previous = g if state["step"] == 0 else state["momentum_buffer"]
    buffer = g if state["step"] == 0 else momentum * previous + g
    new_param = param - lr * g - lr * momentum * buffer
    return new_param, {"momentum_buffer": buffer, "step": state["step"] + 1}
