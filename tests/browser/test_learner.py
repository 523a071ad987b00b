"""A learner's session in JupyterLab, in headless Chromium: the lab that `make lab` starts, a released
lesson run top to bottom, the explorer's slider, a wrong answer diagnosed by the visible test, and
nbgrader's Validate button.

Lesson 00 is used because it runs in seconds and has all of it: equations, plots, an explorer and
exercises with named classic mistakes. Each test works on its own copy of the released lesson, in a
folder of its own, so that no test sees another's kernel, edits or saved file.
"""

from __future__ import annotations

import re
import shutil

import nbformat
import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")

from playwright.sync_api import expect  # noqa: E402

from course_lib.checks.mistakes import EXERCISE_MISTAKES  # noqa: E402

from .lab import REPOSITORY, run_autograder, start_lab  # noqa: E402
from . import lessons  # noqa: E402
from .pages import CHROMIUM, FORWARD_DIFFERENCE, NO_CHROMIUM, NUMBERED_PROMPT, Notebook, choose_menu  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)]

LESSON = "00_what_is_an_optimizer"
SOURCE = REPOSITORY / "notebooks" / f"{LESSON}.ipynb"
EXERCISE = "numerical_gradient"
MISTAKE_ID = "fd-forward-difference"
# Cells that create a matplotlib figure, which the notebook backend shows as a PNG.
MAKES_A_FIGURE = re.compile(r"\b(?:plt\.subplots|plots\.plot_\w+|demos\.\w+\.\w+)\(")


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def learner_lab(tmp_path_factory, artefacts):
    """`make lab`: `python -m autograder mycopies`, then `jupyter lab --notebook-dir=my_copies` (here in a
    temporary folder, not the repository's my_copies/)."""
    base = tmp_path_factory.mktemp("learner")
    made = run_autograder("mycopies", "--into", str(base / "my_copies"))
    assert made.returncode == 0 and f"{LESSON}.ipynb: written" in made.stdout, made.stdout
    server = start_lab(base / "my_copies", cwd=base, home=base / "jupyter", log=artefacts / "learner-server.log",
                       learner=True)
    yield server
    server.stop()


@pytest.fixture
def lesson_copy(learner_lab):
    """``lesson_copy(folder, notebook=None)`` writes the released lesson (or ``notebook``) into ``folder/``
    and returns its path in the lab; the kernels started meanwhile are shut down after the test."""
    def copy(folder: str, notebook=None) -> str:
        target = learner_lab.notebook_dir / folder / f"{LESSON}.ipynb"
        target.parent.mkdir()
        if notebook is None:
            shutil.copyfile(learner_lab.notebook_dir / f"{LESSON}.ipynb", target)
        else:
            nbformat.write(notebook, target)
        return f"{folder}/{LESSON}.ipynb"

    yield copy
    learner_lab.shutdown_kernels()


@pytest.fixture(scope="module")
def released(learner_lab):
    """The released lesson as the learner received it."""
    return nbformat.read(learner_lab.notebook_dir / f"{LESSON}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def source():
    return nbformat.read(SOURCE, as_version=4)


def _open(page, lab, path: str, notebook) -> Notebook:
    return Notebook.open(page, lab.workspace_url(path), path, len(notebook.cells))


# --- the tests ----------------------------------------------------------------------------------

def test_run_all_renders_equations_plots_and_the_explorer(page, steps, learner_lab, lesson_copy, released):
    notebook = _open(page, learner_lab, lesson_copy("run-all"), released)
    steps.shot("opened")
    notebook.run_all()
    steps.shot("ran-all")

    # The blank release runs up to its first test, which fails until the learner writes the answer.
    first_test = lessons.index(released, lessons.is_test)
    expect(notebook.error_output(first_test)).to_contain_text("NotImplementedError")
    for index, cell in enumerate(released.cells[:first_test]):
        if cell.cell_type == "code":
            expect(notebook.prompt(index)).to_have_text(NUMBERED_PROMPT)
            expect(notebook.error_output(index)).to_have_count(0)

    math_cells = [i for i, cell in enumerate(released.cells) if cell.cell_type == "markdown" and "$" in cell.source]
    assert math_cells, "the lesson should have equations"
    for index in math_cells:
        rendered = notebook.cell(index).locator(".jp-RenderedMarkdown")
        expect(rendered.locator("mjx-container").first).to_be_attached()
        expect(rendered.locator("mjx-merror")).to_have_count(0)
        assert "$" not in rendered.text_content(), f"cell {index} shows unrendered TeX"

    figure_cells = [i for i, cell in enumerate(released.cells[:first_test])
                    if cell.cell_type == "code" and MAKES_A_FIGURE.search(cell.source)]
    assert figure_cells, "the lesson should draw figures before its first exercise"
    for index in figure_cells:
        image = notebook.outputs(index).locator("img").first
        expect(image).to_be_attached()
        # decode() settles once the PNG is decoded, and fails for a broken one.
        assert image.evaluate("image => image.decode().then(() => image.naturalWidth > 0)"), f"cell {index}"

    explorer = lessons.index(released, lambda cell: "widgets.explore(" in cell.source)
    expect(notebook.outputs(explorer).locator(".widget-hslider").first).to_be_visible()
    expect(notebook.outputs(explorer).locator("img")).to_have_attribute("alt", re.compile(r"^surface=\w+; "))
    notebook.scroll_to(explorer)
    steps.shot("explorer")

    # For reading, as a learner may: text, equations and figures, with the code folded away.
    choose_menu(page, "View", "Collapse All Code")
    notebook.scroll_to(max(i for i in math_cells if i < figure_cells[0]))
    steps.shot("equations-and-a-plot", readme_name="lesson")


def test_moving_a_slider_redraws_the_plot_for_the_new_value(page, steps, learner_lab, lesson_copy, released):
    notebook = _open(page, learner_lab, lesson_copy("explore"), released)
    explorer = lessons.index(released, lambda cell: "widgets.explore(" in cell.source)
    notebook.run_cell(lessons.first_code_cell(released))
    notebook.run_cell(explorer)
    picture = notebook.outputs(explorer).locator("img")
    expect(picture).to_have_attribute("alt", re.compile(r"\blr="))
    before = {"alt": picture.get_attribute("alt"), "src": picture.get_attribute("src")}
    notebook.scroll_to(explorer)
    steps.shot("explorer-before")

    notebook.drag_slider(explorer, "lr", to=0.73)
    assert picture.get_attribute("alt") != before["alt"]
    assert picture.get_attribute("src") != before["src"], "the caption changed but the picture did not"
    steps.shot("explorer-after", readme_name="explorer")


def test_a_wrong_answer_gets_the_visible_tests_diagnosis(page, steps, learner_lab, lesson_copy, released):
    mistake = next(m for m in EXERCISE_MISTAKES[EXERCISE] if m.id == MISTAKE_ID)
    notebook = _open(page, learner_lab, lesson_copy("wrong-answer"), released)
    answer = lessons.answer_cell(released, EXERCISE)
    visible_test = lessons.index(released, lambda cell: lessons.is_test(cell) and EXERCISE in cell.source)
    assert visible_test > answer
    notebook.run_cell(lessons.first_code_cell(released))
    notebook.replace_source(answer, FORWARD_DIFFERENCE)
    steps.shot("answer-typed")
    notebook.run_cell(answer)
    expect(notebook.error_output(answer)).to_have_count(0)
    notebook.run_cell(visible_test)

    diagnosis = notebook.error_output(visible_test)
    expect(diagnosis).to_contain_text(f'This matches a classic mistake, "{mistake.name}"')
    expect(diagnosis).to_contain_text(mistake.hint)
    # The check's message alone: no traceback of the checks' own frames above it.
    expect(diagnosis).not_to_contain_text("Traceback")
    expect(diagnosis).not_to_contain_text("_calls.py")
    notebook.scroll_to(visible_test)
    steps.shot("diagnosis", readme_name="diagnosis")


def test_validate_reports_failure_on_the_blank_release(page, steps, learner_lab, lesson_copy, released, source):
    notebook = _open(page, learner_lab, lesson_copy("validate-blank"), released)
    steps.shot("opened")
    message = notebook.validate()
    steps.shot("validation")
    expect(message).to_have_class(re.compile(r"\bvalidation-failed\b"))
    # The dialog sets each source as innerText, which turns line breaks into <br>: read it back the same way.
    failed = {text.strip() for text in message.locator("pre").all_inner_texts()}
    visible_tests = lessons.visible_test_sources(released, source)
    assert visible_tests and set(visible_tests) <= failed
    expect(message).to_contain_text("NotImplementedError")


def test_validate_reports_success_on_a_completed_copy(page, steps, learner_lab, lesson_copy, released, source):
    completed = lessons.completed(released, source)
    notebook = _open(page, learner_lab, lesson_copy("validate-completed", completed), completed)
    steps.shot("opened")
    message = notebook.validate()
    steps.shot("validation")
    expect(message).to_have_class(re.compile(r"\bvalidation-success\b"))
    expect(message).to_contain_text("Success!")
