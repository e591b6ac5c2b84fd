"""MkDocs hook: let mkdocstrings read hiergym's source with its installed package names.

``pyproject.toml`` maps ``hiergym.envs`` to ``envs/``, ``hiergym.algos`` to ``algos/`` and so
on (``[tool.setuptools] package-dir``). Griffe, which mkdocstrings uses to read the code
*statically* (nothing is imported, so torch, textworld or fastapi need not be installed),
only knows the ``hiergym/`` folder. This hook builds a temporary tree of symlinks that looks
like the installed package and points the Python handler at it.

It also expands ``<!-- api:lazy-exports PACKAGE -->`` in a page into one ``::: module.Name``
block per name of the package's lazy ``_EXPORTS`` table (``{"Name": "module"}``, served by a
module ``__getattr__``), which static analysis cannot follow on its own.
"""

from __future__ import annotations

import ast
import atexit
import re
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[2]


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """The ``package-dir`` mapping of ``pyproject.toml``: package name -> source folder."""
    with open(root / "pyproject.toml", "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name: (root / folder).resolve() for name, folder in mapping.items()}


def build_source_tree(dest: Path, root: Path = ROOT) -> Path:
    """Mirror the installed package layout under ``dest`` with symlinks; returns ``dest``."""
    dirs = package_dirs(root)
    for name in sorted(dirs, key=lambda n: n.count(".")):
        target = dest.joinpath(*name.split("."))
        if name.count(".") == 0:  # the top package: link its files, leave room for subpackages
            target.mkdir(parents=True, exist_ok=True)
            for child in dirs[name].iterdir():
                if child.name != "__pycache__" and not (target / child.name).exists():
                    (target / child.name).symlink_to(child)
        else:
            if target.is_symlink() or target.exists():
                target.unlink()
            target.symlink_to(dirs[name], target_is_directory=True)
    return dest


@event_priority(100)  # before mkdocstrings' own on_config, which may already build the handler
def on_config(config: Any) -> Any:
    """Point mkdocstrings' Python handler at a fresh mirror of the package."""
    tmp = Path(tempfile.mkdtemp(prefix="hiergym-docs-src-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    build_source_tree(tmp)
    python = config.plugins["mkdocstrings"].config["handlers"].setdefault("python", {})
    python["paths"] = [str(tmp)]
    return config


LAZY_EXPORTS = re.compile(r"^<!-- api:lazy-exports (?P<package>[\w.]+) -->$", re.MULTILINE)


def package_init(package: str, root: Path = ROOT) -> Path:
    """The ``__init__.py`` of a (sub)package of hiergym, found through ``package-dir``."""
    dirs = package_dirs(root)
    base = max((name for name in dirs if package == name or package.startswith(name + ".")), key=len)
    rest = package[len(base) :].strip(".").split(".") if package != base else []
    return dirs[base].joinpath(*filter(None, rest), "__init__.py")


def lazy_exports(package: str, root: Path = ROOT) -> dict[str, str]:
    """The ``_EXPORTS = {"Name": "module", ...}`` table of a package, read statically."""
    tree = ast.parse(package_init(package, root).read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "_EXPORTS":
            return ast.literal_eval(node.value)
    raise ValueError(f"{package}: no _EXPORTS table in {package_init(package, root)}")


def lazy_exports_markdown(package: str, root: Path = ROOT) -> str:
    """``::: package.module.Name`` blocks for every lazy export, grouped by module."""
    table = lazy_exports(package, root)
    names = sorted(table, key=lambda name: (table[name], name))
    return "\n\n".join(f"::: {package}.{table[name]}.{name}" for name in names)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Expand the lazy-exports markers of a page."""
    return LAZY_EXPORTS.sub(lambda m: lazy_exports_markdown(m.group("package")), markdown)
