"""Argument checks shared by course_lib: a ValueError that names the argument and what it got."""

from __future__ import annotations

import math
import numbers


def check_whole(name: str, value, minimum: int) -> None:
    """``value`` must be a whole number (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")


def check_positive(name: str, value) -> None:
    """``value`` must be a finite real number above 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
