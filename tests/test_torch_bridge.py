"""course_lib.torch_bridge: it imports without torch and says how to install it; with torch, a course update
function inside a torch optimizer matches torch.optim, the training loop and its slips do what the lesson
says, names and tensors translate, and the explorer reruns and redraws. The tests that need torch are
skipped without it."""

import base64
import html
import io
import re
import subprocess
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_lib import torch_bridge  # noqa: E402

TORCH_REASON = "torch is an optional dependency: pip install torch==2.13.0 (CPU build; .ci/run installs it)"


@pytest.fixture(scope="module")
def torch():
    module = pytest.importorskip("torch", reason=TORCH_REASON)
    threads = module.get_num_threads()
    module.set_num_threads(1)  # the lesson's setting: these networks are tiny
    yield module
    module.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits(torch):
    return torch_bridge.digits_tensors()


# --- without torch --------------------------------------------------------------------------------

WITHOUT_TORCH = textwrap.dedent("""
    import sys
    sys.modules["torch"] = None          # what a missing torch looks like to import
    from course_lib import torch_bridge
    print("imported")
    print(repr(torch_bridge.require_torch()))
    try:
        torch_bridge.network()
    except ImportError as error:
        print("network:", str(error).splitlines()[0])
""")


def test_the_module_imports_without_torch_and_says_how_to_install_it():
    result = subprocess.run([sys.executable, "-c", WITHOUT_TORCH], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("imported\n")
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in result.stdout
    assert ".venv/bin/python -m pip install torch" in result.stdout
    assert "restart the kernel" in result.stdout and "\nNone\n" in result.stdout
    assert "network: This lesson needs PyTorch (the `torch` package), and it cannot be imported here." in result.stdout
    assert result.stderr == ""


def test_later_cells_become_a_note_but_pip_and_shell_cells_still_run():
    assert torch_bridge._note_instead(["x = 1\n", "print(x)\n"]) == [f"print({torch_bridge.SKIPPED_NOTE!r})\n"]
    for cell in (["%pip install torch\n"], ["# install\n", "!pip install torch\n"], ["\n", "%conda list\n"]):
        assert torch_bridge._note_instead(cell) == cell


def test_the_note_is_registered_once_in_a_running_shell(monkeypatch):
    class Shell:
        input_transformers_cleanup = []

    import IPython

    shell = Shell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    assert torch_bridge._skip_later_cells() and torch_bridge._skip_later_cells()
    assert shell.input_transformers_cleanup == [torch_bridge._note_instead]
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert torch_bridge._skip_later_cells() is False


@pytest.mark.parametrize("threads", [0, 1.5, True])
def test_a_bad_thread_count_is_refused(threads):
    with pytest.raises(ValueError, match="threads"):
        torch_bridge.require_torch(threads=threads)


# --- the network and the data ---------------------------------------------------------------------

@pytest.mark.torch
def test_the_network_is_the_same_for_a_seed_and_leaves_torchs_random_state_alone(torch):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b, c = torch_bridge.network(seed=3), torch_bridge.network(seed=3), torch_bridge.network(seed=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0].weight, c[0].weight)
    assert [n for n, _ in a.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"]
    assert all(p.dtype == torch.float64 for p in a.parameters())
    assert [type(m).__name__ for m in torch_bridge.network(norm=False)] == ["Linear", "ReLU", "Linear"]


@pytest.mark.torch
@pytest.mark.parametrize("name, value", [("hidden", 0), ("seed", -1), ("inputs", 2.5), ("classes", True)])
def test_bad_network_sizes_are_refused(torch, name, value):
    with pytest.raises(ValueError, match=name):
        torch_bridge.network(**{name: value})


@pytest.mark.torch
def test_the_digits_are_course_libs_as_tensors(digits):
    from course_lib.data import load_digits

    numpy_digits = load_digits()
    assert np.array_equal(digits.X_train.numpy(), numpy_digits.X_train)
    assert np.array_equal(digits.y_val.numpy(), numpy_digits.y_val)
    assert digits.n_train == 1348 and "1348 training and 449 validation" in repr(digits)


# --- a course update function as a torch optimizer ----------------------------------------------------

def _random_grads(torch, model, generator):
    for p in model.parameters():
        p.grad = torch.randn(p.shape, generator=generator, dtype=p.dtype)


@pytest.mark.torch
@pytest.mark.parametrize("settings", [{"lr": 0.01}, {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.1},
                                      {"lr": 0.02, "weight_decay": 0.3, "decoupled_weight_decay": True}])
def test_the_reference_adam_update_inside_torch_matches_torch_optim_adam(torch, settings):
    from course_lib.checks import reference_update
    from course_lib.optimizers import Adam

    ours, theirs = torch_bridge.network(seed=1), torch_bridge.network(seed=1)
    bridge = torch_bridge.course_optimizer(ours.parameters(), reference_update("adam_update"), like=Adam(**settings))
    adam = torch.optim.Adam(theirs.parameters(), **settings)
    generator = torch.Generator().manual_seed(0)
    for _ in range(30):
        _random_grads(torch, theirs, generator)
        for p, q in zip(ours.parameters(), theirs.parameters()):
            p.grad = q.grad.clone()
        bridge.step()
        adam.step()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert float((p - q).detach().abs().max() / q.detach().abs().max()) < 1e-13
    assert int(bridge.state[ours[0].weight]["step"]) == 30


@pytest.mark.torch
def test_the_bridge_keeps_torchs_groups_skips_missing_gradients_and_maximizes(torch):
    from course_lib.checks import reference_update
    from course_lib.optimizers import SGD

    model = torch_bridge.network(seed=0)
    update = reference_update("sgd_update")
    bridge = torch_bridge.course_optimizer([{"params": model[0].parameters(), "lr": 0.5},
                                            {"params": model[3].parameters(), "maximize": True}], update,
                                           like=SGD(lr=0.1))
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    model[1].weight.grad = None  # LayerNorm is not in any group; and 3.bias gets no gradient:
    model[3].bias.grad = None
    bridge.step()
    after = dict(model.named_parameters())
    first = dict(zip([n for n, _ in model.named_parameters()], before))
    assert torch.allclose(after["0.weight"], first["0.weight"] - 0.5)
    assert torch.allclose(after["3.weight"], first["3.weight"] + 0.1), "maximize climbs"
    assert torch.equal(after["3.bias"], first["3.bias"]) and model[3].bias not in bridge.state
    assert torch.equal(after["1.weight"], first["1.weight"])
    assert bridge.param_groups[0]["lr"] == 0.5 and bridge.param_groups[1]["lr"] == 0.1


@pytest.mark.torch
def test_the_bridges_state_dict_resumes_the_same_run(torch):
    from course_lib.checks import reference_update
    from course_lib.optimizers import Adam

    update = reference_update("adam_update")
    generator = torch.Generator().manual_seed(5)
    gradients = [[torch.randn(p.shape, generator=generator, dtype=torch.float64)
                  for p in torch_bridge.network().parameters()] for _ in range(6)]

    def run(model, optimizer, steps):
        for grads in steps:
            for p, g in zip(model.parameters(), grads):
                p.grad = g.clone()
            optimizer.step()

    whole = torch_bridge.network(seed=2)
    run(whole, torch_bridge.course_optimizer(whole.parameters(), update, like=Adam(lr=0.01)), gradients)
    half = torch_bridge.network(seed=2)
    optimizer = torch_bridge.course_optimizer(half.parameters(), update, like=Adam(lr=0.01))
    run(half, optimizer, gradients[:3])
    saved = torch_bridge.saved_and_loaded({"model": half.state_dict(), "optimizer": optimizer.state_dict()})
    resumed = torch_bridge.network(seed=9)
    resumed.load_state_dict(saved["model"])
    again = torch_bridge.course_optimizer(resumed.parameters(), update, like=Adam(lr=0.01))
    again.load_state_dict(saved["optimizer"])
    run(resumed, again, gradients[3:])
    assert all(torch.equal(p, q) for p, q in zip(whole.parameters(), resumed.parameters()))


@pytest.mark.torch
def test_a_broken_update_stops_step_with_what_and_where(torch):
    from course_lib.checks import CheckFailed
    from course_lib.optimizers import SGD

    def sgd_update(param, grad, state, lr=1e-3, weight_decay=0.0):
        return param - lr * grad  # the state is missing

    model = torch_bridge.network(seed=0)
    optimizer = torch_bridge.course_optimizer(model.parameters(), sgd_update, like=SGD(lr=0.1))
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    with pytest.raises(CheckFailed, match=r"(?s)sgd_update returned only a NumPy array.*update 1 of parameter 1 of "
                                          r"group 1 \(shape \(32, 64\)\)"):
        optimizer.step()
    with pytest.raises(TypeError, match="like must be an optimizer"):
        torch_bridge.course_optimizer(model.parameters(), sgd_update, like="SGD")


# --- the training loop and its slips ------------------------------------------------------------------

def _sgd_run(torch, digits, **options):
    model = torch_bridge.network(seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    return model, torch_bridge.train(model, optimizer, digits, epochs=2, scheduler=scheduler, **options)


@pytest.mark.torch
def test_train_records_every_update_and_epoch(torch, digits):
    _, run = _sgd_run(torch, digits, label="plain", watch=lambda m: 1.0)
    assert len(run.update_losses) == len(run.update_lrs) == len(run.watched) == 2 * 43
    assert np.all(run.update_lrs[:43] == 0.05) and np.all(run.update_lrs[43:] == 0.025)
    assert len(run.val_losses) == 3 and run.val_losses[-1] < run.val_losses[0] / 5 and run.warnings == ()
    assert run.diverged is None and repr(run).startswith("Run(plain: 86 updates, val loss")


@pytest.mark.torch
def test_the_slips_do_what_the_lesson_says(torch, digits):
    _, right = _sgd_run(torch, digits)
    _, forgotten = _sgd_run(torch, digits, zero_grad=False)
    assert forgotten.update_losses[42] > 2 * forgotten.update_losses[0] > 2 * right.update_losses[42]
    _, first = _sgd_run(torch, digits, scheduler_first=True)
    assert np.all(first.update_lrs[:43] == 0.025) and "before `optimizer.step()`" in first.warnings[0]


@pytest.mark.torch
def test_a_resumed_run_sees_the_data_of_the_uninterrupted_one_and_fixed_batches_are_used_as_given(torch, digits):
    model, whole = _sgd_run(torch, digits)
    half_model = torch_bridge.network(seed=0)
    optimizer = torch.optim.SGD(half_model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    torch_bridge.train(half_model, optimizer, digits, epochs=1, scheduler=scheduler)
    rest = torch_bridge.train(half_model, optimizer, digits, epochs=1, scheduler=scheduler, first_epoch=1)
    assert np.array_equal(rest.update_losses, whole.update_losses[43:])
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), half_model.parameters()))

    batches = [np.arange(10), np.arange(10, 30)]
    fixed = torch_bridge.train(torch_bridge.network(), torch.optim.SGD(torch_bridge.network().parameters(), lr=0.1),
                               digits, epochs=3, batches=batches)
    assert len(fixed.update_losses) == 6


@pytest.mark.torch
def test_a_run_that_blows_up_stops_and_says_where(torch, digits):
    model = torch_bridge.network(seed=0)
    run = torch_bridge.train(model, torch.optim.SGD(model.parameters(), lr=1e6), digits, epochs=3)
    assert run.diverged and run.diverged.startswith("diverged at update") and len(run.update_losses) < 3 * 43
    assert "diverged" in repr(run)


@pytest.mark.torch
@pytest.mark.parametrize("name, value", [("epochs", -1), ("batch_size", 0), ("seed", 1.0), ("first_epoch", -2)])
def test_bad_training_settings_are_refused(torch, digits, name, value):
    model = torch_bridge.network()
    with pytest.raises(ValueError, match=name):
        torch_bridge.train(model, torch.optim.SGD(model.parameters()), digits, **{"epochs": 1, name: value})


# --- names and tensors, and the four calls ---------------------------------------------------------

@pytest.mark.torch
def test_named_shapes_and_parameter_groups_translate_names_and_tensors(torch):
    model = torch_bridge.network(seed=0)
    shapes = torch_bridge.named_shapes(model)
    assert shapes[:3] == [("0.weight", (32, 64)), ("0.bias", (32,)), ("1.weight", (32,))]
    groups = torch_bridge.parameter_groups(model, [{"params": ["0.weight", "3.weight"], "weight_decay": 0.1},
                                                   {"params": ["1.bias"], "weight_decay": 0.0, "name": "spared"}])
    assert groups[0]["params"][0] is model[0].weight and groups[1]["name"] == "spared"
    optimizer = torch.optim.AdamW(groups)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    with pytest.raises(ValueError, match="names parameters the model does not have: \\['fc.weight'\\]"):
        torch_bridge.parameter_groups(model, [{"params": ["fc.weight"]}])
    with pytest.raises(ValueError, match="set"):
        torch_bridge.parameter_groups(model, [{"params": {"0.weight"}}])
    with pytest.raises(ValueError, match="must be a dict with a 'params' list"):
        torch_bridge.parameter_groups(model, ["0.weight"])


@pytest.mark.torch
def test_weight_decay_groups_decay_exactly_the_matrices(torch):
    model = torch_bridge.network(seed=0)
    decayed, spared = torch_bridge.weight_decay_groups(model, 0.2)
    assert [p.ndim for p in decayed["params"]] == [2, 2] and decayed["weight_decay"] == 0.2
    assert all(p.ndim == 1 for p in spared["params"]) and spared["weight_decay"] == 0.0
    (everything,) = torch_bridge.weight_decay_groups(model, 0.2, spare=False)
    assert len(everything["params"]) == 6
    with pytest.raises(ValueError, match="weight_decay"):
        torch_bridge.weight_decay_groups(model, -0.1)


@pytest.mark.torch
def test_the_four_calls_with_the_right_loop_give_trains_run(torch, digits):
    batches = [np.arange(0, 40), np.arange(40, 100), np.arange(100, 130)]

    def setup():
        model = torch_bridge.network(seed=0)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        return model, optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)

    model, optimizer, scheduler = setup()
    calls = torch_bridge.loop_callbacks(model, optimizer, digits, scheduler)
    losses = []
    for _ in range(2):
        for batch in batches:
            calls["zero_grad"]()
            losses.append(calls["backward"](batch))
            calls["step"]()
        calls["scheduler_step"]()
    twin, twin_optimizer, twin_scheduler = setup()
    run = torch_bridge.train(twin, twin_optimizer, digits, epochs=2, batches=batches, scheduler=twin_scheduler)
    assert losses == run.update_losses.tolist()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), twin.parameters()))
    assert torch_bridge.evaluate(model, digits) == (run.val_losses[-1], run.val_accuracies[-1])
    torch_bridge.loop_callbacks(model, optimizer, digits)["scheduler_step"]()  # no scheduler: nothing


@pytest.mark.torch
def test_plot_losses_draws_the_average_over_the_raw_losses(torch, digits):
    _, run = _sgd_run(torch, digits, label="a run")
    ax = torch_bridge.plot_losses([run], smooth=10)
    thin, thick = ax.get_lines()
    assert len(thin.get_xdata()) == 86 and len(thick.get_xdata()) == 77 and thick.get_label() == "a run"
    assert ax.get_yscale() == "log"


# --- the explorer -----------------------------------------------------------------------------------

def shown_picture(explorer):
    match = re.fullmatch(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)">', explorer.picture.value)
    assert match, explorer.picture.value[:80]
    return base64.b64decode(match.group(1)), html.unescape(match.group(2))


@pytest.fixture(scope="module")
def explorer(torch):
    return torch_bridge.explore(epochs=2)


@pytest.mark.torch
def test_the_explorer_shows_both_runs_in_its_picture(explorer):
    from PIL import Image

    png, alt = shown_picture(explorer)
    assert png == explorer.png and Image.open(io.BytesIO(png)).size[0] > 600 and alt == explorer.caption
    assert alt.startswith("optimizer=SGD with momentum; lr=0.05; weight_decay=0.01; epochs=2; forget_zero_grad=False")
    right, same = explorer.runs
    assert right.label == "the right loop" and np.array_equal(right.update_losses, same.update_losses)


@pytest.mark.torch
def test_a_control_reruns_with_the_slips_and_a_bad_value_is_explained(explorer):
    explorer.controls["forget_zero_grad"].value = True
    right, slipped = explorer.runs
    assert slipped.label == "with the slips: no zero_grad" and explorer.settings.forget_zero_grad
    assert not np.array_equal(right.update_losses, slipped.update_losses)
    explorer.controls["optimizer"].value = "AdamW"
    explorer.controls["scheduler_first"].value = True
    assert "scheduler first" in explorer.runs[1].label and explorer.runs[1].update_lrs[0] == 0.05
    explorer.controls["forget_zero_grad"].value = False
    explorer.controls["scheduler_first"].value = False
    explorer.controls["decay_everything"].value = True
    explorer.controls["weight_decay"].value = 3.0
    assert explorer.runs[1].watched[-1] < explorer.runs[0].watched[-1]
    explorer.set(epochs=1)
    with pytest.raises(ValueError, match="epochs must be at most 20"):
        explorer.set(epochs=21)
    with pytest.raises(ValueError, match="unknown settings"):
        explorer.set(momentum=0.5)
    explorer._on_control("lr")  # a control's current value is valid: nothing to explain
    assert explorer.problem.value == "" and explorer.settings.epochs == 1


@pytest.mark.torch
@pytest.mark.parametrize("settings, error", [({"optimizer": "Adagrad"}, ValueError), ({"lr": 0}, ValueError),
                                             ({"weight_decay": -1}, ValueError), ({"epochs": 0}, ValueError),
                                             ({"forget_zero_grad": 1}, ValueError), ({"colour": "red"}, TypeError)])
def test_bad_explorer_settings_are_refused(torch, settings, error):
    with pytest.raises(error):
        torch_bridge.explore(**settings)


# --- the lesson's claims, measured ------------------------------------------------------------------

@pytest.mark.torch
def test_sparing_biases_and_layernorm_matters_only_at_a_large_weight_decay(torch, digits):
    def final_loss(decay, spare):
        model = torch_bridge.network(seed=0)
        optimizer = torch.optim.AdamW(torch_bridge.weight_decay_groups(model, decay, spare=spare), lr=0.01)
        return torch_bridge.train(model, optimizer, digits, epochs=10).val_losses[-1]

    small = final_loss(0.01, True), final_loss(0.01, False)
    large = final_loss(3.0, True), final_loss(3.0, False)
    assert abs(small[0] - small[1]) < 0.1 * small[0]
    assert large[1] > 3 * large[0]
