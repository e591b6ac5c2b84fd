"""The MARL episode runner: buffer rows, masks respected, seeds, trajectories with subgoal segments."""

import numpy as np
import pytest
import torch

from hiergym.agents.marl import QMixAgents, SubgoalQMixAgents
from hiergym.algos.marl.runner import EpisodeRunner, SubgoalRewards, probe_env
from hiergym.envs.multiagent.matrix_game import TwoStepMatrixGame
from hiergym.error import EnvSpecError
from hiergym.types import Trajectory
from tests.algos.marl_fixtures import Corridor


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def flat_runner(n_slots=3):
    spec = probe_env(Corridor())
    torch.manual_seed(0)
    agents = QMixAgents(len(spec.agents), spec.obs_dim, spec.n_actions)
    return EpisodeRunner([Corridor() for _ in range(n_slots)], agents, spec, env_id="corridor"), spec


def subgoal_runner(n_slots=2):
    spec = probe_env(Corridor(), subgoals=True)
    torch.manual_seed(0)
    agents = SubgoalQMixAgents(len(spec.agents), spec.obs_dim, spec.n_actions, spec.n_subgoals, goal_horizon=3)
    return EpisodeRunner([Corridor() for _ in range(n_slots)], agents, spec, env_id="corridor", subgoal_rewards=SubgoalRewards(1.0, 0.1)), spec


def test_probe_reads_sizes_and_limit():
    spec = probe_env(Corridor(), subgoals=True)
    assert (spec.obs_dim, spec.state_dim, spec.n_actions, spec.episode_limit, spec.n_subgoals) == (6, 8, 3, 8, 2)
    assert probe_env(Corridor(), episode_limit=3).episode_limit == 3


def test_every_seed_runs_once_and_rows_are_consistent():
    runner, spec = flat_runner()
    result = runner.collect(range(7), epsilon=1.0, generator=torch.Generator().manual_seed(0))
    ep = result.episodes
    assert len(result.returns) == 7 and ep["obs"].shape == (7, spec.episode_limit + 1, 2, 6)
    assert result.env_steps == int(ep["mask"].sum()) == int(result.lengths.sum())
    for e in range(7):
        n = result.lengths[e]
        assert ep["mask"][e, :n].all() and not ep["mask"][e, n:].any()
        taken = np.take_along_axis(ep["avail"][e, :n], ep["actions"][e, :n, :, None], axis=-1)
        assert taken.all(), "a masked action was taken"
        assert ep["terminated"][e, n - 1] == float(result.successes[e]) and ep["reward"][e].sum() == result.returns[e]


def test_same_seeds_same_episodes_any_slot_count():
    a = flat_runner(3)[0].collect(range(5), epsilon=0.0)
    b = flat_runner(2)[0].collect(range(5), epsilon=0.0)
    key = lambda res: sorted(tuple(res.episodes["obs"][i].ravel()) for i in range(5))  # noqa: E731
    assert key(a) == key(b)


def test_flat_trajectories_one_per_agent():
    runner, _ = flat_runner()
    result = runner.collect(range(2), epsilon=1.0, record_trajectories=True)
    assert len(result.trajectories) == 4
    t = result.trajectories[0]
    assert t.agent_id == "agent_0" and t.group_id.startswith("corridor:") and t.segments == []
    assert Trajectory.from_dict(t.to_dict()) == t


def test_subgoal_columns_and_segments():
    runner, spec = subgoal_runner()
    result = runner.collect(range(4), epsilon=1.0, generator=torch.Generator().manual_seed(1), record_trajectories=True)
    ep = result.episodes
    assert ep["decision"][:, 0].all(), "the first step is always a decision"
    real = ep["mask"] > 0
    r = ep["intrinsic_reward"][real]
    assert (np.isclose(r, 1.0) | np.isclose(r, -0.1)).all()
    assert ((ep["intrinsic_reward"] == 1.0) == (ep["subgoal_done"] == 1.0))[real].all()
    for traj in result.trajectories:
        segs = traj.segments
        assert segs[0].start == 0 and segs[-1].end == len(traj.turns)
        assert all(a.end == b.start for a, b in zip(segs, segs[1:]))
        assert all(s.subgoal in ("cell0", "cell3") and s.end - s.start <= 3 for s in segs)
        assert Trajectory.from_dict(traj.to_dict()) == traj


def test_subgoal_agents_need_an_env_with_subgoals():
    with pytest.raises(EnvSpecError, match="subgoals"):
        probe_env(TwoStepMatrixGame(), episode_limit=2, subgoals=True)


def test_hooks_see_every_step_and_episode():
    runner, _ = flat_runner(2)
    steps, episodes = [], []
    runner.on_step.append(lambda slot, infos: steps.append(slot))
    runner.on_episode.append(lambda row, trajs: episodes.append(row["mask"].sum()))
    result = runner.collect(range(3), epsilon=1.0)
    assert len(steps) == result.env_steps and sorted(episodes) == sorted(result.lengths)


def test_subgoal_offsets_say_where_each_grid_subgoal_is():
    """goal_j is a different cell every episode: the runner must record its offset for the subgoal agents."""
    from hiergym.algos.marl.runner import subgoal_offsets
    from hiergym.envs.multiagent.goal_grid import GoalGridEnv

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
    agents = SubgoalQMixAgents(2, spec.obs_dim, spec.n_actions, spec.n_subgoals, goal_horizon=3, subgoal_feat_dim=2)
    runner = EpisodeRunner([GoalGridEnv(size=5)], agents, spec)
    ep = runner.collect([3], epsilon=1.0, generator=torch.Generator().manual_seed(0)).episodes
    np.testing.assert_allclose(ep["subgoal_feat"][0, 0, 1, 1], [(gr - r) / 4, (gc - c) / 4])
    n = int(ep["mask"][0].sum())
    assert ep["subgoal_feat"][0, : n + 1].any(axis=(1, 2, 3)).all() and not ep["subgoal_feat"][0, n + 1 :].any()
