"""The autograder on a real course notebook: release proof and a small simulated class.

The expected scores come from the notebook itself: its autograded points, and for the student
with a wrong answer the points of the test cells that pass when the source notebook runs with
that student's answers in a plain kernel (nbclient, no grader), so the test follows the
notebook as its authors change it.
"""

from __future__ import annotations

import html
import re

import nbformat
import pytest

from nbclient import NotebookClient

from autograder import commands
from autograder.course import DEFAULT_NOTEBOOK_DIR, Course
from autograder.demo import simulated_class
from autograder.grading import Limits, grade

pytestmark = pytest.mark.grading

PREFERRED = "06_adagrad"
NOTEBOOKS = sorted(DEFAULT_NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
STUDENTS = ("correct", "wrong", "blank", "crashing", "hanging", "patches_numpy", "reference", "swallows_errors",
            "hands_back_reference", "leaks_hidden_inputs")


def _hidden_lines(source) -> set[str]:
    """Distinctive lines of the hidden tests (long enough not to occur by chance)."""
    lines = set()
    for cell in source.cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            lines.update(line.strip() for line in hidden.splitlines() if len(line.strip()) > 20)
    return lines


def _points_in_a_plain_kernel(source, student) -> float:
    """The autograded points ``student``'s answers earn when the source notebook runs with them."""
    answers = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in student.cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.from_dict(source)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    return sum(cell.metadata["nbgrader"]["points"] for cell in nb.cells
               if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
               and not any(output.output_type == "error" for output in cell.outputs))


def _answers(nb):
    return (cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code")


def _chosen():
    return next((n for n in NOTEBOOKS if n.stem == PREFERRED), NOTEBOOKS[0] if NOTEBOOKS else None)


@pytest.mark.skipif(not NOTEBOOKS, reason="no course notebooks yet")
def test_real_notebook_release_and_class(tmp_path):
    notebook = _chosen()
    course = Course(root=tmp_path / "course", notebook_dir=DEFAULT_NOTEBOOK_DIR, cell_timeout=20)
    limits = Limits(notebook_seconds=120)
    (proof,) = commands.release(course, [notebook.stem], None, limits)
    assert proof.problem == "", proof.describe()
    maximum = proof.solution.max_score
    assert maximum > 0

    inbox = tmp_path / "inbox"
    everyone = simulated_class(course.source(notebook.stem), course.release(notebook.stem), course)
    for student in STUDENTS:
        (inbox / student).mkdir(parents=True)
        nbformat.write(everyone[student], inbox / student / notebook.name)
    assert commands.collect(course, inbox).unplaced == []
    grade(course, limits=limits, progress=False)

    rows = {row["student"]: row for row in commands.grade_table(course)[1]}
    score = lambda student: rows[student][notebook.stem]
    status = lambda student: rows[student][f"{notebook.stem} status"]
    assert (score("correct"), status("correct")) == (f"{maximum:g}", "ok")
    assert (score("blank"), status("blank")) == ("0", "ok")
    expected_wrong = _points_in_a_plain_kernel(nbformat.read(course.source(notebook.stem), as_version=4),
                                               everyone["wrong"])
    assert 0 < expected_wrong < maximum or len(list(_answers(everyone["wrong"]))) == 1
    assert (float(score("wrong")), status("wrong")) == (expected_wrong, "ok")
    # A statement that ends the process or hangs is skipped; the correct answers after it still count.
    assert (score("crashing"), status("crashing")) == (f"{maximum:g}", "flagged: " + status("crashing")[9:])
    assert "ended the process that runs your code" in status("crashing")
    assert score("hanging") == f"{maximum:g}" and "did not finish within" in status("hanging")
    assert (float(score("patches_numpy")), status("patches_numpy")) == (expected_wrong, "ok")
    assert (score("reference"), status("reference")) == (f"{maximum:g}", "ok")
    assert (score("swallows_errors"), status("swallows_errors")) == ("0", "ok")
    assert (score("hands_back_reference"), status("hands_back_reference")) == ("0", "ok")
    assert float(score("leaks_hidden_inputs")) < maximum

    pages = commands.feedback(course)
    assert len(pages) == len(STUDENTS)
    hidden_lines = _hidden_lines(nbformat.read(course.source(notebook.stem), as_version=4))
    assert hidden_lines
    for student in ("correct", "wrong", "blank", "leaks_hidden_inputs"):
        page = course.feedback_dir(student) / notebook.stem / f"{notebook.stem}.html"
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        leaked = [line for line in hidden_lines if line in text]
        assert leaked == [], (student, leaked[:3])
    # What the answers saw of the hidden tests never comes back: hidden cells carry grader words only.
    graded = nbformat.read(course.autograded("leaks_hidden_inputs", notebook.stem), as_version=4)
    hidden_ids = {c.metadata.nbgrader["grade_id"] for c in nbformat.read(course.source(notebook.stem),
                                                                         as_version=4).cells
                  if "BEGIN HIDDEN TESTS" in c.source}
    for cell in graded.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in hidden_ids:
            shown = "".join(o.get("text", "") + o.get("evalue", "") for o in cell.outputs)
            assert "LEAKED" not in shown and shown.startswith(("A hidden test failed (", "Hidden tests passed."))
