"""The wheel must contain every module of the repo-root packages under its hiergym.* name."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = {"hiergym": "hiergym", "envs": "hiergym/envs", "wrappers": "hiergym/wrappers", "agents": "hiergym/agents", "algos": "hiergym/algos"}


def test_wheel_contains_every_module(tmp_path):
    pytest.importorskip("build")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("hiergym-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for src, dst in PACKAGE_DIRS.items():
        for f in (ROOT / src).rglob("*"):
            if "__pycache__" in f.parts or not f.is_file():
                continue
            if f.suffix in {".py", ".html", ".css", ".js", ".j2", ".json", ".txt"}:
                expected.add(f"{dst}/{f.relative_to(ROOT / src).as_posix()}")
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (add the package to pyproject [tool.setuptools] packages): {missing}"
