"""Reference library of the *Optimizers, hands-on* course.

The notebooks import everything they reuse from here: the reference optimizers
(:mod:`course_lib.optimizers`), 2-D test surfaces (:mod:`course_lib.functions`),
data and models, training loops, plots, widgets and the learners' self-checks.
"""

import sys

__version__ = "0.1.0"

if sys.platform == "emscripten":  # the course in the browser (lite/): no threads, no file-system caches
    from . import _pyodide

    _pyodide.adapt()


def check_version(minimum: str) -> str:
    """Fail with a clear message when the installed ``course_lib`` is older than a notebook needs.

    Every notebook calls this first, so that a learner with a stale environment is told to
    update it instead of meeting a confusing error half-way through the lesson.
    """
    def as_tuple(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split(".")[:3])

    if as_tuple(__version__) < as_tuple(minimum):
        raise RuntimeError(
            f"This notebook needs course_lib {minimum} or newer, but {__version__} is installed. "
            "Update the environment: run `make lab` again from the course folder "
            "(or `pip install -e .` in your own environment)."
        )
    return f"course_lib {__version__}: OK"
