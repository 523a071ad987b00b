"""Correct rewrites of adam_update (09_adam): see README.md."""
import numpy as np

# rewrite: folded-bias-correction: Kingma & Ba's efficient form, corrections in the step size and eps
def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                weight_decay=0.0, decoupled_weight_decay=False):
    beta1, beta2 = betas
    t = state["step"] + 1
    if decoupled_weight_decay:
        param = param * (1.0 - lr * weight_decay)
    else:
        grad = grad + weight_decay * param
    m = beta1 * state["exp_avg"] + (1.0 - beta1) * grad
    v = beta2 * state["exp_avg_sq"] + (1.0 - beta2) * grad * grad
    root_correction = (1.0 - beta2**t) ** 0.5  # a plain number: float32 stays float32
    step_size = lr * root_correction / (1.0 - beta1**t)
    new_param = param - step_size * m / (np.sqrt(v) + eps * root_correction)
    return new_param, {"step": t, "exp_avg": m, "exp_avg_sq": v}

# rewrite: lerp-and-torch-denominator: m moved towards g (torch's lerp), denominator sqrt(v)/sqrt(bc2) + eps
import math


def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                weight_decay=0.0, decoupled_weight_decay=False):
    beta1, beta2 = betas
    t = state["step"] + 1
    g = grad if decoupled_weight_decay else grad + weight_decay * param
    shrunk = param * (1.0 - lr * weight_decay) if decoupled_weight_decay else param
    exp_avg = state["exp_avg"] + (1.0 - beta1) * (g - state["exp_avg"])
    exp_avg_sq = beta2 * state["exp_avg_sq"] + (1.0 - beta2) * np.square(g)
    denom = np.sqrt(exp_avg_sq) / math.sqrt(1.0 - beta2**t) + eps
    return shrunk - lr / (1.0 - beta1**t) * exp_avg / denom, {"step": t, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}

# rewrite: in-place-on-copies: moments and parameter copied, then changed in place
def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                weight_decay=0.0, decoupled_weight_decay=False):
    beta1, beta2 = betas
    t = state["step"] + 1
    new_param = param.copy()
    g = grad.copy()
    if decoupled_weight_decay:
        new_param *= 1.0 - lr * weight_decay
    else:
        g += weight_decay * param
    exp_avg, exp_avg_sq = state["exp_avg"].copy(), state["exp_avg_sq"].copy()
    exp_avg *= beta1
    exp_avg += (1.0 - beta1) * g
    exp_avg_sq *= beta2
    exp_avg_sq += (1.0 - beta2) * g * g
    new_param -= lr * (exp_avg / (1.0 - beta1**t)) / (np.sqrt(exp_avg_sq / (1.0 - beta2**t)) + eps)
    return new_param, {"step": t, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
