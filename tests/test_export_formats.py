"""The export's LMS layouts (Canvas's Gradebook import, Moodle's CSV grade import) and the rule that a
grade appears only when it is final: blank, never 0, for missing, failed and not yet manually graded."""

import json

import pytest

from autograder import commands
from autograder.course import Course

ASSIGNMENTS = ["00_a", "01_b"]
MAXIMA = {"00_a": 14.0, "01_b": 7.0}
ROWS = [
    {"student": "alice", "00_a": "14", "00_a status": "ok", "01_b": "", "01_b status": "needs manual grading",
     "total": "14", "max": "21"},
    {"student": "smithjohn", "00_a": "", "00_a status": "missing", "01_b": "", "01_b status": "failed: unreadable",
     "total": "0", "max": "21"},
]


def test_canvas_layout_has_canvas_identity_columns_points_possible_and_blank_unfinished_grades(tmp_path):
    course = Course(root=tmp_path / "course")
    course.private_dir.mkdir(parents=True)
    (course.private_dir / "lms_students.json").write_text(json.dumps({"canvas:4711": "smithjohn"}))
    columns, rows = commands._canvas(course, ASSIGNMENTS, ROWS, MAXIMA)
    assert columns == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "00_a", "01_b"]
    assert rows[0] == {"Student": "    Points Possible", "00_a": "14", "01_b": "7"}
    assert rows[1] == {"Student": "alice", "ID": "", "SIS User ID": "", "SIS Login ID": "alice", "Section": "",
                       "00_a": "14", "01_b": ""}
    assert rows[2]["ID"] == "4711" and rows[2]["00_a"] == rows[2]["01_b"] == ""


def test_moodle_layout_has_username_grade_and_feedback_columns(tmp_path):
    columns, rows = commands._moodle(Course(root=tmp_path / "course"), ASSIGNMENTS, ROWS, MAXIMA)
    assert columns == ["Username", "00_a", "00_a feedback", "01_b", "01_b feedback"]
    assert rows[0] == {"Username": "alice", "00_a": "14", "00_a feedback": "ok; out of 14",
                       "01_b": "", "01_b feedback": "needs manual grading; out of 7"}
    assert rows[1]["00_a"] == "" and rows[1]["00_a feedback"] == "missing; out of 14"


def test_status_says_needs_manual_grading_while_a_written_answer_waits(tmp_path):
    class Store:
        def status(self, student, assignment):
            return {"ok": "ok", "flagged": "flagged: a repeated grade_id", "failed": "failed: unreadable"}.get(student)

    waiting = {("ok", "a"), ("flagged", "a"), ("failed", "a")}
    assert commands.submission_status(Store(), waiting, "ok", "a") == "needs manual grading"
    assert commands.submission_status(Store(), waiting, "flagged", "a") == (
        "flagged: a repeated grade_id; needs manual grading")
    assert commands.submission_status(Store(), waiting, "failed", "a") == "failed: unreadable"
    assert commands.submission_status(Store(), set(), "ok", "a") == "ok"
    assert commands.submission_status(Store(), set(), "nobody", "a") == "not graded"


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown export format"):
        commands.export(Course(root=tmp_path / "course"), tmp_path / "x.csv", "blackboard")
    assert not (tmp_path / "x.csv").exists()
