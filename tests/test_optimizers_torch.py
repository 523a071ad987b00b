"""course_lib.optimizers against torch.optim 2.13 in float64: every case of the table, every problem.

Each run feeds torch and course_lib the same float64 gradients. Two comparisons come out of it:

* step by step: course_lib takes one step from torch's own parameters and state and must land
  where torch lands. This holds to round-off for every setting, chaotic or not.
* free running: course_lib follows its own trajectory from the same start. On chaotic settings
  (optimizer-spec.md section 12, item 10) torch's fused multiply-adds make the two part by far
  more than round-off, as torch itself does under a 1e-15 change of the start, so only the
  cases not marked chaotic are compared this way.
"""

import dataclasses
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip(
    "torch",
    reason="torch is the conformance oracle and an optional test dependency: "
           "`pip install torch==2.13.0` (CPU build; .ci/run installs it)",
)

from course_lib.optimizers import SGD, TORCH_FORMS, ClassicMomentum, SutskeverNesterov  # noqa: E402
from optimizer_cases import (  # noqa: E402
    PROBLEMS,
    TORCH_CASES,
    case_params,
    float_arrays,
    leaves,
    optimizers,
    problem_params,
    rebuild,
    relative_error,
)

STEP_TOLERANCE = 1e-12
TRAJECTORY_TOLERANCE = 1e-10
PROBLEM = {problem.id: problem for problem in PROBLEMS}

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def float64_by_default():
    """torch keeps scalar state (step, NAdam's mu_product) in the default dtype: make it float64."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


class TorchTwin:
    """The ``torch.optim`` optimizer with course_lib's hyperparameters, on tensors of a tree's leaves."""

    def __init__(self, optimizer, params):
        self.optimizer, self.like = optimizer, params
        self.tensors = [torch.tensor(leaf, requires_grad=True) for leaf in leaves(params)]
        hyperparameters = {f.name: getattr(optimizer, f.name) for f in dataclasses.fields(optimizer) if f.init}
        torch_class = getattr(torch.optim, type(optimizer).__name__)
        self.torch_optimizer = torch_class(self.tensors, foreach=False, **hyperparameters)
        self.steps_done = 0

    def set_lr(self, lr: float) -> None:
        for group in self.torch_optimizer.param_groups:
            group["lr"] = lr

    def params(self):
        return rebuild(self.like, [t.detach().numpy().copy() for t in self.tensors])

    def raw_state(self) -> list[dict]:
        return [self.torch_optimizer.state[t] for t in self.tensors]

    def state(self) -> dict:
        """torch's state in course_lib's layout (before the first step: course_lib's start)."""
        if self.steps_done == 0:
            return self.optimizer.init(self.like)
        per_tensor = self.raw_state()
        state = {"step": self.steps_done}
        for name in self.optimizer.slot_names:
            state[name] = rebuild(self.like, [s[name].numpy().copy() for s in per_tensor])
        if "mu_product" in per_tensor[0]:
            state["mu_product"] = float(per_tensor[0]["mu_product"])
        return state

    def step(self, grads) -> None:
        for tensor, grad in zip(self.tensors, leaves(grads)):
            tensor.grad = torch.from_numpy(np.array(grad))
        self.torch_optimizer.step()
        self.steps_done += 1


def state_error(state, expected, before=None) -> float:
    assert state["step"] == expected["step"]
    assert state.keys() == expected.keys()
    names = [name for name in expected if name != "step"]
    return max([relative_error(state[name], expected[name], before[name] if before else None) for name in names],
               default=0.0)


@dataclasses.dataclass
class SideBySide:
    worst_step_error: float  # course_lib's one step from torch's state vs torch's step
    worst_free_error: float  # course_lib's own trajectory vs torch's
    final_state_error: float


def run_side_by_side(optimizer, problem, steps, lr_at=None) -> SideBySide:
    """Run torch; at every step also step course_lib from torch's state, and on its own."""
    twin = TorchTwin(optimizer, problem.start)
    torch_params, torch_state = problem.start, twin.state()
    params, state = problem.start, optimizer.init(problem.start)
    worst_step = worst_free = 0.0
    for step in range(steps):
        if lr_at is not None:
            optimizer = dataclasses.replace(optimizer, lr=lr_at(step))
            twin.set_lr(optimizer.lr)
        grads = problem.gradient(torch_params, step)
        one_step_params, one_step_state = optimizer.step(torch_params, grads, torch_state)
        twin.step(grads)
        before = torch_params, torch_state
        torch_params, torch_state = twin.params(), twin.state()
        worst_step = max(worst_step, relative_error(one_step_params, torch_params, before[0]),
                         state_error(one_step_state, torch_state, before[1]))
        params, state = optimizer.step(params, problem.gradient(params, step), state)
        worst_free = max(worst_free, relative_error(params, torch_params))
    assert all(np.all(np.isfinite(leaf)) for leaf in leaves(torch_params)), "torch diverged: lower the lr"
    return SideBySide(worst_step, worst_free, state_error(state, torch_state))


def assert_agrees(result: SideBySide, chaotic: bool) -> None:
    assert result.worst_step_error <= STEP_TOLERANCE, (
        f"one step from torch's state lands {result.worst_step_error:.1e} (relative) away from torch's")
    if not chaotic:
        assert result.worst_free_error <= TRAJECTORY_TOLERANCE, (
            f"the free-running trajectory parts from torch's by {result.worst_free_error:.1e}")
        assert result.final_state_error <= TRAJECTORY_TOLERANCE, (
            f"the final state differs from torch's by {result.final_state_error:.1e}")


# Keyword arguments of torch.optim that choose a code path or a direction, not the numbers.
TORCH_ONLY_ARGUMENTS = {"params", "self", "foreach", "maximize", "capturable", "differentiable", "fused"}


@pytest.mark.parametrize("optimizer_class", TORCH_FORMS, ids=lambda cls: cls.__name__)
def test_hyperparameters_are_named_ordered_and_defaulted_as_in_torch(optimizer_class):
    torch_parameters = inspect.signature(getattr(torch.optim, optimizer_class.__name__)).parameters
    torch_defaults = {name: p.default for name, p in torch_parameters.items() if name not in TORCH_ONLY_ARGUMENTS}
    ours = {f.name: f.default for f in dataclasses.fields(optimizer_class) if f.init}
    assert list(ours) == list(torch_defaults)
    assert ours == torch_defaults


@case_params(TORCH_CASES)
@problem_params()
def test_trajectory_matches_torch(case, problem):
    assert_agrees(run_side_by_side(problem.optimizer_for(case.optimizer), problem, problem.steps), case.chaotic)


@case_params(TORCH_CASES)
def test_learning_rate_schedule_matches_torch(case):
    """dataclasses.replace(opt, lr=...) between steps does what changing torch's param group does."""
    problem = PROBLEM["dict-W-b"]
    first_lr = case.optimizer.lr
    result = run_side_by_side(case.optimizer, problem, steps=60, lr_at=lambda step: first_lr * 0.95**step)
    assert_agrees(result, case.chaotic)


@case_params([case for case in TORCH_CASES if case.chaotic])
def test_chaotic_cases_are_chaotic_for_torch_itself(case):
    """The reason these cases skip the free-running comparison: torch does not agree with itself."""
    problem = PROBLEM["least_squares-full_batch"]
    runs = []
    for start in (problem.start, problem.start + 1e-15):
        twin = TorchTwin(case.optimizer, start)
        for step in range(200):
            twin.step(problem.gradient(twin.params(), step))
        runs.append(twin.params())
    assert relative_error(*runs) > TRAJECTORY_TOLERANCE


@case_params(TORCH_CASES)
def test_state_holds_torch_buffers_under_torch_names(case):
    problem = PROBLEM["dict-W-b"]
    optimizer = case.optimizer
    twin = TorchTwin(optimizer, problem.start)
    params, state = problem.start, optimizer.init(problem.start)
    for index, tensor_state in enumerate(twin.raw_state()):
        for name, value in tensor_state.items():  # only Adagrad builds its state up front
            if name != "step":
                assert relative_error(leaves(state[name])[index], value.numpy()) == 0.0
    for step in range(3):
        grads = problem.gradient(params, step)
        params, state = optimizer.step(params, grads, state)
        twin.step(grads)
    for index, tensor_state in enumerate(twin.raw_state()):
        torch_buffers = {name for name, value in tensor_state.items() if value.dim() > 0}
        torch_scalars = {name for name, value in tensor_state.items() if value.dim() == 0}
        assert torch_buffers == set(optimizer.slot_names)
        assert torch_scalars - {"step"} == set(state) - {"step", *optimizer.slot_names}
        if "step" in tensor_state:
            assert int(tensor_state["step"]) == state["step"] == 3
        for name in torch_buffers:
            assert relative_error(leaves(state[name])[index], tensor_state[name].numpy()) <= STEP_TOLERANCE
        if "mu_product" in tensor_state:
            assert state["mu_product"] == pytest.approx(float(tensor_state["mu_product"]), rel=1e-15)


@given(data=st.data())
@settings(max_examples=30, deadline=None)
@pytest.mark.parametrize("optimizer_class", TORCH_FORMS, ids=lambda cls: cls.__name__)
def test_random_hyperparameters_and_shapes_step_like_torch(optimizer_class, data):
    optimizer = data.draw(optimizers(optimizer_class), label="optimizer")
    params = data.draw(float_arrays(np.float64), label="params")
    grads = [data.draw(float_arrays(np.float64, params.shape), label=f"grads {step}") for step in range(3)]
    twin = TorchTwin(optimizer, params)
    state = twin.state()
    for grad in grads:
        params = twin.params()
        expected_params, expected_state = optimizer.step(params, grad, state)
        twin.step(grad)
        assert relative_error(expected_params, twin.params(), params) <= STEP_TOLERANCE
        assert state_error(expected_state, twin.state(), state) <= STEP_TOLERANCE
        state = twin.state()


# --- the paper forms against torch ---------------------------------------------------------------


@problem_params([PROBLEM["quadratic"], PROBLEM["rosenbrock"]])
def test_classic_momentum_is_torch_sgd_at_a_constant_lr(problem):
    """v = lr * b: the velocity of the classic form is torch's buffer scaled by the lr."""
    classic = problem.optimizer_for(ClassicMomentum(lr=0.02, momentum=0.9))
    twin = TorchTwin(SGD(lr=classic.lr, momentum=classic.momentum), problem.start)
    params, state = problem.start, classic.init(problem.start)
    for step in range(200):
        grads = problem.gradient(params, step)
        params, state = classic.step(params, grads, state)
        twin.step(problem.gradient(twin.params(), step))
        assert relative_error(params, twin.params()) <= TRAJECTORY_TOLERANCE
        buffer = twin.raw_state()[0]["momentum_buffer"].numpy()
        assert relative_error(state["velocity"], classic.lr * buffer) <= TRAJECTORY_TOLERANCE


@problem_params([PROBLEM["quadratic"], PROBLEM["rosenbrock"], PROBLEM["dict-W-b"]])
def test_sutskever_look_ahead_point_is_torch_nesterov_iterate(problem):
    sutskever = problem.optimizer_for(SutskeverNesterov(lr=0.02, momentum=0.9))
    twin = TorchTwin(SGD(lr=sutskever.lr, momentum=sutskever.momentum, nesterov=True), problem.start)
    params, state = problem.start, sutskever.init(problem.start)
    for step in range(200):
        look_ahead = sutskever.gradient_point(params, state)
        assert relative_error(look_ahead, twin.params()) <= TRAJECTORY_TOLERANCE
        params, state = sutskever.step(params, problem.gradient(look_ahead, step), state)
        twin.step(problem.gradient(twin.params(), step))
