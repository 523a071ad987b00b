"""`collect` and `feedback` when the input is hostile or broken.

collect: links are refused, never followed; one bad entry never stops the rest; Canvas and
Moodle names are parsed as those systems write them, into ids that are unique and stay the same
from one download to the next. feedback: one notebook that breaks or stalls nbconvert costs only
its own page. The graded course the feedback tests need is built by hand (gradebook entries and
status records), without grading anything.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
import zipfile
from pathlib import Path

import pytest

from autograder import commands
from autograder.checking import generate
from autograder.course import COURSE_ID, Course
from autograder.grading import Outcome, StatusStore, digest_of

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
ASSIGNMENT = "90_fixture_step"
ADAM = "09_adam"
NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


@pytest.fixture
def course(tmp_path):
    """A course with two released notebooks; collect needs nothing else."""
    course = Course(root=tmp_path / "course", notebook_dir=FIXTURES)
    for assignment in (ASSIGNMENT, ADAM):
        course.release(assignment).parent.mkdir(parents=True)
        course.release(assignment).write_bytes(NOTEBOOK)
    course.source(ASSIGNMENT).parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / f"{ASSIGNMENT}.ipynb", course.source(ASSIGNMENT))
    return course


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _placed(report) -> dict[str, tuple[str, str]]:
    return {origin: (student, assignment) for student, assignment, origin in report.placed}


def _unplaced(report) -> dict[str, str]:
    return dict(report.unplaced)


# --- collect: links and paths -------------------------------------------------------------

def test_links_in_a_folder_are_reported_and_never_followed(course, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "mary").mkdir(parents=True)
    (inbox / "mary" / f"{ADAM}.ipynb").write_bytes(NOTEBOOK)
    (inbox / "eve").mkdir()
    (inbox / "eve" / f"{ASSIGNMENT}.ipynb").symlink_to(course.source(ASSIGNMENT))  # the hidden tests
    (inbox / "eve" / f"{ADAM}.ipynb").symlink_to(inbox / "mary" / f"{ADAM}.ipynb")  # another student's work
    (inbox / "mallory").symlink_to(inbox / "mary", target_is_directory=True)
    (inbox / "zed").mkdir()
    (inbox / "zed" / f"{ADAM}.ipynb").symlink_to(tmp_path / "nowhere")

    report = commands.collect(course, inbox)

    assert _placed(report) == {f"mary/{ADAM}.ipynb": ("mary", ADAM)}
    assert _unplaced(report) == {
        f"eve/{ASSIGNMENT}.ipynb": commands.SYMLINK, f"eve/{ADAM}.ipynb": commands.SYMLINK,
        "mallory": commands.SYMLINK, f"zed/{ADAM}.ipynb": commands.SYMLINK}
    assert sorted(p.name for p in (course.root / "submitted").iterdir()) == ["mary"]


def test_archive_links_absolute_paths_and_dotdot_are_refused(course, tmp_path):
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        link = zipfile.ZipInfo(f"eve/{ASSIGNMENT}.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        handle.writestr(link, str(course.source(ASSIGNMENT)))
        handle.writestr(f"/abs/{ADAM}.ipynb", NOTEBOOK)
        handle.writestr(f"../up/{ADAM}.ipynb", NOTEBOOK)
        handle.writestr(f"mary/../bob/{ADAM}.ipynb", NOTEBOOK)
        handle.writestr(f"mary/{ADAM}.ipynb", NOTEBOOK)

    report = commands.collect(course, archive)

    assert _placed(report) == {f"mary/{ADAM}.ipynb": ("mary", ADAM)}
    unplaced = _unplaced(report)
    assert unplaced.pop(f"eve/{ASSIGNMENT}.ipynb") == commands.SYMLINK
    assert len(unplaced) == 3 and all("absolute path or '..'" in reason for reason in unplaced.values())
    assert not course.submitted("eve", ASSIGNMENT).exists()


def test_one_bad_entry_never_stops_the_collect(course, tmp_path):
    long_id = "x" * 300
    archive = _zip(tmp_path / "lms.zip", {
        f"amy/{ADAM}.ipynb": NOTEBOOK,
        f"{long_id}/{ADAM}.ipynb": NOTEBOOK,
        f"{'y' * 65}/{ADAM}.ipynb": NOTEBOOK,
        f"bob/{ADAM}.ipynb": b"will be damaged",
        f"bad name/{ADAM}.ipynb": NOTEBOOK,
        f"cat/{ADAM}.ipynb": NOTEBOOK,
    })
    data = archive.read_bytes()
    archive.write_bytes(data.replace(b"will be damaged", b"WILL BE DAMAGED"))  # stored: the CRC no longer fits

    report = commands.collect(course, archive)

    assert sorted(_placed(report)) == [f"amy/{ADAM}.ipynb", f"cat/{ADAM}.ipynb"]
    unplaced = _unplaced(report)
    assert "300 characters long (at most 64)" in unplaced[f"{long_id}/{ADAM}.ipynb"]
    assert "65 characters long" in unplaced[f"{'y' * 65}/{ADAM}.ipynb"]
    assert unplaced[f"bob/{ADAM}.ipynb"].startswith("could not be copied: BadZipFile")
    assert "not a plain name" in unplaced[f"bad name/{ADAM}.ipynb"]


# --- collect: names -----------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    (f"mary/{ADAM}.ipynb", (ADAM, "mary", "", "", 0)),
    (f"smithjohn_111_901_{ADAM}.ipynb", (ADAM, "smithjohn", "Canvas", "111", 0)),
    (f"smithjohn_LATE_111_902_{ADAM}-2.ipynb", (ADAM, "smithjohn", "Canvas", "111", 2)),
    (f"lmsstudent_1234_5678_{ASSIGNMENT}.ipynb", (ASSIGNMENT, "lmsstudent", "Canvas", "1234", 0)),
    (f"Mary Jane Doe_5001_assignsubmission_file_/{ADAM}.ipynb", (ADAM, "Mary Jane Doe", "Moodle", "5001", 0)),
    (f"Mary Ann Doe_5002_assignsubmission_file/{ADAM} (1).ipynb", (ADAM, "Mary Ann Doe", "Moodle", "5002", 1)),
    (f"Zoë O'Brien-Smith_5003_assignsubmission_file_{ADAM}.ipynb",
     (ADAM, "Zoë O'Brien-Smith", "Moodle", "5003", 0)),
])
def test_names_are_parsed_as_each_lms_writes_them(name, expected):
    found = commands._place(name, [ADAM, ASSIGNMENT])
    assert (found.assignment, found.name, found.lms, found.number, found.version) == expected


@pytest.mark.parametrize("name, reason", [
    (f"mary/backup/{ADAM}.ipynb", "whose is it?"),
    (f"{ADAM}.ipynb", "whose is it?"),
    (f"mary_jane_{ADAM}.ipynb", "nor a Canvas or Moodle name"),
    (f"smithjohn_111_901_notes.ipynb", "notes.ipynb (in the Canvas download of 'smithjohn') is not a released"),
    (f"anon_Xy12z_903_{ADAM}.ipynb", "anonymous Canvas download"),
    ("Mary Jane Doe_5001_assignsubmission_onlinetext_/onlinetext.html", "not a notebook"),
    (f"mary/.ipynb_checkpoints/{ADAM}-checkpoint.ipynb", "checkpoint"),
    (f"A_1_assignsubmission_file/B_2_assignsubmission_file/{ADAM}.ipynb", "more than one Moodle"),
])
def test_unknown_and_ambiguous_names_are_refused_with_a_reason(name, reason):
    assert reason in commands._place(name, [ADAM, ASSIGNMENT])


def test_canvas_students_get_their_name_and_namesakes_are_told_apart(course, tmp_path):
    report = commands.collect(course, _zip(tmp_path / "canvas.zip", {
        f"janemary_11_901_{ADAM}.ipynb": NOTEBOOK,
        f"annmary_12_902_{ADAM}.ipynb": NOTEBOOK,
        f"smithjohn_13_903_{ADAM}.ipynb": NOTEBOOK,
        f"smithjohn_LATE_14_904_{ADAM}.ipynb": NOTEBOOK,
        f"müllerjürgen_15_905_{ADAM}.ipynb": NOTEBOOK,
    }))
    assert sorted(student for student, _, _ in report.placed) == [
        "annmary", "janemary", "mullerjurgen", "smithjohn_13", "smithjohn_14"]
    assert report.unplaced == []
    assert sorted(report.notes) == [f"smithjohn_{n}: 'smithjohn' is the name of more than one Canvas student "
                                    "in this download" for n in (13, 14)]


def test_student_ids_stay_the_same_from_one_download_to_the_next(course, tmp_path):
    first = commands.collect(course, _zip(tmp_path / "a.zip", {f"smithjohn_13_901_{ADAM}.ipynb": b"1"}))
    second = commands.collect(course, _zip(tmp_path / "b.zip", {
        f"smithjohn_13_902_{ASSIGNMENT}.ipynb": b"2", f"smithjohn_14_903_{ASSIGNMENT}.ipynb": b"3"}))
    third = commands.collect(course, _zip(tmp_path / "c.zip", {f"smithjohn_14_904_{ADAM}.ipynb": b"4"}))

    assert first.placed == [("smithjohn", ADAM, f"smithjohn_13_901_{ADAM}.ipynb")]
    assert sorted(s for s, _, _ in second.placed) == ["smithjohn", "smithjohn_14"]
    assert second.notes == ["smithjohn_14: 'smithjohn' is already another student's id"]
    assert third.placed == [("smithjohn_14", ADAM, f"smithjohn_14_904_{ADAM}.ipynb")]  # never merged
    assert course.submitted("smithjohn", ADAM).read_bytes() == b"1"


def test_moodle_names_with_spaces_and_accents_are_placed(course, tmp_path):
    report = commands.collect(course, _zip(tmp_path / "moodle.zip", {
        f"Mary Jane Doe_5001_assignsubmission_file_/{ADAM}.ipynb": NOTEBOOK,
        f"Mary Ann Doe_5002_assignsubmission_file/{ADAM}.ipynb": NOTEBOOK,
        f"Zoë O'Brien-Smith_5003_assignsubmission_file_{ADAM}.ipynb": NOTEBOOK,
        f"José Núñez_5004_assignsubmission_file/{ADAM}.ipynb": NOTEBOOK,
        f"Jose Nunez_5005_assignsubmission_file/{ADAM}.ipynb": NOTEBOOK,
        f"Li Lei_5006_assignsubmission_file/{ADAM}.ipynb": NOTEBOOK,
        f"Li Lei_5007_assignsubmission_file/{ADAM}.ipynb": NOTEBOOK,
        "Mary Jane Doe_5001_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
    }))
    assert sorted(student for student, _, _ in report.placed) == [
        "jose_nunez_5004", "jose_nunez_5005", "li_lei_5006", "li_lei_5007",
        "mary_ann_doe", "mary_jane_doe", "zoe_obrien-smith"]
    assert report.unplaced == [
        ("Mary Jane Doe_5001_assignsubmission_onlinetext_/onlinetext.html", "not a notebook")]
    assert any(note.startswith("li_lei_5006: more than one Moodle participant is named 'Li Lei'")
               for note in report.notes)
    recorded = json.loads((course.private_dir / "lms_students.json").read_text())
    assert recorded["moodle:José Núñez"] == "jose_nunez_5004"
    assert "moodle:Li Lei" not in recorded  # two people: their next download is matched by hand


def test_a_reupload_replaces_the_earlier_file_and_duplicates_keep_the_first(course, tmp_path):
    report = commands.collect(course, _zip(tmp_path / "lms.zip", {
        f"doejane_21_906_{ADAM}-1.ipynb": b"newer",
        f"doejane_21_905_{ADAM}.ipynb": b"older",
        f"Ann Lee_6001_assignsubmission_file/{ADAM}.ipynb": b"older",
        f"Ann Lee_6001_assignsubmission_file/{ADAM} (1).ipynb": b"newer",
    }))
    with zipfile.ZipFile(tmp_path / "twice.zip", "w") as handle, pytest.warns(UserWarning, match="Duplicate name"):
        handle.writestr(f"bob/{ADAM}.ipynb", b"first")
        handle.writestr(f"bob/{ADAM}.ipynb", b"second")
    twice = commands.collect(course, tmp_path / "twice.zip")

    assert course.submitted("doejane", ADAM).read_bytes() == b"newer"
    assert course.submitted("ann_lee", ADAM).read_bytes() == b"newer"
    unplaced = _unplaced(report)
    assert unplaced[f"doejane_21_905_{ADAM}.ipynb"] == (
        f"an earlier upload for doejane/{ADAM} (kept the re-upload doejane_21_906_{ADAM}-1.ipynb)")
    assert unplaced[f"Ann Lee_6001_assignsubmission_file/{ADAM}.ipynb"].startswith("an earlier upload for ann_lee")
    assert course.submitted("bob", ADAM).read_bytes() == b"first"
    assert twice.placed == [("bob", ADAM, f"bob/{ADAM}.ipynb")]
    assert twice.unplaced == [(f"bob/{ADAM}.ipynb", f"a second file for bob/{ADAM} (kept bob/{ADAM}.ipynb)")]


# --- feedback: one page at a time ---------------------------------------------------------

class _FakeApi:
    """Stands in for NbGraderAPI in the child process that makes one page."""

    def __init__(self, behaviour):
        self.behaviour = behaviour

    def generate_feedback(self, assignment, student, force=True):
        return self.behaviour()


def _hang():
    time.sleep(60)


def _die():
    os._exit(3)


def _fail():
    return {"success": False, "log": "[ERROR] x\n  jsonschema.exceptions.ValidationError: bad attachments\n",
            "error": "nbgrader.converters.base.NbGraderException: see above"}


def _raise():
    raise RuntimeError("nbconvert broke")


@pytest.mark.parametrize("behaviour, reason", [
    (lambda: {"success": True}, None),
    (_fail, "ValidationError: bad attachments"),
    (_raise, "RuntimeError: nbconvert broke"),
    (_die, "the page generator died (exit code 3)"),
    (_hang, "took longer than 0.5 s"),
])
def test_a_page_that_fails_stalls_or_dies_returns_a_reason_in_time(behaviour, reason):
    start = time.monotonic()
    assert commands._feedback_page(_FakeApi(behaviour), "amy", ASSIGNMENT, 0.5) == reason
    assert time.monotonic() - start < 5


def _raise_at_length():
    raise ValueError("x" * 10_000)


def test_the_reason_a_student_reads_is_short():
    reason = commands._feedback_page(_FakeApi(_raise_at_length), "amy", ASSIGNMENT, 5)
    assert reason.startswith("ValueError: xxx") and len(reason) == 160


def test_the_files_prefix_filter_still_strips_files_from_links():
    html = '<img src="files/a.png"><a href=/files/b.csv>'
    assert commands._strip_files_prefix(html) == '<img src="a.png"><a href=b.csv>'


# --- feedback: a hand-built graded course -------------------------------------------------

def _graded_course(root: Path, notebooks: dict[str, dict]) -> Course:
    """Released, with ``student -> autograded notebook (JSON)`` recorded as graded ``ok``."""
    from nbgrader.api import Gradebook

    course = Course(root=root, notebook_dir=FIXTURES)
    assert generate(course, [FIXTURES / f"{ASSIGNMENT}.ipynb"]) == {}
    store = StatusStore(course)
    with Gradebook(course.db_url, COURSE_ID) as gradebook:
        for student, nb in notebooks.items():
            for path in (course.submitted(student, ASSIGNMENT), course.autograded(student, ASSIGNMENT)):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(nb))
            gradebook.add_student(student)
            gradebook.add_submission(ASSIGNMENT, student)
            store.record(Outcome(student, ASSIGNMENT, digest_of(course.submitted(student, ASSIGNMENT)), "ok"))
    return course


def _with_markdown_cell(nb: dict, cell: dict) -> dict:
    return {**nb, "cells": [*nb["cells"], {"cell_type": "markdown", "metadata": {}, **cell}]}


HUGE_MARKDOWN = "[" * 100_000  # a line of '[': nbconvert's strip_files_prefix took 62 s on it


def test_a_broken_notebook_costs_only_its_own_page_and_huge_markdown_renders_fast(tmp_path):
    answered = json.loads((FIXTURES / f"{ASSIGNMENT}.ipynb").read_text())
    course = _graded_course(tmp_path / "course", {
        "amy": answered,
        "bob": _with_markdown_cell(answered, {"source": "![x](attachment:x.png)",
                                              "attachments": {"x.png": "not a mime bundle"}}),
        "cat": _with_markdown_cell(answered, {"source": HUGE_MARKDOWN}),
    })
    stale = course.feedback_dir("bob") / ASSIGNMENT / f"{ASSIGNMENT}.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("feedback from an earlier grade")

    start = time.monotonic()
    pages = commands.feedback(course)
    elapsed = time.monotonic() - start

    assert elapsed < 20, elapsed  # three pages; the huge cell alone used to take a minute
    assert {page.parent.name for page in pages} == {"amy", "bob", "cat"}
    assert list(pages.failed) == [("bob", ASSIGNMENT)]
    assert pages.failed[("bob", ASSIGNMENT)].startswith("ValidationError: ")
    assert not stale.exists()
    bob = (course.feedback_dir("bob") / "index.html").read_text()
    assert "feedback could not be generated: ValidationError: " in bob
    assert f'href="{ASSIGNMENT}/' not in bob
    for student in ("amy", "cat"):
        index = (course.feedback_dir(student) / "index.html").read_text()
        assert f'<a href="{ASSIGNMENT}/{ASSIGNMENT}.html">' in index and "could not be generated" not in index
    assert HUGE_MARKDOWN in (course.feedback_dir("cat") / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()


def test_huge_markdown_page_is_made_within_a_few_seconds(tmp_path):
    nb = json.loads((FIXTURES / f"{ASSIGNMENT}.ipynb").read_text())
    course = _graded_course(tmp_path / "course", {"cat": _with_markdown_cell(nb, {"source": HUGE_MARKDOWN})})
    start = time.monotonic()
    assert commands._feedback_page(commands._feedback_api(course), "cat", ASSIGNMENT, 60) is None
    assert time.monotonic() - start < 5
