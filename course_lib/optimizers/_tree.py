"""Parameter trees: one array, or lists, tuples and dicts of arrays (a model's weights and biases).

The optimizers work leaf by leaf. ``flatten`` turns a tree into its list of leaves plus a
description of its shape, ``unflatten`` builds a tree of the same shape from new leaves, and
``flatten_like`` reads a second tree (the gradients) that must match the first one exactly.
Every mismatch is reported with the path of the offending leaf, e.g. ``grads['W1']``.
"""

from __future__ import annotations

import numbers

import numpy as np

_LEAF = "leaf"


def _as_float_leaf(value, where: str) -> np.ndarray:
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)  # a NumPy scalar keeps its dtype, as a 0-d array
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        array = np.asarray(value, dtype=float)
    else:
        raise ValueError(
            f"{where} must be a NumPy array of floats (or a list/tuple/dict of them), "
            f"got {type(value).__name__}"
        )
    if not np.issubdtype(array.dtype, np.floating):
        kind = "integer" if np.issubdtype(array.dtype, np.integer) else "non-numeric"
        raise ValueError(
            f"{where} has {kind} dtype {array.dtype}; optimizers need floating-point arrays "
            f"(convert with np.asarray(x, dtype=float))"
        )
    return array


def flatten(tree, where: str = "params"):
    """Return ``(leaves, treedef)`` for an array or a nested list/tuple/dict of arrays."""
    leaves: list[np.ndarray] = []

    def walk(node, path):
        if isinstance(node, dict):
            return ("dict", tuple(node), tuple(walk(node[k], f"{path}[{k!r}]") for k in node))
        if isinstance(node, (list, tuple)):
            if not node:
                raise ValueError(f"{path} is an empty {type(node).__name__}: nothing to optimize")
            kind = "list" if isinstance(node, list) else "tuple"
            return (kind, len(node), tuple(walk(c, f"{path}[{i}]") for i, c in enumerate(node)))
        leaves.append(_as_float_leaf(node, path))
        return (_LEAF, leaves[-1].shape)

    treedef = walk(tree, where)
    return leaves, treedef


def flatten_like(tree, treedef, where: str, reference: str = "params") -> list[np.ndarray]:
    """Flatten ``tree`` and check that it has exactly the structure and shapes of ``treedef``."""
    leaves: list[np.ndarray] = []

    def walk(node, spec, path, ref_path):
        kind = spec[0]
        if kind == "dict":
            if not isinstance(node, dict) or set(node) != set(spec[1]):
                got = sorted(node, key=str) if isinstance(node, dict) else type(node).__name__
                raise ValueError(f"{path} must be a dict with keys {sorted(spec[1], key=str)} like {ref_path}, got {got}")
            for key, sub in zip(spec[1], spec[2]):
                walk(node[key], sub, f"{path}[{key!r}]", f"{ref_path}[{key!r}]")
        elif kind in ("list", "tuple"):
            if not isinstance(node, (list, tuple)) or len(node) != spec[1]:
                got = f"{type(node).__name__} of length {len(node)}" if isinstance(node, (list, tuple)) \
                    else type(node).__name__
                raise ValueError(f"{path} must be a {kind} of length {spec[1]} like {ref_path}, got {got}")
            for i, (child, sub) in enumerate(zip(node, spec[2])):
                walk(child, sub, f"{path}[{i}]", f"{ref_path}[{i}]")
        else:
            leaf = _as_float_leaf(node, path)
            if leaf.shape != spec[1]:
                raise ValueError(f"{path} has shape {leaf.shape} but {ref_path} has shape {spec[1]}")
            leaves.append(leaf)

    walk(tree, treedef, where, reference)
    return leaves


def unflatten(treedef, leaves):
    """Build a tree shaped like ``treedef`` from ``leaves`` (in the order ``flatten`` gave)."""
    remaining = iter(leaves)

    def build(spec):
        kind = spec[0]
        if kind == "dict":
            return {key: build(sub) for key, sub in zip(spec[1], spec[2])}
        if kind == "list":
            return [build(sub) for sub in spec[2]]
        if kind == "tuple":
            return tuple(build(sub) for sub in spec[2])
        return next(remaining)

    return build(treedef)
