"""The instructor's commands: release, collect, feedback, export; and the learner's two."""

from __future__ import annotations

import csv
import html
import json
import multiprocessing
import os
import re
import shutil
import stat
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path, PurePosixPath

from .checking import Graded, generate, grade_files, scratch_course
from .course import COURSE_ID, STUDENT_ID, Course, requirement_problem
from .grading import Limits, StatusStore


# --- release ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReleaseProof:
    assignment: str
    problem: str  # empty when the solution passes every test and the release fails every one
    solution: Graded | None = None
    release: Graded | None = None
    skipped: str = ""  # why the notebook was not released: a package it needs is missing here (not a problem)

    @property
    def proven(self) -> bool:
        return not self.problem and not self.skipped

    def describe(self) -> str:
        if self.skipped:
            return f"{self.assignment}: SKIPPED, not released: {self.skipped}"
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
    """generate_assignment for each notebook, then grade the source and the release as students.

    A notebook that needs a package this process cannot import (an optional lesson's torch) is
    skipped with the reason: its tests could not run here, in the proof or in grading.
    """
    notebooks = course.source_notebooks(names)
    skipped = {n: problem for n in notebooks if (problem := requirement_problem(n))}
    notebooks = [n for n in notebooks if n not in skipped]
    errors = generate(course, notebooks)
    proofs = [ReleaseProof(n.stem, "", skipped=problem) for n, problem in skipped.items()]
    proofs += [ReleaseProof(name, error) for name, error in errors.items()]
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

STUDENT_ID_MAX = 64  # characters: a readable id, and paths far below the 255-byte name limit
SYMLINK = "a symbolic link, not a submission"

# Canvas, "Download submissions": flat files <name>[_LATE]_<user id>_<file id>_<file name>, where
# <name> is the sortable name ("Smith, John") lowercased with everything but letters and digits
# removed ("smithjohn"). User ids are Canvas-wide, so they identify a person in every download.
_CANVAS_FILE = re.compile(r"(?P<name>[^\W_]+)(?:_LATE)?_(?P<number>\d+)_\d+_(?P<file>.+)")
_CANVAS_ANONYMOUS = re.compile(r"(?:LATE_)?anon_[^\W_]+_\d+_.+")
# Moodle, "Download all submissions": <Full Name>_<participant id>_assignsubmission_file[_]/<file>
# (folders, Moodle 3.1 and later) or flat <Full Name>_<participant id>_assignsubmission_file_<file>.
# Moodle writes '_' in names as spaces, so the name never holds one; participant ids are drawn
# afresh for every assignment, so only the name identifies a person across downloads.
_MOODLE_FOLDER = re.compile(r"(?P<name>[^_]+)_(?P<number>\d+)_assignsubmission_file_?")
_MOODLE_FILE = re.compile(r"(?P<name>[^_]+)_(?P<number>\d+)_assignsubmission_file_(?P<file>.+)")
# A file uploaded again under the same name: Canvas stores "09_adam-1.ipynb", Moodle "09_adam (1).ipynb".
_REUPLOADED = {"Canvas": re.compile(r"(?P<stem>.+)-(?P<version>\d+)"),
               "Moodle": re.compile(r"(?P<stem>.+) \((?P<version>\d+)\)")}


@dataclass
class CollectReport:
    placed: list[tuple[str, str, str]] = field(default_factory=list)  # student, assignment, origin
    unplaced: list[tuple[str, str]] = field(default_factory=list)  # origin, reason
    notes: list[str] = field(default_factory=list)  # student ids that had to be told apart, and why


@dataclass(frozen=True)
class _Entry:
    name: str  # relative to the folder or archive, '/'-separated
    read: Callable[[], bytes] | None
    refused: str = ""  # why the entry is not even read


@dataclass(frozen=True)
class _Found:
    """An entry that names its notebook and its student (LMS students get their ids later)."""

    origin: str
    assignment: str
    name: str  # the student id (<student>/<notebook>.ipynb), or the LMS's name for the person
    lms: str = ""  # "Canvas" or "Moodle"
    number: str = ""  # the LMS's id of the person in this download
    version: int = 0  # the LMS's re-upload counter: higher is newer
    read: Callable[[], bytes] | None = field(default=None, compare=False, repr=False)

    @property
    def identity(self) -> str:
        """Who this is in every download of the LMS (the key of the record of LMS students)."""
        return f"canvas:{self.number}" if self.lms == "Canvas" else f"moodle:{self.name}"


def _read_file(path: Path) -> bytes:
    """The file's bytes; O_NOFOLLOW refuses a file swapped for a link after the walk saw it."""
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
        return handle.read()


def _folder_entries(root: Path) -> list[_Entry]:
    """Every file under ``root``; links (to files or folders) are refused and never followed.

    A link could make another student's file, or the course's source notebook, look like a
    submission.
    """
    entries = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for path in sorted(Path(folder, name) for name in dirs + files):
            name = path.relative_to(root).as_posix()
            if path.is_symlink():
                entries.append(_Entry(name, None, SYMLINK))
            elif not path.is_dir():
                regular = path.is_file()
                entries.append(_Entry(name, partial(_read_file, path) if regular else None,
                                      "" if regular else "not a regular file"))
    return entries


def _archive_entries(archive: zipfile.ZipFile) -> list[_Entry]:
    """Every file of the archive; links, absolute paths and '..' are refused."""
    entries = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            refused = SYMLINK
        elif info.filename.startswith("/") or ".." in PurePosixPath(info.filename).parts:
            refused = "an absolute path or '..' in the archive"
        else:
            refused = ""
        entries.append(_Entry(info.filename, None if refused else partial(archive.read, info), refused))
    return entries


@contextmanager
def _entries(path: Path):
    """The entries of a folder or zip archive, readable until the block ends."""
    if path.is_dir():
        yield _folder_entries(path)
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            yield _archive_entries(archive)
    else:
        raise ValueError(f"{path} is neither a folder nor a zip archive")


def _released_notebook(filename: str, assignments: list[str], lms: str) -> tuple[str, int] | None:
    """``(assignment, version)`` if ``filename`` is a released notebook's, perhaps re-uploaded."""
    stem = filename.removesuffix(".ipynb")
    if stem in assignments:
        return stem, 0
    copy = _REUPLOADED[lms].fullmatch(stem) if lms else None
    if copy and copy["stem"] in assignments:
        return copy["stem"], int(copy["version"])
    return None


def _from_lms(origin: str, lms: str, match: re.Match, filename: str, assignments: list[str]) -> _Found | str:
    notebook = _released_notebook(filename, assignments, lms)
    if notebook is None:
        return (f"{filename} (in the {lms} download of {match['name']!r}) is not a released notebook "
                f"({', '.join(assignments)})")
    return _Found(origin, notebook[0], match["name"], lms, match["number"], notebook[1])


def _place(name: str, assignments: list[str]) -> _Found | str:
    """The notebook and student an entry name says, or the reason it cannot be placed.

    Layouts, tried in this order (see :func:`collect`): inside a Moodle submission folder;
    ``<student>/<notebook>.ipynb`` at the top level; a Canvas file; a flat Moodle file. Anything
    else is refused rather than guessed.
    """
    path = PurePosixPath(name)
    if path.suffix != ".ipynb":
        return "not a notebook"
    if ".ipynb_checkpoints" in path.parts or any(part.startswith(("__MACOSX", ".")) for part in path.parts):
        return "a checkpoint or hidden file, not a submission"
    folders = [match for part in path.parts[:-1] if (match := _MOODLE_FOLDER.fullmatch(part))]
    if len(folders) > 1:
        return "inside more than one Moodle submission folder: whose is it?"
    if folders:
        return _from_lms(name, "Moodle", folders[0], path.name, assignments)
    if path.stem in assignments:
        if len(path.parts) != 2:
            return f"not in a student's folder at the top level (<student>/{path.name}): whose is it?"
        return _Found(name, path.stem, path.parts[0])
    if _CANVAS_ANONYMOUS.fullmatch(path.name):
        return "an anonymous Canvas download: its ids change with every assignment; download with names"
    for lms, pattern in (("Canvas", _CANVAS_FILE), ("Moodle", _MOODLE_FILE)):
        if match := pattern.fullmatch(path.name):
            return _from_lms(name, lms, match, match["file"], assignments)
    return (f"{path.name} is not a released notebook ({', '.join(assignments)}), "
            "nor a Canvas or Moodle name for one")


def _safe_name(name: str) -> str:
    """An LMS name as a student id: ASCII letters (accents dropped) and digits, lowercase, '_' for spaces."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9_-]", "", "_".join(folded.split())).strip("_-")


def _student_id_problem(student: str) -> str:
    if len(student) > STUDENT_ID_MAX:
        return f"student id {student[:20]!r}... is {len(student)} characters long (at most {STUDENT_ID_MAX})"
    if not STUDENT_ID.fullmatch(student):
        return f"student id {student!r} is not a plain name (letters, digits, '_', '.', '-')"
    return ""


def _lms_student_ids(found: list[_Found], known: dict[str, str],
                     taken: set[str]) -> tuple[dict, dict, list[str]]:
    """Student ids of the LMS people in ``found``: by ``(lms, number)``, to record, and notes.

    A person recorded by an earlier collect (``known``: identity -> id) keeps that id, so ids are
    stable from one download to the next. A new person gets their safe name, unless it is empty,
    already a student's (``taken``), or shared with another person of this download: then every
    one of them gets ``<name>_<number>``, never a merge. Only people whose identity is theirs
    alone in this download are recorded (two Moodle participants may share a full name).
    """
    people = {(f.lms, f.number): f for f in found if f.lms}
    identities = Counter(person.identity for person in people.values())
    ids = {key: known[person.identity] for key, person in people.items()
           if identities[person.identity] == 1 and person.identity in known}
    new = {key: person for key, person in people.items() if key not in ids}
    names = Counter(_safe_name(person.name) for person in new.values())
    taken = taken | set(known.values())
    notes = []
    for key, person in new.items():
        base = _safe_name(person.name)
        if not base:
            why = f"the {person.lms} name {person.name!r} has no letter or digit for an id"
        elif identities[person.identity] > 1:
            why = (f"more than one {person.lms} participant is named {person.name!r}; participant ids change "
                   "with every assignment, so match their notebooks by hand")
        elif names[base] > 1:
            why = f"{base!r} is the name of more than one {person.lms} student in this download"
        elif base in taken:
            why = f"{base!r} is already another student's id"
        else:
            ids[key] = base
            continue
        ids[key] = f"{base or person.lms.lower()}_{person.number}"
        notes.append(f"{ids[key]}: {why}")
    record = {person.identity: ids[key] for key, person in people.items() if identities[person.identity] == 1}
    return ids, record, notes


def _newest(found: list[tuple[str, _Found]]) -> tuple[dict[tuple[str, str], _Found], list[tuple[str, str]]]:
    """One entry per ``(student, assignment)``: the highest re-upload, else the first; why not the others."""
    kept: dict[tuple[str, str], _Found] = {}
    for student, entry in found:
        other = kept.get((student, entry.assignment))
        if other is None or entry.version > other.version:
            kept[(student, entry.assignment)] = entry
    dropped = []
    for student, entry in found:
        winner = kept[(student, entry.assignment)]
        if entry is winner:
            continue
        if entry.version < winner.version:
            dropped.append((entry.origin, f"an earlier upload for {student}/{entry.assignment} "
                                          f"(kept the re-upload {winner.origin})"))
        else:
            dropped.append((entry.origin, f"a second file for {student}/{entry.assignment} "
                                          f"(kept {winner.origin})"))
    return kept, dropped


def collect(course: Course, path: Path) -> CollectReport:
    """Copy every submission found in ``path`` into ``submitted/<student>/<nb>/<nb>.ipynb``.

    ``path`` is a folder or a zip archive in one of these layouts, told apart by their names:

    * ``<student>/<notebook>.ipynb`` at the top level: the folder's name is the student id;
    * Canvas: ``<name>[_LATE]_<user id>_<file id>_<notebook>[-N].ipynb``;
    * Moodle: ``<Full Name>_<participant id>_assignsubmission_file[_]/<notebook>[ (N)].ipynb``,
      or the same flat with ``_`` for ``/``.

    An LMS student's id is the LMS's name made safe (ASCII letters and digits, lowercase, ``_``
    for spaces: ``smithjohn``, ``mary_jane_doe``). When that name is someone else's id already,
    or two people of one download share it, each of them becomes ``<name>_<LMS id>`` and the
    report says so. Ids are recorded in the course, so a student keeps theirs in later downloads
    (Canvas by user id, Moodle by full name: its participant ids change with every assignment).
    Of two files for one notebook of one student the re-upload (``-1``, `` (1)``) wins, else the
    first. Links, hidden files, unknown names and ambiguous ones are reported, never followed or
    guessed, and one bad entry never stops the others.
    """
    assignments = course.released_assignments()
    if not assignments:
        raise ValueError("nothing is released yet: run `release` first")
    record = course.private_dir / "lms_students.json"
    known = json.loads(record.read_text()) if record.exists() else {}
    report = CollectReport()
    with _entries(Path(path)) as entries:
        found = []
        for entry in entries:
            placement = entry.refused or _place(entry.name, assignments)
            if isinstance(placement, str):
                report.unplaced.append((entry.name, placement))
            else:
                found.append(replace(placement, read=entry.read))
        taken = {f.name for f in found if not f.lms} | {s for s, _ in course.submissions()}
        ids, recorded, report.notes = _lms_student_ids(found, known, taken)
        named = []
        for entry in found:
            student = ids[(entry.lms, entry.number)] if entry.lms else entry.name
            problem = _student_id_problem(student)
            if problem:
                report.unplaced.append((entry.origin, problem))
            else:
                named.append((student, entry))
        kept, dropped = _newest(named)
        report.unplaced += dropped
        for (student, assignment), entry in kept.items():
            target = course.submitted(student, assignment)
            try:
                data = entry.read()
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except Exception as error:  # a damaged archive member raises almost anything; go on
                report.unplaced.append((entry.origin, f"could not be copied: {type(error).__name__}: {error}"))
                continue
            report.placed.append((student, assignment, entry.origin))
    updated = {**known, **{identity: s for identity, s in recorded.items() if not _student_id_problem(s)}}
    if updated != known:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(updated, indent=1, sort_keys=True))
    return report


# --- feedback -----------------------------------------------------------------------------

FEEDBACK_PAGE_SECONDS = 30.0
# nbconvert's strip_files_prefix also rewrites markdown links to files/ with a regex that takes
# quadratic time on a line of many '[': a 100 KB markdown cell took a minute to render. Markdown
# is HTML by the time the filter runs, so the HTML attribute pattern is all that is needed.
_FILES_URL = re.compile(r"""(src|href)=(['"]?)/?files/""")


def _strip_files_prefix(text: str) -> str:
    """nbconvert's ``strip_files_prefix`` filter for HTML, in linear time."""
    return _FILES_URL.sub(r"\1=\2", text)


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


def _feedback_api(course: Course):
    """nbgrader's API for feedback: hidden tests redacted, the linear files/ filter."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from .preprocessors import RedactHiddenTests

    return course.api(**{
        "GenerateFeedback.preprocessors": [GetGrades, RedactHiddenTests, CSSHTMLHeaderPreprocessor],
        "RedactHiddenTests.course_root": str(course.root),
        "HTMLExporter.filters": {"strip_files_prefix": _strip_files_prefix},
    })


def _failure_reason(result: dict) -> str:
    """The last exception nbgrader logged (not its own summary), without its module path."""
    text = result.get("log", "") + result.get("error", "")
    errors = [line.strip() for line in text.splitlines()
              if re.match(r"\s*[\w.]*(Error|Exception): ", line) and "NbGraderException" not in line]
    return re.sub(r"^(?:\w+\.)+", "", errors[-1]) if errors else "nbgrader reported an error"


def _generate_page(api, student: str, assignment: str, sender) -> None:
    """In the child: make the page, send ``None`` or the reason it failed (short: students read it)."""
    try:
        result = api.generate_feedback(assignment, student, force=True)
        reason = None if result["success"] else _failure_reason(result)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
    sender.send(reason if reason is None or len(reason) <= 160 else reason[:157] + "...")


def _feedback_page(api, student: str, assignment: str, seconds: float) -> str | None:
    """Make one student's feedback page within ``seconds``; ``None``, or why there is no page.

    A child process does the work, so a notebook that makes nbconvert fail, run for minutes or
    crash costs only its own page, never the class's.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_generate_page, args=(api, student, assignment, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            return f"took longer than {seconds:g} s"
        try:
            return receiver.recv()
        except EOFError:
            child.join()
            return f"the page generator died (exit code {child.exitcode})"
    finally:
        child.kill()
        child.join()
        receiver.close()


def _index_row(assignment: str, status: str, score: tuple[float, float] | None, failure: str | None) -> str:
    if score is None or failure:
        name = html.escape(assignment)
    else:
        name = f'<a href="{assignment}/{assignment}.html">{html.escape(assignment)}</a>'
    points = f"{score[0]:g} / {score[1]:g}" if score else "&ndash;"
    note = f"<br>feedback could not be generated: {html.escape(failure)}" if failure else ""
    return f"<tr><td>{name}</td><td>{points}</td><td>{html.escape(status)}{note}</td></tr>"


def _write_index(course: Course, student: str, rows: list[str]) -> Path:
    page = course.feedback_dir(student) / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback for {html.escape(student)}</title>"
        f"</head><body><h1>Feedback for {html.escape(student)}</h1><table border='1' cellpadding='4'>"
        "<tr><th>notebook</th><th>score</th><th>status</th></tr>" + "".join(rows) + "</table>"
        "<p>A notebook that could not be graded shows why; your instructor looks at every one.</p>"
        "</body></html>\n")
    return page


class FeedbackPages(list):
    """Every student's index page (the list), and ``failed``: ``(student, assignment) -> reason``."""

    def __init__(self, pages: list[Path], failed: dict[tuple[str, str], str]):
        super().__init__(pages)
        self.failed = failed


def feedback(course: Course, page_seconds: float = FEEDBACK_PAGE_SECONDS) -> FeedbackPages:
    """Per-student HTML: one page per graded notebook plus an index with every status.

    A page that cannot be made within ``page_seconds`` (or at all) is left out, its index row
    says why, and the others are made all the same.
    """
    course.prepare()
    api = _feedback_api(course)
    store, scores = StatusStore(course), _scores(course)
    failed = {}
    by_student: dict[str, list[str]] = {}
    for student, assignment in course.submissions():
        by_student.setdefault(student, []).append(assignment)
        if (student, assignment) in scores:
            reason = _feedback_page(api, student, assignment, page_seconds)
            if reason:
                failed[(student, assignment)] = reason
                shutil.rmtree(course.feedback_dir(student) / assignment, ignore_errors=True)
    waiting = _waiting_for_a_person(course)
    pages = []
    for student, assignments in sorted(by_student.items()):
        rows = [_index_row(a, submission_status(store, waiting, student, a), scores.get((student, a)),
                           failed.get((student, a))) for a in assignments]
        pages.append(_write_index(course, student, rows))
    return FeedbackPages(pages, failed)


# --- the hub's exchange (deploy/) ---------------------------------------------------------
# On a JupyterHub, nbgrader's exchange carries the releases to the students, their submissions
# back and the feedback to them. These run after the commands above when the course has one.

def _nbgrader_failure(result: dict) -> str:
    return "" if result.get("success") else _failure_reason(result)


def publish(course: Course, assignments: list[str]) -> dict[str, str]:
    """Put proven releases into the exchange (replacing an earlier one); ``assignment -> problem``."""
    api = course.api(**{"ExchangeReleaseAssignment.force": True})
    return {a: _nbgrader_failure(api.release_assignment(a)) for a in assignments}


# nbgrader names a submission <student>+<assignment>+<timestamp>[+<random>].
_SUBMISSION = re.compile(r"(?P<student>[^+]+)\+(?P<assignment>[^+]+)\+(?P<timestamp>[^+]+)(?:\+[^+]*)?")
SUBMISSION_MAX_BYTES = 64 * 2**20


def _owner_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _copy_submission(source: Path, target: Path) -> str:
    """Copy a submission folder's regular files only; '' or why the submission is refused."""
    total = 0
    for folder, dirs, files in os.walk(source, followlinks=False):
        for name in dirs + files:
            path = Path(folder, name)
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                return f"{path.relative_to(source)} is a symbolic link"
            if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                return f"{path.relative_to(source)} is not a regular file"
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
                if total > SUBMISSION_MAX_BYTES:
                    return f"larger than {SUBMISSION_MAX_BYTES // 2**20} MiB"
                destination = target / path.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(_read_file(path))
    return ""


def _stage_inbound(course: Course, assignments: list[str], report: CollectReport) -> Path:
    """A private copy of the exchange's inbound/ holding only genuine submissions; its exchange root.

    nbgrader's own collect only warns about a submission made under another student's name and
    follows links as root. Here each submission is copied (regular files, no links, bounded
    size) into the course's private files, owned by whoever made it, and only when that is the
    student it names; nbgrader then collects from the copy.
    """
    staging = course.private_dir / "collecting"
    shutil.rmtree(staging, ignore_errors=True)
    inbound = staging / COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    source = course.exchange_course / "inbound"
    for entry in sorted(os.scandir(source), key=lambda e: e.name) if source.is_dir() else []:
        origin = f"exchange inbound/{entry.name}"
        match = _SUBMISSION.fullmatch(entry.name)
        if match is None or match["assignment"] not in assignments:
            report.unplaced.append((origin, "not a submission of a released notebook"))
            continue
        info = entry.stat(follow_symlinks=False)
        owner = _owner_name(info.st_uid)
        problem = ""
        if not stat.S_ISDIR(info.st_mode):
            problem = "not a folder"
        elif owner != match["student"]:
            problem = f"made by {owner} under the name of {match['student']}"
        elif _student_id_problem(match["student"]):
            problem = _student_id_problem(match["student"])
        else:
            problem = _copy_submission(Path(entry.path), inbound / entry.name)
        if problem:
            shutil.rmtree(inbound / entry.name, ignore_errors=True)
            report.unplaced.append((origin, problem))
            continue
        if os.geteuid() == 0:  # nbgrader's collect checks that the student owns the submission
            for path in [inbound / entry.name, *(inbound / entry.name).rglob("*")]:
                os.lchown(path, info.st_uid, info.st_gid)
    return staging


def collect_exchange(course: Course) -> CollectReport:
    """Collect every released assignment's newest submissions from the hub's exchange.

    A submission made under another student's name, or holding links or special files, is
    refused with the reason. Submissions collected earlier are replaced by newer ones only.
    """
    if course.exchange is None:
        raise ValueError("the course has no exchange (give --exchange once, as deploy/hub.py prints)")
    assignments = course.released_assignments()
    if not assignments:
        raise ValueError("nothing is released yet: run `release` first")
    report = CollectReport()
    before = {key: _submission_stamp(course, *key) for key in course.submissions()}
    staging = _stage_inbound(course, assignments, report)
    try:
        api = course.api(**{"Exchange.root": str(staging)})
        for assignment in assignments:
            problem = _nbgrader_failure(api.collect(assignment))
            if problem:
                report.unplaced.append((f"exchange {assignment}", problem))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for student, assignment in course.submissions():
        stamp = _submission_stamp(course, student, assignment)
        if before.get((student, assignment)) != stamp:
            report.placed.append((student, assignment, f"exchange (submitted {stamp})"))
    return report


def _submission_stamp(course: Course, student: str, assignment: str) -> str:
    try:
        return (course.submitted(student, assignment).parent / "timestamp.txt").read_text().strip()
    except OSError:
        return ""


def release_feedback(course: Course, pages: FeedbackPages) -> list[tuple[str, str, str]]:
    """Put each finished feedback page into the exchange; ``(student, assignment, what happened)``.

    A submission whose written answers wait for a person is held back: its feedback would
    show a score that is not the grade.
    """
    waiting = _waiting_for_a_person(course)
    api = course.api()
    done = []
    for student, assignment in course.submissions():
        page = course.feedback_dir(student) / assignment / f"{assignment}.html"
        if (student, assignment) in waiting:
            done.append((student, assignment, f"held back: {NEEDS_MANUAL_GRADING}"))
        elif (student, assignment) in pages.failed or not page.is_file():
            done.append((student, assignment, "no feedback page"))
        else:
            problem = _nbgrader_failure(api.release_feedback(assignment, student))
            done.append((student, assignment, f"NOT released: {problem}" if problem else "released"))
    return done


# --- export -------------------------------------------------------------------------------

NEEDS_MANUAL_GRADING = "needs manual grading"
EXPORT_FORMATS = ("csv", "canvas", "moodle")
EXPORT_FILES = {"csv": "grades.csv", "canvas": "grades-canvas.csv", "moodle": "grades-moodle.csv"}


def _waiting_for_a_person(course: Course) -> set[tuple[str, str]]:
    """``(student, assignment)`` of graded submissions whose written answers nobody has graded yet.

    nbgrader marks a submission so when a manually graded cell was changed by the student and
    has no manual score (an untouched written answer scores 0 without waiting for anyone).
    """
    from nbgrader.api import Gradebook, MissingEntry

    if not Path(course.db_url.removeprefix("sqlite:///")).exists():
        return set()
    waiting = set()
    with Gradebook(course.db_url, COURSE_ID) as gradebook:
        for student, assignment in course.submissions():
            try:
                notebook = gradebook.find_submission_notebook(assignment, assignment, student)
            except MissingEntry:
                continue
            if notebook.needs_manual_grade:
                waiting.add((student, assignment))
    return waiting


def submission_status(store: StatusStore, waiting: set[tuple[str, str]], student: str, assignment: str) -> str:
    """The grader's status, and ``needs manual grading`` while a written answer waits for a person."""
    status = store.status(student, assignment)
    if status is None:
        return "not graded"
    if (student, assignment) in waiting and not status.startswith("failed"):
        return NEEDS_MANUAL_GRADING if status == "ok" else f"{status}; {NEEDS_MANUAL_GRADING}"
    return status


def grade_table(course: Course) -> tuple[list[str], list[dict]]:
    """The export's columns and rows: one row per student, score and status per notebook.

    A score is given only when it is final: graded, not failed, written answers graded. The
    autograded points of a submission still waiting for a person are not a grade yet.
    """
    assignments = course.released_assignments()
    store, scores, waiting = StatusStore(course), _scores(course), _waiting_for_a_person(course)
    maxima = _maxima(course)
    submitted = set(course.submissions())
    columns = ["student", *[c for a in assignments for c in (a, f"{a} status")], "total", "max"]
    rows = []
    # Everyone who submitted something, and everyone enrolled (a hub's students), even with nothing.
    for student in sorted({s for s, _ in submitted} | set(enrolled(course))):
        row = {"student": student}
        total = 0.0
        for a in assignments:
            if (student, a) not in submitted:
                row[a], row[f"{a} status"] = "", "missing"
                continue
            row[f"{a} status"] = submission_status(store, waiting, student, a)
            final = (student, a) in scores and (student, a) not in waiting
            row[a] = f"{scores[(student, a)][0]:g}" if final else ""
            total += scores[(student, a)][0] if final else 0.0
        row["total"], row["max"] = f"{total:g}", f"{sum(maxima.values()):g}"
        rows.append(row)
    return columns, rows


def _maxima(course: Course) -> dict[str, float]:
    """Each released assignment's points, autograded and written."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, COURSE_ID) as gradebook:
        return {a: gradebook.find_notebook(a, a).max_score for a in course.released_assignments()}


def enroll(course: Course, students: list[str]) -> list[str]:
    """Add students to the gradebook (the hub's accounts), so that one who submits nothing is
    ``missing`` in the export rather than absent; returns those who were not enrolled yet."""
    from nbgrader.api import Gradebook

    problems = [problem for student in students if (problem := _student_id_problem(student))]
    if problems:
        raise ValueError("; ".join(problems))
    course.prepare()
    known = set(enrolled(course))
    with Gradebook(course.db_url, COURSE_ID) as gradebook:
        for student in students:
            gradebook.update_or_create_student(student)
    return [student for student in students if student not in known]


def enrolled(course: Course) -> list[str]:
    """The students in the gradebook."""
    from nbgrader.api import Gradebook

    if not Path(course.db_url.removeprefix("sqlite:///")).exists():
        return []
    with Gradebook(course.db_url, COURSE_ID) as gradebook:
        return sorted(student.id for student in gradebook.students)


def _lms_ids(course: Course, lms: str) -> dict[str, str]:
    """``student id -> the LMS's id of that person``, for students first collected from that LMS."""
    record = course.private_dir / "lms_students.json"
    known = json.loads(record.read_text()) if record.exists() else {}
    prefix = f"{lms}:"
    return {student: identity.removeprefix(prefix) for identity, student in known.items()
            if identity.startswith(prefix)}


def _canvas(course: Course, assignments: list[str], rows: list[dict], maxima: dict) -> tuple[list[str], list[dict]]:
    """Canvas's Gradebook import CSV (Canvas LMS, "Import grades in the Gradebook", 2024-2025).

    The five identity columns Canvas writes in its own export, a "Points Possible" row, then
    one column per assignment (a new name makes a new assignment on import). Canvas matches a
    row by ``ID`` (its user id, known for students collected from a Canvas download) or by
    ``SIS Login ID`` (here the student id: the hub's username, the university login). A blank
    cell leaves the grade as it is: missing, failed and not yet manually graded submissions are
    left blank, never 0.
    """
    canvas_ids = _lms_ids(course, "canvas")
    columns = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *assignments]
    points = {"Student": "    Points Possible", **{a: f"{maxima[a]:g}" for a in assignments}}
    out = [points]
    for row in rows:
        student = row["student"]
        out.append({"Student": student, "ID": canvas_ids.get(student, ""), "SIS User ID": "",
                    "SIS Login ID": student, "Section": "", **{a: row[a] for a in assignments}})
    return columns, out


def _moodle(course: Course, assignments: list[str], rows: list[dict], maxima: dict) -> tuple[list[str], list[dict]]:
    """Moodle's "Import grades: CSV file" (Moodle 4.1-4.5 gradebook import).

    Moodle maps columns by hand on import: ``Username`` to "username" (the hub's usernames are
    the university logins), each ``<assignment>`` column to a grade item ("new grade item"
    creates it) and each ``<assignment> feedback`` column to that item's feedback, which carries
    the status. Moodle skips empty grade cells, so missing, failed and not yet manually graded
    submissions change nothing.
    """
    columns = ["Username", *[c for a in assignments for c in (a, f"{a} feedback")]]
    out = []
    for row in rows:
        entry = {"Username": row["student"]}
        for a in assignments:
            entry[a] = row[a]
            entry[f"{a} feedback"] = f"{row[a + ' status']}; out of {maxima[a]:g}"
        out.append(entry)
    return columns, out


def export(course: Course, destination: Path, format: str = "csv") -> list[dict]:
    """Write the grades as ``format``: ``csv`` (the course's own table), ``canvas`` or ``moodle``."""
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r} (one of {', '.join(EXPORT_FORMATS)})")
    columns, rows = grade_table(course)
    maxima = _maxima(course)
    assignments = course.released_assignments()
    if format == "canvas":
        columns, written = _canvas(course, assignments, rows, maxima)
    elif format == "moodle":
        columns, written = _moodle(course, assignments, rows, maxima)
    else:
        written = rows
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, restval="")
        writer.writeheader()
        writer.writerows(written)
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
