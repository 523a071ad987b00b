"""Correct rewrites of sutskever_nesterov_update (05_nesterov): see README.md."""
import numpy as np

# rewrite: from-the-look-ahead: the new parameter is one gradient step from the look-ahead point
def sutskever_nesterov_update(param, grad_fn, state, lr=1e-3, momentum=0.9):
    look_ahead = param + momentum * state["velocity"]
    g = grad_fn(look_ahead)
    velocity = momentum * state["velocity"] - lr * g
    return look_ahead - lr * g, {"step": state["step"] + 1, "velocity": velocity}

# rewrite: velocity-as-difference: the step taken from the look-ahead, the velocity read off as new - old
def sutskever_nesterov_update(param, grad_fn, state, lr=1e-3, momentum=0.9):
    look_ahead = param + momentum * state["velocity"]
    new_param = look_ahead - lr * grad_fn(look_ahead)
    return new_param, {"step": state["step"] + 1, "velocity": new_param - param}

# rewrite: in-place-on-copies: the velocity copied, then scaled and reduced in place
def sutskever_nesterov_update(param, grad_fn, state, lr=1e-3, momentum=0.9):
    velocity = np.array(state["velocity"], copy=True)
    velocity *= momentum
    gradient = grad_fn(param + velocity)
    velocity -= lr * gradient
    new_param = param.copy()
    new_param += velocity
    return new_param, {"step": state["step"] + 1, "velocity": velocity}
