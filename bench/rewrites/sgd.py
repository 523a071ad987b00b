"""Correct rewrites of sgd (02_stochastic_gradient_descent): see README.md."""
import numpy as np

# rewrite: concatenated-losses: each epoch's losses appended with +, the epochs counted down
def sgd(params, X, y, grad_fn, lr, epochs, seed):
    rng = np.random.default_rng(seed)
    losses = []
    remaining = epochs
    while remaining > 0:
        params, epoch_losses = sgd_epoch(params, X, y, grad_fn, lr, rng)
        losses = losses + list(epoch_losses)
        remaining -= 1
    return params, losses

# rewrite: flattened-at-the-end: the epochs' loss lists kept, then flattened
def sgd(params, X, y, grad_fn, lr, epochs, seed):
    generator = np.random.default_rng(seed)
    per_epoch = []
    for _ in range(epochs):
        params, epoch_losses = sgd_epoch(params, X, y, grad_fn, lr, generator)
        per_epoch.append(epoch_losses)
    return params, [loss for epoch_losses in per_epoch for loss in epoch_losses]
