"""The MARL training loop: the shared run-dir layout, exact resume from a checkpoint, the `hiergym train marl` command."""

import csv
import json

import numpy as np
import pytest
import torch

from hiergym.algos.marl.buffer import EpisodeBuffer, Field
from hiergym.algos.marl.configs import MarlRunConfig, MarlTrainConfig, make_algo_config
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
        logged = list(csv.DictReader(f))
    assert [int(r["t_env"]) for r in logged] == [r["t_env"] for r in rows]
    with (tmp_path / "throughput.csv").open() as f:
        assert float(next(csv.DictReader(f))["env_steps_per_s"]) > 0
    assert (tmp_path / "curve.png").stat().st_size > 0 and list((tmp_path / "checkpoints").glob("step-*.pt"))
    assert list((tmp_path / "tb").iterdir()), "TensorBoard events"
    assert json.loads((tmp_path / "config.json").read_text())["algo"]["algo"] == algo
    trajectories = load_jsonl(tmp_path / "samples.jsonl")
    assert {tr.agent_id for tr in trajectories} == {"agent_0", "agent_1"}
    if algo == "subgoal-qmix":
        assert all(tr.segments for tr in trajectories)
        assert all(seg.start < seg.end for tr in trajectories for seg in tr.segments)


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
    for name, arr in straight.buffer.data.items():
        np.testing.assert_array_equal(arr, resumed.buffer.data[name], err_msg=name)


def test_checkpoint_stores_the_buffer_compactly_and_optionally(tmp_path):
    with_buffer = trainer(tmp_path / "a", 120, "subgoal-qmix")
    with_buffer.train()
    without = trainer(tmp_path / "b", 120, "subgoal-qmix", save_buffer=False)
    without.train()
    ckpt_a = with_buffer.run_dir.latest_checkpoint()
    stored = ckpt_a["buffer"]["data"]
    assert len(stored["obs"]) == with_buffer.buffer.size < with_buffer.buffer.capacity  # only filled episodes
    assert stored["mask"].dtype == np.bool_ and stored["actions"].dtype == np.uint8 and stored["obs"].dtype == np.bool_
    assert without.run_dir.latest_checkpoint()["buffer"] is None
    size = lambda t: next((t.run_dir.path / "checkpoints").glob("step-*.pt")).stat().st_size  # noqa: E731
    assert size(without) < size(with_buffer)


def test_compact_buffer_state_round_trips_exactly():
    fields = {"obs": Field((2,), np.float32, per_state=True), "actions": Field((2,), np.int64), "mask": Field((), np.float32)}
    buffer = EpisodeBuffer(5, 4, fields)
    buffer.insert({"obs": np.array([[[0.5, 1], [2, 3], [0, 0], [0, 0], [0, 0]]] * 2, np.float32),
                   "actions": np.array([[[1, 300], [2, 0], [0, 0], [0, 0]]] * 2), "mask": np.array([[1, 1, 0, 0]] * 2, np.float32)})
    state = buffer.state_dict()
    assert state["data"]["obs"].shape == (2, 3, 2) and state["data"]["obs"].dtype == np.float16
    assert state["data"]["actions"].dtype == np.uint16 and state["data"]["mask"].dtype == np.bool_
    restored = EpisodeBuffer(5, 4, fields)
    restored.load_state_dict(state)
    for name in fields:
        np.testing.assert_array_equal(restored.data[name], buffer.data[name])
        assert restored.data[name].dtype == buffer.data[name].dtype
    assert (restored.size, restored.pos, restored.episodes_seen) == (2, 2, 2)


def test_resume_with_another_config_is_refused(tmp_path):
    trainer(tmp_path, 40).train()
    other = MarlTrainer(run_config(tmp_path, 80, resume=True), make_algo_config("qmix", **{**SMALL, "lr": 0.5}), env_fn=lambda: Corridor())
    with pytest.raises(ConfigError, match="resume"):
        other.train()


def test_cli_train_marl_on_a_registered_env(tmp_path):
    main([
        "train", "marl", "--algo.name", "vdn", "--env-id", "hiergym/TwoStepMatrix-v0", "--total-env-steps", "40",
        "--n-envs", "4", "--eval-episodes", "2", "--eval-interval-steps", "20", "--run-dir", str(tmp_path),
        "--episode-limit", "2", "--algo.vdn.batch-size", "4", "--algo.vdn.buffer-size", "16", "--algo.vdn.hidden-dim", "8",
    ])
    assert (tmp_path / "metrics.csv").exists() and (tmp_path / "curve.png").exists()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["algo"]["algo"] == "vdn" and config["algo"]["hidden_dim"] == 8


def test_cli_train_marl_from_a_config_file_with_flags_on_top(tmp_path):
    (tmp_path / "run.toml").write_text(
        'env_id = "hiergym/TwoStepMatrix-v0"\nepisode_limit = 2\ntotal_env_steps = 24\nn_envs = 4\neval_episodes = 2\n'
        '[algo]\nname = "qmix"\n[algo.qmix]\nbatch_size = 4\nbuffer_size = 16\nhidden_dim = 8\nlr = 0.01\n'
    )
    out = tmp_path / "run"
    main(["train", "marl", "--config-file", str(tmp_path / "run.toml"), "--run-dir", str(out), "--algo.qmix.hidden-dim", "4"])
    config = json.loads((out / "config.json").read_text())
    assert config["run"]["env_id"] == "hiergym/TwoStepMatrix-v0" and config["run"]["total_env_steps"] == 24
    assert config["algo"]["algo"] == "qmix" and config["algo"]["lr"] == 0.01 and config["algo"]["hidden_dim"] == 4


def test_marl_config_errors_name_the_field(tmp_path, capsys):
    with pytest.raises(ConfigError, match="algo.name"):
        MarlTrainConfig(algo=type(MarlTrainConfig().algo)(name="qmixx"))
    (tmp_path / "bad.toml").write_text("[algo.qmix]\nlearning_rate = 1\n")
    with pytest.raises(SystemExit):
        main(["train", "marl", "--config-file", str(tmp_path / "bad.toml")])
    assert "algo.qmix.learning_rate=1 is not allowed" in capsys.readouterr().err


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


def test_cli_flags_reach_nested_configs_and_env_kwargs():
    import tyro

    config = tyro.cli(MarlTrainConfig, args=["--env-kwargs", "size", "5", "reward_mode", "sparse", "--algo.name", "subgoal-qmix", "--algo.subgoal-qmix.goal-horizon", "3"])
    assert config.env_kwargs == {"size": 5, "reward_mode": "sparse"}
    assert config.algo.selected.goal_horizon == 3 and config.algo.selected.algo == "subgoal-qmix"
    assert config.run_config().env_kwargs == {"size": 5, "reward_mode": "sparse"}


class _Killed(Exception):
    pass


def test_run_killed_before_its_first_checkpoint_resumes_without_duplicate_rows(tmp_path):
    """Issue 16 item 6 for MARL runs: every log is cut back to the checkpoint (here: none, so to 0)."""
    straight = trainer(tmp_path / "a", 300)
    straight.train()
    killed = trainer(tmp_path / "b", 300)

    def kill(step, row):
        if row is not None and row["t_env"] >= 200:
            raise _Killed

    killed.hooks.append(kill)
    with pytest.raises(_Killed):
        killed.train()
    assert not list((tmp_path / "b" / "checkpoints").glob("step-*.pt"))
    trainer(tmp_path / "b", 300, resume=True).train()

    def logged(run):
        with (run / "metrics.csv").open() as f:
            return [(r["iteration"], r["t_env"]) for r in csv.DictReader(f)]

    assert logged(tmp_path / "b") == logged(tmp_path / "a")
    assert len(load_jsonl(tmp_path / "b" / "samples.jsonl")) == len(load_jsonl(tmp_path / "a" / "samples.jsonl"))
