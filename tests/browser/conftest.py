"""Fixtures of the browser tests: one Chromium per session, a fresh browser context per test, and
screenshots of each test's steps (and of the page when it fails) in test-artifacts/browser/."""

from __future__ import annotations

import shutil
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from .lab import REPOSITORY

ARTEFACTS = REPOSITORY / "test-artifacts" / "browser"
README_SCREENSHOTS = REPOSITORY / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
# One click or one check; the long waits (a whole lesson, a validation) set their own.
ACTION_TIMEOUT_MS = 60_000


def pytest_addoption(parser):
    parser.addoption("--readme-screenshots", action="store_true",
                     help=f"also write the README's screenshots to {README_SCREENSHOTS.relative_to(REPOSITORY)}/")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_test_failed = report.failed
    return report


@pytest.fixture(scope="session")
def artefacts() -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS


@pytest.fixture
def artefact_folder(artefacts, request) -> Path:
    """This test's folder of screenshots, emptied first so that it shows this run only."""
    folder = artefacts / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    from .pages import CHROMIUM, CHROMIUM_FLAGS

    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, artefact_folder, request):
    """A page in a browser context of its own (no cookies or storage shared between tests)."""
    with recorded_page(browser.new_context(viewport=VIEWPORT), artefact_folder, request) as page:
        yield page


@contextmanager
def recorded_page(context, artefact_folder: Path, request):
    """A new page of ``context``, whose console and last screen are kept in ``artefact_folder`` if the test
    fails; the context is closed afterwards."""
    from playwright.sync_api import Error as PlaywrightError

    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        yield page
    finally:
        if getattr(request.node, "browser_test_failed", False):
            (artefact_folder / "browser-console.txt").write_text("\n".join(console) + "\n")
            with suppress(PlaywrightError):
                page.screenshot(path=artefact_folder / "failure.png")
        context.close()


class Steps:
    """Numbered screenshots of one test's steps; some double as the README's pictures."""

    def __init__(self, page, folder: Path, readme_folder: Path | None):
        self.page = page
        self.folder = folder
        self.readme_folder = readme_folder
        self.taken = 0

    def shot(self, step: str, readme_name: str | None = None) -> None:
        self.taken += 1
        path = self.folder / f"{self.taken:02d}-{step}.png"
        self.page.screenshot(path=path)
        if readme_name and self.readme_folder:
            shutil.copyfile(path, self.readme_folder / f"{readme_name}.png")


@pytest.fixture
def steps(page, artefact_folder, request) -> Steps:
    readme_folder = None
    if request.config.getoption("--readme-screenshots", default=False):
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        readme_folder = README_SCREENSHOTS
    return Steps(page, artefact_folder, readme_folder)
