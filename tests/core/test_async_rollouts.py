"""Async rollouts: version tags, overlap of collection with training, the staleness bound, off by default."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from hiergym.error import ConfigError
from hiergym.training.async_rollouts import AsyncRolloutConfig, AsyncRollouts, sampling_version
from hiergym.types import Generation, Trajectory, Turn

GROUPS, GROUP_SIZE = 2, 2


class FakePolicy:
    """Rollout side for the unit tests: 'weights' are the trainer version they were snapshotted at."""

    def __init__(self):
        self.trainer_version = 0
        self.loaded: list[int] = []
        self.collect_started: dict[int, threading.Event] = {}
        self.gate: threading.Event | None = None

    def collect(self, it):
        self.collect_started.setdefault(it, threading.Event()).set()
        if self.gate is not None:
            assert self.gate.wait(5)
        trajs = []
        for g in range(GROUPS):
            for c in range(GROUP_SIZE):
                gen = Generation([1, 2], [3], [-0.5], "x")
                trajs.append(Trajectory(f"it{it}-g{g}", "fake", g, turns=[Turn("o", "a", reward=float(c), generations=[gen])], episode_return=float(c)))
        return trajs, {"iteration": it}

    def snapshot(self):
        return [("version", self.trainer_version)]

    def load(self, weights):
        self.loaded.append(dict(weights)["version"])


def make(config, policy, **kw):
    return AsyncRollouts(config, policy.collect, policy.snapshot, policy.load, **kw)


def train_step(rollouts, policy):
    policy.trainer_version += 1
    rollouts.policy_updated()


def test_every_generation_carries_the_version_that_sampled_it():
    policy = FakePolicy()
    rollouts = make(AsyncRolloutConfig(enabled=True), policy, num_iterations=5)
    seen = []
    for it in range(5):
        metrics = {}
        trajs, stats = rollouts.next_batch(it, metrics)
        assert stats == {"iteration": it} and len(trajs) == GROUPS * GROUP_SIZE
        versions = {g.policy_version for t in trajs for turn in t.turns for g in turn.generations}
        seen.append(versions)
        assert metrics["async/staleness_max"] == (0 if it == 0 else 1) and metrics["async/dropped"] == 0
        train_step(rollouts, policy)
    # batch 0 from the initial weights; batch n+1 was collected while update n ran, so from version n
    assert seen == [{0}, {0}, {1}, {2}, {3}]
    assert policy.loaded == [0, 1, 2, 3]  # the worker loaded each snapshot before its next collection
    rollouts.shutdown()


def test_next_batch_is_collected_while_the_trainer_updates():
    policy = FakePolicy()
    rollouts = make(AsyncRolloutConfig(enabled=True), policy, num_iterations=3)
    rollouts.next_batch(0)
    # 'training' on batch 0: the collection of batch 1 must already be running
    assert policy.collect_started.setdefault(1, threading.Event()).wait(5)
    train_step(rollouts, policy)
    trajs, _ = rollouts.next_batch(1)
    assert trajs[0].group_id.startswith("it1-")
    rollouts.shutdown()


def test_no_collection_past_the_last_iteration():
    policy = FakePolicy()
    rollouts = make(AsyncRolloutConfig(enabled=True), policy, num_iterations=2)
    rollouts.next_batch(0)
    rollouts.next_batch(1)
    rollouts.shutdown()
    assert sorted(policy.collect_started) == [0, 1]


@pytest.mark.parametrize("sync_every", [2, 3])
def test_stale_data_is_dropped_and_the_bound_holds(sync_every):
    """Weights reach the rollout side only every k updates: batches beyond the bound are dropped, then re-collected."""
    policy = FakePolicy()
    rollouts = make(AsyncRolloutConfig(enabled=True, max_staleness=1, sync_every=sync_every), policy, num_iterations=8)
    dropped = recollected = 0
    for it in range(8):
        metrics = {}
        trajs, _ = rollouts.next_batch(it, metrics)
        assert trajs and all(rollouts.staleness(t) <= 1 for t in trajs)  # the bound holds for every kept trajectory
        dropped += metrics["async/dropped"]
        recollected += metrics["async/recollected"]
        if metrics["async/recollected"]:
            assert metrics["async/dropped"] == GROUPS * GROUP_SIZE and metrics["async/dropped_share"] == 1.0
            assert {sampling_version(t) for t in trajs} == {rollouts.version}  # fresh weights
        train_step(rollouts, policy)
    assert dropped > 0 and recollected > 0


def test_forced_stale_batch_is_reweighted_and_counted():
    """The batch in flight during three updates (no weight sync: sync_every=100) is 3 versions old."""
    policy = FakePolicy()
    rollouts = make(AsyncRolloutConfig(enabled=True, max_staleness=1, stale="reweight", stale_weight=0.5, sync_every=100), policy, num_iterations=2)
    rollouts.next_batch(0)
    for _ in range(3):
        train_step(rollouts, policy)
    metrics = {}
    trajs, _ = rollouts.next_batch(1, metrics)
    assert {rollouts.staleness(t) for t in trajs} == {3}
    assert metrics["async/reweighted"] == len(trajs) and metrics["async/dropped"] == 0 and metrics["async/staleness_max"] == 3
    weighted = rollouts.weigh(trajs, [np.array([1.0, -2.0]) for _ in trajs])
    for w in weighted:
        np.testing.assert_allclose(w, [0.25, -0.5])  # 0.5 ** (3 - 1)
    rollouts.shutdown()


def test_within_the_bound_reweighting_changes_nothing():
    policy = FakePolicy()
    rollouts = make(AsyncRolloutConfig(enabled=True, stale="reweight"), policy, num_iterations=2)
    trajs, _ = rollouts.next_batch(0)
    adv = [np.array([1.5]) for _ in trajs]
    assert all(a is b for a, b in zip(rollouts.weigh(trajs, adv), adv))
    rollouts.shutdown()


def test_worker_errors_reach_the_caller():
    def boom(it):
        raise RuntimeError(f"env crashed in iteration {it}")

    rollouts = AsyncRollouts(AsyncRolloutConfig(enabled=True), boom, lambda: [], lambda w: None)
    with pytest.raises(RuntimeError, match="iteration 0"):
        rollouts.next_batch(0)


@pytest.mark.parametrize(
    "kwargs, field",
    [({"max_staleness": -1}, "max_staleness"), ({"stale": "skip"}, "stale"), ({"stale_weight": 0.0}, "stale_weight"), ({"sync_every": 0}, "sync_every")],
)
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ConfigError) as e:
        AsyncRolloutConfig(**kwargs)
    assert e.value.field == f"async_rollouts.{field}"


def test_off_by_default():
    assert AsyncRolloutConfig().enabled is False


# --- in the training loop ---------------------------------------------------------------------
def test_train_loop_default_is_synchronous_and_untagged(tmp_path):
    from hiergym.training.loop import TrainLoop
    from hiergym.types import load_jsonl
    from tests.core.test_runs_resume import tiny_config

    loop = TrainLoop(tiny_config(tmp_path / "sync", 2))
    assert loop.rollouts is None
    loop()
    samples = load_jsonl(tmp_path / "sync" / "samples.jsonl")
    assert all(g.policy_version is None for t in samples for turn in t.turns for g in turn.generations)
    header = (tmp_path / "sync" / "metrics.csv").read_text().splitlines()[0]
    assert "async/" not in header


def test_train_loop_with_async_rollouts_tags_and_reports(tmp_path):
    import csv

    from hiergym.training.loop import train
    from hiergym.types import load_jsonl
    from tests.core.test_runs_resume import tiny_config

    train(tiny_config(tmp_path / "async", 3), async_rollouts=AsyncRolloutConfig(enabled=True))
    with open(tmp_path / "async" / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("async/staleness_max")]
    assert [float(r["async/staleness_max"]) for r in rows] == [0.0, 1.0, 1.0]
    assert all(float(r["async/dropped"]) == 0 for r in rows)
    samples = load_jsonl(tmp_path / "async" / "samples.jsonl")
    versions = {(t.meta["iteration"], g.policy_version) for t in samples for turn in t.turns for g in turn.generations}
    assert versions == {(0, 0), (1, 0), (2, 1)}  # batch 1 sampled during update 0, batch 2 during update 1


def test_async_rollouts_come_from_the_training_config_and_use_the_env_host(tmp_path):
    """``TrainConfig.async_rollouts`` (the CLI's --async-rollouts.*) turns them on; the rollout collector's
    envs live where ``env.host`` says, like the loop's own collector (here in this process although
    ``num_workers`` is 1: with the host left to ``auto`` it would have spawned a worker process)."""
    import dataclasses

    from hiergym.collector import InProcessHost
    from hiergym.training.loop import TrainLoop
    from hiergym.types import load_jsonl
    from tests.core.test_runs_resume import tiny_config

    base = tiny_config(tmp_path / "cfg", 2)
    config = dataclasses.replace(
        base, env=dataclasses.replace(base.env, num_workers=1, host="inprocess"), async_rollouts=AsyncRolloutConfig(enabled=True, max_staleness=2)
    )
    loop = TrainLoop(config)
    assert loop.rollouts is not None and loop.rollouts.config.max_staleness == 2
    assert [type(h) for h in loop.rollouts.collector.hosts] == [InProcessHost] == [type(h) for h in loop.collector.hosts]
    loop()
    samples = load_jsonl(tmp_path / "cfg" / "samples.jsonl")
    assert {(t.meta["iteration"], g.policy_version) for t in samples for turn in t.turns for g in turn.generations} == {(0, 0), (1, 0)}


def test_cli_flags_select_async_rollouts():
    import tyro

    from hiergym.training.configs import TrainConfig

    config = tyro.cli(TrainConfig, args=["--async-rollouts.enabled", "--async-rollouts.max-staleness", "2", "--async-rollouts.stale", "reweight"])
    assert config.async_rollouts == AsyncRolloutConfig(enabled=True, max_staleness=2, stale="reweight")
    assert tyro.cli(TrainConfig, args=[]).async_rollouts.enabled is False
