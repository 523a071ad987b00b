"""The experiments the lessons run and draw, one module per lesson.

A lesson cell calls one function here with the numbers it wants the learner to see (learning
rates, steps, seeds) and gets the figure and the measured values back, so that the lesson shows
the experiment's idea rather than thirty lines of plotting. Each function is tested in
``tests/test_demos_<module>.py``: the values it returns are the ones the lesson's prose states.
"""

import importlib


def __getattr__(name: str):
    # ``demos.adam`` imports ``course_lib.demos.adam`` on first use, so a lesson needs only
    # ``from course_lib import demos`` and a new module needs no line here.
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as missing:
        if missing.name != f"{__name__}.{name}":
            raise  # the module exists but needs something that is not installed: say that, not "no module"
        raise AttributeError(f"course_lib.demos has no module {name!r}") from missing
