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

from autograder import commands, integrity, sandbox
from autograder.__main__ import main
from autograder.course import Course
from autograder.demo import simulated_class
from autograder.grading import Limits, StatusStore, grade

pytestmark = pytest.mark.grading

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
ASSIGNMENT = "90_fixture_step"
LIMITS = Limits(notebook_seconds=25)
ISOLATED = sandbox.can_isolate()

# student -> (score, status prefix) with the fixture's 3 autograded points.
EXPECTED = {
    "correct": ("3", "ok"),
    "wrong": ("0", "ok"),
    "blank": ("0", "ok"),
    "crashing": ("", "failed: kernel died"),
    "hanging": ("", "failed: timeout in sgd_update_answer"),
    "stubborn": ("", "failed: timeout"),
    "deletes_tests": ("0", "ok"),
    "edits_tests": ("0", "ok"),
    "reference": ("3", "flagged: uses the reference implementation"),
    "patches_numpy": ("1", "flagged: student code replaced library functions: numpy.allclose"),
    "swallows_errors": ("0", "flagged: student code changed IPython/interpreter hooks: custom_exceptions"),
    "rewrites_cells": ("3", "flagged: the grader's final integrity probe did not report"),
    "reads_hidden_tests": ("0", "flagged: imports glob"),
    "attacks_course_files": ("3", "flagged: imports os"),
    "huge_output": ("3", "ok"),
    "warns": ("3", "ok"),
    "quotes_markers": ("3", "ok"),
}


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
        pytest.skip("needs root and mount namespaces to run kernels as another user")
    course = graded_course["course"]
    assert _digest(course.submitted("correct", ASSIGNMENT)) == graded_course["correct_digest"]
    output = "".join(o.get("text", "") for c in nbformat.read(
        course.autograded("attacks_course_files", ASSIGNMENT), as_version=4).cells for o in c.get("outputs", []))
    for target in ("gradebook", "other student", "grader process"):
        assert f"attack on {target} failed" in output


def test_huge_output_is_cut_in_the_graded_notebook(graded_course):
    path = graded_course["course"].autograded("huge_output", ASSIGNMENT)
    assert path.stat().st_size < 2_000_000
    assert "output beyond" in path.read_text()


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
            assert "_autograder_probe" not in text
    wrong = html.unescape((course.feedback_dir("wrong") / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert "from 1 with gradient 2 and lr 0.5 one step lands on 0" in wrong


def test_export_writes_a_status_for_every_submission(graded_course, tmp_path):
    destination = tmp_path / "grades.csv"
    commands.export(graded_course["course"], destination)
    with open(destination) as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["crashing"][ASSIGNMENT] == "" and rows["crashing"][f"{ASSIGNMENT} status"] == "failed: kernel died"
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


def test_the_scan_allows_experiments_with_the_reference_but_not_replacing_an_answer():
    source = nbformat.read(FIXTURES / f"{ASSIGNMENT}.ipynb", as_version=4)

    def with_extra_cell(code):
        nb = nbformat.read(FIXTURES / f"{ASSIGNMENT}.ipynb", as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(code))
        return nb

    experiment = with_extra_cell("from course_lib.optimizers import SGD\nfast = SGD(lr=0.1, momentum=0.9)")
    assert integrity.scan_student_code(experiment, source) == []
    replaced = with_extra_cell("from course_lib.checks import reference_update\n"
                               "sgd_update = reference_update('sgd_update')")
    assert integrity.scan_student_code(replaced, source) == [f"redefines sgd_update outside its answer cell in cell "
                                                            f"{len(replaced.cells)}"]
    handed_out = nbformat.read(FIXTURES / f"{ASSIGNMENT}.ipynb", as_version=4)
    answer = next(cell for cell in handed_out.cells if cell.metadata.get("nbgrader", {}).get("solution")
                  and cell.cell_type == "code")
    answer.source = "from course_lib import checks\nsgd_update = checks.reference_update('sgd_update')"
    (finding,) = integrity.scan_student_code(handed_out, source)
    assert finding.startswith("uses the reference implementation (course_lib.checks")
