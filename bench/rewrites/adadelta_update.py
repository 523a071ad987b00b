"""Correct rewrites of adadelta_update (07_adadelta): see README.md."""
import numpy as np

# rewrite: one-root-and-lerp: sqrt of the ratio in one root; the averages as a + (1 - rho) (x - a)
def adadelta_update(param, grad, state, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    g = grad + weight_decay * param
    square_avg = state["square_avg"] + (1 - rho) * (g * g - state["square_avg"])
    delta = np.sqrt((state["acc_delta"] + eps) / (square_avg + eps)) * g
    acc_delta = state["acc_delta"] + (1 - rho) * (delta * delta - state["acc_delta"])
    return param - lr * delta, {"step": state["step"] + 1, "square_avg": square_avg, "acc_delta": acc_delta}

# rewrite: in-place-on-copies: the averages copied, then scaled and added to in place; RMS helper
def adadelta_update(param, grad, state, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    def rms(average):
        return np.sqrt(average + eps)

    g = grad.copy()
    if weight_decay:
        g += weight_decay * param
    square_avg = state["square_avg"].copy()
    square_avg *= rho
    square_avg += (1 - rho) * np.square(g)
    delta = rms(state["acc_delta"]) / rms(square_avg) * g
    acc_delta = state["acc_delta"].copy()
    acc_delta *= rho
    acc_delta += (1 - rho) * np.square(delta)
    new_param = param.copy()
    new_param -= lr * delta
    return new_param, {"step": state["step"] + 1, "square_avg": square_avg, "acc_delta": acc_delta}
