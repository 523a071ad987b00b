"""A lesson's structure, read from its files: which cells are answers, visible tests, hidden tests, and the
release completed with the source's solutions, as a learner who solved everything hands it in."""

from __future__ import annotations

import nbformat

HIDDEN_TESTS_MARKER = "### BEGIN HIDDEN TESTS"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
WRITTEN_ANSWER = "The learning rate must stay below 2 over the largest curvature."


def grading(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_test(cell) -> bool:
    return cell.cell_type == "code" and grading(cell).get("grade") and not grading(cell).get("solution")


def index(notebook, predicate) -> int:
    return next(i for i, cell in enumerate(notebook.cells) if predicate(cell))


def first_code_cell(notebook) -> int:
    return index(notebook, lambda cell: cell.cell_type == "code")


def answer_cell(notebook, function_name: str) -> int:
    return index(notebook, lambda cell: grading(cell).get("solution") and cell.cell_type == "code"
                 and f"def {function_name}(" in cell.source)


def visible_test_cells(release, source) -> list[int]:
    """The indices of the test cells whose checks the learner can see (and run) in the release."""
    hidden = {grading(cell)["grade_id"] for cell in source.cells if is_test(cell) and HIDDEN_TESTS_MARKER in cell.source}
    return [i for i, cell in enumerate(release.cells) if is_test(cell) and grading(cell)["grade_id"] not in hidden]


def visible_test_sources(release, source) -> list[str]:
    return [release.cells[i].source.strip() for i in visible_test_cells(release, source)]


def completed(release, source):
    """The release as a learner hands it in: the source's solution in every autograded answer (markers
    removed) and a sentence in every written answer (an untouched one counts as no response)."""
    solutions = {grading(cell)["grade_id"]: cell.source for cell in source.cells
                 if cell.cell_type == "code" and grading(cell).get("solution")}
    filled = nbformat.from_dict(release)
    for cell in filled.cells:
        if not grading(cell).get("solution"):
            continue
        if cell.cell_type == "code":
            lines = solutions[grading(cell)["grade_id"]].split("\n")
            cell.source = "\n".join(line for line in lines if line.strip() not in SOLUTION_MARKERS)
        else:
            cell.source = WRITTEN_ANSWER
    return filled
