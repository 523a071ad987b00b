"""From ``course_lib`` to ``torch.optim``: what the optional lesson 15 needs to put the course's code
next to PyTorch's.

torch is an optional dependency of the course, so this module imports it only inside the functions
that use it: ``import course_lib.torch_bridge`` works without torch, and every function that needs
it says how to install it (:data:`INSTALL_HELP`). The lesson's setup cell calls::

    torch = require_torch(threads=1)

which returns the ``torch`` module, or, without torch, prints how to install its CPU build and
turns every later cell of the notebook into a one-line note (:data:`SKIPPED_NOTE`), so that the
lesson stops cleanly instead of failing cell after cell.

The rest, for the lesson's experiments and its explorer:

- :func:`course_optimizer`: a ``torch.optim.Optimizer`` that runs a course update function such
  as the learner's ``adam_update`` on every parameter, with torch's parameter groups, state,
  ``zero_grad`` and ``state_dict``;
- :func:`digits_tensors` and :func:`network`: the digits data and a small network with a
  LayerNorm, in float64, the same for every run of a seed;
- :func:`train`: torch's training loop, which can also make the two classic slips of the lesson
  (no ``zero_grad``, the scheduler stepped before the optimizer), recording a :class:`Run`;
- :func:`named_shapes` and :func:`parameter_groups`: a model's parameters as ``(name, shape)``
  pairs, and parameter groups written with names turned into torch's groups of tensors;
- :func:`loop_callbacks`: the four calls of a training step as functions, for exercise 2;
- :func:`plot_losses`: mini-batch losses per update, smoothed;
- :func:`explore`: the training-loop explorer.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import io
import math
import numbers
import warnings

import numpy as np
from ._arguments import check_whole

INSTALL_HELP = """\
This lesson needs PyTorch (the `torch` package), and it cannot be imported here.
Install PyTorch's CPU build (the lesson needs no GPU, and on Linux the CPU build is a fraction of
the size of the default one):

  in the course's own environment (the .venv made by `make lab`), from the course folder:
      .venv/bin/python -m pip install torch --index-url https://download.pytorch.org/whl/cpu
  (where pip is set up to find torch already, `.venv/bin/python -m pip install torch` is enough)

  in any other environment, or from a notebook cell (with % in front):
      pip install torch --index-url https://download.pytorch.org/whl/cpu

Then restart the kernel (Kernel > Restart Kernel) and run the notebook again from the top.
Until then the rest of this notebook does not run: every cell below only says so."""

SKIPPED_NOTE = "Not run: this lesson needs torch (the first code cell says how to install it)."

_SKIPPING = "_course_lib_skips_for_torch"


def import_torch():
    """The ``torch`` module; without it an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as error:
        raise ImportError(f"{INSTALL_HELP}\n(The import failed with: {error})") from error
    return torch


def require_torch(*, threads: int | None = None):
    """``torch`` if it can be imported. Otherwise print :data:`INSTALL_HELP`, make every later cell
    of the running IPython kernel print :data:`SKIPPED_NOTE` instead of running, and return None.

    Cells that start with ``%`` or ``!`` (``%pip install ...``) still run. Installing torch
    takes effect after a restart of the kernel, which also removes the note. ``threads`` sets
    ``torch.set_num_threads``: for networks as small as the lesson's, one thread is faster than
    several, and much faster on a machine that is busy with other work.
    """
    if threads is not None:
        check_whole("threads", threads, 1)
    try:
        torch = import_torch()
    except ImportError as error:
        print(f"{error}")
        _skip_later_cells()
        return None
    if threads is not None:
        torch.set_num_threads(threads)
    return torch


def _skip_later_cells() -> bool:
    """Replace every later cell of the running IPython shell by a print of the note; False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    transformers = shell.input_transformers_cleanup
    if not any(getattr(t, _SKIPPING, False) for t in transformers):
        transformers.append(_note_instead)
    return True


def _note_instead(lines: list[str]) -> list[str]:
    first = next((line.strip() for line in lines if line.strip() and not line.strip().startswith("#")), "")
    if first.startswith(("%", "!")):
        return lines
    return [f"print({SKIPPED_NOTE!r})\n"]


setattr(_note_instead, _SKIPPING, True)


# --- data and the network ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, repr=False)
class TensorData:
    """A training/validation split as torch tensors: features float64, labels int64."""

    X_train: object
    y_train: object
    X_val: object
    y_val: object

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    def __repr__(self) -> str:
        return (f"TensorData({self.n_train} training and {len(self.y_val)} validation examples, "
                f"{self.X_train.shape[1]} features, dtype {self.X_train.dtype})")


def digits_tensors() -> TensorData:
    """:func:`course_lib.data.load_digits` (1348 training, 449 validation images) as float64 tensors."""
    torch = import_torch()
    from .data import load_digits

    digits = load_digits()
    return TensorData(*(torch.tensor(np.array(a)) for a in (digits.X_train, digits.y_train, digits.X_val,
                                                            digits.y_val)))


def network(hidden: int = 32, *, norm: bool = True, seed: int = 0, inputs: int = 64, classes: int = 10):
    """``Linear(inputs, hidden) -> LayerNorm(hidden) -> ReLU -> Linear(hidden, classes)`` in float64.

    The initial weights come from ``seed`` alone (torch's global random state is left as it was),
    so two calls with one seed give two identical networks. ``norm=False`` leaves out the LayerNorm.
    """
    torch = import_torch()
    for name, value in (("hidden", hidden), ("inputs", inputs), ("classes", classes)):
        check_whole(name, value, 1)
    check_whole("seed", seed, 0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = [torch.nn.Linear(inputs, hidden)]
        layers += [torch.nn.LayerNorm(hidden)] if norm else []
        layers += [torch.nn.ReLU(), torch.nn.Linear(hidden, classes)]
        return torch.nn.Sequential(*layers).double()


# --- a course update function as a torch optimizer --------------------------------------------


def course_optimizer(params, update, like):
    """A ``torch.optim.Optimizer`` that updates every parameter with ``update``, a course update function.

    ``update`` has the course's signature, ``update(param, grad, state, **hyperparameters) ->
    (new_param, new_state)`` on NumPy arrays (``adam_update`` of lesson 09, say). ``like`` is the
    :mod:`course_lib.optimizers` optimizer whose hyperparameters become the groups' defaults and
    whose ``init`` makes a parameter's first state. Everything else is torch's: ``params`` may be
    parameter groups with their own hyperparameters, a parameter whose ``.grad`` is None is skipped,
    the state is kept per parameter (as tensors, so ``state_dict`` and ``load_state_dict`` work),
    and ``maximize=True`` negates the gradient before ``update`` sees it, as torch does.

    If ``update`` raises, returns the wrong structure or writes into its inputs, ``step`` stops
    with :class:`~course_lib.checks.CheckFailed` saying so, with the parameter and the update.
    """
    return _optimizer_class()(params, update, like)


@functools.cache
def _optimizer_class():
    torch = import_torch()
    from .checks._calls import call_update, fail, learner_hyperparameters
    from .optimizers import Optimizer

    class CourseOptimizer(torch.optim.Optimizer):
        """torch's bookkeeping around a course update function (see :func:`course_optimizer`)."""

        def __init__(self, params, update, like):
            __tracebackhide__ = True
            if not isinstance(like, Optimizer):
                raise TypeError(f"like must be an optimizer of course_lib.optimizers, got {type(like).__name__}")
            if not callable(update):
                raise TypeError(f"update must be a course update function, got {type(update).__name__}")
            hyperparameters, problem = learner_hyperparameters(update, like)
            if problem:
                fail(problem)
            self.update, self.like, self.hyperparameters = update, like, tuple(hyperparameters)
            super().__init__(params, {**hyperparameters, "maximize": False})

        @torch.no_grad()
        def step(self, closure=None):
            __tracebackhide__ = True
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            for number, group in enumerate(self.param_groups):
                hyperparameters = {name: group[name] for name in self.hyperparameters}
                for index, p in enumerate(group["params"]):
                    if p.grad is None:
                        continue  # as torch: no gradient, no update, and the state waits
                    grad = p.grad.detach().numpy()
                    grad = -grad if group["maximize"] else grad
                    param = p.detach().numpy()
                    if not self.state[p]:
                        self.state[p] = _as_tensors(torch, self.like.init(param.copy()))
                    state = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in self.state[p].items()}
                    outcome = call_update(self.update, param, grad, state, hyperparameters)
                    if outcome.problem:
                        fail(f"{outcome.problem}\nThis happened in step() of the course_optimizer, at update "
                             f"{state['step'] + 1} of parameter {index + 1} of group {number + 1} (shape "
                             f"{tuple(p.shape)}).")
                    p.copy_(torch.from_numpy(outcome.param))
                    self.state[p] = _as_tensors(torch, outcome.state)
            return loss

    return CourseOptimizer


def _as_tensors(torch, state: dict) -> dict:
    return {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v for k, v in state.items()}


# --- torch's training loop, with the lesson's slips ----------------------------------------------


@dataclasses.dataclass(frozen=True, repr=False)
class Run:
    """What :func:`train` recorded.

    Per update (index ``u - 1`` for update ``u``): ``update_losses``, the mini-batch loss at which
    the update's gradient was taken; ``update_lrs``, the learning rate of the first parameter
    group when ``optimizer.step()`` ran; ``watched``, what ``watch(model)`` returned after the
    update (an empty list without ``watch``). Per epoch, with index 0 before any update:
    ``val_losses`` and ``val_accuracies``. ``warnings`` holds the texts of the warnings torch gave
    during the run; ``diverged`` says at which update the loss stopped being finite (None if it
    never did; the run stops there).
    """

    label: str
    update_losses: np.ndarray
    update_lrs: np.ndarray
    val_losses: np.ndarray
    val_accuracies: np.ndarray
    watched: list
    warnings: tuple[str, ...]
    diverged: str | None

    def __repr__(self) -> str:
        ending = self.diverged or (f"val loss {self.val_losses[-1]:.4g}, val accuracy {self.val_accuracies[-1]:.3f}")
        return f"Run({self.label}: {len(self.update_losses)} updates, {ending})"


def train(model, optimizer, data: TensorData, *, epochs: int, batch_size: int = 32, scheduler=None, seed: int = 0,
          batches=None, first_epoch: int = 0, zero_grad: bool = True, scheduler_first: bool = False, watch=None,
          label: str = "") -> Run:
    """Train ``model`` on ``data`` with torch's loop, one ``scheduler.step()`` per epoch::

        for epoch in range(epochs):
            for batch in mini_batches:          # reshuffled every epoch, from seed
                optimizer.zero_grad()
                loss = cross_entropy(model(X[batch]), y[batch])
                loss.backward()
                optimizer.step()
            scheduler.step()

    The mini-batches of ``batch_size`` examples are drawn afresh every epoch from
    ``np.random.default_rng(seed)``; ``first_epoch=k`` starts with the order of epoch ``k + 1``, so
    that a run resumed after ``k`` epochs sees the data an uninterrupted run would. ``batches``, a
    list of index arrays, is used as it is in every epoch instead.

    ``zero_grad=False`` leaves out ``optimizer.zero_grad()``, so the gradients of every batch add
    up in ``.grad``; ``scheduler_first=True`` calls ``scheduler.step()`` at the start of each epoch
    instead of its end. Both are the slips the lesson shows; torch's warnings are recorded in the
    :class:`Run`, not printed.
    """
    torch = import_torch()
    check_whole("epochs", epochs, 0)
    check_whole("batch_size", batch_size, 1)
    check_whole("seed", seed, 0)
    check_whole("first_epoch", first_epoch, 0)
    cross_entropy = torch.nn.functional.cross_entropy
    rng = np.random.default_rng(seed)
    for _ in range(first_epoch):
        rng.permutation(data.n_train)
    fixed = None if batches is None else [torch.as_tensor(np.asarray(b, dtype=np.int64)) for b in batches]
    losses, lrs, watched, val_losses, val_accuracies = [], [], [], [], []
    diverged = None

    def record():
        loss, accuracy = evaluate(model, data)
        val_losses.append(loss)
        val_accuracies.append(accuracy)

    record()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(epochs):
            if scheduler is not None and scheduler_first:
                scheduler.step()
            if fixed is None:
                order = torch.from_numpy(rng.permutation(data.n_train))
                epoch_batches = order.split(batch_size)
            else:
                epoch_batches = fixed
            for batch in epoch_batches:
                if zero_grad:
                    optimizer.zero_grad()
                loss = cross_entropy(model(data.X_train[batch]), data.y_train[batch])
                loss.backward()
                lrs.append(optimizer.param_groups[0]["lr"])
                optimizer.step()
                losses.append(loss.item())
                if watch is not None:
                    watched.append(watch(model))
                if not math.isfinite(losses[-1]):
                    diverged = f"diverged at update {len(losses)} (loss {losses[-1]})"
                    break
            if diverged:
                break
            if scheduler is not None and not scheduler_first:
                scheduler.step()
            record()
    texts = tuple(dict.fromkeys(str(w.message) for w in caught))
    return Run(label, np.array(losses), np.array(lrs), np.array(val_losses), np.array(val_accuracies), watched,
               texts, diverged)


def plot_losses(runs, *, ax=None, title=None, smooth: int = 20, log_y: bool = True):
    """The mini-batch loss of every update of each :class:`Run`, as a moving average over ``smooth``
    updates (thick) over the raw losses (thin). Returns the axes."""
    import matplotlib.pyplot as plt

    from . import plots

    check_whole("smooth", smooth, 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 4.2), layout="constrained")
    for index, run in enumerate(runs):
        style = plots.run_style(index)
        updates = np.arange(1, len(run.update_losses) + 1)
        ax.plot(updates, run.update_losses, linewidth=0.5, alpha=0.35, color=style["color"])
        if len(run.update_losses) >= smooth:
            average = np.convolve(run.update_losses, np.ones(smooth) / smooth, mode="valid")
            ax.plot(updates[smooth - 1:], average, linewidth=2, label=run.label, **style)
        else:
            ax.plot(updates, run.update_losses, linewidth=2, label=run.label, **style)
    if log_y:
        ax.set_yscale("log")
    ax.set(xlabel="update", ylabel="mini-batch loss" + (" (log scale)" if log_y else ""))
    ax.set_title(title or f"Mini-batch loss per update (thick: average over {smooth} updates)", loc="left")
    ax.legend(fontsize="small")
    ax.grid(True, color="0.9")
    return ax


def evaluate(model, data: TensorData) -> tuple[float, float]:
    """``(loss, accuracy)`` of ``model`` on the validation part of ``data``: the cross-entropy, and the
    share of images labelled right."""
    torch = import_torch()
    with torch.no_grad():
        logits = model(data.X_val)
        return (torch.nn.functional.cross_entropy(logits, data.y_val).item(),
                (logits.argmax(dim=1) == data.y_val).double().mean().item())


def weight_decay_groups(model, weight_decay: float, *, spare: bool = True) -> list[dict]:
    """Parameter groups for ``model``: ``weight_decay`` on the parameters with two or more dimensions and
    (``spare=True``) none on the others, or (``spare=False``) ``weight_decay`` on every parameter."""
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) or not weight_decay >= 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    if not spare:
        return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    return _groups(model, weight_decay, spare=True)


def saved_and_loaded(checkpoint):
    """``checkpoint`` written with ``torch.save`` and read back with ``torch.load``, in memory instead of a file."""
    torch = import_torch()
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    return torch.load(buffer)


# --- parameter groups by name, and the four calls of a training step -----------------------------


def named_shapes(model) -> list[tuple[str, tuple[int, ...]]]:
    """``[(name, shape), ...]`` of ``model.named_parameters()``, in the model's order: what exercise 1 gets."""
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


def parameter_groups(model, groups) -> list[dict]:
    """torch's parameter groups for ``model`` from groups that list parameters by name.

    ``groups`` is a list of dicts whose ``"params"`` are names of ``model.named_parameters()``;
    the result is the same list with the tensors in place of the names, ready for an optimizer
    (``torch.optim.AdamW(parameter_groups(model, groups), lr=...)``). Everything else in a group is
    kept. A name the model does not have raises ValueError.
    """
    parameters = dict(model.named_parameters())
    built = []
    for number, group in enumerate(groups, 1):
        if not isinstance(group, dict) or "params" not in group:
            raise ValueError(f"group {number} must be a dict with a 'params' list, got {group!r}")
        if isinstance(group["params"], (set, frozenset)):
            raise ValueError(f"group {number} lists its params in a set; torch needs a list (a set has no fixed order)")
        unknown = [name for name in group["params"] if name not in parameters]
        if unknown:
            raise ValueError(f"group {number} names parameters the model does not have: {unknown}; "
                             f"it has {list(parameters)}")
        built.append({**group, "params": [parameters[name] for name in group["params"]]})
    return built


def loop_callbacks(model, optimizer, data: TensorData, scheduler=None) -> dict:
    """The four calls of a training step on a real model, as the functions exercise 2 takes::

        zero_grad(set_to_none=True)  ->  optimizer.zero_grad(set_to_none)
        backward(batch)              ->  the cross-entropy loss of the training examples ``batch``
                                         (an array of indices), ``.backward()`` on it; returns the loss
        step()                       ->  optimizer.step()
        scheduler_step()             ->  scheduler.step() (nothing without a scheduler)
    """
    torch = import_torch()

    def zero_grad(set_to_none=True):
        optimizer.zero_grad(set_to_none=set_to_none)

    def backward(batch):
        rows = torch.as_tensor(np.asarray(batch, dtype=np.int64))
        loss = torch.nn.functional.cross_entropy(model(data.X_train[rows]), data.y_train[rows])
        loss.backward()
        return loss.item()

    def step():
        optimizer.step()

    def scheduler_step():
        if scheduler is not None:
            scheduler.step()

    return {"zero_grad": zero_grad, "backward": backward, "step": step, "scheduler_step": scheduler_step}


# --- the explorer -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the explorer's picture depends on."""

    optimizer: str = "SGD with momentum"
    lr: float = 0.05
    weight_decay: float = 0.01
    epochs: int = 6
    forget_zero_grad: bool = False
    scheduler_first: bool = False
    decay_everything: bool = False
    seed: int = 0


OPTIMIZERS = {
    "SGD with momentum": "SGD(lr, momentum=0.9, weight_decay)",
    "AdamW": "AdamW(lr, weight_decay)",
}
"""The optimizers on offer, in torch's words."""

SCHEDULE = "StepLR(step_size=2, gamma=0.5), stepped once per epoch"
BATCH_SIZE = 32
MAX_EPOCHS = 20


def _check_settings(settings: Settings) -> None:
    if settings.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {settings.optimizer!r}")
    for name in ("lr", "weight_decay"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if settings.lr <= 0:
        raise ValueError(f"lr must be > 0, got {settings.lr!r}")
    check_whole("epochs", settings.epochs, 1)
    if settings.epochs > MAX_EPOCHS:
        raise ValueError(f"epochs must be at most {MAX_EPOCHS}, got {settings.epochs}")
    check_whole("seed", settings.seed, 0)
    for name in ("forget_zero_grad", "scheduler_first", "decay_everything"):
        if not isinstance(getattr(settings, name), bool):
            raise ValueError(f"{name} must be True or False, got {getattr(settings, name)!r}")


def _groups(model, weight_decay: float, spare: bool) -> list[dict]:
    """Weight decay on the parameters with two or more dimensions, and (``spare``) none on the others."""
    decayed = [p for p in model.parameters() if p.ndim >= 2 or not spare]
    spared = [p for p in model.parameters() if p.ndim < 2 and spare]
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": spared, "weight_decay": 0.0}]


def _spared_size(model) -> float:
    """Mean absolute value of the one-dimensional parameters (biases, LayerNorm's gains and biases)."""
    values = [p.detach().abs().flatten() for p in model.parameters() if p.ndim < 2]
    return float(np.mean(np.concatenate([v.numpy() for v in values])))


def explorer_run(settings: Settings, data: TensorData, *, slips: bool) -> Run:
    """One run of the explorer: the loop as :class:`Settings` says (``slips``), or the right one."""
    torch = import_torch()
    model = network(seed=settings.seed)
    groups = _groups(model, settings.weight_decay, spare=not (slips and settings.decay_everything))
    if settings.optimizer == "AdamW":
        optimizer = torch.optim.AdamW(groups, lr=settings.lr)
    else:
        optimizer = torch.optim.SGD(groups, lr=settings.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    chosen = [name for name, on in (("no zero_grad", settings.forget_zero_grad),
                                    ("scheduler first", settings.scheduler_first),
                                    ("biases and norms decayed", settings.decay_everything)) if on]
    label = ("with the slips: " + ", ".join(chosen) if chosen else "the same loop (no slip chosen)") if slips \
        else "the right loop"
    return train(model, optimizer, data, epochs=settings.epochs, batch_size=BATCH_SIZE, scheduler=scheduler,
                 seed=settings.seed, zero_grad=not (slips and settings.forget_zero_grad),
                 scheduler_first=slips and settings.scheduler_first, watch=_spared_size, label=label)


class LoopExplorer:
    """The explorer's two runs and picture for one setting, and (``widget``) the controls that change it.

    The computation does not need the widgets: :meth:`set` changes settings, reruns and redraws;
    ``runs`` holds the right loop's run and the one with the chosen slips, ``png`` and ``caption``
    the picture.
    """

    def __init__(self, settings: Settings):
        _check_settings(settings)
        self.settings = settings
        self.data = digits_tensors()
        self._build_figure()
        self._build_widgets()
        self._compute()
        self._draw()

    def set(self, **changes) -> None:
        """Change some settings (names of :class:`Settings`), rerun and redraw; invalid ones raise ValueError."""
        names = [f.name for f in dataclasses.fields(Settings)]
        unknown = set(changes) - set(names)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; the settings are {names}")
        settings = dataclasses.replace(self.settings, **changes)
        _check_settings(settings)
        self.settings = settings
        self._compute()
        self._draw()

    def _compute(self) -> None:
        self.runs = [explorer_run(self.settings, self.data, slips=False),
                     explorer_run(self.settings, self.data, slips=True)]

    @property
    def caption(self) -> str:
        """The state the picture shows, in words a test (or a screen reader) can use."""
        s = self.settings
        ends = "; ".join(f"{run.label}: {self._ending(run)}" for run in self.runs)
        return (f"optimizer={s.optimizer}; lr={s.lr:g}; weight_decay={s.weight_decay:g}; epochs={s.epochs}; "
                f"forget_zero_grad={s.forget_zero_grad}; scheduler_first={s.scheduler_first}; "
                f"decay_everything={s.decay_everything}; {ends}")

    @staticmethod
    def _ending(run: Run) -> str:
        if run.diverged:
            return run.diverged
        return f"val accuracy {run.val_accuracies[-1]:.3f}"

    def _build_figure(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(13.5, 3.9), dpi=72)
        FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.06, right=0.99, bottom=0.14, top=0.88, wspace=0.25)
        self.axes = self.figure.subplots(1, 3)

    def _draw(self) -> None:
        from . import plots
        from .widgets import canvas_png, picture_html

        losses, rates, sizes = self.axes
        for ax in self.axes:
            ax.clear()
            ax.grid(True, color="0.9")
        plot_losses(self.runs, ax=losses, smooth=BATCH_SIZE)
        losses.set_title("Mini-batch loss (thick: average over 32 updates)", loc="left", fontsize="small")
        losses.legend(fontsize="x-small", loc="lower left")
        for index, run in enumerate(self.runs):
            updates = np.arange(1, len(run.update_losses) + 1)
            rates.plot(updates, run.update_lrs, label=run.label, **plots.run_style(index))
            sizes.plot(updates, run.watched, label=run.label, **plots.run_style(index))
        rates.set(xlabel="update", ylabel="learning rate")
        rates.set_title(SCHEDULE, loc="left", fontsize="small")
        sizes.set(xlabel="update", ylabel="mean |value|")
        sizes.set_title("Biases and LayerNorm parameters: mean size", loc="left", fontsize="small")
        self.figure.suptitle(" | ".join(f"{run.label}: {self._ending(run)}" for run in self.runs), fontsize="small")
        canvas = self.figure.canvas
        canvas.draw()
        self.png = canvas_png(canvas)
        self.picture.value = picture_html(self.png, self.caption)
        self.problem.value = ""

    def _build_widgets(self) -> None:
        import ipywidgets as widgets

        s = self.settings
        layout, style = {"width": "330px"}, {"description_width": "110px"}
        common = {"layout": layout, "style": style, "continuous_update": False}
        self.controls = {
            "optimizer": widgets.Dropdown(options=list(OPTIMIZERS), value=s.optimizer, description="optimizer",
                                          layout=layout, style=style),
            "lr": widgets.FloatLogSlider(value=s.lr, base=10, min=-4, max=0, step=0.05, description="lr",
                                         readout_format=".3g", **common),
            "weight_decay": widgets.FloatLogSlider(value=max(s.weight_decay, 1e-4), base=10, min=-4, max=1, step=0.1,
                                                   description="weight_decay", readout_format=".3g", **common),
            "epochs": widgets.IntSlider(value=s.epochs, min=1, max=MAX_EPOCHS, description="epochs", **common),
            "forget_zero_grad": widgets.Checkbox(value=s.forget_zero_grad, description="forget zero_grad()",
                                                 indent=False),
            "scheduler_first": widgets.Checkbox(value=s.scheduler_first, indent=False,
                                                description="scheduler.step() before optimizer.step()"),
            "decay_everything": widgets.Checkbox(value=s.decay_everything, indent=False,
                                                 description="decay biases and LayerNorm too"),
        }
        for name, control in self.controls.items():
            control.observe(lambda change, n=name: self._on_control(n), names="value")
        self.picture = widgets.HTML()
        self.problem = widgets.HTML()
        values = list(self.controls.values())
        self.widget = widgets.VBox([widgets.HBox([widgets.VBox(values[:4]), widgets.VBox(values[4:] + [self.problem])]),
                                    self.picture])

    def _on_control(self, name: str) -> None:
        value = self.controls[name].value
        if name in ("lr", "weight_decay"):
            value = float(f"{value:.3g}")
        try:
            self.set(**{name: value})
        except ValueError as error:
            self.problem.value = (f"<span>{html.escape(str(error))}. The picture still shows the last valid "
                                  f"setting.</span>")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def explore(**settings) -> LoopExplorer:
    """The training-loop explorer: the right loop and the loop with the slips you tick, side by side.

    Both train :func:`network` on the digits for ``epochs`` epochs (batches of 32) with the same
    data order and the same first weights; the scheduler halves the learning rate every second
    epoch. Settings (the fields of :class:`Settings`): ``optimizer`` ("SGD with momentum" or
    "AdamW"), ``lr``, ``weight_decay`` (on the weight matrices, and with ``decay_everything`` on
    the biases and the LayerNorm's parameters too), ``epochs``, ``forget_zero_grad``,
    ``scheduler_first``, ``decay_everything``, ``seed``. Show it by leaving it last in a cell.
    """
    unknown = set(settings) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise TypeError(f"explore got unknown settings {sorted(unknown)}")
    return LoopExplorer(Settings(**settings))
