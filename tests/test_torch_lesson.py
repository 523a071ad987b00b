"""Lesson 15 (torch.optim) with and without torch.

Without torch the lesson must stop cleanly: its first code cell says how to install torch, every later
cell only says that it did not run, nothing raises; the notebook tests skip it with the reason, and the
autograder neither releases it (skipped, not a problem) nor gives a silent 0 for it (``failed`` with the
reason). With torch, the release is proven (the solution scores every point, the release none) and a
wrong answer loses exactly the points of its exercise, with the classic mistake named.

"Without torch" is made two ways: for a kernel, a package named ``torch`` on ``PYTHONPATH`` whose import
fails as a missing one does; in this process, ``sys.modules["torch"] = None``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.preprocessors import ClearSolutions

from autograder import commands
from autograder.__main__ import main
from autograder.course import Course, requirement_problem, requirements
from autograder.grading import Limits, StatusStore, grade
from course_lib import torch_bridge

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "15_torch_optim.ipynb"
ASSIGNMENT = LESSON.stem
LIMITS = Limits(notebook_seconds=240)


@pytest.fixture
def no_torch_here(monkeypatch):
    """This process, as if torch were not installed."""
    monkeypatch.setitem(sys.modules, "torch", None)


@pytest.fixture
def no_torch_in_kernels(tmp_path, monkeypatch):
    """Kernels started from now on find a ``torch`` that cannot be imported."""
    package = tmp_path / "hidden" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n')
    monkeypatch.setenv("PYTHONPATH", str(package.parent))


def _code(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _text(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.output_type == "stream")


def test_the_lesson_declares_that_it_needs_torch_and_asks_for_it_in_its_setup_cell():
    assert requirements(LESSON) == ("torch",)
    setup = _code(nbformat.read(LESSON, as_version=4))[0]
    assert "torch = torch_bridge.require_torch(" in setup.source
    assert setup.metadata.nbgrader["grade_id"] == "setup" and setup.metadata.nbgrader["locked"]


@pytest.mark.notebook
def test_without_torch_the_lesson_stops_cleanly_after_saying_how_to_install_it(no_torch_in_kernels):
    nb = nbformat.read(LESSON, as_version=4)
    student, _ = ClearSolutions(enforce_metadata=True).preprocess(nb, {})
    student.cells.append(nbformat.v4.new_code_cell("!echo shell commands still run"))
    NotebookClient(student, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(LESSON.parent)}}).execute()
    cells = _code(student)
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(cells) for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    setup = _text(cells[0])
    assert "This lesson needs PyTorch" in setup and "pip install torch --index-url " \
        "https://download.pytorch.org/whl/cpu" in setup and "restart the kernel" in setup
    assert all(_text(cell) == torch_bridge.SKIPPED_NOTE + "\n" for cell in cells[1:-1]), \
        [_text(cell) for cell in cells[1:-1]]
    assert _text(cells[-1]).strip() == "shell commands still run"


def test_without_torch_the_notebook_tests_and_the_release_skip_the_lesson_with_the_reason(no_torch_here, tmp_path,
                                                                                         capsys):
    problem = requirement_problem(LESSON)
    assert problem.startswith(f"needs torch, which cannot be imported by {sys.executable} (ModuleNotFoundError: ")
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in problem

    course = Course(root=tmp_path / "course")
    (proof,) = commands.release(course, [ASSIGNMENT], None, LIMITS)
    assert proof.skipped == problem and proof.problem == "" and not proof.proven
    assert proof.describe() == f"{ASSIGNMENT}: SKIPPED, not released: {problem}"
    assert not course.release(ASSIGNMENT).exists()
    assert main(["--course-dir", str(tmp_path / "other"), "release", ASSIGNMENT]) == 0
    assert "SKIPPED, not released: needs torch" in capsys.readouterr().out


def _text_of_source(source, cell) -> str:
    """The source notebook's text of ``cell``, found by its grade_id (a release does not hold hidden tests)."""
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return next((c.source for c in source.cells if grade_id and c.metadata.get("nbgrader", {}).get("grade_id")
                 == grade_id), "")


def _student(release, source, wrong: dict[str, str] | None = None):
    """The release with the source's answers filled in, some of them replaced by ``wrong`` code."""
    answers = {c.metadata.nbgrader["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    answers.update(wrong or {})
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers and cell.cell_type == "code":
            cell.source = answers[grade_id]
    return nb


SCHEDULER_FIRST = '''
def train_epochs(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = []
    for _ in range(epochs):
        scheduler_step()
        for batch in batches:
            zero_grad()
            losses.append(backward(batch))
            step()
    return losses
'''

DEFAULT_DECAY = '''
def decay_groups(named_shapes, weight_decay):
    return [{"params": [n for n, s in named_shapes if len(s) >= 2], "weight_decay": weight_decay},
            {"params": [n for n, s in named_shapes if len(s) < 2]}]
'''

# Right answers that print every input they are given: the hidden tests' inputs must not come back.
LEAKS_ITS_INPUTS = {
    "decay_groups_answer": '''
def decay_groups(named_shapes, weight_decay):
    print("LEAKED", list(named_shapes), weight_decay)
    return [{"params": [n for n, s in named_shapes if len(s) >= 2], "weight_decay": weight_decay},
            {"params": [n for n, s in named_shapes if len(s) < 2], "weight_decay": 0.0}]
'''.strip(),
    "train_epochs_answer": '''
def train_epochs(batches, epochs, zero_grad, backward, step, scheduler_step):
    print("LEAKED", list(batches), epochs)
    losses = []
    for _ in range(epochs):
        for batch in batches:
            zero_grad()
            losses.append(backward(batch))
            step()
        scheduler_step()
    return losses
'''.strip(),
}


@pytest.mark.torch
@pytest.mark.grading
def test_with_torch_the_release_is_proven_and_a_wrong_answer_loses_its_exercises_points(tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="lesson 15 needs torch: pip install torch==2.13.0")
    course = Course(root=tmp_path / "course", cell_timeout=60)
    (proof,) = commands.release(course, [ASSIGNMENT], None, LIMITS)
    assert proof.proven, proof.describe()
    assert (proof.solution.score, proof.solution.max_score, proof.release.score) == (10, 10, 0)

    source = nbformat.read(course.source(ASSIGNMENT), as_version=4)
    release = nbformat.read(course.release(ASSIGNMENT), as_version=4)
    inbox = tmp_path / "inbox"
    students = {"correct": _student(release, source),
                "scheduler_first": _student(release, source, {"train_epochs_answer": SCHEDULER_FIRST.strip()}),
                "default_decay": _student(release, source, {"decay_groups_answer": DEFAULT_DECAY.strip()}),
                "leaks": _student(release, source, LEAKS_ITS_INPUTS)}
    for student, nb in students.items():
        (inbox / student).mkdir(parents=True)
        nbformat.write(nb, inbox / student / LESSON.name)
    assert commands.collect(course, inbox).unplaced == []
    grade(course, limits=LIMITS, progress=False, workers=2)
    rows = {row["student"]: row for row in commands.grade_table(course)[1]}
    assert {s: (rows[s][ASSIGNMENT], rows[s][f"{ASSIGNMENT} status"]) for s in students} == {
        "correct": ("10", "ok"), "scheduler_first": ("5", "ok"), "default_decay": ("5", "ok"), "leaks": ("10", "ok")}
    graded = nbformat.read(course.autograded("scheduler_first", ASSIGNMENT), as_version=4)
    shown = {c.metadata.nbgrader["grade_id"]: "".join(o.get("text", "") + o.get("evalue", "") for o in c.outputs)
             for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    assert "the scheduler stepped before the optimizer" in shown["train_epochs_visible"]
    assert shown["train_epochs_hidden"].startswith("A hidden test failed (train_epochs_hidden).")
    assert "the scheduler stepped before the optimizer" in shown["train_epochs_hidden"]
    leaks = nbformat.read(course.autograded("leaks", ASSIGNMENT), as_version=4)
    hidden = [cell for cell in leaks.cells if "BEGIN HIDDEN TESTS" in _text_of_source(source, cell)]
    assert len(hidden) == 2
    for cell in hidden:
        said = "".join(o.get("text", "") + o.get("evalue", "") for o in cell.outputs)
        assert said.startswith("Hidden tests passed.") and "LEAKED" not in said, said

    # torch gone from the grader afterwards: a new submission is not graded 0, it fails with the reason.
    nbformat.write(students["correct"], inbox / "correct" / LESSON.name)
    (inbox / "late").mkdir()
    nbformat.write(students["correct"], inbox / "late" / LESSON.name)
    commands.collect(course, inbox)
    monkeypatch.setitem(sys.modules, "torch", None)
    grade(course, limits=LIMITS, progress=False, workers=1)
    status = StatusStore(course).status("late", ASSIGNMENT)
    assert status.startswith(f"failed: needs torch, which cannot be imported by {sys.executable}")
    late = next(row for row in commands.grade_table(course)[1] if row["student"] == "late")
    assert late[ASSIGNMENT] == "" and late[f"{ASSIGNMENT} status"] == status
