"""Verdicts computed outside the student's kernel.

For every test cell of a submission, the grader (this process, which never runs student code)
starts a fresh answer process in the sandbox (:mod:`autograder.answer_server`), has it run the
program :mod:`autograder.program` chose (imports, answers, the student's helpers), and then
executes the test cell's code, taken from the instructor's source notebook, HERE, with the
course's reference and checks. In that code each answer name is bound to a stand-in function
that sends its arguments to the answer process over the data-only channel and returns what
came back. So the expected values, the comparisons and the verdict are all computed by trusted
code; the student's code only ever produces data.

Checks draw their random cases from a salt chosen now (:func:`course_lib.checks.fresh_cases`),
so the student cannot know the inputs in advance, even with the source notebooks at hand.

A fresh answer process per test cell also means that a process that answered a hidden test is
never asked anything whose message a student sees.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import os
import secrets
import signal
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import program as programs
from . import sandbox, wire

HIDDEN_MARKER = "BEGIN HIDDEN TESTS"
# What one test may receive from the answers: far above what any exercise returns, and a bound
# on the grader's memory whatever the student's code sends.
REPLY_BYTES = 16 << 20
TEST_BYTES = 256 << 20
REPOSITORY = Path(__file__).resolve().parents[1]
# What the answer process may import of the project: the wire format and the server, and the
# parts of course_lib that are not the reference (no optimizers, no checks).
_VISIBLE_OF_PROJECT = ("autograder/__init__.py", "autograder/wire.py", "autograder/answer_server.py",
                       "course_lib/__init__.py", "course_lib/data.py", "course_lib/functions.py",
                       "course_lib/models.py")
# The installed packages the answer process may use: numpy, and matplotlib with what it needs (an
# answer may plot). Every other top-level package is hidden: torch and scikit-learn hold optimizers,
# and nothing else is needed. The editable install's finder and setuptools' hook stay.
ALLOWED_PACKAGES = frozenset({
    "numpy", "numpy.libs", "matplotlib", "mpl_toolkits", "matplotlib_inline", "contourpy", "cycler",
    "fontTools", "kiwisolver", "packaging", "PIL", "pillow.libs", "pyparsing", "dateutil", "_distutils_hack",
    "__pycache__",
})
# Where the sandbox cannot hide files, an import hook refuses the rest of course_lib instead: every
# module and package beside the visible ones, found on disk so that a new module is refused too.
_VISIBLE_OF_COURSE_LIB = {Path(name).stem for name in _VISIBLE_OF_PROJECT if name.startswith("course_lib/")}
BLOCKED_MODULES = tuple(sorted(
    f"course_lib.{entry.stem}" for entry in (REPOSITORY / "course_lib").iterdir()
    if entry.stem not in _VISIBLE_OF_COURSE_LIB and not entry.name.startswith((".", "__"))
    and (entry.suffix == ".py" or (entry / "__init__.py").is_file())))


@dataclass(frozen=True)
class Budget:
    """Time limits: a test cell as a whole, one statement of the student's code while it loads."""

    cell_seconds: float = 30.0
    statement_seconds: float = 10.0
    notebook_seconds: float = 300.0


class AnswerTimeout(TimeoutError):
    """An answer function did not return in time."""


class AnswerProcessDied(RuntimeError):
    """The process running the student's code ended during a call."""


class CellTimeout(BaseException):
    """The test cell as a whole ran out of time (a BaseException, so that checks do not catch it)."""


class Stalled(Exception):
    """A statement of the student's code hung or ended the process while the answers were loading."""

    def __init__(self, cell: str, line: int, statement: int, reason: str):
        super().__init__(f"{cell} line {line}: {reason}")
        self.cell, self.line, self.statement, self.reason = cell, line, statement, reason


@dataclass
class Loaded:
    errors: list[dict]
    answers: dict[str, dict]
    decoder: wire.Decoder


def _learner_where(where) -> str:
    if not isinstance(where, dict):
        return ""
    text = str(where.get("text", ""))[:200]
    return (f"\n  in your code ({str(where.get('function', '?'))[:80]} in {str(where.get('cell', '?'))[:80]}, "
            f"line {where.get('line', '?')})" + (f": {text}" if text else ""))


@functools.lru_cache(maxsize=None)
def unneeded_packages() -> tuple[str, ...]:
    """The installed package directories the answer process must not see (see ALLOWED_PACKAGES)."""
    found = set()
    for key in ("purelib", "platlib"):
        root = Path(sysconfig.get_paths()[key])
        if root.is_dir():
            found |= {str(entry) for entry in root.iterdir() if entry.is_dir() and entry.name not in ALLOWED_PACKAGES
                      and not entry.name.endswith((".dist-info", ".egg-info"))}
    return tuple(sorted(found))


class AnswerProcess:
    """One sandboxed process that holds a student's answers and runs them on request."""

    def __init__(self, limits, isolate: bool | None, budget: Budget):
        self.limits, self.isolate, self.budget = limits, isolate, budget
        self.box = None
        self.dead: str | None = None
        self.deadline: float | None = None
        self.undefined: set[str] = set()  # names the student's code found undefined during calls
        self.received = 0  # bytes of replies in this test

    # --- lifetime ------------------------------------------------------------------------

    def start(self, program: programs.Program, skip: set[tuple[str, int]]) -> Loaded:
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        command = [sys.executable, "-I", "-m", "autograder.answer_server", str(to_child), str(from_child)]
        readable = [str(REPOSITORY / p) for p in _VISIBLE_OF_PROJECT]
        env = {"MPLBACKEND": "agg", "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            self.box = sandbox.Sandbox(command, readable=readable, limits=self.limits,
                                       pass_fds=(to_child, from_child), env=env, isolate=self.isolate,
                                       hidden=unneeded_packages())
        finally:
            os.close(to_child)
            os.close(from_child)
        wire.write_frame(self._write, {"op": "load", "pieces": [p.as_message() for p in program.pieces],
                                       "answers": program.answers, "skip": sorted(skip),
                                       "blocked": list(BLOCKED_MODULES)})
        running = None
        while True:
            deadline = time.monotonic() + self.budget.statement_seconds
            try:
                header, blobs = wire.read_frame(self._read, deadline)
            except wire.ChannelTimeout:
                self.close()
                if running is None:
                    raise Stalled("setup", 0, -1, "the answer process did not start") from None
                raise Stalled(running["cell"], running["line"], running["statement"],
                              f"did not finish within {self.budget.statement_seconds:g} s") from None
            except wire.WireError as error:
                exit_reason = self.close()
                if running is None:
                    raise RuntimeError(f"the answer process could not start ({exit_reason}): {error}") from None
                raise Stalled(running["cell"], running["line"], running["statement"],
                              f"ended the process that runs your code ({exit_reason})") from None
            if header.get("op") == "running":
                running = {"cell": str(header.get("cell"))[:100], "line": _int(header.get("line")),
                           "statement": _int(header.get("statement"))}
            elif header.get("op") == "loaded":
                errors = header.get("errors") if isinstance(header.get("errors"), list) else []
                answers = header.get("answers") if isinstance(header.get("answers"), dict) else {}
                return Loaded([e for e in errors if isinstance(e, dict)], answers, wire.Decoder(header, blobs))
            else:
                self.close()
                raise Stalled("setup", 0, -1, "the answer process broke the protocol")

    def close(self) -> str:
        """Kill the sandbox (idempotent); return how the process ended."""
        reason = ""
        if self.box is not None:
            self.box.kill()
            reason = self.box.describe_exit()
            self.box = None
            for fd in (self._read, self._write):
                with contextlib.suppress(OSError):
                    os.close(fd)
        return reason

    # --- calls ---------------------------------------------------------------------------

    def call(self, name: str, args: tuple, kwargs: dict):
        if self.dead:
            raise AnswerTimeout(self.dead) if "did not return" in self.dead else AnswerProcessDied(self.dead)
        callbacks: list = []
        encoder = wire.Encoder(callbacks=callbacks)
        value = encoder.encode({"args": list(args), "kwargs": kwargs})
        inputs = encoder.objects
        raised_here: dict[int, BaseException] = {}
        try:
            wire.write_frame(self._write, encoder.header(op="call", name=name, value=value), encoder.blobs)
            while True:
                header, blobs = wire.read_frame(self._read, self.deadline, max_bytes=REPLY_BYTES)
                self.received += sum(map(len, blobs))
                if self.received > TEST_BYTES:
                    raise wire.WireError(f"it sent more than {TEST_BYTES >> 20} MiB in all")
                if header.get("op") == "callback":
                    self._answer_callback(header, blobs, callbacks, raised_here)
                    continue
                if header.get("op") not in ("returned", "raised"):
                    raise wire.WireError("an unexpected message")
                decoder = wire.Decoder(header, blobs, inputs=inputs)
                self._write_back(header, decoder, inputs, encoder, args, kwargs)
                if header["op"] == "returned":
                    return decoder.decode(header.get("value"))
                self.note_undefined(header)
                raised = self._exception(header, raised_here)
                break
        except wire.ChannelTimeout:
            self.dead = (f"{name} did not return within the {self.budget.cell_seconds:g} s this test has "
                         f"(an endless loop?)")
            self.close()
            raise AnswerTimeout(self.dead) from None
        except (wire.ChannelClosed, OSError) as error:
            self.dead = f"{name} ended the process that runs your code ({self.close() or error})"
            raise AnswerProcessDied(self.dead) from None
        except wire.WireError as error:
            self.close()
            self.dead = f"{name} sent the grader something it refuses ({error}); grading stopped it"
            raise AnswerProcessDied(self.dead) from None
        except BaseException:
            self.dead = "grading stopped this test"
            self.close()
            raise
        # Raised here, outside the protocol's try: the student's exception leaves the process alive.
        raise raised

    def _answer_callback(self, header, blobs, callbacks, raised_here) -> None:
        number = header.get("id")
        if not isinstance(number, int) or not 0 <= number < len(callbacks):
            raise wire.WireError("a call of a function that was not passed")
        request = wire.Decoder(header, blobs).decode(header.get("value"))
        if not isinstance(request, dict) or not isinstance(request.get("args"), list) or \
                not isinstance(request.get("kwargs"), dict) or not all(isinstance(k, str) for k in request["kwargs"]):
            raise wire.WireError("a malformed call of a passed function")
        try:
            result = callbacks[number](*request["args"], **request["kwargs"])
        except Exception as error:  # noqa: BLE001 - goes back to the student's code, as it would in a kernel
            token = len(raised_here)
            raised_here[token] = error
            wire.write_frame(self._write, {"op": "callback_raised", "token": token, "type": type(error).__name__,
                                           "message": str(error)[:500]})
            return
        encoder = wire.Encoder()
        value = encoder.encode(result)
        wire.write_frame(self._write, encoder.header(op="callback_result", value=value), encoder.blobs)

    @staticmethod
    def _write_back(header, decoder: wire.Decoder, inputs, encoder: wire.Encoder, args, kwargs) -> None:
        """Make the grader's copies of the arguments what the student's function left them as."""
        for item in header.get("mutated") or []:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)
                    and 0 <= item[0] < len(inputs)):
                raise wire.WireError("malformed write-back")
            original, changed = inputs[item[0]], decoder.blob(item[1])
            if original is not None and original.flags.writeable and changed.shape == original.shape:
                np.copyto(original, changed, casting="unsafe")
        for item in header.get("after") or []:
            if not isinstance(item, list) or len(item) != 2:
                raise wire.WireError("malformed write-back")
            key, value = item[0], decoder.decode(item[1])
            original = (args[key] if isinstance(key, int) and 0 <= key < len(args)
                        else kwargs.get(key) if isinstance(key, str) else None)
            if isinstance(original, dict) and isinstance(value, dict):
                original.clear()
                original.update(value)
            elif isinstance(original, list) and isinstance(value, list):
                original[:] = value
        for item in header.get("rng_after") or []:
            if isinstance(item, list) and len(item) == 2 and isinstance(item[0], int) \
                    and 0 <= item[0] < len(encoder.generators):
                wire.set_generator_state(encoder.generators[item[0]], item[1])

    @staticmethod
    def _exception(header, raised_here) -> BaseException:
        token = header.get("token")
        if isinstance(token, int) and token in raised_here:
            return raised_here[token]
        from .answer_server import rebuilt_exception

        error = rebuilt_exception(str(header.get("type", "Exception"))[:80], str(header.get("message", ""))[:1000])
        error.learner_where = _learner_where(header.get("where"))
        return error

    def note_undefined(self, header) -> None:
        message = str(header.get("message", ""))
        if header.get("type") == "NameError" and message.count("'") >= 2:
            self.undefined.add(message.split("'")[1])


def _int(value) -> int:
    return value if isinstance(value, int) else 0


def answer_function(process: AnswerProcess, name: str, description: dict, defaults: wire.Decoder):
    """A stand-in for the student's ``name``: same name and signature, calls go to ``process``."""

    def stand_in(*args, **kwargs):
        return process.call(name, args, kwargs)

    stand_in.__name__ = stand_in.__qualname__ = name
    parameters = description.get("parameters")
    if isinstance(parameters, list):
        try:
            stand_in.__signature__ = inspect.Signature([
                inspect.Parameter(str(p["name"]), inspect._ParameterKind(p["kind"]),
                                  **({"default": defaults.decode(p["default"])} if "default" in p else {}))
                for p in parameters])
        except (KeyError, TypeError, ValueError, wire.WireError):
            stand_in.__signature__ = None
    return stand_in


# --- running the tests -------------------------------------------------------------------

@dataclass
class Verdict:
    grade_id: str
    passed: bool
    text: str
    hidden: bool


@dataclass
class Report:
    verdicts: list[Verdict] = field(default_factory=list)
    cell_notes: dict[str, list[str]] = field(default_factory=dict)  # answer cell label -> notes
    flags: list[str] = field(default_factory=list)


def _mistake_names(error) -> list[str]:
    from course_lib.checks import EXERCISE_MISTAKES, MISTAKES

    named = {m.id: m for ms in EXERCISE_MISTAKES.values() for m in ms} | MISTAKES
    return [f'"{named[i].name}": {named[i].hint}' for i in getattr(error, "mistakes", ()) if i in named]


def _hidden_text(error: BaseException, answers: list[str], grade_id: str) -> str:
    """What a student may see of a failed hidden test: grader-written words only."""
    lines = [f"A hidden test failed ({grade_id})."]
    if isinstance(error, (AnswerTimeout, AnswerProcessDied, CellTimeout)):
        lines.append(str(error) if not isinstance(error, CellTimeout) else
                     "The test did not finish in the time it has.")
    elif isinstance(error, NameError) and getattr(error, "name", None) in answers:
        lines.append(f"{error.name} is not defined when your answer cells run on their own.")
    lines += [f"It matches a classic mistake, {name}" for name in _mistake_names(error)]
    return "\n".join(lines)


def _visible_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class _Timer:
    """Raise :class:`CellTimeout` in this (main) thread after ``seconds``."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def _fire(self, signum, frame):
        raise CellTimeout()

    def __enter__(self):
        self.previous = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 0.001))

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)
        return False


def _trusted_namespace(source_nb) -> dict:
    """The source setup cell run here: the names the test cells expect (np, course_lib, ...)."""
    namespace: dict = {"__name__": "__grading__"}
    first = next((c for c in source_nb.cells if c.cell_type == "code"), None)
    if first is not None:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(programs.python_source(first.source), "<setup>", "exec"), namespace)
    return namespace


def _notes_for(loaded: Loaded, program: programs.Program) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for error in loaded.errors:
        cell = str(error.get("cell"))[:100]
        if cell == programs.SETUP:
            continue  # an import the sandbox does not offer; a use of the name says so
        message = str(error.get("message", ""))[:300]
        name = message.split("'")[1] if error.get("type") == "NameError" and message.count("'") >= 2 else None
        extra = (f" ({name} is defined in {program.lesson_names[name]}, a lesson cell that grading does not run)"
                 if name in program.lesson_names else "")
        notes.setdefault(cell, []).append(
            f"When grading ran this cell on its own, line {error.get('line')} raised "
            f"{str(error.get('type'))[:80]}: {message}{extra}")
    return notes


def judge(source_nb, submitted_nb, *, limits=None,
          isolate: bool | None = None, budget: Budget = Budget(), salt: int | None = None) -> Report:
    """Run every test cell of ``submitted_nb`` (code from ``source_nb``) against its answers."""
    limits = limits or sandbox.SandboxLimits()
    report = Report()
    sources = {c.metadata.nbgrader["grade_id"]: c.source for c in source_nb.cells if programs.is_test(c)}
    namespace = _trusted_namespace(source_nb)
    skip: set[tuple[str, int]] = set()  # statements that hung or ended the process, for every later test
    finish = time.monotonic() + budget.notebook_seconds
    salt = secrets.randbits(62) if salt is None else salt
    for index, cell in enumerate(submitted_nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not programs.is_test(cell) or grade_id not in sources:
            continue
        hidden = HIDDEN_MARKER in sources[grade_id]
        if finish <= time.monotonic():
            report.verdicts.append(Verdict(grade_id, False, "Not run: the notebook ran out of its time.", hidden))
            continue
        program = programs.build(source_nb, submitted_nb, index)
        process = AnswerProcess(limits, isolate, budget)
        try:
            loaded = _load(process, program, skip, report)
            for label, notes in _notes_for(loaded, program).items():
                known = report.cell_notes.setdefault(label, [])
                known += [n for n in notes if n not in known]
            # Loading is the answers' own time (a stalled statement is skipped); the test gets its own.
            seconds = min(budget.cell_seconds, max(finish - time.monotonic(), 0.001))
            passed, text = _run_test(sources[grade_id], grade_id, hidden, namespace, process, program, loaded,
                                     report, salt, seconds)
            report.verdicts.append(Verdict(grade_id, passed, text, hidden))
        finally:
            process.close()
    return report


def _run_test(code: str, grade_id: str, hidden: bool, namespace: dict, process: AnswerProcess,
              program: programs.Program, loaded: Loaded, report: Report, salt: int,
              seconds: float) -> tuple[bool, str]:
    """Execute one test cell's code here, the answers bound to stand-ins; ``(passed, what to show)``."""
    from course_lib import checks

    for name in program.answers:
        namespace.pop(name, None)
        description = loaded.answers.get(name)
        if isinstance(description, dict) and "parameters" in description:
            namespace[name] = answer_function(process, name, description, loaded.decoder)
    process.deadline = time.monotonic() + seconds
    printed = io.StringIO()
    try:
        with checks.fresh_cases(salt), contextlib.redirect_stdout(printed), _Timer(seconds):
            exec(compile(code, f"<test {grade_id}>", "exec"), namespace)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - every other failure is a verdict
        text = _hidden_text(error, program.answers, grade_id) if hidden else _visible_text(error)
        if isinstance(error, NameError) and getattr(error, "name", None) in program.answers:
            text += _why_undefined(error.name, loaded, report)
        return False, text + _missing_names(process.undefined, program, loaded)
    return True, "Hidden tests passed." if hidden else (printed.getvalue()[-10_000:] or "Passed.")


def _missing_names(names: set[str], program: programs.Program, loaded: Loaded) -> str:
    """Why names the answers used were undefined, when grading knows: a lesson cell, a lesson import."""
    failed_imports = {line: error for error in loaded.errors if error.get("cell") == programs.SETUP
                      for line in [error.get("line")]}
    notes = []
    for name in sorted(names):
        if name in program.lesson_names:
            notes.append(f"{name} is defined in {program.lesson_names[name]}, a lesson cell that grading does "
                         f"not run: an answer must define or import what it uses.")
        elif program.setup_lines.get(name) in failed_imports:
            notes.append(f"{name} comes from the lesson's imports, which grading cannot offer "
                         f"({str(failed_imports[program.setup_lines[name]].get('message'))[:120]}): "
                         f"an answer may not use the reference.")
    return "".join("\n" + note for note in notes)


def _why_undefined(name: str, loaded: Loaded, report: Report) -> str:
    """What kept an answer from being defined: it is not a function, or its cell's problems."""
    described = loaded.answers.get(name)
    if isinstance(described, dict) and "not_callable" in described:
        return f"\n{name} is a {str(described['not_callable'])[:60]}, not a function."
    problems = [n for notes in report.cell_notes.values() for n in notes]
    return ("\n" + "\n".join(problems[:3])) if problems else ""


def _load(process: AnswerProcess, program: programs.Program, skip: set, report: Report) -> Loaded:
    """Start ``process`` on ``program``, skipping (and flagging) statements that hang or kill it."""
    for _ in range(8):
        try:
            return process.start(program, skip)
        except Stalled as stalled:
            if stalled.statement < 0:
                raise RuntimeError(f"the answer process could not start: {stalled.reason}") from None
            skip.add((stalled.cell, stalled.statement))
            note = (f"Line {stalled.line} {stalled.reason}; grading skipped that statement "
                    f"and ran the rest of your code.")
            report.cell_notes.setdefault(stalled.cell, []).append(note)
            report.flags.append(f"{stalled.cell} line {stalled.line} {stalled.reason} (skipped)")
    raise RuntimeError("the answer process kept stalling on the student's code")
