"""Where the checks' random cases come from: the same every time for learners, fresh for grading.

A learner who runs a check twice sees the same cases, so a message can be followed up. The
autograder instead draws every case from a salt chosen when it grades (:func:`fresh_cases`):
the cases are as varied, but a student who reads the source notebooks cannot know them, so no
table of precomputed answers can pass.
"""

from __future__ import annotations

import contextlib

import numpy as np

_salt: int | None = None


def case_seed(seed: int) -> int:
    """``seed`` itself, or while :func:`fresh_cases` is active a seed derived from it and the salt."""
    if _salt is None:
        return seed
    return int(np.random.SeedSequence([_salt, seed]).generate_state(1)[0] >> 1)


def case_rng(seed: int) -> np.random.Generator:
    """The generator for the cases numbered ``seed`` (see :func:`case_seed`)."""
    return np.random.default_rng(case_seed(seed))


@contextlib.contextmanager
def fresh_cases(salt: int):
    """Draw every check's cases from ``salt`` (a non-negative integer) until the block ends."""
    global _salt
    previous, _salt = _salt, int(salt)
    try:
        yield
    finally:
        _salt = previous
