"""Command line: ``python -m autograder <command>`` (also installed as ``autograder``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .course import DEFAULT_COURSE_DIR, DEFAULT_NOTEBOOK_DIR, REPOSITORY, Course
from .grading import Limits

DEFAULT_COPIES_DIR = REPOSITORY / "my_copies"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__.split("\n")[0])
    parser.add_argument("--course-dir", type=Path, default=DEFAULT_COURSE_DIR,
                        help="the course directory (default: %(default)s)")
    parser.add_argument("--notebooks", type=Path, default=DEFAULT_NOTEBOOK_DIR,
                        help="folder of the source notebooks (default: %(default)s)")
    parser.add_argument("--cell-timeout", type=int, default=30, help="seconds per cell (default: 30)")
    parser.add_argument("--notebook-limit", type=float, default=300.0,
                        help="seconds for a whole notebook before its kernel is killed (default: 300)")
    parser.add_argument("--exchange", type=Path,
                        help="nbgrader's exchange of the course's JupyterHub (deploy/); given once, remembered "
                             "by the course: release, collect and feedback then go through it")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub = commands.add_parser("release", help="generate student versions and prove them")
    sub.add_argument("notebook", nargs="*", help="notebook names (default: all)")
    sub.add_argument("--workers", type=int, help="parallel graders (default: all cores)")
    sub = commands.add_parser("collect", help="place submissions from a folder, an LMS zip or the hub's exchange")
    sub.add_argument("path", type=Path, nargs="?",
                     help="folder of <student>/<notebook>.ipynb, or a zip (default: the hub's exchange)")
    sub = commands.add_parser("grade", help="autograde every submission not graded yet")
    sub.add_argument("--workers", type=int, help="parallel graders (default: all cores)")
    sub.add_argument("--retry-failed", action="store_true", help="grade failed submissions again")
    commands.add_parser("feedback", help="per-student HTML feedback (no hidden tests shown)")
    sub = commands.add_parser("export", help="grades CSV with a status per submission")
    sub.add_argument("--format", choices=("csv", "canvas", "moodle"), default="csv",
                     help="csv: the course's table; canvas, moodle: those systems' grade import (default: csv)")
    sub.add_argument("--output", type=Path,
                     help="CSV file (default: <course>/grades.csv, grades-canvas.csv or grades-moodle.csv)")
    sub = commands.add_parser("enroll", help="add students to the gradebook (a hub's accounts)")
    sub.add_argument("student", nargs="+", help="student ids (the hub's user names)")
    sub = commands.add_parser("selfgrade", help="grade your own notebook with the hidden tests")
    sub.add_argument("notebook", type=Path, help="your notebook, e.g. my_copies/09_adam.ipynb")
    sub = commands.add_parser("mycopies", help="write student copies you do not have yet")
    sub.add_argument("--into", type=Path, default=DEFAULT_COPIES_DIR, help="(default: %(default)s)")
    sub = commands.add_parser("demo", help="simulated class: release, collect, grade, feedback, export")
    sub.add_argument("--workers", type=int, help="parallel graders (default: all cores)")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    course = Course(root=args.course_dir, notebook_dir=args.notebooks, cell_timeout=args.cell_timeout,
                    exchange=args.exchange)
    limits = Limits(notebook_seconds=args.notebook_limit)
    try:
        return _run(args, course, limits)
    except ValueError as error:
        print(f"autograder {args.command}: {error}", file=sys.stderr)
        return 2
    finally:
        # On a hub the course directory is the instructor's (their formgrader writes the gradebook).
        if args.command not in ("mycopies", "selfgrade", "demo"):
            course.hand_back()


def _run(args, course: Course, limits: Limits) -> int:
    from . import commands

    if args.command == "mycopies":
        for name, action in commands.my_copies(args.notebooks, args.into):
            print(f"{args.into / name}: {action}")
        return 0
    if args.command == "selfgrade":
        graded = commands.selfgrade(args.notebook, args.notebooks, limits)
        print(commands.describe_selfgrade(args.notebook.name, graded))
        print(f"(your file {args.notebook} was not changed)")
        return 0
    if args.command == "release":
        proofs = commands.release(course, args.notebook, args.workers, limits)
        for proof in proofs:
            print(proof.describe())
        published = {}
        if course.exchange is not None:
            proven = [proof.assignment for proof in proofs if proof.proven]
            published = commands.publish(course, proven)
            for assignment, problem in sorted(published.items()):
                print(f"{assignment}: " + (f"NOT IN THE EXCHANGE: {problem}" if problem
                                           else f"in the exchange {course.exchange_root} (students fetch it)"))
        return 1 if any(proof.problem for proof in proofs) or any(published.values()) else 0
    if args.command == "collect":
        if args.path is None:
            report = commands.collect_exchange(course)
        else:
            report = commands.collect(course, args.path)
        for student, assignment, origin in report.placed:
            print(f"placed {origin} -> {student}/{assignment}")
        for origin, reason in report.unplaced:
            print(f"COULD NOT PLACE {origin}: {reason}")
        for note in report.notes:
            print(f"note: {note}")
        print(f"{len(report.placed)} placed, {len(report.unplaced)} not placed")
        return 1 if report.unplaced else 0
    if args.command == "grade":
        from .grading import grade, protection_summary

        print(protection_summary(limits))
        outcomes = grade(course, args.workers, limits, args.retry_failed)
        failed = [o for o in outcomes if o.status.startswith("failed")]
        print(f"{len(outcomes)} graded now, {len(failed)} failed" if outcomes else "nothing new to grade")
        return 0
    if args.command == "feedback":
        pages = commands.feedback(course)
        for page in pages:
            print(page)
        for (student, assignment), reason in sorted(pages.failed.items()):
            print(f"NO FEEDBACK PAGE for {student}/{assignment}: {reason}")
        released = []
        if course.exchange is not None:
            released = commands.release_feedback(course, pages)
            for student, assignment, what in released:
                print(f"feedback {student}/{assignment}: {what}")
        return 1 if pages.failed or any(what.startswith("NOT") for *_, what in released) else 0
    if args.command == "export":
        destination = args.output or course.root / commands.EXPORT_FILES[args.format]
        commands.export(course, destination, args.format)
        print(commands.format_table(course))
        print(f"written {destination}")
        return 0
    if args.command == "enroll":
        added = commands.enroll(course, args.student)
        print(f"{len(added)} enrolled now ({', '.join(added) or 'none'}), {len(commands.enrolled(course))} in all")
        return 0
    if args.command == "demo":
        from .demo import run_demo

        print(run_demo(course, args.workers, limits))
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
