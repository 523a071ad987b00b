"""Evidence that a submission tried to raise its own grade.

Two independent checks, each returning human-readable reasons (an empty list means clean):

* :func:`scan_student_code` reads the code a student wrote (every code cell that nbgrader did
  not restore from the source) and lists what a correct answer has no reason to do: import
  process, file or interpreter machinery, reach IPython, use ``exec``/``eval``/dunders, assign
  into an imported module or class, or call ``course_lib``'s reference optimizers.
* :func:`probe_cells` and :func:`read_probes`: the grader puts one cell before the notebook
  and two after it. The first and the last report which functions of ``builtins``, numpy and
  ``course_lib`` exist (by identity) and which IPython hooks are installed; the grader compares
  the two reports outside the kernel. The very last cell raises an error carrying a random
  nonce, which must come back as an error output: if it does not, something swallows errors
  or rewrites cells, and the test cells' verdicts cannot be trusted.

Neither is proof against a determined attacker (see README.md, "Threat model"); together they
turn the known tricks into a ``flagged`` status an instructor reviews.
"""

from __future__ import annotations

import ast
import json
import secrets

PROBE_KEY = "autograder_probe"

WATCHED_MODULES = ("builtins", "math", "numpy", "numpy.testing", "numpy.linalg", "course_lib",
                   "course_lib.optimizers", "course_lib.checks")

FORBIDDEN_MODULES = frozenset({
    "builtins", "sys", "os", "posix", "subprocess", "signal", "ctypes", "importlib", "IPython",
    "ipykernel", "jupyter_client", "zmq", "gc", "inspect", "shutil", "pathlib", "io", "socket",
    "threading", "multiprocessing", "concurrent", "asyncio", "atexit", "pty", "resource",
    "nbformat", "nbgrader", "nbclient", "sqlite3", "sqlalchemy", "glob", "pickle", "marshal",
    "types", "unittest", "tempfile", "runpy", "code", "codeop", "dis", "faulthandler",
})
FORBIDDEN_NAMES = frozenset({
    "exec", "eval", "compile", "__import__", "open", "globals", "locals", "vars", "get_ipython",
    "breakpoint", "__builtins__", "setattr", "delattr", "input", "exit", "quit",
})
FORBIDDEN_ATTRIBUTES = frozenset({
    "__builtins__", "__globals__", "__code__", "__subclasses__", "__dict__", "__bases__",
    "__mro__", "__closure__", "__import__", "__loader__", "__spec__", "__getattribute__",
    "__setattr__", "f_globals", "f_locals", "f_back", "gi_frame",
})
# The reference optimizers, and the checks that can hand out a correct (or any) update function.
REFERENCE_MODULES = ("course_lib.optimizers", "course_lib.checks")

_PROBE_SOURCE = '''\
def _autograder_probe(tag, watched):
    import importlib, json, sys
    for name in watched:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    identities = {}
    for name in sorted(sys.modules):
        module = sys.modules[name]
        if module is None or not (name in watched or name.startswith("course_lib")):
            continue
        for key, value in list(vars(module).items()):
            # IPython rebinds the output history and ipykernel rebinds input() on every cell.
            if key in ("_", "__", "___", "input", "raw_input") or not callable(value):
                continue
            identities[name + "." + key] = id(value)
            if isinstance(value, type) and getattr(value, "__module__", "") == name:
                for member, inner in list(vars(value).items()):
                    identities[name + "." + key + "." + member] = id(inner)
    shell = get_ipython()
    hooks = {
        "input_transformers_cleanup": [id(t) for t in shell.input_transformers_cleanup],
        "input_transformers_post": [id(t) for t in shell.input_transformers_post],
        "ast_transformers": [id(t) for t in shell.ast_transformers],
        "custom_exceptions": repr(shell.custom_exceptions),
        "sys.displayhook": id(sys.displayhook),
        "sys.gettrace": repr(sys.gettrace()),
        "shell methods replaced": sorted(k for k, v in vars(shell).items() if callable(v)),
        "event callbacks from the notebook": sorted(
            event for event, callbacks in shell.events.callbacks.items()
            for callback in callbacks if getattr(callback, "__module__", None) == "__main__"),
    }
    print(tag + json.dumps({"identities": identities, "hooks": hooks}))
_autograder_probe({tag!r}, {watched!r})
del _autograder_probe
'''


def probe_cells(nonce: str | None = None):
    """The grader's three probe cells ``(first, report, error)`` and the nonce they carry."""
    import nbformat

    nonce = nonce or secrets.token_hex(16)
    report = _PROBE_SOURCE.replace("{tag!r}", repr(f"[{nonce}]")).replace("{watched!r}", repr(WATCHED_MODULES))
    cells = []
    for role, source in (("first", report), ("last", report),
                         ("error", f"raise AssertionError({nonce!r})")):
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata[PROBE_KEY] = role
        cells.append(cell)
    return cells, nonce


def is_probe(cell) -> bool:
    return PROBE_KEY in cell.get("metadata", {})


def _probe_report(cell, nonce: str):
    tag = f"[{nonce}]"
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            for line in output.get("text", "").splitlines():
                if line.startswith(tag):
                    try:
                        return json.loads(line[len(tag):])
                    except ValueError:
                        return None
    return None


def read_probes(nb, nonce: str) -> list[str]:
    """Reasons to distrust this executed notebook, judged from the probe cells' outputs."""
    probes = {cell.metadata[PROBE_KEY]: cell for cell in nb.cells if is_probe(cell)}
    if set(probes) != {"first", "last", "error"}:
        return ["the grader's integrity probes are missing from the executed notebook"]
    first, last = _probe_report(probes["first"], nonce), _probe_report(probes["last"], nonce)
    if first is None:
        return ["the grader's first integrity probe did not report (the kernel misbehaved before any student code ran)"]
    reasons = []
    if last is None:
        reasons.append("the grader's final integrity probe did not report: output or cell execution was hijacked")
    else:
        replaced = sorted(name for name, ident in first["identities"].items()
                          if last["identities"].get(name) != ident)
        if replaced:
            shown = ", ".join(replaced[:5]) + (f" and {len(replaced) - 5} more" if len(replaced) > 5 else "")
            reasons.append(f"student code replaced library functions: {shown}")
        changed = [name for name, value in first["hooks"].items() if last["hooks"].get(name) != value]
        if changed:
            reasons.append(f"student code changed IPython/interpreter hooks: {', '.join(changed)}")
    errors = [o for o in probes["error"].get("outputs", []) if o.get("output_type") == "error"]
    if not any(o.get("ename") == "AssertionError" and nonce in o.get("evalue", "") for o in errors):
        reasons.append("a deliberate error in the grader's last cell was not reported: errors are being suppressed")
    return reasons


# --- static scan --------------------------------------------------------------------------

def _python_source(cell_source: str) -> str:
    """Cell source with IPython syntax (magics, ``!`` shell escapes) turned into plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def _parse(cell_source: str):
    try:
        return ast.parse(_python_source(cell_source))
    except SyntaxError:
        return None  # it fails at run time too, and earns nothing


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _imported_names(tree) -> dict[str, str]:
    """Local name -> the dotted thing it is bound to, for every import in ``tree``."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _is_reference(dotted: str) -> bool:
    return any(dotted == module or dotted.startswith(module + ".") for module in REFERENCE_MODULES)


def _student_cells(nb, source):
    """Code cells holding the student's code: answers, and any cell not exactly as in ``source``.

    Locked cells were already restored by nbgrader; an unlocked lesson cell the student left
    alone matches the source and is the instructor's code, not evidence against the student.
    """
    original = {cell.source for cell in source.cells if cell.cell_type == "code"}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or is_probe(cell):
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") or (cell.source not in original and not meta.get("locked")):
            yield meta.get("grade_id") or f"cell {index + 1}", cell


def _cell_findings(tree, imports: dict[str, str]) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            modules = []
        for module in modules:
            if module.split(".")[0] in FORBIDDEN_MODULES:
                found.add(f"imports {module.split('.')[0]}")
            if _is_reference(module):
                found.add(f"uses the reference implementation ({module})")
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in FORBIDDEN_NAMES:
                found.add(f"uses {node.id}()")
            elif _is_reference(imports.get(node.id, "")):
                found.add(f"uses the reference implementation ({imports[node.id]})")
        if isinstance(node, ast.Attribute):
            if node.attr in FORBIDDEN_ATTRIBUTES:
                found.add(f"uses {node.attr}")
            root = _root_name(node)
            if root in imports and isinstance(node.ctx, ast.Load):
                full = imports[root] + _dotted(node)[len(root):]
                if _is_reference(full):
                    found.add(f"uses the reference implementation ({full.rsplit('.', 1)[0]})")
            if root in imports and isinstance(node.ctx, (ast.Store, ast.Del)):
                found.add(f"modifies {_dotted(node) or root} (an imported library)")
    return found


def _bound_names(tree) -> set[str]:
    """Every name a piece of code binds at any depth: definitions, assignments, imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _answer_names(source) -> set[str]:
    """The names the source's autograded answer cells define: the functions the exercises ask for."""
    names = set()
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            tree = _parse(cell.source)
            if tree is not None:
                names |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    return names


def scan_student_code(nb, source) -> list[str]:
    """What the student-written cells of ``nb`` do that a correct answer never needs to.

    ``source`` is the assignment's source notebook, which tells the lesson's own cells apart.
    """
    trees = {}
    imports: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and not is_probe(cell):
            tree = _parse(cell.source)
            if tree is not None:
                imports.update(_imported_names(tree))
                trees[id(cell)] = tree
    answers = _answer_names(source)
    where: dict[str, list[str]] = {}
    for label, cell in _student_cells(nb, source):
        tree = trees.get(id(cell))
        if tree is None:
            continue
        findings = _cell_findings(tree, imports)
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            # Experimenting with the reference optimizers in a cell of one's own is part of the
            # lessons; what would cheat is putting something else in place of an answer.
            findings = {f for f in findings if not f.startswith("uses the reference implementation")}
            findings |= {f"redefines {name} outside its answer cell" for name in _bound_names(tree) & answers}
        for finding in sorted(findings):
            where.setdefault(finding, []).append(label)
    return [f"{finding} in {', '.join(labels)}" for finding, labels in where.items()]
