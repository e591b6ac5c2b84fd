"""Faults survived with nothing lost (issue 15): each test counts the trajectories lost and duplicated (by
group id and copy) and compares with an uninterrupted run.

- an env worker (process or Ray actor) SIGKILLed mid-rollout, from outside or inside an env step;
- a hung env step, turned by ``step_timeout`` into a worker restart and a re-run;
- a training run (``hiergym train llm``) SIGKILLed inside a trainer update, resumed from its checkpoint;
- a checkpoint damaged on disk (bytes flipped, same size): an error naming the file, resume falls back.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hiergym.collector import Collector
from hiergym.runs import CheckpointError, RunDir, read_checkpoint
from tests.core.collector_fixtures import CountdownEnv, make_countdown
from tests.core.ray_fixtures import ray_local  # noqa: F401
from tests.core.test_same_seed import TASKS, agent  # noqa: F401

ROOT = Path(__file__).parents[2]
GROUP = 3
FAULT_SEED = 4  # a 3-step episode: the fault hits its second step


class FaultyCountdown(CountdownEnv):
    """A countdown env that, once per run (a marker file), SIGKILLs its own process or hangs at the second
    step of episode ``FAULT_SEED``: the fault lands inside an env step, mid-episode."""

    def __init__(self, marker: str, fault: str):
        super().__init__()
        self.marker, self.fault = Path(marker), fault

    def step(self, action):
        if self.seed_ == FAULT_SEED and self.left == 2:
            try:
                self.marker.touch(exist_ok=False)  # O_EXCL: only one copy of one run faults
            except FileExistsError:
                pass
            else:
                if self.fault == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                time.sleep(3600)  # hung: only the collector's step timeout gets the run going again
        return super().step(action)


def make_faulty(env_id, marker, fault):
    return FaultyCountdown(marker, fault)


@pytest.fixture(params=["process", "ray"])
def host(request):
    if request.param == "ray":
        request.getfixturevalue("ray_local")
    return request.param


def run(env_fn, agent, host=None, on_collector=None, **kwargs):  # noqa: F811
    workers = {"num_workers": 2, "host": host} if host else {}
    with Collector(env_fn, agent, num_slots=4, **workers, **kwargs) as c:
        if on_collector:
            on_collector(c)
        trajs, stats = c.collect(TASKS, group_size=GROUP, stream=5)
    return trajs, stats


def answers(trajs):
    return [(t.group_id, t.meta["copy"], [(turn.raw_action, turn.reward) for turn in t.turns], t.success) for t in trajs]


def lost_and_duplicated(trajs):
    """How many of the expected (group, copy) trajectories are missing, and how many came back twice."""
    from hiergym.types import group_id_of

    expected = {(group_id_of(env_id, seed), c) for env_id, seed in TASKS for c in range(GROUP)}
    got = [(t.group_id, t.meta["copy"]) for t in trajs]
    return len(expected - set(got)), len(got) - len(set(got))


@pytest.fixture(scope="module")
def reference(agent):  # noqa: F811
    """The uninterrupted run: envs in this process."""
    from hiergym.training.loop import rollout_metrics

    trajs, stats = run(make_countdown, agent)
    assert stats.restarts == 0 and lost_and_duplicated(trajs) == (0, 0)
    return answers(trajs), rollout_metrics(trajs)


def assert_nothing_lost(trajs, stats, reference):
    from hiergym.training.loop import rollout_metrics

    assert lost_and_duplicated(trajs) == (0, 0)
    assert len(trajs) == len(TASKS) * GROUP and stats.episodes == len(trajs)
    assert answers(trajs) == reference[0]  # re-run episodes sample the same answers from their own streams
    assert rollout_metrics(trajs) == reference[1]


def test_env_worker_sigkilled_between_steps_mid_rollout(agent, reference, host):  # noqa: F811
    """SIGKILL worker 0 from outside once the first episode has taken a step: its live episodes are re-run."""
    killed = []

    def arm(collector):
        def kill_worker_0(trajectory, turn):
            if not killed:
                killed.append(collector.hosts[0].pid)
                os.kill(killed[0], signal.SIGKILL)

        collector.on_step.append(kill_worker_0)

    trajs, stats = run(make_countdown, agent, host, arm)
    assert killed and stats.restarts >= 1  # every episode worker 0 held mid-way was re-run
    assert_nothing_lost(trajs, stats, reference)


def test_env_worker_sigkilled_inside_an_env_step(agent, reference, host, tmp_path):  # noqa: F811
    env_fn = functools.partial(make_faulty, marker=str(tmp_path / "killed"), fault="kill")
    trajs, stats = run(env_fn, agent, host)
    assert (tmp_path / "killed").exists() and stats.restarts >= 1
    assert_nothing_lost(trajs, stats, reference)


def test_hung_env_step_becomes_a_worker_restart_and_a_rerun(agent, reference, host, tmp_path):  # noqa: F811
    env_fn = functools.partial(make_faulty, marker=str(tmp_path / "hung"), fault="hang")
    t0 = time.monotonic()
    trajs, stats = run(env_fn, agent, host, step_timeout=5.0)
    assert (tmp_path / "hung").exists() and stats.restarts >= 1
    assert time.monotonic() - t0 < 600  # the sleeping step (an hour) was cut off, not waited for
    assert_nothing_lost(trajs, stats, reference)


# ----------------------------------------------------------------------------- checkpoints


def flip_bytes(path: Path) -> None:
    """Damage a file in place without changing its size (a bad sector, a bad copy)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


def test_corrupted_checkpoint_is_an_error_naming_the_file_and_resume_falls_back(tmp_path, caplog):
    import torch

    run_dir = RunDir(tmp_path / "run", {"a": 1}, tensorboard=False)
    run_dir.save_checkpoint(2, {"weights": torch.zeros(1 << 16)})
    newest = run_dir.save_checkpoint(4, {"weights": torch.ones(1 << 16)})
    flip_bytes(newest)
    silently = torch.load(newest, weights_only=False)  # torch alone loads the damaged file without a word
    assert silently["step"] == 4 and (silently["weights"] != 1).any()
    with pytest.raises(CheckpointError, match="step-000004.pt does not match its digest"):
        read_checkpoint(newest)
    with caplog.at_level("WARNING", logger="hiergym.runs"):
        state = run_dir.latest_checkpoint()
    assert state["step"] == 2 and state["weights"].sum() == 0
    assert "step-000004.pt" in caplog.text and "falling back" in caplog.text


def test_no_good_checkpoint_is_an_error_not_a_silent_restart(tmp_path):
    import torch

    run_dir = RunDir(tmp_path / "run", {"a": 1}, tensorboard=False)
    for step in (2, 4):
        flip_bytes(run_dir.save_checkpoint(step, {"weights": torch.ones(1 << 16)}))
    with pytest.raises(CheckpointError, match=r"no usable checkpoint.*step-000004\.pt.*step-000002\.pt"):
        run_dir.latest_checkpoint()


# ----------------------------------------------------------------------------- a training run SIGKILLed

TINY_RUN = """\
iterations = 4
tasks_per_iteration = 2
num_slots = 4
eval_every = 2
eval_episodes = 2
checkpoint_every = 2
tensorboard = false
progress = false

[env]
env_id = "hiergym/Sokoban-6x6-1box-v0"
max_episode_steps = 3

[model.tiny]
hidden_size = 32
intermediate_size = 64
num_hidden_layers = 1
num_attention_heads = 2
num_key_value_heads = 1

[algo.gigpo]
group_size = 2

[warm_start]
expert = "hiergym.demo:sokoban_expert"
episodes = 2
steps = 1
"""

# `hiergym train llm` whose trainer update of iteration 3 (rows of iterations 0-2 logged, checkpoint 2 written)
# touches a file as it starts, does the update, then waits to be killed (before its metrics row or a checkpoint).
KILLABLE_TRAIN = """\
import sys, time, pathlib
from hiergym.algos import Trainer
real, marker, metrics = Trainer.step, pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[-1]) / "metrics.csv"
def step(self, batch):
    if metrics.is_file() and len(metrics.read_text().splitlines()) == 4:
        marker.touch()
        real(self, batch)
        time.sleep(3600)
    return real(self, batch)
Trainer.step = step
from hiergym.cli import main
main(sys.argv[2:])
"""


def train_cli(config: Path, out: Path, *extra: str, prefix: tuple[str, ...] = ("-m", "hiergym")) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    args = [sys.executable, *prefix, "train", "llm", "--config-file", str(config), "--out", str(out), *extra]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def metric_rows(out: Path) -> list[str]:
    return (out / "metrics.csv").read_text().splitlines()


@pytest.mark.slow
def test_training_run_sigkilled_mid_update_resumes_to_the_same_metrics(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_RUN)
    straight = train_cli(config, tmp_path / "straight")
    marker = tmp_path / "in-update"
    killed = train_cli(config, tmp_path / "killed", prefix=("-c", KILLABLE_TRAIN, str(marker)))
    deadline = time.monotonic() + 900
    while not marker.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), killed.communicate()[0][-2000:]
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(60) == -signal.SIGKILL
    out = tmp_path / "killed"
    assert [r.split(",")[0] for r in metric_rows(out)[1:]] == ["0", "1", "2"]  # iteration 3 died inside its update
    assert sorted(p.name for p in (out / "checkpoints").glob("*.pt")) == ["step-000002.pt"]
    resumed = train_cli(config, out, "--resume")
    assert resumed.wait(900) == 0, resumed.communicate()[0][-2000:]
    assert straight.wait(900) == 0, straight.communicate()[0][-2000:]
    assert metric_rows(out) == metric_rows(tmp_path / "straight")  # same metrics, row for row
    assert (out / "samples.jsonl").read_bytes() == (tmp_path / "straight" / "samples.jsonl").read_bytes()
