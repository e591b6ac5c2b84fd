"""Fixtures for env tests: one on-disk game cache per test session, so generated games are made once."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def hiergym_cache(tmp_path_factory):
    """Point ``HIERGYM_CACHE`` at a session dir (shared by xdist workers) unless the caller set one."""
    if os.environ.get("HIERGYM_CACHE"):
        yield os.environ["HIERGYM_CACHE"]
        return
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / "hiergym-cache"
    path.mkdir(exist_ok=True)
    os.environ["HIERGYM_CACHE"] = str(path)
    yield str(path)
    del os.environ["HIERGYM_CACHE"]
