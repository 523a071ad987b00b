"""Lesson 06's experiment: AdaGrad against SGD on rare but informative features."""

from __future__ import annotations

import dataclasses
import numbers

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..training import fit


@dataclasses.dataclass(frozen=True)
class WeightErrors:
    """Per optimizer label, the mean ``|w - w*|`` after each epoch (epoch 0 first) over the common
    and over the rare features, and the weights learned at the end."""

    common: dict
    rare: dict
    final_weights: dict


def rare_feature_race(model, optimizers, data, *, batch_size: int, epochs: int, n_common: int,
                      titles=None) -> WeightErrors:
    """Train ``model`` on ``data`` with each optimizer and follow its weight error epoch by epoch.

    ``data`` needs ``true_weights`` (as :func:`course_lib.data.make_sparse` gives), whose first
    ``n_common`` features are the common ones and the rest the rare ones. Left: the mean weight
    error per epoch, common features solid and rare ones dashed; right: the learned against the
    true weights of the rare features. ``fit`` is seeded, so the weights after ``e`` epochs are
    those of the first ``e`` epochs of the longest run. ``titles`` replaces the two panels' titles.
    """
    if getattr(data, "true_weights", None) is None:
        raise ValueError("data must know its true weights (data.make_sparse() or data.make_linear())")
    if isinstance(n_common, bool) or not isinstance(n_common, numbers.Integral) or not 0 < n_common < data.n_features:
        raise ValueError(f"n_common must be a whole number between 1 and {data.n_features - 1}, got {n_common!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    common, rare = slice(0, n_common), slice(n_common, None)
    errors = WeightErrors(common={}, rare={}, final_weights={})
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    for index, optimizer in enumerate(optimizers):
        weights = np.array([fit(model, optimizer, data, batch_size=batch_size, epochs=e).params["w"]
                            for e in range(epochs + 1)])
        distance = np.abs(weights - data.true_weights)
        errors.common[optimizer.label] = distance[:, common].mean(axis=1)
        errors.rare[optimizer.label] = distance[:, rare].mean(axis=1)
        errors.final_weights[optimizer.label] = weights[-1]
        color = plots.run_style(index)["color"]
        left.plot(errors.common[optimizer.label], color=color, marker="o", markersize=3,
                  label=f"{optimizer.label}: common")
        left.plot(errors.rare[optimizer.label], color=color, marker="o", markersize=3, linestyle="--",
                  label=f"{optimizer.label}: rare")
        right.scatter(data.true_weights[rare], weights[-1, rare], color=color, s=18, label=optimizer.label)
    left.set(yscale="log", xlabel="epoch", ylabel="mean |w - w*| (log scale)")
    left_title, right_title = titles or ("Weight error per epoch: common features solid, rare ones dashed",
                                         "Rare features: learned against true weights")
    left.set_title(left_title, loc="left", fontsize="medium")
    left.legend(fontsize="small")
    reach = np.max(np.abs(data.true_weights[rare])) * 1.1
    right.plot([-reach, reach], [-reach, reach], color="black", linewidth=0.8, label="learned = true")
    right.set(xlabel="true weight w*", ylabel=f"learned weight after {epochs} epochs")
    right.set_title(right_title, loc="left", fontsize="medium")
    right.legend(fontsize="small")
    return errors
