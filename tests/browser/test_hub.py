"""The university round trip on a real JupyterHub (deploy/), with real Unix accounts, in headless Chromium.

One instructor and three students get Unix accounts; the hub (PAM, LocalProcessSpawner, nbgrader's
exchange) runs on 127.0.0.1 on a free port, in a PID namespace of its own, so that it and everything
it started die with it even if this process is killed. The steps, in order (each test is one):

1. the instructor releases lesson 00 with the project's `release`; every student's Assignments tab shows it;
2. A fetches it, completes it, validates and submits; B submits a wrong answer and a written answer;
   C submits nothing;
3. `collect` (which refuses a submission C forged under A's name) and `grade` (the project's); the
   export says `needs manual grading`; the instructor grades
   the written answers in the formgrader; `feedback` releases the pages through the exchange;
4. A and B fetch their feedback in the Assignments tab: the scores, B's failing visible test and its
   message, no hidden test code; the export (csv, Canvas, Moodle): A full marks, B partial, C missing;
5. a student cannot open the formgrader, another student's server or files, the exchange's other
   submissions or the gradebook (HTTP 403, permission denied).

The hub, its servers and the accounts are removed at the end, whatever happened.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")

from playwright.sync_api import expect  # noqa: E402

from .conftest import ACTION_TIMEOUT_MS, VIEWPORT  # noqa: E402
from .lab import REPOSITORY, _DIE_WITH_PARENT, _free_port, _start_time, course_environment  # noqa: E402
from .pages import CHROMIUM, FORWARD_DIFFERENCE, LONG_WAIT_MS, NO_CHROMIUM, Notebook, choose_menu  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

LESSON = "00_what_is_an_optimizer"
SOURCE = REPOSITORY / "notebooks" / f"{LESSON}.ipynb"
HUB_SCRIPT = REPOSITORY / "deploy" / "hub.py"
ACCOUNT_COMMENT = "optimizers-hands-on hub account"
STALE_ACCOUNT = re.compile(r"oht[0-9a-f]{4}-(?:inst|a|b|c)")
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
WRITTEN = {
    "q1_ravine": "Along the steep direction the step overshoots unless the learning rate is small, "
                 "and then progress along the flat valley floor is slow.",
    "q2_numerical_cost": "Two evaluations of the loss per parameter: far too many for a network.",
    "q3_saddle": "The gradient vanishes at a saddle, so plain descent started on the ridge stays there.",
}
B_WRITTEN_POINTS = 1  # of q1_ravine's 2
HUB_START_SECONDS = 240
STOP_GRACE_SECONDS = 30
STUDENTS = ("a", "b", "c")


def _why_it_cannot_run() -> str | None:
    if not sys.platform.startswith("linux"):
        return "the hub runs on Linux (PAM, Unix accounts)"
    if os.geteuid() != 0:
        return "needs root: it creates Unix accounts and the hub starts servers as them (.ci/run runs as root)"
    for tool in ("useradd", "userdel", "chpasswd", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (Debian: apt-get install passwd util-linux)"
    if not (Path(sys.executable).parent / "jupyterhub").exists():
        return "JupyterHub is not installed: pip install -e '.[hub]' (.ci/run does)"
    if shutil.which("configurable-http-proxy") is None:
        if shutil.which("npm") is None:
            return "configurable-http-proxy is missing and so is npm (apt-get install nodejs npm; .ci/run does)"
        subprocess.run(["npm", "install", "--global", "--silent", "configurable-http-proxy"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        if shutil.which("configurable-http-proxy") is None:
            return "configurable-http-proxy is missing and `npm install -g configurable-http-proxy` failed"
    return None


# --- accounts and the hub ----------------------------------------------------------------------

def _gecos(name: str) -> str | None:
    import pwd

    try:
        return pwd.getpwnam(name).pw_gecos.split(",")[0]
    except KeyError:
        return None


def _remove_stale_accounts() -> None:
    """Accounts left by a run that was killed: this test's names and the hub script's comment only."""
    import pwd

    for entry in pwd.getpwall():
        if STALE_ACCOUNT.fullmatch(entry.pw_name) and _gecos(entry.pw_name) == ACCOUNT_COMMENT:
            subprocess.run(["userdel", "--remove", entry.pw_name], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _processes_of(uids: set[int]) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            status = entry.joinpath("status").read_text()
        except OSError:
            continue
        match = re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE)
        if match and int(match.group(1)) in uids:
            found.append(int(entry.name))
    return found


class Hub:
    def __init__(self, state: Path, log: Path):
        self.state = state
        self.log = log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        tag = secrets.token_hex(2)
        self.instructor = f"oht{tag}-inst"
        self.students = {key: f"oht{tag}-{key}" for key in STUDENTS}
        self.process: subprocess.Popen | None = None

    @property
    def accounts(self) -> dict[str, dict]:
        return json.loads((self.state / "accounts.json").read_text())

    def password(self, name: str) -> str:
        return self.accounts[name]["password"]

    @property
    def exchange(self) -> Path:
        return self.state / "exchange"

    @property
    def course_dir(self) -> Path:
        return self.home(self.instructor) / "optimizers-hands-on"

    def home(self, name: str) -> Path:
        import pwd

        return Path(pwd.getpwnam(name).pw_dir)

    def start(self) -> None:
        users = self.state.parent / "users.txt"
        users.write_text(f"instructor {self.instructor}\nstudent {' '.join(self.students.values())}\n")
        command = [sys.executable, str(HUB_SCRIPT), "--state", str(self.state), "up", "--port", str(self.port),
                   "--users", str(users), "--release", "none"]
        if shutil.which("unshare"):
            # A PID namespace: when the hub (its first process) dies, the kernel kills every process in it.
            command = [shutil.which("unshare"), "--pid", "--fork", "--kill-child=SIGKILL", *command]
        # And the namespace's launcher dies with this process, even if it is killed (PR_SET_PDEATHSIG).
        command = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(command, cwd=REPOSITORY, env=course_environment(),
                                            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + HUB_START_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited with code {self.process.returncode}; its log:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the hub did not answer within {HUB_START_SECONDS} s; its log:\n{self.tail()}")
            time.sleep(0.5)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> list[int]:
        """Stop the hub (it stops its servers and proxy); return the pids of the accounts' processes left."""
        if self.process is not None and self.process.poll() is None:
            from .lab import descendants

            family = descendants(self.process.pid)
            # SIGTERM to JupyterHub itself, the namespace's first process: it stops servers and proxy.
            hub = [p for p in family if "deploy/jupyterhub_config.py" in _command_line(p.pid)]
            for process in hub[:1]:
                os.kill(process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            for process in family:
                process.kill()
        uids = set()
        for name in [self.instructor, *self.students.values()]:
            try:
                import pwd

                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                pass
        deadline = time.monotonic() + 10
        while _processes_of(uids) and time.monotonic() < deadline:
            time.sleep(0.2)
        return _processes_of(uids)

    def remove_accounts(self) -> None:
        subprocess.run([sys.executable, str(HUB_SCRIPT), "--state", str(self.state), "remove"], check=False,
                       stdout=subprocess.DEVNULL, env=course_environment())
        for name in [self.instructor, *self.students.values()]:
            if _gecos(name) == ACCOUNT_COMMENT:
                subprocess.run(["userdel", "--remove", name], check=False, stderr=subprocess.DEVNULL)

    def autograder(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """The project's command as the instructor runs it on the server (as root, like `sudo`)."""
        return subprocess.run([sys.executable, "-m", "autograder", "--course-dir", str(self.course_dir),
                               "--exchange", str(self.exchange), *args], cwd=REPOSITORY, env=course_environment(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)

    def as_user(self, name: str, code: str) -> subprocess.CompletedProcess:
        """Python ``code`` run as the Unix user ``name`` (what their terminal in the hub could do)."""
        return subprocess.run(["runuser", "-u", name, "--", "/usr/bin/python3", "-c", code], capture_output=True,
                              text=True, timeout=60, cwd="/")


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hub(tmp_path_factory, artefacts):
    reason = _why_it_cannot_run()
    if reason:
        pytest.skip(reason)
    _remove_stale_accounts()
    # Not under pytest's own temporary folder (mode 0700): every account must reach the exchange.
    base = Path(tempfile.mkdtemp(prefix="optimizers-hub-test-"))
    os.chmod(base, 0o755)
    hub = Hub(base / "state", artefacts / "hub.log")
    started = time.monotonic()
    try:
        hub.start()
        hub.timings = {"hub started": time.monotonic() - started}
        for name in [hub.instructor, *hub.students.values()]:
            _no_news(hub.home(name), name)
        yield hub
    finally:
        left = hub.stop()
        hub.remove_accounts()
        shutil.rmtree(base, ignore_errors=True)
        timings = getattr(hub, "timings", {})
        (artefacts / "hub-timings.json").write_text(json.dumps(timings, indent=1) + "\n")
        assert not left, f"processes of the test accounts outlived the hub: {left}"


def _no_news(home: Path, name: str) -> None:
    """The news toast asks for a click in the lower right corner, over cells; there is no internet anyway."""
    settings = home / ".jupyter/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    subprocess.run(["chown", "-R", f"{name}:", str(home / ".jupyter")], check=True)


@pytest.fixture(scope="module")
def browsers(browser):
    """One browser context per account, logged in lazily, kept for the whole round trip."""
    contexts = {}

    def page_of(hub: Hub, name: str):
        if name not in contexts:
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            page = context.new_page()
            _log_in(page, hub, name)
            contexts[name] = page
        return contexts[name]

    yield page_of
    for page in contexts.values():
        page.context.close()


def _log_in(page, hub: Hub, name: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill(hub.password(name))
    page.locator("#login_submit").click()
    # The hub starts the user's server as that user, then sends the browser to JupyterLab.
    page.wait_for_url(re.compile(rf"/user/{re.escape(name)}/lab"), timeout=LONG_WAIT_MS)
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=LONG_WAIT_MS)


@pytest.fixture(scope="module")
def trip():
    """What the steps hand on to each other; a step whose predecessor failed is skipped, saying so."""
    return {"failed": None}


@pytest.fixture
def step(trip, request):
    if trip["failed"]:
        pytest.skip(f"an earlier step of the round trip failed ({trip['failed']})")
    started = time.monotonic()
    yield trip
    trip.setdefault("timings", {})[request.node.name] = round(time.monotonic() - started, 1)
    if getattr(request.node, "browser_test_failed", True):
        trip["failed"] = request.node.name


# --- the lesson ------------------------------------------------------------------------------

def _lesson_cells():
    """The source notebook, and ``grade_id -> (index, cell)`` (the release keeps every cell in place)."""
    source = nbformat.read(SOURCE, as_version=4)
    by_id = {}
    for index, cell in enumerate(source.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            by_id[grade_id] = (index, cell)
    return source, by_id


def _solution(cell) -> str:
    return "\n".join(line for line in cell.source.splitlines() if line.strip() not in SOLUTION_MARKERS)


def _hidden_test_lines(source) -> list[str]:
    """Distinctive lines of the hidden tests' code, which no feedback may show."""
    lines = []
    for cell in source.cells:
        text = cell.source
        if HIDDEN_MARKERS[0] in text:
            hidden = text.split(HIDDEN_MARKERS[0], 1)[1].split(HIDDEN_MARKERS[1], 1)[0]
            lines += [line.strip() for line in hidden.splitlines() if len(line.strip()) > 25]
    return lines


# --- pages -----------------------------------------------------------------------------------

def _workspace(hub: Hub, name: str, tree_path: str | None = None) -> str:
    url = f"{hub.url}/user/{name}/lab/workspaces/{secrets.token_hex(8)}"
    return url + (f"/tree/{tree_path}" if tree_path else "")


def _open_assignments(page, hub: Hub, name: str) -> None:
    page.goto(_workspace(hub, name))
    expect(page.locator("#jp-main-dock-panel")).to_be_visible()
    choose_menu(page, "Nbgrader", "Assignment List")
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current")).to_contain_text("Assignments")


def _list_rows(page, which: str, count: int):
    for part in ("loading", "placeholder", "error"):
        expect(page.locator(f"#{which}_assignments_list_{part}")).to_be_hidden(timeout=LONG_WAIT_MS)
    rows = page.locator(f"#{which}_assignments_list > .list_item")
    expect(rows).to_have_count(count, timeout=LONG_WAIT_MS)
    return rows


def _menu_labels(page, menu: str) -> list[str]:
    """The labels of a menu of the menu bar (every account on the hub has the Nbgrader menu)."""
    item = page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$"))
    expect(item).to_be_visible()
    item.click()
    labels = page.locator(".lm-Menu-content .lm-Menu-itemLabel").all_text_contents()
    page.keyboard.press("Escape")
    return labels


def _save(page) -> None:
    page.keyboard.press("ControlOrMeta+s")
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current")).not_to_have_class(
        re.compile(r"\bjp-mod-dirty\b"))


def _write_markdown(notebook: Notebook, index: int, text: str) -> None:
    cell = notebook.cell(index)
    cell.scroll_into_view_if_needed()
    cell.dblclick()
    notebook.replace_source(index, text)
    notebook.page.keyboard.press("Shift+Enter")


# --- the round trip --------------------------------------------------------------------------

def test_1_release_shows_in_every_students_assignments_tab(hub, browsers, steps, step):
    started = time.monotonic()
    released = hub.autograder("release", LESSON)
    step["release seconds"] = round(time.monotonic() - started, 1)
    assert released.returncode == 0, released.stdout
    assert re.search(rf"^{LESSON}: .* -> proven$", released.stdout, re.MULTILINE), released.stdout
    assert re.search(rf"^{LESSON}: in the exchange ", released.stdout, re.MULTILINE), released.stdout
    assert (hub.exchange / "optimizers-hands-on" / "outbound" / LESSON / f"{LESSON}.ipynb").is_file()
    for key, name in hub.students.items():
        page = browsers(hub, name)
        # No instructor tools for a student: no formgrader, no Create Assignment, no course list.
        labels = _menu_labels(page, "Nbgrader")
        assert "Assignment List" in labels and not {"Formgrader", "Create assignment", "Course List"} & set(labels), labels
        _open_assignments(page, hub, name)
        rows = _list_rows(page, "released", 1)
        expect(rows.first.locator(".item_name")).to_have_text(LESSON)
        expect(rows.first.locator(".item_course")).to_have_text("optimizers-hands-on")
        if key == "a":
            steps.page = page
            steps.shot("student-assignments-tab", readme_name="hub-assignments")


def test_2_students_work_validate_and_submit(hub, browsers, steps, step):
    source, by_id = _lesson_cells()
    # A: everything right, the written answers too; validates; submits.
    a = browsers(hub, hub.students["a"])
    _fetch(a, hub, hub.students["a"])
    notebook = _open_lesson(a, hub, hub.students["a"], len(source.cells))
    for grade_id in ("numerical_gradient_answer", "gradient_descent_step_answer", "run_gradient_descent_answer"):
        index, cell = by_id[grade_id]
        notebook.replace_source(index, _solution(cell))
    for grade_id, text in WRITTEN.items():
        _write_markdown(notebook, by_id[grade_id][0], text)
    _save(a)
    message = notebook.validate()
    expect(message).to_contain_text("Success! Your notebook passes all the tests.", timeout=LONG_WAIT_MS)
    steps.page = a
    steps.shot("student-a-validated")
    a.locator(".jp-Dialog .jp-Dialog-button").last.click()
    _submit(a, hub, hub.students["a"])
    # B: the forward difference (wrong), one step right, one written answer; submits.
    b = browsers(hub, hub.students["b"])
    _fetch(b, hub, hub.students["b"])
    notebook = _open_lesson(b, hub, hub.students["b"], len(source.cells))
    notebook.replace_source(by_id["numerical_gradient_answer"][0], FORWARD_DIFFERENCE)
    index, cell = by_id["gradient_descent_step_answer"]
    notebook.replace_source(index, _solution(cell))
    _write_markdown(notebook, by_id["q1_ravine"][0], WRITTEN["q1_ravine"])
    _save(b)
    _submit(b, hub, hub.students["b"])
    # C: nothing. The exchange holds two submissions, each its student's.
    inbound = hub.exchange / "optimizers-hands-on" / "inbound"
    owners = sorted(_owner(path) for path in inbound.iterdir())
    assert owners == sorted([hub.students["a"], hub.students["b"]]), owners


def _owner(path: Path) -> str:
    import pwd

    return pwd.getpwuid(path.stat().st_uid).pw_name


def _fetch(page, hub: Hub, name: str) -> None:
    _open_assignments(page, hub, name)
    rows = _list_rows(page, "released", 1)
    rows.first.locator(".item_status button").click()
    rows = _list_rows(page, "fetched", 1)
    expect(rows.first.locator(".item_name").first).to_have_text(LESSON)
    assert (hub.home(name) / LESSON / f"{LESSON}.ipynb").is_file()


def _open_lesson(page, hub: Hub, name: str, cell_count: int) -> Notebook:
    path = f"{LESSON}/{LESSON}.ipynb"
    return Notebook.open(page, _workspace(hub, name, path), path, cell_count)


def _submit(page, hub: Hub, name: str) -> None:
    _open_assignments(page, hub, name)
    rows = _list_rows(page, "fetched", 1)
    rows.first.locator(".item_status button", has_text="Submit").click()
    rows = _list_rows(page, "submitted", 1)
    expect(rows.first.locator(".item_name").first).to_have_text(LESSON)


def test_3_instructor_collects_grades_marks_written_answers_and_returns_feedback(hub, browsers, steps, step):
    a, b, c = (hub.students[key] for key in STUDENTS)
    # C forges a later submission under A's name: the exchange lets anyone create one.
    forged = hub.exchange / "optimizers-hands-on" / "inbound" / f"{a}+{LESSON}+2999-01-01 00:00:00.000000 UTC+forged"
    made = hub.as_user(c, f"import os\nos.mkdir({str(forged)!r})\n"
                          f"open({str(forged / (LESSON + '.ipynb'))!r}, 'w').write('{{}}')\n"
                          f"open({str(forged / 'timestamp.txt')!r}, 'w').write('2999-01-01 00:00:00.000000 UTC')")
    assert made.returncode == 0, made.stderr
    started = time.monotonic()
    collected = hub.autograder("collect")
    assert f"-> {a}/{LESSON}" in collected.stdout and f"-> {b}/{LESSON}" in collected.stdout, collected.stdout
    assert f"COULD NOT PLACE exchange inbound/{forged.name}: made by {c} under the name of {a}" in collected.stdout
    assert collected.returncode == 1, collected.stdout  # something could not be placed: said, and in the exit code
    assert "2999" not in (hub.course_dir / "submitted" / a / LESSON / "timestamp.txt").read_text()
    graded = hub.autograder("grade")
    assert graded.returncode == 0 and "2 graded now, 0 failed" in graded.stdout, graded.stdout
    step["collect and grade seconds"] = round(time.monotonic() - started, 1)
    # Written answers nobody has graded yet: never a finished-looking grade.
    rows = _export(hub, "csv")
    assert rows[a][f"{LESSON} status"] == rows[b][f"{LESSON} status"] == "needs manual grading", rows
    assert rows[a][LESSON] == rows[b][LESSON] == "", rows
    assert rows[c][f"{LESSON} status"] == "missing", rows
    # The formgrader, in the instructor's own server: in JupyterLab (Nbgrader > Formgrader), and its pages.
    instructor = browsers(hub, hub.instructor)
    instructor.goto(_workspace(hub, hub.instructor))
    labels = _menu_labels(instructor, "Nbgrader")
    assert {"Formgrader", "Create assignment", "Assignment List"} <= set(labels), labels
    choose_menu(instructor, "Nbgrader", "Formgrader")
    formgrader = instructor.frame_locator('iframe[src*="/formgrader"]')
    expect(formgrader.locator("table tbody tr td.name")).to_have_text([LESSON])
    for student, marks in ((a, {grade_id: None for grade_id in WRITTEN}), (b, {"q1_ravine": B_WRITTEN_POINTS})):
        instructor.goto(f"{hub.url}/user/{hub.instructor}/formgrader/submissions/{_submission_id(hub, student)}/")
        instructor.wait_for_load_state("networkidle")  # the grades are loaded: the inputs save on change
        for grade_id, points in marks.items():
            with instructor.expect_response(_saves_a_grade):
                if points is None:  # full credit, with the formgrader's button
                    instructor.locator(".nbgrader_cell", has=instructor.locator(f"#{grade_id}")).locator(
                        ".full-credit").click()
                else:
                    instructor.locator(f"#{grade_id}").fill(str(points))
                    instructor.locator(f"#{grade_id}").press("Tab")
        _wait_for_manual_grades(hub, student, marks)
        if student == b:
            instructor.locator(f"#{'q1_ravine'}").scroll_into_view_if_needed()
            steps.page = instructor
            steps.shot("formgrader-written-answer", readme_name="hub-formgrader")
    started = time.monotonic()
    feedback = hub.autograder("feedback")
    step["feedback seconds"] = round(time.monotonic() - started, 1)
    assert feedback.returncode == 0, feedback.stdout
    for student in (a, b):
        assert f"feedback {student}/{LESSON}: released" in feedback.stdout, feedback.stdout


def _saves_a_grade(response) -> bool:
    return response.request.method == "PUT" and "/formgrader/api/grade/" in response.url and response.ok


def _export(hub: Hub, format: str) -> dict[str, dict]:
    output = hub.state.parent / f"export-{format}.csv"
    exported = hub.autograder("export", "--format", format, "--output", str(output))
    assert exported.returncode == 0, exported.stdout
    with open(output, newline="") as handle:
        return {row.get("student") or row.get("Username") or row.get("SIS Login ID") or row["Student"]: row
                for row in csv.DictReader(handle)}


def _submission_id(hub: Hub, student: str) -> str:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{hub.course_dir / 'gradebook.db'}", "optimizers-hands-on") as gradebook:
        return gradebook.find_submission_notebook(LESSON, LESSON, student).id


def _wait_for_manual_grades(hub: Hub, student: str, marks: dict) -> None:
    from nbgrader.api import Gradebook

    deadline = time.monotonic() + 60
    while True:
        with Gradebook(f"sqlite:///{hub.course_dir / 'gradebook.db'}", "optimizers-hands-on") as gradebook:
            grades = {g.name: g for g in gradebook.find_submission_notebook(LESSON, LESSON, student).grades}
            done = all(grades[grade_id].manual_score == (grades[grade_id].max_score if points is None else points)
                       for grade_id, points in marks.items())
        if done:
            return
        assert time.monotonic() < deadline, f"the formgrader did not save {student}'s marks {marks}"
        time.sleep(0.5)


def test_4_students_fetch_feedback_and_the_export_has_every_grade(hub, browsers, steps, step):
    source, by_id = _lesson_cells()
    a, b, c = (hub.students[key] for key in STUDENTS)
    hidden = _hidden_test_lines(source)
    assert hidden, "the lesson has hidden tests"
    from autograder.checking import autograded_tests
    from autograder.course import Course

    tests = {t.grade_id: t for t in autograded_tests(Course(root=hub.course_dir), b, LESSON).tests}
    visible = tests["numerical_gradient_visible"]
    assert visible.score == 0 and visible.message, visible
    for student, points in ((a, 14), (b, 3 + B_WRITTEN_POINTS)):
        page = browsers(hub, student)
        _open_assignments(page, hub, student)
        rows = _list_rows(page, "submitted", 1)
        rows.first.locator(".item_status button", has_text="Fetch Feedback").click()
        expect(page.locator("#submitted_assignments_list")).to_contain_text("(view feedback)", timeout=LONG_WAIT_MS)
        if student == b:
            steps.page = page
            steps.shot("student-b-feedback-fetched")
        pages = sorted((hub.home(student) / LESSON / "feedback").glob(f"*/{LESSON}.html"))
        assert len(pages) == 1, pages
        page.goto(f"{hub.url}/user/{student}/files/{pages[0].relative_to(hub.home(student)).as_posix()}")
        body = " ".join(page.locator("body").inner_text().split())
        assert re.search(rf"\b{points}(\.0+)? / 14(\.0+)?\b", body), f"{student}'s feedback does not show {points} / 14"
        for line in hidden:
            assert " ".join(line.split()) not in body, f"{student}'s feedback shows hidden test code: {line}"
        assert "BEGIN HIDDEN TESTS" not in body
        if student == b:
            first_line = " ".join(visible.message.split("\n")[0].split())
            assert first_line[:60] in body, (first_line, body[:2000])
            page.locator(f"text={first_line[:40]}").first.scroll_into_view_if_needed()
            steps.page = page
            steps.shot("student-b-feedback", readme_name="hub-feedback")
    rows = _export(hub, "csv")
    assert (rows[a][LESSON], rows[a][f"{LESSON} status"]) == ("14", "ok"), rows[a]
    assert (rows[b][LESSON], rows[b][f"{LESSON} status"]) == (str(3 + B_WRITTEN_POINTS), "ok"), rows[b]
    assert (rows[c][LESSON], rows[c][f"{LESSON} status"]) == ("", "missing"), rows[c]
    canvas = _export(hub, "canvas")
    assert canvas["    Points Possible"][LESSON] == "14"
    assert (canvas[a][LESSON], canvas[b][LESSON], canvas[c][LESSON]) == ("14", "4", ""), canvas
    moodle = _export(hub, "moodle")
    assert (moodle[a][LESSON], moodle[b][LESSON], moodle[c][LESSON]) == ("14", "4", ""), moodle
    assert moodle[c][f"{LESSON} feedback"].startswith("missing"), moodle[c]


def test_5_a_student_reaches_nothing_of_the_instructor_or_of_other_students(hub, browsers, step):
    a, b, c = (hub.students[key] for key in STUDENTS)
    page = browsers(hub, b)
    # Over HTTP: the formgrader (the instructor's and in their own server), A's server, its files and API.
    denied = {
        f"/user/{hub.instructor}/formgrader": 403,
        f"/user/{hub.instructor}/formgrader/api/submissions/{LESSON}": 403,
        f"/user/{a}/lab": 403,
        f"/user/{a}/files/{LESSON}/{LESSON}.ipynb": 403,
        f"/user/{a}/api/contents/{LESSON}": 403,
        f"/user/{b}/formgrader": 404,  # not in a student's server at all
    }
    seen = {path: page.goto(hub.url + path).status for path in denied}
    assert seen == denied
    # On the machine, as B (what a terminal in the hub could do).
    inbound = hub.exchange / "optimizers-hands-on" / "inbound"
    a_submission = next(path for path in inbound.iterdir() if path.name.startswith(f"{a}+") and _owner(path) == a)
    attempts = {
        "A's home": f"os.listdir({str(hub.home(a))!r})",
        "A's notebook": f"open({str(hub.home(a) / LESSON / (LESSON + '.ipynb'))!r}).read()",
        "the exchange's submissions": f"os.listdir({str(inbound)!r})",
        "the exchange's feedback": f"os.listdir({str(inbound.parent / 'feedback')!r})",
        "the gradebook": f"open({str(hub.course_dir / 'gradebook.db')!r}, 'rb').read()",
        "the collected submissions": f"os.listdir({str(hub.course_dir / 'submitted')!r})",
    }
    for what, code in attempts.items():
        result = hub.as_user(b, f"import os\ntry:\n    {code}\n    print('READ')\nexcept PermissionError:\n"
                                f"    print('DENIED')")
        assert result.stdout.strip() == "DENIED", f"B could read {what}: {result.stdout}{result.stderr}"
    # A submission's name holds a random part, and nobody but the instructor can list them: B cannot find A's.
    found = hub.as_user(b, f"import glob; print(glob.glob({str(inbound / (a + '+*'))!r}))")
    assert found.stdout.strip() == "[]", found.stdout
    assert len(a_submission.name.rsplit("+", 1)[1]) >= 12


def test_6_the_hub_stops_with_every_server_it_started(hub, step, artefacts):
    """Last: stop the hub here (the fixture would too) and check nothing of it or its users is left."""
    step.setdefault("timings", {})
    hub.timings.update(step.get("timings", {}))
    hub.timings.update({key: value for key, value in step.items() if key.endswith("seconds")})
    left = hub.stop()
    assert not left, f"processes of the accounts outlived the hub: {[_command_line(pid) for pid in left]}"
    assert hub.process.poll() is not None
    assert _start_time(hub.process.pid) is None
