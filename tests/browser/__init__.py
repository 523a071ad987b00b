"""The course in a real browser: JupyterLab started as `make lab` starts it, driven in headless Chromium.

    .venv/bin/python -m pytest tests/browser                        # the browser tests alone
    .venv/bin/python -m pytest tests/browser --readme-screenshots   # also refresh docs/screenshots/

Screenshots of every step, and of the page when a test fails, go to test-artifacts/browser/.
"""
