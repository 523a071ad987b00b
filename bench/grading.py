"""Grading throughput: ``autograder grade`` against stock ``nbgrader autograde``, same submissions.

1. One notebook: both grade the same simulated class (correct, wrong and blank students) in
   twin course directories. Printed: wall times and the speed-up ratio (goal >= 1.8 on 2 cores).
   Stock nbgrader executes every cell of every submission in a kernel; ours runs only the
   answers, in a sandbox, and judges the tests outside it.
2. One student's whole course (every lesson, solutions as answers, one worker) against
   executing every cell of every lesson in a plain kernel, which is what grading used to cost
   (goal: a third of it or less).

``python -m bench.grading [NOTEBOOK_STEM] [STUDENTS]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder.checking import generate
from autograder.course import DEFAULT_NOTEBOOK_DIR, Course
from autograder.demo import simulated_class
from autograder.grading import Limits, grade

WELL_BEHAVED = ("correct", "wrong", "blank")
FIXTURE_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "notebooks"


def _executed_seconds(sources: list[Path]) -> float:
    """Every cell of every notebook in a plain kernel, one after the other (nbclient)."""
    start = time.perf_counter()
    for source in sources:
        nb = nbformat.read(source, as_version=4)
        NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=True,
                       resources={"metadata": {"path": str(source.parent)}}).execute()
    return time.perf_counter() - start


def _whole_course_seconds(notebooks: list[Path], scratch: Path) -> float:
    """One student, every lesson, graded by one worker."""
    course = Course(root=scratch / "whole", notebook_dir=notebooks[0].parent)
    generate(course, notebooks)
    for notebook in notebooks:
        target = course.submitted("student", notebook.stem)
        target.parent.mkdir(parents=True)
        shutil.copyfile(course.source(notebook.stem), target)
    start = time.perf_counter()
    grade(course, workers=1, limits=Limits(), progress=False)
    return time.perf_counter() - start


def _stock_seconds(course: Course, assignment: str) -> float:
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", assignment],
                   cwd=course.root, env=environment, capture_output=True, check=False)
    return time.perf_counter() - start


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    notebooks = sorted(DEFAULT_NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")) or sorted(FIXTURE_DIR.glob("*.ipynb"))
    notebook = next((n for n in notebooks if argv and n.stem == argv[0]), notebooks[0])
    students = int(argv[1]) if len(argv) > 1 else 8
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as scratch:
        ours = Course(root=Path(scratch) / "ours", notebook_dir=notebook.parent)
        generate(ours, [notebook])
        assignment = notebook.stem
        kinds = simulated_class(ours.source(assignment), ours.release(assignment), ours)
        for index in range(students):
            kind = WELL_BEHAVED[index % len(WELL_BEHAVED)]
            target = ours.submitted(f"{kind}{index}", assignment)
            target.parent.mkdir(parents=True)
            nbformat.write(kinds[kind], target)
        stock = Course(root=Path(scratch) / "stock", notebook_dir=notebook.parent)
        shutil.copytree(ours.root, stock.root)
        stock.prepare()  # its own config file, pointing at its own directory

        stock_seconds = _stock_seconds(stock, assignment)
        start = time.perf_counter()
        grade(ours, workers=workers, limits=Limits(), progress=False)
        our_seconds = time.perf_counter() - start
        print(f"{assignment}: {students} submissions, {workers} workers")
        print(f"  stock nbgrader autograde: {stock_seconds:6.1f} s  ({stock_seconds / students:.2f} s per notebook)")
        print(f"  autograder grade:         {our_seconds:6.1f} s  ({our_seconds / students:.2f} s per notebook, wall)")
        print(f"  throughput ratio:         {stock_seconds / our_seconds:6.2f}x   (goal >= 1.8x on 2 cores)")

        lessons = sorted(DEFAULT_NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
        if lessons:
            executed = _executed_seconds(lessons)
            graded = _whole_course_seconds(lessons, Path(scratch))
            print(f"one student's whole course ({len(lessons)} lessons, 1 worker):")
            print(f"  every cell executed in a kernel: {executed:6.1f} s")
            print(f"  autograder grade:                {graded:6.1f} s  = {graded / executed:.2f} of it"
                  f"   (goal <= 0.33)")


if __name__ == "__main__":
    main()
