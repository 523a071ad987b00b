"""Run every benchmark of the project: ``python -m bench`` (or ``make bench``)."""

import importlib
import pkgutil

import bench


# The full mutation run takes about 20 minutes on 2 cores: `python -m bench.mutation` runs it; here
# a sample of 5 mutants per exercise gives the picture.
ARGUMENTS = {"mutation": ["--sample", "5", "--workers", "2", "--quiet"]}


def main() -> None:
    for module_info in pkgutil.iter_modules(bench.__path__):
        if module_info.name.startswith("_"):
            continue
        print(f"== bench.{module_info.name} ==")
        module = importlib.import_module(f"bench.{module_info.name}")
        module.main(ARGUMENTS[module_info.name]) if module_info.name in ARGUMENTS else module.main()


if __name__ == "__main__":
    main()
