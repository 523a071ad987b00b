"""What a check says when it fails, for the tests of the exercises' checks."""

import pytest

from course_lib.checks import CheckFailed


def failure(check, fn, **options) -> CheckFailed:
    """The CheckFailed that ``check(fn, **options)`` must raise."""
    with pytest.raises(CheckFailed) as caught:
        check(fn, **options)
    return caught.value
