"""Run a command, a student's Python process, with as little reach as the machine allows.

The sandboxed process talks to the grader only through the pipe descriptors it is handed, so
the sandbox is an allowlist: it sees the interpreter, the installed packages, the paths it is
given (read-only) and private scratch space, and nothing else. As root on Linux:

* a root filesystem of its own, built in a fresh tmpfs inside a new mount namespace (nothing is
  created on the host), holding read-only binds of /usr (and Debian's /bin, /lib... symlinks),
  the dynamic linker's cache, the interpreter's prefix, the virtual environment and the given
  paths, a minimal /dev, its own /proc, and private tmpfs at /tmp, /var/tmp, /run/lock, /dev/shm;
* new PID, network, IPC and UTS namespaces: it sees only its own processes, which all die when
  the command ends (it runs as PID 2, under a PID 1 that reaps orphans and so gives the student's
  code the signal behaviour it has anywhere else); its only network is a loopback that is down;
* a cgroup of its own limiting memory and processes for all its processes together (per-process
  and per-uid rlimits where no cgroup can be made), plus file size, CPU time and core rlimits;
* a uid of its own, reserved with a lock so that no two live sandboxes share it, no supplementary
  groups, and ``no_new_privs``.

The namespaces are entered by a launcher, this file run in a fresh interpreter (:func:`_launch`),
because ``unshare`` wants a single-threaded process and the grader may have threads. The launcher
stays outside the new namespaces, holding one end of a socket pair: when the grader closes the
other end (:meth:`Sandbox.kill`) or dies, it kills the sandbox.

Without root, or off Linux, the command runs as a plain process in a scratch directory under
rlimits, in a process group of its own that kill() ends; a process that leaves that group, or
outlives a grader that dies, is not tracked. :func:`protections` says which layers are active.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache

_LAUNCHER = os.path.abspath(__file__)
_UIDS = range(61000, 62000)
_LOCK_DIR = "/run/lock/autograder-sandbox" if os.path.isdir("/run/lock") else \
    os.path.join(tempfile.gettempdir(), "autograder-sandbox-locks")
_START_SECONDS = 30  # a launcher that has not answered by then is stuck (e.g. on a dead mount)

# Inside the sandbox
_HOME = "/tmp/home"
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("/etc/ld.so.cache", "/etc/localtime")
_DEVICES = ("null", "zero", "full", "random", "urandom")
_PRIVATE_TMP = ("/tmp", "/var/tmp", "/run/lock", "/dev/shm")

_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWPID, _CLONE_NEWNET = 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
_MNT_DETACH = 2
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS = 1, 38
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}.get(os.uname().machine)


class SandboxError(RuntimeError):
    """The sandbox could not be set up; the message says which step failed and why."""


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int = 2 << 30  # for the whole sandbox (all its processes together)
    processes: int = 64  # for the whole sandbox
    file_bytes: int = 64 << 20  # largest file it may write (RLIMIT_FSIZE)
    tmp_bytes: int = 256 << 20  # size of each private tmpfs (/tmp etc.)
    cpu_seconds: int = 600  # RLIMIT_CPU per process, a backstop; wall time is the caller's job
    cpus: float = 1.0  # CPU share for the whole sandbox (cgroup cpu controller, where there is one)


@lru_cache(maxsize=None)
def isolation_available() -> bool:
    """Whether this process can build the isolated sandbox: root on Linux, and namespaces allowed."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or _SYS_PIVOT_ROOT is None:
        return False
    flags = _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS
    probe = f"import ctypes, sys; sys.exit(ctypes.CDLL(None).unshare({flags}) != 0)"
    return subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True).returncode == 0


def protections(limits: SandboxLimits, isolated: bool) -> list[str]:
    """Human-readable list of the layers a sandbox with these limits has on this machine."""
    memory, processes = _size(limits.memory_bytes), limits.processes
    common = f"files up to {_size(limits.file_bytes)}, {limits.cpu_seconds} s of CPU per process, no core dumps"
    if not isolated:
        return ["NOT isolated: it sees the files and the network the grader's user sees",
                "scratch working directory and home",
                f"{memory} of address space per process (RLIMIT_AS), no process limit", common]
    cgroups = _cgroup_parents()
    limit = (f"{memory} of memory, {processes} processes and {limits.cpus:g} CPU for the whole sandbox "
             f"(cgroup {cgroups[0]}; the CPU share where the machine has the cpu controller)"
             if cgroups else
             f"{memory} of address space per process (RLIMIT_AS) and {processes} processes (RLIMIT_NPROC "
             "for its uid): no cgroup could be made")
    return ["own root filesystem: only the interpreter, its packages and the given paths, read-only",
            f"private /tmp, /var/tmp, /run/lock, /dev/shm and home ({_size(limits.tmp_bytes)} each)",
            "own PID namespace: sees only its own processes, which all die with it",
            "no network (own network namespace, loopback down)",
            "own IPC and hostname namespaces",
            "a uid of its own, no supplementary groups, no_new_privs",
            limit, common]


class Sandbox:
    """Start ``command`` (argv list; argv[0] an absolute interpreter path) in the sandbox.

    It starts at once. ``readable`` are absolute host paths (files or directories), bound
    read-only at the same path inside. ``pass_fds`` are inherited at the same numbers (the
    grader's protocol pipes); stdin, stdout and stderr are /dev/null unless listed there.
    ``env`` is added to a minimal environment. ``isolate=None`` isolates when possible.
    ``pid`` is the command's pid as the caller sees it, e.g. to send it SIGINT.
    Always :meth:`kill` it, or use it as a context manager.
    """

    def __init__(self, command: list[str], *, readable: list[str], limits: SandboxLimits = SandboxLimits(),
                 pass_fds: tuple[int, ...] = (), env: dict[str, str] | None = None, isolate: bool | None = None,
                 hidden: tuple[str, ...] = ()):
        if not all(os.path.isabs(path) for path in (command[0], *readable, *hidden)):
            raise ValueError(f"the command and the readable paths must be absolute: {command[0]!r}, {readable!r}")
        self.limits = limits
        self.isolated = isolation_available() if isolate is None else isolate
        self.uid: int | None = None
        self.pid = 0
        self._lock = self._channel = self._process = self._scratch = None
        self._cgroups: list[str] = []
        self._killed = False
        self._oom_kills: int | None = None
        try:
            self._start(command, list(readable), tuple(pass_fds), env or {}, tuple(hidden))
        except BaseException:
            self.kill()
            raise

    def _start(self, command, readable, pass_fds, env, hidden) -> None:
        limits = self.limits
        rlimits = [["RLIMIT_FSIZE", limits.file_bytes, limits.file_bytes], ["RLIMIT_CORE", 0, 0],
                   # Soft below hard: SIGXCPU first, which describe_exit can name.
                   ["RLIMIT_CPU", limits.cpu_seconds, limits.cpu_seconds + 1]]
        plan = {"command": command, "isolate": self.isolated, "pass_fds": pass_fds, "rlimits": rlimits}
        if self.isolated and not isolation_available():
            raise SandboxError("could not start the sandbox: isolation needs root on Linux, with namespaces")
        if self.isolated:
            self.uid, self._lock = _reserve_uid()
            cgroups = _cgroup_parents()
            if cgroups:
                self._cgroups = _make_cgroups(cgroups[1], f"autograder-sandbox-{self.uid}", limits)
            else:
                rlimits.append(["RLIMIT_AS", limits.memory_bytes, limits.memory_bytes])
            # With a uid of its own this counts the sandbox's processes only; kept with cgroups too.
            rlimits.append(["RLIMIT_NPROC", limits.processes, limits.processes])
            plan.update(uid=self.uid, cgroups=self._cgroups, home=_HOME,
                        mounts=_mount_plan(readable, self.uid, limits.tmp_bytes, hidden))
            home = _HOME
        else:
            self._scratch = home = tempfile.mkdtemp(prefix="sandbox-")
            rlimits.append(["RLIMIT_AS", limits.memory_bytes, limits.memory_bytes])
        plan["env"] = {"PATH": f"{os.path.join(sys.prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin",
                       "LANG": "C.UTF-8", "HOME": home, "TMPDIR": home, "USER": "student",
                       # One core per sandbox: threaded BLAS would oversubscribe the grader's cores.
                       "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **env}

        self._channel, theirs = socket.socketpair()
        with theirs:
            std = [None if fd in pass_fds else subprocess.DEVNULL for fd in (0, 1, 2)]
            # -I -S: a quick start that does not depend on the caller's sys.path or environment.
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", _LAUNCHER, str(theirs.fileno())],
                stdin=std[0], stdout=std[1], stderr=std[2], pass_fds=(*pass_fds, theirs.fileno()),
                cwd=self._scratch or "/", env={}, start_new_session=True)
        self._channel.sendall(json.dumps(plan).encode() + b"\n")
        self._channel.settimeout(_START_SECONDS)
        with self._channel.makefile("rb") as replies:
            try:
                reply = replies.readline().decode().strip()
                if reply.startswith("ok") and not self.isolated:
                    # The launcher becomes the command; its exec closes the socket or reports why not.
                    reply = replies.readline().decode().strip() or reply
            except TimeoutError:
                reply = f"error no answer from the launcher within {_START_SECONDS} s"
        self._channel.settimeout(None)
        if not reply.startswith("ok "):
            reason = reply.removeprefix("error ") if reply else f"the launcher {self._describe_launcher()}"
            raise SandboxError(f"could not start the sandbox: {reason}")
        self.pid = int(reply.split()[1])

    def _describe_launcher(self) -> str:
        with suppress(subprocess.TimeoutExpired):
            self._process.wait(5)
        return f"ended without a word ({_describe(self._process.returncode)})"

    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs."""
        return self._noted(self._process.poll())

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the command to end; raises subprocess.TimeoutExpired after ``timeout`` s."""
        return self._noted(self._process.wait(timeout))

    def _noted(self, code):
        # Read while the cgroup still exists: it alone can tell that memory killed the process.
        if code is not None and self._oom_kills is None and self._cgroups:
            self._oom_kills = _oom_kills(self._cgroups)
        return code

    def kill(self) -> None:
        """Kill every process of the sandbox, wait for them, and remove what it held; idempotent."""
        process = self._process
        if process is not None:
            if process.poll() is None:
                self._killed = True
                if self.isolated:
                    self._channel.close()  # the launcher kills PID 1, and with it the whole namespace
            if not self.isolated:  # the command and whatever it left in its process group
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:  # a stuck launcher: PID 1 dies with it (PDEATHSIG)
                process.kill()
                process.wait()
            self._noted(process.returncode)
        for path in self._cgroups:
            _remove_cgroup(path)
        self._cgroups = []
        if self._channel is not None:
            self._channel.close()
        if self._lock is not None:
            self._lock.close()  # frees the uid for the next sandbox
            self._lock = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def describe_exit(self) -> str:
        """How the command ended and the limit it probably hit: "killed by signal 9 (out of memory...)"."""
        code = self.poll()
        if code is None:
            return "still running"
        memory = _size(self.limits.memory_bytes)
        if code >= 0:
            return _describe(code) + (f"; a process of it ran out of memory ({memory})" if self._oom_kills else "")
        reason = {signal.SIGXCPU: f"CPU time limit, {self.limits.cpu_seconds} s",
                  signal.SIGXFSZ: f"file size limit, {_size(self.limits.file_bytes)}"}.get(-code)
        if -code == signal.SIGKILL:
            if self._oom_kills:
                reason = f"out of memory: it needed more than {memory}"
            elif self._killed:
                reason = "stopped by the grader"
            elif self._oom_kills is None:  # no cgroup to ask
                reason = f"memory limit {memory}?"
        return f"killed by signal {-code} ({reason})" if reason else _describe(code)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.kill()


def _describe(code: int) -> str:
    if code >= 0:
        return f"exited with code {code}"
    with suppress(ValueError):
        return f"killed by signal {-code} ({signal.Signals(-code).name})"
    return f"killed by signal {-code}"


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n} bytes"


# --- The caller's side: a uid, cgroups and the plan of the sandbox's filesystem --------------


def _reserve_uid():
    """A uid that no account and no other live sandbox on this machine has, and the lock holding it.

    The lock (an exclusive flock, per open file, so also between sandboxes of one process) is
    held until :meth:`Sandbox.kill`: two sandboxes sharing a uid could signal each other's
    processes and would share RLIMIT_NPROC.
    """
    import fcntl
    import grp
    import pwd
    import stat

    os.makedirs(_LOCK_DIR, mode=0o700, exist_ok=True)
    info = os.lstat(_LOCK_DIR)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise SandboxError(f"could not start the sandbox: {_LOCK_DIR} is not a directory of ours")
    for uid in _UIDS:
        with suppress(KeyError):
            pwd.getpwuid(uid)
            continue  # an account's uid may own files
        with suppress(KeyError):
            grp.getgrgid(uid)
            continue
        handle = open(os.path.join(_LOCK_DIR, str(uid)), "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return uid, handle
    raise SandboxError(f"could not start the sandbox: no free uid in {_UIDS.start}..{_UIDS.stop - 1}")


def _cgroup_parents() -> tuple[str, list[str]] | None:
    """Where a sandbox's cgroup can be made: ("v2" or "v1", one parent per hierarchy), or None.

    Under this process's own cgroup if possible, else under the hierarchy's root. cgroup v2 lets
    a cgroup hand memory and pids to children only while it holds no process itself, so there
    the own cgroup usually fails and the root (exempt from that rule) is used.
    """
    if not sys.platform.startswith("linux"):
        return None
    mounts = {}  # controller ("" for cgroup v2) -> (mount point, root of the hierarchy it shows)
    with open("/proc/self/mountinfo") as lines:
        for line in lines:
            fields = line.split()
            after = fields[fields.index("-") + 1:]
            if after[0] == "cgroup2":
                mounts.setdefault("", (fields[4], fields[3]))
            elif after[0] == "cgroup":
                for name in set(after[2].split(",")) & {"memory", "pids", "cpu"}:
                    mounts[name] = (fields[4], fields[3])
    own = {}
    with open("/proc/self/cgroup") as lines:
        for line in lines:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(","):
                own[name] = path

    def candidates(controller):
        point, root = mounts[controller]
        relative = os.path.relpath(own.get(controller, "/"), root)
        below = point if relative.startswith("..") else os.path.normpath(os.path.join(point, relative))
        return dict.fromkeys([below, point])

    wanted = {"memory", "pids"}
    if "" in mounts and wanted <= _words(os.path.join(mounts[""][0], "cgroup.controllers")):
        # The CPU share is welcome where v2 offers it, never required.
        wanted |= {"cpu"} & _words(os.path.join(mounts[""][0], "cgroup.controllers"))
        for parent in candidates(""):
            with suppress(OSError):
                if not wanted <= _words(os.path.join(parent, "cgroup.subtree_control")):
                    _write(os.path.join(parent, "cgroup.subtree_control"), " ".join(f"+{c}" for c in sorted(wanted)))
                return "v2", [parent]
    if "memory" in mounts and "pids" in mounts:
        writable = lambda c: next((p for p in candidates(c) if os.access(p, os.W_OK)), None)
        parents = [writable(c) for c in ("memory", "pids")]
        if None not in parents:
            cpu = writable("cpu") if "cpu" in mounts else None
            return "v1", parents + ([cpu] if cpu and cpu not in parents else [])
    return None


def _make_cgroups(parents: list[str], name: str, limits: SandboxLimits) -> list[str]:
    made = []
    try:
        for parent in parents:
            path = os.path.join(parent, name)
            _remove_cgroup(path)  # left by a grader that died
            os.mkdir(path)
            made.append(path)
            # Whichever of v2's and v1's files the hierarchy has; swap counts as memory too.
            period = 100_000  # microseconds; the quota is the CPU time per period for all processes
            quota = max(1000, int(limits.cpus * period))
            for setting, value in (("memory.max", limits.memory_bytes), ("memory.swap.max", 0),
                                   ("memory.limit_in_bytes", limits.memory_bytes),
                                   ("memory.memsw.limit_in_bytes", limits.memory_bytes),
                                   ("pids.max", limits.processes), ("cpu.max", f"{quota} {period}"),
                                   ("cpu.cfs_period_us", period), ("cpu.cfs_quota_us", quota)):
                if os.path.exists(os.path.join(path, setting)):
                    _write(os.path.join(path, setting), str(value))
    except OSError as error:
        for path in made:
            _remove_cgroup(path)
        raise SandboxError(f"could not start the sandbox: cgroup {name}: {error.strerror or error}") from None
    return made


def _remove_cgroup(path: str) -> None:
    """Kill what is left in the cgroup and remove it (rmdir fails while it holds a process)."""
    deadline = time.monotonic() + 10
    while os.path.isdir(path):
        try:
            os.rmdir(path)
        except OSError:
            if time.monotonic() > deadline:
                raise
            with suppress(OSError):
                for pid in _read(os.path.join(path, "cgroup.procs")).split():
                    with suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.01)


def _oom_kills(cgroups: list[str]) -> int | None:
    for path in cgroups:
        for name in ("memory.events", "memory.oom_control"):  # v2, v1
            with suppress(OSError):
                for line in _read(os.path.join(path, name)).splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
    return None


def _mount_plan(readable: list[str], uid: int, tmp_bytes: int, hidden=()) -> list[list]:
    """The sandbox's filesystem, as [kind, path inside, argument] steps, parents before children.

    ``hidden`` directories inside the allowed paths (installed packages the command must not
    use) are covered by an empty read-only tmpfs.

    Each allowed path is bound from its real location to the same real path inside (a path under
    a closed directory, like pyenv's under /root, becomes reachable: the directories above it are
    fresh ones). A given path that differs from its real one becomes a symlink, as on the host.
    """
    paths = [os.path.realpath(sys.base_prefix), sys.prefix, *_ETC, *readable]
    steps = [["tmpfs", "/dev", "size=64k,mode=0755"], ["proc", "/proc", None],
             *(["device", f"/dev/{name}", f"/dev/{name}"] for name in _DEVICES),
             *(["symlink", f"/dev/{name}", f"/proc/self/fd{suffix}"]
               for name, suffix in (("fd", ""), ("stdin", "/0"), ("stdout", "/1"), ("stderr", "/2"))),
             *(["tmpfs", path, f"size={tmp_bytes},mode=1777"] for path in _PRIVATE_TMP),
             # No host account names; a passwd entry keeps getpwuid() (getpass, expanduser) working.
             ["file", "/etc/passwd", f"root:x:0:0::/root:/bin/sh\nstudent:x:{uid}:{uid}::{_HOME}:/bin/sh\n"],
             ["file", "/etc/group", f"root:x:0:\nstudent:x:{uid}:\n"]]
    for path in _SYSTEM:  # Debian's merged /usr: /bin -> usr/bin and so on
        if os.path.islink(path):
            steps.append(["symlink", path, os.readlink(path)])
        elif os.path.isdir(path):
            paths.append(path)
    binds = sorted({os.path.realpath(path) for path in paths if os.path.lexists(path) or path in readable})

    def shown_by_another(path):  # inside another bind and on its filesystem: there already
        return os.path.exists(path) and any(other != path and _within(path, other)
                                            and os.stat(other).st_dev == os.stat(path).st_dev for other in binds)

    binds = [path for path in binds if not shown_by_another(path)]
    steps += [["bind", path, path] for path in binds]
    steps += [["hide", os.path.realpath(path), "size=4k,mode=0555"] for path in hidden if os.path.isdir(path)]
    steps += [["symlink", os.path.abspath(path), os.path.realpath(path)]
              for path in paths if os.path.lexists(path) and os.path.abspath(path) != os.path.realpath(path)
              and not any(_within(os.path.abspath(path), other) for other in [*binds, *_SYSTEM])]
    return sorted(steps, key=lambda step: step[1])


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _words(path: str) -> set[str]:
    try:
        return set(_read(path).split())
    except OSError:
        return set()


def _read(path: str) -> str:
    with open(path) as file:
        return file.read()


def _write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


# --- The launcher: a fresh interpreter that builds the sandbox and execs the command in it ----


def _launch(channel_fd: int) -> None:
    """Read the plan from the caller, start the sandbox, report "ok <pid>" or "error <reason>"."""
    os.set_inheritable(channel_fd, False)
    channel = socket.socket(fileno=channel_fd)
    with channel.makefile("rb") as lines:
        plan = json.loads(lines.readline())
    try:
        if plan["isolate"]:
            _run_isolated(plan, channel)
        else:
            _set_rlimits(plan["rlimits"])
            channel.sendall(f"ok {os.getpid()}\n".encode())
            _exec(plan)
    except Exception as error:
        with suppress(OSError):
            channel.sendall(f"error {_reason(error)}\n".encode())
        sys.exit(127)


def _run_isolated(plan: dict, channel: socket.socket) -> None:
    libc = _libc()
    # Core dumps off here too: the launcher ends itself with the command's signal (below).
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # The launcher stays in the caller's PID namespace; its first child is PID 1 of the new one.
    _check(libc.unshare(_CLONE_NEWPID), "unshare(CLONE_NEWPID)")
    failure_r, failure_w = os.pipe()  # close-on-exec: EOF tells that exec succeeded
    status_r, status_w = os.pipe()  # PID 1 sends the command's wait status on it
    init = os.fork()
    if init == 0:
        try:
            os.close(failure_r)
            os.close(status_r)
            _enter(plan, libc, failure_w, status_w)
        except BaseException as error:
            os.write(failure_w, _reason(error).encode())
        finally:
            os._exit(127)
    os.close(failure_w)
    os.close(status_w)
    for fd in plan["pass_fds"]:
        os.close(fd)  # the caller must see EOF on its pipes as soon as the sandbox is gone
    failure = _read_all(failure_r)
    if failure:
        os.waitpid(init, 0)
        raise SandboxError(failure.decode(errors="replace"))
    command = init  # for the caller's signals: the command's pid as the caller sees it
    with suppress(OSError, ValueError, IndexError):
        command = int(_read(f"/proc/{init}/task/{init}/children").split()[0])
    channel.sendall(f"ok {command}\n".encode())
    init_status = _wait_or_kill(init, channel)
    status = _read_all(status_r)  # nothing if PID 1 itself was killed: by kill(), or for memory
    # Exit as the command did, so that the caller's wait() reads its status.
    code = os.waitstatus_to_exitcode(int(status) if status else init_status)
    if code < 0:
        if -code not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code if code >= 0 else 128 - code)


def _wait_or_kill(child: int, channel: socket.socket) -> int:
    """Wait for PID 1; kill it (and so its namespace) as soon as the caller closes or loses the channel."""
    try:
        watched, interval = [os.pidfd_open(child)], None
    except (AttributeError, OSError):  # Linux before 5.3: poll instead
        watched, interval = [], 0.1
    while True:
        ready, _, _ = select.select([channel, *watched], [], [], interval)
        if channel in ready:
            os.kill(child, signal.SIGKILL)
            # The kernel reaps PID 1 only once every process of its namespace is gone.
            return os.waitpid(child, 0)[1]
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            return status


def _enter(plan: dict, libc, failure_w: int, status_w: int) -> None:
    """In PID 1 of the new PID namespace: the remaining namespaces, the filesystem, limits, then
    the command as PID 2, because PID 1 ignores every signal it has no handler for (even the
    kernel's SIGXCPU), which the student's code should not have to know."""
    for cgroup in plan["cgroups"]:
        _write(os.path.join(cgroup, "cgroup.procs"), "0")  # 0: this process
    _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS), "unshare")
    _build_root(plan, libc)
    _check(libc.sethostname(b"sandbox", 7), "sethostname")
    _set_rlimits(plan["rlimits"])
    uid = plan["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    # After the uid change, which clears it. The launcher might have died just before: then
    # the failure pipe has no reader left.
    _check(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    watch = select.poll()
    watch.register(failure_w, select.POLLOUT)
    if any(events & select.POLLERR for _, events in watch.poll(0)):
        os._exit(127)
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    command = os.fork()
    if command == 0:
        _exec(plan)  # its failure goes up to the failure pipe, like PID 1's
    os.close(failure_w)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the student's processes may signal it
    # Reap every orphan of the namespace; when the command ends, so does the namespace.
    while True:
        pid, status = os.wait()
        if pid == command:
            os.write(status_w, str(status).encode())
            os._exit(0)


def _build_root(plan: dict, libc) -> None:
    """Make a fresh tmpfs the root, holding only what the plan lists; detach the host's tree.

    The tmpfs is mounted over /tmp, in this mount namespace only, and pivoted into; the host's
    tree stays reachable at /.oldroot (including the host's /tmp, uncovered by the pivot) as the
    source of the binds, and is then detached.
    """
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE, what="make / private")  # nothing propagates out
    _mount(libc, "tmpfs", "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=0755", what="new root")
    os.mkdir("/tmp/.oldroot")
    _check(libc.syscall(ctypes.c_long(_SYS_PIVOT_ROOT), b"/tmp", b"/tmp/.oldroot"), "pivot_root")
    os.chdir("/")
    for kind, path, argument in plan["mounts"]:
        if kind == "symlink":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.symlink(argument, path)
        elif kind == "file":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _write(path, argument)
        elif kind in ("bind", "device"):
            source = "/.oldroot" + argument
            if not os.path.exists(source):
                raise SandboxError(f"bind {path}: no such file or directory")
            if not os.path.exists(path):  # (inside an earlier bind it is there already)
                if os.path.isdir(source):
                    os.makedirs(path)
                else:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    open(path, "w").close()
            # Not recursive: mounts nested below an allowed path stay out unless listed too.
            _mount(libc, source, path, None, _MS_BIND, what=f"bind {path}")
            sealed = _MS_NOEXEC if kind == "device" else _MS_RDONLY | _MS_NODEV  # devices stay writable
            _mount(libc, None, path, None, _MS_REMOUNT | _MS_BIND | _MS_NOSUID | sealed, what=f"bind {path}")
        elif kind == "hide":
            _mount(libc, "tmpfs", path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, argument,
                   what=f"hide {path}")
        else:  # tmpfs, proc: the new PID namespace's own
            os.makedirs(path, exist_ok=True)
            noexec = _MS_NOEXEC if kind == "proc" or path == "/dev" else 0
            _mount(libc, kind, path, kind, _MS_NOSUID | _MS_NODEV | noexec, argument, what=f"mount {path}")
    os.mkdir(plan["home"], 0o700)
    os.chown(plan["home"], plan["uid"], plan["uid"])
    _check(libc.umount2(b"/.oldroot", _MNT_DETACH), "detach the host's root")
    os.rmdir("/.oldroot")
    _mount(libc, None, "/", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, what="seal /")
    os.chdir(plan["home"])


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data


def _set_rlimits(rlimits: list) -> None:
    for name, soft, hard in rlimits:
        if hasattr(resource, name):
            with suppress(ValueError, OSError):  # some platforms (macOS) refuse some limits
                resource.setrlimit(getattr(resource, name), (soft, hard))


def _exec(plan: dict) -> None:
    command = plan["command"]
    try:
        os.execve(command[0], command, plan["env"])
    except OSError as error:
        raise OSError(error.errno, f"exec {command[0]}: {error.strerror}") from None


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return libc


def _mount(libc, source, target, fstype, flags, data=None, *, what: str) -> None:
    encode = lambda value: value.encode() if isinstance(value, str) else value
    _check(libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), what)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _reason(error: BaseException) -> str:
    """One line for the caller's SandboxError, e.g. "mount /usr: Permission denied"."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error) if isinstance(error, SandboxError) else f"{type(error).__name__}: {error}"


if __name__ == "__main__":
    _launch(int(sys.argv[1]))
