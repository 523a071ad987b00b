"""Correct rewrites of minibatch_gd (03_mini_batch_gradient_descent): see README.md."""
import numpy as np

# rewrite: inline-batches: the batches sliced from the epoch's permutation here, not by minibatches
def minibatch_gd(params, X, y, grad_fn, lr, batch_size, epochs, seed):
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for first in range(0, len(X), batch_size):
            batch = order[first:first + batch_size]
            loss, grads = grad_fn(params, X[batch], y[batch])
            params = {name: params[name] - lr * grads[name] for name in params}
            losses.append(loss)
    return params, losses

# rewrite: in-place-on-copies: the params copied once and updated in place; losses extended per epoch
def minibatch_gd(params, X, y, grad_fn, lr, batch_size, epochs, seed):
    rng = np.random.default_rng(seed)
    current = {name: value.copy() for name, value in params.items()}
    losses = []
    for _ in range(epochs):
        epoch_losses = []
        for batch in minibatches(len(X), batch_size, rng):
            loss, grads = grad_fn({name: value.copy() for name, value in current.items()}, X[batch], y[batch])
            for name, value in current.items():
                value -= lr * grads[name]
            epoch_losses.append(loss)
        losses.extend(epoch_losses)
    return current, losses
