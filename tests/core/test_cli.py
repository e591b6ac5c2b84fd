import subprocess
import sys

from hiergym.cli import COMMANDS, main
from hiergym.registration import all_entries


def test_list_prints_every_id(capsys):
    main(["list"])
    out = capsys.readouterr().out
    for e in all_entries():
        assert e.id in out


def test_help_names_command_groups():
    r = subprocess.run([sys.executable, "-m", "hiergym", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    assert "list" in r.stdout and "play" in r.stdout
    groups = [k for k, v in COMMANDS.items() if isinstance(v, dict) and v]
    for g in groups:
        assert g in r.stdout


def test_unknown_command_fails_cleanly():
    r = subprocess.run([sys.executable, "-m", "hiergym", "frobnicate"], capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr


def _help(argv: list[str], capsys, monkeypatch) -> str:
    """The help text ``hiergym <argv>`` prints, at a fixed 80-column terminal."""
    import pytest

    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def _usage_commands(text: str) -> set[str]:
    usage = next(line for line in text.splitlines() if line.startswith("usage:"))
    return set(usage[usage.index("{") + 1 : usage.index("}")].split(","))


def test_usage_line_lists_every_command(capsys, monkeypatch):
    commands = _usage_commands(_help(["--help"], capsys, monkeypatch))
    assert commands == set(COMMANDS)
    assert {"list", "play", "demo", "train", "serve"} <= commands


def test_group_usage_lists_its_subcommands(capsys, monkeypatch):
    for name, group in COMMANDS.items():
        if isinstance(group, dict):
            assert _usage_commands(_help([name, "--help"], capsys, monkeypatch)) == set(group)


def _every_help_invocation() -> list[list[str]]:
    out: list[list[str]] = [["--help"]]
    for name, entry in COMMANDS.items():
        if isinstance(entry, dict):
            out.append([name, "--help"])
            for sub in entry:
                out += [[name, sub, "--help"], [name, sub, "--help-verbose"]]
        else:
            out.append([name, "--help"])
    return out


def test_no_help_text_shows_internal_notes(capsys, monkeypatch):
    for argv in _every_help_invocation():
        text = _help(argv, capsys, monkeypatch)
        assert "CLI layer" not in text, argv


TRAIN_LLM_HELP_LINES = 205
"""Budget for ``hiergym train llm --help`` at 80 columns: one line per flag (~115 flags, the hierarchical
agent's, HRPO's, the vLLM backend's and async rollouts' included) plus thirteen group frames is ~198; 205
leaves room for a few new flags but not for prose to creep back (full text: -H)."""


def test_train_llm_help_is_short_and_lists_the_main_flags(capsys, monkeypatch):
    text = _help(["train", "llm", "--help"], capsys, monkeypatch)
    assert len(text.splitlines()) <= TRAIN_LLM_HELP_LINES
    for flag in ("--config-file", "--out", "--iterations", "--env.env-id", "--env.max-episode-steps", "--algo.name", "--algo.gigpo.group-size", "--trainer.lr", "--sampling.temperature", "--warm-start.steps", "--help-verbose"):
        assert flag in text, flag
    for group in ("env options", "model options", "algo options", "trainer options", "sampling options", "warm-start options"):
        assert group in text, group
    verbose = _help(["train", "llm", "--help-verbose"], capsys, monkeypatch)
    assert "RL iterations (collect, then one trainer step)" in verbose  # the full descriptions stay one flag away


def test_train_llm_flag_names_reach_the_config(monkeypatch):
    from types import SimpleNamespace

    import hiergym.training

    seen = {}

    def fake_train(config):
        seen["config"] = config
        return SimpleNamespace(eval_success={0: 0.5}, run_dir="runs/x")

    monkeypatch.setattr(hiergym.training, "train", fake_train)
    main(["train", "llm", "--env.max-episode-steps", "7", "--trainer.lr", "0.003", "--iterations", "2", "--warm-start.steps", "5"])
    config = seen["config"]
    assert (config.env.max_episode_steps, config.trainer.lr, config.iterations, config.warm_start.steps) == (7, 0.003, 2, 5)
