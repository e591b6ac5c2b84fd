"""Task rules of GoalGrid, Foraging and KeyDoor on hand-made states, with hand-computed rewards."""

import importlib
import subprocess
import sys

import numpy as np
import pytest

import hiergym
from hiergym.envs.multiagent.foraging import LOAD, ForagingEnv
from hiergym.envs.multiagent.goal_grid import GoalGridEnv
from hiergym.envs.multiagent.grid import DOWN, LEFT, NOOP, RIGHT, first_step
from hiergym.envs.multiagent.key_door import INTERACT, KeyDoorEnv
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.registration import MULTI_AGENT


def _goal_grid(positions, goals, **kw):
    env = GoalGridEnv(n_agents=len(positions), n_goals=len(goals), size=5, **kw)
    env.reset(seed=0)
    env.positions = np.array(positions)
    env.goals = goals
    env._subgoals = {a: env._make_subgoals(a) for a in env.agents}
    env.layout_changed()
    return env


def test_goal_grid_wins_only_when_all_goals_covered_at_once():
    env = _goal_grid([(0, 0), (4, 4)], [(0, 1), (4, 3)])
    _, rewards, term, _, infos = env.step({"agent_0": RIGHT, "agent_1": NOOP})
    assert rewards == {"agent_0": 0.0, "agent_1": 0.0} and not any(term.values())
    assert infos["agent_0"][InfoKeys.SUBGOALS_ACHIEVED] == ["goal_0"]
    assert infos["agent_1"][InfoKeys.SUBGOALS_ACHIEVED] == []
    _, rewards, term, _, infos = env.step({"agent_0": NOOP, "agent_1": LEFT})
    assert rewards == {"agent_0": 1.0, "agent_1": 1.0} and all(term.values()) and infos["agent_1"][InfoKeys.WON]
    assert env.agents == []


def test_goal_grid_shaped_reward_is_the_potential_difference():
    # phi = -sum_goals min_agent_distance / (n_goals * (H + W - 2)) = -(1 + 2) / (2 * 8) before
    env = _goal_grid([(0, 0), (4, 4)], [(0, 1), (4, 2)], reward_mode="shaped")
    _, rewards, _, _, _ = env.step({"agent_0": NOOP, "agent_1": LEFT})  # distances 1 + 1 after
    assert rewards["agent_0"] == pytest.approx((-2 / 16) - (-3 / 16))
    _, rewards, _, _, _ = env.step({"agent_0": RIGHT, "agent_1": LEFT})  # solved: +1 and phi 0
    assert rewards["agent_0"] == pytest.approx(1.0 + 2 / 16)


def test_contested_cell_both_agents_stay():
    env = _goal_grid([(2, 1), (2, 3)], [(0, 0), (4, 4)])
    _, _, _, _, infos = env.step({"agent_0": RIGHT, "agent_1": LEFT})
    assert env.position("agent_0") == (2, 1) and env.position("agent_1") == (2, 3)
    assert infos["agent_0"][InfoKeys.ACTION_VALID] and not infos["agent_0"][InfoKeys.ACTION_EFFECTIVE]


def _foraging(positions, levels, items):
    env = ForagingEnv(n_agents=len(positions), n_food=len(items), size=6)
    env.reset(seed=0)
    env.positions, env.levels = np.array(positions), np.array(levels)
    env._set_items([c for c, _ in items], [lvl for _, lvl in items])
    env._subgoals = {a: env._make_subgoals(a) for a in env.agents}
    env.layout_changed()
    return env


def test_foraging_load_needs_enough_levels_and_pays_level_share():
    # item 0 level 3 at (2,2); item 1 level 1 at (4,4); levels 1 and 2 -> total item level 4
    env = _foraging([(1, 2), (2, 1)], [1, 2], [((2, 2), 3), ((4, 4), 1)])
    _, rewards, _, _, infos = env.step({"agent_0": LOAD, "agent_1": NOOP})  # level 1 < 3: fails
    assert rewards["agent_0"] == 0.0 and env.food_present.all()
    assert infos["agent_0"][InfoKeys.ACTION_VALID] and not infos["agent_0"][InfoKeys.ACTION_EFFECTIVE]
    _, rewards, term, _, infos = env.step({"agent_0": LOAD, "agent_1": LOAD})  # 1 + 2 >= 3
    assert rewards == {"agent_0": 0.75, "agent_1": 0.75} and not any(term.values())
    assert env.loaders_of(0) == ("agent_0", "agent_1") and env.food_present.tolist() == [False, True]
    assert "load_item_0" in infos["agent_0"][InfoKeys.SUBGOALS_ACHIEVED]
    assert "near_item_0" in infos["agent_1"][InfoKeys.SUBGOALS_ACHIEVED]
    assert env.action_mask("agent_0")[LOAD] == 0  # nothing left next to it
    assert not env.blocked((2, 2))  # the loaded item no longer blocks


def test_foraging_items_block_moves_and_last_item_terminates():
    env = _foraging([(4, 3), (0, 0)], [1, 1], [((4, 4), 1)])
    assert env.action_mask("agent_0")[RIGHT] == 0 and env.action_mask("agent_0")[LOAD] == 1
    _, rewards, term, _, infos = env.step({"agent_0": LOAD})
    assert rewards["agent_0"] == 1.0 and all(term.values()) and infos["agent_0"][InfoKeys.WON]


def test_foraging_generation_follows_lbforaging_rules():
    for seed in range(30):
        env = ForagingEnv(n_agents=3, n_food=3, size=8, max_player_level=3)
        env.reset(seed=seed)
        cap = sorted(env.levels)[:3]
        assert all(1 <= lvl <= sum(cap) for lvl in env.food_levels)
        assert all(0 < r < 7 and 0 < c < 7 for r, c in env.food_cells)
        coop = ForagingEnv(n_agents=3, n_food=2, force_coop=True)
        coop.reset(seed=seed)
        assert set(coop.food_levels) == {int(coop.levels.sum())}


def _key_door():
    env = KeyDoorEnv(size=7)
    env.reset(seed=0)
    # left room cols 0-2, wall col 3, right rooms above/below row 3
    env.walls[:] = False
    env.walls[:, 3] = True
    env.walls[3, 4:] = True
    env.door = (3, 5)
    env.walls[env.door] = False
    env.key_cell, env.lock, env.goal = (1, 1), (1, 2), (5, 5)
    env.positions = np.array([(1, 0), (2, 5)])
    env._subgoals = {a: env._make_subgoals(a) for a in env.agents}
    env.layout_changed()
    return env


def test_key_door_hand_off():
    env = _key_door()
    assert env.action_mask("agent_1")[DOWN] == 0  # closed door
    assert env.action_mask("agent_0")[INTERACT] == 0  # nothing to interact with on plain floor
    env.step({"agent_0": RIGHT})
    _, _, _, _, infos = env.step({"agent_0": INTERACT})  # pick up the key
    assert env.key_holder == "agent_0" and infos["agent_0"][InfoKeys.SUBGOALS_ACHIEVED] == ["get_key"]
    assert env.state()[-5] == 1.0  # state ends [a0 row, col, has_key, a1 row, col, has_key, time]
    env.step({"agent_0": RIGHT})
    assert env.action_mask("agent_1")[DOWN] == 0
    _, _, _, _, infos = env.step({"agent_0": INTERACT})  # unlock
    assert env.door_open and infos["agent_0"][InfoKeys.SUBGOALS_ACHIEVED] == ["get_key", "open_door"]
    assert "near_door" in infos["agent_1"][InfoKeys.SUBGOALS_ACHIEVED]
    assert env.action_mask("agent_0")[INTERACT] == 0  # the key is used up
    rewards = {}
    for _ in range(3):  # (2,5) -> (3,5) door -> (4,5) -> (5,5) goal
        _, rewards, term, _, infos = env.step({"agent_1": DOWN})
    assert rewards["agent_1"] == 1.0 and all(term.values())
    assert "reach_goal" in infos["agent_1"][InfoKeys.SUBGOALS_ACHIEVED]


@pytest.mark.parametrize("seed", range(10))
def test_key_door_rooms_are_sealed_even_with_the_door_open(seed):
    env = KeyDoorEnv()
    env.reset(seed=seed)
    env.door_open = True

    def passable(cell):
        return not env.blocked(cell)

    fetcher, runner = env.position("agent_0"), env.position("agent_1")
    assert first_step(fetcher, {env.goal, env.door, runner}, passable) is None
    assert first_step(runner, {env.key_cell, env.lock, fetcher}, passable) is None
    assert first_step(runner, {env.goal}, passable) is not None
    env.door_open = False
    assert first_step(runner, {env.goal}, passable) is None


def test_views_show_only_the_radius():
    env = GoalGridEnv(size=9, view_radius=1)
    obs, _ = env.reset(seed=0)
    assert obs["agent_0"].shape == (3 * 9 + 2 + 2,)
    window = obs["agent_0"][: 3 * 9].reshape(3, 3, 3)
    assert window[1, 1, 1] == 1.0  # the agent plane at the centre is the agent itself


def test_registered_ids_build_and_reach_pettingzoo_registry():
    ids = {e.id for e in MULTI_AGENT}
    assert {"hiergym/GoalGrid-v0", "hiergym/Foraging-v0", "hiergym/KeyDoor-v0", "hiergym/TwoStepMatrix-v0"} <= ids
    for env_id in ids:
        env = hiergym.make_parallel(env_id)
        env.reset(seed=0)
        assert env.state().dtype == np.float32
    import pettingzoo

    importlib.import_module("hiergym.envs.multiagent")  # registers with PettingZoo on first import
    assert isinstance(pettingzoo.make("parallel", "hiergym/KeyDoor-v0", size=7), KeyDoorEnv)


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_import_hiergym_leaves_multiagent_and_pettingzoo_registry_lazy():
    assert _python("import sys, hiergym; print('hiergym.envs.multiagent' in sys.modules)") == "False"
    assert _python("import pettingzoo, hiergym; print('hiergym/GoalGrid-v0' in pettingzoo.parallel_registry)") == "True"


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: GoalGridEnv(n_agents=2, n_goals=3), "n_goals"),
        (lambda: GoalGridEnv(size=2), "size"),
        (lambda: GoalGridEnv(reward_mode="dense"), "reward_mode"),
        (lambda: GoalGridEnv(n_agents=11), "n_agents"),
        (lambda: ForagingEnv(size=5, n_food=5), "n_food"),
        (lambda: ForagingEnv(max_player_level=0), "max_player_level"),
        (lambda: KeyDoorEnv(size=4), "size"),
    ],
)
def test_task_kwargs_errors_name_the_field(make, field):
    with pytest.raises(EnvSpecError, match=f"^{field}="):
        make()


def test_key_door_subgoal_targets_are_where_the_agent_must_go():
    env = KeyDoorEnv(size=5)
    _, infos = env.reset(seed=0)
    targets = {g.id: g.target for a in env.possible_agents for g in infos[a][InfoKeys.SUBGOALS]}
    assert targets["open_door"] == env.lock  # the fetcher unlocks standing on the lock, not at the door
