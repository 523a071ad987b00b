"""The nbgrader preprocessors this package adds; nbgrader's own ones do the rest.

* :class:`CheckGradeIds` (first of autograde's sanitizing stage) notes repeated and unknown
  grade_ids, so that a copied cell is graded and flagged instead of breaking the run.
* :class:`TrustedVerdicts` replaces nbgrader's ``Execute``: nothing runs in a kernel; each
  test cell gets the grader's verdict (:mod:`autograder.verdicts`) as its only output.
* :class:`RedactHiddenTests` (feedback) shows each test cell as the student saw it in the
  release; the outputs are already the grader's own words.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Float, Integer, Unicode

FLAGS_KEY = "autograder_flags"
HIDDEN_NOTE = "(This cell's hidden tests ran; their code is not shown.)"


class CheckGradeIds(NbGraderPreprocessor):
    """Note, before nbgrader's own sanitizing, grade_ids that are repeated or unknown to the source.

    A copied answer cell repeats its grade_id (nbgrader keeps the last copy's metadata, and the
    verdicts grade the last definition, as a top-to-bottom run would); a cell with a grade_id
    the source does not have (pasted from another notebook) loses its nbgrader metadata, so it
    is the student's plain code. Either way the submission is graded and flagged for a look.
    """

    course_root = Unicode("", help="The course directory (holds source/)").tag(config=True)

    def preprocess(self, nb, resources):
        assignment = resources["nbgrader"]["assignment"]
        source = nbformat.read(Path(self.course_root) / "source" / assignment / f"{assignment}.ipynb",
                               as_version=4)
        known = {c.metadata.nbgrader["grade_id"] for c in source.cells if "grade_id" in c.metadata.get("nbgrader", {})}
        places, flags = {}, []
        for index, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader")
            if not isinstance(meta, dict) or not meta:
                continue
            grade_id = meta.get("grade_id")
            if grade_id not in known:
                flags.append(f"cell {index + 1} has the grade_id {str(grade_id)[:60]!r}, which this notebook does "
                             f"not have (graded as the student's own code)")
                del cell.metadata["nbgrader"]
            else:
                places.setdefault(grade_id, []).append(index)
        for grade_id, indices in places.items():
            if len(indices) > 1:
                flags.append(f"the grade_id {grade_id!r} appears {len(indices)} times (cells "
                             f"{', '.join(str(i + 1) for i in indices)}); the last one was graded")
                for index in indices[:-1]:
                    del nb.cells[index].metadata["nbgrader"]
        nb.metadata[FLAGS_KEY] = flags
        return nb, resources


class TrustedVerdicts(NbGraderPreprocessor):
    """In place of nbgrader's Execute: each test cell's outputs are the grader's verdict.

    :func:`autograder.verdicts.judge` runs the tests outside the student's process; this writes
    its verdicts where nbgrader's SaveAutoGrades reads them (an error output scores 0, anything
    else full points), the notes about answer cells on those cells, and a report file with the
    flags for the grading worker's status.
    """

    course_root = Unicode("", help="The course directory (holds source/)").tag(config=True)
    cell_seconds = Float(30.0, help="Time for one test cell").tag(config=True)
    notebook_seconds = Float(300.0, help="Time for all test cells of a notebook").tag(config=True)
    memory_bytes = Integer(2 << 30, help="Memory of one answer process (all its processes)").tag(config=True)
    processes = Integer(64, help="Processes one answer process may have").tag(config=True)

    def preprocess(self, nb, resources):
        from . import verdicts
        from .sandbox import SandboxLimits

        assignment, student = resources["nbgrader"]["assignment"], resources["nbgrader"]["student"]
        root = Path(self.course_root)
        source = nbformat.read(root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
        budget = verdicts.Budget(cell_seconds=self.cell_seconds, statement_seconds=min(10.0, self.cell_seconds),
                                 notebook_seconds=self.notebook_seconds)
        limits = SandboxLimits(memory_bytes=self.memory_bytes, processes=self.processes)
        report = verdicts.judge(source, nb, limits=limits, budget=budget)
        by_id = {v.grade_id: v for v in report.verdicts}
        for index, cell in enumerate(nb.cells):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            if grade_id in by_id:
                verdict = by_id[grade_id]
                if verdict.passed:
                    cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=verdict.text + "\n"))
                else:
                    cell.outputs.append(nbformat.v4.new_output(
                        "error", ename="Failed", evalue=verdict.text, traceback=[f"Failed: {verdict.text}"]))
            label = grade_id or f"cell {index + 1}"
            for note in report.cell_notes.get(label, []):
                cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=f"[grader] {note}\n"))
        flags = list(nb.metadata.pop(FLAGS_KEY, [])) + report.flags
        destination = root / ".autograder" / "reports" / student / f"{assignment}.json"
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(json.dumps({"flags": flags}))
        return nb, resources


def _test_cells(nb) -> dict[str, str]:
    return {cell.metadata.nbgrader["grade_id"]: cell.source for cell in nb.cells
            if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)}


class RedactHiddenTests(NbGraderPreprocessor):
    """Feedback without hidden tests: each test cell shows its release source and the grader's verdict.

    A test cell has hidden tests when its source and release versions differ, which is
    nbgrader's own verdict; the student's cells are never parsed for markers, so an answer
    that quotes the marker text cannot break the feedback.
    """

    course_root = Unicode("", help="The course directory (holds source/ and release/)").tag(config=True)

    def preprocess(self, nb, resources):
        assignment = resources["nbgrader"]["assignment"]
        root = Path(self.course_root)
        read = lambda folder: nbformat.read(root / folder / assignment / f"{assignment}.ipynb", as_version=4)
        self._released = _test_cells(read("release"))
        source = _test_cells(read("source"))
        self._hidden = {grade_id for grade_id, text in source.items() if self._released.get(grade_id) != text}
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
            return cell, resources
        grade_id = cell.metadata.nbgrader["grade_id"]
        cell.source = self._released.get(grade_id, "")
        if grade_id in self._hidden:
            cell.outputs.insert(0, nbformat.v4.new_output("stream", name="stdout", text=HIDDEN_NOTE + "\n"))
        return cell, resources


def failure_messages(nb) -> dict[str, str]:
    """``grade_id -> the grader's message`` for every failing test cell (safe to show a student)."""
    messages = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell):
            errors = [o.evalue for o in cell.outputs if o.output_type == "error"]
            if errors:
                messages[cell.metadata.nbgrader["grade_id"]] = errors[-1]
    return messages
