"""Correct rewrites of amsgrad_update (12_amsgrad): see README.md."""
import numpy as np

# rewrite: torch-form: the step size lr / bc1, the denominator sqrt(v_max) / sqrt(bc2) + eps, max via np.where
def amsgrad_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   decoupled_weight_decay=False):
    beta1, beta2 = betas
    t = state["step"] + 1
    g = grad if decoupled_weight_decay else grad + weight_decay * param
    shrunk = param * (1 - lr * weight_decay) if decoupled_weight_decay else param
    exp_avg = beta1 * state["exp_avg"] + (1 - beta1) * g
    exp_avg_sq = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
    previous = state["max_exp_avg_sq"]
    max_exp_avg_sq = np.where(exp_avg_sq > previous, exp_avg_sq, previous)
    step_size = lr / (1 - beta1**t)
    denom = np.sqrt(max_exp_avg_sq) / (1 - beta2**t) ** 0.5 + eps
    return shrunk - step_size * exp_avg / denom, {"step": t, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq,
                                                  "max_exp_avg_sq": max_exp_avg_sq}

# rewrite: folded-and-in-place: Kingma & Ba's folded step size on copies changed in place; np.fmax
def amsgrad_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   decoupled_weight_decay=False):
    beta1, beta2 = betas
    t = state["step"] + 1
    new_param, g = param.copy(), grad.copy()
    if decoupled_weight_decay:
        new_param *= 1 - lr * weight_decay
    else:
        g += weight_decay * param
    exp_avg, exp_avg_sq = state["exp_avg"].copy(), state["exp_avg_sq"].copy()
    exp_avg *= beta1
    exp_avg += (1 - beta1) * g
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g**2
    max_exp_avg_sq = np.fmax(state["max_exp_avg_sq"], exp_avg_sq)
    root_correction = (1 - beta2**t) ** 0.5
    new_param -= lr * root_correction / (1 - beta1**t) * exp_avg / (np.sqrt(max_exp_avg_sq) + eps * root_correction)
    return new_param, {"step": t, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq, "max_exp_avg_sq": max_exp_avg_sq}
