"""Grading notebooks outside the course: release proofs and learners' self-grading.

Both grade a few files with the full pipeline (trusted verdicts, sandboxed answers) in a
throwaway course directory, so the real gradebook never sees them.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .course import COURSE_ID, Course
from .grading import Limits, grade


@dataclass(frozen=True)
class TestResult:
    """One autograded test cell of one graded notebook."""

    grade_id: str
    score: float
    max_score: float
    message: str  # "Error: message" of a failing cell, safe to show (no hidden code)


@dataclass(frozen=True)
class Graded:
    status: str
    tests: tuple[TestResult, ...]
    manual_max: float  # points of manually graded answers, not scored here

    @property
    def score(self) -> float:
        return sum(test.score for test in self.tests)

    @property
    def max_score(self) -> float:
        return sum(test.max_score for test in self.tests)


def autograded_tests(course: Course, student: str, assignment: str) -> Graded:
    """Per-test-cell scores of a graded submission, from the gradebook and the graded notebook."""
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.utils import is_grade, is_solution

    from .grading import StatusStore
    from .preprocessors import failure_messages

    status = StatusStore(course).status(student, assignment) or "not graded"
    source = nbformat.read(course.source(assignment), as_version=4)
    tests = [c.metadata.nbgrader["grade_id"] for c in source.cells
             if c.cell_type == "code" and is_grade(c) and not is_solution(c)]
    manual_max = sum(float(c.metadata.nbgrader["points"]) for c in source.cells if is_grade(c) and is_solution(c))
    if status.startswith("failed"):
        return Graded(status, (), manual_max)
    messages = failure_messages(nbformat.read(course.autograded(student, assignment), as_version=4))
    with Gradebook(course.db_url, COURSE_ID) as gradebook:
        grades = {g.name: g for g in gradebook.find_submission_notebook(assignment, assignment, student).grades}
        results = tuple(TestResult(grade_id, grades[grade_id].score, grades[grade_id].max_score,
                                   messages.get(grade_id, "")) for grade_id in tests)
    return Graded(status, results, manual_max)


@contextmanager
def scratch_course(notebook_dir: Path, cell_timeout: int = 30):
    """A temporary course on the same source notebooks, deleted afterwards."""
    root = Path(tempfile.mkdtemp(prefix="autograder-course-"))
    try:
        yield Course(root=root, notebook_dir=notebook_dir, cell_timeout=cell_timeout)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def generate(course: Course, notebooks: list[Path]) -> dict[str, str]:
    """nbgrader generate_assignment for each notebook; ``assignment -> error`` for those that failed."""
    course.prepare()
    api = course.api()
    errors = {}
    for notebook in notebooks:
        assignment = course.copy_source(notebook)
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            errors[assignment] = (result.get("error") or result.get("log") or "").strip().splitlines()[-1]
    return errors


def grade_files(course: Course, files: dict[tuple[str, str], Path], limits: Limits,
                workers: int | None = None) -> dict[tuple[str, str], Graded]:
    """Grade ``{(student, assignment): notebook file}`` in ``course`` (already generated)."""
    for (student, assignment), path in files.items():
        target = course.submitted(student, assignment)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    grade(course, workers=workers, limits=limits, progress=False)
    return {key: autograded_tests(course, *key) for key in files}
