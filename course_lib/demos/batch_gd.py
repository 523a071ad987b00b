"""Lesson 01's experiments: batch gradient descent on the linear model of the diabetes data.

The model's loss is the mean squared error L(w, b) = (1/N) Σ_i (x_i·w + b − y_i)², a quadratic whose
Hessian H = (2/N) X₁ᵀX₁ (with X₁ = [X 1]) is the same everywhere. Along an eigenvector of H with
curvature h, one update at learning rate γ multiplies the distance to the minimum by 1 − γh: batch
gradient descent converges if and only if γ < 2/h_max, at a speed set by κ = h_max/h_min.
"""

from __future__ import annotations

import dataclasses
import time

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from ..functions import Surface
from ..models import LinearRegression
from ..optimizers import SGD
from ..training import History, fit, minimize
from .._arguments import check_positive, check_whole


def _feature_indices(data, names) -> list[int]:
    names = list(names)
    unknown = [name for name in names if name not in data.feature_names]
    if len(names) != 2 or unknown:
        raise ValueError(f"features must be two of the data's feature names {list(data.feature_names)}, "
                         f"got {names!r}")
    return [data.feature_names.index(name) for name in names]


@dataclasses.dataclass(frozen=True)
class Quadratic:
    """The exact facts of the linear model's MSE on a data set: the ``curvatures`` (eigenvalues of its
    Hessian, ascending), the ``least_squares`` parameters ``{"w": ..., "b": ...}`` and their training
    loss, the lowest there is."""

    curvatures: np.ndarray
    least_squares: dict
    lowest_loss: float

    @property
    def limit(self) -> float:
        """The largest stable learning rate of gradient descent, 2/h_max."""
        return 2 / float(self.curvatures[-1])

    @property
    def condition_number(self) -> float:
        """κ = h_max/h_min."""
        return float(self.curvatures[-1] / self.curvatures[0])


def mse_quadratic(data) -> Quadratic:
    """The curvatures and lowest loss of ``LinearRegression``'s MSE on ``data``'s training set."""
    X, y = data.X_train, data.y_train
    with_ones = np.column_stack([X, np.ones(len(X))])
    solution = np.linalg.lstsq(with_ones, y, rcond=None)[0]
    return Quadratic(curvatures=np.linalg.eigvalsh(2 / len(X) * with_ones.T @ with_ones),
                     least_squares={"w": solution[:-1], "b": solution[-1:]},
                     lowest_loss=float(np.mean((with_ones @ solution - y) ** 2)))


@dataclasses.dataclass(frozen=True)
class ExampleGradients:
    """The gradient of every example's loss, one row each (the weights' coordinates first, the bias
    last), and their mean, the gradient of L."""

    per_example: np.ndarray
    mean: np.ndarray

    @property
    def against_the_mean(self) -> int:
        """How many example gradients point more than 90° away from their mean."""
        return int(np.sum(self.per_example @ self.mean < 0))


def plot_example_gradients(model, params, data, features=("bmi", "s5")) -> ExampleGradients:
    """Every training example's gradient ∇ℓ_i at ``params``, and their mean ∇L, in two coordinates.

    ``model`` computes each gradient (``model.loss_and_grad`` on one example); ``features`` names the
    two weights whose partial derivatives the scatter plot shows.
    """
    shown = _feature_indices(data, features)
    X, y = data.X_train, data.y_train
    rows = []
    for i in range(len(X)):
        _, grads = model.loss_and_grad(params, X[i:i + 1], y[i:i + 1])
        rows.append(np.concatenate([grads["w"], grads["b"]]))
    gradients = ExampleGradients(per_example=np.array(rows), mean=np.mean(rows, axis=0))

    fig, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
    ax.scatter(*gradients.per_example[:, shown].T, s=12, color=plots.PALETTE[5],
               label=f"∇ℓ_i of each of the {len(X)} examples")
    ax.scatter(*gradients.mean[shown], s=150, marker="*", color=plots.PALETTE[1], edgecolor="black", zorder=3,
               label="their mean: the batch gradient ∇L")
    ax.axhline(0, color="0.7", linewidth=0.8)
    ax.axvline(0, color="0.7", linewidth=0.8)
    first, second = features
    ax.set(xlabel=f"∂ℓ_i/∂w_{first}", ylabel=f"∂ℓ_i/∂w_{second}", aspect="equal")
    ax.set_title(f"{len(X)} examples pull {len(X)} ways; batch GD steps along their mean", loc="left")
    ax.legend(fontsize="small", loc="lower right")
    return gradients


@dataclasses.dataclass(frozen=True)
class Cliff:
    """Batch gradient descent at learning rates ``fractions`` × 2/h_max: ``runs`` by fraction, and for
    each fraction ``gaps``, the final L − L*, infinite for a run that diverged."""

    quadratic: Quadratic
    fractions: tuple
    runs: dict
    gaps: np.ndarray

    @property
    def lrs(self) -> np.ndarray:
        return np.array(self.fractions) * self.quadratic.limit

    @property
    def diverged(self) -> np.ndarray:
        return ~np.isfinite(self.gaps)


def learning_rate_cliff(data, fractions, *, epochs: int, shown=(), params=None) -> Cliff:
    """Batch gradient descent on ``LinearRegression`` at learning rates around the predicted limit.

    Each run starts from ``params`` (by default the model's ``init_params(seed=0)``) and uses
    γ = fraction × 2/h_max for each of ``fractions``. A run counts as diverged when ``fit`` stopped it
    or its loss ended above where it started. Left: the training loss per epoch of the ``shown``
    fractions; right: L − L* after the last epoch against γ, the diverged runs as crosses on top, and
    the predicted limit as a dashed line.
    """
    fractions = tuple(fractions)
    if not fractions:
        raise ValueError("fractions must name at least one multiple of the limit 2/h_max")
    for fraction in fractions:
        check_positive("each of fractions", fraction)
    check_whole("epochs", epochs, 1)
    if not set(shown) <= set(fractions):
        raise ValueError(f"shown must be some of fractions {fractions}, got {tuple(shown)!r}")
    quadratic = mse_quadratic(data)
    model = LinearRegression(n_features=data.n_features)
    runs = {fraction: fit(model, SGD(lr=fraction * quadratic.limit), data, batch_size=None, epochs=epochs,
                          params=params)
            for fraction in fractions}
    gaps = np.array([np.inf if run.diverged or run.train_losses[-1] > run.train_losses[0]
                     else run.train_losses[-1] - quadratic.lowest_loss for run in runs.values()])
    cliff = Cliff(quadratic=quadratic, fractions=fractions, runs=runs, gaps=gaps)

    fig, (curve_ax, sweep_ax) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    for index, fraction in enumerate(shown):
        curve_ax.semilogy(runs[fraction].train_losses, color=plots.run_style(index)["color"],
                          label=f"lr = {fraction} × 2/h_max")
    curve_ax.set(xlabel="epoch (= update)", ylabel="training loss (log scale)",
                 ylim=(0.9 * quadratic.lowest_loss, 30))
    curve_ax.set_title("Below the limit the loss falls; just above, it grows", loc="left")
    if shown:
        curve_ax.legend(fontsize="small")

    healthy = ~cliff.diverged
    # A decade and more above the worst converged run: room for the crosses of the diverged ones.
    top = 20 * np.max(gaps[healthy], initial=1e-3)
    sweep_ax.semilogy(cliff.lrs[healthy], gaps[healthy], "o-", color=plots.PALETTE[0], label="converged")
    sweep_ax.plot(cliff.lrs[~healthy], np.full((~healthy).sum(), top / 2), "X", markersize=10,
                  color=plots.PALETTE[1], linestyle="none", label="diverged (drawn at the top)")
    sweep_ax.axvline(quadratic.limit, color="black", linestyle="--",
                     label=f"predicted limit 2/h_max = {quadratic.limit:.4f}")
    sweep_ax.set(xlabel="learning rate", ylabel=f"L − L* after {epochs} epochs (log scale)",
                 ylim=(np.min(gaps[healthy], initial=top / 1e3) / 2.5, top))
    sweep_ax.set_title("The cliff is where the eigenvalues say", loc="left")
    sweep_ax.legend(fontsize="small")
    return cliff


@dataclasses.dataclass(frozen=True)
class FeaturePair:
    """The training MSE as a function of two features' weights alone, and gradient descent on it.

    ``surface`` is the loss as a :class:`~course_lib.functions.Surface`; ``correlation`` that of the two
    features; ``curvatures`` the eigenvalues of its Hessian, ascending; ``runs`` one Trajectory per
    fraction of 2/h_max.
    """

    surface: Surface
    correlation: float
    curvatures: np.ndarray
    runs: list

    @property
    def limit(self) -> float:
        return 2 / float(self.curvatures[-1])

    @property
    def condition_number(self) -> float:
        return float(self.curvatures[-1] / self.curvatures[0])


def feature_pair_surface(data, features, *, start) -> tuple[Surface, np.ndarray]:
    """The training MSE of the weights of two ``features`` alone, the other weights 0 and the bias at
    its optimum, which is 0 for centred data: L(w) = wᵀGw − 2wᵀc + mean(y²), with G = X₂ᵀX₂/N and
    c = X₂ᵀy/N for the two features' columns X₂. Returns the Surface, whose window is a square
    around the minimum that holds ``start``, and its Hessian 2G.
    """
    columns = data.X_train[:, _feature_indices(data, features)]
    y = data.y_train
    gram, pull = columns.T @ columns / len(y), columns.T @ y / len(y)

    def value(points):
        points = np.asarray(points, dtype=float)
        return np.einsum("...i,ij,...j->...", points, gram, points) - 2 * points @ pull + np.mean(y ** 2)

    def grad(points):
        return 2 * (np.asarray(points, dtype=float) @ gram - pull)

    minimum = np.linalg.solve(gram, pull)
    start = np.asarray(start, dtype=float)
    if start.shape != (2,) or not np.all(np.isfinite(start)):
        raise ValueError(f"start must be two finite weights, got {start.tolist()!r}")
    half = 1.2 * np.max(np.abs(start - minimum))
    first, second = features
    surface = Surface(
        name=f"{data.name}_{first}_{second}", title=f"{data.name.capitalize()}, weights of {first} and {second}",
        value=value, grad=grad, minima=(tuple(minimum),), start=tuple(start),
        window=tuple((float(centre - half), float(centre + half)) for centre in minimum),
        description=f"The training MSE of the {data.name} model as a function of the weights of {first} and "
                    f"{second}.")
    return surface, 2 * gram


def feature_pair_ravine(data, features=("s1", "s2"), *, fractions, steps: int, start=(-1.2, 1.0)) -> FeaturePair:
    """Batch gradient descent on the loss of two correlated features' weights (see
    :func:`feature_pair_surface`), at γ = fraction × 2/h_max for each of ``fractions``, drawn on its
    contour map. Returns the surface, the correlation, the curvatures and the runs.
    """
    fractions = tuple(fractions)
    for fraction in fractions:
        check_positive("each of fractions", fraction)
    check_whole("steps", steps, 1)
    surface, hessian = feature_pair_surface(data, features, start=start)
    curvatures = np.linalg.eigvalsh(hessian)
    limit = 2 / curvatures[-1]
    runs = [dataclasses.replace(minimize(surface, SGD(lr=fraction * limit), surface.start, steps=steps),
                                label=f"lr = {fraction} × 2/h_max")
            for fraction in fractions]
    pair = FeaturePair(surface=surface, correlation=float(hessian[0, 1] / np.sqrt(hessian[0, 0] * hessian[1, 1])),
                       curvatures=curvatures, runs=runs)
    ax = plots.plot_contours(surface, runs,
                             title=f"Batch GD on real data: the same zig-zag (2/h_max = {pair.limit:.3f})")
    first, second = features
    ax.set(xlabel=f"weight of {first}", ylabel=f"weight of {second}")
    return pair


@dataclasses.dataclass(frozen=True)
class GradientTimes:
    """``seconds[k]``: the fastest of several timings of one full-batch gradient on ``sizes[k]`` examples."""

    sizes: np.ndarray
    seconds: np.ndarray

    @property
    def seconds_per_example(self) -> float:
        """At the largest size, where the fixed overhead of the NumPy calls no longer counts."""
        return float(self.seconds[-1] / self.sizes[-1])


def time_full_batch_gradient(model, params, data, copies=(1, 4, 16, 64, 128), *, repeats: int = 5) -> GradientTimes:
    """Time one full-batch gradient of ``model`` at ``params`` on the training set stacked ``k`` times,
    for each ``k`` of ``copies``, on this machine now (the fastest of ``repeats`` timings, to shut out
    other programs). Draws the time against the number of examples, next to a line proportional to it.
    """
    copies = tuple(copies)
    if not copies:
        raise ValueError("copies must hold at least one whole number >= 1")
    for k in copies:
        check_whole("each of copies", k, 1)
    check_whole("repeats", repeats, 1)
    X, y = data.X_train, data.y_train
    seconds = []
    for k in copies:
        X_big, y_big = np.tile(X, (k, 1)), np.tile(y, k)
        fastest = np.inf
        for _ in range(repeats):
            began = time.perf_counter()
            model.loss_and_grad(params, X_big, y_big)
            fastest = min(fastest, time.perf_counter() - began)
        seconds.append(fastest)
    times = GradientTimes(sizes=len(X) * np.array(copies), seconds=np.array(seconds))

    fig, ax = plt.subplots(figsize=(7, 4.3), layout="constrained")
    ax.loglog(times.sizes, 1e3 * times.seconds, "o-", label="measured: one full-batch gradient")
    ax.loglog(times.sizes, 1e3 * times.seconds_per_example * times.sizes, "k:", label="proportional to N")
    ax.set(xlabel="N, examples per update (= per-example gradients per update)", ylabel="milliseconds per update")
    ax.set_title("The cost of one batch-GD update grows with N", loc="left")
    ax.legend()
    return times


@dataclasses.dataclass(frozen=True)
class LoopComparison:
    """The learner's training losses (before training and after each epoch) against ``reference``,
    ``training.fit``'s run, and the learner's validation loss."""

    losses: np.ndarray
    reference: History
    validation_loss: float

    @property
    def largest_difference(self) -> float:
        """The largest gap between the two training-loss curves."""
        return float(np.max(np.abs(self.losses - self.reference.train_losses)))


def compare_with_fit(losses, w, b, data, *, lr: float, params) -> LoopComparison:
    """The learner's batch-gradient-descent run against ``training.fit(..., batch_size=None)``.

    ``losses`` holds the learner's training loss before training and after each epoch, and ``w, b`` the
    final weights and bias; the reference trains ``LinearRegression`` with ``SGD(lr=lr)`` from
    ``params`` for as many epochs. Draws both loss curves, the reference's validation loss and the
    lowest possible training loss, with a logarithmic epoch axis beyond 10 so that the fast start and
    the end both show.
    """
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 1 or len(losses) < 2:
        raise ValueError(f"losses must hold the loss before training and after each epoch, got shape {losses.shape}")
    check_positive("lr", lr)
    w = np.asarray(w, dtype=float)
    if w.shape != (data.n_features,):
        raise ValueError(f"w must hold the {data.n_features} final weights, got shape {w.shape}")
    model = LinearRegression(n_features=data.n_features)
    reference = dataclasses.replace(
        fit(model, SGD(lr=lr), data, batch_size=None, epochs=len(losses) - 1, params=params),
        label="course_lib: fit(batch_size=None)")
    comparison = LoopComparison(losses=losses, reference=reference,
                                validation_loss=model.loss({"w": w, "b": np.array([float(b)])}, data.X_val, data.y_val))

    fig, ax = plt.subplots(figsize=(8, 4.3), layout="constrained")
    ax.plot(losses, color=plots.PALETTE[1], linewidth=6, alpha=0.5, label="your batch_gradient_descent (training)")
    plots.plot_loss_per_epoch(reference, ax=ax, title="Your loop and course_lib's fit give the same run")
    lowest = mse_quadratic(data).lowest_loss
    ax.axhline(lowest, color="0.5", linestyle=":", label="lowest possible training loss")
    top = max(losses[0], reference.val_losses.max())
    ax.set(ylim=(lowest - 0.1 * (top - lowest), top + 0.1 * (top - lowest)), xscale="symlog", xlim=(0, len(losses) - 1))
    ax.xaxis.set_major_formatter("{x:g}")
    ax.legend(fontsize="small")
    return comparison
