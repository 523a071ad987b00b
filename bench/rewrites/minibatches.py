"""Correct rewrites of minibatches (03_mini_batch_gradient_descent): see README.md."""
import numpy as np

# rewrite: array-split: numpy splits the permutation at every multiple of batch_size
def minibatches(n, batch_size, rng):
    order = rng.permutation(n)
    yield from np.array_split(order, np.arange(batch_size, n, batch_size))

# rewrite: while-loop: a start index moved by batch_size until it passes n
def minibatches(n, batch_size, rng):
    order = rng.permutation(n)
    start = 0
    while start < n:
        stop = min(start + batch_size, n)
        yield order[start:stop]
        start = stop
