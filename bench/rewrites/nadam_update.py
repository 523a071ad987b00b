"""Correct rewrites of nadam_update (11_nadam): see README.md."""
import numpy as np

# rewrite: one-numerator: both terms over the common denominator, mu from a helper, math.pow
import math


def nadam_update(param, grad, state, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False):
    beta1, beta2 = betas

    def mu_at(step):
        return beta1 * (1.0 - 0.5 * math.pow(0.96, step * momentum_decay))

    t = state["step"] + 1
    g = grad if decoupled_weight_decay else grad + weight_decay * param
    start = param * (1 - lr * weight_decay) if decoupled_weight_decay else param
    mu, mu_next = mu_at(t), mu_at(t + 1)
    mu_product = state["mu_product"] * mu
    exp_avg = beta1 * state["exp_avg"] + (1 - beta1) * g
    exp_avg_sq = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
    numerator = (1 - mu) / (1 - mu_product) * g + mu_next / (1 - mu_product * mu_next) * exp_avg
    new_param = start - lr * numerator / (np.sqrt(exp_avg_sq / (1 - beta2**t)) + eps)
    return new_param, {"step": t, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq, "mu_product": float(mu_product)}

# rewrite: torch-order: torch's denominator sqrt(v) / sqrt(bc2) + eps; two steps applied one after the other
import math


def nadam_update(param, grad, state, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False):
    beta1, beta2 = betas
    t = state["step"] + 1
    new_param = param.copy()
    g = grad.copy()
    if decoupled_weight_decay:
        new_param *= 1 - lr * weight_decay
    else:
        g += weight_decay * param
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = state["mu_product"] * mu
    exp_avg = state["exp_avg"] + (1 - beta1) * (g - state["exp_avg"])
    exp_avg_sq = state["exp_avg_sq"] * beta2 + np.square(g) * (1 - beta2)
    denom = np.sqrt(exp_avg_sq) / math.sqrt(1 - beta2**t) + eps
    new_param -= lr * (1 - mu) / (1 - mu_product) * (g / denom)
    new_param -= lr * mu_next / (1 - mu_product * mu_next) * (exp_avg / denom)
    return new_param, {"step": t, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq, "mu_product": mu_product}
