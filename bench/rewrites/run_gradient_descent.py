"""Correct rewrites of run_gradient_descent (00_what_is_an_optimizer): see README.md."""
import numpy as np

# rewrite: preallocated: the whole path allocated first, filled row by row
def run_gradient_descent(grad_fn, start, lr, steps):
    first = np.asarray(start, dtype=float)
    path = np.empty((steps + 1, *first.shape))
    path[0] = first
    for t in range(1, steps + 1):
        path[t] = gradient_descent_step(path[t - 1], grad_fn(path[t - 1]), lr)
    return path

# rewrite: while-loop: the step written out, a while loop, the points stacked at the end
def run_gradient_descent(grad_fn, start, lr, steps):
    theta = np.array(start, dtype=float)
    points = [theta]
    taken = 0
    while taken < steps:
        theta = theta - lr * grad_fn(theta)
        points.append(theta)
        taken += 1
    return np.stack(points)
