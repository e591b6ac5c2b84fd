"""Multi-agent episodes through the shared Collector: buffer columns, masks, per-episode seeds and state, crash restart."""

import numpy as np
import pytest
import torch

from hiergym.agents.marl.policy import EpsilonGreedyPolicy
from hiergym.algos.marl.configs import MarlRunConfig, SubgoalQMIXConfig, make_algo_config
from hiergym.algos.marl.env_stack import probe_env
from hiergym.algos.marl.episodes import agent_trajectories, episode_columns
from hiergym.algos.marl.train import build_collector
from hiergym.collector import Collector, WorkerCrashError
from hiergym.envs.multiagent.matrix_game import TwoStepMatrixGame
from hiergym.error import EnvSpecError
from hiergym.types import Trajectory
from tests.algos.marl_fixtures import Corridor

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def flat(n_slots=3, env_fn=Corridor, **run):
    torch.manual_seed(0)
    return build_collector(MarlRunConfig(n_envs=n_slots, **run), make_algo_config("qmix"), env_fn=env_fn)


def subgoal(n_slots=2):
    torch.manual_seed(0)
    algo = SubgoalQMIXConfig(goal_horizon=3, step_cost=0.1, subgoal_features=False)
    return build_collector(MarlRunConfig(n_envs=n_slots), algo, env_fn=Corridor)


def tasks(seeds):
    return [("corridor", s) for s in seeds]


def test_probe_reads_sizes_and_limit():
    spec = probe_env(Corridor(), subgoals=True)
    assert (spec.obs_dim, spec.state_dim, spec.n_actions, spec.episode_limit, spec.n_subgoals) == (6, 8, 3, 8, 2)
    assert probe_env(Corridor(), episode_limit=3).episode_limit == 3


def test_every_seed_runs_once_and_columns_are_consistent():
    collector, spec, _ = flat()
    trajs, stats = collector.collect(tasks(range(7)), 1, sampling=1.0, stream=0)
    ep = episode_columns(trajs, spec)
    lengths = ep["mask"].sum(axis=1).astype(int)
    assert [t.seed for t in trajs] == list(range(7)) and ep["obs"].shape == (7, spec.episode_limit + 1, 2, 6)
    assert stats.env_steps == int(lengths.sum()) and stats.episodes == 7
    for e, traj in enumerate(trajs):
        n = lengths[e]
        assert ep["mask"][e, :n].all() and not ep["mask"][e, n:].any()
        taken = np.take_along_axis(ep["avail"][e, :n], ep["actions"][e, :n, :, None], axis=-1)
        assert taken.all(), "a masked action was taken"
        assert ep["terminated"][e, n - 1] == float(traj.success) and ep["reward"][e].sum() == traj.episode_return
        assert ep["obs"][e, n].any() or not traj.success, "the final observation is kept"


def test_exploration_is_the_same_whatever_the_number_of_slots():
    """Per-episode seeds: the same episodes at epsilon 1 with 1, 2 or 5 slots (the old runner shared one generator)."""
    runs = []
    for n_slots in (1, 2, 5):
        collector, spec, _ = flat(n_slots)
        trajs, _ = collector.collect(tasks(range(6)), 1, sampling=1.0, stream=42)
        runs.append(episode_columns(trajs, spec))
    for other in runs[1:]:
        for name in ("actions", "obs", "reward", "mask"):
            np.testing.assert_array_equal(runs[0][name], other[name], err_msg=name)
    collector, spec, _ = flat(2)
    another_stream = episode_columns(collector.collect(tasks(range(6)), 1, sampling=1.0, stream=43)[0], spec)
    assert not np.array_equal(runs[0]["actions"], another_stream["actions"])


def test_recurrent_state_starts_fresh_for_every_episode():
    """A slot that moves on to a new episode must not carry the GRU state of the last one: an episode
    played after others in the same slot equals the same episode played first."""
    collector, spec, _ = flat(1)
    alone = episode_columns(collector.collect(tasks([5]), 1, sampling=0.0)[0], spec)
    after_others = episode_columns(collector.collect(tasks([1, 2, 5]), 1, sampling=0.0)[0], spec)
    for name in ("actions", "obs"):
        np.testing.assert_array_equal(alone[name][0], after_others[name][2])


def test_policy_memory_is_none_at_episode_start():
    seen = []

    class Spy(EpsilonGreedyPolicy):
        def act(self, observations, *, memories=None, **kw):
            seen.extend(m is None for m in memories)
            return super().act(observations, memories=memories, **kw)

    collector, spec, policy = flat(2)
    collector.agent = Spy(policy.agents)
    trajs, stats = collector.collect(tasks(range(4)), 1, sampling=1.0, stream=0)
    assert sum(seen) == 4 and len(seen) == stats.env_steps


def test_flat_agent_trajectories_one_per_agent():
    collector, spec, _ = flat()
    trajs, _ = collector.collect(tasks(range(2)), 1, sampling=1.0, stream=0)
    records = [a for t in trajs for a in agent_trajectories(t, spec)]
    assert len(records) == 4 and records[0].agent_id == "agent_0" and records[0].segments == []
    assert records[0].group_id == "corridor#0" and Trajectory.from_dict(records[0].to_dict()) == records[0]


def test_subgoal_columns_and_segments():
    collector, spec, _ = subgoal()
    trajs, _ = collector.collect(tasks(range(4)), 1, sampling=1.0, stream=1)
    ep = episode_columns(trajs, spec)
    assert ep["decision"][:, 0].all(), "the first step is always a decision"
    real = ep["mask"] > 0
    r = ep["intrinsic_reward"][real]
    assert (np.isclose(r, 1.0) | np.isclose(r, -0.1)).all()
    assert ((ep["intrinsic_reward"] == 1.0) == (ep["subgoal_done"] == 1.0))[real].all()
    for traj in (a for t in trajs for a in agent_trajectories(t, spec)):
        segs = traj.segments
        assert segs[0].start == 0 and segs[-1].end == len(traj.turns)
        assert all(a.end == b.start for a, b in zip(segs, segs[1:]))
        assert all(s.subgoal in ("#0", "#1") and s.end - s.start <= 3 for s in segs)
        assert Trajectory.from_dict(traj.to_dict()) == traj


def test_subgoal_agents_need_an_env_with_subgoals():
    with pytest.raises(EnvSpecError, match="subgoals"):
        probe_env(TwoStepMatrixGame(), episode_limit=2, subgoals=True)


def test_hooks_see_every_step_and_episode():
    collector, spec, _ = flat(2)
    steps, episodes = [], []
    collector.on_step.append(lambda traj, turn: steps.append(turn.reward))
    collector.on_episode.append(lambda traj: episodes.append(len(traj.turns)))
    trajs, stats = collector.collect(tasks(range(3)), 1, sampling=1.0, stream=0)
    assert len(steps) == stats.env_steps and sorted(episodes) == sorted(len(t.turns) for t in trajs)


class CrashOnce(Corridor):
    """Corridor whose 3rd step of the episode with seed 2 raises, on the first attempt only (per process)."""

    crashed: set = set()

    def reset(self, seed=None, options=None):
        self.seed_ = seed
        return super().reset(seed=seed, options=options)

    def step(self, actions):
        if self.seed_ == 2 and self.cycle == 2 and 2 not in CrashOnce.crashed:
            CrashOnce.crashed.add(2)
            raise RuntimeError("simulated env crash")
        return super().step(actions)


class CrashAlways(Corridor):
    def step(self, actions):
        raise RuntimeError("always broken")


def test_a_crashed_env_episode_is_rerun_from_its_seed_nothing_lost_or_duplicated():
    CrashOnce.crashed.clear()
    collector, spec, _ = flat(2, env_fn=CrashOnce)
    trajs, stats = collector.collect(tasks(range(5)), 1, sampling=1.0, stream=7)
    reference, _, _ = flat(2)
    expected, _ = reference.collect(tasks(range(5)), 1, sampling=1.0, stream=7)
    assert stats.restarts == 1 and [t.seed for t in trajs] == list(range(5))
    np.testing.assert_array_equal(episode_columns(trajs, spec)["actions"], episode_columns(expected, spec)["actions"])


def test_an_env_that_keeps_crashing_is_an_error():
    collector, _, _ = flat(1, env_fn=CrashAlways)
    with pytest.raises(WorkerCrashError, match="always broken"):
        collector.collect(tasks([0]), 1, sampling=1.0, stream=0)


def test_team_envs_in_worker_processes_give_the_same_episodes():
    """A registered env (picklable maker): the same episodes with envs in this process or in 2 worker processes."""
    torch.manual_seed(0)
    run = MarlRunConfig(env_id="hiergym/TwoStepMatrix-v0", episode_limit=2, n_envs=3)
    in_process, spec, policy = build_collector(run, make_algo_config("qmix"))
    workers = Collector(in_process.hosts[0].env_fn, policy, num_slots=3, num_workers=2, max_turns=3, keep_final_observation=True)
    try:
        job = [("hiergym/TwoStepMatrix-v0", s) for s in range(6)]
        a = episode_columns(in_process.collect(job, 1, sampling=1.0, stream=3)[0], spec)
        b = episode_columns(workers.collect(job, 1, sampling=1.0, stream=3)[0], spec)
    finally:
        workers.close()
    for name in ("actions", "obs", "state", "reward"):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_subgoal_offsets_say_where_each_grid_subgoal_is():
    """goal_j is a different cell every episode: the team observation must carry its offset for the subgoal agents."""
    from hiergym.envs.multiagent.goal_grid import GoalGridEnv
    from hiergym.wrappers.team_subgoals import subgoal_offsets

    assert probe_env(Corridor(), subgoals=True, subgoal_features=True).subgoal_feat_dim == 0  # no grid cells
    assert probe_env(GoalGridEnv(size=5), subgoals=True).subgoal_feat_dim == 0  # off unless asked
    spec = probe_env(GoalGridEnv(size=5), subgoals=True, subgoal_features=True)
    assert spec.subgoal_feat_dim == 2 and spec.buffer_fields()["subgoal_feat"].shape == (2, 2, 2)
    env = GoalGridEnv(size=5)
    _, infos = env.reset(seed=3)
    (r, c), (gr, gc) = env.position("agent_1"), env.goals[1]
    offsets = subgoal_offsets(env, "agent_1", infos["agent_1"]["subgoals"] + [None])
    np.testing.assert_allclose(offsets[1], [(gr - r) / 4, (gc - c) / 4])
    assert not offsets[2].any()

    torch.manual_seed(0)
    algo = SubgoalQMIXConfig(goal_horizon=3)
    collector, spec, _ = build_collector(MarlRunConfig(n_envs=1), algo, env_fn=lambda: GoalGridEnv(size=5))
    ep = episode_columns(collector.collect([("grid", 3)], 1, sampling=1.0, stream=0)[0], spec)
    np.testing.assert_allclose(ep["subgoal_feat"][0, 0, 1, 1], [(gr - r) / 4, (gc - c) / 4])
    n = int(ep["mask"][0].sum())
    assert ep["subgoal_feat"][0, : n + 1].any(axis=(1, 2, 3)).all() and not ep["subgoal_feat"][0, n + 1 :].any()
