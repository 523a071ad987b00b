"""The course's commands as the Makefile runs them, and a JupyterLab server started the way `make lab`
starts it, isolated from the user's own Jupyter files and stopped together with its kernels whatever
happens to the process that started it.

Three things stop it:

- :meth:`LabServer.stop` (the fixtures call it): SIGTERM to the server's process group, on which Jupyter
  shuts its kernels down; whatever is left of the server or of its kernels after a grace period is killed.
- On Linux, the death of the starting process, even by SIGKILL: the server is launched through a small
  wrapper that asks the kernel to kill it when its parent dies (``PR_SET_PDEATHSIG``) and then execs
  ``jupyter lab``. SIGKILL, not SIGTERM: Jupyter's graceful shutdown was seen to hang when the signal
  came while a kernel was starting, and nobody would be left to escalate.
- The kernels exit within a second of the server's death: ipykernel polls for a change of parent.

By hand: ``python -m tests.browser.lab FOLDER --home DIR`` prints one JSON line (``url``, ``token``,
``pid``) and serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
# What `make lab` puts on JUPYTER_CONFIG_PATH: learners get no instructor tools.
LEARNER_CONFIG = REPOSITORY / "deploy" / "jupyter" / "learner"
BIN = Path(sys.executable).parent
STOP_GRACE_SECONDS = 30

# Each server gets its own folder for what Jupyter would otherwise read from or write to the user's home.
PRIVATE_DIRS = {
    "JUPYTER_CONFIG_DIR": "config",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "JUPYTERLAB_SETTINGS_DIR": "settings",
    "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
    "IPYTHONDIR": "ipython",
}

# The news toast asks for a click in the lower right corner, over cells the tests click; and there
# is no internet to fetch news from anyway.
NOTIFICATION_SETTINGS = Path("@jupyterlab/apputils-extension/notification.jupyterlab-settings")
NO_NEWS = {"fetchNews": "false", "checkForUpdates": False}

_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
PR_SET_PDEATHSIG = 1
# The setting survives the exec below; the check after it closes the race with a parent that died first.
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
if os.getppid() != int(sys.argv[1]):
    sys.exit("the process that started this server has already exited")
os.execv(sys.argv[2], sys.argv[2:])
"""


def lab_command(notebook_dir: Path, port: int) -> list[str]:
    """The Makefile's ``jupyter lab --notebook-dir=...``, on 127.0.0.1:``port``, without opening a browser."""
    command = [str(BIN / "jupyter"), "lab", f"--notebook-dir={notebook_dir}", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # as the Makefile adds it for root (CI machines)
    return command


def course_environment() -> dict[str, str]:
    """The environment the Makefile gives its commands: the virtual environment's bin/ first on PATH."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def run_autograder(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m autograder ARGS`` as the Makefile runs it, output captured (stderr into stdout)."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=REPOSITORY, env=course_environment(),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


@dataclass
class LabServer:
    process: subprocess.Popen
    notebook_dir: Path
    url: str
    token: str
    log: Path

    def workspace_url(self, tree_path: str | None = None) -> str:
        """A workspace of its own (a random name), so that no tab of an earlier visit is restored."""
        url = f"{self.url}/lab/workspaces/{secrets.token_hex(8)}"
        if tree_path is not None:
            url += "/tree/" + urllib.parse.quote(tree_path)
        return f"{url}?token={self.token}"

    def api(self, method: str, path: str, timeout: float = 30):
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"},
                                         data=b"{}" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut down every kernel, so that the next test starts fresh ones and the machine is not loaded."""
        for kernel in self.api("GET", "kernels"):
            self.api("DELETE", f"kernels/{kernel['id']}")

    def stop(self) -> None:
        if self.process.poll() is None:
            # Kernels run in sessions of their own: find them while the server is still their parent.
            family = descendants(self.process.pid)
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait()
            for process in family:
                process.kill()


def start_lab(notebook_dir: Path, *, cwd: Path, home: Path, log: Path, timeout: float = 180,
              learner: bool = False) -> LabServer:
    """Start ``jupyter lab`` on ``notebook_dir`` from ``cwd``, with its private folders in ``home``,
    its output in ``log``, as ``make lab`` does for a ``learner``; return once ``/api/status`` answers."""
    token = secrets.token_urlsafe(24)
    port = _free_port()
    environment = {**course_environment(), "JUPYTER_TOKEN": token}
    if learner:
        environment["JUPYTER_CONFIG_PATH"] = str(LEARNER_CONFIG)
    for variable, name in PRIVATE_DIRS.items():
        environment[variable] = str(home / name)
        (home / name).mkdir(parents=True, exist_ok=True)
    notification_settings = home / PRIVATE_DIRS["JUPYTERLAB_SETTINGS_DIR"] / NOTIFICATION_SETTINGS
    notification_settings.parent.mkdir(parents=True, exist_ok=True)
    notification_settings.write_text(json.dumps(NO_NEWS))
    command = lab_command(notebook_dir, port)
    if sys.platform.startswith("linux"):
        command = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=cwd, env=environment, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = LabServer(process, notebook_dir, f"http://127.0.0.1:{port}", token, log)
    try:
        _wait_until_serving(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_serving(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with code {server.process.returncode}; its log:\n"
                               + _tail(server.log))
        try:
            server.api("GET", "status", timeout=5)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"jupyter lab did not answer /api/status within {timeout:g} s; its log:\n"
                               + _tail(server.log))
        time.sleep(0.25)


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _signal_group(leader: int, signum: int) -> None:
    try:
        os.killpg(leader, signum)
    except ProcessLookupError:
        pass


@dataclass(frozen=True)
class ProcessId:
    """A process by pid and start time, so that a pid reused by a newer process is never signalled."""

    pid: int
    started: str

    def alive(self) -> bool:
        return _start_time(self.pid) == self.started

    def kill(self) -> None:
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (start time); the command name in parentheses may itself contain spaces.
    return stat.rsplit(")", 1)[1].split()[19]


def descendants(root: int) -> list[ProcessId]:
    """Every living descendant of ``root`` (Linux /proc; elsewhere none are found)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parent = int(entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], list(children.get(root, []))
    while pending:
        pid = pending.pop()
        started = _start_time(pid)
        if started is not None:
            found.append(ProcessId(pid, started))
        pending.extend(children.get(pid, []))
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.lab", description=__doc__.split("\n")[0])
    parser.add_argument("notebook_dir", type=Path)
    parser.add_argument("--home", type=Path, required=True, help="folder for the server's private Jupyter files")
    args = parser.parse_args(argv)
    server = start_lab(args.notebook_dir.resolve(), cwd=args.notebook_dir.resolve().parent, home=args.home,
                       log=args.home / "lab.log")
    print(json.dumps({"url": server.url, "token": server.token, "pid": server.process.pid}), flush=True)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
