"""Correct rewrites of gradient_descent_step (00_what_is_an_optimizer): see README.md."""
import numpy as np

# rewrite: in-place-on-a-copy: copy theta, then subtract in place
def gradient_descent_step(theta, grad, lr):
    moved = np.array(theta, dtype=float, copy=True)
    moved -= lr * grad
    return moved

# rewrite: add-the-negative: theta plus the negative step, with numpy's functions
def gradient_descent_step(theta, grad, lr):
    return np.add(theta, np.multiply(-lr, grad))
