"""Self-checks for learners: compare their update functions with the reference, and explain in words.

A notebook exercise asks for one optimizer step on one NumPy array, in this form::

    def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                    weight_decay=0.0, amsgrad=False, decoupled_weight_decay=False):
        ...
        return new_param, new_state

``state`` is what the reference optimizer's ``init(param)`` returns (keys named as in torch);
the function returns a NEW parameter and a NEW state dict with the same keys, adds 1 to
``state["step"]``, and leaves its inputs untouched. The look-ahead exercise,
``sutskever_nesterov_update(param, grad_fn, state, lr, momentum)``, gets a gradient function
instead of a gradient. A visible test cell then calls::

    check_update(adam_update, Adam(lr=0.1, weight_decay=0.01))

which prints one line on success and otherwise raises :class:`CheckFailed` with a short
explanation: where the results first differ, by how much, and the name of the classic mistake
they match, with a hint (:data:`MISTAKES`). ``learner_optimizer(adam_update, like=Adam(lr=0.1))``
lets the learner's function train a real model. :func:`mistake_update` gives the wrong answers
that notebook and grader tests use as simulated learners (:func:`mistakes_for` lists those an
exercise's function can make), :func:`reference_update` the right one.
"""

from ._cases import case_rng, case_seed, fresh_cases
from ._calls import UPDATE_FUNCTIONS, CheckFailed, reference_step, update_function
from ._check import check_update
from ._compare import FLOOR, TOLERANCE, rel_error
from ._training import learner_optimizer
from . import capstone, descent, sampling  # noqa: F401  (they register the lessons' other exercises)
from . import schedule_checks  # noqa: F401  (lesson 13's schedules: warm-up + cosine, one-cycle)
from . import torch_checks  # noqa: F401  (lesson 15: parameter groups, the training loop; torch only when run)
from .mistakes import (EXERCISE_MISTAKES, MISTAKES, ExerciseMistake, Mistake, mistake_update, mistakes_for,
                       register_exercise_mistakes)


def reference_update(name: str):
    """The correct update function in the learner's signature, e.g. ``reference_update("adam_update")``.

    ``name`` is an exercise's function name or a class of :mod:`course_lib.optimizers`.
    """
    return update_function(name, reference_step)


__all__ = ["CheckFailed", "check_update", "learner_optimizer", "MISTAKES", "Mistake", "mistake_update",
           "EXERCISE_MISTAKES", "ExerciseMistake", "register_exercise_mistakes",
           "mistakes_for", "reference_update", "rel_error", "TOLERANCE", "FLOOR", "UPDATE_FUNCTIONS",
           "case_rng", "case_seed", "fresh_cases"]
