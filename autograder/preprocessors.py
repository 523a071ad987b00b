"""The three nbgrader preprocessors this package adds; nbgrader's own ones do the rest.

* :class:`InsertProbes` (end of autograde's sanitizing stage) adds the integrity probe cells.
* :class:`GuardedExecute` is nbgrader's ``Execute`` with a per-cell output budget, so a
  student printing gigabytes cannot exhaust the grader's memory or the feedback file.
* :class:`RedactHiddenTests` (feedback) shows each test cell as the student saw it in the
  release, and only the exception's name and message from cells with hidden tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Integer, Unicode

from . import integrity

HIDDEN_NOTE = "(The hidden tests in this cell ran; their code and traceback are not shown.)"


class InsertProbes(NbGraderPreprocessor):
    """Surround the notebook with :func:`integrity.probe_cells` carrying :attr:`nonce`."""

    nonce = Unicode("", help="Secret the probe cells carry; empty means no probes").tag(config=True)

    def preprocess(self, nb, resources):
        if self.nonce:
            first, last, error = integrity.probe_cells(self.nonce)[0]
            nb.cells = [first, *[c for c in nb.cells if not integrity.is_probe(c)], last, error]
        return nb, resources


class GuardedExecute(Execute):
    """nbgrader's Execute, keeping at most :attr:`max_output_bytes` of output per cell.

    Error outputs are always kept: they decide the grade.
    """

    max_output_bytes = Integer(1_000_000, help="Output kept per cell, in bytes").tag(config=True)

    def preprocess(self, nb, resources, km=None):
        self._output_bytes = {}
        return super().preprocess(nb, resources, km=km)

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "error":
            return super().output(outs, msg, display_id, cell_index)
        used = self._output_bytes.get(cell_index, 0)
        size = len(json.dumps(msg["content"])) if used <= self.max_output_bytes else 0
        self._output_bytes[cell_index] = used + size
        if used + size <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_output_bytes:
            self._output_bytes[cell_index] = self.max_output_bytes + 1
            note = nbformat.v4.new_output(
                "stream", name="stdout",
                text=f"\n[autograder: output beyond {self.max_output_bytes} bytes was dropped]\n")
            outs.append(note)
        return None


def _test_cells(nb) -> dict[str, str]:
    return {cell.metadata.nbgrader["grade_id"]: cell.source for cell in nb.cells
            if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)}


class RedactHiddenTests(NbGraderPreprocessor):
    """Feedback without hidden tests: release sources for test cells, errors reduced to messages.

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
        nb.cells = [cell for cell in nb.cells if not integrity.is_probe(cell)]
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
            return cell, resources
        grade_id = cell.metadata.nbgrader["grade_id"]
        cell.source = self._released.get(grade_id, "")
        if grade_id in self._hidden:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=HIDDEN_NOTE + "\n")] + [
                nbformat.v4.new_output("error", ename=o.ename, evalue=o.evalue,
                                       traceback=[f"{o.ename}: {o.evalue}"])
                for o in cell.outputs if o.output_type == "error"]
        return cell, resources


def failure_messages(nb) -> dict[str, str]:
    """``grade_id -> "Error: message"`` for every failing test cell (safe to show a student)."""
    messages = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell):
            errors = [f"{o.ename}: {o.evalue}".rstrip(": ") for o in cell.outputs if o.output_type == "error"]
            if errors:
                messages[cell.metadata.nbgrader["grade_id"]] = errors[-1]
    return messages
