"""The env table of the README and docs/environments.md is the registry's, and ``hiergym list`` prints the same rows."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from hiergym.registration import all_entries, env_table

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def env_table_script():
    spec = importlib.util.spec_from_file_location("hiergym_env_table_script", ROOT / "scripts" / "env_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["README.md", "docs/environments.md"])
def test_file_table_is_the_registry(env_table_script, name: str) -> None:
    path = ROOT / name
    assert env_table_script.table_in(path.read_text(encoding="utf-8"), path) == env_table_script.env_table_markdown(), (
        f"{name}: run `python scripts/env_table.py`"
    )


def test_table_has_one_row_per_registered_id(env_table_script) -> None:
    rows = [line for line in env_table_script.env_table_markdown().splitlines()[2:]]
    assert [re.match(r"\| `([^`]+)`", row).group(1) for row in rows] == [e.id for e in all_entries()]
    assert "| `hiergym/Sokoban-v0` | Gymnasium; text or RGB |" in rows[0]
    assert any(row.startswith("| `hiergym/GoalGrid-v0` | PettingZoo Parallel;") for row in rows)


def test_check_mode_catches_a_stale_table(env_table_script, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "good.md"
    stale = tmp_path / "stale.md"
    table = env_table_script.env_table_markdown()
    good.write_text(f"# x\n{env_table_script.START}\n{table}\n{env_table_script.END}\nafter\n")
    stale.write_text(f"# x\n{env_table_script.START}\n{table.replace('Sokoban', 'Sokoban!', 1)}\n{env_table_script.END}\nafter\n")
    monkeypatch.setattr(env_table_script, "FILES", (good, stale))
    monkeypatch.setattr(env_table_script, "ROOT", tmp_path)
    before = stale.read_text()
    assert env_table_script.main(["--check"]) == 1
    assert stale.read_text() == before  # --check never writes
    assert env_table_script.main([]) == 0
    assert stale.read_text() == good.read_text()
    assert env_table_script.main(["--check"]) == 0


def test_missing_markers_name_the_file(env_table_script, tmp_path: Path) -> None:
    path = tmp_path / "none.md"
    with pytest.raises(ValueError, match="none.md"):
        env_table_script.table_in("no table here", path)


def test_hiergym_list_prints_the_registry_rows(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    from hiergym.cli import list_envs

    list_envs()
    out = capsys.readouterr().out
    lines = out.splitlines()
    for env_id, kind, description in env_table():
        row = next((line for line in lines if f" {env_id} " in line), None)
        assert row is not None, f"{env_id} missing from `hiergym list`"
        assert kind in row and description in row, row
