"""JupyterLab as a learner uses it, for Playwright: open a notebook in a workspace of its own, wait for its
kernel, run cells, edit a cell, press nbgrader's Validate. Every wait is on the page's own state.

Cell ``i`` on the page is cell ``i`` of the file: JupyterLab's default windowing ("contentVisibility")
keeps every cell in the page once the notebook has loaded, so :meth:`Notebook.open` waits for all of them.
"""

from __future__ import annotations

import re
import shutil

from playwright.sync_api import Locator, Page, expect

# Debian's package, never a browser downloaded by `playwright install`.
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NO_CHROMIUM = "Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it"

# A whole lesson, or nbgrader executing one, on a shared and loaded 2-core machine.
LONG_WAIT_MS = 300_000
# The status bar names the kernel once one is connected; until then it says "No Kernel".
KERNEL_IDLE = re.compile(r"^(?!No Kernel).+ \| Idle$")
NUMBERED_PROMPT = re.compile(r"^\[\d+\]:$")

_ALL_QUEUED_CELLS_DONE = """(selector) => {
    const prompts = [...document.querySelectorAll(selector)].map(prompt => prompt.textContent);
    return prompts.length > 0 && /\\d/.test(prompts[0]) && !prompts.some(text => text.includes("*"));
}"""

# An explorer's picture has a caption (its alt text) naming every hyperparameter, e.g. "SGD(lr=0.1, ...)";
# a slider's readout shows 3 significant digits, and neighbouring slider positions differ by 12 %. Each
# redraw replaces the <img>, so it is looked up afresh in the cell on every poll.
_PICTURE_SHOWS_READOUT = """([cell, slider, name]) => {
    const image = cell.querySelector(".jp-OutputArea-output img");
    const caption = image && new RegExp(String.raw`\\b${name}=([-+0-9.e]+)`).exec(image.alt);
    const shown = parseFloat(slider.querySelector(".widget-readout").textContent.replace("\\u2212", "-"));
    return Boolean(caption) && image.complete && image.naturalWidth > 0
        && Math.abs(parseFloat(caption[1]) - shown) <= 0.01 * Math.abs(shown);
}"""

# Polled once per animation frame: true when the cell has not moved since the previous frame.
_SCROLLED_INTO_PLACE = """(cell) => {
    const previousTops = window.previousCellTops = window.previousCellTops || new WeakMap();
    const top = cell.getBoundingClientRect().top;
    const settled = previousTops.get(cell) === top;
    previousTops.set(cell, top);
    if (!settled) cell.scrollIntoView({block: "start"});
    return settled;
}"""


def choose_menu(page: Page, *labels: str) -> None:
    """Click through the menu bar, e.g. ``choose_menu(page, "Run", "Run All Cells")``."""
    # By label: submenus (View > Appearance) and checkable items have no "menuitem" role.
    for label in labels:
        page.locator(".lm-MenuBar-itemLabel, .lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(label)}$")).click()


class Notebook:
    """One notebook, open as the only tab of a fresh workspace."""

    def __init__(self, page: Page):
        self.page = page
        self.cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
        self.kernel_status = page.locator('#jp-main-statusbar .jp-StatusBar-TextItem[title^="Change kernel"]')

    @classmethod
    def open(cls, page: Page, workspace_url: str, path: str, cell_count: int) -> Notebook:
        """Open ``path`` at ``workspace_url`` and wait until its ``cell_count`` cells and an idle kernel are there."""
        page.goto(workspace_url)
        notebook = cls(page)
        tabs = page.locator("#jp-main-dock-panel .lm-TabBar-tab")
        expect(tabs).to_have_count(1)
        expect(tabs.first).to_have_attribute("title", re.compile(rf"(^|\n)Path: {re.escape(path)}(\n|$)"))
        expect(tabs.first).to_have_class(re.compile(r"\bjp-mod-current\b"))
        expect(notebook.cells).to_have_count(cell_count)
        notebook.wait_for_idle_kernel()
        return notebook

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def prompt(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-InputPrompt")

    def outputs(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-OutputArea-output")

    def error_output(self, index: int) -> Locator:
        return self.cell(index).locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')

    def scroll_to(self, index: int) -> None:
        """Put cell ``index`` at the top of the notebook panel (for a screenshot)."""
        self.cell(index).evaluate("cell => cell.scrollIntoView({block: 'start'})")
        # Cells above it may only now take their real height and push it down: scroll again until it stays.
        self.page.wait_for_function(_SCROLLED_INTO_PLACE, arg=self.cell(index).element_handle())

    def wait_for_idle_kernel(self) -> None:
        # Not the toolbar's indicator: it shows idle before the kernel even exists, and "Run All" sent
        # then runs nothing.
        expect(self.kernel_status).to_have_text(KERNEL_IDLE, timeout=LONG_WAIT_MS)

    def run_all(self) -> None:
        """Run > Run All Cells, and wait until the kernel has finished or stopped at an error."""
        choose_menu(self.page, "Run", "Run All Cells")
        # Every queued cell shows [*] from the click on; a cell skipped after an error goes back to [ ].
        self.page.wait_for_function(_ALL_QUEUED_CELLS_DONE, arg=".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt",
                                    timeout=LONG_WAIT_MS)
        self.wait_for_idle_kernel()

    def run_cell(self, index: int) -> None:
        """Select cell ``index``, press Shift+Enter and wait for its new execution count."""
        previous = (self.prompt(index).text_content() or "").strip()
        self.prompt(index).click()
        self.page.keyboard.press("Shift+Enter")
        expect(self.prompt(index)).not_to_have_text(previous, timeout=LONG_WAIT_MS)
        expect(self.prompt(index)).to_have_text(NUMBERED_PROMPT, timeout=LONG_WAIT_MS)
        self.wait_for_idle_kernel()

    def drag_slider(self, index: int, name: str, to: float) -> None:
        """Drag the slider ``name`` of the explorer in cell ``index`` to the fraction ``to`` of its track, in small
        moves as a hand makes them (each one asks for a redraw), and wait for the picture of the value it shows."""
        label = self.page.locator("label", has_text=re.compile(rf"^{re.escape(name)}$"))
        slider = self.outputs(index).locator(".widget-hslider", has=label)
        readout = slider.locator(".widget-readout")
        readout_before = readout.text_content()
        handle, track = slider.locator(".noUi-handle").bounding_box(), slider.locator(".noUi-base").bounding_box()
        y = handle["y"] + handle["height"] / 2
        self.page.mouse.move(handle["x"] + handle["width"] / 2, y)
        self.page.mouse.down()
        self.page.mouse.move(track["x"] + to * track["width"], y, steps=8)
        self.page.mouse.up()
        expect(readout).not_to_have_text(readout_before)
        # Redraws arrive one after another: wait for the one whose caption names the value now shown.
        self.page.wait_for_function(_PICTURE_SHOWS_READOUT,
                                    arg=[self.cell(index).element_handle(), slider.element_handle(), name])

    def replace_source(self, index: int, source: str) -> None:
        """Select everything in the cell's editor and type ``source`` over it."""
        self.cell(index).locator(".cm-content").click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.insert_text(source)
        lines = self.cell(index).locator(".cm-line")
        expected = source.split("\n")
        expect(lines).to_have_count(len(expected))
        # The editor must not have re-indented what was typed (to_have_text would ignore indentation).
        assert lines.all_text_contents() == expected

    def validate(self) -> Locator:
        """Press nbgrader's Validate button; return the message of the results dialog once it is shown."""
        self.page.locator(".jp-NotebookPanel-toolbar .validate-button").click()
        header = self.page.locator(".jp-Dialog .jp-Dialog-header")
        expect(header).to_be_visible(timeout=LONG_WAIT_MS)
        # Problems before the validation itself (saving, a version mismatch) have dialogs of their own.
        expect(header).to_have_text("Validation Results")
        return self.page.locator(".jp-Dialog #validation-message")


# A learner's wrong answer to lesson 00's first exercise: the one-sided difference it warns about.
FORWARD_DIFFERENCE = """\
def numerical_gradient(f, theta, h=1e-5):
    gradient = np.zeros_like(theta, dtype=float)
    for j in range(len(theta)):
        shifted = theta.copy()
        shifted[j] += h
        gradient[j] = (f(shifted) - f(theta)) / h
    return gradient
"""
