"""course_lib.schedules: torch.optim.lr_scheduler's values to round-off, use in training, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import schedules, training
from course_lib.functions import get_surface
from course_lib.optimizers import SGD

STEPS = 3000

CASES = [
    (schedules.StepLR(0.1, step_size=700, gamma=0.5), "StepLR", dict(step_size=700, gamma=0.5)),
    (schedules.ExponentialLR(0.1, gamma=0.999), "ExponentialLR", dict(gamma=0.999)),
    (schedules.CosineAnnealingLR(0.1, T_max=STEPS, eta_min=1e-4), "CosineAnnealingLR",
     dict(T_max=STEPS, eta_min=1e-4)),
    (schedules.CosineAnnealingLR(0.1, T_max=800), "CosineAnnealingLR", dict(T_max=800)),
    (schedules.CosineAnnealingWarmRestarts(0.1, T_0=100, T_mult=2, eta_min=1e-3),
     "CosineAnnealingWarmRestarts", dict(T_0=100, T_mult=2, eta_min=1e-3)),
    (schedules.CosineAnnealingWarmRestarts(0.1, T_0=250), "CosineAnnealingWarmRestarts", dict(T_0=250)),
    (schedules.LinearLR(0.1, start_factor=0.01, total_iters=500), "LinearLR",
     dict(start_factor=0.01, total_iters=500)),
    (schedules.OneCycleLR(0.1, total_steps=STEPS), "OneCycleLR", dict(max_lr=0.1, total_steps=STEPS)),
    (schedules.OneCycleLR(0.1, total_steps=STEPS, pct_start=0.25, anneal_strategy="linear", div_factor=10,
                          final_div_factor=100), "OneCycleLR",
     dict(max_lr=0.1, total_steps=STEPS, pct_start=0.25, anneal_strategy="linear", div_factor=10,
          final_div_factor=100)),
]


def _torch_lrs(name, settings, steps=STEPS, base=0.1):
    torch = pytest.importorskip("torch", reason="torch is the conformance oracle: pip install torch==2.13.0")
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=base)
    if name == "SequentialLR":
        warm = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.001, total_iters=200)
        decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps - 200, eta_min=1e-5)
        scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [warm, decay], milestones=[200])
    elif name == "InverseSqrtLR":
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: min((epoch + 1) / 400, ((epoch + 1) / 400) ** -0.5))
    else:
        if name == "OneCycleLR":
            settings = {**settings, "cycle_momentum": False}
        scheduler = getattr(torch.optim.lr_scheduler, name)(optimizer, **settings)
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return np.array(lrs)


@pytest.mark.torch
@pytest.mark.parametrize("schedule, name, settings", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_equals_torch_step_by_step(schedule, name, settings):
    ours = np.array([schedule(t) for t in range(1, STEPS + 1)])
    np.testing.assert_allclose(ours, _torch_lrs(name, settings), rtol=1e-12, atol=1e-15)


@pytest.mark.torch
def test_warm_up_then_cosine_equals_torchs_sequential_lr():
    schedule = schedules.SequentialLR((schedules.LinearLR(0.1, start_factor=0.001, total_iters=200),
                                       schedules.CosineAnnealingLR(0.1, T_max=STEPS - 200, eta_min=1e-5)),
                                      milestones=(200,))
    ours = np.array([schedule(t) for t in range(1, STEPS + 1)])
    np.testing.assert_allclose(ours, _torch_lrs("SequentialLR", {}), rtol=1e-12, atol=1e-15)


@pytest.mark.torch
def test_inverse_square_root_equals_torchs_lambda_lr():
    schedule = schedules.InverseSqrtLR(0.1, warmup=400)
    ours = np.array([schedule(t) for t in range(1, STEPS + 1)])
    np.testing.assert_allclose(ours, _torch_lrs("InverseSqrtLR", {}), rtol=1e-12, atol=1e-15)
    assert max(ours) == pytest.approx(0.1) and int(np.argmax(ours)) == 399


def test_a_schedule_drives_training_minimize():
    surface = get_surface("bowl")
    schedule = schedules.StepLR(0.1, step_size=10, gamma=0.5)
    run = training.minimize(surface, SGD(lr=0.1), surface.start, steps=30, schedule=schedule)
    assert list(run.lrs[:11]) == [0.1] * 10 + [0.05]


@pytest.mark.parametrize("make, words", [
    (lambda: schedules.StepLR(0.1, step_size=0), "step_size must be a whole number >= 1"),
    (lambda: schedules.ExponentialLR(-0.1, gamma=0.9), "lr must be a number in [0, inf)"),
    (lambda: schedules.CosineAnnealingLR(0.1, T_max=1.5), "T_max must be a whole number"),
    (lambda: schedules.LinearLR(0.1, start_factor=0.0), "start_factor must be a number in (0, 1]"),
    (lambda: schedules.OneCycleLR(0.1, total_steps=100, anneal_strategy="cosine"), "anneal_strategy"),
    (lambda: schedules.SequentialLR((schedules.StepLR(0.1, 5),), milestones=(3,)), "one entry fewer"),
    (lambda: schedules.StepLR(0.1, 5)(0), "the update number"),
])
def test_bad_input_names_what_is_wrong(make, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        make()
