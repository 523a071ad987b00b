"""The course directory: where nbgrader's folders live and how nbgrader is configured for them.

One assignment per course notebook, named after the notebook's stem::

    notebooks/09_adam.ipynb  ->  <course>/source/09_adam/09_adam.ipynb
                             ->  <course>/release/09_adam/09_adam.ipynb
    <course>/submitted/<student>/09_adam/09_adam.ipynb  ->  autograded/, feedback/

The generated ``nbgrader_config.py`` holds only settings that stock nbgrader understands, so
``nbgrader`` commands still work in the directory; the sandbox and the redaction are added on
top by :meth:`Course.api` because they only make sense inside this package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_COURSE_DIR = REPOSITORY / "course"
DEFAULT_NOTEBOOK_DIR = REPOSITORY / "notebooks"
COURSE_ID = "optimizers-hands-on"
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# Anything a correct answer writes to stderr (a numpy RuntimeWarning, a DeprecationWarning)
# would otherwise score its test cell 0; failures are exceptions, not warnings.
WARNING_PATTERN = r"\b\w*Warning\b"

CONFIG_TEMPLATE = '''\
# Written by `python -m autograder`; rewritten on every run, edit the autograder instead.
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {course_id!r}
c.Execute.timeout = {cell_timeout!r}
c.OverwriteCells.add_missing_cells = True
c.IgnorePattern.pattern = {warning_pattern!r}
{exchange_comment}
c.Exchange.root = {exchange!r}
'''


INSTALL_HINTS = {"torch": "pip install torch --index-url https://download.pytorch.org/whl/cpu"}


def requirements(notebook: Path) -> tuple[str, ...]:
    """The packages a notebook needs beyond the course's own, from its metadata: ``{"course": {"requires": [...]}}``.

    Optional lessons declare them (lesson 15 needs torch); the grader must be able to import them,
    because the test cells run there.
    """
    import nbformat

    needs = nbformat.read(notebook, as_version=4).metadata.get("course", {}).get("requires", [])
    return tuple(str(name) for name in needs)


def requirement_problem(notebook: Path) -> str | None:
    """Why this process cannot run the notebook's tests (a package it needs cannot be imported), or None."""
    import importlib

    for name in requirements(notebook):
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - ImportError, or a broken install that fails another way
            hint = INSTALL_HINTS.get(name, f"pip install {name}")
            return (f"needs {name}, which cannot be imported by {sys.executable} ({type(error).__name__}: "
                    f"{str(error)[:200]}); install it there ({hint}) and run again")
    return None


@dataclass(frozen=True)
class Course:
    """A course directory built from the source notebooks in ``notebook_dir``."""

    root: Path = DEFAULT_COURSE_DIR
    notebook_dir: Path = DEFAULT_NOTEBOOK_DIR
    cell_timeout: int = 30
    # nbgrader's exchange of a JupyterHub (deploy/): release, collect and feedback go through it.
    # Given once (``--exchange``), it is remembered in the course; None: no hub, a private one.
    exchange: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())
        object.__setattr__(self, "notebook_dir", Path(self.notebook_dir).resolve())
        if self.exchange is None:
            try:
                recorded = json.loads(self.hub_record.read_text())["exchange"]
            except (OSError, ValueError, KeyError):
                recorded = None
            object.__setattr__(self, "exchange", recorded)
        if self.exchange is not None:
            object.__setattr__(self, "exchange", Path(self.exchange).resolve())

    # --- layout ---------------------------------------------------------------------------

    @property
    def config_file(self) -> Path:
        return self.root / "nbgrader_config.py"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"

    @property
    def private_dir(self) -> Path:
        """The autograder's own files: grading status, kernel spec, worker scratch."""
        return self.root / ".autograder"

    @property
    def hub_record(self) -> Path:
        """Where the course remembers the hub's exchange."""
        return self.private_dir / "hub.json"

    @property
    def exchange_root(self) -> Path:
        """nbgrader's exchange: the hub's, or a private one that keeps the formgrader quiet."""
        return self.exchange if self.exchange is not None else self.private_dir / "exchange"

    @property
    def exchange_course(self) -> Path:
        """This course's folder in the exchange (outbound/, inbound/, feedback/)."""
        return self.exchange_root / COURSE_ID

    def source_notebooks(self, names=()) -> list[Path]:
        """The course's source notebooks, all of them or those named (by stem or path)."""
        if not names:
            found = sorted(self.notebook_dir.glob(NOTEBOOK_PATTERN))
            if not found:
                raise ValueError(f"no course notebooks ({NOTEBOOK_PATTERN}) in {self.notebook_dir}")
            return found
        chosen = []
        for name in names:
            path = self.notebook_dir / f"{Path(name).stem}.ipynb"
            if not path.is_file():
                raise ValueError(f"no source notebook {path.name} in {self.notebook_dir}")
            chosen.append(path)
        return chosen

    def source(self, assignment: str) -> Path:
        return self.root / "source" / assignment / f"{assignment}.ipynb"

    def release(self, assignment: str) -> Path:
        return self.root / "release" / assignment / f"{assignment}.ipynb"

    def submitted(self, student: str, assignment: str) -> Path:
        return self.root / "submitted" / student / assignment / f"{assignment}.ipynb"

    def autograded(self, student: str, assignment: str) -> Path:
        return self.root / "autograded" / student / assignment / f"{assignment}.ipynb"

    def feedback_dir(self, student: str) -> Path:
        return self.root / "feedback" / student

    def released_assignments(self) -> list[str]:
        return sorted(path.parent.name for path in (self.root / "release").glob("*/*.ipynb"))

    def submissions(self) -> list[tuple[str, str]]:
        """Every ``(student, assignment)`` with a submitted notebook, in a stable order."""
        return sorted((path.parts[-3], path.parts[-2])
                      for path in (self.root / "submitted").glob("*/*/*.ipynb")
                      if path.stem == path.parent.name)

    def hidden_from_students(self) -> list[str]:
        """Paths a student's kernel must not see: course files, sources, the repository's history."""
        hidden = {self.root, self.notebook_dir, DEFAULT_NOTEBOOK_DIR}
        hidden.update(REPOSITORY / name for name in (".git", "tests"))
        return sorted(str(path) for path in hidden if path.is_dir())

    # --- nbgrader ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the directory (private to its owner) and write nbgrader_config.py."""
        self.root.mkdir(parents=True, exist_ok=True)
        # Other local users, including the sandbox's kernels, must not read grades or hidden tests.
        os.chmod(self.root, 0o700)
        self.private_dir.mkdir(exist_ok=True)
        comment = ("# The JupyterHub's exchange (deploy/): students fetch, submit and fetch feedback through it."
                   if self.exchange is not None else
                   "# nbgrader's exchange (assignment distribution) is unused; a private one keeps the formgrader quiet.")
        self.config_file.write_text(CONFIG_TEMPLATE.format(
            root=str(self.root), course_id=COURSE_ID, cell_timeout=self.cell_timeout,
            warning_pattern=WARNING_PATTERN, exchange=str(self.exchange_root), exchange_comment=comment))
        if self.exchange is not None:
            self.hub_record.write_text(json.dumps({"exchange": str(self.exchange)}) + "\n")
        # Creating a gradebook runs the `alembic` executable found on PATH (nbgrader-notes).
        bin_dir = str(Path(sys.executable).parent)
        if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")

    def config(self, **overrides):
        """nbgrader's configuration for this course: the config file plus ``overrides``.

        ``overrides`` are ``"Class.trait"`` keys, e.g. ``{"Execute.kernel_name": "..."}``.
        """
        from traitlets.config import Config, PyFileConfigLoader

        config = PyFileConfigLoader(self.config_file.name, path=str(self.root)).load_config()
        extra = Config()
        for key, value in overrides.items():
            section, trait = key.split(".")
            extra[section][trait] = value
        config.merge(extra)
        return config

    def api(self, **overrides):
        """An ``NbGraderAPI`` on this course, with ``overrides`` as in :meth:`config`."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        if self.exchange is None:
            (self.private_dir / "exchange").mkdir(parents=True, exist_ok=True)
        config = self.config(**overrides)
        return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    def copy_source(self, notebook: Path) -> str:
        """Put a source notebook where generate_assignment expects it; return the assignment name."""
        assignment = notebook.stem
        target = self.source(assignment)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target)
        return assignment

    # --- a course directory that belongs to someone else (the hub's instructor) ---------------

    def hand_back(self) -> list[Path]:
        """Give what root wrote in another user's course directory back to that user.

        On a hub the course directory belongs to the instructor, whose formgrader writes the
        gradebook (manual grades), while ``release``, ``grade`` and the rest run as root for the
        sandbox. Everything under the directory and in the course's exchange folder becomes the
        directory owner's again, except the autograder's private files, which stay root's. Links
        are never followed. Returns the paths that changed hands; nothing happens unless root
        works in a directory owned by another user.
        """
        if os.geteuid() != 0 or not self.root.is_dir():
            return []
        owner = self.root.stat()
        if owner.st_uid == 0:
            return []
        changed = []

        def take(path: Path) -> None:
            info = path.lstat()
            if (info.st_uid, info.st_gid) != (owner.st_uid, owner.st_gid):
                os.lchown(path, owner.st_uid, owner.st_gid)
                changed.append(path)

        # Not inside inbound/: a submission must stay its student's (nbgrader's collect checks the owner).
        keep = {self.private_dir, self.exchange_course / "inbound"}
        trees = [self.root] + ([self.exchange_course] if self.exchange is not None else [])
        for tree in trees:
            if not tree.is_dir():
                continue
            take(tree)
            for folder, dirs, files in os.walk(tree, followlinks=False):
                if Path(folder) in keep:
                    dirs.clear()
                    continue
                dirs[:] = [name for name in dirs if Path(folder, name) != self.private_dir]
                for name in dirs + files:
                    take(Path(folder, name))
        return changed
