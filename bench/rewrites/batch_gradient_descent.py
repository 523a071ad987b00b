"""Correct rewrites of batch_gradient_descent (01_batch_gradient_descent): see README.md."""
import numpy as np

# rewrite: in-place-on-copies: copies of w and b updated in place; the loss helper is a closure
def batch_gradient_descent(X, y, w, b, lr, epochs):
    w, b = np.array(w, dtype=float, copy=True), float(b)

    def loss():
        return np.mean((X @ w + b - y) ** 2)

    losses = [loss()]
    for _ in range(epochs):
        grad_w, grad_b = mse_gradient(w, b, X, y)
        w -= lr * grad_w
        b -= lr * grad_b
        losses.append(loss())
    return w, b, np.array(losses)

# rewrite: inline-gradient: the gradient and the loss from one residual vector per epoch
def batch_gradient_descent(X, y, w, b, lr, epochs):
    n = len(y)
    losses = np.empty(epochs + 1)
    for epoch in range(epochs + 1):
        residual = X @ w + b - y
        losses[epoch] = residual @ residual / n
        if epoch < epochs:
            w = w - lr * (2 * X.T @ residual / n)
            b = b - lr * 2 * residual.mean()
    return w, float(b), losses
