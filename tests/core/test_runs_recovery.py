"""Runs survive kills and damage: resume cuts every log back to the checkpoint, checkpoints are atomic and
verified, metrics.csv is byte-stable across hash seeds, bad config values fail before anything is written."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hiergym.error import ConfigError
from hiergym.runs import RunDir
from hiergym.training import EnvConfig, ModelConfig, TrainLoop, train
from hiergym.types import load_jsonl
from tests.core.test_runs_resume import rows, tiny_config

ROOT = Path(__file__).parents[2]


class Killed(RuntimeError):
    """Stands in for SIGKILL: the loop stops mid-run, leaving whatever it had written."""


def run_killed_at(monkeypatch, config, kill_at):
    """Run ``config`` until iteration ``kill_at`` starts, then die (files stay as written)."""
    real = TrainLoop.iteration

    def iteration(self, it):
        if it == kill_at:
            raise Killed(f"killed at iteration {it}")
        return real(self, it)

    with monkeypatch.context() as m:
        m.setattr(TrainLoop, "iteration", iteration)
        with pytest.raises(Killed):
            train(config)


def assert_same_logs(a: Path, b: Path):
    assert rows(a / "metrics.csv") == rows(b / "metrics.csv")
    assert [r[0] for r in rows(a / "throughput.csv")] == [r[0] for r in rows(b / "throughput.csv")]  # wall-clock values differ
    assert (a / "samples.jsonl").read_bytes() == (b / "samples.jsonl").read_bytes()


@pytest.mark.parametrize("kill_at", [1, 3], ids=["before-first-checkpoint", "after-a-checkpoint"])
def test_resume_after_a_kill_cuts_every_log_back_to_the_checkpoint(tmp_path, monkeypatch, kill_at):
    train(tiny_config(tmp_path / "straight", 4))
    run_killed_at(monkeypatch, tiny_config(tmp_path / "killed", 4), kill_at)  # checkpoint_every=2
    logged = [int(r[0]) for r in rows(tmp_path / "killed" / "metrics.csv")[1:]]
    assert logged == list(range(kill_at))  # the kill left rows past the last checkpoint (or before any)
    train(tiny_config(tmp_path / "killed", 4, resume=True))
    assert_same_logs(tmp_path / "killed", tmp_path / "straight")
    samples = load_jsonl(tmp_path / "killed" / "samples.jsonl")
    assert [t.meta["iteration"] for t in samples] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_truncated_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, caplog):
    train(tiny_config(tmp_path / "straight", 4))
    train(tiny_config(tmp_path / "damaged", 4))
    newest = tmp_path / "damaged" / "checkpoints" / "step-000004.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # e.g. the disk filled up
    with caplog.at_level("WARNING", logger="hiergym.runs"):
        train(tiny_config(tmp_path / "damaged", 4, resume=True))  # from step 2: iterations 2 and 3 again
    assert any("step-000004.pt" in r.getMessage() and "truncated" in r.getMessage() for r in caplog.records)  # its digest no longer matches
    assert_same_logs(tmp_path / "damaged", tmp_path / "straight")


def test_checkpoint_write_is_all_or_nothing(tmp_path, monkeypatch):
    import torch

    run = RunDir(tmp_path / "run", {"a": 1}, tensorboard=False)
    good = run.save_checkpoint(2, {"x": 1})

    def dies_midway(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(OSError):
        run.save_checkpoint(4, {"x": 2})
    assert sorted(p.name for p in run.ckpt_dir.iterdir()) == [good.name, good.name + ".sha256"]  # no partial file, no temp file left
    assert run.latest_checkpoint()["x"] == 1


def test_a_checkpoint_that_names_another_step_is_rejected(tmp_path, caplog):
    run = RunDir(tmp_path / "run", {"a": 1}, tensorboard=False)
    run.save_checkpoint(2, {"x": 1})
    moved = run.save_checkpoint(4, {"x": 2})
    moved.rename(run.ckpt_dir / "step-000006.pt")
    with caplog.at_level("WARNING", logger="hiergym.runs"):
        assert run.latest_checkpoint()["step"] == 2  # the renamed step-4 file is not trusted
    assert "step-000006.pt" in caplog.text


def test_metrics_csv_is_byte_identical_under_different_hash_seeds(tmp_path):
    code = (
        "import sys\n"
        "from tests.core.test_runs_resume import tiny_config\n"
        "from hiergym.training import train\n"
        "train(tiny_config(sys.argv[1], 2))\n"
    )
    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"hash{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
        subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, env=env, check=True, capture_output=True)
        outs.append((out / "metrics.csv").read_bytes())
    assert outs[0] == outs[1]


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "hiergym", *args], cwd=cwd, capture_output=True, text=True)


def test_bad_values_fail_before_the_run_dir_exists(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ConfigError) as e:
        train(dataclasses.replace(tiny_config(out, 2), model=ModelConfig(device="cuda:7")))
    assert e.value.field == "model.device" and not out.exists()
    template = tmp_path / "prompt.toml"
    template.write_text('current = "{observation} {reward}"\n')  # no such placeholder
    bad_template = dataclasses.replace(tiny_config(out, 2), env=EnvConfig(env_id="hiergym/Sokoban-6x6-1box-v0", template=str(template)))
    with pytest.raises(ConfigError, match="placeholders"):
        train(bad_template)
    assert not out.exists()
    r = cli("train", "llm", "--env.max-episode-steps", "0", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2 and "env.max_episode_steps=0" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cli_error_is_one_line_and_debug_shows_the_traceback(tmp_path):
    out = tmp_path / "run"
    r = cli("train", "llm", "--model.device", "cuda", "--iterations", "1", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: model.device='cuda' is not allowed")
    assert not out.exists()
    r = cli("train", "llm", "--model.device", "cuda", "--iterations", "1", "--out", str(out), "--debug", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" in r.stderr and "ConfigError" in r.stderr and not out.exists()
