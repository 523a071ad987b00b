"""The instructor's commands: release, collect, feedback, export; and the learner's two."""

from __future__ import annotations

import csv
import html
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .checking import Graded, generate, grade_files, scratch_course
from .course import COURSE_ID, STUDENT_ID, Course
from .grading import Limits, StatusStore


# --- release ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReleaseProof:
    assignment: str
    problem: str  # empty when the solution passes every test and the release fails every one
    solution: Graded | None = None
    release: Graded | None = None

    def describe(self) -> str:
        if self.solution is None or self.release is None:
            return f"{self.assignment}: NOT RELEASED: {self.problem}"
        verdict = "proven" if not self.problem else f"PROBLEM: {self.problem}"
        return (f"{self.assignment}: solution {self.solution.score:g}/{self.solution.max_score:g} "
                f"[{self.solution.status}], release {self.release.score:g}/{self.release.max_score:g} "
                f"[{self.release.status}] -> {verdict}")


def _judge(assignment: str, solution: Graded, release: Graded) -> ReleaseProof:
    problems = []
    if solution.status != "ok":
        problems.append(f"the solution is {solution.status}")
    problems += [f"the solution fails {t.grade_id} ({t.message or 'no message'})"
                 for t in solution.tests if t.score < t.max_score]
    if release.status.startswith("failed"):
        problems.append(f"the release could not be graded ({release.status})")
    problems += [f"the release passes {t.grade_id}" for t in release.tests if t.score > 0]
    if not solution.tests:
        problems.append("no autograded tests")
    return ReleaseProof(assignment, "; ".join(problems), solution, release)


def release(course: Course, names=(), workers: int | None = None, limits: Limits = Limits()) -> list[ReleaseProof]:
    """generate_assignment for each notebook, then grade the source and the release as students."""
    notebooks = course.source_notebooks(names)
    errors = generate(course, notebooks)
    proofs = [ReleaseProof(name, error) for name, error in errors.items()]
    released = [n for n in notebooks if n.stem not in errors]
    if released:
        with scratch_course(course.notebook_dir, course.cell_timeout) as scratch:
            # The copies in source/, not notebooks/, which authors may be editing right now.
            generate(scratch, [course.source(n.stem) for n in released])
            files = {}
            for notebook in released:
                files[("solution", notebook.stem)] = course.source(notebook.stem)
                files[("release", notebook.stem)] = course.release(notebook.stem)
            graded = grade_files(scratch, files, limits, workers)
        proofs += [_judge(n.stem, graded[("solution", n.stem)], graded[("release", n.stem)]) for n in released]
    return sorted(proofs, key=lambda proof: proof.assignment)


# --- collect ------------------------------------------------------------------------------

@dataclass
class CollectReport:
    placed: list[tuple[str, str, str]] = field(default_factory=list)  # student, assignment, origin
    unplaced: list[tuple[str, str]] = field(default_factory=list)  # origin, reason


def _entries(path: Path):
    """``(name, read)`` for every file in a folder or zip archive, names relative and '/'-separated."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            yield file.relative_to(path).as_posix(), file.read_bytes
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield info.filename, (lambda info=info: archive.read(info))
    else:
        raise ValueError(f"{path} is neither a folder nor a zip archive")


def _place(name: str, assignments: list[str]) -> tuple[str, str] | str:
    """``(student, assignment)`` for an entry name, or the reason it cannot be placed."""
    parts = PurePosixPath(name).parts
    filename = PurePosixPath(name)
    if filename.suffix != ".ipynb":
        return "not a notebook"
    if ".ipynb_checkpoints" in parts or any(part.startswith(("__MACOSX", ".")) for part in parts):
        return "a checkpoint or hidden file, not a submission"
    stem = filename.stem
    if len(parts) >= 2 and stem in assignments:
        student = parts[-2]
    else:
        # LMS downloads name files "<student>_<ids...>_<notebook>.ipynb" in one folder.
        matches = [a for a in assignments if stem.endswith("_" + a) and len(stem) > len(a) + 1]
        if not matches:
            return f"{filename.name} is not a released notebook ({', '.join(assignments) or 'none released'})"
        stem = max(matches, key=len)
        student = filename.stem[: -len(stem) - 1].split("_")[0]
    if not STUDENT_ID.match(student):
        return f"student id {student!r} is not a plain name (letters, digits, '_', '.', '-')"
    return student, stem


def collect(course: Course, path: Path) -> CollectReport:
    """Copy every submission found in ``path`` into ``submitted/<student>/<nb>/<nb>.ipynb``."""
    assignments = course.released_assignments()
    if not assignments:
        raise ValueError("nothing is released yet: run `release` first")
    report = CollectReport()
    seen = {}
    for name, read in _entries(Path(path)):
        placement = _place(name, assignments)
        if isinstance(placement, str):
            report.unplaced.append((name, placement))
            continue
        if placement in seen:
            report.unplaced.append((name, f"a second file for {'/'.join(placement)} (kept {seen[placement]})"))
            continue
        seen[placement] = name
        target = course.submitted(*placement)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read())
        report.placed.append((*placement, name))
    return report


# --- feedback -----------------------------------------------------------------------------

def _scores(course: Course) -> dict[tuple[str, str], tuple[float, float]]:
    """``(student, assignment) -> (score, max)`` for every graded (not failed) submission."""
    from nbgrader.api import Gradebook, MissingEntry

    store = StatusStore(course)
    scores = {}
    with Gradebook(course.db_url, COURSE_ID) as gradebook:
        for student, assignment in course.submissions():
            status = store.status(student, assignment)
            if status is None or status.startswith("failed"):
                continue
            try:
                notebook = gradebook.find_submission_notebook(assignment, assignment, student)
            except MissingEntry:
                continue
            scores[(student, assignment)] = (notebook.score, notebook.max_score)
    return scores


def feedback(course: Course) -> list[Path]:
    """Per-student HTML: one page per graded notebook plus an index with every status."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from .preprocessors import RedactHiddenTests

    course.prepare()
    api = course.api(**{
        "GenerateFeedback.preprocessors": [GetGrades, RedactHiddenTests, CSSHTMLHeaderPreprocessor],
        "RedactHiddenTests.course_root": str(course.root),
    })
    store, scores = StatusStore(course), _scores(course)
    by_student: dict[str, list[str]] = {}
    for student, assignment in course.submissions():
        by_student.setdefault(student, []).append(assignment)
        if (student, assignment) in scores:
            result = api.generate_feedback(assignment, student, force=True)
            if not result["success"]:
                raise RuntimeError(f"feedback for {student}/{assignment} failed:\n{result.get('error')}")
    pages = []
    for student, assignments in sorted(by_student.items()):
        rows = []
        for assignment in assignments:
            status = store.status(student, assignment) or "not graded yet"
            if (student, assignment) in scores:
                score, maximum = scores[(student, assignment)]
                link = f'<a href="{assignment}/{assignment}.html">{html.escape(assignment)}</a>'
                points = f"{score:g} / {maximum:g}"
            else:
                link, points = html.escape(assignment), "&ndash;"
            rows.append(f"<tr><td>{link}</td><td>{points}</td><td>{html.escape(status)}</td></tr>")
        page = course.feedback_dir(student) / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback for {html.escape(student)}</title>"
            f"</head><body><h1>Feedback for {html.escape(student)}</h1><table border='1' cellpadding='4'>"
            "<tr><th>notebook</th><th>score</th><th>status</th></tr>" + "".join(rows) + "</table>"
            "<p>A notebook that could not be graded shows why; your instructor looks at every one.</p>"
            "</body></html>\n")
        pages.append(page)
    return pages


# --- export -------------------------------------------------------------------------------

def grade_table(course: Course) -> tuple[list[str], list[dict]]:
    """The export's columns and rows: one row per student, score and status per notebook."""
    from nbgrader.api import Gradebook

    assignments = course.released_assignments()
    store, scores = StatusStore(course), _scores(course)
    with Gradebook(course.db_url, COURSE_ID) as gradebook:
        maxima = {a: gradebook.find_notebook(a, a).max_score for a in assignments}
    submitted = set(course.submissions())
    columns = ["student", *[c for a in assignments for c in (a, f"{a} status")], "total", "max"]
    rows = []
    for student in sorted({s for s, _ in submitted}):
        row = {"student": student}
        total = 0.0
        for a in assignments:
            if (student, a) not in submitted:
                row[a], row[f"{a} status"] = "", "missing"
                continue
            row[f"{a} status"] = store.status(student, a) or "not graded"
            row[a] = f"{scores[(student, a)][0]:g}" if (student, a) in scores else ""
            total += scores.get((student, a), (0.0, 0.0))[0]
        row["total"], row["max"] = f"{total:g}", f"{sum(maxima.values()):g}"
        rows.append(row)
    return columns, rows


def export(course: Course, destination: Path) -> list[dict]:
    columns, rows = grade_table(course)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def format_table(course: Course) -> str:
    """The grades table as aligned text (scores, then statuses)."""
    columns, rows = grade_table(course)
    lines = []
    for row in rows:
        cells = [row["student"].ljust(12)]
        cells += [f"{a}: {row[a] or '-'} [{row[a + ' status']}]" for a in course.released_assignments()]
        cells.append(f"total {row['total']}/{row['max']}")
        lines.append("  ".join(cells))
    return "\n".join(lines)


# --- learners -----------------------------------------------------------------------------

def my_copies(notebook_dir: Path, target: Path) -> list[tuple[str, str]]:
    """Write the student version of each course notebook into ``target``, never over a learner's file."""
    from .course import NOTEBOOK_PATTERN

    target.mkdir(parents=True, exist_ok=True)
    sources = sorted(Path(notebook_dir).glob(NOTEBOOK_PATTERN))
    missing = [source for source in sources if not (target / source.name).exists()]
    done = [(source.name, "kept (your copy)") for source in sources if source not in missing]
    if missing:
        with scratch_course(notebook_dir) as scratch:
            errors = generate(scratch, missing)
            for source in missing:
                if source.stem in errors:
                    done.append((source.name, f"NOT written: {errors[source.stem]}"))
                else:
                    shutil.copyfile(scratch.release(source.stem), target / source.name)
                    done.append((source.name, "written"))
    return sorted(done)


def selfgrade(path: Path, notebook_dir: Path, limits: Limits = Limits()) -> Graded:
    """Grade a learner's own notebook with the hidden tests; their file is only read."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no notebook at {path}")
    with scratch_course(notebook_dir) as scratch:
        source = scratch.source_notebooks([path.stem])
        errors = generate(scratch, source)
        if errors:
            raise ValueError(f"could not prepare {path.stem}: {errors[path.stem]}")
        return grade_files(scratch, {("you", path.stem): path}, limits, workers=1)[("you", path.stem)]


def describe_selfgrade(name: str, graded: Graded) -> str:
    lines = [f"{name}: {graded.score:g} / {graded.max_score:g} autograded points [{graded.status}]"]
    for test in graded.tests:
        mark = "passed" if test.score == test.max_score else "FAILED"
        lines.append(f"  {test.grade_id}: {test.score:g}/{test.max_score:g} {mark}"
                     + (f"  {test.message}" if test.message else ""))
    if graded.manual_max:
        lines.append(f"  (+ {graded.manual_max:g} points of written answers, graded by a person)")
    return "\n".join(lines)
