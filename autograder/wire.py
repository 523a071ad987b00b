"""The data-only channel between the trusted grader and the process that runs a student's code.

A message is a frame: a 4-byte big-endian length, then a JSON header, then the arrays it
refers to as ``.npy`` blobs (read back with ``allow_pickle=False``). Nothing in a frame can be
code or a Python object: the grader decodes numbers, strings, containers, arrays, and a few
tagged values (a random generator's state, a range), and shows anything else as an
:class:`Opaque` placeholder. Both sides import this module; it needs only numpy.

Values in the JSON tree are plain ``null``/``true``/numbers/strings, or one-key objects::

    {"list": [...]}  {"tuple": [...]}  {"dict": [[key, value], ...]}
    {"array": e}     {"scalar": e}          an entry of the frame's array table (0-d for scalars)
    {"rng": {...}}   a numpy Generator, as its bit generator's state
    {"callback": c}  a function of the grader's that the student's code may call back
    {"iterator": [...]}  what a generator yielded      {"range": [a, b, c]}  {"slice": [a, b, c]}
    {"complex": [re, im]}  {"opaque": "type name"}

Array table entries: ``{"blob": k}`` (a new array), ``{"input": j}`` (the very array ``j`` of
the request being answered), or ``{"view": e, "offset", "shape", "strides", "blob": k}`` (an
array sharing memory with entry ``e``; its values come along in case the view cannot be
rebuilt). Identity is kept: an object met twice is one entry.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import os
import select
import struct
import time

import numpy as np

HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 64 << 20
MAX_DEPTH = 24
MAX_ITEMS = 200_000
MAX_ITERATOR_ITEMS = 100_000
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_ARRAY_KINDS = "biufc"


class WireError(Exception):
    """A frame that breaks the format or the size limits."""


class ChannelClosed(WireError):
    """The other side closed the channel (it exited or was killed)."""


class ChannelTimeout(WireError):
    """No complete frame arrived before the deadline."""


class Drained:
    """What a generator yielded, sent as a list and handed back as an iterator over it."""

    def __init__(self, items: list):
        self.items = items


class Opaque:
    """Something that cannot cross the channel, named by its type: ``<a Foo that cannot be sent>``."""

    def __init__(self, type_name: str):
        self.type_name = str(type_name)[:80]

    def __repr__(self) -> str:
        return f"<a {self.type_name} that cannot cross to the grader>"


# --- framing ------------------------------------------------------------------------------

def write_frame(fd: int, header: dict, blobs: list[bytes] = ()) -> None:
    meta = json.dumps({**header, "blobs": [len(b) for b in blobs]}, allow_nan=True).encode()
    payload = b"".join([HEADER.pack(len(meta)), meta, *blobs])
    if len(payload) > MAX_FRAME_BYTES:
        raise WireError(f"a message of {len(payload)} bytes is over the limit of {MAX_FRAME_BYTES}")
    data = memoryview(HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data):]


def _read_exactly(fd: int, count: int, deadline: float | None) -> bytes:
    chunks, missing = [], count
    while missing:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ChannelTimeout("no answer before the deadline")
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise ChannelClosed("the channel was closed")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None, max_bytes: int = MAX_FRAME_BYTES) -> tuple[dict, list[bytes]]:
    """One frame's header and blobs; never reads more than ``max_bytes`` whatever the sender claims."""
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size, deadline))
    if size > max_bytes:
        raise WireError(f"a message of {size} bytes is over the limit of {max_bytes}")
    payload = _read_exactly(fd, size, deadline)
    try:
        (meta_size,) = HEADER.unpack_from(payload)
        header = json.loads(payload[HEADER.size:HEADER.size + meta_size])
        sizes = header.pop("blobs")
        if not isinstance(header, dict) or not isinstance(sizes, list):
            raise ValueError("not an object")
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, struct.error) as error:
        raise WireError(f"unreadable message header: {type(error).__name__}") from None
    blobs, at = [], HEADER.size + meta_size
    for blob_size in sizes:
        if not isinstance(blob_size, int) or blob_size < 0 or at + blob_size > len(payload):
            raise WireError("message blobs do not match their sizes")
        blobs.append(payload[at:at + blob_size])
        at += blob_size
    return header, blobs


# --- encoding -----------------------------------------------------------------------------

def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class Encoder:
    """Turns values into a JSON tree plus array table and blobs, keeping identity and aliasing.

    ``inputs`` are the arrays of the request being answered (kernel side): an output that is
    one of them, or a view into one, is sent as such rather than as a copy.
    """

    def __init__(self, inputs: list[np.ndarray] = (), callbacks: list | None = None):
        self.inputs = list(inputs)
        self.callbacks = callbacks
        self.arrays: list[dict] = []
        self.objects: list[np.ndarray | None] = []  # what each array entry was (None for scalars)
        self.blobs: list[bytes] = []
        self._entry_of: dict[int, int] = {}
        self._known: list[tuple[np.ndarray, int]] = []
        self.generators: list[np.random.Generator] = []
        self._keep: list = []  # holds encoded objects so that their ids stay unique
        self._items = 0

    def add_blob(self, array: np.ndarray) -> int:
        """Append an array's bytes; return its blob index."""
        self.blobs.append(_npy(array))
        return len(self.blobs) - 1

    def _entry(self, array: np.ndarray) -> int:
        key = id(array)
        if key in self._entry_of:
            return self._entry_of[key]
        self._keep.append(array)
        entry = None
        for j, given in enumerate(self.inputs):
            if array is given:
                entry = {"input": j}
                break
        if entry is None:
            entry = {"blob": self.add_blob(array), "writeable": bool(array.flags.writeable)}
            base = self._sharing(array)
            if base is not None:
                entry.update(self._view(array, base))
        self.arrays.append(entry)
        self.objects.append(array)
        self._entry_of[key] = len(self.arrays) - 1
        if entry.get("input") is not None or "view" not in entry:
            self._known.append((array, len(self.arrays) - 1))
        return len(self.arrays) - 1

    def _sharing(self, array: np.ndarray) -> tuple[np.ndarray, int] | None:
        candidates = [(given, self._input_entry(j)) for j, given in enumerate(self.inputs)] + self._known
        for other, entry in candidates:
            if np.may_share_memory(array, other) and np.shares_memory(array, other, max_work=10_000):
                return other, entry
        return None

    def _input_entry(self, j: int) -> int:
        given = self.inputs[j]
        if id(given) not in self._entry_of:
            self._keep.append(given)
            self.arrays.append({"input": j})
            self.objects.append(given)
            self._entry_of[id(given)] = len(self.arrays) - 1
        return self._entry_of[id(given)]

    @staticmethod
    def _view(array: np.ndarray, base_and_entry) -> dict:
        base, entry = base_and_entry
        offset = array.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        return {"view": entry, "offset": int(offset), "shape": list(array.shape),
                "strides": list(array.strides)}

    def encode(self, value, depth: int = 0):
        self._items += 1
        if depth > MAX_DEPTH or self._items > MAX_ITEMS:
            raise WireError("the value is nested too deeply or holds too many items to send")
        if value is None or isinstance(value, (bool, str)):
            return value if not isinstance(value, str) or len(value) <= 100_000 else value[:100_000]
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in _ARRAY_KINDS:
                return {"opaque": f"array of dtype {value.dtype}"}
            return {"array": self._entry(value)}
        if isinstance(value, np.generic):
            if value.dtype.kind not in _ARRAY_KINDS:
                return {"opaque": type(value).__name__}
            self.blobs.append(_npy(np.asarray(value)))
            self.arrays.append({"blob": len(self.blobs) - 1, "writeable": False})
            self.objects.append(None)
            return {"scalar": len(self.arrays) - 1}
        if isinstance(value, int):
            return value if abs(value) < 1 << 2048 else {"opaque": "int too large"}
        if isinstance(value, float):
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, complex):
            return {"complex": [self.encode(value.real, depth + 1), self.encode(value.imag, depth + 1)]}
        if isinstance(value, (list, tuple)):
            tag = "list" if isinstance(value, list) else "tuple"
            if len(value) > MAX_ITEMS:
                raise WireError("a list too long to send")
            return {tag: [self.encode(item, depth + 1) for item in value]}
        if isinstance(value, dict):
            return {"dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in list(value.items())]}
        if isinstance(value, np.random.Generator):
            if not any(value is g for g in self.generators):
                self.generators.append(value)
            return {"rng": next(k for k, g in enumerate(self.generators) if g is value)}
        if isinstance(value, Drained):
            return {"iterator": [self.encode(item, depth + 1) for item in value.items]}
        if isinstance(value, range):
            return {"range": [value.start, value.stop, value.step]}
        if isinstance(value, slice):
            parts = [value.start, value.stop, value.step]
            if all(p is None or isinstance(p, int) for p in parts):
                return {"slice": parts}
        if callable(value) and self.callbacks is not None and not isinstance(value, type):
            self.callbacks.append(value)
            return {"callback": len(self.callbacks) - 1}
        if isinstance(value, numbers.Real):
            return {"opaque": type(value).__name__}
        return {"opaque": type(value).__name__}

    def header(self, **fields) -> dict:
        return {**fields, "arrays": self.arrays, "rngs": [g.bit_generator.state for g in self.generators]}


# --- decoding -----------------------------------------------------------------------------

class Decoder:
    """Rebuilds values from a frame, trusting nothing in it.

    ``inputs`` are the arrays of the request a reply answers (grader side): ``{"input": j}``
    entries resolve to those very objects. ``make_callback(c)`` turns a callback tag into a
    callable (kernel side); ``make_rng(state)`` a generator state into a Generator.
    """

    def __init__(self, header: dict, blobs: list[bytes], inputs: list[np.ndarray] = (),
                 make_callback=None):
        self.entries = header.get("arrays", [])
        if not isinstance(self.entries, list):
            raise WireError("bad array table")
        self.blobs, self.inputs, self.make_callback = blobs, list(inputs), make_callback
        self.rng_states = header.get("rngs", [])
        if not isinstance(self.rng_states, list):
            raise WireError("bad generator table")
        self.generators: dict[int, np.random.Generator] = {}
        self._arrays: dict[int, np.ndarray] = {}
        self._items = 0

    def blob(self, index) -> np.ndarray:
        if not isinstance(index, int) or not 0 <= index < len(self.blobs):
            raise WireError("an array refers to a missing blob")
        try:
            array = np.lib.format.read_array(io.BytesIO(self.blobs[index]), allow_pickle=False)
        except Exception as error:  # noqa: BLE001 - any malformed blob is the sender's fault
            raise WireError(f"an unreadable array: {type(error).__name__}") from None
        if array.dtype.kind not in _ARRAY_KINDS or array.dtype.fields is not None:
            raise WireError(f"an array of dtype {array.dtype} cannot be received")
        return array

    def array(self, entry_index) -> np.ndarray:
        if not isinstance(entry_index, int) or not 0 <= entry_index < len(self.entries):
            raise WireError("a value refers to a missing array")
        if entry_index in self._arrays:
            return self._arrays[entry_index]
        self._arrays[entry_index] = None  # a cycle of views is malformed
        entry = self.entries[entry_index]
        if not isinstance(entry, dict):
            raise WireError("bad array entry")
        if "input" in entry:
            j = entry["input"]
            if not isinstance(j, int) or not 0 <= j < len(self.inputs):
                raise WireError("a reply refers to an array that was not sent")
            array = self.inputs[j]
        else:
            array = self.blob(entry.get("blob"))
            if "view" in entry:
                base_index = entry["view"]
                building = isinstance(base_index, int) and base_index in self._arrays and self._arrays[base_index] is None
                array = _rebuilt_view(None if building else self.array(base_index), entry, array)
            if not entry.get("writeable", True) and array.flags.owndata:
                array.setflags(write=False)
        self._arrays[entry_index] = array
        return array

    def decode(self, node, depth: int = 0):
        self._items += 1
        if depth > MAX_DEPTH or self._items > MAX_ITEMS:
            raise WireError("a value nested too deeply or with too many items")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list) or not isinstance(node, dict) or len(node) != 1:
            raise WireError("malformed value")
        (tag, body), = node.items()
        if tag == "array":
            return self.array(body)
        if tag == "scalar":
            array = self.array(body)
            return array[()] if array.ndim == 0 else array
        if tag in ("list", "tuple", "iterator"):
            if not isinstance(body, list):
                raise WireError("malformed list")
            items = [self.decode(item, depth + 1) for item in body]
            return items if tag == "list" else tuple(items) if tag == "tuple" else iter(items)
        if tag == "dict":
            if not isinstance(body, list):
                raise WireError("malformed dict")
            result = {}
            for pair in body:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("malformed dict item")
                key = self.decode(pair[0], depth + 1)
                try:
                    result[key] = self.decode(pair[1], depth + 1)
                except TypeError:
                    raise WireError("a dict key that cannot be a key") from None
            return result
        if tag == "float":
            if body not in ("nan", "inf", "-inf"):
                raise WireError("malformed float")
            return float(body)
        if tag == "complex":
            return complex(*(_real(self.decode(part, depth + 1)) for part in body))
        if tag in ("range", "slice"):
            if not isinstance(body, list) or len(body) != 3 or not all(p is None or type(p) is int for p in body):
                raise WireError(f"malformed {tag}")
            if tag == "range":
                try:
                    return range(*body)
                except (TypeError, ValueError):
                    raise WireError("malformed range") from None
            return slice(*body)
        if tag == "rng":
            if not isinstance(body, int) or not 0 <= body < len(self.rng_states):
                raise WireError("a value refers to a missing generator")
            if body not in self.generators:
                self.generators[body] = make_generator(self.rng_states[body])
            return self.generators[body]
        if tag == "callback":
            if self.make_callback is None or not isinstance(body, int):
                raise WireError("an unexpected callback")
            return self.make_callback(body)
        if tag == "opaque":
            return Opaque(body)
        raise WireError(f"unknown value tag {tag!r}")


def _real(value) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise WireError("malformed complex")
    return float(value)


def _rebuilt_view(base: np.ndarray | None, entry: dict, values: np.ndarray) -> np.ndarray:
    """A view of ``base`` as the sender described it, or ``values`` when it cannot be one safely."""
    shape, strides, offset = entry.get("shape"), entry.get("strides"), entry.get("offset")
    if (base is None or not base.flags.c_contiguous or base.dtype != values.dtype or values.size == 0
            or not isinstance(offset, int) or not isinstance(shape, list) or not isinstance(strides, list)
            or len(shape) != len(strides) or tuple(shape) != values.shape
            or not all(type(n) is int for n in shape + strides)):
        return values
    itemsize = values.itemsize
    reach = [(n - 1) * s for n, s in zip(shape, strides)]
    low = offset + sum(r for r in reach if r < 0)
    high = offset + sum(r for r in reach if r > 0) + itemsize
    if low < 0 or high > base.nbytes or offset % itemsize or any(s % itemsize for s in strides):
        return values
    view = np.lib.stride_tricks.as_strided(base.reshape(-1)[offset // itemsize:], shape=tuple(shape),
                                           strides=tuple(strides))
    return view if np.array_equal(view, values, equal_nan=True) else values


def make_generator(state) -> np.random.Generator:
    """A numpy Generator in ``state`` (a bit generator's ``.state`` dict), refusing anything else."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise WireError("an unknown random generator")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError):
        raise WireError("a malformed random generator state") from None
    return np.random.Generator(bit_generator)


def set_generator_state(rng: np.random.Generator, state) -> None:
    """Move ``rng`` to ``state`` (sent back after a call), if it is a valid state of the same kind."""
    try:
        if isinstance(state, dict) and state.get("bit_generator") == rng.bit_generator.state["bit_generator"]:
            rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError):
        pass
