"""Mutation testing of the exercises' tests: do the visible and hidden tests catch wrong answers?

Every solution (the code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` of each answer
cell of ``notebooks/[0-9][0-9]_*.ipynb``) is changed MECHANICALLY, one change per mutant, with
Python's ``ast`` (:data:`OPERATORS`): an arithmetic operator swapped, a comparison turned, a
number changed, a term or a factor dropped, arguments swapped, a copy removed, a loop bound
moved, an early ``break``/``return`` at the start of a loop body, a sign dropped or added,
``sqrt`` removed, a condition negated, a statement deleted, an update made in place, a default
of the function's signature changed. Mutants that unparse to the same code count once.

Each mutant is graded by :func:`autograder.verdicts.judge`, exactly as a student would be, on
the exercise's own test cells (those between its answer cell and the next one, and any test
cell that calls the function): the submission keeps only those test cells, so ``judge`` runs
just them; each still gets a fresh sandboxed answer process built from all the answer cells
above it, so the verdicts are those of a whole-notebook run. A mutant is

* KILLED when it loses at least one point of those cells;
* EQUIVALENT when it keeps full marks and is listed in :mod:`bench._mutation_equivalent`, with
  the reason it behaves like the solution on every valid input;
* SURVIVING when it keeps full marks and is not listed: a gap in the tests.

The mutation score is killed / (graded - equivalent - errors), errors being mutants that ``judge``
itself failed on (none so far); graded is every generated mutant unless ``--sample`` or
``--mutants`` chooses fewer. A second set, the correct REWRITES of
``bench/rewrites/<exercise>.py`` (reordered arithmetic, loops, textbook forms...), must keep
full marks: a test that fails one rejects a correct answer.

    python -m bench.mutation [--exercises NAME ...] [--sample N] [--seed S] [--workers N]
                             [--rewrites-only] [--json PATH]
"""

from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import difflib
import functools
import json
import multiprocessing
import random
import re
import sys
import time
from pathlib import Path

import nbformat

from autograder import program as programs
from autograder.verdicts import judge
from bench._mutation_equivalent import EQUIVALENT

REPOSITORY = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPOSITORY / "notebooks"
REWRITES = Path(__file__).resolve().parent / "rewrites"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
REWRITE_MARKER = re.compile(r"^# rewrite: (?P<name>[\w-]+): (?P<description>.+)$", re.MULTILINE)


# --- the exercises ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Exercise:
    """One answer cell: the function it defines, where it is, and the test cells that grade it."""

    name: str
    notebook: Path
    cell: int  # index of the answer cell in the notebook
    source: str  # the answer cell's source, solution included
    points: dict[str, float]  # grade_id -> points, of the exercise's test cells

    @property
    def total(self) -> float:
        return sum(self.points.values())


@functools.lru_cache(maxsize=None)
def read_notebook(path: Path):
    """The source notebook (cached: never change what this returns)."""
    return nbformat.read(path, as_version=4)


def load_exercises(notebook_dir: Path = NOTEBOOKS) -> list[Exercise]:
    """Every answer cell of the numbered notebooks, in course order."""
    exercises = []
    for path in sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb")):
        cells = read_notebook(path).cells
        answers = [index for index, cell in enumerate(cells) if programs.is_answer(cell)]
        for number, index in enumerate(answers):
            name = next(n.name for n in ast.parse(cells[index].source).body if isinstance(n, ast.FunctionDef))
            following = range(index + 1, answers[number + 1] if number + 1 < len(answers) else len(cells))
            calls = re.compile(rf"\b{re.escape(name)}\s*\(")
            points = {cell.metadata.nbgrader["grade_id"]: float(cell.metadata.nbgrader.get("points", 0))
                      for position, cell in enumerate(cells)
                      if programs.is_test(cell) and (position in following or calls.search(cell.source))}
            exercises.append(Exercise(name, path, index, cells[index].source, points))
    return exercises


# --- mutation operators: each maps a node to (detail, replacement node) pairs ------------------

SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@",
           ast.FloorDiv: "//", ast.Mod: "%", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
           ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
ARITHMETIC_SWAPS = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
                    ast.Pow: [ast.Mult], ast.MatMult: [ast.Mult], ast.FloorDiv: [ast.Div], ast.Mod: [ast.FloorDiv]}
COMPARISON_SWAPS = {ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt, ast.GtE], ast.Gt: [ast.GtE, ast.Lt],
                    ast.GtE: [ast.Gt, ast.LtE], ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.Is: [ast.IsNot],
                    ast.IsNot: [ast.Is], ast.In: [ast.NotIn], ast.NotIn: [ast.In]}
NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.Pow, ast.MatMult, ast.FloorDiv, ast.Mod)
COPIES = {"copy", "deepcopy", "array", "asarray", "dict", "list"}  # f(x, ...) -> x
SQRT = {"sqrt"}
DROPPED_CALLS = {"sqrt", "abs", "fabs", "float", "exp", "log"}  # f(x) -> x
MIN_MAX = {"maximum": "minimum", "minimum": "maximum", "max": "min", "min": "max", "fmax": "fmin", "fmin": "fmax"}
NOT_NEGATED = (ast.Dict, ast.List, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp,
               ast.JoinedStr, ast.Lambda)


def _text(node: ast.AST, width: int = 48) -> str:
    """``node`` as code on one line, shortened to ``width`` characters."""
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= width else text[:width - 3] + "..."


def _with(node: ast.AST, **fields) -> ast.AST:
    """A copy of ``node`` with ``fields`` replaced."""
    new = copy.deepcopy(node)
    for field, value in fields.items():
        setattr(new, field, value)
    return new


def _called_name(node: ast.AST) -> str | None:
    """``f`` for ``f(...)``, ``np.f(...)`` or ``x.f(...)``."""
    if not isinstance(node, ast.Call):
        return None
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)


def _changed_numbers(value) -> list:
    """0 -> 1, 1 -> 0 and 2, n -> n - 1 and n + 1 for other whole numbers, c -> 1.5 c, True <-> False."""
    if isinstance(value, bool):
        return [not value]
    if value == 0:
        return [type(value)(1)]
    if value == 1:
        return [type(value)(0), type(value)(2)]
    if isinstance(value, int):
        return [value - 1, value + 1]
    return [float(f"{value * 1.5:.12g}")]


def arithmetic(node):
    if isinstance(node, (ast.BinOp, ast.AugAssign)):
        for op in ARITHMETIC_SWAPS.get(type(node.op), []):
            yield f"{SYMBOLS[type(node.op)]} -> {SYMBOLS[op]} in `{_text(node)}`", _with(node, op=op())


def comparison(node):
    if isinstance(node, ast.Compare):
        for position, old in enumerate(node.ops):
            for op in COMPARISON_SWAPS.get(type(old), []):
                ops = [*node.ops[:position], op(), *node.ops[position + 1:]]
                yield f"{SYMBOLS[type(old)]} -> {SYMBOLS[op]} in `{_text(node)}`", _with(node, ops=ops)


def constant(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        for value in _changed_numbers(node.value):
            yield f"{node.value!r} -> {value!r}", ast.Constant(value)


def drop_term(node):
    """a + b -> a, b; a - b -> a, -b."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        yield f"`{_text(node)}` -> left term", copy.deepcopy(node.left)
        right = copy.deepcopy(node.right)
        yield f"`{_text(node)}` -> right term", (right if isinstance(node.op, ast.Add)
                                                 else ast.UnaryOp(ast.USub(), right))


def drop_factor(node):
    """a * b -> a, b; a / b -> a; a ** b -> a."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div, ast.Pow)):
        yield f"`{_text(node)}` -> left factor", copy.deepcopy(node.left)
        if isinstance(node.op, ast.Mult):
            yield f"`{_text(node)}` -> right factor", copy.deepcopy(node.right)


def swap_arguments(node):
    """f(a, b) -> f(b, a) for each pair of neighbouring positional arguments; a - b -> b - a."""
    if isinstance(node, ast.Call) and not any(isinstance(a, ast.Starred) for a in node.args):
        for first in range(len(node.args) - 1):
            args = list(node.args)
            args[first], args[first + 1] = args[first + 1], args[first]
            yield f"arguments {first + 1} and {first + 2} of `{_text(node)}`", _with(node, args=args)
    if isinstance(node, ast.BinOp) and isinstance(node.op, NON_COMMUTATIVE):
        yield f"operands of `{_text(node)}`", _with(node, left=node.right, right=node.left)


def remove_copy(node):
    """x.copy(), np.copy(x), np.array(x, ...), dict(x), list(x) -> x."""
    name = _called_name(node)
    if name == "copy" and isinstance(node.func, ast.Attribute) and not node.args:
        yield f"`{_text(node)}` -> the original", copy.deepcopy(node.func.value)
    elif name in COPIES and node.args and not isinstance(node.args[0], ast.Starred):
        yield f"`{_text(node)}` -> the original", copy.deepcopy(node.args[0])


def drop_keyword(node):
    """f(x, k=v) -> f(x): the callee's default instead of the value given."""
    if isinstance(node, ast.Call):
        for position, keyword in enumerate(node.keywords):
            if keyword.arg is not None:
                keywords = node.keywords[:position] + node.keywords[position + 1:]
                yield f"`{keyword.arg}=` dropped from `{_text(node)}`", _with(node, keywords=keywords)


def loop_bounds(node):
    """range(n) -> range(n - 1), range(n + 1); range(a, b) also -> range(a - 1, b), range(a + 1, b)."""
    if _called_name(node) == "range" and isinstance(node.func, ast.Name) and node.args:
        stop = 0 if len(node.args) == 1 else 1
        for position in sorted({0, stop}):
            for op in (ast.Sub, ast.Add):
                args = list(node.args)
                args[position] = ast.BinOp(copy.deepcopy(args[position]), op(), ast.Constant(1))
                yield f"`{_text(node)}` -> `{_text(ast.Call(node.func, args, node.keywords))}`", _with(node, args=args)


def early_exit(node):
    """A ``break``, or a bare ``return``, as the first statement of a loop body."""
    if isinstance(node, (ast.For, ast.While)):
        header = ast.unparse(_with(node, body=[ast.Pass()], orelse=[])).splitlines()[0].removesuffix(":")
        yield f"break at the start of `{header}`", _with(node, body=[ast.Break(), *node.body])
        yield f"return at the start of `{header}`", _with(node, body=[ast.Return(None), *node.body])


def _negatable(value: ast.AST) -> bool:
    """Whether ``-value`` is worth a mutant: not a container, a comprehension, a string or a lambda."""
    return not isinstance(value, NOT_NEGATED) and not (isinstance(value, ast.Constant)
                                                       and not isinstance(value.value, (int, float)))


def sign(node):
    """-x -> x; an assigned value, a returned value, or one item of a returned tuple, v -> -v."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield f"`{_text(node)}` -> `{_text(node.operand)}`", copy.deepcopy(node.operand)
    if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
        items = node.value.elts
        for position, item in enumerate(items):
            if _negatable(item):
                negated = [*items[:position], ast.UnaryOp(ast.USub(), item), *items[position + 1:]]
                yield f"`{_text(item)}` -> its negative", _with(node, value=_with(node.value, elts=negated))
    elif isinstance(node, (ast.Assign, ast.Return)) and node.value is not None and _negatable(node.value):
        yield f"`{_text(node.value)}` -> its negative", _with(node, value=ast.UnaryOp(ast.USub(), node.value))


def drop_call(node):
    """sqrt(x), abs(x), float(x), exp(x), log(x) -> x; x ** 0.5 -> x."""
    name = _called_name(node)
    if name in DROPPED_CALLS and len(node.args) == 1 and not node.keywords:
        yield f"`{_text(node)}` -> `{_text(node.args[0])}`", copy.deepcopy(node.args[0])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and \
            isinstance(node.right, ast.Constant) and node.right.value == 0.5:
        yield f"`{_text(node)}` -> `{_text(node.left)}`", copy.deepcopy(node.left)


def min_max(node):
    """maximum <-> minimum, max <-> min."""
    name = _called_name(node)
    if name in MIN_MAX:
        func = (_with(node.func, id=MIN_MAX[name]) if isinstance(node.func, ast.Name)
                else _with(node.func, attr=MIN_MAX[name]))
        yield f"{name} -> {MIN_MAX[name]} in `{_text(node)}`", _with(node, func=func)


def negate(node):
    """if c / while c / x if c else y -> not c; and <-> or; not c -> c."""
    if isinstance(node, (ast.If, ast.While, ast.IfExp)):
        test = node.test
        negated = (copy.deepcopy(test.operand) if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
                   else ast.UnaryOp(ast.Not(), copy.deepcopy(test)))
        yield f"condition `{_text(test)}` negated", _with(node, test=negated)
    if isinstance(node, ast.BoolOp):
        op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield f"`{_text(node)}`: {'and -> or' if isinstance(op, ast.Or) else 'or -> and'}", _with(node, op=op)


def delete_statement(node):
    """An assignment or an expression statement replaced by ``pass``."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) or \
            (isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant)):
        yield f"`{_text(node)}` deleted", ast.Pass()


def in_place(node):
    """x = x op y -> x op= y: the update writes into the array x refers to (maybe the caller's)."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and \
            isinstance(node.value, ast.BinOp) and isinstance(node.value.left, ast.Name) and \
            node.value.left.id == node.targets[0].id:
        new = ast.AugAssign(ast.Name(node.targets[0].id, ast.Store()), copy.deepcopy(node.value.op),
                            copy.deepcopy(node.value.right))
        yield f"`{_text(node)}` -> `{_text(new)}`", new


OPERATORS = {"arithmetic": arithmetic, "comparison": comparison, "constant": constant, "drop-call": drop_call,
             "drop-term": drop_term, "drop-factor": drop_factor, "swap-arguments": swap_arguments,
             "remove-copy": remove_copy, "drop-keyword": drop_keyword, "loop-bounds": loop_bounds,
             "early-exit": early_exit, "sign": sign, "min-max": min_max, "negate": negate,
             "delete-statement": delete_statement, "in-place": in_place}
"""The operators applied to the solution's nodes, in this order (a duplicate keeps the first's name)."""

DEFAULT_OPERATORS = {"default": constant}
"""The operators applied to the defaults of the function's signature (``lr=1e-3`` -> ``lr=0.0015``)."""


# --- mutants ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Mutant:
    """One mechanical change of an exercise's solution.

    ``id`` is stable while the solution's code is: exercise, line (counted from the line after
    ``### BEGIN SOLUTION``; ``def`` for the signature), operator and what changed.
    """

    id: str
    exercise: str
    line: str
    operator: str
    detail: str
    source: str  # the whole answer cell, mutated (as ast.unparse writes it)
    diff: str  # against the solution, also as ast.unparse writes it


def _walk(node: ast.AST, path: tuple = ()):
    """(path, node) for ``node`` and every node below it, in a fixed order; a path is (field, index) steps."""
    yield path, node
    for field, value in ast.iter_fields(node):
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if isinstance(item, ast.AST):
                yield from _walk(item, (*path, (field, index)))


def _replaced(tree: ast.Module, path: tuple, new: ast.AST) -> ast.Module:
    """A copy of ``tree`` whose node at ``path`` is ``new``."""
    mutant = copy.deepcopy(tree)
    parent = mutant
    for field, index in path[:-1]:
        parent = getattr(parent, field) if index is None else getattr(parent, field)[index]
    field, index = path[-1]
    if index is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[index] = new
    return ast.fix_missing_locations(mutant)


def solution_lines(source: str) -> tuple[int, int]:
    """The first and last line numbers (1-based) strictly between the solution markers."""
    lines = [line.strip() for line in source.splitlines()]
    return lines.index(BEGIN) + 2, lines.index(END)


def _sites(tree: ast.Module, first: int, last: int):
    """(path, node, parameter) for the nodes to mutate: those of the solution (parameter None), and
    those of the signature's defaults, with the parameter they belong to (``lr``, ``betas[1]``)."""
    parameters = {}
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        arguments = function.args
        positional = [*arguments.posonlyargs, *arguments.args]
        pairs = [*zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults),
                 *zip(arguments.kwonlyargs, arguments.kw_defaults)]
        for argument, default in pairs:
            if default is None:
                continue
            parameters |= {id(node): argument.arg for node in ast.walk(default)}
            if isinstance(default, ast.Tuple):
                parameters |= {id(node): f"{argument.arg}[{position}]" for position, item in enumerate(default.elts)
                               for node in ast.walk(item)}
    for path, node in _walk(tree):
        if id(node) in parameters:
            yield path, node, parameters[id(node)]
        elif hasattr(node, "lineno") and first <= node.lineno and node.end_lineno <= last:
            yield path, node, None


def _compiles(source: str) -> bool:
    try:
        compile(source, "<mutant>", "exec")
    except SyntaxError:
        return False
    return True


def generate_mutants(exercise: Exercise) -> list[Mutant]:
    """Every mechanical mutant of the exercise's solution, duplicates (same code) removed."""
    tree = ast.parse(exercise.source)
    first, last = solution_lines(exercise.source)
    original = ast.unparse(tree)
    seen, mutants, ids = {original}, [], set()
    for path, node, parameter in _sites(tree, first, last):
        operators = OPERATORS if parameter is None else DEFAULT_OPERATORS
        line = str(node.lineno - first + 1) if parameter is None else "def"
        for operator, mutate in operators.items():
            for detail, new in mutate(node):
                detail = detail if parameter is None else f"{parameter}={detail}"
                source = ast.unparse(_replaced(tree, path, new))
                if source in seen or not _compiles(source):
                    continue
                seen.add(source)
                mutant_id = f"{exercise.name}:{line}:{operator}:{detail}"
                suffix = 2
                while mutant_id in ids:  # the same change at two places of one line
                    mutant_id, suffix = f"{exercise.name}:{line}:{operator}:{detail} #{suffix}", suffix + 1
                ids.add(mutant_id)
                diff = "\n".join(difflib.unified_diff(original.splitlines(), source.splitlines(),
                                                      "solution", "mutant", n=0, lineterm=""))
                mutants.append(Mutant(mutant_id, exercise.name, line, operator, detail, source, diff))
    return mutants


# --- rewrites --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Rewrite:
    """A correct answer written differently from the solution; it must keep full marks."""

    exercise: str
    name: str
    description: str
    source: str  # the whole answer cell


def load_rewrites(exercise: Exercise, directory: Path = REWRITES) -> list[Rewrite]:
    """The rewrites of ``directory/<exercise>.py``: sections that each start with ``# rewrite: NAME: WHY``."""
    path = directory / f"{exercise.name}.py"
    if not path.exists():
        return []
    text = path.read_text()
    markers = list(REWRITE_MARKER.finditer(text))
    ends = [m.start() for m in markers[1:]] + [len(text)]
    return [Rewrite(exercise.name, m["name"], m["description"], text[m.end():end].strip() + "\n")
            for m, end in zip(markers, ends)]


# --- grading ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Grade:
    """What ``judge`` gave an answer on the exercise's test cells."""

    earned: float
    lost: list[str]  # grade_ids of the cells that failed
    messages: dict[str, str]  # grade_id -> the first line of its failure text
    seconds: float
    error: str | None = None  # judge itself failed


def submission(exercise: Exercise, answer: str):
    """(source, submitted) notebooks: the answer in place of the solution, only the exercise's test cells."""
    source = read_notebook(exercise.notebook)
    submitted = copy.deepcopy(source)
    submitted.cells[exercise.cell].source = answer
    submitted.cells = [cell for cell in submitted.cells
                       if not programs.is_test(cell) or cell.metadata.nbgrader["grade_id"] in exercise.points]
    return source, submitted


def grade(exercise: Exercise, answer: str) -> Grade:
    """Grade ``answer`` (a whole answer cell) with the visible and hidden tests of ``exercise``."""
    started = time.monotonic()
    try:
        report = judge(*submission(exercise, answer))
    except Exception as error:  # noqa: BLE001 - recorded as an error, the run goes on
        return Grade(0.0, [], {}, time.monotonic() - started, f"{type(error).__name__}: {error}")
    passed = {v.grade_id for v in report.verdicts if v.passed}
    lost = [grade_id for grade_id in exercise.points if grade_id not in passed]
    messages = {v.grade_id: _first_line(v.text) for v in report.verdicts if not v.passed}
    earned = sum(points for grade_id, points in exercise.points.items() if grade_id in passed)
    return Grade(earned, lost, messages, time.monotonic() - started)


def _first_line(text: str) -> str:
    """The first informative line of a verdict's text (a hidden test's first line only says that it failed)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("A hidden test failed")]
    return (lines[0] if lines else text)[:200]


_EXERCISES: dict[str, Exercise] = {}
"""The exercises being run, by name: set before the pool forks, so that a job need only name its exercise."""


def _grade_job(job: tuple[str, str, str, str]) -> tuple[str, str, str, Grade]:
    """One job: (kind, exercise name, key, answer source); kind is "baseline", "mutant" or "rewrite"."""
    kind, name, key, answer = job
    return kind, name, key, grade(_EXERCISES[name], answer)


def run_jobs(jobs: list[tuple[str, str, str, str]], workers: int, progress) -> list[tuple[str, str, str, Grade]]:
    """Grade every job, in a pool of ``workers`` forked processes when there are more than one."""
    import course_lib.checks  # noqa: F401 - imported once here rather than in every worker

    if workers <= 1:
        return _collect(map(_grade_job, jobs), len(jobs), progress)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return _collect(pool.imap_unordered(_grade_job, jobs), len(jobs), progress)


def _collect(outcomes, total: int, progress) -> list:
    results = []
    for outcome in outcomes:
        results.append(outcome)
        progress(len(results), total, outcome)
    return results


# --- the report ------------------------------------------------------------------------------

def classify(mutant: Mutant, result: Grade, total: float) -> dict:
    """A mutant's record for the report: status killed / equivalent / surviving / error."""
    record = {"id": mutant.id, "operator": mutant.operator, "line": mutant.line, "detail": mutant.detail,
              "earned": result.earned, "seconds": round(result.seconds, 2)}
    if result.error:
        return {**record, "status": "error", "error": result.error, "diff": mutant.diff}
    if result.earned < total:
        record.update(status="killed", lost=result.lost, messages=result.messages)
        if mutant.id in EQUIVALENT:
            record["warning"] = "listed as equivalent, yet killed: a test rejects a correct answer, or the entry is wrong"
        return record
    if mutant.id in EQUIVALENT:
        return {**record, "status": "equivalent", "reason": EQUIVALENT[mutant.id]}
    return {**record, "status": "surviving", "diff": mutant.diff}


def rewrite_record(rewrite: Rewrite, result: Grade) -> dict:
    """A rewrite's record for the report: did it keep full marks, and if not, what did it lose."""
    return {"name": rewrite.name, "description": rewrite.description,
            "full_marks": not result.lost and not result.error, "lost": result.lost,
            "messages": result.messages, "error": result.error, "seconds": round(result.seconds, 2)}


def summarize(exercise: Exercise, generated: int, mutants: list[dict], rewrites: list[dict],
              baseline: Grade | None, sampled: bool) -> dict:
    """The exercise's figures and lists, as written to the JSON report."""
    count = {status: sum(m["status"] == status for m in mutants)
             for status in ("killed", "equivalent", "surviving", "error")}
    judged = len(mutants) - count["equivalent"] - count["error"]
    listed = {m["id"] for m in mutants}
    stale = sorted(k for k in EQUIVALENT if k.startswith(exercise.name + ":") and k not in listed) if not sampled else []
    return {"exercise": exercise.name, "notebook": exercise.notebook.name, "points": exercise.total,
            "tests": list(exercise.points), "generated": generated, "graded": len(mutants), **count,
            "score": round(count["killed"] / judged, 4) if judged else None,
            "baseline": None if baseline is None else {"earned": baseline.earned, "lost": baseline.lost,
                                                       "error": baseline.error},
            "rewrites_full_marks": all(r["full_marks"] for r in rewrites) if rewrites else None,
            "rewrites": rewrites, "mutants": mutants, "stale_equivalents": stale,
            "seconds": round(sum(m["seconds"] for m in mutants) + sum(r["seconds"] for r in rewrites), 1)}


def print_table(summaries: list[dict], out=sys.stdout) -> None:
    """The per-exercise table, then the equivalents with their reasons, the survivors with their diffs,
    and the rewrites that lost points."""
    header = f"{'exercise':28} {'gen':>4} {'run':>4} {'kill':>4} {'equiv':>5} {'surv':>4} {'err':>3} " \
             f"{'score':>6} {'rewrites':>9} {'judge s':>8}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for s in summaries:
        score = "-" if s["score"] is None else f"{s['score']:.1%}"
        ok = sum(r["full_marks"] for r in s["rewrites"])
        rewrites = f"{ok}/{len(s['rewrites'])} ok" if s["rewrites"] else "none"
        print(f"{s['exercise']:28} {s['generated']:4} {s['graded']:4} {s['killed']:4} {s['equivalent']:5} "
              f"{s['surviving']:4} {s['error']:3} {score:>6} {rewrites:>9} {s['seconds']:8.0f}", file=out)
    for s in summaries:
        if s["baseline"] and (s["baseline"]["lost"] or s["baseline"]["error"]):
            print(f"\n!! {s['exercise']}: the solution itself does not keep full marks: {s['baseline']}", file=out)
        for m in s["mutants"]:
            if m["status"] == "equivalent":
                print(f"\nEQUIVALENT {m['id']}\n  {m['reason']}", file=out)
            if m["status"] in ("surviving", "error"):
                print(f"\n{m['status'].upper()} {m['id']}\n{m['diff']}" + (f"\n  {m['error']}" if "error" in m else ""),
                      file=out)
            if "warning" in m:
                print(f"\nWARNING {m['id']}: {m['warning']}; lost {m['lost']}", file=out)
        for r in s["rewrites"]:
            if not r["full_marks"]:
                print(f"\nREWRITE LOST POINTS {s['exercise']}/{r['name']}: {r['lost']} {r['messages']}", file=out)
        for key in s["stale_equivalents"]:
            print(f"\nSTALE equivalent entry (no such mutant any more): {key}", file=out)


# --- the command -----------------------------------------------------------------------------

def select_mutants(mutants: list[Mutant], sample: int | None, seed: int, ids=None) -> list[Mutant]:
    """All mutants, those whose id is in ``ids``, or ``sample`` of them drawn with ``seed`` (in generation order)."""
    if ids is not None:
        return [m for m in mutants if m.id in ids]
    if sample is None or sample >= len(mutants):
        return mutants
    chosen = set(random.Random(seed).sample(range(len(mutants)), sample))
    return [m for index, m in enumerate(mutants) if index in chosen]


def run(exercises: list[Exercise], *, sample: int | None = None, seed: int = 0, mutant_ids=None,
        workers: int = 1, rewrites_only: bool = False, progress=None) -> list[dict]:
    """Grade the baselines, the chosen mutants and the rewrites; one summary per exercise."""
    _EXERCISES.update({e.name: e for e in exercises})
    generated = {e.name: [] if rewrites_only else generate_mutants(e) for e in exercises}
    chosen = {e.name: select_mutants(generated[e.name], sample, seed, mutant_ids) for e in exercises}
    rewrites = {e.name: load_rewrites(e) for e in exercises}
    jobs = [("baseline", e.name, "solution", e.source) for e in exercises if chosen[e.name]]
    jobs += [("mutant", name, m.id, m.source) for name, ms in chosen.items() for m in ms]
    jobs += [("rewrite", name, r.name, r.source) for name, rs in rewrites.items() for r in rs]
    results = run_jobs(jobs, workers, progress or (lambda *_: None))
    grades = {(kind, name, key): result for kind, name, key, result in results}
    summaries = []
    for e in exercises:
        mutants = [classify(m, grades[("mutant", e.name, m.id)], e.total) for m in chosen[e.name]]
        rewritten = [rewrite_record(r, grades[("rewrite", e.name, r.name)]) for r in rewrites[e.name]]
        summaries.append(summarize(e, len(generated[e.name]), mutants, rewritten,
                                   grades.get(("baseline", e.name, "solution")),
                                   sampled=sample is not None or mutant_ids is not None or rewrites_only))
    return summaries


def _print_progress(done: int, total: int, outcome) -> None:
    kind, name, key, result = outcome
    verdict = "error" if result.error else "full" if not result.lost else f"lost {','.join(result.lost)}"
    print(f"[{done}/{total}] {kind} {key if kind == 'mutant' else name + '/' + key}: {verdict} "
          f"({result.seconds:.1f} s)", file=sys.stderr, flush=True)


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--exercises", nargs="+", metavar="NAME", help="only these exercises (function names)")
    parser.add_argument("--sample", type=int, metavar="N", help="grade N random mutants per exercise")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="the sample's seed (default 0)")
    parser.add_argument("--mutants", nargs="+", metavar="ID", help="only these mutants (ids as the report gives them)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="judge in N forked processes")
    parser.add_argument("--rewrites-only", action="store_true", help="grade only the correct rewrites")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the full report here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    arguments = parse_arguments(argv)
    exercises = load_exercises()
    if arguments.exercises:
        unknown = set(arguments.exercises) - {e.name for e in exercises}
        if unknown:
            raise SystemExit(f"no such exercise: {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(e.name for e in exercises)}")
        exercises = [e for e in exercises if e.name in arguments.exercises]
    started = time.monotonic()
    if arguments.mutants:
        exercises = [e for e in exercises if any(i.startswith(e.name + ":") for i in arguments.mutants)]
    summaries = run(exercises, sample=arguments.sample, seed=arguments.seed, mutant_ids=arguments.mutants,
                    workers=arguments.workers,
                    rewrites_only=arguments.rewrites_only, progress=None if arguments.quiet else _print_progress)
    seconds = time.monotonic() - started
    print_table(summaries)
    print(f"\n{len(exercises)} exercises, {sum(s['graded'] for s in summaries)} mutants and "
          f"{sum(len(s['rewrites']) for s in summaries)} rewrites graded in {seconds:.0f} s "
          f"with {arguments.workers} worker(s)")
    if arguments.json:
        arguments.json.write_text(json.dumps({"seconds": round(seconds, 1), "workers": arguments.workers,
                                              "sample": arguments.sample, "seed": arguments.seed,
                                              "exercises": summaries}, indent=1))


if __name__ == "__main__":
    main()
