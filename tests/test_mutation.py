"""Mutation testing, CI-sized: mutants the tests kill today stay killed, and correct rewrites keep full marks.

Three exercises, a handful of mechanical mutants each (:mod:`bench.mutation`) that the visible
and hidden tests killed when this list was written, plus every correct rewrite of those
exercises (``bench/rewrites/``). A few random mutants more are graded too, and the ones that
survive are printed, not asserted on: closing those gaps is ongoing work. The full run is
``python -m bench.mutation --workers 2``.
"""

from __future__ import annotations

import pytest

from bench import mutation

pytestmark = pytest.mark.grading

KILLED_TODAY = {
    "adam_update": [
        "adam_update:2:constant:1 -> 0",
        "adam_update:3:negate:condition `decoupled_weight_decay` negated",
        "adam_update:6:in-place:`grad = grad + weight_decay * param` -> `grad += weight_decay * param`",
        "adam_update:9:drop-factor:`exp_avg / (1.0 - beta1 ** t)` -> left factor",
        "adam_update:10:arithmetic:** -> * in `beta2 ** t`",
        "adam_update:11:drop-call:`np.sqrt(v_hat)` -> `v_hat`",
    ],
    "momentum_update": [
        "momentum_update:1:in-place:`grad = grad + weight_decay * param` -> `grad += weight_decay * param`",
        "momentum_update:3:negate:condition `momentum == 0` negated",
        "momentum_update:5:negate:condition `step == 1` negated",
        "momentum_update:8:drop-term:`1 - dampening` -> left term",
        "momentum_update:9:drop-factor:`lr * buffer` -> right factor",
    ],
    "minibatches": [
        "minibatches:1:sign:`rng.permutation(n)` -> its negative",
        "minibatches:2:early-exit:break at the start of `for first in range(0, n, batch_size)`",
        "minibatches:2:loop-bounds:`range(0, n, batch_size)` -> `range(0, n - 1, batch_size)`",
        "minibatches:3:drop-term:`first + batch_size` -> right term",
    ],
}
RANDOM_PER_EXERCISE = 2


@pytest.fixture(scope="module")
def summaries():
    exercises = [e for e in mutation.load_exercises() if e.name in KILLED_TODAY]
    assert sorted(e.name for e in exercises) == sorted(KILLED_TODAY)
    ids = {i for listed in KILLED_TODAY.values() for i in listed}
    for exercise in exercises:
        ids |= {m.id for m in mutation.select_mutants(mutation.generate_mutants(exercise), RANDOM_PER_EXERCISE, seed=1)}
    return {s["exercise"]: s for s in mutation.run(exercises, mutant_ids=ids, workers=2)}


@pytest.mark.parametrize("exercise", sorted(KILLED_TODAY))
def test_the_solution_keeps_full_marks(summaries, exercise):
    baseline = summaries[exercise]["baseline"]
    assert not baseline["lost"] and not baseline["error"], baseline


@pytest.mark.parametrize("exercise", sorted(KILLED_TODAY))
def test_mutants_killed_today_are_killed_or_known_equivalent(summaries, exercise):
    graded = {m["id"]: m for m in summaries[exercise]["mutants"]}
    missing = [i for i in KILLED_TODAY[exercise] if i not in graded]
    assert not missing, f"no such mutant any more (did the solution change? update KILLED_TODAY): {missing}"
    alive = [(i, graded[i]["status"], graded[i].get("diff")) for i in KILLED_TODAY[exercise]
             if graded[i]["status"] not in ("killed", "equivalent")]
    assert not alive, f"mutants the tests used to kill now keep full marks: {alive}"
    survivors = [m for m in summaries[exercise]["mutants"] if m["status"] == "surviving"]
    for m in survivors:  # reported, not asserted: these are the gaps being closed
        print(f"surviving mutant {m['id']}\n{m['diff']}")


@pytest.mark.parametrize("exercise", sorted(KILLED_TODAY))
def test_every_correct_rewrite_keeps_full_marks(summaries, exercise):
    rewrites = summaries[exercise]["rewrites"]
    assert len(rewrites) >= 2
    lost = [(r["name"], r["lost"], r["messages"], r["error"]) for r in rewrites if not r["full_marks"]]
    assert not lost, f"a test rejects a correct answer: {lost}"


def test_mutants_are_single_mechanical_changes_without_duplicates():
    operators = set()
    for exercise in mutation.load_exercises():
        if exercise.name not in ("momentum_update", "adam_update", "minibatches"):
            continue
        mutants = mutation.generate_mutants(exercise)
        assert len({m.source for m in mutants}) == len(mutants) == len({m.id for m in mutants})
        for m in mutants:
            changed = [line for line in m.diff.splitlines()[2:] if line.startswith(("-", "+"))]
            assert changed and sum(line.startswith("-") for line in changed) <= 1, m.id
        operators |= {m.operator for m in mutants}
    assert set(mutation.OPERATORS) - {"remove-copy", "drop-keyword", "min-max"} <= operators - {"default"}
    assert "default" in operators
