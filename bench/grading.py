"""Grading throughput: ``autograder grade`` against stock ``nbgrader autograde``, same submissions.

Both grade the same simulated class of one course notebook (correct, wrong and blank
students) in twin course directories. Printed: wall times, the speed-up ratio (goal >= 1.8 on
2 cores), and our time per notebook against the floor of a kernel start plus the notebook's
own execution (goal <= 1.3x). ``python -m bench.grading [NOTEBOOK_STEM] [STUDENTS]``.
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


def _floor_seconds(source: Path, repeats: int = 3) -> float:
    """Kernel start + execution of the source notebook with plain nbclient: the least grading costs."""
    times = []
    for _ in range(repeats):
        nb = nbformat.read(source, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True,
                       resources={"metadata": {"path": str(source.parent)}}).execute()
        times.append(time.perf_counter() - start)
    return min(times)


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

        floor = _floor_seconds(notebook)
        stock_seconds = _stock_seconds(stock, assignment)
        start = time.perf_counter()
        grade(ours, workers=workers, limits=Limits(), progress=False)
        our_seconds = time.perf_counter() - start

    per_notebook = our_seconds * workers / students
    print(f"{assignment}: {students} submissions, {workers} workers")
    print(f"  stock nbgrader autograde: {stock_seconds:6.1f} s  ({stock_seconds / students:.2f} s per notebook)")
    print(f"  autograder grade:         {our_seconds:6.1f} s  ({our_seconds / students:.2f} s per notebook, wall)")
    print(f"  throughput ratio:         {stock_seconds / our_seconds:6.2f}x   (goal >= 1.8x on 2 cores)")
    print(f"  kernel start + execution: {floor:6.2f} s;  our worker time per notebook {per_notebook:.2f} s"
          f" = {per_notebook / floor:.2f}x the floor   (goal <= 1.3x)")


if __name__ == "__main__":
    main()
