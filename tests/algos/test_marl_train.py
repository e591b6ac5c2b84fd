"""The MARL training loop: run-dir artefacts, exact resume from a checkpoint, the `hiergym train marl` command."""

import csv
import json

import pytest
import torch

from hiergym.algos.marl.command import parse_overrides
from hiergym.algos.marl.configs import MarlRunConfig, make_algo_config
from hiergym.algos.marl.train import MarlTrainer
from hiergym.cli import main
from hiergym.error import ConfigError
from hiergym.types import load_jsonl
from tests.algos.marl_fixtures import Corridor


pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(batch_size=8, buffer_size=64, epsilon_anneal_steps=200, target_update_episodes=16, hidden_dim=16)


def run_config(tmp_path, total, **kw):
    return MarlRunConfig(
        env_id="corridor", total_env_steps=total, n_envs=4, eval_interval_steps=100, eval_episodes=4,
        checkpoint_interval_steps=10**6, run_dir=str(tmp_path), **kw,
    )


def trainer(tmp_path, total, algo="qmix", **kw):
    config = make_algo_config(algo, **SMALL)
    return MarlTrainer(run_config(tmp_path, total, **kw), config, env_fn=lambda: Corridor())


@pytest.mark.parametrize("algo", ["iql", "vdn", "qmix", "subgoal-qmix"])
def test_run_writes_metrics_plot_checkpoint_and_trajectories(tmp_path, algo):
    seen = []
    t = trainer(tmp_path, 150, algo)
    t.hooks.append(lambda step, row: seen.append(step))
    rows = t.train()
    assert rows[-1]["t_env"] >= 150 and seen == sorted(seen)
    with (tmp_path / "metrics.csv").open() as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    assert (tmp_path / "learning_curve.png").stat().st_size > 0 and (tmp_path / "checkpoint.pt").exists()
    assert json.loads((tmp_path / "config.json").read_text())["algo"]["algo"] == algo
    trajectories = load_jsonl(tmp_path / "trajectories.jsonl")
    assert {tr.agent_id for tr in trajectories} == {"agent_0", "agent_1"}
    if algo == "subgoal-qmix":
        assert all(tr.segments for tr in trajectories)


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    straight = trainer(tmp_path / "a", 240)
    straight.train()
    first = trainer(tmp_path / "b", 120)
    first.train()
    resumed = trainer(tmp_path / "b", 240, resume=True)
    resumed.train()
    assert resumed.counters == straight.counters
    for (name, a), b in zip(straight.learner.state_dict()["nets"].items(), resumed.learner.state_dict()["nets"].values()):
        if isinstance(a, dict):
            assert all(torch.equal(a[k], b[k]) for k in a), name


def test_resume_with_another_config_is_refused(tmp_path):
    trainer(tmp_path, 40).train()
    other = MarlTrainer(run_config(tmp_path, 80, resume=True), make_algo_config("qmix", **{**SMALL, "lr": 0.5}), env_fn=lambda: Corridor())
    with pytest.raises(ConfigError, match="resume"):
        other.train()


def test_parse_overrides():
    assert parse_overrides(("lr=5e-4", "double_q=false", "target=n_step")) == {"lr": 5e-4, "double_q": False, "target": "n_step"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(("lr",))


def test_cli_train_marl_on_a_registered_env(tmp_path):
    main([
        "train", "marl", "--algo", "vdn", "--env", "hiergym/TwoStepMatrix-v0", "--total-env-steps", "40",
        "--n-envs", "4", "--eval-episodes", "2", "--eval-interval-steps", "20", "--run-dir", str(tmp_path),
        "--episode-limit", "2", "--set", "batch_size=4", "buffer_size=16", "hidden_dim=8",
    ])
    assert (tmp_path / "metrics.csv").exists() and (tmp_path / "learning_curve.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["qmix", "subgoal-qmix"])
def test_full_loop_learns_the_corridor(tmp_path, algo):
    """Random play wins ~40% of Corridor episodes in 8 steps; the greedy policy must win all and fast."""
    config = make_algo_config(algo, batch_size=32, buffer_size=500, epsilon_anneal_steps=1000, target_update_episodes=40)
    run = MarlRunConfig(
        env_id="corridor", total_env_steps=4000, n_envs=8, train_steps_per_collect=4, eval_interval_steps=1000,
        eval_episodes=8, checkpoint_interval_steps=10**6, run_dir=str(tmp_path), plot=False,
    )
    rows = MarlTrainer(run, config, env_fn=lambda: Corridor()).train()
    assert rows[-1]["eval_success"] == 1.0 and rows[-1]["eval_length"] < 3.0
