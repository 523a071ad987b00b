"""An instructor's JupyterLab, in headless Chromium: after `python -m autograder release`, nbgrader's
formgrader (Nbgrader > Formgrader) lists the released assignments.

The lab runs in the course directory, where the formgrader finds the nbgrader_config.py that
`release` writes.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")

from playwright.sync_api import expect  # noqa: E402

from autograder.course import Course  # noqa: E402

from .lab import run_autograder, start_lab  # noqa: E402
from .pages import CHROMIUM, NO_CHROMIUM, choose_menu  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

# The quickest lesson to prove: `release` grades its solution and its blank release before it succeeds.
LESSON = "00_what_is_an_optimizer"


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    course = Course(root=tmp_path_factory.mktemp("instructor") / "course")
    released = run_autograder("--course-dir", str(course.root), "release", LESSON)
    assert course.release(LESSON).is_file(), released.stdout
    assert re.search(rf"^{LESSON}: .* -> proven$", released.stdout, re.MULTILINE), released.stdout
    return course


@pytest.fixture(scope="module")
def instructor_lab(course, tmp_path_factory, artefacts):
    home = tmp_path_factory.mktemp("instructor-jupyter")
    server = start_lab(course.root, cwd=course.root, home=home, log=artefacts / "instructor-server.log")
    yield server
    server.stop()


def test_formgrader_lists_the_released_assignments(page, steps, course, instructor_lab):
    page.goto(instructor_lab.workspace_url())
    steps.shot("opened")
    choose_menu(page, "Nbgrader", "Formgrader")
    formgrader = page.frame_locator('iframe[src*="/formgrader"]')
    names = formgrader.locator("table tbody tr td.name")
    released = course.released_assignments()
    expect(names).to_have_text(released)
    for name in released:
        row = formgrader.locator("table tbody tr", has=formgrader.locator("td.name", has_text=name))
        # The preview link to the student version appears once the assignment has been generated.
        expect(row.locator("td.preview a")).to_have_count(1)
    # Room for the formgrader's wide table: without the file browser it keeps its desktop layout.
    choose_menu(page, "View", "Appearance", "Show Left Sidebar")
    expect(page.locator("#jp-left-stack")).to_be_hidden()
    formgrader.locator("table").scroll_into_view_if_needed()
    steps.shot("formgrader", readme_name="formgrader")
