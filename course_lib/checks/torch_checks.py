"""Checks for the exercises of the optional lesson on ``torch.optim`` (lesson 15)::

    decay_groups(named_shapes, weight_decay)                      -> parameter groups, by name
    train_epochs(batches, epochs, zero_grad, backward, step, scheduler_step)  -> the losses, one per update

Both exercises are plain Python: the learner's functions never touch a tensor, so that they run
where torch is not installed (the autograder's sandbox); the tests that judge them may use torch.

**decay_groups** gets a model's parameters as ``[(name, shape), ...]`` (what
``[(n, tuple(p.shape)) for n, p in model.named_parameters()]`` gives) and returns the parameter
groups for ``torch.optim.AdamW(groups, lr=...)`` with names in place of tensors: weight decay
``weight_decay`` on every parameter with two or more dimensions (weight matrices, convolution
kernels, embedding tables), and 0 on the others (biases, the weights and biases of normalisation
layers, scalars). Every parameter must be in exactly one group; a group that does not set
``weight_decay`` gets AdamW's default, :data:`ADAMW_DEFAULT_DECAY` (0.01), as in torch.
:func:`check_decay_groups` judges the groups as data; :func:`check_decay_groups_in_torch` builds
real torch models, hands the groups to ``torch.optim.AdamW`` and compares a few updates with
those of the right groups.

**train_epochs** gets ``batches`` (a list of index arrays), ``epochs``, and the four calls of a
training step as functions: ``zero_grad(set_to_none=True)`` clears the gradients,
``backward(batch)`` computes the loss of one batch, adds its gradient into ``.grad`` and returns
the loss, ``step()`` updates the parameters from ``.grad``, ``scheduler_step()`` moves an
epoch-wise learning-rate schedule on by one epoch. It trains ``epochs`` passes over the batches in
the order given and returns the losses ``backward`` returned, one per update. Right means: every
``step()`` finds in ``.grad`` the gradient of exactly the batch it belongs to, and the schedule
has been stepped once per finished epoch, after that epoch's updates.
:func:`check_train_epochs` drives the learner's function with a small least-squares model in
NumPy and records every call; :func:`check_train_epochs_in_torch` does the same with a real
network, ``torch.optim.SGD`` and ``StepLR``, and compares the final weights with the right loop's.

Each check prints one line when all is right; otherwise it raises
:class:`~course_lib.checks.CheckFailed` naming the case, the first thing that is wrong (which
parameter, which update), which other cases go wrong, and, when the learner's results are those
of a registered classic mistake (:func:`~course_lib.checks.mistakes_for`), its name and a hint.
``thorough=True`` adds the edge cases of the hidden tests; ``seed`` draws other random cases
(through :func:`~course_lib.checks.case_rng`, so fresh ones while grading).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from typing import Callable

import numpy as np

from ._calls import _describe, fail, other_cases, quietly, raised_message
from ._cases import case_rng, case_seed
from ._compare import rel_error
from .mistakes import EXERCISE_MISTAKES, ExerciseMistake, register_exercise_mistakes

ADAMW_DEFAULT_DECAY = 0.01
"""``torch.optim.AdamW``'s default ``weight_decay``: what a group that does not set its own gets."""

_OPTIMIZER_SETTINGS = ("lr", "betas", "eps", "amsgrad", "maximize", "foreach", "capturable", "differentiable",
                       "fused", "decoupled_weight_decay")
"""AdamW's other options: a group that sets one of them changes more than the weight decay."""


def _named(function_name: str):
    """Give a wrong answer the exercise's name, so that messages about it read as they would for a learner's."""
    def rename(fn):
        fn.__name__ = fn.__qualname__ = function_name
        return fn
    return rename


def _check_options(thorough, seed) -> None:
    if not isinstance(thorough, bool):
        raise TypeError(f"thorough must be True or False, got {thorough!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")


def _report(name: str, titles: list[str], verdicts: list[str | None], mistakes: list[ExerciseMistake]) -> None:
    """Raise :class:`CheckFailed` about the first failing case, if any."""
    __tracebackhide__ = True
    failing = [number for number, verdict in enumerate(verdicts, start=1) if verdict]
    if not failing:
        return
    first = failing[0]
    lines = [f"{name} does not do what the exercise asks yet.",
             f"First problem: case {first} ({titles[first - 1]}): {verdicts[first - 1]}"]
    others = other_cases(failing, len(verdicts))
    if others:
        lines.append(others)
    lines += [f'This matches a classic mistake, "{m.name}": {m.hint}' for m in mistakes]
    fail("\n".join(lines), tuple(m.id for m in mistakes))


def _import_torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError("this check runs torch, which is not installed here: pip install torch "
                          "--index-url https://download.pytorch.org/whl/cpu") from error
    return torch


# =====================================================================================================
# Exercise 1: parameter groups without weight decay on biases and normalisation layers
# =====================================================================================================


@dataclasses.dataclass(frozen=True)
class _GroupsCase:
    """One model, as ``(name, shape)`` pairs in the model's order, and the weight decay asked for."""

    title: str
    named_shapes: tuple[tuple[str, tuple[int, ...]], ...]
    weight_decay: float

    def expected(self, shape) -> float:
        return self.weight_decay if len(shape) >= 2 else 0.0


@dataclasses.dataclass(frozen=True)
class _Placement:
    """Where one appearance of a parameter landed: the weight decay AdamW gives it, and whether its
    group set that value itself."""

    decay: float
    explicit: bool


@dataclasses.dataclass(frozen=True)
class _GroupsOutcome:
    """What the learner's groups give every parameter (its appearances, in order), or a problem in words."""

    placements: dict[str, tuple[_Placement, ...]] | None = None
    problem: str | None = None
    kind: str | None = None  # the problem's kind, for telling mistakes apart (an exception's type name, say)


class _BadGroups(Exception):
    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def _is_set(value) -> bool:
    """A set, or (while grading) what is left of one that could not leave the student's process."""
    return isinstance(value, (set, frozenset)) or getattr(value, "type_name", None) in ("set", "frozenset")


def _read_groups(value, case: _GroupsCase, name: str) -> dict[str, tuple[_Placement, ...]]:
    """The weight decay each appearance of each parameter gets, as torch would set up the groups."""
    known = {parameter for parameter, _ in case.named_shapes}
    wanted = "a list of parameter groups, each a dict like {'params': [names...], 'weight_decay': ...}"
    if value is None:
        raise _BadGroups(f"{name} returned None (no return statement?); it must return {wanted}.", "None")
    if isinstance(value, dict):
        raise _BadGroups(f"{name} returned one dict; it must return {wanted}: torch takes a list of groups.", "dict")
    if not isinstance(value, (list, tuple)):
        raise _BadGroups(f"{name} returned {_describe(value)}; it must return {wanted}.", "type")
    if not value:
        raise _BadGroups(f"{name} returned no groups at all; torch refuses that (ValueError: optimizer got an "
                         f"empty parameter list).", "empty")
    placements: dict[str, list[_Placement]] = {}
    for number, group in enumerate(value, 1):
        where = f"group {number}"
        if not isinstance(group, dict):
            raise _BadGroups(f"{where} is {_describe(group)}; every group must be a dict with the keys 'params' and "
                             f"'weight_decay'.", "group type")
        if "params" not in group:
            raise _BadGroups(f"{where} has no 'params' key; every group must list its parameters under 'params' "
                             f"(torch raises KeyError: 'params').", "no params")
        params = group["params"]
        if _is_set(params):
            raise _BadGroups(f"{where} lists its params in a set; torch refuses that (TypeError: optimizer parameters "
                             f"need to be organized in ordered collections, but the ordering of tensors in sets will "
                             f"change between runs). Use a list.", "set")
        if isinstance(params, str) or not isinstance(params, (list, tuple)):
            raise _BadGroups(f"{where}'s 'params' is {_describe(params)}; it must be a list of parameter names.",
                             "params type")
        setting = [key for key in group if key in _OPTIMIZER_SETTINGS]
        if setting:
            raise _BadGroups(f"{where} sets {setting[0]!r}; in this exercise the groups differ only in "
                             f"weight_decay, and every other option keeps the optimizer's value.", "other option")
        explicit = "weight_decay" in group
        decay = group["weight_decay"] if explicit else ADAMW_DEFAULT_DECAY
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not math.isfinite(decay) or decay < 0:
            raise _BadGroups(f"{where}'s weight_decay is {decay!r}; it must be a number >= 0.", "decay type")
        for entry in params:
            if not isinstance(entry, str):
                raise _BadGroups(f"{where}'s params holds {_describe(entry)}; it must hold the parameters' names, "
                                 f"the strings of named_shapes.", "entry type")
            if entry not in known:
                raise _BadGroups(f"{where} names {entry!r}, which is not a parameter of this model (the model's "
                                 f"parameters are the names in named_shapes).", "unknown name")
            placements.setdefault(entry, []).append(_Placement(float(decay), explicit))
    return {key: tuple(found) for key, found in placements.items()}


def _call_groups(fn, case: _GroupsCase) -> _GroupsOutcome:
    name = getattr(fn, "__name__", "your function")
    given = [(parameter, tuple(shape)) for parameter, shape in case.named_shapes]
    try:
        with quietly():
            value = fn(given, case.weight_decay)
    except Exception as error:  # noqa: BLE001 - any failure of learner code becomes a message
        return _GroupsOutcome(problem=raised_message(name, error), kind=type(error).__name__)
    try:
        return _GroupsOutcome(placements=_read_groups(value, case, name))
    except _BadGroups as problem:
        return _GroupsOutcome(problem=str(problem), kind=problem.kind)


def _kind_of(shape) -> str:
    if len(shape) == 0:
        return "a scalar"
    if len(shape) == 1:
        return "one-dimensional: a bias, or the weight or bias of a normalisation layer"
    return "a weight matrix, a convolution kernel or an embedding table"


def _groups_verdict(case: _GroupsCase, outcome: _GroupsOutcome) -> str | None:
    """What is wrong with the groups for one model, in words; None if every parameter is right."""
    if outcome.problem is not None:
        return outcome.problem
    wrong = []
    for parameter, shape in case.named_shapes:
        found = outcome.placements.get(parameter, ())
        described = f"{parameter!r} (shape {tuple(shape)}, {_kind_of(shape)})"
        if not found:
            wrong.append(f"the parameter {described} is in no group, so the optimizer would never update it: "
                         f"every parameter must be in one group.")
            continue
        if len(found) > 1:
            wrong.append(f"the parameter {described} is listed {len(found)} times; torch refuses a parameter in two "
                         f"groups (ValueError: some parameters appear in more than one parameter group). Every "
                         f"parameter must be in exactly one group.")
            continue
        want, got = case.expected(shape), found[0]
        if math.isclose(got.decay, want, rel_tol=1e-12, abs_tol=0.0):
            continue
        inherited = (f" AdamW's default, because its group does not set weight_decay (a group without it gets "
                     f"the optimizer's default, {ADAMW_DEFAULT_DECAY:g}, not 0)" if not got.explicit else "")
        wrong.append(f"the parameter {described} gets weight decay {got.decay:g}{inherited}; it must get "
                     f"{want:g}.")
    if not wrong:
        return None
    count = "" if len(wrong) == 1 else f"\n{len(wrong)} of the {len(case.named_shapes)} parameters are wrong."
    return wrong[0] + count


def _groups_agree(a: _GroupsOutcome, b: _GroupsOutcome) -> bool:
    """Whether two answers give every parameter the same weight decays (or fail in the same way)."""
    if a.placements is None or b.placements is None:
        return a.placements is None and b.placements is None and a.kind == b.kind
    if a.placements.keys() != b.placements.keys():
        return False
    return all(len(a.placements[k]) == len(b.placements[k])
               and all(math.isclose(x.decay, y.decay, rel_tol=1e-9) and x.explicit == y.explicit
                       for x, y in zip(a.placements[k], b.placements[k]))
               for k in a.placements)


def _groups_mistakes(cases: list[_GroupsCase], outcomes: list[_GroupsOutcome]) -> list[ExerciseMistake]:
    found = []
    for mistake in EXERCISE_MISTAKES.get("decay_groups", ()):
        theirs = []
        for case, outcome in zip(cases, outcomes):
            theirs.append(_call_groups(mistake.wrong, case))
            if not _groups_agree(outcome, theirs[-1]):
                break
        else:
            if any(_groups_verdict(case, wrong) for case, wrong in zip(cases, theirs)):
                found.append(mistake)
    return found


# --- the models: parameter names and shapes as torch's modules name them -----------------------------


def _mlp_with_layernorm(hidden: int = 32) -> tuple:
    """The lesson's network, nn.Sequential(Linear(64, h), LayerNorm(h), ReLU(), Linear(h, 10))."""
    return (("0.weight", (hidden, 64)), ("0.bias", (hidden,)), ("1.weight", (hidden,)), ("1.bias", (hidden,)),
            ("3.weight", (10, hidden)), ("3.bias", (10,)))


def _cnn_with_batchnorm(rng) -> tuple:
    """Two convolutions without bias, each followed by BatchNorm2d, and a linear classifier."""
    first, second, kernel = int(rng.integers(4, 17)), int(rng.integers(8, 33)), int(rng.choice([3, 5]))
    return (("features.0.weight", (first, 3, kernel, kernel)), ("features.1.weight", (first,)),
            ("features.1.bias", (first,)), ("features.3.weight", (second, first, 3, 3)),
            ("features.4.weight", (second,)), ("features.4.bias", (second,)),
            ("classifier.weight", (10, second)), ("classifier.bias", (10,)))


def _transformer(rng, blocks: int | None = None, relative_bias: bool = False) -> tuple:
    """Token and position embeddings, pre-norm blocks of nn.MultiheadAttention and an MLP, a final
    LayerNorm, a head and a learned scalar temperature."""
    width = int(rng.choice([8, 16, 24]))
    vocabulary, length = int(rng.integers(20, 60)), int(rng.integers(4, 12))
    blocks = int(rng.integers(1, 3)) if blocks is None else blocks
    shapes = [("token_embedding.weight", (vocabulary, width)), ("position_embedding", (1, length, width))]
    for b in range(blocks):
        p = f"blocks.{b}."
        shapes += [(p + "norm1.weight", (width,)), (p + "norm1.bias", (width,)),
                   (p + "attention.in_proj_weight", (3 * width, width)), (p + "attention.in_proj_bias", (3 * width,)),
                   (p + "attention.out_proj.weight", (width, width)), (p + "attention.out_proj.bias", (width,))]
        if relative_bias:  # T5's relative position table: an embedding whose name ends in _bias.weight
            shapes += [(p + "attention.relative_attention_bias.weight", (32, 2))]
        shapes += [(p + "norm2.weight", (width,)), (p + "norm2.bias", (width,)),
                   (p + "mlp.0.weight", (4 * width, width)), (p + "mlp.0.bias", (4 * width,)),
                   (p + "mlp.2.weight", (width, 4 * width)), (p + "mlp.2.bias", (width,))]
    shapes += [("norm.weight", (width,)), ("norm.bias", (width,)), ("head.weight", (vocabulary, width)),
               ("logit_scale", ())]
    return tuple(shapes)


def _decay(rng) -> float:
    return float(f"{10 ** rng.uniform(-3, -0.5):.3g}")


def _groups_cases(thorough: bool, seed: int) -> list[_GroupsCase]:
    rng = case_rng(1500 + seed)
    cases = [
        _GroupsCase("the lesson's network: nn.Sequential(Linear, LayerNorm, ReLU, Linear), weight_decay = 0.1",
                    _mlp_with_layernorm(), 0.1),
        _GroupsCase("a small CNN: Conv2d and BatchNorm2d twice, then Linear", _cnn_with_batchnorm(rng), _decay(rng)),
        _GroupsCase("a small Transformer with a learned scalar temperature", _transformer(rng), _decay(rng)),
    ]
    if thorough:
        cases += [
            _GroupsCase("no parameter to spare: Linear layers without bias",
                        (("0.weight", (16, 8)), ("2.weight", (4, 16))), _decay(rng)),
            _GroupsCase("nothing to decay: a LayerNorm alone", (("weight", (12,)), ("bias", (12,))), _decay(rng)),
            _GroupsCase("weight_decay = 0", _mlp_with_layernorm(8), 0.0),
            _GroupsCase("T5-style relative position tables (2-D, named ...bias.weight)",
                        _transformer(rng, blocks=2, relative_bias=True), _decay(rng)),
            _GroupsCase("a large weight_decay", _cnn_with_batchnorm(rng), 1.5),
        ]
    return cases


def check_decay_groups(fn, *, thorough: bool = False, seed: int = 0) -> None:
    """Check ``decay_groups(named_shapes, weight_decay)``: every parameter in exactly one group, with
    ``weight_decay`` on those with two or more dimensions and 0 on the others.

    The groups are judged as ``torch.optim.AdamW(groups, lr=...)`` would set them up (a group
    without ``weight_decay`` gets AdamW's default 0.01) on the lesson's network, a CNN with
    BatchNorm and a small Transformer (``thorough``: no bias at all, a LayerNorm alone,
    ``weight_decay = 0``, T5's relative position tables, a large decay).
    """
    __tracebackhide__ = True
    _check_options(thorough, seed)
    if not callable(fn):
        fail(f"check_decay_groups needs your function decay_groups, got {_describe(fn)}.")
    cases = _groups_cases(thorough, seed)
    outcomes = [_call_groups(fn, case) for case in cases]
    verdicts = [_groups_verdict(case, outcome) for case, outcome in zip(cases, outcomes)]
    if any(verdicts):
        _report(getattr(fn, "__name__", "your function"), [c.title for c in cases], verdicts,
                _groups_mistakes(cases, outcomes))
    shapes = [shape for case in cases for _, shape in case.named_shapes]
    decayed = sum(len(shape) >= 2 for shape in shapes)
    print(f"check_decay_groups passed: {fn.__name__} puts each of the {len(shapes)} parameters of {len(cases)} models "
          f"in one group, with weight decay on the {decayed} with two or more dimensions and none on the other "
          f"{len(shapes) - decayed}.")


# --- in torch: the groups given to AdamW, on real modules ------------------------------------------


def _torch_models(torch, seed: int) -> list[tuple[str, object]]:
    nn = torch.nn
    rng = case_rng(1520 + seed)
    width = int(rng.choice([8, 16]))

    class TinyTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(40, width)
            self.encoder = nn.TransformerEncoderLayer(width, nhead=2, dim_feedforward=2 * width, batch_first=True)
            self.head = nn.Linear(width, 40, bias=False)
            self.temperature = nn.Parameter(torch.ones(()))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(case_seed(1530 + seed))
        hidden = int(rng.integers(8, 33))
        models = [
            ("nn.Sequential(Linear, LayerNorm, ReLU, Linear)",
             nn.Sequential(nn.Linear(64, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Linear(hidden, 10))),
            ("a CNN with BatchNorm2d", nn.Sequential(
                nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.GroupNorm(4, 16),
                nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))),
            ("nn.TransformerEncoderLayer between an Embedding and a head, with a scalar temperature",
             TinyTransformer()),
        ]
    return [(title, model.double()) for title, model in models]


def check_decay_groups_in_torch(fn, *, seed: int = 0, updates: int = 3) -> None:
    """Give the groups of ``decay_groups`` to ``torch.optim.AdamW`` on three real models and compare.

    For each model the learner's groups (names turned into the model's tensors) must be accepted
    by AdamW, give every parameter the weight decay the exercise asks for (read back from AdamW's
    own ``param_groups``), and lead, over ``updates`` updates with the same random gradients, to
    exactly the parameters that the right groups lead to.
    """
    __tracebackhide__ = True
    _check_options(False, seed)
    torch = _import_torch()
    if not callable(fn):
        fail(f"check_decay_groups_in_torch needs your function decay_groups, got {_describe(fn)}.")
    name = getattr(fn, "__name__", "your function")
    models = _torch_models(torch, seed)
    titles, verdicts, cases, outcomes = [], [], [], []
    for title, model in models:
        shapes = tuple((n, tuple(p.shape)) for n, p in model.named_parameters())
        case = _GroupsCase(title, shapes, _decay(case_rng(1540 + seed + len(titles))))
        outcome = _call_groups(fn, case)
        titles.append(title)
        cases.append(case)
        outcomes.append(outcome)
        verdict = _groups_verdict(case, outcome)
        if verdict is None:
            verdict = _in_adamw(torch, model, fn, case, updates, seed)
        verdicts.append(verdict)
    if any(verdicts):
        _report(name, titles, verdicts, _groups_mistakes(cases, outcomes))
    print(f"check_decay_groups_in_torch passed: torch.optim.AdamW accepts {name}'s groups for {len(models)} models "
          f"and takes, with them, exactly the updates of the right groups.")


def _in_adamw(torch, model, fn, case: _GroupsCase, updates: int, seed: int) -> str | None:
    """Train copies of ``model`` with AdamW on the learner's and on the right groups; what differs, in words."""
    import copy

    try:
        with quietly():
            groups = fn([(n, tuple(s)) for n, s in case.named_shapes], case.weight_decay)
        _read_groups(groups, case, getattr(fn, "__name__", "your function"))
    except Exception as error:  # noqa: BLE001 - a second call that fails where the first one did not
        return f"called again with the same model, it failed: {type(error).__name__}: {error}"
    theirs, ours = copy.deepcopy(model), copy.deepcopy(model)
    by_name = dict(theirs.named_parameters())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimizer = torch.optim.AdamW([{**g, "params": [by_name[n] for n in g["params"]]} for g in groups], lr=0.01)
    except Exception as error:  # noqa: BLE001 - torch's refusal is the verdict
        return f"torch.optim.AdamW refuses these groups: {type(error).__name__}: {error}"
    seen = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    for parameter, shape in case.named_shapes:
        decay = seen.get(id(by_name[parameter]))
        if decay is None or not math.isclose(decay, case.expected(shape), rel_tol=1e-12):
            return f"in AdamW's param_groups, {parameter!r} (shape {tuple(shape)}) has weight_decay {decay}."
    spared = [p for p in ours.parameters() if p.ndim < 2]
    reference = torch.optim.AdamW([{"params": [p for p in ours.parameters() if p.ndim >= 2],
                                    "weight_decay": case.weight_decay},
                                   {"params": spared, "weight_decay": 0.0}], lr=0.01)
    generator = torch.Generator().manual_seed(case_seed(1550 + seed))
    for _ in range(updates):
        for a, b in zip(theirs.parameters(), ours.parameters()):
            a.grad = torch.randn(a.shape, generator=generator, dtype=a.dtype)
            b.grad = a.grad.clone()
        optimizer.step()
        reference.step()
    for (parameter, a), b in zip(theirs.named_parameters(), ours.parameters()):
        error = rel_error(b.detach().numpy(), a.detach().numpy())
        if error > 1e-12:
            return (f"after {updates} AdamW updates with these groups, {parameter!r} differs from where the right "
                    f"groups take it (relative error {error:.2g}).")
    return None


# --- the classic mistakes of decay_groups ---------------------------------------------------------


def _split(named_shapes, spared: Callable[[str, tuple], bool]):
    decayed = [n for n, s in named_shapes if not spared(n, tuple(s))]
    kept = [n for n, s in named_shapes if spared(n, tuple(s))]
    return decayed, kept


@_named("decay_groups")
def _decays_everything(named_shapes, weight_decay):
    return [{"params": [n for n, _ in named_shapes], "weight_decay": weight_decay}]


@_named("decay_groups")
def _spares_only_biases(named_shapes, weight_decay):
    decayed, kept = _split(named_shapes, lambda n, s: n.endswith("bias"))
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": kept, "weight_decay": 0.0}]


@_named("decay_groups")
def _chosen_by_name(named_shapes, weight_decay):
    decayed, kept = _split(named_shapes, lambda n, s: n.endswith("bias") or "norm" in n.lower())
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": kept, "weight_decay": 0.0}]


@_named("decay_groups")
def _spared_group_without_decay(named_shapes, weight_decay):
    decayed, kept = _split(named_shapes, lambda n, s: len(s) < 2)
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": kept}]


@_named("decay_groups")
def _everything_in_the_decay_group(named_shapes, weight_decay):
    _, kept = _split(named_shapes, lambda n, s: len(s) < 2)
    return [{"params": [n for n, _ in named_shapes], "weight_decay": weight_decay},
            {"params": kept, "weight_decay": 0.0}]


@_named("decay_groups")
def _scalars_decayed(named_shapes, weight_decay):
    decayed, kept = _split(named_shapes, lambda n, s: len(s) == 1)
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": kept, "weight_decay": 0.0}]


@_named("decay_groups")
def _only_kernels_decayed(named_shapes, weight_decay):
    decayed, kept = _split(named_shapes, lambda n, s: len(s) <= 2)
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": kept, "weight_decay": 0.0}]


@_named("decay_groups")
def _groups_swapped(named_shapes, weight_decay):
    decayed, kept = _split(named_shapes, lambda n, s: len(s) < 2)
    return [{"params": decayed, "weight_decay": 0.0}, {"params": kept, "weight_decay": weight_decay}]


register_exercise_mistakes("decay_groups", [
    ExerciseMistake(
        "groups-decay-everything", "every parameter decayed, biases and normalisation layers included",
        "One group for all parameters is what AdamW(model.parameters(), weight_decay=...) does: it also pulls "
        "the biases and the LayerNorm/BatchNorm gains towards 0. Put the parameters with fewer than two "
        "dimensions in a second group with weight_decay 0.",
        _decays_everything),
    ExerciseMistake(
        "groups-only-biases-spared", "only the biases spared: the normalisation layers' weights are still decayed",
        "A LayerNorm's or BatchNorm's weight is a gain, one number per feature, and it must not be decayed either. "
        "Its name does not say so (in nn.Sequential it is just '1.weight'), but its shape does: it has one "
        "dimension.",
        _spares_only_biases),
    ExerciseMistake(
        "groups-chosen-by-name", "parameters chosen by name, and names do not tell",
        "Names depend on how a model was written: in nn.Sequential a LayerNorm's weight is '1.weight', and a "
        "BatchNorm's is 'features.1.weight'. Decide by the shape instead: fewer than two dimensions, no decay.",
        _chosen_by_name),
    ExerciseMistake(
        "groups-default-decay", "the no-decay group does not set weight_decay, so it gets AdamW's default",
        "A group takes every option it does not set from the optimizer's defaults, and AdamW's default "
        "weight_decay is 0.01, not 0. Write 'weight_decay': 0.0 in the group that must not be decayed.",
        _spared_group_without_decay),
    ExerciseMistake(
        "groups-parameter-twice", "the biases and norm weights are in both groups",
        "The first group must hold only the parameters to decay; listing every parameter there and the "
        "one-dimensional ones again in the second group puts them in two groups, which torch refuses "
        "(ValueError: some parameters appear in more than one parameter group).",
        _everything_in_the_decay_group),
    ExerciseMistake(
        "groups-scalars-decayed", "scalar parameters decayed: only one-dimensional ones are spared",
        "A learned scalar (a temperature, a scale; shape ()) has zero dimensions, and it must not be decayed "
        "either: the rule is fewer than two dimensions, not exactly one.",
        _scalars_decayed),
    ExerciseMistake(
        "groups-only-kernels-decayed", "weight matrices not decayed: only tensors with more than two dimensions are",
        "A Linear layer's weight has exactly two dimensions (out_features, in_features), and it is the main thing "
        "weight decay is for: decay every parameter with two or more dimensions.",
        _only_kernels_decayed),
    ExerciseMistake(
        "groups-swapped", "the two groups swapped: the biases are decayed and the weights are not",
        "weight_decay belongs to the group of the parameters with two or more dimensions, and 0 to the group "
        "of the others. Yours has it the other way round.",
        _groups_swapped),
])


# =====================================================================================================
# Exercise 2: the training loop in torch's order
# =====================================================================================================


@dataclasses.dataclass(frozen=True)
class _LoopCase:
    """One call of ``train_epochs``: the batches (index arrays), the epochs, and the problem trained."""

    title: str
    batches: tuple[np.ndarray, ...]
    epochs: int
    seed: int
    lr: float = 0.1
    factor: float = 0.5  # the epoch-wise schedule: lr * factor ** (scheduler steps so far)

    @property
    def updates(self) -> int:
        return self.epochs * len(self.batches)


@dataclasses.dataclass(frozen=True)
class _Update:
    """What one ``step()`` found: the batches whose gradients were in ``.grad`` (in the order their
    ``backward()`` ran), and how often the scheduler had been stepped."""

    gradients: tuple[int, ...]
    scheduled: int


@dataclasses.dataclass(frozen=True)
class _Trace:
    """Every update of one call, and the counts of the other calls."""

    updates: tuple[_Update, ...]
    backwards: int
    scheduled: int


@dataclasses.dataclass(frozen=True)
class _LoopOutcome:
    trace: _Trace | None = None
    losses: tuple[float, ...] = ()
    returned: object = None
    problem: str | None = None
    raised: str | None = None
    params: np.ndarray | None = None


class _NumpyModel:
    """Least squares on a random problem, with torch's bookkeeping: ``.grad`` adds up, ``zero_grad``
    clears it, ``step`` is plain SGD at the scheduled rate and skips an empty gradient."""

    def __init__(self, case: _LoopCase):
        rng = np.random.default_rng(case_seed(case.seed))
        rows = max(int(b.max()) for b in case.batches) + 1
        self.X = rng.standard_normal((rows, 3))
        self.y = self.X @ rng.standard_normal(3) + 0.1 * rng.standard_normal(rows)
        self.w = np.zeros(3)
        self.grad: np.ndarray | None = None
        self.case = case
        self.scheduled = 0

    def zero_grad(self, set_to_none: bool) -> None:
        self.grad = None if set_to_none or self.grad is None else np.zeros_like(self.grad)

    def backward(self, index: int) -> float:
        rows = self.case.batches[index]
        residual = self.X[rows] @ self.w - self.y[rows]
        gradient = 2 * self.X[rows].T @ residual / len(rows)
        self.grad = gradient if self.grad is None else self.grad + gradient
        return float(np.mean(residual**2))

    def step(self) -> None:
        if self.grad is not None:
            self.w = self.w - self.case.lr * self.case.factor ** self.scheduled * self.grad

    def scheduler_step(self) -> None:
        self.scheduled += 1

    def params(self) -> np.ndarray:
        return self.w.copy()


class _Recorder:
    """The four functions handed to the learner: they record every call and pass it on to the model."""

    def __init__(self, case: _LoopCase, model):
        self.case, self.model = case, model
        self.pending: list[int] = []
        self.updates: list[_Update] = []
        self.backwards = 0
        self.scheduled = 0
        self.losses: list[float] = []

    def zero_grad(self, set_to_none=True):
        if not isinstance(set_to_none, bool):
            raise TypeError(f"zero_grad's set_to_none must be True or False, got {set_to_none!r}")
        self.pending = []
        self.model.zero_grad(set_to_none)

    def backward(self, batch):
        index = self._which(batch)
        self.pending.append(index)
        self.backwards += 1
        loss = self.model.backward(index)
        self.losses.append(loss)
        return loss

    def step(self):
        self.updates.append(_Update(tuple(self.pending), self.scheduled))
        self.model.step()

    def scheduler_step(self):
        self.scheduled += 1
        self.model.scheduler_step()

    def _which(self, batch) -> int:
        try:
            given = np.asarray(batch)
        except Exception:  # noqa: BLE001 - anything that is not an array of indices
            given = None
        for index, known in enumerate(self.case.batches):
            if given is not None and given.shape == known.shape and np.array_equal(given, known):
                return index
        raise ValueError(f"backward() was given {_describe(batch)} that is not one of the batches; pass it each "
                         f"batch of batches, as it is")

    def trace(self) -> _Trace:
        return _Trace(tuple(self.updates), self.backwards, self.scheduled)


def _call_loop(fn, case: _LoopCase, model=None) -> _LoopOutcome:
    name = getattr(fn, "__name__", "your function")
    recorder = _Recorder(case, _NumpyModel(case) if model is None else model)
    batches = [b.copy() for b in case.batches]
    try:
        with quietly():
            returned = fn(batches, case.epochs, recorder.zero_grad, recorder.backward, recorder.step,
                          recorder.scheduler_step)
    except Exception as error:  # noqa: BLE001 - any failure of learner code becomes a message
        return _LoopOutcome(trace=recorder.trace(), losses=tuple(recorder.losses),
                            problem=raised_message(name, error), raised=type(error).__name__)
    return _LoopOutcome(trace=recorder.trace(), losses=tuple(recorder.losses), returned=returned,
                        params=recorder.model.params())


def _position(case: _LoopCase, update: int) -> str:
    batches = len(case.batches)
    epoch, batch = divmod(update, batches)
    return f"update {update + 1} (epoch {epoch + 1} of {case.epochs}, batch {batch + 1} of {batches})"


def _batches_text(indices: tuple[int, ...]) -> str:
    shown = [str(i + 1) for i in indices]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _update_problem(case: _LoopCase, update: int, found: _Update) -> str | None:
    """What is wrong with one update, in words; None if it is right."""
    batches = len(case.batches)
    epoch, batch = divmod(update, batches)
    where = _position(case, update)
    if found.gradients != (batch,):
        if not found.gradients:
            return (f"{where}: step() found no gradient in .grad at all, so it did nothing: zero_grad() ran after "
                    f"this batch's backward(), or backward() had not run yet.")
        if len(found.gradients) > 1:
            return (f"{where}: step() found the gradients of batches {_batches_text(found.gradients)} added together "
                    f"in .grad. backward() adds into .grad; the gradients of earlier batches must be cleared "
                    f"(zero_grad()) before this batch's backward().")
        previous = (update - 1) % batches
        if update > 0 and found.gradients == (previous,):
            return (f"{where}: step() used the gradient of batch {previous + 1}, the previous one, not of batch "
                    f"{batch + 1}: it ran before this batch's backward().")
        return (f"{where}: step() used the gradient of batch {found.gradients[0] + 1}, not of batch {batch + 1}: "
                f"use the batches in the order given, one update per batch.")
    if found.scheduled != epoch:
        rate = case.lr * case.factor ** found.scheduled
        right = case.lr * case.factor ** epoch
        if found.scheduled > epoch:
            return (f"{where}: the scheduler had been stepped {found.scheduled} time(s) already, so this update used "
                    f"the learning rate {rate:g} instead of {right:g}, the schedule's value for epoch {epoch + 1}. "
                    f"scheduler_step() goes after an epoch's updates, once per epoch.")
        return (f"{where}: the scheduler had been stepped only {found.scheduled} time(s), so this update used the "
                f"learning rate {rate:g} instead of {right:g}: step it once at the end of every epoch.")
    return None


def _loop_verdict(case: _LoopCase, outcome: _LoopOutcome, name: str) -> str | None:
    """What is wrong with one call of the loop, in words; None if it is right."""
    trace = outcome.trace
    for update, found in enumerate(trace.updates[:case.updates]):
        problem = _update_problem(case, update, found)
        if problem:
            return problem
    if outcome.problem is not None:
        return outcome.problem
    if len(trace.updates) != case.updates:
        return (f"{name} called step() {len(trace.updates)} times for {case.epochs} epoch(s) of {len(case.batches)} "
                f"batches; it must make exactly one update per batch and epoch, {case.updates} in all.")
    if trace.scheduled != case.epochs:
        return (f"{name} stepped the scheduler {trace.scheduled} times in {case.epochs} epoch(s): it must be stepped "
                f"once at the end of every epoch, including the last (a scheduler that is saved with the model "
                f"must know how far it has come).")
    if trace.backwards != case.updates:
        return (f"{name} called backward() {trace.backwards} times for {case.updates} updates: once per batch and "
                f"epoch, just before its step().")
    return _losses_problem(outcome, name)


def _losses_problem(outcome: _LoopOutcome, name: str) -> str | None:
    returned, wanted = outcome.returned, outcome.losses
    if returned is None:
        return f"{name} returned None (no return statement?); it must return the losses that backward() returned."
    if isinstance(returned, (str, dict)) or not hasattr(returned, "__len__"):
        return f"{name} returned {_describe(returned)}; it must return a list of the losses backward() returned."
    try:
        values = np.asarray(returned, dtype=float)
    except (TypeError, ValueError):
        return f"{name} returned a {type(returned).__name__} that is not a list of numbers; return the losses."
    if values.shape != (len(wanted),):
        return (f"{name} returned {values.size} number(s); it must return the {len(wanted)} losses that backward() "
                f"returned, one per update, in order.")
    if rel_error(np.array(wanted), values) > 1e-12:
        return f"{name} returned other numbers than the losses backward() returned, one per update, in order."
    return None


def _loops_agree(a: _LoopOutcome, b: _LoopOutcome) -> bool:
    return a.trace == b.trace and a.raised == b.raised


def _loop_mistakes(cases: list[_LoopCase], outcomes: list[_LoopOutcome]) -> list[ExerciseMistake]:
    found = []
    for mistake in EXERCISE_MISTAKES.get("train_epochs", ()):
        theirs = []
        for case, outcome in zip(cases, outcomes):
            theirs.append(_call_loop(mistake.wrong, case))
            if not _loops_agree(outcome, theirs[-1]):
                break
        else:
            if any(_loop_verdict(case, wrong, "train_epochs") for case, wrong in zip(cases, theirs)):
                found.append(mistake)
    return found


def _batches(rng, rows: int, size: int) -> tuple[np.ndarray, ...]:
    order = rng.permutation(rows)
    return tuple(order[start:start + size].copy() for start in range(0, rows, size))


def _loop_cases(thorough: bool, seed: int) -> list[_LoopCase]:
    rng = case_rng(1560 + seed)
    cases = [_LoopCase("2 epochs of 3 batches of 4 examples", _batches(rng, 12, 4), 2, 1561 + seed)]
    size = int(rng.integers(3, 9))
    cases.append(_LoopCase(f"{int(rng.integers(3, 5))} epochs, batches of {size} (the last one smaller)",
                           _batches(rng, size * int(rng.integers(4, 8)) - 1, size), int(rng.integers(3, 5)),
                           1562 + seed))
    if thorough:
        cases += [
            _LoopCase("one epoch", _batches(rng, 20, 5), 1, 1563 + seed),
            _LoopCase("one batch per epoch (full-batch training)", _batches(rng, 10, 10), 4, 1564 + seed),
            _LoopCase("no epochs at all", _batches(rng, 8, 4), 0, 1565 + seed),
            _LoopCase("single-example batches", _batches(rng, 5, 1), 3, 1566 + seed),
            _LoopCase("a longer run", _batches(rng, 120, 16), 6, 1567 + seed),
        ]
    return cases


def check_train_epochs(fn, *, thorough: bool = False, seed: int = 0) -> None:
    """Check ``train_epochs(batches, epochs, zero_grad, backward, step, scheduler_step)``.

    The four functions it gets record every call and train a small least-squares model: each
    ``step()`` must find in ``.grad`` the gradient of exactly its own batch, the batches must come in
    the order given, the scheduler must have been stepped once per finished epoch, and the function
    must return the losses ``backward()`` returned (``thorough``: one epoch, one batch per epoch, no
    epochs, single-example batches, a longer run).
    """
    __tracebackhide__ = True
    _check_options(thorough, seed)
    if not callable(fn):
        fail(f"check_train_epochs needs your function train_epochs, got {_describe(fn)}.")
    name = getattr(fn, "__name__", "your function")
    cases = _loop_cases(thorough, seed)
    outcomes = [_call_loop(fn, case) for case in cases]
    verdicts = [_loop_verdict(case, outcome, name) for case, outcome in zip(cases, outcomes)]
    if any(verdicts):
        _report(name, [c.title for c in cases], verdicts, _loop_mistakes(cases, outcomes))
    print(f"check_train_epochs passed: {name} makes every one of {sum(c.updates for c in cases)} updates in "
          f"{len(cases)} runs with the gradient of its own batch, and steps the schedule once per epoch, after the "
          f"epoch's updates.")


class _TorchModel:
    """A small network trained by ``torch.optim.SGD`` (momentum 0.9) under ``StepLR(step_size=1, gamma=0.5)``."""

    def __init__(self, torch, case: _LoopCase):
        self.torch, self.case = torch, case
        rng = np.random.default_rng(case_seed(case.seed))
        rows = max(int(b.max()) for b in case.batches) + 1
        self.X = torch.tensor(rng.standard_normal((rows, 4)))
        self.y = torch.tensor(rng.integers(0, 3, rows))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(case_seed(case.seed))
            self.net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=case.lr, momentum=0.9)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=1, gamma=case.factor)

    def zero_grad(self, set_to_none: bool) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def backward(self, index: int) -> float:
        rows = self.torch.as_tensor(self.case.batches[index])
        loss = self.torch.nn.functional.cross_entropy(self.net(self.X[rows]), self.y[rows])
        loss.backward()
        return loss.item()

    def step(self) -> None:
        self.optimizer.step()

    def scheduler_step(self) -> None:
        with warnings.catch_warnings():  # torch warns when the scheduler comes first; the check says it in words
            warnings.simplefilter("ignore")
            self.scheduler.step()

    def params(self) -> np.ndarray:
        return np.concatenate([p.detach().numpy().ravel() for p in self.net.parameters()])


@_named("train_epochs")
def _right_loop(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = []
    for _ in range(epochs):
        for batch in batches:
            zero_grad()
            losses.append(backward(batch))
            step()
        scheduler_step()
    return losses


def check_train_epochs_in_torch(fn, *, seed: int = 0) -> None:
    """Run ``train_epochs`` on a real network: ``torch.optim.SGD`` with momentum and an epoch-wise ``StepLR``.

    The calls are recorded and judged as in :func:`check_train_epochs`, and the network must end
    with exactly the weights that the right loop gives it from the same start.
    """
    __tracebackhide__ = True
    _check_options(False, seed)
    torch = _import_torch()
    if not callable(fn):
        fail(f"check_train_epochs_in_torch needs your function train_epochs, got {_describe(fn)}.")
    name = getattr(fn, "__name__", "your function")
    rng = case_rng(1580 + seed)
    size = int(rng.integers(3, 7))
    cases = [_LoopCase("3 epochs of 4 batches, torch.optim.SGD(momentum=0.9) and StepLR(gamma=0.5)",
                       _batches(rng, 4 * size, size), 3, 1581 + seed)]
    verdicts, outcomes = [], []
    for case in cases:
        outcome = _call_loop(fn, case, _TorchModel(torch, case))
        right = _call_loop(_right_loop, case, _TorchModel(torch, case))
        outcomes.append(outcome)
        verdict = _loop_verdict(case, outcome, name)
        if verdict is None and rel_error(right.params, outcome.params) > 1e-12:
            verdict = (f"the network's weights end {rel_error(right.params, outcome.params):.2g} (relative error) away "
                       f"from where the right loop takes them.")
        verdicts.append(verdict)
    if any(verdicts):
        _report(name, [c.title for c in cases], verdicts, _loop_mistakes(cases, outcomes))
    print(f"check_train_epochs_in_torch passed: {name} trains a torch network with SGD and StepLR to exactly the "
          f"weights of the right loop.")


# --- the classic mistakes of train_epochs -----------------------------------------------------------


@_named("train_epochs")
def _no_zero_grad(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = []
    for _ in range(epochs):
        for batch in batches:
            losses.append(backward(batch))
            step()
        scheduler_step()
    return losses


@_named("train_epochs")
def _zero_grad_after_backward(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = []
    for _ in range(epochs):
        for batch in batches:
            losses.append(backward(batch))
            zero_grad()
            step()
        scheduler_step()
    return losses


@_named("train_epochs")
def _step_before_backward(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = []
    for _ in range(epochs):
        for batch in batches:
            step()
            zero_grad()
            losses.append(backward(batch))
        scheduler_step()
    return losses


@_named("train_epochs")
def _scheduler_first(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = []
    for _ in range(epochs):
        scheduler_step()
        for batch in batches:
            zero_grad()
            losses.append(backward(batch))
            step()
    return losses


@_named("train_epochs")
def _scheduler_every_batch(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = []
    for _ in range(epochs):
        for batch in batches:
            zero_grad()
            losses.append(backward(batch))
            step()
            scheduler_step()
    return losses


@_named("train_epochs")
def _scheduler_never(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = []
    for _ in range(epochs):
        for batch in batches:
            zero_grad()
            losses.append(backward(batch))
            step()
    return losses


register_exercise_mistakes("train_epochs", [
    ExerciseMistake(
        "loop-no-zero-grad", "zero_grad() forgotten: the gradients of all batches add up",
        "backward() does not replace .grad, it adds to it. Without zero_grad() every update uses the sum of the "
        "gradients of all batches so far, which grows and never forgets. Clear the gradients once per batch, "
        "before its backward().",
        _no_zero_grad),
    ExerciseMistake(
        "loop-zero-grad-after-backward", "zero_grad() between backward() and step(): every step finds no gradient",
        "zero_grad() wipes the gradient that backward() has just computed, so step() has nothing to use and the "
        "parameters never move. Clear the gradients before backward(), or after step().",
        _zero_grad_after_backward),
    ExerciseMistake(
        "loop-step-before-backward", "step() before backward(): each update uses the previous batch's gradient",
        "step() uses whatever is in .grad when it runs. Called before this batch's backward(), it finds the previous "
        "batch's gradient (and nothing at all on the first batch), and the last batch's gradient is never used. "
        "The order is zero_grad(), backward(batch), step().",
        _step_before_backward),
    ExerciseMistake(
        "loop-scheduler-before-step", "the scheduler stepped before the optimizer, at the start of each epoch",
        "Since PyTorch 1.1, scheduler.step() comes after the epoch's optimizer.step() calls; called first, it "
        "moves the rate on before the epoch has used it, so the first value of the schedule is never used (torch "
        "warns: 'Detected call of lr_scheduler.step() before optimizer.step()').",
        _scheduler_first),
    ExerciseMistake(
        "loop-scheduler-every-batch", "an epoch-wise scheduler stepped after every batch",
        "This scheduler counts epochs: step it once after each epoch's last update, outside the loop over batches. "
        "Stepped after every batch, it runs through the whole schedule in the first few epochs.",
        _scheduler_every_batch),
    ExerciseMistake(
        "loop-scheduler-never-stepped", "scheduler_step() never called: the learning rate never changes",
        "A scheduler only changes the learning rate when it is stepped: call scheduler_step() once at the end "
        "of every epoch.",
        _scheduler_never),
])
