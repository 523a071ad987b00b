"""One notation for the whole course: the table in lesson 00 and the README, and every lesson keeps to it.

A symbol the table does not use (``\\eta`` or ``\\epsilon``, say) may appear only where a paper or a
quoted text is given in its own notation, and then the same line says what it is in ours ("their
$\\eta$ is our $\\gamma$").
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TABLE_HEADER = "| quantity | symbol | in code |"
TRANSLATION = "our $"

# Symbols of other texts: the learning rate as eta, the momentum as gamma_m, eps as \epsilon, the loss as J.
FOREIGN = re.compile(r"\\eta(?![a-z])|η|\\gamma_m|\\epsilon(?![a-z])|ϵ|(?<![A-Za-z_\\])J\(")
LOSS_AS_J = re.compile(r"(?<![A-Za-z\\])J(?![A-Za-z])")
MATH = re.compile(r"\$[^$]+\$")
# Curvatures are h; lambda is the weight decay.
EIGENVALUE_AS_LAMBDA = re.compile(r"\\lambda_(\{\\max\}|\{\\min\}|i\b)|λ_?(max|min)")
LEARNING_RATE_SYMBOL = re.compile(r"learning rate,? \$([^$]+)\$")


def _markdown_lines(path: Path) -> list[tuple[int, str]]:
    notebook = nbformat.read(path, as_version=4)
    return [(index, line) for index, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"
            for line in cell.source.splitlines()]


def _code_lines(path: Path) -> list[tuple[int, str]]:
    notebook = nbformat.read(path, as_version=4)
    return [(index, line) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            for line in cell.source.splitlines()]


def _table(lines) -> list[str]:
    lines = [line.strip() for line in lines]
    start = lines.index(TABLE_HEADER)
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_lesson_00_and_the_readme_show_the_same_notation_table():
    readme = _table((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    lesson = _table(line for _, line in _markdown_lines(NOTEBOOKS[0]))
    assert len(readme) > 10
    assert lesson == readme


def test_the_table_gives_each_symbol_one_quantity():
    rows = _table((ROOT / "README.md").read_text(encoding="utf-8").splitlines())[2:]
    symbols = [symbol for row in rows for symbol in re.findall(r"\$([^$]+)\$", row.split("|")[2])]
    assert len(symbols) == len(set(symbols)), symbols


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_foreign_symbols_come_with_their_translation(path):
    untranslated = [f"cell {index}: {line.strip()}" for index, line in _markdown_lines(path)
                    if (FOREIGN.search(line) or any(LOSS_AS_J.search(math) for math in MATH.findall(line)))
                    and TRANSLATION not in line]
    in_code = [f"cell {index}: {line.strip()}" for index, line in _code_lines(path) if FOREIGN.search(line)]
    assert not untranslated, "symbols outside the course's notation:\n" + "\n".join(untranslated)
    assert not in_code, "symbols outside the course's notation in code:\n" + "\n".join(in_code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_curvatures_are_h_and_the_learning_rate_is_gamma(path):
    lines = _markdown_lines(path) + _code_lines(path)
    as_lambda = [f"cell {index}: {line.strip()}" for index, line in lines if EIGENVALUE_AS_LAMBDA.search(line)]
    assert not as_lambda, "an eigenvalue written as lambda (the weight decay):\n" + "\n".join(as_lambda)
    other_rate = [f"cell {index}: {line.strip()}" for index, line in _markdown_lines(path)
                  for symbol in LEARNING_RATE_SYMBOL.findall(line)
                  if "\\gamma" not in symbol and TRANSLATION not in line]
    assert not other_rate, "a learning rate not written with gamma:\n" + "\n".join(other_rate)


def test_course_lib_keeps_the_notation():
    offending = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in sorted((ROOT / "course_lib").rglob("*.py"))
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if (FOREIGN.search(line) and "our " not in line) or EIGENVALUE_AS_LAMBDA.search(line)]
    assert not offending, "\n".join(offending)
