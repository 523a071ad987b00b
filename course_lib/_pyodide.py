"""What ``course_lib`` adjusts when it runs in Pyodide, the Python of the course's browser edition (lite/).

``course_lib`` imports this module only there (``sys.platform == "emscripten"``). Pyodide has no threads,
and its file system lives in memory, so that every kernel starts with no caches:

- tqdm starts a monitor thread with its first progress bar; in Pyodide that fails, and tqdm says so with
  a warning under the first training run of a lesson. The monitor only adjusts how often a bar redraws.
- matplotlib builds its font cache at its first import in every new kernel and announces it on stderr,
  which in a lesson's first cell reads like a problem. The cache is built here, without the message.
"""

from __future__ import annotations

import logging


def adapt() -> None:
    from tqdm.auto import tqdm

    tqdm.monitor_interval = 0

    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        import matplotlib.font_manager  # noqa: F401  (builds the cache on import)
    finally:
        font_log.setLevel(level)
