"""The data sets of the course: two real ones that ship with scikit-learn and three made from a seed.

One function per data set, each returning a :class:`Dataset` already split into a training
part and a validation part::

    load_digits()      8x8 handwritten digits, 10 classes            (classification, real)
    load_diabetes()    disease progression from 10 measurements      (regression, real)
    make_linear()      y = X w* + b* + noise, with w* and b* stored   (regression, synthetic)
    make_blobs()       two Gaussian clouds in the plane              (classification, synthetic)
    make_sparse()      rare but informative binary features          (regression, synthetic)

Nothing is downloaded: scikit-learn installs the two real data sets with the package. Every
split is drawn from ``seed``, so the same call always returns the same arrays. The arrays are
read-only, so that no notebook cell can quietly change the data that a later cell uses.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np
import sklearn.datasets


@dataclasses.dataclass(frozen=True, repr=False)
class Dataset:
    """A training/validation split of one data set.

    ``X_*`` are 2-D (examples x features). ``y_*`` are float targets for regression and
    integer labels ``0 .. n_classes - 1`` for classification (``n_classes`` is None for
    regression). ``true_weights`` and ``true_bias`` are the generating parameters of
    :func:`make_linear` and :func:`make_sparse`, and None for every other set.
    """

    name: str
    description: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    n_classes: int | None = None
    true_weights: np.ndarray | None = None
    true_bias: float | None = None

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_train(self) -> int:
        return len(self.X_train)

    @property
    def n_val(self) -> int:
        return len(self.X_val)

    def __repr__(self) -> str:
        task = f"{self.n_classes} classes" if self.n_classes else f"target: {self.target_name}"
        return (
            f"Dataset({self.name!r}: {self.n_train} training + {self.n_val} validation examples, "
            f"{self.n_features} features, {task})"
        )


def _check_fraction(val_fraction) -> None:
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be a number strictly between 0 and 1, got {val_fraction!r}")


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")


def _check_nonnegative(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a real number >= 0, got {value!r}")


def _split(X: np.ndarray, y: np.ndarray, val_fraction: float, rng: np.random.Generator):
    """Shuffle the examples with ``rng`` and cut off the last ``val_fraction`` as validation."""
    n_val = int(round(val_fraction * len(X)))
    if not 0 < n_val < len(X):
        raise ValueError(
            f"val_fraction={val_fraction!r} of {len(X)} examples leaves an empty training or validation part"
        )
    order = rng.permutation(len(X))
    train, val = order[:-n_val], order[-n_val:]
    return X[train], y[train], X[val], y[val]


def _standardise(X_train: np.ndarray, X_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give every feature mean 0 and standard deviation 1 on the training part.

    The statistics come from the training part only: the validation part stands in for data
    the model has never seen, and letting its values shape the preprocessing would make the
    validation score more optimistic than the score on truly new data.
    """
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    # Some digit pixels are blank in every training image; leave those at 0 rather than divide by 0.
    std[std == 0] = 1.0
    return (X_train - mean) / std, (X_val - mean) / std


def _dataset(**fields) -> Dataset:
    for value in fields.values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return Dataset(**fields)


def load_digits(*, val_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Handwritten digits (UCI, Alpaydin & Kaynak 1998), as bundled with scikit-learn.

    1797 grey-scale images of 8x8 pixels (64 features, integer intensities 0..16), 10 classes
    of about 180 images each. Each pixel is standardised with the training part's statistics.
    With the defaults: 1348 training and 449 validation images.
    """
    _check_fraction(val_fraction)
    bunch = sklearn.datasets.load_digits()
    X_train, y_train, X_val, y_val = _split(bunch.data, bunch.target.astype(np.int64), val_fraction,
                                            np.random.default_rng(seed))
    X_train, X_val = _standardise(X_train, X_val)
    return _dataset(
        name="digits",
        description=(
            "Handwritten digits 0-9 scanned as 8x8 grey-scale images (64 pixel features, "
            "standardised). Task: recognise the digit. Guessing gives 10% accuracy and a "
            "cross-entropy of log(10) = 2.30."
        ),
        X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val,
        feature_names=tuple(bunch.feature_names),
        target_name="digit",
        n_classes=10,
    )


def load_diabetes(*, val_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Diabetes progression (Efron, Hastie, Johnstone & Tibshirani 2004), bundled with scikit-learn.

    442 patients, 10 baseline measurements (age, sex, body mass index, blood pressure and six
    blood serum values); the target is a measure of disease progression one year later.
    scikit-learn's default copy is pre-scaled with statistics of all 442 patients, so this
    loads the raw values and standardises them with the training part's statistics. The
    target is standardised too, so a mean squared error of 1 is what always predicting the
    training mean scores, whatever the units.
    """
    _check_fraction(val_fraction)
    bunch = sklearn.datasets.load_diabetes(scaled=False)
    X_train, y_train, X_val, y_val = _split(bunch.data, bunch.target, val_fraction, np.random.default_rng(seed))
    X_train, X_val = _standardise(X_train, X_val)
    mean, std = y_train.mean(), y_train.std()
    return _dataset(
        name="diabetes",
        description=(
            "442 diabetes patients: age, sex, body mass index, blood pressure and six blood serum "
            "measurements (standardised). Task: predict disease progression one year later. The "
            f"target is standardised (training mean {mean:.0f}, std {std:.0f}), so predicting "
            "the mean gives a mean squared error of about 1."
        ),
        X_train=X_train, y_train=(y_train - mean) / std, X_val=X_val, y_val=(y_val - mean) / std,
        feature_names=tuple(bunch.feature_names),
        target_name="disease progression after one year (standardised)",
    )


def make_linear(n_samples: int = 200, n_features: int = 2, noise: float = 0.5, *,
                val_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """A linear regression problem with known answer: ``y = X w* + b* + noise * eps``.

    Features and ``eps`` are independent standard normals and ``w*``, ``b*`` are drawn from
    a standard normal too, all from ``seed``. The features already have mean 0 and std 1 by
    construction, so they are not re-standardised: that would move the optimum away from the
    stored ``true_weights`` and ``true_bias``. The best achievable mean squared error is about
    ``noise**2``.
    """
    _check_count("n_samples", n_samples, 2)
    _check_count("n_features", n_features, 1)
    _check_nonnegative("noise", noise)
    _check_fraction(val_fraction)
    rng = np.random.default_rng(seed)
    true_weights = rng.standard_normal(n_features)
    true_bias = float(rng.standard_normal())
    X = rng.standard_normal((n_samples, n_features))
    y = X @ true_weights + true_bias + noise * rng.standard_normal(n_samples)
    X_train, y_train, X_val, y_val = _split(X, y, val_fraction, rng)
    return _dataset(
        name="linear",
        description=(
            f"Synthetic linear regression: {n_features} standard-normal features, "
            f"y = X w* + b* + noise with noise std {noise:g}. The true w* and b* are stored."
        ),
        X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val,
        feature_names=tuple(f"x{i}" for i in range(n_features)),
        target_name="y",
        true_weights=true_weights,
        true_bias=true_bias,
    )


def make_blobs(n_samples: int = 200, distance: float = 3.0, *,
               val_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Two classes in the plane: unit-variance Gaussian clouds whose centres are ``distance`` apart.

    The centres sit at ``+-distance/2`` along the diagonal ``(1, 1)/sqrt(2)``, so both features
    matter; labels are 0 and 1, half of the examples each. The larger the distance, the more
    separable the classes (with ``distance=3`` about 7% of the points lie on the wrong side of
    the ideal boundary). Features are not re-standardised: they are on unit scale already.
    """
    _check_count("n_samples", n_samples, 4)
    _check_nonnegative("distance", distance)
    _check_fraction(val_fraction)
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % 2
    centres = np.where(y[:, None] == 1, 0.5, -0.5) * distance / np.sqrt(2.0)
    X = centres + rng.standard_normal((n_samples, 2))
    X_train, y_train, X_val, y_val = _split(X, y, val_fraction, rng)
    return _dataset(
        name="blobs",
        description=(
            f"Two synthetic classes in the plane: Gaussian clouds of unit variance whose centres "
            f"are {distance:g} apart. Task: tell them apart."
        ),
        X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val,
        feature_names=("x0", "x1"),
        target_name="class",
        n_classes=2,
    )


def make_sparse(n_samples: int = 1000, n_common: int = 5, n_rare: int = 45, rare_frequency: float = 0.01,
                noise: float = 0.1, *, val_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """A regression problem with a few common features and many rare, informative ones.

    The first ``n_common`` features are standard normal and present in every example. Each of
    the other ``n_rare`` features is 1 in a random ``rare_frequency`` of the examples and 0
    elsewhere, and carries a large true weight (magnitude 2 to 4, against 0.5 to 1 for the
    common ones): think of rare words that decide a document's score. ``y = X w* + b* + noise``.

    Why AdaGrad wins here: with the mean squared error, the curvature along a feature is
    proportional to how often it is non-zero. Plain SGD has a single learning rate, and the
    common features cap it (a larger one makes them diverge), so along a rare feature it
    moves about ``rare_frequency`` times slower and needs many epochs to learn the weights that
    matter most. AdaGrad divides each coordinate's step by the root of that coordinate's own
    accumulated squared gradients, which stay small for rare features, so their steps stay
    large.

    The features are deliberately NOT standardised: standardising gives every rare feature
    unit variance, which evens out the curvatures that AdaGrad corrects for (and turns the
    zeros into non-zero values, destroying the sparsity).
    """
    _check_count("n_samples", n_samples, 2)
    _check_count("n_common", n_common, 0)
    _check_count("n_rare", n_rare, 1)
    if isinstance(rare_frequency, bool) or not isinstance(rare_frequency, numbers.Real) \
            or not 0 < rare_frequency <= 1:
        raise ValueError(f"rare_frequency must be a number in (0, 1], got {rare_frequency!r}")
    _check_nonnegative("noise", noise)
    _check_fraction(val_fraction)
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=n_common + n_rare)
    magnitudes = np.concatenate([rng.uniform(0.5, 1.0, n_common), rng.uniform(2.0, 4.0, n_rare)])
    true_weights = signs * magnitudes
    true_bias = float(rng.standard_normal())
    common = rng.standard_normal((n_samples, n_common))
    rare = (rng.random((n_samples, n_rare)) < rare_frequency).astype(float)
    X = np.hstack([common, rare])
    y = X @ true_weights + true_bias + noise * rng.standard_normal(n_samples)
    X_train, y_train, X_val, y_val = _split(X, y, val_fraction, rng)
    return _dataset(
        name="sparse",
        description=(
            f"Synthetic sparse regression: {n_common} common standard-normal features and {n_rare} "
            f"binary features that are each present in only {rare_frequency:.0%} of the examples but "
            f"carry large weights. Not standardised, on purpose: this is where AdaGrad beats SGD."
        ),
        X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val,
        feature_names=tuple(f"common{i}" for i in range(n_common)) + tuple(f"rare{i}" for i in range(n_rare)),
        target_name="y",
        true_weights=true_weights,
        true_bias=true_bias,
    )
