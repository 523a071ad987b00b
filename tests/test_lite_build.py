"""lite/build.py without a browser or a download: the carrier's files are refused unless the official lock
vouches for each, the kernel finds Pyodide where the mode says, and the landing page lists every lesson."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDER = "carrier/assets/pyodide/"


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("lite_build", ROOT / "lite" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lock_of(files: dict[str, bytes], depends: dict[str, list[str]] | None = None) -> dict:
    depends = depends or {}
    return {"info": {"version": "0.27.7"}, "packages": {
        name.split("-")[0]: {"name": name.split("-")[0], "file_name": name, "depends": depends.get(name, []),
                             "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in files.items()}}


def carrier_with(tmp_path: Path, files: dict[str, bytes]) -> Path:
    carrier = tmp_path / "carrier-1.0-py3-none-any.whl"
    with zipfile.ZipFile(carrier, "w") as archive:
        for name, data in files.items():
            archive.writestr(FOLDER + name, data)
        archive.writestr(FOLDER + "pyodide.js", b"not in the lock, so never taken")
    return carrier


def test_carrier_files_that_match_the_lock_are_taken(build, tmp_path):
    files = {"numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl": b"numpy", "six-1.16.0-py3-none-any.whl": b"six"}
    taken = build.verified_carrier_files(carrier_with(tmp_path, files), FOLDER, lock_of(files))
    assert taken == files


def test_a_carrier_file_that_differs_from_the_lock_is_refused(build, tmp_path):
    official = {"numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl": b"numpy", "six-1.16.0-py3-none-any.whl": b"six"}
    tampered = {**official, "six-1.16.0-py3-none-any.whl": b"six, changed"}
    with pytest.raises(build.Refused, match=r"1 file\(s\) differ .*six-1\.16\.0-py3-none-any\.whl"):
        build.verified_carrier_files(carrier_with(tmp_path, tampered), FOLDER, lock_of(official))


def test_the_bundle_holds_what_is_needed_and_a_lock_of_exactly_that(build, tmp_path):
    files = {"a-1-py3-none-any.whl": b"a", "b-1-py3-none-any.whl": b"b", "c-1-py3-none-any.whl": b"c"}
    lock = lock_of(files, depends={"a-1-py3-none-any.whl": ["B"]})
    needed = build.lock_closure(lock, ["a"])
    assert needed == ["a", "b"]
    runtime = tmp_path / "npm"
    runtime.mkdir()
    (runtime / "pyodide.js").write_text("// runtime")
    build.bundle_pyodide(runtime, ["pyodide.js"], files, lock, needed, tmp_path / "pyodide")
    assert sorted(path.name for path in (tmp_path / "pyodide").iterdir()) == [
        "a-1-py3-none-any.whl", "b-1-py3-none-any.whl", "pyodide-lock.json", "pyodide.js"]
    written = json.loads((tmp_path / "pyodide" / "pyodide-lock.json").read_text())
    assert written["packages"] == {name: lock["packages"][name] for name in needed}


@pytest.mark.parametrize("mode, pyodide_url", [
    ("bundled", "./static/pyodide/pyodide.js"),
    ("cdn", "https://cdn.example/pyodide/v0.27.7/full/pyodide.js"),
])
def test_the_kernel_loads_pyodide_and_the_course_before_the_first_cell(build, mode, pyodide_url):
    wheel = Path("course_lib-0.1.0-py3-none-any.whl")
    settings = build.kernel_settings(mode, "https://cdn.example/pyodide/v0.27.7/full/", ["numpy"], [wheel])
    assert settings["pyodideUrl"] == pyodide_url
    # Relative to the kernel's worker script, four folders below the site's root, whatever the host.
    assert settings["loadPyodideOptions"]["packages"] == ["numpy", "../../../../wheels/" + wheel.name]


def test_the_landing_page_lists_every_lesson_with_the_readmes_words(build, tmp_path):
    columns, rows = build.lesson_table()
    assert columns[:3] == ["#", "lesson", "you write"]
    lessons = sorted(ROOT.joinpath("notebooks").glob("[0-9][0-9]_*.ipynb"))
    page = build.landing_page(lessons, "bundled")
    for lesson in lessons:
        assert f'href="lab/index.html?path={lesson.name}"' in page
    for number, row in rows.items():
        for cell in row:
            assert build.inline_markdown(cell) in page, number
    assert "{{" not in page
    assert 'id="jupyter-config-data"' in page, "JupyterLite's pages read their settings from the root page"


def test_lessons_that_need_torch_are_left_out_and_named(build, tmp_path):
    kept, left_out = build.student_copies(tmp_path / "files")
    needs_torch = [path for path in sorted(ROOT.joinpath("notebooks").glob("[0-9][0-9]_*.ipynb"))
                   if "torch" in nbformat.read(path, as_version=4).metadata.get("course", {}).get("requires", [])]
    assert needs_torch, "lesson 15 declares torch"
    assert left_out == needs_torch
    assert {path.name for path in kept}.isdisjoint(path.name for path in needs_torch) and kept
    page = build.landing_page(kept, "bundled", left_out)
    assert "Not in this site" in page and "which needs torch" in page
    for path in needs_torch:
        assert f"path={path.name}" not in page
