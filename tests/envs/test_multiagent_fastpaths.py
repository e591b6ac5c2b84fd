"""The shortcuts of the grid envs' step (observation tables, Foraging's subgoal table, listed obstacles)
give exactly what the plain computations give."""

import copy

import numpy as np
import pytest

from hiergym.envs.multiagent import base
from hiergym.envs.multiagent.foraging import ForagingEnv
from hiergym.envs.multiagent.goal_grid import GoalGridEnv
from hiergym.envs.multiagent.key_door import KeyDoorEnv
from hiergym.info_keys import InfoKeys

MAKERS = [
    lambda: ForagingEnv(n_agents=3, n_food=3, size=8, max_player_level=3),
    lambda: ForagingEnv(n_agents=2, n_food=1, size=5, view_radius=0, force_coop=True),
    lambda: GoalGridEnv(),
    lambda: KeyDoorEnv(),
]


def _play(env, seed, episodes=4):
    """Every step's outputs under masked random play (one stream of actions per seed)."""
    rng, out = np.random.default_rng(seed), []
    for episode in range(episodes):
        obs, infos = env.reset(seed=seed + episode)
        out.append((obs, infos))
        while env.agents:
            acts = {a: int(rng.choice(np.flatnonzero(infos[a][InfoKeys.ACTION_MASK]))) for a in env.agents}
            step = env.step(acts)
            infos = step[4]
            out.append(step)
    return out


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("make", MAKERS)
def test_table_observations_equal_the_per_step_gather(make, monkeypatch):
    fast = _play(make(), seed=3)
    monkeypatch.setattr(base, "OBS_TABLE_LIMIT", 0)  # too big for a table: gather every step
    slow = _play(make(), seed=3)
    assert _same(fast, slow)


def test_observations_are_separate_fresh_arrays():
    env = ForagingEnv()
    obs, _ = env.reset(seed=0)
    a, b = obs["agent_0"], obs["agent_1"]
    assert a.flags.owndata and a.flags.writeable and not np.shares_memory(a, b)
    a[:] = 7.0
    obs2, *_ = env.step({"agent_0": 0, "agent_1": 0})
    assert obs2["agent_0"].max() <= 1.0 and obs2["agent_1"].max() <= 1.0


def test_foraging_subgoal_table_matches_the_predicates():
    """Lists that ``_make_subgoals`` did not make (here: copies) go through each predicate."""

    class ViaPredicates(ForagingEnv):
        def reset(self, seed=None, options=None):
            super().reset(seed=seed, options=options)
            self._subgoals = {a: copy.copy(goals) for a, goals in self._subgoals.items()}
            self._achieved = {a: [] for a in self.agents}
            self._update_achieved()
            return self._observations(), self._infos()

    kw = dict(n_agents=3, n_food=3, size=8, max_player_level=2)
    fast, slow = _play(ForagingEnv(**kw), seed=5, episodes=12), _play(ViaPredicates(**kw), seed=5, episodes=12)
    assert _same(fast, slow)
    achieved = [sg for step in fast for info in step[-1].values() for sg in info[InfoKeys.SUBGOALS_ACHIEVED]]
    assert any(sg.startswith("load_item") for sg in achieved) and any(sg.startswith("near_item") for sg in achieved)


def test_foraging_masks_with_listed_obstacles_match_the_per_cell_hook():
    class PerCell(ForagingEnv):
        def _obstacle_cells(self):
            return None

    fast, slow = _play(ForagingEnv(n_agents=3, n_food=3), seed=9), _play(PerCell(n_agents=3, n_food=3), seed=9)
    assert _same(fast, slow)


def test_item_footprint_is_what_the_spacing_rule_rules_out():
    from hiergym.envs.multiagent.foraging import _apart, _too_close

    for cell in [(3, 4), (1, 1), (6, 2)]:
        ruled_out = {(r, c) for r in range(-3, 11) for c in range(-3, 11) if not _apart(cell, (r, c))}
        assert set(_too_close(cell)) == ruled_out
