"""Three small models in NumPy with hand-written gradients, for the optimizers to train.

Every model is a frozen dataclass holding its sizes, with the same methods::

    params = model.init_params(seed)                   # dict of float64 arrays
    loss, grads = model.loss_and_grad(params, X, y)    # mean over the batch; grads shaped as params
    loss = model.loss(params, X, y)                    # the same number, without the backward pass
    model.predict(params, X)
    model.accuracy(params, X, y)                       # classifiers only

``params`` is a plain dict (``{"W1": ..., "b1": ...}``), which is the tree format the
optimizers in :mod:`course_lib.optimizers` accept, so ``opt.step(params, grads, state)``
works directly. ``X`` is 2-D (examples x features). ``y`` holds real targets for
regression and integer class labels ``0 .. n_classes - 1`` for classification. Every loss is
an average over the examples, so its scale, and the learning rate that suits it, does not
depend on the batch size.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np


def _check_size(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")


def _softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer labels ``y`` under ``softmax(logits)``, and its gradient."""
    # Subtracting the row maximum leaves softmax unchanged and keeps exp() from overflowing;
    # log-sum-exp then gives log-probabilities without ever taking log(0).
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    log_probs_of_labels = shifted[rows, y] - np.log(sum_exp[:, 0])
    dlogits = exp / sum_exp
    dlogits[rows, y] -= 1.0
    dlogits /= len(y)
    return float(-log_probs_of_labels.mean()), dlogits


@dataclasses.dataclass(frozen=True)
class Model:
    """What every model shares: parameter shapes, initialisation and the input checks.

    Subclasses declare ``n_features`` (the number of input features) as their first field.
    """

    def __post_init__(self) -> None:
        _check_size("n_features", self.n_features)

    @property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name and shape of every parameter array, in the order ``init_params`` creates them."""
        raise NotImplementedError

    def _init_std(self, name: str) -> float:
        """Standard deviation of the normal draw for a weight (biases always start at zero)."""
        raise NotImplementedError

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Weights drawn from a normal distribution seeded by ``seed``; biases zero."""
        rng = np.random.default_rng(seed)
        return {
            name: np.zeros(shape) if name.startswith("b") else self._init_std(name) * rng.standard_normal(shape)
            for name, shape in self.param_shapes.items()
        }

    def _check_params(self, params) -> None:
        expected = self.param_shapes
        if not isinstance(params, dict) or set(params) != set(expected):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(
                f"params for {self!r} must be a dict with keys {sorted(expected)} "
                f"(use model.init_params(seed)), got {got}"
            )
        for name, shape in expected.items():
            value = params[name]
            if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
                kind = f"dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
                raise ValueError(f"params[{name!r}] must be a float NumPy array, got {kind}")
            if value.shape != shape:
                raise ValueError(f"params[{name!r}] has shape {value.shape} but {self!r} needs {shape}")

    def _check_X(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            hint = " (for one example, pass X[None, :])" if X.ndim == 1 else ""
            raise ValueError(f"X must be a 2-D array (examples x features), got shape {X.shape}{hint}")
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features per example but {self!r} expects {self.n_features}")
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise ValueError(f"X must hold real numbers, got dtype {X.dtype}")
        return X

    def _check_y_length(self, y: np.ndarray, X: np.ndarray) -> None:
        if y.ndim != 1:
            raise ValueError(f"y must be a 1-D array with one entry per example, got shape {y.shape}")
        if len(y) != len(X):
            raise ValueError(f"y has {len(y)} entries but X has {len(X)} examples; they must match")
        if len(y) == 0:
            raise ValueError("X and y hold no examples; a loss needs at least one")


@dataclasses.dataclass(frozen=True)
class _Classifier(Model):
    """Shared by the models that end in a softmax: integer labels, predict and accuracy."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_size("n_classes", self.n_classes, minimum=2)

    def _check_labels(self, y, X: np.ndarray) -> np.ndarray:
        y = np.asarray(y)
        self._check_y_length(y, X)
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"y must hold integer class labels 0..{self.n_classes - 1}, got dtype {y.dtype} "
                f"(for regression targets use LinearRegression)"
            )
        low, high = y.min(), y.max()
        if low < 0 or high >= self.n_classes:
            raise ValueError(
                f"y holds labels from {low} to {high}, but {self!r} only knows classes 0..{self.n_classes - 1}"
            )
        return y

    def _logits(self, params, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def loss(self, params, X, y) -> float:
        self._check_params(params)
        X = self._check_X(X)
        y = self._check_labels(y, X)
        return _softmax_cross_entropy(self._logits(params, X), y)[0]

    def predict(self, params, X) -> np.ndarray:
        """The most probable class of every example (the largest logit), shape ``(N,)``."""
        self._check_params(params)
        X = self._check_X(X)
        return self._logits(params, X).argmax(axis=1)

    def accuracy(self, params, X, y) -> float:
        """Fraction of the examples whose predicted class equals the label."""
        X = self._check_X(X)
        y = self._check_labels(y, X)
        return float(np.mean(self.predict(params, X) == y))


@dataclasses.dataclass(frozen=True)
class LinearRegression(Model):
    r"""Least squares: :math:`\hat y = X w + b`, loss the mean squared error.

    ::

        L(w, b) = (1/N) * sum_i (x_i . w + b - y_i)^2
        dL/dw   = (2/N) * X^T r,    dL/db = (2/N) * sum_i r_i,    r = X w + b - y

    The loss divides by N, not 2N: it is the number that ``torch.nn.MSELoss`` and
    ``sklearn.metrics.mean_squared_error`` report, so the factor 2 stays in the gradient. With
    ``X1`` the matrix X plus a column of ones (for b), the Hessian is ``(2/N) X1^T X1``, so
    full-batch gradient descent converges only for ``lr < 1 / lambda_max(X1^T X1 / N)``.

    Parameters ``{"w": (n_features,), "b": (1,)}``; ``w`` starts small and random, ``b`` at 0.
    """

    n_features: int

    @property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"w": (self.n_features,), "b": (1,)}

    def _init_std(self, name: str) -> float:
        # Least squares is convex, so the start only needs to be near zero and seed-dependent.
        return 0.01

    def _checked(self, params, X, y) -> tuple[np.ndarray, np.ndarray]:
        self._check_params(params)
        X = self._check_X(X)
        y = np.asarray(y)
        self._check_y_length(y, X)
        if not np.issubdtype(y.dtype, np.floating):
            raise ValueError(
                f"y must hold real-valued targets, got dtype {y.dtype}; for class labels use "
                f"SoftmaxRegression or MLP, for integer-valued targets pass y.astype(float)"
            )
        return X, y

    def predict(self, params, X) -> np.ndarray:
        """Predicted targets ``X w + b``, shape ``(N,)``."""
        self._check_params(params)
        X = self._check_X(X)
        return X @ params["w"] + params["b"][0]

    def loss(self, params, X, y) -> float:
        X, y = self._checked(params, X, y)
        residual = X @ params["w"] + params["b"][0] - y
        return float(np.mean(residual**2))

    def loss_and_grad(self, params, X, y):
        X, y = self._checked(params, X, y)
        residual = X @ params["w"] + params["b"][0] - y
        scale = 2.0 / len(y)
        grads = {"w": scale * (X.T @ residual), "b": np.array([scale * residual.sum()])}
        return float(np.mean(residual**2)), grads


@dataclasses.dataclass(frozen=True)
class SoftmaxRegression(_Classifier):
    r"""Multinomial logistic regression: logits :math:`Z = X W + b`, softmax, cross-entropy.

    ::

        p_ik  = exp(Z_ik) / sum_j exp(Z_ij)
        L     = -(1/N) * sum_i log p_{i, y_i}
        dL/dZ = (P - Y) / N     (Y one-hot),   dL/dW = X^T dL/dZ,   dL/db = sum_i (dL/dZ)_i

    The log-probabilities come from a shifted log-sum-exp, so large logits neither overflow
    nor give ``log(0)``. With ``n_classes=2`` this is logistic regression (with one redundant
    set of weights). The loss is convex in (W, b).

    Parameters ``{"W": (n_features, n_classes), "b": (n_classes,)}``; W starts small and
    random, b at 0.
    """

    n_features: int
    n_classes: int

    @property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.n_features, self.n_classes), "b": (self.n_classes,)}

    def _init_std(self, name: str) -> float:
        return 0.01

    def _logits(self, params, X):
        return X @ params["W"] + params["b"]

    def loss_and_grad(self, params, X, y):
        self._check_params(params)
        X = self._check_X(X)
        y = self._check_labels(y, X)
        loss, dlogits = _softmax_cross_entropy(self._logits(params, X), y)
        return loss, {"W": X.T @ dlogits, "b": dlogits.sum(axis=0)}


_ACTIVATIONS = ("relu", "tanh")


@dataclasses.dataclass(frozen=True)
class MLP(_Classifier):
    r"""A fully connected network: hidden layers with ReLU or tanh, then a softmax output.

    For hidden sizes ``(h_1, ..., h_L)`` and ``a_0 = X``::

        z_l = a_{l-1} W_l + b_l,   a_l = act(z_l)          (l = 1 .. L)
        logits = a_L W_{L+1} + b_{L+1},   loss = mean cross-entropy (as SoftmaxRegression)

    Backpropagation, from ``dL/dlogits = (P - Y) / N``::

        dL/dW_l = a_{l-1}^T d_l,   dL/db_l = sum over examples of d_l
        d_{l-1} = (d_l W_l^T) * act'(z_{l-1}),   relu' = 1[z > 0],   tanh' = 1 - tanh(z)^2

    Parameters ``{"W1", "b1", ..., "W{L+1}", "b{L+1}"}`` with ``W_l`` of shape
    ``(fan_in, fan_out)``. Weights start normal with std ``sqrt(2 / fan_in)`` before a ReLU
    (He et al. 2015) and ``sqrt(1 / fan_in)`` otherwise (LeCun 1998), so that the signal keeps
    its scale through the layers; biases start at 0. Unlike the linear models the loss is not
    convex, and the seed of the initial weights changes where training ends up.
    """

    n_features: int
    n_classes: int
    hidden: tuple[int, ...] = (32,)
    activation: str = "relu"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.hidden, tuple) or not self.hidden:
            raise ValueError(f"hidden must be a non-empty tuple of layer sizes such as (32,), got {self.hidden!r}")
        for i, size in enumerate(self.hidden):
            _check_size(f"hidden[{i}]", size)
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {self.activation!r}")

    @property
    def _sizes(self) -> tuple[int, ...]:
        return (self.n_features, *self.hidden, self.n_classes)

    @property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {}
        for layer, (fan_in, fan_out) in enumerate(zip(self._sizes[:-1], self._sizes[1:]), start=1):
            shapes[f"W{layer}"] = (fan_in, fan_out)
            shapes[f"b{layer}"] = (fan_out,)
        return shapes

    def _init_std(self, name: str) -> float:
        layer = int(name[1:])
        fan_in = self._sizes[layer - 1]
        feeds_relu = self.activation == "relu" and layer <= len(self.hidden)
        return np.sqrt((2.0 if feeds_relu else 1.0) / fan_in)

    def _activate(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0) if self.activation == "relu" else np.tanh(z)

    def _forward(self, params, X) -> list[np.ndarray]:
        """The activations ``[a_0 = X, a_1, ..., a_L, logits]``."""
        activations = [X]
        n_layers = len(self.hidden) + 1
        for layer in range(1, n_layers + 1):
            z = activations[-1] @ params[f"W{layer}"] + params[f"b{layer}"]
            activations.append(self._activate(z) if layer < n_layers else z)
        return activations

    def _logits(self, params, X):
        return self._forward(params, X)[-1]

    def loss_and_grad(self, params, X, y):
        self._check_params(params)
        X = self._check_X(X)
        y = self._check_labels(y, X)
        activations = self._forward(params, X)
        loss, delta = _softmax_cross_entropy(activations[-1], y)
        grads = {}
        for layer in range(len(self.hidden) + 1, 0, -1):
            below = activations[layer - 1]
            grads[f"W{layer}"] = below.T @ delta
            grads[f"b{layer}"] = delta.sum(axis=0)
            if layer > 1:
                # Both derivatives are cheapest written in terms of the activation a = act(z).
                slope = (below > 0) if self.activation == "relu" else 1.0 - below**2
                delta = (delta @ params[f"W{layer}"].T) * slope
        return loss, {name: grads[name] for name in params}
