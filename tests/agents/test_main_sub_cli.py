"""``hiergym train main-sub``: the M-GRPO run behind the same CLI as every other learner (flags, config file, one-line errors)."""

import csv
import json

import pytest

import hiergym.training.main_sub as main_sub
from hiergym.cli import TRAIN_COMMANDS, main
from tests.agents.test_main_sub_train import SPEC

TINY_FLAGS = [
    "--iterations", "1", "--tasks-per-iteration", "1", "--mgrpo.group-size", "2", "--mgrpo.max-sub-calls", "1",
    "--eval-every", "1", "--eval-episodes", "1", "--num-slots", "2", "--max-sub-steps", "1", "--max-calls-per-step", "1",
    "--sampling.max-new-tokens", "4", "--env-kwargs.max-steps", "2",
    "--tiny.hidden-size", str(SPEC.hidden_size), "--tiny.intermediate-size", str(SPEC.intermediate_size),
    "--tiny.num-hidden-layers", str(SPEC.num_hidden_layers), "--tiny.num-attention-heads", str(SPEC.num_attention_heads),
    "--tiny.num-key-value-heads", str(SPEC.num_key_value_heads),
]


def _fake_run(monkeypatch):
    seen = {}

    def fake(config):
        seen["config"] = config
        return main_sub.RunResult(rows=[], eval_curve=[(0, 0.25), (40, 0.5)], tokens=40, iterations=2)

    monkeypatch.setattr(main_sub, "train_main_sub", fake)
    return seen


def test_main_sub_is_a_train_command_and_its_help_lists_the_config_fields(capsys, monkeypatch):
    assert "main-sub" in TRAIN_COMMANDS
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "main-sub", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--config-file", "--agent", "--sub-agents", "--iterations", "--token-budget", "--out", "--mgrpo.group-size",
                 "--trainer.lr", "--sampling.max-new-tokens", "--env-kwargs.max-hops", "--tiny.hidden-size", "--warm-start-steps",
                 "--resume", "--checkpoint-every", "--template", "--sub-history"):
        assert flag in text, flag


def test_flags_and_config_file_reach_the_config_and_the_summary_prints(tmp_path, capsys, monkeypatch):
    seen = _fake_run(monkeypatch)
    main(["train", "main-sub", "--agent", "main-only", "--mgrpo.group-size", "3", "--token-budget", "500"])
    config = seen["config"]
    assert (config.agent, config.mgrpo.group_size, config.token_budget) == ("main-only", 3, 500)
    out = capsys.readouterr().out
    assert "main-only" in out and "40 generated tokens" in out and "0: 25%, 40: 50%" in out
    cfg = tmp_path / "run.toml"
    cfg.write_text('iterations = 7\nsub_agents = ["searcher", "reader"]\n[mgrpo]\ngroup_size = 6\n[env_kwargs]\nmax_hops = 3\n')
    main(["train", "main-sub", "--config-file", str(cfg), "--iterations", "9"])  # a flag wins over the file
    config = seen["config"]
    assert (config.iterations, config.sub_agents, config.mgrpo.group_size, config.env_kwargs) == (9, ("searcher", "reader"), 6, {"max_hops": 3})


@pytest.mark.parametrize("argv, message", [
    (["--iterations", "0"], "iterations=0"),
    (["--agent", "main-sub", "--sub-agents"], "sub_agents"),
    (["--eval-temperature", "-1"], "eval_temperature"),
])
def test_bad_values_are_one_line_config_errors(argv, message, capsys, monkeypatch):
    _fake_run(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "main-sub", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unknown_config_file_key_is_a_config_error(tmp_path, capsys, monkeypatch):
    _fake_run(monkeypatch)
    cfg = tmp_path / "run.toml"
    cfg.write_text("iterashuns = 3\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "main-sub", "--config-file", str(cfg)])
    assert exit_info.value.code == 2 and "iterashuns" in capsys.readouterr().err


def test_module_entry_point_is_the_same_command(monkeypatch):
    seen = _fake_run(monkeypatch)
    main_sub.main(["--iterations", "3"])
    assert seen["config"].iterations == 3


def test_tiny_run_through_the_cli_writes_its_run_dir(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    run = tmp_path / "run"
    main(["train", "main-sub", *TINY_FLAGS, "--out", str(run)])
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and float(rows[0]["tokens"]) > 0 and "eval_success" in rows[0]
    assert json.loads((run / "config.json").read_text())["mgrpo"]["group_size"] == 2
    assert len(json.loads((run / "eval_curve.json").read_text())["curve"]) == 2
    assert str(run) in "".join(capsys.readouterr().out.split())  # the summary names the run dir (rich may wrap it)


def test_resume_flag_continues_the_run_in_out(tmp_path, capsys, monkeypatch):
    """--resume reads the run dir's last checkpoint: a finished run is not trained again; without --resume the dir is refused."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    run = tmp_path / "run"
    main(["train", "main-sub", *TINY_FLAGS, "--out", str(run)])
    assert [p.name for p in (run / "checkpoints").glob("step-*.pt")] == ["step-000001.pt"]
    before = (run / "metrics.csv").read_text()
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "main-sub", *TINY_FLAGS, "--out", str(run)])
    assert exit_info.value.code == 2 and "--resume" in capsys.readouterr().err
    steps = []
    monkeypatch.setattr(main_sub.MainSubTrainer, "iteration", lambda self, it: steps.append(it))
    main(["train", "main-sub", *TINY_FLAGS, "--out", str(run), "--resume"])
    assert steps == [] and (run / "metrics.csv").read_text() == before
    assert "1 iterations" in capsys.readouterr().out
