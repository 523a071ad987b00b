"""course_lib.demos.gradient_streams: phased gradient streams and the step lengths they produce."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.demos import gradient_streams
from course_lib.optimizers import Adadelta, Adagrad, RMSprop


def test_phased_streams_hold_each_scale_for_its_length():
    exact = gradient_streams.phased([10.0, 0.1], [3, 2])
    assert exact.tolist() == [10.0, 10.0, 10.0, 0.1, 0.1]
    noisy = gradient_streams.phased([10.0, 0.1, 1.0], [100, 200, 150], noise=0.3, seed=0)
    assert noisy.shape == (450,)
    assert 8 < np.mean(noisy[:100]) < 12 and 0.08 < np.mean(noisy[100:300]) < 0.12
    assert np.array_equal(noisy, gradient_streams.phased([10.0, 0.1, 1.0], [100, 200, 150], noise=0.3, seed=0))


@pytest.mark.parametrize("scales, lengths, noise, message", [
    ([1.0], [1, 2], 0.0, "same"), ([np.inf], [3], 0.0, "finite"), ([1.0], [0], 0.0, "lengths"),
    ([1.0], [2.5], 0.0, "lengths"), ([1.0], [3], -0.1, "noise"),
])
def test_phased_rejects_bad_input(scales, lengths, noise, message):
    with pytest.raises(ValueError, match=message):
        gradient_streams.phased(scales, lengths, noise=noise)


def test_adagrad_never_recovers_while_rmsprop_does_after_the_gradients_drop():
    stream = gradient_streams.phased([10.0, 0.1, 1.0], [100, 200, 150], noise=0.3, seed=0)
    streams = {"AdaGrad": (Adagrad(lr=0.1), stream), "RMSProp 0.9": (RMSprop(lr=0.01, alpha=0.9), stream)}
    effective = gradient_streams.plot_step_lengths(streams, per_gradient=True, marks=(100, 300))
    adagrad, rmsprop = effective["AdaGrad"], effective["RMSProp 0.9"]
    # Lesson 08: AdaGrad's effective step stays where the first phase left it; RMSProp's climbs back.
    assert adagrad[-1] < 1.2 * adagrad[99]
    assert rmsprop[299] > 10 * rmsprop[99]
    ax = plt.gca()
    assert len(ax.get_lines()) == 2 + 2 and ax.get_yscale() == "log"
    plt.close("all")


def test_constant_gradients_shrink_adagrad_and_grow_adadelta():
    steps = 10_000
    lengths = gradient_streams.plot_step_lengths(
        {"AdaGrad": (Adagrad(lr=0.1), np.ones(steps)), "AdaDelta": (Adadelta(), np.full(steps, 0.01))}, log_x=True)
    # Lesson 07: AdaGrad's 10,000th step is 1% of its first; AdaDelta's grows towards |g| = 0.01.
    assert lengths["AdaGrad"][-1] == pytest.approx(0.01 * lengths["AdaGrad"][0])
    assert lengths["AdaDelta"][0] < 0.004 and 0.008 < lengths["AdaDelta"][-1] <= 0.0101
    assert plt.gca().get_xscale() == "log"
    plt.close("all")


def test_plot_step_lengths_needs_streams():
    with pytest.raises(ValueError, match="streams"):
        gradient_streams.plot_step_lengths({})


def test_demos_loads_its_modules_on_first_use_and_names_a_missing_one():
    from course_lib import demos

    assert demos.gradient_streams is gradient_streams
    with pytest.raises(AttributeError, match="no module 'no_such_lesson'"):
        demos.no_such_lesson
