"""The sandbox in which the grader runs a student's code (:mod:`autograder.sandbox`).

Each test runs a short Python program in a sandbox; the program reports what it found, as one
JSON line per report, on a pipe the test passes in, as the grader's protocol pipes are passed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.sandbox import Sandbox, SandboxError, SandboxLimits, isolation_available, protections

ISOLATED = isolation_available()
needs_isolation = pytest.mark.skipif(not ISOLATED, reason="isolation needs root on Linux with namespaces")

PRELUDE = """\
import json, os, sys
_out = os.fdopen({fd}, "w")
def report(value):
    _out.write(json.dumps(value) + "\\n")
    _out.flush()
"""


@contextmanager
def sandboxed(body: str, **options):
    """A running sandbox and the reader of its reports; killed on leaving."""
    read_end, write_end = os.pipe()
    code = PRELUDE.format(fd=write_end) + textwrap.dedent(body)
    try:
        box = Sandbox([sys.executable, "-I", "-c", code], readable=options.pop("readable", []),
                      pass_fds=(write_end,), **options)
    finally:
        os.close(write_end)
    with box, os.fdopen(read_end) as reports:
        yield box, reports


def run(body: str, **options):
    """Run ``body`` to its end (it must report once); its report and the finished sandbox."""
    with sandboxed(body, **options) as (box, reports):
        line = reports.readline()
        box.wait(20)
    return (json.loads(line) if line else None), box


def processes_of(uid: int) -> list[int]:
    """Host pids of the live (not zombie) processes running as ``uid``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines())
        except (OSError, ValueError):
            continue
        if str(uid) in fields["Uid"].split() and not fields["State"].strip().startswith("Z"):
            found.append(int(entry.name))
    return found


def wait_until(condition, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def checkout():
    """Makes course checkouts with a secret, world-readable so that only the sandbox can hide it."""
    made = []

    def make(parent: str) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="checkout-", dir=parent))
        made.append(directory)
        directory.chmod(0o777)  # even writable: only the read-only mount can refuse a write
        (directory / "secret.txt").write_text("hidden tests")
        (directory / "secret.txt").chmod(0o644)
        return directory

    yield make
    for directory in made:
        shutil.rmtree(directory)


def test_protections_name_the_layers():
    limits = SandboxLimits(memory_bytes=1 << 30)
    assert any("NOT isolated" in layer for layer in protections(limits, False))
    if ISOLATED:
        layers = " ".join(protections(limits, True))
        assert "network" in layers and "PID namespace" in layers and "1 GiB" in layers


@needs_isolation
def test_sees_only_what_it_is_given(checkout):
    # Under /tmp too, as checkouts are on CI machines.
    work = "/work" if os.access("/work", os.W_OK) else str(Path.home())
    hidden = [str(checkout("/tmp") / "secret.txt"), str(checkout(work) / "secret.txt")]
    shown = [str(checkout("/tmp")), str(checkout(work))]
    interpreter = os.path.realpath(sys.base_prefix)
    report, box = run(f"""
        import numpy
        def attempt(action):
            try:
                action()
                return "done"
            except OSError as error:
                return error.strerror
        report({{"hidden": [os.path.exists(path) for path in {hidden!r}],
                 "shown": [open(os.path.join(path, "secret.txt")).read() for path in {shown!r}],
                 "wrote": [attempt(lambda: open(os.path.join(path, "new.txt"), "w")) for path in {shown!r}],
                 "root": sorted(os.listdir("/")),
                 "beside interpreter": os.listdir({os.path.dirname(interpreter)!r}),
                 "beside venv": os.listdir({os.path.dirname(sys.prefix)!r}),
                 "cwd": os.getcwd(), "home": os.environ["HOME"],
                 "uid": os.getuid(), "groups": os.getgroups(), "numpy": numpy.__name__}})
    """, readable=shown)
    assert report["hidden"] == [False, False]
    assert report["shown"] == ["hidden tests", "hidden tests"]
    assert report["wrote"] == ["Read-only file system"] * 2
    assert not {"home", "mnt", "opt", "srv", "boot", "sys"} & set(report["root"])
    # Only the interpreter and the virtual environment, not what lies beside them (the checkout).
    assert report["beside interpreter"] == [os.path.basename(interpreter)]
    assert report["beside venv"] == [os.path.basename(sys.prefix)]
    assert report["cwd"] == report["home"]
    assert report["uid"] == box.uid and report["uid"] != 0 and report["groups"] == []
    assert report["numpy"] == "numpy"  # the virtual environment's packages are there
    assert box.describe_exit() == "exited with code 0"


@needs_isolation
def test_no_network_and_no_host_sockets():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        report, _ = run(f"""
            import socket
            listed = ":{port:04X}" in open("/proc/net/tcp").read()
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2)
                reached = "connected"
            except OSError as error:
                reached = type(error).__name__
            report({{"listed": listed, "reached": reached}})
        """)
    assert report == {"listed": False, "reached": "OSError"}  # network unreachable, not refused


@needs_isolation
def test_scratch_space_is_private_and_leaves_nothing_behind():
    name = f"sandbox-test-{os.getpid()}"
    private = ["/tmp", "/var/tmp", "/run/lock", "/dev/shm"]
    host_tmp = set(os.listdir("/tmp"))
    write = f"""
        for directory in {private!r}:
            open(os.path.join(directory, {name!r}), "w").write("mine")
        report([os.path.exists(os.path.join(d, {name!r})) for d in {private!r}])
    """
    look = f"report([os.path.exists(os.path.join(d, {name!r})) for d in {private!r}])"
    written, box = run(write)
    assert written == [True] * 4
    assert not any(os.path.exists(os.path.join(d, name)) for d in private)  # not on the host
    seen, _ = run(look)
    assert seen == [False] * 4  # nor in the next sandbox
    assert set(os.listdir("/tmp")) - host_tmp == set()  # (others may remove their files meanwhile)
    assert processes_of(box.uid) == []


@needs_isolation
def test_memory_limit_holds_for_all_processes_together():
    limit = 256 << 20
    report, box = run(f"""
        import time
        children = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                try:
                    block = b"x" * {limit // 2}  # every page written, so really held
                    time.sleep(0.5)
                    os._exit(0)
                except MemoryError:
                    os._exit(3)
            children.append(pid)
        report([os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children])
    """, limits=SandboxLimits(memory_bytes=limit))
    assert report is not None and report != [0, 0, 0]
    assert "ran out of memory (256 MiB)" in box.describe_exit()


@needs_isolation
def test_without_cgroups_rlimits_stand_in(monkeypatch):
    monkeypatch.setattr(sandbox, "_cgroup_parents", lambda: None)
    limits = SandboxLimits(memory_bytes=256 << 20, processes=8)
    assert any("RLIMIT_NPROC" in layer for layer in protections(limits, True))
    report, _ = run("""
        try:
            block = b"x" * (512 << 20)
            allocated = True
        except MemoryError:
            allocated = False
        forked = 0
        try:
            while forked < 100:
                if os.fork() == 0:
                    import time
                    time.sleep(60)
                    os._exit(0)
                forked += 1
        except OSError:
            pass
        report({"allocated": allocated, "forked": forked})
    """, limits=limits)
    assert report["allocated"] is False and report["forked"] < 8


@needs_isolation
def test_fork_bomb_stops_at_the_process_limit():
    report, box = run("""
        import time
        forked = 0
        try:
            while forked < 500:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                forked += 1
            failure = None
        except OSError as error:
            failure = error.strerror
        report({"forked": forked, "failure": failure})
    """, limits=SandboxLimits(processes=16))
    assert report["forked"] < 16 and report["failure"] == "Resource temporarily unavailable"
    assert processes_of(box.uid) == []  # they all died with the sandbox's first process
    assert subprocess.run(["true"]).returncode == 0


@needs_isolation
def test_busy_processes_share_one_cpu_so_other_sandboxes_keep_theirs():
    found = sandbox._cgroup_parents()
    if not found or not any(os.path.exists(os.path.join(p, name)) for p in found[1]
                            for name in ("cpu.cfs_quota_us", "cgroup.controllers")):
        pytest.skip("no cgroup cpu controller on this machine")
    report, _ = run("""
        import time
        children = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                end = time.monotonic() + 1.5
                while time.monotonic() < end:
                    pass
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
        used = os.times()
        report(used.children_user + used.children_system)
    """, limits=SandboxLimits(cpus=0.5))
    assert report < 1.2  # three busy processes for 1.5 s, held to half a CPU together


@needs_isolation
def test_cannot_signal_host_processes():
    report, _ = run(f"""
        outcomes = []
        for pid in ({os.getpid()}, {os.getppid()}):
            try:
                os.kill(pid, 0)
                outcomes.append("reached")
            except OSError as error:
                outcomes.append(type(error).__name__)
        report(outcomes)
    """)
    assert report == ["ProcessLookupError", "ProcessLookupError"]


@needs_isolation
def test_live_sandboxes_have_different_uids():
    body = "report(os.getuid())\nimport time\ntime.sleep(60)"
    with sandboxed(body) as (first, first_reports), sandboxed(body) as (second, second_reports):
        uids = {json.loads(first_reports.readline()), json.loads(second_reports.readline())}
        assert uids == {first.uid, second.uid} and len(uids) == 2


@needs_isolation
def test_kill_leaves_no_process_behind():
    stubborn = "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    with sandboxed(f"""
        import signal, subprocess, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for _ in range(2):
            subprocess.Popen([sys.executable, "-c", {stubborn!r}], start_new_session=True)
        time.sleep(0.2)
        report("ready")
        time.sleep(60)
    """) as (box, reports):
        assert json.loads(reports.readline()) == "ready"
        assert len(processes_of(box.uid)) >= 3  # the command, its two children (and PID 1)
        cgroups = list(box._cgroups)
        started = time.monotonic()
        box.kill()
        assert time.monotonic() - started < 5
        assert processes_of(box.uid) == []
        assert not any(os.path.exists(path) for path in cgroups)
        assert box.poll() == -signal.SIGKILL
        assert box.describe_exit() == "killed by signal 9 (stopped by the grader)"
        box.kill()  # idempotent


@needs_isolation
def test_the_sandbox_dies_with_its_launcher_or_its_caller():
    with sandboxed("report(os.getuid())\nimport time\ntime.sleep(60)") as (box, reports):
        json.loads(reports.readline())
        os.kill(box._process.pid, signal.SIGKILL)
        assert wait_until(lambda: not processes_of(box.uid))
    grader = ("import sys, time\nfrom autograder.sandbox import Sandbox\n"
              "box = Sandbox([sys.executable, '-c', 'import time; time.sleep(60)'], readable=[])\n"
              "print(box.uid, flush=True)\ntime.sleep(60)")
    caller = subprocess.Popen([sys.executable, "-c", grader], cwd=Path(__file__).parents[1], stdout=subprocess.PIPE)
    with caller.stdout:
        uid = int(caller.stdout.readline())
    assert processes_of(uid)
    caller.kill()
    caller.wait()
    assert wait_until(lambda: not processes_of(uid))
    for parent in (sandbox._cgroup_parents() or ("", []))[1]:  # only kill() removes the cgroup
        sandbox._remove_cgroup(os.path.join(parent, f"autograder-sandbox-{uid}"))


@needs_isolation
def test_setup_errors_surface_in_the_caller():
    with pytest.raises(SandboxError, match="could not start the sandbox: bind /nonexistent-path"):
        Sandbox([sys.executable, "-c", "pass"], readable=["/nonexistent-path"])
    with pytest.raises(SandboxError, match="exec /nonexistent/python"):
        Sandbox(["/nonexistent/python"], readable=[])


def test_without_isolation_the_api_still_works():
    report, box = run("""
        report({"cwd": os.getcwd(), "home": os.environ["HOME"], "tmp": os.environ["TMPDIR"]})
        sys.exit(3)
    """, isolate=False)
    assert os.path.realpath(report["cwd"]) == os.path.realpath(report["home"]) == os.path.realpath(report["tmp"])
    assert box.poll() == 3 and box.describe_exit() == "exited with code 3"
    assert box.uid is None and not os.path.exists(report["home"])  # removed by kill()
    with pytest.raises(SandboxError, match="exec /nonexistent/python"):
        Sandbox(["/nonexistent/python"], readable=[], isolate=False)


def test_without_isolation_kill_stops_the_process():
    with sandboxed("report(os.getpid())\nimport time\ntime.sleep(60)", isolate=False) as (box, reports):
        assert json.loads(reports.readline()) == box.pid
        box.kill()
        assert box.poll() == -signal.SIGKILL
