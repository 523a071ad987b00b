"""Correct rewrites of adamax_update (10_adamax): see README.md."""
import numpy as np

# rewrite: stacked-max: u as the maximum over a stack of the two candidates; the corrected rate first
def adamax_update(param, grad, state, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    beta1, beta2 = betas
    t = state["step"] + 1
    g = grad + weight_decay * param
    exp_avg = beta1 * state["exp_avg"] + (1.0 - beta1) * g
    exp_inf = np.max(np.stack([beta2 * state["exp_inf"], np.abs(g) + eps]), axis=0)
    clr = lr / (1.0 - beta1**t)
    return param - clr * (exp_avg / exp_inf), {"step": t, "exp_avg": exp_avg, "exp_inf": exp_inf}

# rewrite: where-and-in-place: the maximum written with np.where; copies changed in place
def adamax_update(param, grad, state, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    beta1, beta2 = betas
    g = grad.copy()
    g += weight_decay * param
    exp_avg = state["exp_avg"].copy()
    exp_avg *= beta1
    exp_avg += (1.0 - beta1) * g
    decayed, fresh = beta2 * state["exp_inf"], np.abs(g) + eps
    exp_inf = np.where(decayed > fresh, decayed, fresh)
    new_param = param.copy()
    new_param -= lr * exp_avg / exp_inf / (1.0 - beta1 ** (state["step"] + 1))
    return new_param, {"step": state["step"] + 1, "exp_avg": exp_avg, "exp_inf": exp_inf}
