"""Correct rewrites of sgd_epoch (02_stochastic_gradient_descent): see README.md."""
import numpy as np

# rewrite: in-place-on-copies: the params copied once, then updated in place after each example
def sgd_epoch(params, X, y, grad_fn, lr, rng):
    current = {name: np.array(value, copy=True) for name, value in params.items()}
    losses = []
    for i in rng.permutation(len(X)):
        loss, grads = grad_fn({name: value.copy() for name, value in current.items()}, X[[i]], y[[i]])
        for name in current:
            current[name] -= lr * grads[name]
        losses.append(loss)
    return current, losses

# rewrite: while-over-positions: the order drawn first, walked with a position counter
def sgd_epoch(params, X, y, grad_fn, lr, rng):
    order = rng.permutation(len(X))
    losses = []
    position = 0
    while position < len(order):
        example = order[position]
        loss, grads = grad_fn(params, X[example:example + 1], y[example:example + 1])
        params = dict((name, value - lr * grads[name]) for name, value in params.items())
        losses.append(loss)
        position += 1
    return params, losses
