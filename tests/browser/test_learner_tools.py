"""`make lab` gives learners no instructor tools: no formgrader, no Create Assignment, no course or
assignment lists (those need an instructor's course or a hub's exchange); the Validate button stays.

The lab is started as the Makefile starts it, with the Makefile's JUPYTER_CONFIG_PATH.
"""

from __future__ import annotations

import re
import subprocess
import urllib.error
import urllib.request

import nbformat
import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")

from playwright.sync_api import expect  # noqa: E402

from .lab import LEARNER_CONFIG, REPOSITORY, start_lab  # noqa: E402
from .pages import CHROMIUM, NO_CHROMIUM, choose_menu  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

INSTRUCTOR_TOOLS = {"Formgrader", "Formgrader (local)", "Create assignment", "Course List", "Assignment List"}


def test_make_lab_uses_the_learners_configuration():
    recipe = subprocess.run(["make", "-n", "-W", "pyproject.toml", "lab"], cwd=REPOSITORY, capture_output=True,
                            text=True, check=True).stdout
    assert f'JUPYTER_CONFIG_PATH="{LEARNER_CONFIG}' in recipe, recipe


@pytest.fixture(scope="module")
def learner_lab(tmp_path_factory, artefacts):
    folder = tmp_path_factory.mktemp("learner-tools")
    server = start_lab(folder, cwd=folder, home=tmp_path_factory.mktemp("learner-tools-jupyter"),
                       log=artefacts / "learner-tools-server.log", learner=True)
    yield server
    server.stop()


def test_no_instructor_tools_in_the_learners_lab(page, steps, learner_lab):
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")], metadata=kernel),
                   learner_lab.notebook_dir / "mine.ipynb")
    page.goto(learner_lab.workspace_url("mine.ipynb"))
    # The learner's own tool stays: the notebook toolbar's Validate button.
    expect(page.locator(".jp-NotebookPanel-toolbar .validate-button")).to_be_visible()
    steps.shot("learner-lab")
    # No Nbgrader menu at all (its entries are the instructor's, or the hub's Assignments tab).
    expect(page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Nbgrader$"))).to_have_count(0)
    # Through the View menu rather than a key press, which a busy page can miss.
    choose_menu(page, "View", "Activate Command Palette")
    palette = page.locator("#modal-command-palette")
    expect(palette).to_be_visible()
    commands = " ".join(palette.locator("li").all_text_contents())
    for tool in INSTRUCTOR_TOOLS:
        assert tool.lower() not in commands.lower(), f"the command palette offers {tool}"
    # The server side is gone too, not only the menu entries.
    for path in ("formgrader", "formgrader/api/assignments", "assignments", "formgraders"):
        request = urllib.request.Request(f"{learner_lab.url}/{path}",
                                         headers={"Authorization": f"token {learner_lab.token}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 404, path
