"""What the answer process runs for a test: the lesson's imports, the answers, and what they need.

Lesson cells (demonstrations, plots, training runs) are not needed for a verdict and are not
run. For the test cell at position ``p`` of a submission, the program is, in notebook order:

1. the import statements of the lesson's setup cell (the first code cell) that bind a name the
   code below uses, one name at a time, so that one import that fails in the sandbox (the
   reference optimizers are not there) costs only the names it binds;
2. every answer cell above ``p``, whole, as the student wrote it;
3. from the student's own cells above ``p`` (cells that are not in the source notebook), the
   top-level statements that bind a name the answers use, or an answer's name: a helper
   function, a constant, or a later definition of the answer itself, which wins as it would
   in a top-to-bottom run.

A name the answers use that only a lesson cell binds is recorded, so that the feedback can say
"``ravine`` is defined in cell 3, a lesson cell that grading does not run" instead of a bare
NameError.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

from nbgrader.utils import is_grade, is_solution

SETUP = "setup"


@dataclass(frozen=True)
class Piece:
    """One cell's code for the answer process; ``statements`` limits it to some top-level statements."""

    label: str
    source: str
    statements: tuple[int, ...] | None = None

    def as_message(self) -> dict:
        message = {"label": self.label, "source": self.source}
        if self.statements is not None:
            message["statements"] = list(self.statements)
        return message


@dataclass
class Program:
    pieces: list[Piece]
    answers: list[str]
    lesson_names: dict[str, str] = field(default_factory=dict)  # name -> the lesson cell that binds it
    setup_lines: dict[str, int] = field(default_factory=dict)  # name -> its import's line in the setup piece


def python_source(cell_source: str) -> str:
    """Cell source with IPython syntax (magics, ``!`` commands) turned into plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(cell_source)
    except Exception:  # noqa: BLE001 - unparsable input fails in the answer process, with its line
        return cell_source


def _parse(source: str):
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def bound_names(statement) -> set[str]:
    """Names a top-level statement binds in the module's namespace."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names if alias.name != "*"}
    names = set()
    for node in ast.walk(statement):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
    return names


def used_names(tree) -> set[str]:
    """Every name read anywhere in ``tree``, function bodies included (a superset of its globals)."""
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def answer_names(source_nb) -> list[str]:
    """The functions the source's answer cells define: what the tests call."""
    names = []
    for cell in source_nb.cells:
        if cell.cell_type == "code" and is_solution(cell) and not is_grade(cell):
            tree = _parse(cell.source)
            names += [n.name for n in (tree.body if tree else []) if isinstance(n, ast.FunctionDef)]
    return names


def _setup_imports(source_nb, needed: set[str]) -> str:
    """The setup cell's imports of the ``needed`` names, one imported name per statement."""
    first = next((c for c in source_nb.cells if c.cell_type == "code"), None)
    tree = _parse(first.source) if first is not None else None
    lines = []
    for statement in tree.body if tree else []:
        if isinstance(statement, ast.Import):
            lines += [f"import {a.name}" + (f" as {a.asname}" if a.asname else "") for a in statement.names
                      if (a.asname or a.name.split(".")[0]) in needed]
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0:
            lines += [f"from {statement.module} import {a.name}" + (f" as {a.asname}" if a.asname else "")
                      for a in statement.names if (a.asname or a.name) in needed]
    return "\n".join(lines) + "\n"


def is_answer(cell) -> bool:
    return cell.cell_type == "code" and is_solution(cell) and not is_grade(cell)


def is_test(cell) -> bool:
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def cell_label(cell, index: int) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"


def build(source_nb, submitted_nb, before: int) -> Program:
    """The program for a test cell at index ``before`` of ``submitted_nb``."""
    lesson_sources = {cell.source for cell in source_nb.cells if cell.cell_type == "code"}
    answers = answer_names(source_nb)
    pieces: list[Piece] = []
    student: list[tuple[str, str, list]] = []  # label, source, top-level statements
    lesson_names: dict[str, str] = {}
    needed = set(answers)
    available: set[str] = set()
    first = next((c.source for c in source_nb.cells if c.cell_type == "code"), None)
    for index, cell in enumerate(submitted_nb.cells[:before]):
        if cell.cell_type != "code" or cell.source == first:
            continue  # the setup cell's imports are taken as needed
        label = cell_label(cell, index)
        source = python_source(cell.source)
        tree = _parse(source)
        if is_answer(cell):
            pieces.append(Piece(label, source))
            needed |= used_names(tree) if tree else set()
            available |= {n for s in (tree.body if tree else []) for n in bound_names(s)}
        elif cell.source not in lesson_sources and not is_test(cell):
            student.append((label, source, tree.body if tree else []))
        elif not is_test(cell) and tree is not None:
            for statement in tree.body:
                for name in bound_names(statement):
                    lesson_names[name] = f"cell {index + 1}"
    chosen = _needed_statements(student, needed)
    # Keep notebook order: student pieces sit where their cells are.
    order = {cell_label(c, i): i for i, c in enumerate(submitted_nb.cells[:before])}
    pieces += [Piece(label, source, statements) for label, source, statements in chosen]
    pieces.sort(key=lambda piece: order.get(piece.label, 0))
    # Only the imports something uses: matplotlib or scikit-learn would cost a second a test.
    setup = _setup_imports(source_nb, needed)
    pieces.insert(0, Piece(SETUP, setup))
    available |= bound_names_of(setup) | {n for _, _, body in student for s in body for n in bound_names(s)}
    skipped = {name: where for name, where in lesson_names.items()
               if name not in available and not hasattr(builtins, name)}
    setup_lines = {name: number for number, line in enumerate(setup.splitlines(), 1) for name in bound_names_of(line)}
    return Program(pieces, answers, skipped, setup_lines)


def bound_names_of(source: str) -> set[str]:
    tree = _parse(source)
    return {n for s in (tree.body if tree else []) for n in bound_names(s)}


def _needed_statements(student, needed: set[str]) -> list[tuple[str, str, tuple[int, ...]]]:
    """The student statements that bind a needed name, and what those need in turn (a fixpoint)."""
    chosen: dict[str, set[int]] = {}
    changed = True
    while changed:
        changed = False
        for label, _, body in student:
            for index, statement in enumerate(body):
                if index in chosen.get(label, set()) or not bound_names(statement) & needed:
                    continue
                chosen.setdefault(label, set()).add(index)
                needed |= used_names(statement)
                changed = True
    return [(label, source, tuple(sorted(chosen[label]))) for label, source, _ in student if label in chosen]
