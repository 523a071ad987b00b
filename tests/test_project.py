"""The project's packaging: the version and the two environment descriptions stay in step."""

import importlib.metadata
import re
from pathlib import Path

import pytest
import yaml  # PyYAML comes with jupyter (jupyter_events)
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import course_lib

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10; pytest depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def conda_requirement(spec: str) -> tuple[str, SpecifierSet]:
    """Split a conda match spec of the form used here, e.g. ``jupyterlab>=4.2,<5``."""
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", spec.strip())
    assert match, f"environment.yml: cannot read the dependency {spec!r}"
    return match.group(1).lower(), SpecifierSet(match.group(2))


def test_version_is_a_version_string_equal_to_the_installed_metadata(pyproject):
    assert isinstance(course_lib.__version__, str)
    assert str(Version(course_lib.__version__)) == course_lib.__version__
    installed = importlib.metadata.version(pyproject["project"]["name"])
    assert installed == course_lib.__version__, (
        "the installed package is stale: run `make setup` (pip install -e '.[dev]') again")


def test_environment_lists_the_same_packages_and_bounds_as_pyproject(pyproject, environment):
    wanted = [Requirement(line) for line in pyproject["project"]["dependencies"]]
    wanted += [Requirement(line) for line in pyproject["project"]["optional-dependencies"]["dev"]]
    from_pyproject = {requirement.name.lower(): requirement.specifier for requirement in wanted}
    conda_specs = [entry for entry in environment["dependencies"] if isinstance(entry, str)]
    from_conda = dict(conda_requirement(spec) for spec in conda_specs)
    assert from_conda.pop("pip") == SpecifierSet(), "pip is there to install the repo; leave it unpinned"
    assert from_conda.pop("python") == SpecifierSet(pyproject["project"]["requires-python"])
    assert from_conda == from_pyproject
    assert len(conda_specs) == len(from_conda) + 2, "a package is listed twice in environment.yml"


def test_environment_installs_the_repo_itself_through_pip(environment):
    pip_sections = [entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict)]
    assert len(pip_sections) == 1
    targets = [line.split()[-1] for line in pip_sections[0]]
    assert any(Path(target.split("[")[0]) == Path(".") for target in targets), (
        f"environment.yml's pip section should install the repo (`-e .`), it has {pip_sections[0]}")


def test_environment_has_a_name_and_takes_packages_from_conda_forge(pyproject, environment):
    assert environment["name"] == pyproject["project"]["name"]
    assert environment["channels"] == ["conda-forge"]
