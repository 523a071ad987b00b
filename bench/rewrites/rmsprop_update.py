"""Correct rewrites of rmsprop_update (08_rmsprop): see README.md."""
import numpy as np

# rewrite: root-as-power: the root as ** 0.5, the centered variance as E[g^2] - E[g]*E[g], branches reordered
def rmsprop_update(param, grad, state, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                   momentum=0.0, centered=False):
    g = grad + weight_decay * param
    new_state = dict(state)
    new_state["step"] = state["step"] + 1
    new_state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * (g * g)
    mean_square = new_state["square_avg"]
    if not centered:
        denom = mean_square ** 0.5 + eps
    else:
        new_state["grad_avg"] = alpha * state["grad_avg"] + (1 - alpha) * g
        denom = (mean_square - new_state["grad_avg"] * new_state["grad_avg"]) ** 0.5 + eps
    if momentum <= 0:
        return param - lr * (g / denom), new_state
    new_state["momentum_buffer"] = momentum * state["momentum_buffer"] + g / denom
    return param - lr * new_state["momentum_buffer"], new_state

# rewrite: in-place-on-copies: every average copied, then changed in place; rms via np.power
def rmsprop_update(param, grad, state, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                   momentum=0.0, centered=False):
    g = grad + weight_decay * param
    square_avg = state["square_avg"].copy()
    square_avg *= alpha
    square_avg += (1 - alpha) * np.square(g)
    new_state = {"step": state["step"] + 1, "square_avg": square_avg}
    variance = square_avg
    if centered:
        grad_avg = state["grad_avg"].copy()
        grad_avg *= alpha
        grad_avg += (1 - alpha) * g
        new_state["grad_avg"] = grad_avg
        variance = square_avg - np.square(grad_avg)
    direction = g / (np.power(variance, 0.5) + eps)
    if momentum > 0:
        buffer = state["momentum_buffer"].copy()
        buffer *= momentum
        buffer += direction
        new_state["momentum_buffer"] = direction = buffer
    new_param = param.copy()
    new_param -= lr * direction
    return new_param, new_state
