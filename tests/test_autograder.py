"""The autograder end to end on a small genuine nbgrader notebook (tests/fixtures/notebooks).

One module-scoped course is released, a simulated class (one student per behaviour, every
cheat included) is collected and graded once, and the tests read what came out: scores and
statuses, the gradebook and other students' files after the attacks, the feedback pages,
the CSV. The fixture's points: visible test 1, hidden test 2, written answer 1 (max 4).
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import commands, sandbox
from autograder.__main__ import main
from autograder.course import Course
from autograder.demo import simulated_class
from autograder.grading import Limits, StatusStore, grade

pytestmark = pytest.mark.grading

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
ASSIGNMENT = "90_fixture_step"
LIMITS = Limits(notebook_seconds=25)
ISOLATED = sandbox.isolation_available()

# student -> (score, status prefix) with the fixture's 3 autograded points. No cheat gains a point,
# and no correct answer loses one, whatever else the student's code does.
EXPECTED = {
    "correct": ("3", "ok"),
    "wrong": ("0", "ok"),
    "blank": ("0", "ok"),
    "crashing": ("3", "flagged: sgd_update_answer line 2 ended the process that runs your code"),
    "hanging": ("3", "flagged: sgd_update_answer line 1 did not finish within"),
    "stubborn": ("3", "flagged: sgd_update_answer line 2 did not finish within"),
    "deletes_tests": ("0", "ok"),
    "edits_tests": ("0", "ok"),
    "reference": ("3", "ok"),
    "patches_numpy": ("0", "ok"),
    "swallows_errors": ("0", "ok"),
    "rewrites_cells": ("0", "ok"),
    "reads_hidden_tests": ("0", "ok"),
    "attacks_course_files": ("3", "ok"),
    "huge_output": ("3", "ok"),
    "warns": ("3", "ok"),
    "quotes_markers": ("3", "ok"),
    "hands_back_reference": ("0", "ok"),
    "fakes_display": ("0", "ok"),
    "patches_then_restores": ("0", "ok"),
    "leaks_hidden_inputs": ("1", "ok"),
    "reads_test_history": ("0", "ok"),
    "logs_warnings": ("3", "ok"),
    "copies_answer_cell": ("3", "flagged: the grade_id 'sgd_update_answer' appears 2 times"),
    "pastes_foreign_cell": ("3", "flagged: cell 8 has the grade_id 'not_in_this_notebook'"),
    "names_like_builtins": ("3", "ok"),
}
if not ISOLATED:
    # Without root the answer process runs as the grader's user and can read the source notebooks.
    EXPECTED["reads_hidden_tests"] = ("3", "ok")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """Released, collected and graded once; yields the course and what the tests compare against."""
    root = tmp_path_factory.mktemp("course")
    course = Course(root=root / "course", notebook_dir=FIXTURES, cell_timeout=5)
    proofs = commands.release(course, [], None, LIMITS)
    inbox = root / "inbox"
    for student, nb in simulated_class(course.source(ASSIGNMENT), course.release(ASSIGNMENT), course).items():
        (inbox / student).mkdir(parents=True)
        nbformat.write(nb, inbox / student / f"{ASSIGNMENT}.ipynb")
    report = commands.collect(course, inbox)
    # The attacker runs after `correct` is graded in some orders and before it in others: its
    # target must be the submitted file as collected.
    correct_digest = _digest(course.submitted("correct", ASSIGNMENT))
    outcomes = grade(course, limits=LIMITS, progress=False)
    yield {"course": course, "proofs": proofs, "report": report, "outcomes": outcomes,
           "correct_digest": correct_digest}


def test_release_is_proven(graded_course):
    (proof,) = graded_course["proofs"]
    assert proof.problem == ""
    assert (proof.solution.score, proof.solution.max_score) == (3, 3)
    assert (proof.release.score, proof.release.max_score) == (0, 3)


def test_release_reports_a_solution_that_fails(tmp_path):
    broken = tmp_path / "notebooks"
    broken.mkdir()
    nb = nbformat.read(FIXTURES / f"{ASSIGNMENT}.ipynb", as_version=4)
    answer = next(c for c in nb.cells if c.metadata.nbgrader.get("grade_id") == "sgd_update_answer")
    answer.source = answer.source.replace("param - lr * grad", "param + lr * grad")
    nbformat.write(nb, broken / f"{ASSIGNMENT}.ipynb")
    (proof,) = commands.release(Course(root=tmp_path / "course", notebook_dir=broken), [], 1, LIMITS)
    assert "the solution fails sgd_update_visible" in proof.problem
    assert "the solution fails sgd_update_hidden" in proof.problem


def test_every_submission_is_placed(graded_course):
    assert graded_course["report"].unplaced == []
    assert len(graded_course["report"].placed) == len(EXPECTED)


def test_each_student_gets_the_expected_score_and_status(graded_course):
    columns, rows = commands.grade_table(graded_course["course"])
    got = {row["student"]: (row[ASSIGNMENT], row[f"{ASSIGNMENT} status"]) for row in rows}
    assert set(got) == set(EXPECTED)
    for student, (score, status) in EXPECTED.items():
        assert got[student][0] == score, (student, got[student])
        assert got[student][1].startswith(status), (student, got[student])


def test_attacks_leave_gradebook_and_other_students_untouched(graded_course):
    if not ISOLATED:
        pytest.skip("needs root and namespaces to run the answers as another user")
    course = graded_course["course"]
    assert _digest(course.submitted("correct", ASSIGNMENT)) == graded_course["correct_digest"]
    rows = {row["student"]: row for row in commands.grade_table(course)[1]}
    assert all(row[ASSIGNMENT] in ("", "0", "1", "3") for row in rows.values())


def test_nothing_the_student_prints_reaches_the_graded_notebook(graded_course):
    path = graded_course["course"].autograded("huge_output", ASSIGNMENT)
    assert path.stat().st_size < 50_000
    assert "xxxxxxxx" not in path.read_text()


def test_a_statement_that_hangs_is_skipped_and_explained_on_its_cell(graded_course):
    nb = nbformat.read(graded_course["course"].autograded("hanging", ASSIGNMENT), as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "sgd_update_answer")
    notes = "".join(o.get("text", "") for o in answer.outputs)
    assert "Line 1 did not finish within" in notes and "grading skipped that statement" in notes


def test_an_answer_that_needs_the_reference_is_told_so(graded_course):
    nb = nbformat.read(graded_course["course"].autograded("hands_back_reference", ASSIGNMENT), as_version=4)
    texts = "".join(o.get("text", "") + o.get("evalue", "") for c in nb.cells for o in c.get("outputs", []))
    assert "No module named 'course_lib.checks'" in texts


def test_regrading_is_idempotent_and_resumes(graded_course):
    course = graded_course["course"]
    assert grade(course, limits=LIMITS, progress=False) == []
    status_file = StatusStore(course).path
    records = json.loads(status_file.read_text())
    del records[f"blank/{ASSIGNMENT}"]  # as if the run had been interrupted before grading it
    status_file.write_text(json.dumps(records))
    nb = nbformat.read(course.submitted("wrong", ASSIGNMENT), as_version=4)
    nbformat.write(simulated_class(course.source(ASSIGNMENT), course.release(ASSIGNMENT), course)["correct"],
                   course.submitted("wrong", ASSIGNMENT))
    try:
        outcomes = grade(course, limits=LIMITS, progress=False)
        assert sorted((o.student, o.status) for o in outcomes) == [("blank", "ok"), ("wrong", "ok")]
        rows = {row["student"]: row for row in commands.grade_table(course)[1]}
        assert rows["wrong"][ASSIGNMENT] == "3"
    finally:
        nbformat.write(nb, course.submitted("wrong", ASSIGNMENT))
        grade(course, limits=LIMITS, progress=False)


def test_feedback_shows_visible_messages_but_no_hidden_tests(graded_course):
    course = graded_course["course"]
    pages = commands.feedback(course)
    assert {page.parent.name for page in pages} == set(EXPECTED)
    hidden_code = "for _ in range(4):"
    for student, (score, status) in EXPECTED.items():
        index = (course.feedback_dir(student) / "index.html").read_text()
        assert status.split(":")[0] in index
        page = course.feedback_dir(student) / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert page.exists() == (not status.startswith("failed")), student
        if page.exists():
            text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
            assert hidden_code not in text, student
            assert text.count("BEGIN HIDDEN TESTS") == (student == "quotes_markers"), student
            assert "LEAKED INPUTS (" not in text and "In[" not in text, student
    wrong = html.unescape((course.feedback_dir("wrong") / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert "from 1 with gradient 2 and lr 0.5 one step lands on 0" in wrong
    assert "A hidden test failed (sgd_update_hidden)." in wrong


def test_export_writes_a_status_for_every_submission(graded_course, tmp_path):
    destination = tmp_path / "grades.csv"
    commands.export(graded_course["course"], destination)
    with open(destination) as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["wrong"][ASSIGNMENT] == "0" and rows["wrong"][f"{ASSIGNMENT} status"] == "ok"
    assert rows["crashing"][ASSIGNMENT] == "3" and rows["crashing"][f"{ASSIGNMENT} status"].startswith("flagged: ")
    assert rows["correct"]["total"] == "3" and rows["correct"]["max"] == "4"


def test_collect_reads_an_lms_zip_and_reports_what_it_cannot_place(graded_course, tmp_path):
    course = graded_course["course"]
    archive = tmp_path / "lms.zip"
    submission = course.release(ASSIGNMENT).read_bytes()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr(f"lmsstudent_1234_5678_{ASSIGNMENT}.ipynb", submission)
        handle.writestr("someone/notes.txt", "not a notebook")
        handle.writestr("someone/99_unknown.ipynb", submission)
        handle.writestr(f"bad name/{ASSIGNMENT}.ipynb", submission)
    report = commands.collect(course, archive)
    try:
        assert report.placed == [("lmsstudent", ASSIGNMENT, f"lmsstudent_1234_5678_{ASSIGNMENT}.ipynb")]
        assert sorted(origin for origin, _ in report.unplaced) == [
            f"bad name/{ASSIGNMENT}.ipynb", "someone/99_unknown.ipynb", "someone/notes.txt"]
    finally:
        shutil.rmtree(course.root / "submitted" / "lmsstudent")


def test_selfgrade_scores_a_copy_without_changing_it(graded_course, tmp_path, capsys):
    course = graded_course["course"]
    mine = tmp_path / f"{ASSIGNMENT}.ipynb"
    shutil.copyfile(course.submitted("wrong", ASSIGNMENT), mine)
    before = _digest(mine)
    assert main(["--notebooks", str(FIXTURES), "selfgrade", str(mine)]) == 0
    printed = capsys.readouterr().out
    assert "0 / 3 autograded points [ok]" in printed
    assert "sgd_update_visible: 0/1 FAILED  AssertionError: from 1 with gradient 2" in printed
    assert "sgd_update_hidden: 0/2 FAILED  A hidden test failed (sgd_update_hidden)." in printed
    assert "range(4)" not in printed
    assert _digest(mine) == before


def test_mycopies_writes_student_versions_and_keeps_existing_work(tmp_path, capsys):
    copies = tmp_path / "my_copies"
    assert main(["--notebooks", str(FIXTURES), "mycopies", "--into", str(copies)]) == 0
    copy = copies / f"{ASSIGNMENT}.ipynb"
    assert "BEGIN SOLUTION" not in copy.read_text() and "raise NotImplementedError" in copy.read_text()
    assert "written" in capsys.readouterr().out
    copy.write_text(json.dumps({"learner": "work"}))
    assert main(["--notebooks", str(FIXTURES), "mycopies", "--into", str(copies)]) == 0
    assert json.loads(copy.read_text()) == {"learner": "work"}
    assert "kept" in capsys.readouterr().out
