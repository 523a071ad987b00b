"""One optimizer step on a million float64 parameters: course_lib against torch.optim.

torch runs its single-tensor CPU path (``foreach=False``), the closest to course_lib's
one-array-at-a-time NumPy code. NumPy's element-wise kernels use one thread, so torch is timed
twice: with its default thread count and with ``torch.set_num_threads(1)``. Both sides take one
step before the timing starts, so what is timed is a steady-state step (SGD's first step takes
another branch), and their samples alternate so that a busy machine slows both alike. The ratio
is course_lib's best time over torch's; the goal is at most 1.0.

    python -m bench.optimizers [--size N] [--repeats R]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np

from course_lib.optimizers import SGD, TORCH_FORMS, Adam, RMSprop

try:
    import torch
except ModuleNotFoundError:
    torch = None

CONFIGURATIONS = [cls() for cls in TORCH_FORMS] + [SGD(momentum=0.9), Adam(amsgrad=True), RMSprop(centered=True)]


@dataclasses.dataclass(frozen=True)
class Timing:
    best: float
    median: float

    def __str__(self) -> str:
        return f"{1e3 * self.best:7.2f} ({1e3 * self.median:6.2f})"


def time_in_turns(calls: dict, repeats: int) -> dict[str, Timing]:
    """Time each call ``repeats`` times, taking the calls in turn."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return {name: Timing(min(times), statistics.median(times)) for name, times in samples.items()}


def course_lib_step(optimizer, params, grads):
    _, state = optimizer.step(params, grads, optimizer.init(params))
    return lambda: optimizer.step(params, grads, state)


def torch_step(optimizer, params, grads):
    hyperparameters = {f.name: getattr(optimizer, f.name) for f in dataclasses.fields(optimizer) if f.init}
    tensor = torch.tensor(params, requires_grad=True)
    tensor.grad = torch.tensor(grads)
    torch_optimizer = getattr(torch.optim, type(optimizer).__name__)([tensor], foreach=False, **hyperparameters)
    torch_optimizer.step()
    return torch_optimizer.step


def measure(size: int, repeats: int) -> list[dict[str, Timing]]:
    rng = np.random.default_rng(0)
    params, grads = rng.normal(size=size), rng.normal(size=size)
    rows = []
    for optimizer in CONFIGURATIONS:
        calls = {"course_lib": course_lib_step(optimizer, params, grads)}
        if torch is not None:
            calls["torch"] = torch_step(optimizer, params, grads)
        rows.append(time_in_turns(calls, repeats))
    if torch is not None:
        default_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for optimizer, row in zip(CONFIGURATIONS, rows):
                calls = {"course_lib": course_lib_step(optimizer, params, grads),
                         "torch, 1 thread": torch_step(optimizer, params, grads)}
                one_thread = time_in_turns(calls, repeats)
                row["torch, 1 thread"] = one_thread["torch, 1 thread"]
                row["course_lib"] = min(row["course_lib"], one_thread["course_lib"], key=lambda t: t.best)
        finally:
            torch.set_num_threads(default_threads)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.optimizers", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="number of float64 parameters")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps per optimizer and side")
    args = parser.parse_args(argv)

    rows = measure(args.size, args.repeats)
    print(f"one step on {args.size:,} float64 parameters: milliseconds, best (median) of {args.repeats}")
    if torch is None:
        print("torch is not installed: course_lib alone")
    else:
        print(f"torch {torch.__version__} with foreach=False; 'torch' runs on its default "
              f"{torch.get_num_threads()} threads; ratio = course_lib best / torch best")
    sides = list(rows[0])
    header = f"{'optimizer':<32}" + "".join(f"{side:>18}" for side in sides)
    if torch is not None:
        header += f"{'ratio':>8}{'ratio, 1 thread':>17}"
    print(header)
    for optimizer, row in zip(CONFIGURATIONS, rows):
        line = f"{optimizer.label:<32}" + "".join(f"{str(row[side]):>18}" for side in sides)
        if torch is not None:
            line += f"{row['course_lib'].best / row['torch'].best:>8.2f}"
            line += f"{row['course_lib'].best / row['torch, 1 thread'].best:>17.2f}"
        print(line)


if __name__ == "__main__":
    main()
