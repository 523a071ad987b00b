"""The course on a JupyterHub on this machine: accounts, the course directory, nbgrader's exchange, the hub.

    python deploy/hub.py up [--state DIR] [--ip IP] [--port N] [--users FILE] [--release all|none|NAME...]
    python deploy/hub.py accounts [--state DIR]          # who can log in, and the demo passwords
    python deploy/hub.py remove [--state DIR]            # delete the accounts this script created

Run as root (the hub authenticates with PAM and starts each user's server as that Unix user).
`up` creates what is missing and never changes what exists:

- the accounts of the users file (one ``instructor`` line, ``student`` lines; see
  deploy/demo-users.txt): a missing account is created with a random password, printed and
  kept in ``STATE/accounts.json`` (root only); an existing account keeps its own password;
- the course directory ``~INSTRUCTOR/optimizers-hands-on``, the instructor's (their formgrader
  writes the gradebook), mode 0700;
- nbgrader's exchange ``STATE/exchange`` (mode 1777: students create their submissions in it);
- the Jupyter configuration of each role in ``STATE/jupyter/<role>/`` (course id, exchange,
  and for the instructor the course directory), used beside ``deploy/jupyter/<role>/``;
- the release of the course's notebooks through the exchange, with the project's own
  ``release`` (each one proven first), for notebooks not in the exchange yet;

and then runs JupyterHub (deploy/jupyterhub_config.py) in the foreground, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
DEPLOY = REPOSITORY / "deploy"
BIN = Path(sys.executable).parent
COURSE_ID = "optimizers-hands-on"
DEFAULT_STATE = Path("/srv") / COURSE_ID
# The users' Python: their servers and kernels run as them, so it must be theirs to run (a
# virtual environment whose interpreter lies in root's home is not). Kept between starts.
DEFAULT_PYTHON_DIR = Path("/opt") / COURSE_ID / "python"
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")
DEMO_USERS = DEPLOY / "demo-users.txt"
ACCOUNT_COMMENT = "optimizers-hands-on hub account"
ROLES = ("instructor", "student")

NBGRADER_CONFIG = '''\
# Written by deploy/hub.py up; rewritten on every start.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
'''
INSTRUCTOR_EXTRA = '''\
# The course directory: the project's commands (run as root) and this formgrader share it.
c.CourseDirectory.root = {course_dir!r}
'''


class Problem(Exception):
    """Something the machine lacks or the files say wrong; the message says what to do."""


# --- the users file ------------------------------------------------------------------------

def read_users(path: Path) -> dict[str, list[str]]:
    """``{"instructor": [name], "student": [names]}`` from lines ``instructor NAME`` and ``student NAME...``."""
    users: dict[str, list[str]] = {role: [] for role in ROLES}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        role, names = words[0], words[1:]
        if role not in ROLES or not names:
            raise Problem(f"{path}:{number}: expected 'instructor NAME' or 'student NAME...', got {line!r}")
        for name in names:
            if not _plain_name(name):
                raise Problem(f"{path}:{number}: {name!r} is not a Unix user name (a-z, 0-9, '_', '-'; at most 32)")
        users[role] += names
    if len(users["instructor"]) != 1:
        raise Problem(f"{path}: one instructor (nbgrader's 'one class, one grader'), found {users['instructor']}")
    clash = set(users["instructor"]) & set(users["student"])
    if clash or len(set(users["student"])) != len(users["student"]):
        raise Problem(f"{path}: a name is listed twice: {sorted(clash) or users['student']}")
    return users


def _plain_name(name: str) -> bool:
    return re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", name) is not None


# --- accounts ------------------------------------------------------------------------------

def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_accounts(users: dict[str, list[str]], record_path: Path) -> dict[str, dict]:
    """Create the missing accounts (random passwords); return every account with its role and password."""
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    for role in ROLES:
        for name in users[role]:
            entry = record.get(name)
            if _exists(name):
                if entry is None:
                    record[name] = {"role": role, "password": None, "created": False}
                record[name]["role"] = role
                continue
            if shutil.which("useradd") is None:
                raise Problem("useradd is missing (Debian: apt-get install passwd)")
            password = secrets.token_urlsafe(12)
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", ACCOUNT_COMMENT, name],
                           check=True)
            subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
            os.chmod(pwd.getpwnam(name).pw_dir, 0o700)  # nobody reads another user's work
            record[name] = {"role": role, "password": password, "created": True}
            _write_private(record_path, json.dumps(record, indent=1, sort_keys=True) + "\n")
    _write_private(record_path, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return {name: entry for name, entry in record.items() if name in users["instructor"] + users["student"]}


def remove_accounts(record_path: Path) -> list[str]:
    """Delete the accounts (and homes) that :func:`ensure_accounts` created; the others are left alone."""
    if not record_path.exists():
        return []
    record = json.loads(record_path.read_text())
    removed = []
    for name, entry in sorted(record.items()):
        if entry.get("created") and _exists(name):
            if pwd.getpwnam(name).pw_gecos.split(",")[0] != ACCOUNT_COMMENT:
                continue  # not ours after all (the name was reused); never delete someone's account
            result = subprocess.run(["userdel", "--remove", name], stderr=subprocess.PIPE, text=True)
            if result.returncode not in (0, 12):  # 12: the home could not be removed entirely
                raise Problem(f"userdel {name}: {result.stderr.strip()} (stop the hub first)")
            removed.append(name)
    record_path.unlink()
    return removed


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.touch(mode=0o600)
    os.chmod(partial, 0o600)
    partial.write_text(text)
    partial.replace(path)


# --- the course's files --------------------------------------------------------------------

def layout(state: Path, instructor: str) -> dict[str, Path]:
    home = Path(pwd.getpwnam(instructor).pw_dir)
    return {"state": state, "hub": state / "hub", "exchange": state / "exchange", "jupyter": state / "jupyter",
            "course": home / COURSE_ID, "accounts": state / "accounts.json"}


def prepare_files(paths: dict[str, Path], instructor: str) -> None:
    state = paths["state"]
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o755)  # every user reaches the exchange and the configuration below it
    for folder in state.parents:
        if folder.stat().st_mode & 0o005 != 0o005:
            raise Problem(f"{folder} is not open to other users (mode {folder.stat().st_mode & 0o777:o}): "
                          f"the students could not reach the exchange in {paths['exchange']}; choose another --state")
    paths["hub"].mkdir(exist_ok=True)
    os.chmod(paths["hub"], 0o700)  # the hub's database and cookie secret
    paths["exchange"].mkdir(exist_ok=True)
    os.chmod(paths["exchange"], 0o1777)  # nbgrader's exchange: everyone creates, only owners delete
    account = pwd.getpwnam(instructor)
    course = paths["course"]
    course.mkdir(exist_ok=True)
    os.chown(course, account.pw_uid, account.pw_gid)
    os.chmod(course, 0o700)
    for role in ROLES:
        folder = paths["jupyter"] / role
        folder.mkdir(parents=True, exist_ok=True)
        text = NBGRADER_CONFIG.format(course_id=COURSE_ID, exchange=str(paths["exchange"]))
        if role == "instructor":
            text += INSTRUCTOR_EXTRA.format(course_dir=str(course))
        (folder / "nbgrader_config.py").write_text(text)
        os.chmod(folder, 0o755)


def released(paths: dict[str, Path]) -> set[str]:
    outbound = paths["exchange"] / COURSE_ID / "outbound"
    return {p.name for p in outbound.iterdir()} if outbound.is_dir() else set()


def autograder_command(paths: dict[str, Path], *args: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "--course-dir", str(paths["course"]),
            "--exchange", str(paths["exchange"]), *args]


def release(paths: dict[str, Path], which: list[str]) -> None:
    """The project's `release` (proofs, then the exchange) for the notebooks not in the exchange yet."""
    if which == ["none"]:
        return
    notebooks = sorted(p.stem for p in (REPOSITORY / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    wanted = notebooks if which == ["all"] else [Path(name).stem for name in which]
    missing = [name for name in wanted if name not in released(paths)]
    if not missing:
        return
    print(f"releasing {len(missing)} notebook(s) through the exchange (each proven first)...", flush=True)
    result = subprocess.run(autograder_command(paths, "release", *missing), cwd=REPOSITORY)
    if result.returncode != 0:
        raise Problem("release failed (see above); nothing was started")


# --- the users' Python -----------------------------------------------------------------------

def open_to_everyone(path: Path) -> bool:
    """Whether any user can reach and read ``path`` (every folder above it searchable by others)."""
    path = path.resolve()
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if mode & 0o001 == 0 or (folder == path and mode & 0o004 == 0):
            return False
    return True


def users_python(target: Path) -> Path:
    """A ``bin/`` folder whose Python every user can run, with the project and JupyterHub in it.

    The project's own environment when everyone can run it; otherwise a virtual environment at
    ``target`` made from the system's Python: the project installed editable when its checkout is
    open to everyone (the users then always run the current course_lib), else copied, and copied
    again whenever the checkout changed.
    """
    interpreter = Path(sys.executable).resolve()
    if open_to_everyone(interpreter) and open_to_everyone(REPOSITORY) and (BIN / "jupyterhub-singleuser").exists():
        return BIN
    editable = open_to_everyone(REPOSITORY)
    stamp = _checkout_stamp(editable)
    stamp_file = target / ".optimizers-hands-on"
    if stamp_file.exists() and stamp_file.read_text() == stamp and (target / "bin" / "jupyterhub-singleuser").exists():
        return target / "bin"
    system = next((Path(p) for p in SYSTEM_PYTHONS if Path(p).exists() and open_to_everyone(Path(p))), None)
    if system is None:
        raise Problem(f"no Python that every user can run ({', '.join(SYSTEM_PYTHONS)}): apt-get install python3-venv")
    print(f"installing the users' Python in {target} (first start, or the project changed)...", flush=True)
    for folder in reversed([target, *target.parents]):
        if not folder.exists():
            folder.mkdir(mode=0o755)
    if not (target / "bin" / "python").exists():
        subprocess.run([str(system), "-m", "venv", str(target)], check=True)
        subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                       check=True)
    install = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    install += ["-e", f"{REPOSITORY}[hub]"] if editable else [f"{REPOSITORY}[hub]", "--force-reinstall", "--no-deps"]
    if not editable:
        subprocess.run(install[:-2], check=True)  # the dependencies, then the project afresh
    subprocess.run(install, check=True)
    subprocess.run(["chmod", "-R", "go+rX", str(target)], check=True)
    stamp_file.write_text(stamp)
    return target / "bin"


def _checkout_stamp(editable: bool) -> str:
    """What the users' Python was made from: the dependencies, and the code itself unless editable."""
    import hashlib

    digest = hashlib.sha256((REPOSITORY / "pyproject.toml").read_bytes())
    digest.update(str(REPOSITORY).encode() + (b" editable" if editable else b""))
    if not editable:
        for path in sorted([*REPOSITORY.glob("course_lib/**/*.py"), *REPOSITORY.glob("autograder/**/*.py")]):
            digest.update(str(path.relative_to(REPOSITORY)).encode() + path.read_bytes())
    return digest.hexdigest()


# --- the hub -------------------------------------------------------------------------------

def _free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((ip, 0))
        return probe.getsockname()[1]


def check_machine() -> str:
    """The proxy's path, or the reason the hub cannot run here."""
    if os.geteuid() != 0:
        raise Problem("run as root: the hub checks passwords with PAM and starts each user's server as that user")
    if shutil.which("jupyterhub", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}") is None:
        raise Problem(f"JupyterHub is not installed in {BIN.parent}: pip install -e '.[hub]' (make hub does)")
    proxy = shutil.which("configurable-http-proxy")
    if proxy is None:
        raise Problem("configurable-http-proxy is missing: apt-get install nodejs npm && "
                      "npm install -g configurable-http-proxy (make hub does)")
    return proxy


def hub_settings(args, paths: dict[str, Path], users: dict[str, list[str]], proxy: str, user_bin: Path) -> dict:
    return {
        "course_id": COURSE_ID, "ip": args.ip, "port": args.port, "hub_port": _free_port(),
        "proxy_api_port": _free_port(), "proxy": proxy, "bin": str(user_bin), "state": str(paths["state"]),
        "hub_dir": str(paths["hub"]), "instructors": users["instructor"], "students": users["student"],
        "jupyter_config_path": {role: [str(paths["jupyter"] / role), str(DEPLOY / "jupyter" / role)]
                                for role in ROLES},
        "ssl_cert": str(args.ssl_cert or ""), "ssl_key": str(args.ssl_key or ""),
    }


def describe(args, paths, accounts: dict[str, dict], settings: dict) -> str:
    scheme = "https" if settings["ssl_cert"] else "http"
    host = "127.0.0.1" if args.ip in ("", "0.0.0.0") else args.ip
    lines = [f"JupyterHub for {COURSE_ID}: {scheme}://{host}:{args.port}/", "", "accounts:"]
    for name, entry in sorted(accounts.items(), key=lambda item: (item[1]["role"], item[0])):
        password = entry["password"] or "(their own password)"
        lines.append(f"  {entry['role']:10} {name:24} {password}")
    instructor = next(name for name, entry in accounts.items() if entry["role"] == "instructor")
    command = " ".join(autograder_command(paths))
    lines += ["", f"course directory: {paths['course']} ({instructor}'s; the formgrader is in their server)",
              f"exchange:         {paths['exchange']}",
              "instructor's commands, as root on this machine (sudo):",
              f"  {command} release NOTEBOOK      # prove, then release through the exchange",
              f"  {command} collect               # submissions from the exchange",
              f"  {command} grade                 # sandboxed, parallel",
              f"  {command} feedback              # pages, released through the exchange",
              f"  {command} export --format csv|canvas|moodle",
              "", "Ctrl-C stops the hub and every server it started."]
    return "\n".join(lines)


def up(args) -> int:
    proxy = check_machine()
    users = read_users(args.users)
    args.state.mkdir(parents=True, exist_ok=True)
    accounts = ensure_accounts(users, args.state / "accounts.json")
    paths = layout(args.state, users["instructor"][0])
    prepare_files(paths, users["instructor"][0])
    enrolled = subprocess.run(autograder_command(paths, "enroll", *users["student"]), cwd=REPOSITORY)
    if enrolled.returncode != 0:
        raise Problem("could not enroll the students in the gradebook (see above)")
    release(paths, args.release)
    user_bin = users_python(args.python_dir)
    settings = hub_settings(args, paths, users, proxy, user_bin)
    settings_file = paths["hub"] / "settings.json"
    _write_private(settings_file, json.dumps(settings, indent=1) + "\n")
    print(describe(args, paths, accounts, settings), flush=True)
    environment = {**os.environ, "OPTIMIZERS_HUB_SETTINGS": str(settings_file),
                   "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}
    command = [str(BIN / "jupyterhub"), "-f", str(DEPLOY / "jupyterhub_config.py")]
    os.chdir(paths["hub"])
    os.execve(command[0], command, environment)  # the hub takes this process's place (and its signals)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python deploy/hub.py", description=__doc__.split("\n")[0])
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE,
                        help="the hub's files: database, exchange, configuration (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser("up", help="create what is missing, release, run the hub")
    sub.add_argument("--ip", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    sub.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    sub.add_argument("--users", type=Path, default=DEMO_USERS, help="users file (default: %(default)s)")
    sub.add_argument("--release", nargs="+", default=["all"],
                     help="notebooks to release if not in the exchange yet: all, none or names (default: all)")
    sub.add_argument("--python-dir", type=Path, default=DEFAULT_PYTHON_DIR,
                     help="where to make the users' Python if the project's is not theirs to run (default: %(default)s)")
    sub.add_argument("--ssl-cert", type=Path, help="TLS certificate (PEM) for a real server")
    sub.add_argument("--ssl-key", type=Path, help="its private key")
    commands.add_parser("accounts", help="print the accounts and the passwords of those created here")
    commands.add_parser("remove", help="delete the accounts created here (and their homes)")
    args = parser.parse_args(argv)
    args.state = args.state.resolve()
    try:
        if args.command == "up":
            return up(args)
        record = args.state / "accounts.json"
        if args.command == "accounts":
            for name, entry in sorted(json.loads(record.read_text()).items()):
                print(f"{entry['role']:10} {name:24} {entry['password'] or '(their own password)'}")
            return 0
        if os.geteuid() != 0:
            raise Problem("run as root")
        for name in remove_accounts(record):
            print(f"removed {name}")
        return 0
    except (Problem, OSError) as error:
        print(f"hub: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.path.insert(0, str(REPOSITORY))
    sys.exit(main())
