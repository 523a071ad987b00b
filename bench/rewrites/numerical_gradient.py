"""Correct rewrites of numerical_gradient (00_what_is_an_optimizer): see README.md."""
import numpy as np

# rewrite: identity-rows: the steps h e_j are the rows of h times the identity matrix
def numerical_gradient(f, theta, h=1e-5):
    steps = h * np.eye(len(theta))
    return np.array([(f(theta + step) - f(theta - step)) / (2 * h) for step in steps], dtype=float)

# rewrite: perturb-a-copy: one float copy of theta, changed in place and restored for each coordinate
def numerical_gradient(f, theta, h=1e-5):
    point = np.array(theta, dtype=float)
    gradient = np.empty(len(point))
    for j in range(len(point)):
        saved = point[j]
        point[j] = saved + h
        forward = f(point.copy())
        point[j] = saved - h
        backward = f(point.copy())
        point[j] = saved
        gradient[j] = (forward - backward) / (2 * h)
    return gradient

# rewrite: halves: the difference of half-differences, divided by h once at the end
def numerical_gradient(f, theta, h=1e-5):
    differences = []
    for j, _ in enumerate(theta):
        shift = np.zeros(len(theta))
        shift[j] = h
        differences.append(f(theta + shift) - f(theta - shift))
    return np.asarray(differences, dtype=float) / (2.0 * h)
