"""Verdicts outside the student's process: the data-only channel, the stand-ins, the fresh cases.

The stand-in tests run real answer processes (sandboxed when the machine allows) on small
notebooks built here, and check that a check sees through a stand-in exactly what it would see
calling the function itself: results, exceptions with the student's line, writes into the
inputs, aliasing, generators, callbacks, random generator state.
"""

from __future__ import annotations

import os

import nbformat
import numpy as np
import pytest

from autograder import program as programs
from autograder import verdicts, wire
from course_lib import checks

pytestmark = pytest.mark.grading


# --- the wire format ----------------------------------------------------------------------

def _round_trip(value, inputs=()):
    read, write = os.pipe()
    try:
        encoder = wire.Encoder(callbacks=[])
        wire.write_frame(write, encoder.header(value=encoder.encode(value)), encoder.blobs)
        header, blobs = wire.read_frame(read, deadline=None)
        return wire.Decoder(header, blobs, make_callback=lambda c: f"callback {c}").decode(header["value"])
    finally:
        os.close(read)
        os.close(write)


def test_values_cross_with_their_types_identity_and_aliasing():
    array = np.arange(6.0).reshape(2, 3)
    rng = np.random.default_rng(7)
    sent = {"a": array, "same": array, "row": array[1], "f32": np.float32(1.5), "t": (1, 2.5, None, True),
            "inf": float("inf"), "rng": rng, "r": range(2, 9, 3), "s": slice(1, None), "fn": len}
    got = _round_trip(sent)
    assert got["same"] is got["a"] and np.array_equal(got["a"], array)
    assert np.shares_memory(got["row"], got["a"]) and np.array_equal(got["row"], [3.0, 4.0, 5.0])
    assert type(got["f32"]) is np.float32 and got["t"] == (1, 2.5, None, True) and got["inf"] == float("inf")
    assert got["rng"].random() == rng.random()
    assert got["r"] == range(2, 9, 3) and got["s"] == slice(1, None) and got["fn"] == "callback 0"


def test_objects_arrive_as_opaque_placeholders_never_as_objects():
    got = _round_trip([object(), np.array(["text"]), np.array([{}], dtype=object)])
    assert all(isinstance(item, wire.Opaque) for item in got)


@pytest.mark.parametrize("header", [
    b'{"value": {"array": 0}, "arrays": [{"blob": 5}], "blobs": []}',
    b'{"value": {"dict": [[{"list": []}, 1]]}, "blobs": []}',
    b'{"value": {"rng": 0}, "rngs": [{"bit_generator": "os.system"}], "blobs": []}',
    b'{"value": {"eval": "1"}, "blobs": []}',
    b'{"value": ' + b'{"list": [' * 60 + b']}' * 60 + b', "blobs": []}',
])
def test_malformed_frames_are_refused(header):
    with pytest.raises(wire.WireError):
        value = __import__("json").loads(header)
        wire.Decoder(value, []).decode(value["value"])


def test_a_frame_over_the_limit_is_refused_without_reading_it():
    read, write = os.pipe()
    try:
        os.write(write, wire.HEADER.pack(wire.MAX_FRAME_BYTES + 1))
        with pytest.raises(wire.WireError, match="over the limit"):
            wire.read_frame(read, deadline=None)
    finally:
        os.close(read)
        os.close(write)


# --- stand-ins ------------------------------------------------------------------------------

def _notebook(answer: str, tests: dict[str, str], extra_cells=()):
    """A tiny source notebook: setup, one answer cell, some student cells, test cells."""
    nb = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell("import numpy as np\nfrom course_lib.optimizers import SGD")
    answer_cell = nbformat.v4.new_code_cell(answer)
    answer_cell.metadata.nbgrader = {"grade": False, "solution": True, "locked": False, "grade_id": "answer",
                                     "schema_version": 3}
    nb.cells = [setup, *[nbformat.v4.new_code_cell(code) for code in extra_cells], answer_cell]
    for grade_id, code in tests.items():
        cell = nbformat.v4.new_code_cell(code)
        cell.metadata.nbgrader = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id,
                                  "points": 1, "schema_version": 3}
        nb.cells.append(cell)
    return nb


def _judge(source, submitted=None, **kwargs):
    report = verdicts.judge(source, submitted or source, budget=verdicts.Budget(cell_seconds=20), **kwargs)
    return {v.grade_id: v for v in report.verdicts}, report


MOMENTUM_ANSWER = '''
def momentum_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):
    step = state["step"] + 1
    grad = grad + weight_decay * param
    buffer = state["momentum_buffer"]
    if momentum:
        buffer = grad if step == 1 else momentum * buffer + (1 - dampening) * grad
        grad = buffer
    return param - lr * grad, {"step": step, "momentum_buffer": np.array(buffer)}
'''


def test_a_correct_answer_passes_the_real_checks_through_stand_ins():
    tests = {"visible": "from course_lib.checks import check_update\n"
                        "check_update(momentum_update, SGD(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1))"}
    verdict, _ = _judge(_notebook(MOMENTUM_ANSWER, tests))
    assert verdict["visible"].passed, verdict["visible"].text


@pytest.mark.parametrize("change, words", [
    ("    param -= lr * grad\n    return param, {**state, 'step': state['step'] + 1}",
     "changed its input param in place"),
    ("    raise ZeroDivisionError('no')", "sgd_update raised ZeroDivisionError: no"),
    ("    return param, {**state, 'step': state['step'] + 1}", "First difference"),
])
def test_wrong_answers_get_the_same_diagnosis_as_in_a_kernel(change, words):
    answer = ("def sgd_update(param, grad, state, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0):\n"
              + change + "\n")
    tests = {"visible": "from course_lib.checks import check_update\ncheck_update(sgd_update, SGD(lr=0.1))"}
    verdict, _ = _judge(_notebook(answer, tests))
    assert not verdict["visible"].passed and words in verdict["visible"].text, verdict["visible"].text


def test_returning_an_input_is_seen_as_the_same_object():
    answer = "def sgd_update(param, grad, state, lr=1e-3):\n    return param, state\n"
    tests = {"identity": "p = np.ones(3)\nnew, s = sgd_update(p, np.ones(3), {'step': 0})\n"
                         "assert new is p and np.shares_memory(new, p)"}
    verdict, _ = _judge(_notebook(answer, tests))
    assert verdict["identity"].passed, verdict["identity"].text


def test_hidden_failures_show_grader_words_only():
    answer = "def sgd_update(param, grad, state, lr=1e-3):\n    raise ValueError('SECRET ' + repr(param))\n"
    tests = {"hidden": "### BEGIN HIDDEN TESTS\nsgd_update(np.array([42.0]), np.ones(1), {'step': 0})\n"
                       "### END HIDDEN TESTS"}
    verdict, _ = _judge(_notebook(answer, tests))
    assert not verdict["hidden"].passed
    assert verdict["hidden"].text == "A hidden test failed (hidden)."


def test_the_reference_and_lesson_variables_are_not_there_and_the_feedback_says_so():
    answer = "def sgd_update(param, grad, state, lr=1e-3):\n    return SGD(lr=lr).step(param, grad, state)\n"
    lesson = "helper_scale = 2.0"
    uses_lesson = "def sgd_update(param, grad, state, lr=1e-3):\n    return param * helper_scale, state\n"
    test = {"visible": "sgd_update(np.ones(2), np.ones(2), {'step': 0, 'momentum_buffer': None})"}
    verdict, _ = _judge(_notebook(answer, test))
    assert "NameError: name 'SGD' is not defined" in verdict["visible"].text
    assert "SGD comes from the lesson's imports, which grading cannot offer" in verdict["visible"].text
    source = _notebook(uses_lesson, test, extra_cells=[lesson])
    program = programs.build(source, source, len(source.cells) - 1)
    assert program.lesson_names == {"helper_scale": "cell 2"}
    verdict, _ = _judge(source)
    assert "helper_scale is defined in cell 2, a lesson cell that grading does not run" in verdict["visible"].text


def test_a_helper_in_a_students_own_cell_is_run_but_not_their_experiments():
    source = _notebook(MOMENTUM_ANSWER.replace("momentum_update", "sgd_update"), {"visible": "pass"})
    submitted = _notebook("def sgd_update(param, grad, state, lr=1e-3):\n    return shift(param, lr), state\n",
                          {"visible": "new, _ = sgd_update(np.ones(2), np.ones(2), {'step': 0})\n"
                                      "assert np.allclose(new, 0.5)"},
                          extra_cells=["def shift(p, lr):\n    return p - 0.5\nwhile True:\n    pass"])
    program = programs.build(source, submitted, len(submitted.cells) - 1)
    student_piece = next(p for p in program.pieces if p.label == "cell 2")
    assert student_piece.statements == (0,)  # the def, not the endless loop


def test_cases_are_fresh_at_grading_and_fixed_for_learners():
    assert checks.case_seed(3) == 3
    with checks.fresh_cases(1):
        first = checks.case_seed(3)
    with checks.fresh_cases(2):
        second = checks.case_seed(3)
    assert first != second and first != 3


def test_an_answer_that_memorised_the_learners_cases_fails_the_graders():
    """Record the reference's outputs for the unsalted cases, then replay them: a lookup table."""
    from course_lib.optimizers import Adagrad

    table = {}
    reference = checks.reference_update("adagrad_update")

    def recording(param, grad, state, **kwargs):
        result = reference(param, grad, state, **kwargs)
        table[(param.tobytes(), grad.tobytes(), state["step"])] = result
        return result

    recording.__name__ = "adagrad_update"
    checks.check_update(recording, Adagrad(lr=0.1))
    rows = ",".join(f"({k!r}, {v[0].tolist()!r}, {v[1]['sum'].tolist()!r})" for k, v in list(table.items())[:400])
    answer = (f"TABLE = {{(a, b, c): (np.array(p), {{'step': c + 1, 'sum': np.array(s)}}) for (a, b, c), p, s in [{rows}]}}\n"
              "def adagrad_update(param, grad, state, lr=1e-2, lr_decay=0.0, weight_decay=0.0,\n"
              "                   initial_accumulator_value=0.0, eps=1e-10):\n"
              "    return TABLE[(param.tobytes(), grad.tobytes(), state['step'])]\n")
    tests = {"visible": "from course_lib.checks import check_update\n"
                        "from course_lib.optimizers import Adagrad\ncheck_update(adagrad_update, Adagrad(lr=0.1))"}
    nb = _notebook(answer, tests)
    learner_view, _ = _judge(nb, salt=None)
    assert not learner_view["visible"].passed  # graded with a fresh salt: the table misses


@pytest.mark.parametrize("result, words", [
    ("np.zeros(3_000_000)", "sent the grader something it refuses (a message of"),
    ("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "cannot be sent to the grader"),
])
def test_a_result_too_big_to_send_is_a_clear_failure_and_the_grader_stays_small(result, words):
    answer = f"def sgd_update(param, grad, state, lr=1e-3):\n    return {result}\n"
    tests = {"big": "sgd_update(np.ones(2), np.ones(2), {'step': 0})"}
    verdict, _ = _judge(_notebook(answer, tests))
    assert not verdict["big"].passed and words in verdict["big"].text, verdict["big"].text


def test_an_exception_of_the_students_leaves_the_process_answering_the_next_call():
    answer = ("def sgd_update(param, grad, state, lr=1e-3):\n"
              "    if lr == 0.5:\n        raise TimeoutError('mine, not the graders')\n"
              "    return param - lr * grad, state\n")
    tests = {"visible": "try:\n    sgd_update(np.ones(1), np.ones(1), {}, lr=0.5)\nexcept TimeoutError as error:\n"
                        "    assert 'mine' in str(error)\n"
                        "new, _ = sgd_update(np.ones(1), np.ones(1), {}, lr=0.25)\nassert new[0] == 0.75"}
    verdict, _ = _judge(_notebook(answer, tests))
    assert verdict["visible"].passed, verdict["visible"].text


@pytest.mark.skipif(not __import__("autograder.sandbox").sandbox.isolation_available(),
                    reason="hiding installed packages needs the isolated sandbox (root on Linux)")
def test_installed_optimizers_are_not_there_for_an_answer():
    """torch and scikit-learn implement the optimizers: their code is not in the answer process (an
    emptied package directory imports as an empty namespace, so the test asks for their modules)."""
    answer = ("def sgd_update(param, grad, state, lr=1e-3):\n"
              "    found = []\n"
              "    for name in ('torch.optim', 'sklearn.neural_network', 'scipy.optimize', 'matplotlib.pyplot', 'numpy'):\n"
              "        try:\n"
              "            __import__(name)\n"
              "            found.append(name)\n"
              "        except ImportError:\n"
              "            pass\n"
              "    return found\n")
    tests = {"visible": "assert sgd_update(None, None, None) == ['matplotlib.pyplot', 'numpy'], sgd_update(None, None, None)"}
    verdict, _ = _judge(_notebook(answer, tests))
    assert verdict["visible"].passed, verdict["visible"].text
