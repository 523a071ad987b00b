"""Run every benchmark of the project: ``python -m bench`` (or ``make bench``)."""

import importlib
import pkgutil

import bench


def main() -> None:
    for module_info in pkgutil.iter_modules(bench.__path__):
        if module_info.name.startswith("_"):
            continue
        print(f"== bench.{module_info.name} ==")
        importlib.import_module(f"bench.{module_info.name}").main()


if __name__ == "__main__":
    main()
