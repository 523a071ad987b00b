"""Every course notebook: stored clean, valid nbgrader metadata, the lesson's required parts,
executes top to bottom, its solutions pass its tests, its student version fails them, and every
classic mistake for its exercises loses points.

One kernel per notebook runs the source once; the mistake checks then redefine the learner's
function in that kernel and re-run the test cells, which costs seconds instead of a full
execution per mistake.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.nbgraderformat.v3 import MetadataValidatorV3
from nbgrader.preprocessors import ClearSolutions

from autograder.course import requirement_problem
from course_lib import checks

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
ALLOWED_IMPORTS = {"numpy", "matplotlib", "course_lib", "dataclasses", "math", "time"}
CELL_TIMEOUT = 120

pytestmark = pytest.mark.notebook


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _grading(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _is_test_cell(cell) -> bool:
    meta = _grading(cell)
    return cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")


def _answer_functions(nb) -> dict[str, int]:
    """Names of the functions defined in autograded answer cells, with the cell index."""
    found = {}
    for index, cell in enumerate(nb.cells):
        meta = _grading(cell)
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.FunctionDef):
                    found[node.name] = index
    return found


def _errors(cell) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", []) if o.output_type == "error"]


def _run(nb, path: Path, *, keep_kernel=False):
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    if not keep_kernel:
        client.execute()
        return nb
    return client


def _skip_without_requirements(path: Path) -> None:
    """An optional lesson whose packages are missing here (lesson 15 without torch) is skipped, with the reason."""
    problem = requirement_problem(path)
    if problem:
        pytest.skip(f"{path.name} {problem}")


def _execute_extra(client, nb, cell) -> None:
    """Run a cell that is not part of the notebook in its kernel (nbclient indexes into nb.cells)."""
    nb.cells.append(cell)
    try:
        client.execute_cell(cell, len(nb.cells) - 1)
    finally:
        nb.cells.pop()


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def executed(request):
    """A notebook's source, executed once, with its kernel kept alive for the mistake checks."""
    path = request.param
    _skip_without_requirements(path)
    nb = _read(path)
    client = _run(nb, path, keep_kernel=True)
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        yield path, nb, client


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_without_outputs(path):
    nb = _read(path)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_nbgrader_metadata_is_valid(path):
    nb = _read(path)
    MetadataValidatorV3().validate_nb(nb)
    ids = [_grading(c)["grade_id"] for c in nb.cells if _grading(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade_id in {path.name}"
    for cell in nb.cells:
        meta = _grading(cell)
        if _is_test_cell(cell):
            assert meta["locked"] and meta["points"] > 0, f"{meta['grade_id']}: tests are locked and score"
        if meta.get("solution") and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, meta["grade_id"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_has_the_required_parts(path):
    nb = _read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "check_version(" in code[0].source, "the first code cell checks course_lib's version"
    assert _grading(code[0]).get("locked"), "the set-up cell is read-only"
    assert re.search(r"\$[^$]+\$", markdown), "equations in LaTeX"
    assert any("widgets." in c.source or "explore(" in c.source for c in code), "an explorer widget"
    assert _answer_functions(nb), "at least one autograded exercise"
    assert any("### BEGIN HIDDEN TESTS" in c.source for c in code if _is_test_cell(c)), "hidden tests"
    written = [c for c in nb.cells if c.cell_type == "markdown" and _grading(c).get("solution")]
    assert written, "at least one written (manually graded) question"
    for cell in code:
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert roots <= ALLOWED_IMPORTS, f"{path.name} imports {roots - ALLOWED_IMPORTS}"


def test_source_runs_top_to_bottom_and_passes_its_tests(executed):
    path, nb, _ = executed
    failures = {i: _errors(c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and _errors(c)}
    assert not failures, f"{path.name}: cells raised {failures}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_version_fails_every_test(path):
    _skip_without_requirements(path)
    nb = _read(path)
    student, _ = ClearSolutions(enforce_metadata=True).preprocess(nb, {})
    _run(student, path)
    passing = [_grading(c)["grade_id"] for c in student.cells if _is_test_cell(c) and not _errors(c)]
    assert not passing, f"{path.name}: test cells pass without any answer: {passing}"


def test_every_classic_mistake_loses_points(executed):
    path, nb, client = executed
    answers = _answer_functions(nb)
    tests = [c for c in nb.cells if _is_test_cell(c)]
    checked = 0
    for fn_name in answers:
        for mistake in checks.mistakes_for(fn_name):
            probe = nbformat.v4.new_code_cell(
                f"from course_lib.checks import mistake_update\n"
                f"{fn_name} = mistake_update({fn_name!r}, {mistake.id!r})"
            )
            _execute_extra(client, nb, probe)
            assert not _errors(probe), _errors(probe)
            lost = 0
            for cell in tests:
                if re.search(rf"\b{fn_name}\b", cell.source):
                    rerun = nbformat.v4.new_code_cell(cell.source)
                    _execute_extra(client, nb, rerun)
                    lost += _grading(cell)["points"] if _errors(rerun) else 0
            assert lost > 0, f"{path.name}: the mistake {mistake.id!r} in {fn_name} loses no points"
            checked += 1
        _execute_extra(client, nb, nbformat.v4.new_code_cell(nb.cells[answers[fn_name]].source))
    if not checked:
        pytest.skip(f"{path.name}: no catalogued mistakes apply to {sorted(answers)}")
