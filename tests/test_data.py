"""The data sets: sizes, splits, standardisation, reproducibility, and what each synthetic set promises."""

import dataclasses

import numpy as np
import pytest
import sklearn.datasets

from course_lib import data
from course_lib.models import LinearRegression
from course_lib.optimizers import SGD, Adagrad
from course_lib.training import fit

LOADERS = {
    "digits": data.load_digits,
    "diabetes": data.load_diabetes,
    "linear": data.make_linear,
    "blobs": data.make_blobs,
    "sparse": data.make_sparse,
}


def loaders():
    return pytest.mark.parametrize("load", LOADERS.values(), ids=list(LOADERS))


@loaders()
def test_every_set_is_a_consistent_train_validation_split(load):
    dataset = load()
    assert dataset.X_train.ndim == 2 and dataset.X_val.ndim == 2
    assert dataset.X_train.shape[1] == dataset.X_val.shape[1] == dataset.n_features == len(dataset.feature_names)
    assert dataset.y_train.shape == (dataset.n_train,) and dataset.y_val.shape == (dataset.n_val,)
    total = dataset.n_train + dataset.n_val
    assert dataset.n_val == round(0.25 * total)
    assert dataset.X_train.dtype == np.float64
    if dataset.n_classes is None:
        assert dataset.y_train.dtype == np.float64
    else:
        assert np.issubdtype(dataset.y_train.dtype, np.integer)
        assert set(np.unique(dataset.y_train)) == set(range(dataset.n_classes))
    assert dataset.description.endswith(".")
    assert dataset.name in repr(dataset) and str(dataset.n_train) in repr(dataset)


@loaders()
def test_the_same_seed_gives_the_same_arrays_and_another_seed_another_split(load):
    first, again, other = load(seed=0), load(seed=0), load(seed=1)
    for field in ("X_train", "y_train", "X_val", "y_val"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    assert not np.array_equal(first.y_train, other.y_train)


@loaders()
def test_arrays_are_read_only_and_the_dataset_frozen(load):
    dataset = load()
    with pytest.raises(ValueError, match="read-only"):
        dataset.X_train[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        dataset.y_val[0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        dataset.X_train = dataset.X_val


@loaders()
def test_val_fraction_sets_the_size_of_the_validation_part(load):
    full = load()
    dataset = load(val_fraction=0.5)
    assert dataset.n_val == round(0.5 * (full.n_train + full.n_val))


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, True, "0.2"])
@loaders()
def test_a_bad_val_fraction_is_rejected(load, bad):
    with pytest.raises(ValueError, match="val_fraction must be a number strictly between 0 and 1"):
        load(val_fraction=bad)


def test_the_real_sets_contain_every_bundled_example_exactly_once():
    digits = data.load_digits()
    bundled = sklearn.datasets.load_digits()
    assert digits.n_train + digits.n_val == len(bundled.data) == 1797
    assert digits.n_features == 64 and digits.n_classes == 10
    np.testing.assert_array_equal(np.bincount(np.concatenate([digits.y_train, digits.y_val])),
                                  np.bincount(bundled.target))
    diabetes = data.load_diabetes()
    assert diabetes.n_train + diabetes.n_val == 442 and diabetes.n_features == 10
    assert diabetes.n_classes is None


@pytest.mark.parametrize("load", [data.load_digits, data.load_diabetes], ids=["digits", "diabetes"])
def test_real_features_are_standardised_with_training_statistics_only(load):
    dataset = load()
    mean, std = dataset.X_train.mean(axis=0), dataset.X_train.std(axis=0)
    varying = std > 0
    np.testing.assert_allclose(mean, 0.0, atol=1e-12)
    np.testing.assert_allclose(std[varying], 1.0, rtol=1e-12)
    # Statistics of all the data would leave the training means slightly off zero; the
    # validation part, standardised with the training statistics, is off zero instead.
    assert np.max(np.abs(dataset.X_val.mean(axis=0))) > 0.01


def test_train_and_validation_features_get_the_same_affine_map_from_the_raw_values():
    dataset = data.load_diabetes()
    raw = sklearn.datasets.load_diabetes(scaled=False).data
    combined = np.vstack([dataset.X_train, dataset.X_val])
    for feature in range(dataset.n_features):
        # An increasing affine map keeps the order, so sorted values must lie on one straight line.
        standardised, original = np.sort(combined[:, feature]), np.sort(raw[:, feature])
        slope, intercept = np.polyfit(original, standardised, 1)
        np.testing.assert_allclose(slope * original + intercept, standardised, atol=1e-9)


def test_diabetes_target_is_standardised_so_predicting_the_mean_scores_one():
    dataset = data.load_diabetes()
    assert dataset.y_train.mean() == pytest.approx(0.0, abs=1e-12)
    assert np.mean(dataset.y_train**2) == pytest.approx(1.0, rel=1e-12)
    assert 0.7 < np.mean(dataset.y_val**2) < 1.3


def test_make_linear_stores_the_weights_that_least_squares_recovers():
    dataset = data.make_linear(n_samples=4000, n_features=3, noise=0.5, seed=2)
    design = np.column_stack([dataset.X_train, np.ones(dataset.n_train)])
    solution, *_ = np.linalg.lstsq(design, dataset.y_train, rcond=None)
    np.testing.assert_allclose(solution[:-1], dataset.true_weights, atol=0.05)
    assert solution[-1] == pytest.approx(dataset.true_bias, abs=0.05)
    residual = design @ solution - dataset.y_train
    assert np.mean(residual**2) == pytest.approx(0.25, rel=0.1)


def test_make_linear_without_noise_is_fitted_exactly():
    dataset = data.make_linear(noise=0.0)
    np.testing.assert_allclose(dataset.X_val @ dataset.true_weights + dataset.true_bias, dataset.y_val, atol=1e-12)


def test_make_blobs_gives_balanced_classes_whose_centres_are_the_asked_distance_apart():
    dataset = data.make_blobs(n_samples=4000, distance=4.0)
    X = np.vstack([dataset.X_train, dataset.X_val])
    y = np.concatenate([dataset.y_train, dataset.y_val])
    assert np.sum(y == 0) == np.sum(y == 1) == 2000
    gap = X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0)
    assert np.linalg.norm(gap) == pytest.approx(4.0, rel=0.05)
    assert abs(gap[0] - gap[1]) < 0.2
    np.testing.assert_allclose(X[y == 0].std(axis=0), 1.0, rtol=0.1)


def test_make_sparse_has_dense_common_features_and_rare_binary_ones_left_unstandardised():
    dataset = data.make_sparse(n_samples=4000, n_common=3, n_rare=20, rare_frequency=0.05)
    X = np.vstack([dataset.X_train, dataset.X_val])
    common, rare = X[:, :3], X[:, 3:]
    assert np.all(common != 0)
    assert set(np.unique(rare)) == {0.0, 1.0}
    assert rare.mean() == pytest.approx(0.05, rel=0.1)
    assert np.all(np.abs(dataset.true_weights[3:]) >= 2) and np.all(np.abs(dataset.true_weights[:3]) <= 1)
    noiseless = X @ dataset.true_weights + dataset.true_bias
    y = np.concatenate([dataset.y_train, dataset.y_val])
    assert np.std(y - noiseless) == pytest.approx(0.1, rel=0.1)


def test_on_the_sparse_set_adagrad_clearly_beats_plain_sgd_at_its_best_learning_rate():
    dataset = data.make_sparse()
    model = LinearRegression(dataset.n_features)

    def best_validation_loss(make_optimizer, learning_rates):
        runs = [fit(model, make_optimizer(lr), dataset, batch_size=32, epochs=5, progress=False)
                for lr in learning_rates]
        return min(run.val_losses[-1] for run in runs if run.diverged is None)

    # SGD's grid goes up to where it diverges, so its best learning rate is inside the grid.
    sgd = best_validation_loss(lambda lr: SGD(lr=lr), [0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5])
    adagrad = best_validation_loss(lambda lr: Adagrad(lr=lr), [0.3, 1.0, 3.0])
    assert adagrad < sgd / 10


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.make_linear(n_samples=1), "n_samples must be a whole number >= 2"),
        (lambda: data.make_linear(n_features=0), "n_features must be a whole number >= 1"),
        (lambda: data.make_linear(noise=-1.0), "noise must be a real number >= 0"),
        (lambda: data.make_blobs(distance=float("nan")), "distance must be a real number >= 0"),
        (lambda: data.make_sparse(rare_frequency=0.0), r"rare_frequency must be a number in \(0, 1\]"),
        (lambda: data.make_sparse(n_rare=0), "n_rare must be a whole number >= 1"),
        (lambda: data.make_linear(n_samples=3, val_fraction=0.1), "leaves an empty training or validation part"),
    ],
)
def test_bad_arguments_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
