"""Autograding every submission in parallel, resumably, with a recorded status for each.

A pool of long-lived worker processes (importing nbgrader once each) calls
``NbGraderAPI.autograde`` for one submission at a time; every notebook gets a fresh kernel
started through :mod:`autograder.sandbox`. The main process alone writes the status file, one
record per submission, after each result:

* ``ok``: graded, no sign of tampering;
* ``flagged: <reasons>``: graded, but the student's code did something a correct answer never
  needs to (see :mod:`autograder.integrity`); the score is kept for an instructor to review;
* ``failed: <reason>``: nbgrader could not grade it (timeout, kernel died, unreadable file).

A record carries the submitted file's digest, so re-running ``grade`` skips what is already
graded, resumes an interrupted run, and regrades a submission only when its file changed.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from . import integrity, sandbox
from .course import COURSE_ID, Course

OK = "ok"
SANDBOX_UID_BASE = 61000


@dataclass(frozen=True)
class Limits:
    """Time and resource limits for one notebook's kernel."""

    notebook_seconds: float = 300.0
    max_output_bytes: int = 1_000_000
    memory_bytes: int = 4 << 30
    file_bytes: int = 64 << 20
    processes: int = 256
    tmp_size: str = "256m"


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


def sandbox_settings(course: Course, limits: Limits, isolate: bool) -> dict:
    """What :func:`autograder.sandbox.launch` needs, minus the per-worker pid file and uid."""
    return {
        "hide": course.hidden_from_students() if isolate else [],
        "memory_bytes": limits.memory_bytes, "file_bytes": limits.file_bytes,
        "processes": limits.processes, "tmp_size": limits.tmp_size,
    }


_uid_lock = None


def _reserve_uid() -> int:
    """A sandbox uid that no other grading process on this machine holds, for this process's life.

    After each notebook every process of the uid is killed, so two runs (two courses, a release
    and a grade) sharing a uid would kill each other's kernels. An exclusive lock per uid, held
    until the process exits, keeps them apart.
    """
    global _uid_lock
    import fcntl
    import tempfile

    lock_dir = Path(tempfile.gettempdir()) / "autograder-uid-locks"
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    for uid in range(SANDBOX_UID_BASE, SANDBOX_UID_BASE + 1000):
        handle = open(lock_dir / str(uid), "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _uid_lock = handle
        return uid
    raise RuntimeError(f"no free sandbox uid in {SANDBOX_UID_BASE}..{SANDBOX_UID_BASE + 999}")


def _configure_process_for(course: Course, settings: dict, slot: int, isolate: bool) -> dict:
    """Per-worker sandbox settings; puts the sandbox kernel spec on this process's JUPYTER_PATH."""
    jupyter_dir = course.private_dir / "jupyter"
    sandbox.install_kernel_spec(jupyter_dir)
    os.environ["JUPYTER_PATH"] = str(jupyter_dir)
    worker_dir = course.private_dir / "workers" / str(slot)
    shutil.rmtree(worker_dir, ignore_errors=True)
    worker_dir.mkdir(parents=True)
    uid = _reserve_uid() if isolate else None
    settings = {**settings, "pidfile": str(worker_dir / "kernel.pid"), "uid": uid, "gid": uid,
                "scratch_root": str(worker_dir)}
    os.environ[sandbox.SETTINGS_VARIABLE] = json.dumps(settings)
    return settings


def grading_api(course: Course, limits: Limits, nonce: str = ""):
    """nbgrader's API with the sandbox kernel, the output guard and the integrity probes."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from .preprocessors import GuardedExecute, InsertProbes

    defaults = Autograde.class_traits()
    return course.api(**{
        "Execute.kernel_name": sandbox.KERNEL_NAME,
        "GuardedExecute.max_output_bytes": limits.max_output_bytes,
        "InsertProbes.nonce": nonce,
        "Autograde.sanitize_preprocessors": [*defaults["sanitize_preprocessors"].default(), InsertProbes],
        "Autograde.autograde_preprocessors": [GuardedExecute if step is Execute else step
                                              for step in defaults["autograde_preprocessors"].default()],
    })


def failure_reason(result: dict) -> str:
    """A short reason from nbgrader's captured log and traceback of a failed autograde."""
    text = result.get("log", "") + result.get("error", "")
    if "DeadKernelError" in text or "Kernel died" in text:
        return "kernel died"
    if "CellTimeoutError" in text or "UnresponsiveKernelError" in text or "became unresponsive" in text:
        return "timeout: a cell kept running after it was interrupted"
    if "NotJSONError" in text or "Notebook does not appear to be JSON" in text or "Unreadable" in text:
        return "could not execute: not a readable notebook"
    errors = [line.strip() for line in text.splitlines()
              if re.match(r"\s*[\w.]*(Error|Exception): ", line) and "NbGraderException" not in line]
    return f"could not execute: {errors[-1] if errors else 'nbgrader reported an error'}"


def timed_out_cells(nb, source) -> list[str]:
    """Labels of the student's and the tests' cells that nbgrader's per-cell timeout interrupted.

    A lesson cell left as written can stall for reasons of its own (nbclient and widgets under
    load); that is not the student's doing, and the tests after it still decide the grade.
    """
    lesson = {cell.source for cell in source.cells if not cell.metadata.get("nbgrader", {}).get("grade")
              and not cell.metadata.get("nbgrader", {}).get("solution")}
    labels = []
    for index, cell in enumerate(nb.cells):
        if cell.source in lesson or integrity.is_probe(cell):
            continue
        if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            labels.append(cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}")
    return labels


class _Worker:
    """One grading process's state: its API, sandbox settings and uid."""

    def __init__(self, course: Course, limits: Limits, settings: dict, slot: int, isolate: bool):
        self.course, self.limits = course, limits
        self.settings = _configure_process_for(course, settings, slot, isolate)
        self.api = grading_api(course, limits)

    def _kill_kernel(self, fired: threading.Event) -> None:
        fired.set()
        try:
            os.kill(int(Path(self.settings["pidfile"]).read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass  # the kernel had already gone

    def grade(self, student: str, assignment: str) -> str:
        import nbformat
        from traitlets.config import Config

        Path(self.settings["pidfile"]).unlink(missing_ok=True)
        nonce = secrets.token_hex(16)
        self.api.update_config(Config({"InsertProbes": {"nonce": nonce}}))
        fired = threading.Event()
        watchdog = threading.Timer(self.limits.notebook_seconds, self._kill_kernel, (fired,))
        watchdog.start()
        try:
            result = self.api.autograde(assignment, student, force=True, create=True)
        finally:
            watchdog.cancel()
            if self.settings["uid"] is not None:
                sandbox.kill_processes_of(self.settings["uid"])
        if fired.is_set():
            return f"failed: timeout: the notebook ran longer than {self.limits.notebook_seconds:g} s"
        if not result["success"]:
            return f"failed: {failure_reason(result)}"
        nb = nbformat.read(self.course.autograded(student, assignment), as_version=4)
        source = nbformat.read(self.course.source(assignment), as_version=4)
        stalled = timed_out_cells(nb, source)
        if stalled:
            return f"failed: timeout in {', '.join(stalled)}"
        reasons = integrity.read_probes(nb, nonce) + integrity.scan_student_code(nb, source)
        return f"flagged: {'; '.join(reasons)}" if reasons else OK


_worker: _Worker | None = None
_worker_error = ""


def _start_worker(course, limits, settings, slots, isolate) -> None:
    global _worker, _worker_error
    # Ctrl-C goes to the main process, which stops the pool; workers must not die mid-write.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # nbgrader's gradebook code trips SQLAlchemy 2 warnings that say nothing about grading.
    warnings.filterwarnings("ignore", module="nbgrader|nbformat")
    try:
        _worker = _Worker(course, limits, settings, slots.get(), isolate)
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
    isolate = sandbox.can_isolate()
    settings = sandbox_settings(course, limits, isolate)
    count = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    context = multiprocessing.get_context("fork")
    slots = context.Queue()
    for slot in range(count):
        slots.put(slot)
    outcomes = []
    with context.Pool(count, _start_worker, (course, limits, settings, slots, isolate)) as pool:
        bar = tqdm(total=len(jobs), unit="notebook", desc="grading", disable=not progress)
        for outcome in pool.imap_unordered(_grade_job, jobs):
            store.record(outcome)
            outcomes.append(outcome)
            bar.update()
            if outcome.status != OK:
                bar.write(f"{outcome.student}/{outcome.assignment}: {outcome.status}")
        bar.close()
    return outcomes


def protection_summary(course: Course, limits: Limits = Limits()) -> str:
    isolate = sandbox.can_isolate()
    settings = {**sandbox_settings(course, limits, isolate), "uid": SANDBOX_UID_BASE if isolate else None}
    return "sandbox: " + ", ".join(sandbox.protections(settings))

