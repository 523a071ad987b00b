"""The kernel launcher that runs a student's notebook with as little reach as the machine allows.

nbgrader starts every kernel through a kernel spec; ours points at this module instead of
``ipykernel_launcher``. Run as root it, in this order:

1. records its pid, so the grader can kill a kernel that outlives the notebook's time limit;
2. enters a private mount namespace and covers the course directory, the source notebooks and
   the repository's history with empty read-only tmpfs mounts, and ``/tmp`` with a small
   private tmpfs, so no hidden test, gradebook or other student's file is visible;
3. makes an empty scratch directory, the kernel's working directory and home;
4. sets resource limits (memory, file size, processes, no core dumps);
5. drops to an unprivileged uid that owns nothing, with no supplementary groups and
   ``no_new_privs``, and execs the real IPython kernel.

Without root it can only do 1, 3 and 4; :func:`protections` says which layers are active.
The settings come from the environment variable :data:`SETTINGS_VARIABLE` (JSON), set by the
grading worker, because jupyter_client passes its environment on to the kernel.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

SETTINGS_VARIABLE = "AUTOGRADER_SANDBOX"
KERNEL_NAME = "autograder-sandbox"

_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
_MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 0x1000, 0x2000, 0x4000, 0x40000
_PR_SET_NO_NEW_PRIVS = 38


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _closed_ancestor(path: str) -> str | None:
    """The outermost directory on ``path`` that other users cannot enter (pyenv under /root)."""
    current = "/"
    for part in Path(path).parts[1:]:
        current = os.path.join(current, part)
        if not os.stat(current).st_mode & 0o001:
            return current
    return None


def _mount(libc, source, target, fstype, flags, options, what: str) -> None:
    encode = lambda value: value.encode() if isinstance(value, str) else value
    _check(libc.mount(encode(source), encode(target), encode(fstype), flags, encode(options)), what)


def _private_tmp(libc, needed: list[str], tmp_size: str) -> None:
    """Give the kernel an empty /tmp that still holds the ``needed`` paths living under /tmp.

    A checkout (and its virtual environment) may itself sit under /tmp, as on CI machines: the
    fresh tmpfs is prepared at a staging point with those paths bound into it, then moved onto
    /tmp in one step.
    """
    stage = tempfile.mkdtemp(dir="/tmp")
    _mount(libc, "tmpfs", stage, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={tmp_size},mode=1777", "private /tmp")
    for path in needed:
        if path.startswith("/tmp/"):
            inside = os.path.join(stage, os.path.relpath(path, "/tmp"))
            os.makedirs(inside, exist_ok=True)
            _mount(libc, path, inside, None, _MS_BIND | _MS_REC, None, f"keep {path}")
    _mount(libc, stage, "/tmp", None, _MS_MOVE, None, "move the private /tmp into place")


def _isolate_filesystem(hidden: list[str], needed: list[str], tmp_size: str) -> None:
    """Private /tmp, ``hidden`` covered, and every ``needed`` path reachable by any uid."""
    libc = _libc()
    _check(libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Without this our mounts would propagate back into the grader's namespace.
    _mount(libc, "none", "/", None, _MS_REC | _MS_PRIVATE, None, "make / private")
    _private_tmp(libc, needed, tmp_size)
    if os.path.isdir("/dev/shm"):
        _mount(libc, "tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={tmp_size},mode=1777",
               "private /dev/shm")
    # An interpreter under a closed home directory: lift it out, cover the closed directory
    # with an open empty one, and put the interpreter back at its old path.
    stashed = []
    for path in needed:
        barrier = _closed_ancestor(path)
        if barrier is not None:
            stash = tempfile.mkdtemp(dir="/tmp")
            _mount(libc, path, stash, None, _MS_BIND | _MS_REC, None, f"stash {path}")
            stashed.append((barrier, path, stash))
    for barrier in sorted({barrier for barrier, _, _ in stashed}):
        _mount(libc, "tmpfs", barrier, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=4k,mode=0755",
               f"cover {barrier}")
    for _, path, stash in stashed:
        os.makedirs(path, exist_ok=True)
        _mount(libc, stash, path, None, _MS_MOVE, None, f"restore {path}")
    sealed = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    for path in hidden:
        if os.path.isdir(path):
            _mount(libc, "tmpfs", path, "tmpfs", sealed, "size=4k,mode=0555", f"hide {path}")


def _limit_resources(settings: dict) -> None:
    memory = settings["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    file_size = settings["file_bytes"]
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if settings.get("uid") is not None:
        # Counted per uid, so only meaningful once the kernel has a uid of its own.
        processes = settings["processes"]
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def _kernel_environment(scratch: str, uid) -> dict:
    keep = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TZ") if name in os.environ}
    user = f"student{uid}" if uid is not None else os.environ.get("USER", "student")
    return {
        **keep,
        "HOME": scratch, "USER": user, "LOGNAME": user, "TMPDIR": scratch,
        "MPLCONFIGDIR": os.path.join(scratch, ".matplotlib"),
        "IPYTHONDIR": os.path.join(scratch, ".ipython"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PYTHONDONTWRITEBYTECODE": "1",
        # Grading runs one kernel per core; threaded BLAS would oversubscribe them.
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }


def launch(connection_file: str, kernel_arguments: list[str]) -> None:
    """Prepare the sandbox described by the environment and exec the IPython kernel in it."""
    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    connection = Path(connection_file).read_text()
    Path(settings["pidfile"]).write_text(str(os.getpid()))
    uid, gid = settings.get("uid"), settings.get("gid")
    if settings.get("hide"):
        # The interpreter, the virtual environment and the checkout (course_lib is installed
        # from it in editable mode); the checkout's secrets are covered again by ``hide``.
        checkout = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
        needed = sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), checkout})
        _isolate_filesystem(settings["hide"], needed, settings["tmp_size"])
    scratch = tempfile.mkdtemp(prefix="kernel-", dir="/tmp" if settings.get("hide") else settings["scratch_root"])
    private_connection = os.path.join(scratch, ".connection.json")
    Path(private_connection).write_text(connection)
    os.chmod(private_connection, 0o600)
    if uid is not None:
        os.chown(scratch, uid, gid)
        os.chown(private_connection, uid, gid)
    os.chdir(scratch)
    _limit_resources(settings)
    libc = _libc()
    if uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    # The kernel's own banner and warnings would scroll over the grader's progress bar.
    quiet = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(quiet, descriptor)
    command = [sys.executable, "-m", "ipykernel_launcher", "-f", private_connection, *kernel_arguments]
    os.execve(sys.executable, command, _kernel_environment(scratch, uid))


def kernel_spec(python: str = sys.executable) -> dict:
    """The kernel.json that makes jupyter_client start kernels through :func:`launch`."""
    return {
        "argv": [python, "-m", "autograder.sandbox", "{connection_file}"],
        "display_name": "Python 3 (autograder sandbox)",
        "language": "python",
        "metadata": {"debugger": False},
    }


def install_kernel_spec(jupyter_dir: Path) -> Path:
    """Write the sandbox kernel spec under ``jupyter_dir/kernels``; put ``jupyter_dir`` on JUPYTER_PATH."""
    spec_dir = jupyter_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps(kernel_spec(), indent=1))
    return spec_dir


def can_isolate() -> bool:
    """Whether this process may hide paths in a mount namespace and switch uid (root on Linux)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    probe = "import ctypes, sys; sys.exit(ctypes.CDLL(None).unshare(0x00020000) != 0)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def protections(settings: dict) -> list[str]:
    """Human-readable list of the sandbox layers the given settings turn on."""
    active = ["scratch working directory", "memory/file-size limits", "time limits"]
    if settings.get("uid") is not None:
        active.append(f"unprivileged uid {settings['uid']}")
    if settings.get("hide"):
        active.append("course files and source notebooks hidden (mount namespace)")
    return active


def kill_processes_of(uid: int) -> None:
    """Kill every process running as ``uid``: a kernel's leftovers must not meet the next student."""
    child = os.fork()
    if child == 0:  # only syscalls here: the interpreter may be out of the uid's reach
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(child, 0)

if __name__ == "__main__":
    launch(sys.argv[1], sys.argv[2:])
