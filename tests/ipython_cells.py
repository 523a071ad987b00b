"""Run notebook cells in a fresh IPython shell, to see what a learner would see of a failure."""

import subprocess
import sys
import textwrap


def shown_in_ipython(cells: list[str]) -> str:
    """What IPython prints (tracebacks included, no colours) when it runs ``cells`` one by one."""
    script = textwrap.dedent(f"""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance(colors="nocolor")
        for cell in {cells!r}:
            shell.run_cell(cell)
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60).stdout
