"""course_lib.demos.adagrad: lesson 06's race on rare features."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.data import load_diabetes, make_sparse
from course_lib.demos import adagrad
from course_lib.models import LinearRegression
from course_lib.optimizers import SGD, Adagrad


def test_adagrad_learns_the_rare_weights_that_sgd_leaves_short():
    sparse = make_sparse()
    errors = adagrad.rare_feature_race(LinearRegression(sparse.n_features), [SGD(lr=0.9), Adagrad(lr=1.0)], sparse,
                                       batch_size=64, epochs=10, n_common=5)
    sgd, ada = "SGD(lr=0.9)", "Adagrad(lr=1.0)"
    assert set(errors.rare) == {sgd, ada} and errors.rare[ada].shape == (11,)
    # The lesson's claims: AdaGrad's rare-weight error falls far below SGD's, and SGD's rare weights
    # are still short of the true ones (between the diagonal and zero).
    assert errors.rare[ada][-1] < 0.25 * errors.rare[sgd][-1]
    rare_true, rare_sgd = sparse.true_weights[5:], errors.final_weights[sgd][5:]
    assert np.mean(np.abs(rare_sgd) < np.abs(rare_true)) > 0.8
    assert len(plt.gcf().axes) == 2
    plt.close("all")


@pytest.mark.parametrize("kwargs, message", [
    ({"n_common": 0}, "n_common"), ({"n_common": 50}, "n_common"), ({"epochs": 0}, "epochs"),
])
def test_rare_feature_race_rejects_bad_settings(kwargs, message):
    sparse = make_sparse()
    settings = {"batch_size": 64, "epochs": 1, "n_common": 5} | kwargs
    with pytest.raises(ValueError, match=message):
        adagrad.rare_feature_race(LinearRegression(sparse.n_features), [SGD(lr=0.1)], sparse, **settings)


def test_rare_feature_race_needs_the_true_weights():
    diabetes = load_diabetes()
    with pytest.raises(ValueError, match="true weights"):
        adagrad.rare_feature_race(LinearRegression(diabetes.n_features), [SGD(lr=0.1)], diabetes,
                                  batch_size=32, epochs=1, n_common=2)
