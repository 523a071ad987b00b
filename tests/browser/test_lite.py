"""The course in the browser (lite/, `make lite`): the JupyterLite site built as `make lite` builds it, with
Pyodide bundled, served on 127.0.0.1 to headless Chromium, which may reach no other host.

Two lessons run top to bottom with every solution filled in: 00, which has a bit of everything (equations,
figures, the explorer, a classic mistake to diagnose), and 09 (Adam), an adaptive method. Each is uploaded
through JupyterLite's file browser as a learner's own file, so opening it afterwards, in a newly loaded page,
also shows that the browser's storage keeps a learner's work across a reload.

Nothing may leave the machine: every request of the page and of its workers that is not for 127.0.0.1 is
recorded and refused, and behind that the browser context's proxy is a listener on 127.0.0.1 that records
whatever reaches it and answers nothing. The site must ask for no other host, and nothing but Chromium's own
autofill queries may reach the proxy (which refuses them too).

The site is built once per test session, with the downloads in .lite-cache/ (reused between sessions).
Where it cannot be built (no npm, JupyterLite not installed, a registry out of reach) the tests are skipped
with the reason; a download that does not match its pinned hash fails them.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import socketserver
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")

from playwright.sync_api import expect  # noqa: E402

from course_lib import __version__ as COURSE_LIB_VERSION  # noqa: E402
from course_lib.checks.mistakes import EXERCISE_MISTAKES, MISTAKES  # noqa: E402

from . import lessons  # noqa: E402
from .conftest import VIEWPORT, recorded_page  # noqa: E402
from .lab import REPOSITORY  # noqa: E402
from .pages import CHROMIUM, FORWARD_DIFFERENCE, NO_CHROMIUM, NUMBERED_PROMPT, Notebook, choose_menu  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

BUILD = REPOSITORY / "lite" / "build.py"
UNAVAILABLE = 3  # lite/build.py's exit code when a tool or a registry is missing
BUILD_TIMEOUT_S = 900
LOOPBACK = re.compile(r"^(?:https?|wss?)://(?:127\.0\.0\.1|localhost)(?::\d+)?/")
CHECK_PASSED = re.compile(r"^check_\w+ passed: ", re.MULTILINE)
CHROMIUM_OWN_SERVICE = "CONNECT content-autofill.googleapis.com:443 "

# Lesson 09's exercise with the classic slip the visible test names: m and v used without bias correction.
ADAM_WITHOUT_BIAS_CORRECTION = """\
def adam_update(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                weight_decay=0.0, decoupled_weight_decay=False):
    beta1, beta2 = betas
    if decoupled_weight_decay:
        param = param * (1.0 - lr * weight_decay)
    else:
        grad = grad + weight_decay * param
    exp_avg = beta1 * state["exp_avg"] + (1.0 - beta1) * grad
    exp_avg_sq = beta2 * state["exp_avg_sq"] + (1.0 - beta2) * grad * grad
    new_param = param - lr * exp_avg / (np.sqrt(exp_avg_sq) + eps)
    return new_param, {"step": state["step"] + 1, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
"""


# --- the site, its server, and the guard on the network -------------------------------------------

@pytest.fixture(scope="session")
def lite_site(tmp_path_factory, artefacts) -> Path:
    """`make lite` (Pyodide bundled) into a temporary folder, once per session."""
    output = tmp_path_factory.mktemp("lite") / "site"
    started = time.monotonic()
    built = subprocess.run([sys.executable, str(BUILD), "--pyodide", "bundled", "--output", str(output)],
                           cwd=REPOSITORY, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=BUILD_TIMEOUT_S)
    (artefacts / "lite-build.log").write_text(f"{built.stdout}\n(exit {built.returncode}, "
                                              f"{time.monotonic() - started:.0f} s)\n")
    if built.returncode == UNAVAILABLE:
        pytest.skip(f"the browser edition cannot be built here: {built.stdout.strip().splitlines()[-1]}")
    assert built.returncode == 0, built.stdout
    return output


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    # Pyodide streams its WebAssembly only when it is served as such.
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm"}

    def log_message(self, format, *args):
        pass


@contextmanager
def serving(server: socketserver.BaseServer):
    """``server`` answering in a thread of its own until the block ends, then closed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def site_url(lite_site):
    """The site over HTTP on 127.0.0.1, as any static host serves it; stopped with the module."""
    handler = functools.partial(_QuietHandler, directory=lite_site)
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


class _RecordingRefuser(socketserver.BaseRequestHandler):
    """What the browser sends its proxy: the first line is recorded, and the connection closed unanswered."""

    def handle(self):
        self.server.attempts.append(self.request.makefile("rb").readline(4096).decode(errors="replace").strip())


@pytest.fixture(scope="module")
def dead_end_proxy():
    """The browser contexts' proxy: where any request for another host than 127.0.0.1 would go."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RecordingRefuser)
    server.attempts = []
    with serving(server):
        yield server


class NetworkGuard:
    """Every request of a browser context, by URL: those for 127.0.0.1 go on, the others are refused."""

    def __init__(self):
        self.served, self.refused = [], []

    def __call__(self, route):
        url = route.request.url
        if LOOPBACK.match(url) or url.startswith(("data:", "blob:")):
            self.served.append(url)
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("blockedbyclient")


@pytest.fixture
def guard():
    return NetworkGuard()


@pytest.fixture
def page(browser, artefact_folder, request, dead_end_proxy, guard):
    """A fresh browser context (and so fresh browser storage) whose only way out is the recording proxy."""
    proxy = {"server": f"http://127.0.0.1:{dead_end_proxy.server_address[1]}", "bypass": "127.0.0.1,localhost"}
    context = browser.new_context(viewport=VIEWPORT, proxy=proxy)
    context.route("**/*", guard)
    with recorded_page(context, artefact_folder, request) as page:
        yield page


def assert_nothing_left_the_machine(guard: NetworkGuard, proxy) -> None:
    assert guard.refused == [], f"the site asked for other hosts: {guard.refused}"
    # Chromium itself asks Google's autofill service about the page's forms (outside the page, so the guard
    # does not see it); the flag that stops it would replace Playwright's own --disable-features list.
    others = [attempt for attempt in proxy.attempts if not attempt.startswith(CHROMIUM_OWN_SERVICE)]
    assert others == [], f"requests that reached the proxy: {others}"


def assert_pyodide_came_from_the_site(guard: NetworkGuard) -> None:
    """The guard saw the kernel's worker load Pyodide, its packages and the course's wheels from this site."""
    for fetched in ("/static/pyodide/pyodide.asm.wasm", "/static/pyodide/numpy-", "/wheels/course_lib-"):
        assert any(fetched in url for url in guard.served), f"no request for {fetched} went through the guard"


# --- a learner's session --------------------------------------------------------------------------

def upload(page, site_url: str, notebook, name: str, folder: Path) -> None:
    """Put ``notebook`` into the site's storage as the learner would: the file browser's Upload button."""
    nbformat.write(notebook, folder / name)
    page.goto(f"{site_url}/lab/index.html")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload Files").click()
    chooser.value.set_files(folder / name)
    expect(page.locator(".jp-DirListing-item", has_text=name)).to_be_visible()


def run_completed_lesson(page, steps, site_url: str, lite_site: Path, lesson: str, folder: Path, timings: dict):
    """Upload the lesson with its solutions filled in, open it, run every cell, and check what a learner sees;
    return the open notebook, the completed copy and the cells that drew a figure."""
    release = nbformat.read(lite_site / "files" / f"{lesson}.ipynb", as_version=4)
    source = nbformat.read(REPOSITORY / "notebooks" / f"{lesson}.ipynb", as_version=4)
    completed = lessons.completed(release, source)
    name = f"mine-{lesson}.ipynb"
    upload(page, site_url, completed, name, folder)

    started = time.monotonic()
    notebook = Notebook.open(page, f"{site_url}/lab/index.html?path={name}", name, len(completed.cells))
    timings["kernel ready (s)"] = round(time.monotonic() - started, 1)
    steps.shot("opened")
    started = time.monotonic()
    notebook.run_all()
    timings["run all cells (s)"] = round(time.monotonic() - started, 1)
    steps.shot("ran-all")

    # Every cell ran, and none wrote to stderr: no error, no warning, no message of a library's own.
    for index, cell in enumerate(completed.cells):
        if cell.cell_type == "code":
            expect(notebook.prompt(index)).to_have_text(NUMBERED_PROMPT)
            expect(notebook.error_output(index)).to_have_count(0)
    setup = lessons.first_code_cell(completed)
    expect(notebook.outputs(setup)).to_have_text([f"course_lib {COURSE_LIB_VERSION}: OK"])

    visible_tests = lessons.visible_test_cells(release, source)
    assert visible_tests, f"{lesson} should have visible tests"
    for index in visible_tests:
        expect(notebook.outputs(index).first).to_have_text(CHECK_PASSED)

    # Every picture drawn is a PNG that decodes (decode() fails for a broken one), the explorer's and others.
    explorer = lessons.index(completed, lambda cell: "widgets.explore(" in cell.source)
    figures = [i for i, cell in enumerate(completed.cells) if cell.cell_type == "code" and i != explorer
               and notebook.outputs(i).locator("img").count()]
    assert figures, f"{lesson} should draw figures"
    for index in [*figures, explorer]:
        for image in notebook.outputs(index).locator("img").all():
            assert image.evaluate("image => image.decode().then(() => image.naturalWidth > 0)"), f"cell {index}"

    expect(notebook.outputs(explorer).locator(".widget-hslider").first).to_be_visible()
    expect(notebook.outputs(explorer).locator("img")).to_have_attribute("alt", re.compile(r"^surface=\w+; "))
    return notebook, completed, figures


def show_diagnosis(notebook, steps, completed, exercise: str, wrong_answer: str, mistake,
                   readme_name: str | None = None) -> None:
    """Type ``wrong_answer`` over the exercise's answer, run it and its visible test: the check names the mistake."""
    answer = lessons.answer_cell(completed, exercise)
    visible_test = lessons.index(completed, lambda cell: lessons.is_test(cell) and exercise in cell.source)
    notebook.replace_source(answer, wrong_answer)
    notebook.run_cell(answer)
    expect(notebook.error_output(answer)).to_have_count(0)
    notebook.run_cell(visible_test)
    diagnosis = notebook.error_output(visible_test)
    expect(diagnosis).to_contain_text(f'This matches a classic mistake, "{mistake.name}"')
    expect(diagnosis).to_contain_text(mistake.hint)
    expect(diagnosis).not_to_contain_text("Traceback")
    notebook.scroll_to(visible_test)
    steps.shot("diagnosis", readme_name=readme_name)


def write_timings(folder: Path, timings: dict) -> None:
    (folder / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")


# --- the tests ------------------------------------------------------------------------------------

def test_the_landing_page_lists_every_lesson(page, steps, site_url, lite_site, guard, dead_end_proxy):
    page.goto(site_url)
    lesson_files = sorted(path.name for path in (lite_site / "files").glob("*.ipynb"))
    links = page.locator("tbody tr td:nth-child(2) a")
    expect(links).to_have_count(len(lesson_files))
    assert [link.get_attribute("href") for link in links.all()] == [
        f"lab/index.html?path={name}" for name in lesson_files]
    for promise in ("saved in this browser", "Download", "selfgrade"):
        expect(page.locator("body")).to_contain_text(promise)
    steps.shot("landing", readme_name="lite-landing")
    assert_nothing_left_the_machine(guard, dead_end_proxy)


def test_lesson_00_runs_offline_with_figures_explorer_and_diagnosis(page, steps, site_url, lite_site, guard,
                                                                     dead_end_proxy, artefact_folder):
    timings = {}
    notebook, completed, figures = run_completed_lesson(page, steps, site_url, lite_site, "00_what_is_an_optimizer",
                                                        artefact_folder, timings)
    math_cells = [i for i, cell in enumerate(completed.cells) if cell.cell_type == "markdown" and "$" in cell.source]
    choose_menu(page, "View", "Collapse All Code")
    notebook.scroll_to(max(i for i in math_cells if i < figures[0]))
    steps.shot("equations-and-a-plot", readme_name="lite-lesson")
    choose_menu(page, "View", "Expand All Code")

    explorer = lessons.index(completed, lambda cell: "widgets.explore(" in cell.source)
    picture = notebook.outputs(explorer).locator("img")
    before = {"alt": picture.get_attribute("alt"), "src": picture.get_attribute("src")}
    notebook.scroll_to(explorer)
    started = time.monotonic()
    notebook.drag_slider(explorer, "lr", to=0.73)
    timings["slider drag to redrawn picture (s)"] = round(time.monotonic() - started, 1)
    assert picture.get_attribute("alt") != before["alt"]
    assert picture.get_attribute("src") != before["src"], "the caption changed but the picture did not"
    steps.shot("explorer-after-drag", readme_name="lite-explorer")

    mistake = next(m for m in EXERCISE_MISTAKES["numerical_gradient"] if m.id == "fd-forward-difference")
    show_diagnosis(notebook, steps, completed, "numerical_gradient", FORWARD_DIFFERENCE, mistake,
                   readme_name="lite-diagnosis")
    write_timings(artefact_folder, timings)
    assert_nothing_left_the_machine(guard, dead_end_proxy)
    assert_pyodide_came_from_the_site(guard)


def test_adam_lesson_runs_offline_and_names_a_missing_bias_correction(page, steps, site_url, lite_site, guard,
                                                                      dead_end_proxy, artefact_folder):
    timings = {}
    notebook, completed, _ = run_completed_lesson(page, steps, site_url, lite_site, "09_adam", artefact_folder,
                                                  timings)
    show_diagnosis(notebook, steps, completed, "adam_update", ADAM_WITHOUT_BIAS_CORRECTION,
                   MISTAKES["adam-no-bias-correction"])
    write_timings(artefact_folder, timings)
    assert_nothing_left_the_machine(guard, dead_end_proxy)
    assert_pyodide_came_from_the_site(guard)
