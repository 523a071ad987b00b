"""The numpy models: hand-written gradients against finite differences, losses, predictions, input checks."""

import numpy as np
import pytest

from course_lib.models import MLP, LinearRegression, SoftmaxRegression
from course_lib.optimizers import SGD

MODELS = {
    "linear": LinearRegression(3),
    "softmax": SoftmaxRegression(3, 4),
    "mlp-relu": MLP(3, 4, hidden=(6,)),
    "mlp-tanh-2-layers": MLP(3, 4, hidden=(5, 6), activation="tanh"),
}


def models():
    return pytest.mark.parametrize("model", MODELS.values(), ids=list(MODELS))


def batch(model, n: int = 9, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, model.n_features))
    if isinstance(model, LinearRegression):
        return X, rng.standard_normal(n)
    return X, rng.integers(0, model.n_classes, n)


def perturbed_params(model, seed: int = 1):
    """Parameters away from the small initial values, so that every gradient entry matters."""
    rng = np.random.default_rng(seed)
    start = model.init_params(seed)
    return {name: value + 0.5 * rng.standard_normal(value.shape) for name, value in start.items()}


def central_differences(model, params, X, y, step: float = 1e-6) -> dict:
    gradient = {}
    for name, value in params.items():
        gradient[name] = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {key: array.copy() for key, array in params.items()}
            shifted[name][index] = value[index] + step
            above = model.loss(shifted, X, y)
            shifted[name][index] = value[index] - step
            below = model.loss(shifted, X, y)
            gradient[name][index] = (above - below) / (2 * step)
    return gradient


def rel_error(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-12))


@models()
def test_gradients_match_central_differences(model):
    params = perturbed_params(model)
    X, y = batch(model)
    _, grads = model.loss_and_grad(params, X, y)
    numeric = central_differences(model, params, X, y)
    assert list(grads) == list(params)
    for name in params:
        assert grads[name].shape == params[name].shape
        assert rel_error(grads[name], numeric[name]) < 1e-6, name


@models()
def test_loss_and_grad_returns_the_same_loss_as_loss(model):
    params = perturbed_params(model)
    X, y = batch(model)
    loss, _ = model.loss_and_grad(params, X, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(model.loss(params, X, y), rel=1e-14)


@models()
def test_loss_and_gradient_are_means_so_repeating_the_batch_changes_nothing(model):
    params = perturbed_params(model)
    X, y = batch(model)
    loss, grads = model.loss_and_grad(params, X, y)
    loss_twice, grads_twice = model.loss_and_grad(params, np.vstack([X, X]), np.concatenate([y, y]))
    assert loss_twice == pytest.approx(loss, rel=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads_twice[name], grads[name], rtol=1e-12, atol=1e-15)


@models()
def test_gradient_descent_with_a_small_learning_rate_lowers_the_loss(model):
    X, y = batch(model, n=40)
    params = model.init_params(0)
    optimizer = SGD(lr=0.05)
    state = optimizer.init(params)
    losses = []
    for _ in range(30):
        loss, grads = model.loss_and_grad(params, X, y)
        losses.append(loss)
        params, state = optimizer.step(params, grads, state)
    assert np.all(np.diff(losses) < 0)


@models()
def test_init_params_are_float64_arrays_of_the_declared_shapes_and_follow_the_seed(model):
    params = model.init_params(3)
    assert list(params) == list(model.param_shapes)
    for name, shape in model.param_shapes.items():
        assert params[name].dtype == np.float64 and params[name].shape == shape
        if name.startswith("b"):
            assert not params[name].any()
    again, other = model.init_params(3), model.init_params(4)
    for name in params:
        np.testing.assert_array_equal(params[name], again[name])
    assert any(not np.array_equal(params[name], other[name]) for name in params)


def test_mlp_initialisation_keeps_the_signal_scale_through_relu_layers():
    model = MLP(200, 10, hidden=(200, 200, 200))
    params = model.init_params(0)
    X = np.random.default_rng(0).standard_normal((500, 200))
    activations = model._forward(params, X)
    # He initialisation: every hidden layer's input to the ReLU has the mean square of the one before.
    pre_activations = [activations[layer - 1] @ params[f"W{layer}"] for layer in (1, 2, 3)]
    for lower, upper in zip(pre_activations, pre_activations[1:]):
        assert 0.8 < np.mean(upper**2) / np.mean(lower**2) < 1.25


def test_linear_regression_loss_is_the_mean_of_squared_errors_not_half_of_it():
    model = LinearRegression(2)
    params = {"w": np.array([1.0, -2.0]), "b": np.array([0.5])}
    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    y = np.array([0.0, 0.0, 1.0])
    prediction = model.predict(params, X)
    np.testing.assert_allclose(prediction, X @ params["w"] + 0.5)
    assert model.loss(params, X, y) == pytest.approx(np.mean((prediction - y) ** 2), rel=1e-15)


def test_softmax_loss_is_log_of_class_count_when_all_logits_are_equal():
    model = SoftmaxRegression(3, 5)
    params = {name: np.zeros(shape) for name, shape in model.param_shapes.items()}
    X, y = batch(model)
    assert model.loss(params, X, y) == pytest.approx(np.log(5), rel=1e-14)


@pytest.mark.parametrize("model", [SoftmaxRegression(3, 4), MLP(3, 4, hidden=(6,))], ids=["softmax", "mlp"])
def test_cross_entropy_stays_finite_and_exact_for_huge_logits(model):
    params = perturbed_params(model)
    X, y = batch(model)
    last = f"b{len(params) // 2}" if isinstance(model, MLP) else "b"
    # Adding the same constant to every logit changes neither softmax nor the loss, however large.
    shifted = dict(params, **{last: params[last] + 1e6})
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, grads = model.loss_and_grad(shifted, X, y)
    assert loss == pytest.approx(model.loss(params, X, y), rel=1e-6)
    # A huge gap between logits gives a huge, but finite, loss for the misclassified examples.
    lopsided = dict(params, **{last: params[last] + np.array([1e6, 0, 0, 0])})
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, grads = model.loss_and_grad(lopsided, X, y)
    assert np.isfinite(loss) and loss > 1e5
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_classifiers_predict_the_largest_logit_and_accuracy_counts_matches():
    model = SoftmaxRegression(2, 3)
    params = {"W": np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), "b": np.array([0.0, 0.0, 0.5])}
    X = np.array([[2.0, 0.0], [0.0, 2.0], [0.1, 0.2], [3.0, 1.0]])
    np.testing.assert_array_equal(model.predict(params, X), [0, 1, 2, 0])
    assert model.accuracy(params, X, np.array([0, 1, 2, 1])) == 0.75


def test_a_trained_mlp_separates_an_xor_pattern_that_softmax_regression_cannot():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)

    def train(model, lr, steps):
        params = model.init_params(0)
        optimizer = SGD(lr=lr, momentum=0.9)
        state = optimizer.init(params)
        for _ in range(steps):
            _, grads = model.loss_and_grad(params, X, y)
            params, state = optimizer.step(params, grads, state)
        return model.accuracy(params, X, y)

    assert train(MLP(2, 2, hidden=(16,), activation="tanh"), lr=0.5, steps=300) > 0.95
    assert train(SoftmaxRegression(2, 2), lr=0.5, steps=300) < 0.75


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: LinearRegression(0), "n_features must be a whole number >= 1"),
        (lambda: LinearRegression(2.5), "n_features"),
        (lambda: SoftmaxRegression(3, 1), "n_classes must be a whole number >= 2"),
        (lambda: MLP(3, 4, hidden=[8]), "hidden must be a non-empty tuple"),
        (lambda: MLP(3, 4, hidden=()), "hidden must be a non-empty tuple"),
        (lambda: MLP(3, 4, hidden=(8, 0)), r"hidden\[1\]"),
        (lambda: MLP(3, 4, activation="sigmoid"), "activation must be one of"),
    ],
)
def test_bad_model_sizes_are_rejected_with_the_field_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@models()
def test_inputs_of_the_wrong_shape_are_rejected_with_a_clear_message(model):
    params = model.init_params(0)
    X, y = batch(model)
    with pytest.raises(ValueError, match=r"X must be a 2-D array.*X\[None, :\]"):
        model.loss_and_grad(params, X[0], y[:1])
    with pytest.raises(ValueError, match=r"X has 4 features per example but .* expects 3"):
        model.loss_and_grad(params, np.hstack([X, X[:, :1]]), y)
    with pytest.raises(ValueError, match="y has 8 entries but X has 9 examples"):
        model.loss_and_grad(params, X, y[:-1])
    with pytest.raises(ValueError, match="y must be a 1-D array"):
        model.loss_and_grad(params, X, y[:, None])
    with pytest.raises(ValueError, match="no examples"):
        model.loss_and_grad(params, X[:0], y[:0])


@models()
def test_params_with_missing_keys_wrong_shapes_or_integer_dtype_are_rejected(model):
    params = model.init_params(0)
    X, y = batch(model)
    first = next(iter(params))
    with pytest.raises(ValueError, match=r"must be a dict with keys .*init_params"):
        model.loss_and_grad({k: v for k, v in params.items() if k != first}, X, y)
    with pytest.raises(ValueError, match=rf"params\['{first}'\] has shape"):
        model.loss_and_grad(dict(params, **{first: params[first][:1]}), X, y)
    with pytest.raises(ValueError, match=rf"params\['{first}'\] must be a float NumPy array"):
        model.loss_and_grad(dict(params, **{first: params[first].astype(int)}), X, y)
    with pytest.raises(ValueError, match=r"must be a dict"):
        model.predict(list(params.values()), X)


def test_classifiers_reject_float_labels_and_labels_out_of_range():
    model = SoftmaxRegression(3, 4)
    params = model.init_params(0)
    X, _ = batch(model, n=3)
    with pytest.raises(ValueError, match="integer class labels 0..3.*LinearRegression"):
        model.loss(params, X, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"labels from 1 to 4, but .* only knows classes 0..3"):
        model.accuracy(params, X, np.array([1, 4, 2]))
    with pytest.raises(ValueError, match="labels from -1 to 2"):
        model.loss_and_grad(params, X, np.array([0, -1, 2]))


def test_linear_regression_rejects_class_labels_and_says_what_to_do():
    model = LinearRegression(3)
    X, _ = batch(model)
    with pytest.raises(ValueError, match=r"real-valued targets.*SoftmaxRegression or MLP.*astype\(float\)"):
        model.loss_and_grad(model.init_params(0), X, np.arange(9))
