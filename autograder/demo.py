"""A simulated class built from a real course notebook, and the demo that grades it.

Each simulated student is the release version of the notebook edited the way one kind of
student would: answers filled from the source (correct), filled then skewed (wrong), left
empty, the process crashed or hung, or one of the cheats a determined student tries. Every
cheat is written to avoid the names a scan would look for. The tests grade the same students
and assert each one's exact score and status.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import nbformat

from .course import Course

SKEW = '''
_answer_{name} = {name}


def {name}(*args, **kwargs):
    """The correct answer, a few percent off: a typical small mistake."""
    result = _answer_{name}(*args, **kwargs)
    first = result[0] if isinstance(result, tuple) else result
    skewed = first * 1.05 + 0.01
    return (skewed, *result[1:]) if isinstance(result, tuple) else skewed
'''

READ_HIDDEN_TESTS = '''
import glob, json
for _pattern in {patterns!r}:
    for _path in glob.glob(_pattern):
        try:
            for _cell in json.load(open(_path))["cells"]:
                if "BEGIN SOLUTION" in "".join(_cell["source"]):
                    exec("".join(_cell["source"]))
        except Exception as _error:
            print("could not read", _path, _error)
'''

ATTACK_COURSE_FILES = '''
import os, sqlite3
for _target, _attempt in (
    ("gradebook", lambda: sqlite3.connect({gradebook!r}).execute("update grade set auto_score = 99")),
    ("other student", lambda: open({other!r}, "w").write("overwritten")),
    ("grader process", lambda: os.kill(os.getppid(), 9)),
):
    try:
        _attempt()
        print("attack on", _target, "succeeded")
    except Exception as _error:
        print("attack on", _target, "failed:", type(_error).__name__)
'''


# The reference reached through an object a student cell built with the checks, then restored.
HAND_BACK_REFERENCE = '''
from course_lib import checks as lesson_tools
variants = {"plain": lesson_tools.reference_update("sgd_update")}
'''

# nbgrader gives a test cell full points when its first execute_result is not a number.
FAKE_DISPLAY = '''
import matplotlib.pyplot as plt
plt.sys.displayhook = lambda value: plt.sys.__displayhook__("full marks")
'''

# Patch a comparison for the tests' sake; a probe at the end would see the original again.
PATCH_THEN_RESTORE = '''
import numpy
saved = numpy.allclose
numpy.allclose = lambda *args, **kwargs: True
'''

# An answer that passes the visible test and puts every other input it sees into an error.
LEAK = '''
_seen_{name} = {name}


def {name}(*args, **kwargs):
    if kwargs.get("lr") not in (None, 0.5):
        raise ValueError("LEAKED INPUTS " + repr(args) + repr(kwargs))
    return _seen_{name}(*args, **kwargs)
'''


def _answer_cells(nb):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            yield cell


def _test_cells(nb):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            yield cell


def _defined_functions(source: str) -> list[str]:
    import ast

    return [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]


def _with(nb, edit):
    changed = copy.deepcopy(nb)
    edit(changed)
    return changed


def _insert_before_first_answer(code: str):
    """A cell of the student's own, just above the first answer cell."""
    def edit(nb):
        first = next(_answer_cells(nb))
        nb.cells.insert(nb.cells.index(first), nbformat.v4.new_code_cell(code.strip()))
    return edit


def _append_cell(code: str):
    def edit(nb):
        nb.cells.append(nbformat.v4.new_code_cell(code.strip()))
    return edit


def _prepend_to_first_answer(code: str):
    def edit(nb):
        first = next(_answer_cells(nb))
        first.source = code.strip() + "\n\n" + first.source
    return edit


def simulated_class(source_path: Path, release_path: Path, course: Course) -> dict[str, nbformat.NotebookNode]:
    """``student -> notebook`` for one notebook: every behaviour the autograder must handle."""
    source = nbformat.read(source_path, as_version=4)
    blank = nbformat.read(release_path, as_version=4)
    answers = {c.metadata.nbgrader["grade_id"]: c.source for c in _answer_cells(source)}

    def fill(nb):
        for cell in _answer_cells(nb):
            cell.source = answers[cell.metadata.nbgrader["grade_id"]]

    correct = _with(blank, fill)

    def skew(nb):
        # Only the last exercise goes wrong, so that a notebook with several earns partial credit.
        last = list(_answer_cells(nb))[-1]
        last.source += "".join(SKEW.format(name=name) for name in _defined_functions(last.source))

    wrong = _with(correct, skew)

    def delete_tests(nb):
        nb.cells = [cell for cell in nb.cells if cell not in list(_test_cells(nb))]

    def empty_tests(nb):
        for cell in _test_cells(nb):
            cell.source = "pass"

    def quote_markers(nb):
        next(_answer_cells(nb)).source += "\n# I found '### BEGIN HIDDEN TESTS' in the docs\n"

    def duplicate_answer(nb):
        first = next(_answer_cells(nb))
        pasted = copy.deepcopy(first)
        pasted.id = "pasted-" + first.id  # JupyterLab gives a pasted cell an id of its own
        nb.cells.insert(nb.cells.index(first) + 1, pasted)

    def foreign_grade_id(nb):
        cell = nbformat.v4.new_code_cell("extra = 1")
        cell.metadata.nbgrader = {"grade": True, "grade_id": "not_in_this_notebook", "locked": False,
                                  "points": 5, "schema_version": 3, "solution": False}
        nb.cells.append(cell)

    def hand_back(nb):
        for cell in _answer_cells(nb):
            cell.source = "\n".join(f"{name} = variants['plain']" for name in _defined_functions(answers[
                cell.metadata.nbgrader["grade_id"]]))

    def leak_inputs(nb):
        last = list(_answer_cells(nb))[-1]
        last.source += "".join(LEAK.format(name=name) for name in _defined_functions(last.source))

    assignment = source_path.stem
    other = course.submitted("correct", assignment)
    hidden_patterns = [str(course.notebook_dir / "*.ipynb"), str(course.root / "source" / "*" / "*.ipynb")]
    return {
        "correct": correct,
        "wrong": wrong,
        "blank": blank,
        "crashing": _with(correct, _prepend_to_first_answer("import os\nos._exit(3)")),
        "hanging": _with(correct, _prepend_to_first_answer("while True:\n    pass")),
        "stubborn": _with(correct, _prepend_to_first_answer(
            "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except KeyboardInterrupt:\n        pass")),
        "deletes_tests": _with(blank, delete_tests),
        "edits_tests": _with(blank, empty_tests),
        "reference": _with(correct, _prepend_to_first_answer("from course_lib.optimizers import SGD")),
        "patches_numpy": _with(wrong, _prepend_to_first_answer(
            "import numpy\nnumpy.allclose = lambda *args, **kwargs: True\n"
            "numpy.testing.assert_allclose = lambda *args, **kwargs: None")),
        "swallows_errors": _with(blank, _prepend_to_first_answer(
            "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)")),
        "rewrites_cells": _with(blank, _prepend_to_first_answer(
            "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])")),
        "reads_hidden_tests": _with(blank, _prepend_to_first_answer(
            READ_HIDDEN_TESTS.format(patterns=hidden_patterns))),
        "attacks_course_files": _with(correct, _prepend_to_first_answer(ATTACK_COURSE_FILES.format(
            gradebook=str(course.root / "gradebook.db"), other=str(other)))),
        "huge_output": _with(correct, _prepend_to_first_answer("print('x' * 50_000_000)")),
        "warns": _with(correct, _prepend_to_first_answer(
            "import warnings\nwarnings.warn('a harmless warning on stderr', RuntimeWarning)")),
        "quotes_markers": _with(correct, quote_markers),
        # Cheats aimed at in-kernel verdicts: none can work when nothing is judged in the kernel.
        "hands_back_reference": _with(_with(blank, _insert_before_first_answer(HAND_BACK_REFERENCE)),
                                      hand_back),
        "fakes_display": _with(blank, _prepend_to_first_answer(FAKE_DISPLAY)),
        "patches_then_restores": _with(wrong, _prepend_to_first_answer(PATCH_THEN_RESTORE)),
        "leaks_hidden_inputs": _with(correct, leak_inputs),
        "reads_test_history": _with(wrong, _append_cell("print(In)\nraise ValueError(str(In))")),
        # Correct work written in ways that must never cost a point.
        "logs_warnings": _with(correct, _prepend_to_first_answer(
            "import logging\nlogging.warning('about to define my answers')")),
        "copies_answer_cell": _with(correct, duplicate_answer),
        "pastes_foreign_cell": _with(correct, foreign_grade_id),
        "names_like_builtins": _with(correct, _append_cell(
            "for id in range(3):\n    input = id * 2\nsum = input")),
    }


DEMO_STUDENTS = ("correct", "wrong", "blank", "crashing", "hanging", "patches_numpy", "hands_back_reference")


def run_demo(course: Course, workers: int | None, limits) -> str:
    """Release -> collect -> grade -> feedback -> export on a simulated class; return the table."""
    from . import commands
    from .grading import grade

    notebook = course.source_notebooks()[0]
    proofs = commands.release(course, [notebook.stem], workers, limits)
    lines = [proof.describe() for proof in proofs]
    students = simulated_class(course.source(notebook.stem), course.release(notebook.stem), course)
    with tempfile.TemporaryDirectory() as inbox:
        for student in DEMO_STUDENTS:
            path = Path(inbox) / student / notebook.name
            path.parent.mkdir()
            nbformat.write(students[student], path)
        report = commands.collect(course, Path(inbox))
    lines.append(f"collected {len(report.placed)} submissions")
    grade(course, workers, limits)
    pages = commands.feedback(course)
    lines.append(f"feedback: {len(pages)} students, e.g. {pages[0]}")
    destination = course.root / "grades.csv"
    commands.export(course, destination)
    lines += [commands.format_table(course), f"grades: {destination}"]
    return "\n".join(lines)
