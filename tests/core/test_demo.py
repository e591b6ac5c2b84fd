"""`hiergym demo`: a 1-iteration smoke run through the CLI, and (slow) a short schedule that must learn."""

import pytest

from hiergym.cli import COMMANDS
from hiergym.demo import DemoConfig, run_demo, sokoban_expert


def test_demo_is_a_cli_command_with_its_knobs(capsys):
    assert COMMANDS["demo"].__name__ == "demo_command"
    with pytest.raises(SystemExit):
        from hiergym.cli import main

        main(["demo", "--help"])
    out = capsys.readouterr().out
    for flag in ("--iterations", "--seed", "--out", "--resume"):
        assert flag in out


def test_expert_solves_the_demo_levels():
    import hiergym

    env = hiergym.make("hiergym/Sokoban-6x6-1box-v0")
    env.reset(seed=3)
    moves = sokoban_expert(env.unwrapped)
    for move in moves:
        *_, info = env.step(move)
    assert moves and info["won"]


def test_demo_smoke_run_writes_summary_and_curve(tmp_path, capsys):
    from hiergym.cli import main

    out = tmp_path / "demo"
    main(["demo", "--iterations", "1", "--group-size", "2", "--tasks-per-iteration", "2", "--warm-start-steps", "1",
          "--warm-start-episodes", "4", "--eval-episodes", "4", "--num-slots", "8", "--out", str(out), "--no-progress"])
    text = capsys.readouterr().out
    assert "held-out success (random init)" in text and "after RL" in text
    assert (out / "curve.png").is_file() and (out / "metrics.csv").is_file()


@pytest.mark.slow
def test_demo_really_learns_on_a_short_schedule(tmp_path):
    summary = run_demo(DemoConfig(iterations=20, eval_every=10, eval_episodes=64, out=tmp_path / "demo", progress=False))
    assert summary.init is not None and summary.init <= 0.05
    assert summary.after_rl >= summary.init + 0.30
    assert summary.after_rl >= summary.after_warm_start
