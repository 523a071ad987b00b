"""The browser tests' JupyterLab server never outlives the process that started it: when that process
is killed outright (SIGKILL, no cleanup of its own), the server and its kernels go too."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
import urllib.request

import pytest

from .lab import REPOSITORY, descendants

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watchdog (PR_SET_PDEATHSIG) is Linux-only"),
]

STARTUP_SECONDS = 180
SHUTDOWN_SECONDS = 60


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {seconds:g} s")
        time.sleep(0.2)
    return result


def test_server_and_kernels_stop_when_the_starting_process_is_killed(tmp_path):
    (tmp_path / "notebooks").mkdir()
    command = [sys.executable, "-m", "tests.browser.lab", str(tmp_path / "notebooks"), "--home", str(tmp_path / "home")]
    family = []
    starter = subprocess.Popen(command, cwd=REPOSITORY, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    with starter:
        try:
            ready, _, _ = select.select([starter.stdout], [], [], STARTUP_SECONDS)
            assert ready, f"the server did not start within {STARTUP_SECONDS} s"
            line = starter.stdout.readline()
            assert line, "the starting process exited before its server answered"
            server = json.loads(line)
            # A kernel runs in a session of its own, out of reach of signals sent to the server's process group.
            request = urllib.request.Request(f"{server['url']}/api/kernels", data=b"{}", method="POST",
                                             headers={"Authorization": f"token {server['token']}"})
            urllib.request.urlopen(request, timeout=60).close()
            _wait_for(lambda: descendants(server["pid"]), STARTUP_SECONDS, "the kernel process should appear")
            family = descendants(starter.pid)

            starter.kill()
            starter.wait()
            _wait_for(lambda: not any(process.alive() for process in family), SHUTDOWN_SECONDS,
                      "the server and its kernel should exit once their starter is killed")
        finally:
            starter.kill()
            for process in family:
                process.kill()
