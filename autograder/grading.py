"""Autograding every submission in parallel, resumably, with a recorded status for each.

A pool of long-lived worker processes (importing nbgrader and the course's checks once each)
calls ``NbGraderAPI.autograde`` for one submission at a time. No notebook is executed in a
kernel: nbgrader's ``Execute`` step is replaced by :class:`~autograder.preprocessors.TrustedVerdicts`,
which judges each test cell in the worker against answers running in a sandboxed process
(:mod:`autograder.verdicts`). The main process alone writes the status file, one record per
submission, after each result:

* ``ok``: graded;
* ``flagged: <reasons>``: graded, and something needs a person's look: a grade_id repeated or
  unknown, a statement of the student's that hung or ended its process and was skipped;
* ``failed: <reason>``: the grader could not grade it (an unreadable file, a grader error);
  it has no score, never a silent 0.

A record carries the submitted file's digest, so re-running ``grade`` skips what is already
graded, resumes an interrupted run, and regrades a submission only when its file changed.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path

from . import sandbox
from .course import COURSE_ID, Course, requirement_problem

OK = "ok"


@dataclass(frozen=True)
class Limits:
    """Time and resource limits for grading one notebook."""

    notebook_seconds: float = 300.0
    memory_bytes: int = 2 << 30  # one answer process with all its children
    processes: int = 64


@dataclass(frozen=True)
class Outcome:
    student: str
    assignment: str
    digest: str
    status: str


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class StatusStore:
    """``student/assignment -> {"digest", "status"}``, saved atomically after every change."""

    def __init__(self, course: Course):
        self.path = course.private_dir / "status.json"
        self.records = json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, student: str, assignment: str) -> dict | None:
        return self.records.get(f"{student}/{assignment}")

    def status(self, student: str, assignment: str) -> str | None:
        record = self.get(student, assignment)
        return record["status"] if record else None

    def record(self, outcome: Outcome) -> None:
        self.records[f"{outcome.student}/{outcome.assignment}"] = {
            "digest": outcome.digest, "status": outcome.status}
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(self.records, indent=1, sort_keys=True))
        partial.replace(self.path)


def grading_api(course: Course, limits: Limits):
    """nbgrader's API with the trusted verdicts in place of executing the notebook in a kernel."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from .preprocessors import CheckGradeIds, TrustedVerdicts

    defaults = Autograde.class_traits()
    return course.api(**{
        "Autograde.sanitize_preprocessors": [CheckGradeIds, *defaults["sanitize_preprocessors"].default()],
        "Autograde.autograde_preprocessors": [TrustedVerdicts if step is Execute else step
                                              for step in defaults["autograde_preprocessors"].default()],
        "CheckGradeIds.course_root": str(course.root),
        "TrustedVerdicts.course_root": str(course.root),
        "TrustedVerdicts.cell_seconds": float(course.cell_timeout),
        "TrustedVerdicts.notebook_seconds": float(limits.notebook_seconds),
        "TrustedVerdicts.memory_bytes": limits.memory_bytes,
        "TrustedVerdicts.processes": limits.processes,
    })


def failure_reason(result: dict) -> str:
    """A short reason from nbgrader's captured log and traceback of a failed autograde."""
    text = result.get("log", "") + result.get("error", "")
    if "NotJSONError" in text or "Notebook does not appear to be JSON" in text or "Unreadable" in text:
        return "could not execute: not a readable notebook"
    errors = [line.strip() for line in text.splitlines()
              if re.match(r"\s*[\w.]*(Error|Exception): ", line) and "NbGraderException" not in line]
    return f"could not execute: {errors[-1] if errors else 'nbgrader reported an error'}"


class _Worker:
    """One grading process's state: its nbgrader API."""

    def __init__(self, course: Course, limits: Limits):
        self.course, self.limits = course, limits
        self.api = grading_api(course, limits)
        self.requirements: dict[str, str | None] = {}

    def grade(self, student: str, assignment: str) -> str:
        if assignment not in self.requirements:  # a package the lesson's tests need (torch), once per worker
            self.requirements[assignment] = requirement_problem(self.course.source(assignment))
        if self.requirements[assignment]:
            return f"failed: {self.requirements[assignment]}"
        report = self.course.private_dir / "reports" / student / f"{assignment}.json"
        report.unlink(missing_ok=True)
        result = self.api.autograde(assignment, student, force=True, create=True)
        if not result["success"]:
            return f"failed: {failure_reason(result)}"
        flags = json.loads(report.read_text())["flags"] if report.exists() else []
        return f"flagged: {'; '.join(flags)}" if flags else OK


_worker: _Worker | None = None
_worker_error = ""


def _start_worker(course, limits) -> None:
    global _worker, _worker_error
    # Ctrl-C goes to the main process, which stops the pool; workers must not die mid-write.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # nbgrader's gradebook code trips SQLAlchemy 2 warnings that say nothing about grading.
    warnings.filterwarnings("ignore", module="nbgrader|nbformat")
    try:
        _worker = _Worker(course, limits)
    except Exception as error:  # a pool whose initializer raises restarts it forever
        _worker_error = f"the grader could not start: {type(error).__name__}: {error}"


def _grade_job(job: tuple[str, str, str]) -> Outcome:
    student, assignment, digest = job
    try:
        status = _worker.grade(student, assignment) if _worker else f"failed: {_worker_error}"
    except Exception as error:  # a crash of the grader itself must still leave a record
        status = f"failed: could not execute: {type(error).__name__}: {error}"
    return Outcome(student, assignment, digest, status)


def pending(course: Course, store: StatusStore, retry_failed: bool) -> list[tuple[str, str, str]]:
    """Submissions without a current record (new, changed, or interrupted), plus failed ones on request."""
    jobs = []
    for student, assignment in course.submissions():
        digest = digest_of(course.submitted(student, assignment))
        record = store.get(student, assignment)
        if record is None or record["digest"] != digest:
            stale = True
        elif record["status"].startswith("failed"):
            stale = retry_failed
        else:
            stale = not course.autograded(student, assignment).exists()
        if stale:
            jobs.append((student, assignment, digest))
    return jobs


def _register_students(course: Course, students: set[str]) -> None:
    """Create students up front: two workers creating the same one at once collide in SQLite."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, COURSE_ID) as gradebook:
        for student in sorted(students):
            gradebook.update_or_create_student(student)


def grade(course: Course, workers: int | None = None, limits: Limits = Limits(),
          retry_failed: bool = False, progress: bool = True) -> list[Outcome]:
    """Autograde every pending submission; return the new outcomes (also saved in the store)."""
    from tqdm import tqdm

    course.prepare()
    missing = sorted({a for _, a in course.submissions()} - set(course.released_assignments()))
    if missing:
        raise ValueError(f"submissions for unreleased notebooks {missing}: run `release` first")
    store = StatusStore(course)
    jobs = pending(course, store, retry_failed)
    if not jobs:
        return []
    _register_students(course, {student for student, _, _ in jobs})
    count = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    context = multiprocessing.get_context("fork")
    outcomes = []
    with context.Pool(count, _start_worker, (course, limits)) as pool:
        bar = tqdm(total=len(jobs), unit="notebook", desc="grading", disable=not progress)
        for outcome in pool.imap_unordered(_grade_job, jobs):
            store.record(outcome)
            outcomes.append(outcome)
            bar.update()
            if outcome.status != OK:
                bar.write(f"{outcome.student}/{outcome.assignment}: {outcome.status}")
        bar.close()
    return outcomes


def protection_summary(limits: Limits = Limits()) -> str:
    isolated = sandbox.isolation_available()
    box = sandbox.SandboxLimits(memory_bytes=limits.memory_bytes, processes=limits.processes)
    return "sandbox: " + ", ".join(sandbox.protections(box, isolated))
