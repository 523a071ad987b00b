"""course_lib.optimizers on its own: behaviour, the paper forms' relations, purity, trees, bad input.

The comparison with torch.optim is in test_optimizers_torch.py; both files share the table of
cases in optimizer_cases.py.
"""

import copy
import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.optimizers import (
    PAPER_FORMS,
    SGD,
    TORCH_FORMS,
    Adadelta,
    Adam,
    Adamax,
    AdamW,
    ClassicMomentum,
    KingmaBaAdamax,
    NAdam,
    ReddiAMSGrad,
    RMSprop,
    SutskeverNesterov,
)
from optimizer_cases import (
    ALL_CASES,
    PROBLEMS,
    case_params,
    float_arrays,
    leaves,
    optimizers,
    problem_params,
    relative_error,
    tree_map,
)

ALL_CLASSES = TORCH_FORMS + PAPER_FORMS
PROBLEM = {problem.id: problem for problem in PROBLEMS}
ONE_CASE_PER_CLASS = [next(case for case in ALL_CASES if type(case.optimizer) is cls) for cls in ALL_CLASSES]


def classes(chosen=ALL_CLASSES):
    return pytest.mark.parametrize("optimizer_class", chosen, ids=lambda cls: cls.__name__)


def run(optimizer, problem, steps, lr_at=None):
    """Follow ``problem`` for ``steps`` steps, taking each gradient where the optimizer asks."""
    params, state = problem.start, optimizer.init(problem.start)
    for step in range(steps):
        if lr_at is not None:
            optimizer = dataclasses.replace(optimizer, lr=lr_at(step))
        grads = problem.gradient(optimizer.gradient_point(params, state), step)
        params, state = optimizer.step(params, grads, state)
    return params, state


# --- behaviour -----------------------------------------------------------------------------------


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9), (0.0, 0.0), (0.99, 0.9999)])
@pytest.mark.parametrize("optimizer_class", [Adam, AdamW], ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_first_step_is_lr_times_the_sign_of_the_gradient(optimizer_class, betas, amsgrad):
    """optimizer-spec.md section 7: with both bias corrections the first step is exactly lr * sign(g).

    Forgetting both corrections gives 3.16 lr, only the first 0.1 lr, only the second 31.6 lr
    (at the default betas); any of them fails here.
    """
    rng = np.random.default_rng(0)
    grad = rng.choice([-1.0, 1.0], size=12) * np.geomspace(1e-2, 1e3, 12)
    params = rng.normal(size=12)
    lr = 0.05
    optimizer = optimizer_class(lr=lr, betas=betas, eps=1e-12, amsgrad=amsgrad, weight_decay=0.0)
    new_params, _ = optimizer.step(params, grad, optimizer.init(params))
    np.testing.assert_allclose((params - new_params) / lr, np.sign(grad), rtol=1e-9)


# optimizer-spec.md section 7: the first step over lr when a bias correction is left out,
# with m_1 = (1 - beta1) g and v_1 = (1 - beta2) g^2 at the default betas.
ADAM_FIRST_STEP_MISTAKES = {
    "no correction at all": (1 - 0.9) / math.sqrt(1 - 0.999),  # 3.16
    "first-moment correction omitted": (1 - 0.9) / 1.0,  # 0.1
    "second-moment correction omitted": 1.0 / math.sqrt(1 - 0.999),  # 31.6
}


@pytest.mark.parametrize("mistake", ADAM_FIRST_STEP_MISTAKES)
def test_adam_first_step_is_none_of_the_classic_mistakes(mistake):
    params, grad = np.array([0.3, -0.7]), np.array([2.5, -0.04])
    optimizer = Adam(lr=0.01)
    new_params, _ = optimizer.step(params, grad, optimizer.init(params))
    step_over_lr = np.abs(new_params - params) / 0.01
    assert step_over_lr == pytest.approx(1.0, rel=1e-5)
    assert step_over_lr != pytest.approx(ADAM_FIRST_STEP_MISTAKES[mistake], rel=0.05)


def test_adamw_first_step_shrinks_the_weights_before_the_sign_step():
    params, grad = np.array([2.0, -3.0, 0.5]), np.array([0.3, 0.3, -7.0])
    optimizer = AdamW(lr=0.1, weight_decay=0.5, eps=1e-12)
    new_params, _ = optimizer.step(params, grad, optimizer.init(params))
    np.testing.assert_allclose(new_params, params * (1 - 0.1 * 0.5) - 0.1 * np.sign(grad), rtol=1e-12)


def test_adam_l2_decay_goes_through_the_scaling_and_decoupled_decay_does_not():
    params, grad = np.array([2.0, -3.0]), np.array([0.5, 0.5])
    l2 = Adam(lr=0.1, weight_decay=1.0, eps=1e-12)
    decoupled = Adam(lr=0.1, weight_decay=1.0, eps=1e-12, decoupled_weight_decay=True)
    l2_params, _ = l2.step(params, grad, l2.init(params))
    decoupled_params, _ = decoupled.step(params, grad, decoupled.init(params))
    # L2 folds 1.0 * p into g before the sign step: the signs of g + p, (2.5, -2.5), decide.
    np.testing.assert_allclose(l2_params, params - 0.1 * np.sign(grad + params), rtol=1e-12)
    np.testing.assert_allclose(decoupled_params, params * 0.9 - 0.1 * np.sign(grad), rtol=1e-12)


def test_sgd_momentum_buffer_starts_at_the_first_gradient():
    params, grad = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    optimizer = SGD(lr=0.1, momentum=0.9, dampening=0.5)
    new_params, state = optimizer.step(params, grad, optimizer.init(params))
    np.testing.assert_array_equal(state["momentum_buffer"], grad)
    np.testing.assert_allclose(new_params, params - 0.1 * grad, rtol=1e-15)


@case_params(ALL_CASES)
def test_step_counter_counts_updates(case):
    params = np.array([0.5, -1.5])
    state = case.optimizer.init(params)
    assert state["step"] == 0
    for done in range(1, 4):
        params, state = case.optimizer.step(params, np.array([0.1, -0.2]) * done, state)
        assert state["step"] == done


@case_params(ALL_CASES)
def test_gradient_point_is_the_params_except_for_look_ahead_nesterov(case):
    problem = PROBLEM["dict-W-b"]
    params, state = run(case.optimizer, problem, 3)
    point = case.optimizer.gradient_point(params, state)
    if isinstance(case.optimizer, SutskeverNesterov):
        expected = tree_map(lambda p, v: p + case.optimizer.momentum * v, params, state["velocity"])
        assert relative_error(point, expected) == 0.0
    else:
        assert point is params


def test_label_names_the_class_and_the_changed_hyperparameters():
    label = Adam(lr=0.01, amsgrad=True).label
    assert label.startswith("Adam(") and "lr=0.01" in label and "amsgrad=True" in label
    assert "betas" not in label and "eps" not in label
    assert "decoupled_weight_decay" not in AdamW().label
    assert "nesterov=True" in SGD(momentum=0.9, nesterov=True).label


# --- the paper and classic forms against their stated relations --------------------------------


@problem_params([PROBLEM["quadratic"], PROBLEM["least_squares-mini_batch"], PROBLEM["dict-W-b"]])
def test_classic_momentum_equals_sgd_momentum_at_a_constant_lr(problem):
    classic, torch_form = ClassicMomentum(lr=0.02, momentum=0.9), SGD(lr=0.02, momentum=0.9)
    classic_params, classic_state = run(classic, problem, 200)
    sgd_params, sgd_state = run(torch_form, problem, 200)
    assert relative_error(classic_params, sgd_params) < 1e-12
    velocity_from_buffer = tree_map(lambda buffer: 0.02 * buffer, sgd_state["momentum_buffer"])
    assert relative_error(classic_state["velocity"], velocity_from_buffer) < 1e-12


def test_classic_momentum_departs_from_sgd_momentum_under_a_schedule():
    """torch rescales the whole buffer when lr drops; the classic form only weights new gradients."""
    problem = PROBLEM["quadratic"]

    def step_decay(step):
        return 0.02 if step < 50 else 0.002

    classic_params, _ = run(ClassicMomentum(lr=0.02, momentum=0.9), problem, 100, lr_at=step_decay)
    sgd_params, _ = run(SGD(lr=0.02, momentum=0.9), problem, 100, lr_at=step_decay)
    assert relative_error(classic_params, sgd_params) > 1e-2


@problem_params([PROBLEM["quadratic"], PROBLEM["rosenbrock"], PROBLEM["dict-W-b"]])
def test_sutskever_look_ahead_point_is_the_nesterov_sgd_iterate(problem):
    sutskever = problem.optimizer_for(SutskeverNesterov(lr=0.02, momentum=0.9))
    nesterov = SGD(lr=sutskever.lr, momentum=0.9, nesterov=True)
    params, state = problem.start, sutskever.init(problem.start)
    nesterov_params, nesterov_state = problem.start, nesterov.init(problem.start)
    for step in range(200):
        look_ahead = sutskever.gradient_point(params, state)
        assert relative_error(look_ahead, nesterov_params) < 1e-10
        params, state = sutskever.step(params, problem.gradient(look_ahead, step), state)
        nesterov_params, nesterov_state = nesterov.step(
            nesterov_params, problem.gradient(nesterov_params, step), nesterov_state)


def test_sutskever_iterate_itself_is_not_the_nesterov_iterate():
    problem = PROBLEM["quadratic"]
    sutskever_params, _ = run(SutskeverNesterov(lr=0.02, momentum=0.9), problem, 20)
    nesterov_params, _ = run(SGD(lr=0.02, momentum=0.9, nesterov=True), problem, 20)
    assert relative_error(sutskever_params, nesterov_params) > 1e-3


@problem_params([PROBLEM["quadratic"], PROBLEM["rosenbrock"], PROBLEM["dict-W-b"]])
def test_kingma_ba_adamax_equals_adamax_without_eps(problem):
    paper_params, paper_state = run(KingmaBaAdamax(lr=0.02, betas=(0.8, 0.99)), problem, 200)
    torch_params, torch_state = run(Adamax(lr=0.02, betas=(0.8, 0.99), eps=0.0), problem, 200)
    assert relative_error(paper_params, torch_params) < 1e-14
    assert relative_error(paper_state["exp_inf"], torch_state["exp_inf"]) < 1e-14


def test_kingma_ba_adamax_leaves_a_coordinate_with_zero_gradients_where_it_is():
    params, grad = np.array([1.0, 2.0]), np.array([0.0, 0.5])
    optimizer = KingmaBaAdamax(lr=0.1)
    state = optimizer.init(params)
    for _ in range(3):
        params, state = optimizer.step(params, grad, state)
    assert params[0] == 1.0 and params[1] < 2.0


def test_reddi_amsgrad_first_step_has_no_bias_correction():
    """m_1 = (1 - b1) g and v_1 = (1 - b2) g^2, so the first step is lr (1 - b1) / sqrt(1 - b2) sign(g)."""
    params, grad = np.array([1.0, -2.0, 3.0]), np.array([0.02, -5.0, 300.0])
    lr, (beta1, beta2) = 0.01, (0.9, 0.999)
    optimizer = ReddiAMSGrad(lr=lr, betas=(beta1, beta2))
    new_params, state = optimizer.step(params, grad, optimizer.init(params))
    m, v = (1 - beta1) * grad, (1 - beta2) * grad**2
    np.testing.assert_allclose(new_params, params - lr * m / np.sqrt(v), rtol=1e-14)
    np.testing.assert_allclose(state["max_exp_avg_sq"], v, rtol=1e-15)
    assert abs(new_params[0] - params[0]) == pytest.approx(lr * 0.1 / math.sqrt(0.001))


@problem_params([PROBLEM["quadratic"], PROBLEM["rosenbrock"]])
def test_reddi_amsgrad_is_not_torch_amsgrad(problem):
    reddi_params, _ = run(problem.optimizer_for(ReddiAMSGrad(lr=0.02)), problem, 200)
    torch_params, _ = run(problem.optimizer_for(Adam(lr=0.02, amsgrad=True)), problem, 200)
    assert relative_error(reddi_params, torch_params) > 1e-2


def test_amsgrad_keeps_the_largest_raw_second_moment():
    params = np.array([1.0])
    optimizer = Adam(lr=0.01, amsgrad=True)
    state = optimizer.init(params)
    for grad in (10.0, 0.1, 0.1):
        params, state = optimizer.step(params, np.array([grad]), state)
    assert state["max_exp_avg_sq"][0] == pytest.approx((1 - 0.999) * 100.0)
    assert state["exp_avg_sq"][0] < state["max_exp_avg_sq"][0]


# --- purity and trees ------------------------------------------------------------------------------


def nested_tree(rng):
    encoder = [rng.normal(size=(3, 2)), rng.normal(size=2)]
    return {"encoder": encoder, "head": (rng.normal(size=()), rng.normal(size=4))}


def state_trees(state):
    return [value for key, value in state.items() if key not in ("step", "mu_product")]


def assert_unchanged(actual, expected, path="inputs"):
    """Exact equality of two trees of arrays and numbers, container types and dtypes included."""
    assert type(actual) is type(expected), path
    if isinstance(actual, dict):
        assert list(actual) == list(expected), path
        for key in actual:
            assert_unchanged(actual[key], expected[key], f"{path}[{key!r}]")
    elif isinstance(actual, (list, tuple)):
        assert len(actual) == len(expected), path
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_unchanged(a, e, f"{path}[{index}]")
    elif isinstance(actual, np.ndarray):
        assert actual.dtype == expected.dtype, path
        np.testing.assert_array_equal(actual, expected, err_msg=f"step changed {path}")
    else:
        assert actual == expected, path


@case_params(ALL_CASES)
@pytest.mark.parametrize("make_tree", [
    lambda rng: rng.normal(size=(4, 3)),
    lambda rng: [rng.normal(size=(4, 3)), rng.normal(size=3)],
    lambda rng: {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)},
    nested_tree,
], ids=["array", "list", "dict", "nested"])
def test_step_never_mutates_or_aliases_its_inputs(case, make_tree):
    rng = np.random.default_rng(0)
    optimizer = case.optimizer
    params = make_tree(rng)
    state = optimizer.init(params)
    for _ in range(3):  # the first step takes other branches (SGD's buffer = g) than later ones
        inputs = (params, make_tree(rng), state)
        kept = copy.deepcopy(inputs)
        new_params, new_state = optimizer.step(*inputs)
        assert_unchanged(inputs, kept)
        given_arrays = leaves(inputs[:2]) + leaves(state_trees(state))
        for output in leaves(new_params) + leaves(state_trees(new_state)):
            assert not any(np.shares_memory(output, given) for given in given_arrays), "an output views an input"
        params, state = new_params, new_state


def structure(tree):
    if isinstance(tree, dict):
        return ("dict", tuple(tree), tuple(structure(child) for child in tree.values()))
    if isinstance(tree, (list, tuple)):
        return (type(tree).__name__, tuple(structure(child) for child in tree))
    return ("array", np.shape(tree))


@case_params(ALL_CASES)
def test_trees_keep_their_structure_and_step_leaf_by_leaf(case):
    rng = np.random.default_rng(1)
    optimizer = case.optimizer
    params = nested_tree(rng)
    state = optimizer.init(params)
    single = [(leaf, optimizer.init(leaf)) for leaf in leaves(params)]
    for _ in range(3):
        grads = nested_tree(rng)
        params, state = optimizer.step(params, grads, state)
        single = [optimizer.step(p, g, s) for (p, s), g in zip(single, leaves(grads))]
    assert structure(params) == structure(nested_tree(rng))
    for buffer in state_trees(state):
        assert structure(buffer) == structure(params)
    for leaf, (alone, _) in zip(leaves(params), single):
        np.testing.assert_array_equal(leaf, alone)


@pytest.mark.parametrize("container", [list, tuple])
def test_sequences_come_back_as_the_same_kind(container):
    params = container([np.zeros(2), np.ones(3)])
    optimizer = Adam()
    new_params, state = optimizer.step(params, container([np.ones(2), np.ones(3)]), optimizer.init(params))
    assert type(new_params) is container and type(state["exp_avg"]) is container


def test_dict_keys_keep_their_order():
    params = {"z": np.zeros(1), "a": np.zeros(2)}
    new_params, _ = SGD(lr=0.1).step(params, {"a": np.ones(2), "z": np.ones(1)}, {"step": 0})
    assert list(new_params) == ["z", "a"]
    np.testing.assert_array_equal(new_params["a"], [-0.1, -0.1])


# --- bad input ----------------------------------------------------------------------------------------


def float_hyperparameters():
    return [
        (cls, field.name)
        for cls in ALL_CLASSES
        for field in dataclasses.fields(cls)
        if field.init and isinstance(field.default, float)
    ]


@pytest.mark.parametrize("optimizer_class, name", float_hyperparameters(),
                         ids=[f"{cls.__name__}-{name}" for cls, name in float_hyperparameters()])
@pytest.mark.parametrize("bad_value", [-0.1, math.nan, "0.1", None, True])
def test_bad_hyperparameter_is_refused_by_name(optimizer_class, name, bad_value):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        optimizer_class(**{name: bad_value})


@pytest.mark.parametrize("optimizer_class, name", [(Adadelta, "rho"), (RMSprop, "alpha")])
def test_averaging_coefficients_must_lie_in_the_unit_interval(optimizer_class, name):
    for bad_value in (-0.1, 1.1):
        with pytest.raises(ValueError, match=rf"^{name} must be in \[0, 1\]"):
            optimizer_class(**{name: bad_value})
    for edge in (0.0, 1.0):
        assert getattr(optimizer_class(**{name: edge}), name) == edge


@classes([cls for cls in ALL_CLASSES if any(field.name == "betas" for field in dataclasses.fields(cls))])
@pytest.mark.parametrize("index", [0, 1])
def test_each_beta_must_lie_in_zero_to_one_excluding_one(optimizer_class, index):
    for bad_value in (1.0, -0.1, 1.5, math.nan):
        betas = [0.9, 0.999]
        betas[index] = bad_value
        with pytest.raises(ValueError, match=rf"^betas\[{index}\] must be"):
            optimizer_class(betas=tuple(betas))
    edge = [0.9, 0.999]
    edge[index] = 0.0
    optimizer_class(betas=tuple(edge))


@classes([Adam, AdamW, Adamax, NAdam, KingmaBaAdamax, ReddiAMSGrad])
@pytest.mark.parametrize("bad_betas", [0.9, (0.9,), (0.9, 0.99, 0.999)])
def test_betas_must_be_a_pair(optimizer_class, bad_betas):
    with pytest.raises(ValueError, match=r"^betas must be a pair"):
        optimizer_class(betas=bad_betas)


@pytest.mark.parametrize("hyperparameters", [{"momentum": 0.0}, {"momentum": 0.9, "dampening": 0.1}])
def test_nesterov_needs_momentum_and_no_dampening(hyperparameters):
    with pytest.raises(ValueError, match=r"^nesterov=True needs momentum > 0 and dampening = 0"):
        SGD(nesterov=True, **hyperparameters)


BAD_INPUTS = {
    "shape": (np.zeros(3), np.zeros(4), r"^grads has shape \(4,\) but params has shape \(3,\)"),
    "leaf-shape": ({"W": np.zeros((2, 2)), "b": np.zeros(2)}, {"W": np.zeros((2, 3)), "b": np.zeros(2)},
                   r"^grads\['W'\] has shape \(2, 3\) but params\['W'\] has shape \(2, 2\)"),
    "keys": ({"W": np.zeros(2), "b": np.zeros(2)}, {"W": np.zeros(2), "c": np.zeros(2)},
             r"^grads must be a dict with keys .*'W'.*'b'.* like params, got .*'W'.*'c'"),
    "length": ([np.zeros(2), np.zeros(2)], [np.zeros(2)], r"^grads must be a list of length 2"),
    "structure": ({"W": np.zeros(2)}, [np.zeros(2)], r"^grads must be a dict"),
    "leaf-for-tree": ([np.zeros(2)], np.zeros(2), r"^grads must be a list of length 1"),
    "integer-params": (np.arange(3), np.zeros(3), r"^params has integer dtype int"),
    "integer-grads": (np.zeros(3), np.arange(3), r"^grads has integer dtype int"),
    "string-grads": (np.zeros(2), np.array(["a", "b"]), r"^grads has non-numeric dtype"),
    "object-grads": (np.zeros(2), np.array([1.0, None], dtype=object), r"^grads has non-numeric dtype"),
    "boolean-params": (np.array([True, False]), np.zeros(2), r"^params has non-numeric dtype bool"),
    "string-params": ("weights", "weights", r"^params must be a NumPy array of floats"),
    "nested-integer": ({"W": [np.zeros(2), np.arange(2)]}, {"W": [np.zeros(2), np.zeros(2)]},
                       r"^params\['W'\]\[1\] has integer dtype"),
    "empty-list": ([], [], r"^params is an empty list"),
}


@case_params(ONE_CASE_PER_CLASS)
@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_params_or_grads_are_refused_with_their_path(case, kind):
    params, grads, message = BAD_INPUTS[kind]
    state = {"step": 0}  # a leaf that fails the checks has no init() state to offer
    with pytest.raises(ValueError, match=message):
        case.optimizer.step(params, grads, state)


def test_mismatched_dict_keys_are_listed_as_written():
    with pytest.raises(ValueError) as error:
        SGD().step({"W": np.zeros(2), "b": np.zeros(2)}, {"W": np.zeros(2), "c": np.zeros(2)}, {"step": 0})
    assert str(error.value) == "grads must be a dict with keys ['W', 'b'] like params, got ['W', 'c']"


@case_params([case for case in ONE_CASE_PER_CLASS if case.optimizer.slot_names])
def test_a_state_from_another_optimizer_is_refused(case):
    params, grads = np.zeros(3), np.ones(3)
    name = type(case.optimizer).__name__
    foreign = [other for other in (SGD(momentum=0.9), Adam(), RMSprop(), Adadelta(), NAdam(), Adamax())
               if not set(case.optimizer.init(params)) <= set(other.init(params))]
    assert foreign
    for other in foreign:
        with pytest.raises(ValueError, match=rf"^state must be the dict that {name}\.init\(params\) returns"):
            case.optimizer.step(params, grads, other.init(params))


@case_params([case for case in ONE_CASE_PER_CLASS if case.optimizer.slot_names])
def test_a_state_for_other_params_is_refused_with_its_path(case):
    optimizer = case.optimizer
    buffer = optimizer.slot_names[0]
    state = optimizer.init({"W": np.zeros((2, 2)), "b": np.zeros(3)})
    with pytest.raises(ValueError, match=rf"^state\['{buffer}'\]\['b'\] has shape \(3,\)"):
        optimizer.step({"W": np.zeros((2, 2)), "b": np.zeros(2)}, {"W": np.ones((2, 2)), "b": np.ones(2)}, state)


@pytest.mark.parametrize("bad_state", [None, [], {"exp_avg": np.zeros(2)}])
def test_something_else_than_a_state_is_refused(bad_state):
    with pytest.raises(ValueError, match=r"^state must be the dict that Adam\.init\(params\) returns"):
        Adam().step(np.zeros(2), np.ones(2), bad_state)


@pytest.mark.parametrize("bad_step", [-1, 1.5, True, "3"])
def test_a_broken_step_counter_is_refused(bad_step):
    with pytest.raises(ValueError, match=r"^state\['step'\] must be a whole number"):
        SGD().step(np.zeros(2), np.ones(2), {"step": bad_step})


# --- properties ----------------------------------------------------------------------------------


@classes()
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
@settings(max_examples=30, deadline=None)
def test_any_shape_and_valid_hyperparameters_give_finite_pure_steps(optimizer_class, dtype, data):
    optimizer = data.draw(optimizers(optimizer_class), label="optimizer")
    # 0-d float32 params lose their dtype: see test_zero_dimensional_float32_params_stay_float32.
    params = data.draw(float_arrays(dtype, min_dims=0 if dtype == np.float64 else 1), label="params")
    state = optimizer.init(params)
    for done in range(1, 4):
        grads = data.draw(float_arrays(dtype, params.shape), label=f"grads {done}")
        given_inputs = copy.deepcopy((params, grads, state))
        new_params, new_state = optimizer.step(params, grads, state)
        np.testing.assert_array_equal(params, given_inputs[0])
        np.testing.assert_array_equal(grads, given_inputs[1])
        for name in optimizer.slot_names:
            np.testing.assert_array_equal(state[name], given_inputs[2][name])
        assert new_state["step"] == done
        for array in [new_params, *(new_state[name] for name in optimizer.slot_names)]:
            assert array.shape == params.shape and array.dtype == dtype
            assert np.all(np.isfinite(array))
        params, state = new_params, new_state


def test_numpy_scalar_hyperparameters_keep_the_params_dtype():
    params, lr = np.ones(3, dtype=np.float32), np.float64(0.01)
    for optimizer in (SGD(lr=lr), Adam(lr=lr)):
        new_params, _ = optimizer.step(params, np.ones(3, dtype=np.float32), optimizer.init(params))
        assert new_params.dtype == np.float32


@classes()
def test_zero_dimensional_float32_params_stay_float32(optimizer_class):
    optimizer = optimizer_class()
    params, grad = np.array(1.5, dtype=np.float32), np.array(0.25, dtype=np.float32)
    state = optimizer.init(params)
    for _ in range(2):
        params, state = optimizer.step(params, grad, state)
    assert isinstance(params, np.ndarray) and params.dtype == np.float32


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_centered_rmsprop_never_takes_the_root_of_a_negative_variance():
    optimizer = RMSprop(lr=0.01, alpha=1e-8, centered=True)
    params = np.ones(4)
    state = optimizer.init(params)
    for _ in range(3):
        params, state = optimizer.step(params, np.full(4, 0.4375), state)
    assert np.all(np.isfinite(params))
