"""The student's side of grading: define the answers, then call them when the grader asks.

Run by the grader inside the sandbox as ``python -I -m autograder.answer_server IN OUT``, where
IN and OUT are the two pipe descriptors of the data-only channel (:mod:`autograder.wire`). It
never sees a test: the first frame gives it the code to run (the lesson's imports, the answer
cells, and the student's own cells those need), statement by statement, reporting each before
it runs so that the grader can tell which one hung or killed the process. Then, for each
``call`` frame, it calls one answer function on the arguments sent, and sends back what came
out: the return value (or the exception and the student's line that raised it), the inputs the
function wrote into, and the state of any random generator it was given. A function the
grader passed in (a gradient, a loss) becomes a stub that asks the grader for its value.

Everything here runs in the same interpreter as the student's code, so none of it is trusted:
the grader judges only the data that comes back.
"""

from __future__ import annotations

import ast
import builtins
import importlib.abc
import inspect
import linecache
import os
import sys
import traceback
import types
import warnings

import numpy as np

from . import wire

MAX_MESSAGE = 1000


class GraderError(Exception):
    """An exception of the grader's function (or of a kind that cannot be rebuilt here)."""


class _Blocked(importlib.abc.MetaPathFinder):
    """Refuses the reference modules, for a process that runs without a private filesystem."""

    def __init__(self, prefixes):
        self.prefixes = tuple(prefixes)

    def find_spec(self, name, path=None, target=None):
        if any(name == p or name.startswith(p + ".") for p in self.prefixes):
            raise ModuleNotFoundError(f"No module named {name!r} (the reference is not available while grading)")
        return None


def rebuilt_exception(type_name: str, message: str) -> Exception:
    """An exception of the builtin class ``type_name`` when there is one, else a :class:`GraderError`."""
    cls = getattr(builtins, str(type_name), None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except TypeError:
            pass
    return GraderError(f"{type_name}: {message}")


def learner_frame(error: BaseException) -> dict | None:
    """The last frame of the student's own cells in the traceback: cell label, function, line."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if f.filename.startswith("<") and f.filename.endswith(">")]
    if not frames:
        return None
    frame = frames[-1]
    return {"cell": frame.filename[1:-1], "function": frame.name, "line": frame.lineno,
            "text": (frame.line or "").strip()[:200]}


def describe_error(error: BaseException) -> dict:
    token = None
    seen = error
    for _ in range(5):  # the grader's own exception may be the cause or context of the student's
        if seen is None:
            break
        token = getattr(seen, "_grader_token", None)
        if token is not None:
            break
        seen = seen.__cause__ or seen.__context__
    try:
        message = str(error)[:MAX_MESSAGE]
    except Exception:  # noqa: BLE001 - a broken __str__ is the student's
        message = "(its message could not be read)"
    return {"type": type(error).__name__, "message": message, "where": learner_frame(error),
            "token": token if isinstance(token, int) else None}


def _signature(function, encoder: wire.Encoder) -> list | None:
    """The parameters of ``function`` as data: name, kind, and the default value if it has one."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    described = []
    for parameter in parameters:
        item = {"name": parameter.name, "kind": int(parameter.kind)}
        if parameter.default is not inspect.Parameter.empty:
            try:
                item["default"] = encoder.encode(parameter.default)
            except wire.WireError:
                item["default"] = {"opaque": type(parameter.default).__name__}
        described.append(item)
    return described


class Server:
    def __init__(self, reader: int, writer: int):
        self.reader, self.writer = reader, writer
        self.namespace: dict = {}

    # --- loading the student's code ------------------------------------------------------

    def load(self, request: dict) -> None:
        module = types.ModuleType("__main__")
        sys.modules["__main__"] = module
        self.namespace = module.__dict__
        blocked = [name for name in request.get("blocked", []) if isinstance(name, str)]
        if blocked:
            sys.meta_path.insert(0, _Blocked(blocked))
            for name in list(sys.modules):
                if any(name == p or name.startswith(p + ".") for p in blocked):
                    del sys.modules[name]
        skip = {(label, index) for label, index in request.get("skip", [])}
        errors = []
        for piece in request["pieces"]:
            label, source = piece["label"], piece["source"]
            filename = f"<{label}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            try:
                tree = ast.parse(source, filename)
            except SyntaxError as error:
                errors.append({"cell": label, "line": error.lineno, "type": "SyntaxError",
                               "message": str(error.msg)[:MAX_MESSAGE]})
                continue
            keep = piece.get("statements")
            for index, statement in enumerate(tree.body):
                if (label, index) in skip or (keep is not None and index not in keep):
                    continue
                wire.write_frame(self.writer, {"op": "running", "cell": label, "statement": index,
                                               "line": statement.lineno})
                try:
                    with _quiet():
                        exec(compile(ast.Module([statement], []), filename, "exec"), self.namespace)
                except BaseException as error:  # noqa: BLE001 - the student's code may raise anything
                    where = learner_frame(error)
                    errors.append({"cell": label, "line": (where or {}).get("line", statement.lineno),
                                   "type": type(error).__name__, "message": describe_error(error)["message"]})
        answers, encoder = {}, wire.Encoder()
        for name in request["answers"]:
            value = self.namespace.get(name)
            if name not in self.namespace:
                answers[name] = {"missing": True}
            elif not callable(value):
                answers[name] = {"not_callable": type(value).__name__}
            else:
                answers[name] = {"parameters": _signature(value, encoder)}
        wire.write_frame(self.writer, encoder.header(op="loaded", errors=errors, answers=answers), encoder.blobs)

    # --- calls --------------------------------------------------------------------------

    def _callback(self, number: int):
        def ask_grader(*args, **kwargs):
            encoder = wire.Encoder()
            value = encoder.encode({"args": list(args), "kwargs": kwargs})
            wire.write_frame(self.writer, encoder.header(op="callback", id=number, value=value), encoder.blobs)
            header, blobs = wire.read_frame(self.reader)
            if header.get("op") == "callback_raised":
                error = rebuilt_exception(header.get("type"), str(header.get("message", "")))
                error._grader_token = header.get("token")
                raise error
            return wire.Decoder(header, blobs).decode(header.get("value"))
        ask_grader.__name__ = "grad_fn"
        return ask_grader

    def call(self, header: dict, blobs: list[bytes]) -> None:
        decoder = wire.Decoder(header, blobs, make_callback=self._callback)
        request = decoder.decode(header["value"])
        inputs = [decoder.array(i) for i in range(len(decoder.entries))]
        pristine = [np.array(a, copy=True) for a in inputs]
        args, kwargs = request["args"], request["kwargs"]
        shallow = {key: _shallow(value) for key, value in _containers(args, kwargs)}
        function = self.namespace.get(header["name"])
        try:
            with _quiet():
                result = function(*args, **kwargs)
                if isinstance(result, types.GeneratorType) or (
                        hasattr(result, "__next__") and not isinstance(result, (np.ndarray, str, bytes))):
                    result = _drained(result)
            reply, value = {"op": "returned"}, result
        except BaseException as error:  # noqa: BLE001 - the student's code may raise anything
            reply, value = {"op": "raised", **describe_error(error)}, None
        try:
            encoder = wire.Encoder(inputs=inputs)
            encoded = encoder.encode(value)
            mutated = [[j, encoder.add_blob(a)] for j, (a, before) in enumerate(zip(inputs, pristine))
                       if a.shape != before.shape or not np.array_equal(a, before, equal_nan=True)]
            after = [[key, encoder.encode(container)] for key, container in _containers(args, kwargs)
                     if _shallow(container) != shallow[key]]
            generators = [[k, g.bit_generator.state] for k, g in sorted(decoder.generators.items())]
            wire.write_frame(self.writer, encoder.header(**reply, value=encoded, mutated=mutated, after=after,
                                                         rng_after=generators), encoder.blobs)
        except Exception as error:  # noqa: BLE001 - a result too big or too strange to send is a result too
            problem = str(error) if isinstance(error, wire.WireError) else f"{type(error).__name__}: {error}"
            wire.write_frame(self.writer, {"op": "raised", "type": "ValueError", "where": None, "token": None,
                                           "message": f"what {header['name']} returned cannot be sent to the "
                                                      f"grader: {problem[:300]}"})

    def serve(self) -> None:
        header, blobs = wire.read_frame(self.reader)
        self.load(header)
        while True:
            header, blobs = wire.read_frame(self.reader)
            if header.get("op") == "call":
                self.call(header, blobs)
            elif header.get("op") == "exit":
                return


class _quiet:
    """NumPy's floating-point warnings and Python warnings off, as the checks do around learner code."""

    def __enter__(self):
        self.errstate = np.errstate(all="ignore")
        self.errstate.__enter__()
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self.warnings.__exit__(*exc)
        self.errstate.__exit__(*exc)
        return False


def _drained(iterator) -> wire.Drained:
    items = []
    for item in iterator:
        items.append(item)
        if len(items) >= wire.MAX_ITERATOR_ITEMS:
            break
    return wire.Drained(items)


def _containers(args, kwargs):
    """``(key, container)`` for every list or dict argument: what a function can change in place."""
    for index, value in enumerate(args):
        if isinstance(value, (list, dict)):
            yield index, value
    for name, value in kwargs.items():
        if isinstance(value, (list, dict)):
            yield name, value


def _shallow(container) -> list:
    items = container.items() if isinstance(container, dict) else enumerate(container)
    return [(key, id(value), value if isinstance(value, (int, float, str, bool, type(None))) else None)
            for key, value in items]


def main(argv: list[str]) -> None:
    reader, writer = int(argv[0]), int(argv[1])
    quiet = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(quiet, descriptor)
    try:
        Server(reader, writer).serve()
    except wire.ChannelClosed:
        pass
    finally:
        os._exit(0)  # no atexit handlers or finalizers of the student's


if __name__ == "__main__":
    main(sys.argv[1:])
