"""The docs site builds with warnings as errors, without heavy optional deps, and covers the public API.

One ``mkdocs build --strict`` per session (module fixture) runs with torch, transformers,
textworld, the web stack, ray and vllm made unimportable, so the API reference is proven to
read the code statically. Its ``objects.inv`` then says which names the reference documents.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Optional or heavy dependencies the docs build must never import.
BLOCKED_MODULES = ("torch", "transformers", "textworld", "fastapi", "uvicorn", "httpx", "ray", "vllm", "pyarrow")


def test_docs_tools_are_installed() -> None:
    # scripts/setup.sh installs the docs extra; a missing tool must fail CI, not skip the docs checks.
    missing = [m for m in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python", "griffe") if importlib.util.find_spec(m.split(".")[0]) is None]
    assert not missing, f"missing {missing}: pip install -e '.[docs]'"


def _load_hook():
    spec = importlib.util.spec_from_file_location("hiergym_docs_api_source", ROOT / "docs" / "hooks" / "api_source.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blocking_sitecustomize(directory: Path) -> Path:
    """A ``sitecustomize`` that makes the heavy modules fail to import, as on a machine without them."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            BLOCKED = {BLOCKED_MODULES!r}

            class _Block:
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] in BLOCKED:
                        raise ImportError(f"{{name}} is blocked while building the docs")
                    return None

            sys.meta_path.insert(0, _Block())
            """
        )
    )
    return directory


def read_inventory(path: Path) -> set[str]:
    """Object names in a Sphinx ``objects.inv`` (the inventory mkdocstrings writes)."""
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):  # four plain-text header lines, then zlib
        header_end = data.index(b"\n", header_end) + 1
    body = zlib.decompress(data[header_end:]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site once, strict, with the heavy modules blocked."""
    tmp = tmp_path_factory.mktemp("docs")
    blocker = _blocking_sitecustomize(tmp / "block")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    env["NO_MKDOCS_2_WARNING"] = "1"
    site_dir = tmp / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir), "--config-file", str(ROOT / "mkdocs.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    assert "WARNING" not in proc.stderr, proc.stderr[-8000:]
    return site_dir


def test_blocker_really_blocks_heavy_modules(tmp_path: Path) -> None:
    blocker = _blocking_sitecustomize(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    proc = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "blocked while building the docs" in proc.stderr


def test_site_builds_strict_without_heavy_deps(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "api" / "algos" / "index.html").is_file()
    assert (site / "design" / "index.html").is_file()


# ---------------------------------------------------------------- public names


def public_packages() -> list[str]:
    """Every package of hiergym whose ``__init__`` declares ``__all__`` (its public names)."""
    hook = _load_hook()
    names = []
    for package, folder in hook.package_dirs(ROOT).items():
        for init in sorted(folder.rglob("__init__.py")):
            if "__all__" in init.read_text(encoding="utf-8"):
                rel = init.parent.relative_to(folder).parts
                names.append(".".join((package, *rel)))
    return sorted(set(names))


def exported(package: str) -> list[str]:
    """The public names of a package: its runtime ``__all__`` (dunders excluded)."""
    module = importlib.import_module(package)
    return [n for n in module.__all__ if not (n.startswith("__") and n.endswith("__"))]


def entry_point_classes() -> list[str]:
    """Dotted paths of the classes every registered env id is built from."""
    from hiergym.registration import all_entries

    return sorted({e.entry_point.replace(":", ".") for e in all_entries()})


def test_public_packages_include_the_core_ones() -> None:
    found = public_packages()
    for package in ("hiergym", "hiergym.wrappers", "hiergym.agents", "hiergym.algos"):
        assert package in found


@pytest.mark.parametrize("package", public_packages())
def test_api_reference_documents_every_public_name(site: Path, package: str) -> None:
    inventory = read_inventory(site / "objects.inv")
    missing = [
        name
        for name in exported(package)
        if f"{package}.{name}" not in inventory and not any(o.startswith(package + ".") and o.endswith("." + name) for o in inventory)
    ]
    assert not missing, f"{package}: add these to a page under docs/api/: {missing}"


def test_api_reference_documents_every_env_class(site: Path) -> None:
    inventory = read_inventory(site / "objects.inv")
    missing = [path for path in entry_point_classes() if path not in inventory]
    assert not missing, f"registered env classes missing from docs/api/envs.md: {missing}"


def test_inventory_reader_sees_a_missing_name(site: Path) -> None:
    inventory = read_inventory(site / "objects.inv")
    assert "hiergym.make" in inventory
    assert "hiergym.no_such_name" not in inventory


# ---------------------------------------------------------------- docstrings


@pytest.fixture(scope="module")
def griffe_package(tmp_path_factory: pytest.TempPathFactory):
    """hiergym read statically by griffe (what mkdocstrings renders), from the installed layout."""
    griffe = pytest.importorskip("griffe")
    src = _load_hook().build_source_tree(tmp_path_factory.mktemp("src"))
    return griffe.load("hiergym", search_paths=[str(src)], allow_inspection=False, resolve_aliases=True, resolve_external=False, try_relative_path=False)


def _griffe_object(griffe_package, package: str, name: str):
    """The griffe object behind ``package.name`` (following re-exports and lazy ``__getattr__`` exports)."""
    module = griffe_package if package == "hiergym" else griffe_package[package.removeprefix("hiergym.")]
    if name in module.members:
        obj = module.members[name]
    else:  # exported lazily (module __getattr__): locate it from the runtime object
        runtime = getattr(importlib.import_module(package), name)
        obj = griffe_package[f"{runtime.__module__}.{runtime.__qualname__}".removeprefix("hiergym.")]
    return obj.final_target if obj.is_alias else obj


def undocumented(obj) -> list[str]:
    """``[obj.path]`` when the object has no (or a blank) docstring, else ``[]``."""
    return [] if obj.docstring and obj.docstring.value.strip() else [obj.path]


@pytest.mark.parametrize("package", public_packages())
def test_every_public_name_has_a_docstring(griffe_package, package: str) -> None:
    missing = [path for name in exported(package) for path in undocumented(_griffe_object(griffe_package, package, name))]
    assert not missing, f"{package}: public names without a docstring: {missing}"


def test_every_env_class_has_a_docstring(griffe_package) -> None:
    missing = [p for path in entry_point_classes() for p in undocumented(griffe_package[path.removeprefix("hiergym.")])]
    assert not missing, f"env classes without a docstring (the env's manual): {missing}"


def test_docstring_check_flags_an_undocumented_name(tmp_path: Path) -> None:
    griffe = pytest.importorskip("griffe")
    pkg = tmp_path / "sample"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        '"""A sample."""\n\n'
        'LIMIT = 3\n"""How many."""\n\nBARE = 4\n\n'
        'def documented():\n    """Says what."""\n\n'
        "def bare():\n    pass\n\n"
        'class Blank:\n    """   """\n'
    )
    sample = griffe.load("sample", search_paths=[str(tmp_path)], allow_inspection=False, try_relative_path=False)
    assert undocumented(sample["documented"]) == [] and undocumented(sample["LIMIT"]) == []
    assert undocumented(sample["bare"]) == ["sample.bare"]
    assert undocumented(sample["BARE"]) == ["sample.BARE"]
    assert undocumented(sample["Blank"]) == ["sample.Blank"]


# ---------------------------------------------------------------- README


def readme_links(text: str) -> list[str]:
    """Targets of the Markdown links of a text, code blocks skipped."""
    import re

    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", prose)


def broken_local_links(text: str, base: Path) -> list[str]:
    """Links that leave the repository or name a file that does not exist."""
    bad = []
    for target in readme_links(text):
        if "://" in target or target.startswith(("#", "mailto:")):
            continue
        path = (base / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            bad.append(target)
    return bad


def test_readme_links_stay_inside_the_repository() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_links(text), "the README should link to the docs pages"
    assert broken_local_links(text, ROOT) == []


def test_link_check_flags_links_outside_the_clone(tmp_path: Path) -> None:
    assert broken_local_links("see [design](../shared/DESIGN.md) and [x](docs/nope.md)", ROOT) == ["../shared/DESIGN.md", "docs/nope.md"]
    assert broken_local_links("[d](docs/design.md#planned-not-built-yet) [w](https://example.org)", ROOT) == []


def test_readme_keeps_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "bash scripts/demo.sh" in text
    assert "bash scripts/setup.sh && python3 -m pytest" in text
    assert "bash scripts/setup.sh && python3 -m pytest" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_ten_lines_run() -> None:
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Ten lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)
    assert len(code.strip().splitlines()) <= 10
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "True" in proc.stdout  # action_valid of the parsed <action>left</action>
