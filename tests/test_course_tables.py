"""The lesson tables of README.md and notebooks/README.md list every lesson, in order, and the README
gives each lesson the time its first cell states."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
STATED_TIME = re.compile(r"\*Time: about (\d+) minutes")


def _rows(path: Path, header: str) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _stated_minutes(path: Path) -> int:
    found = STATED_TIME.search(nbformat.read(path, as_version=4).cells[0].source)
    assert found, f"{path.name}: the first cell states no '*Time: about N minutes'"
    return int(found.group(1))


def test_the_readme_lists_every_lesson_with_the_time_it_states():
    rows = _rows(ROOT / "README.md", "| # | lesson |")
    assert [row[0] for row in rows] == [path.name[:2] for path in NOTEBOOKS]
    for row, path in zip(rows, NOTEBOOKS):
        assert row[-1] == f"{_stated_minutes(path)} min", f"{path.name}: README says {row[-1]}"


def test_the_notebooks_readme_lists_every_file():
    rows = _rows(ROOT / "notebooks" / "README.md", "| # | file |")
    assert [row[1].strip("`") for row in rows] == [path.name for path in NOTEBOOKS]
