"""Contract tests shared by the multi-agent grid tasks: PettingZoo checkers, seeding, masks, text, rendering."""

import os
import pickle
import subprocess
import sys
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from pettingzoo.test import max_cycles_test, parallel_api_test, parallel_seed_test, render_test
from pettingzoo.utils import parallel_to_aec

from hiergym.envs.multiagent.foraging import ForagingEnv
from hiergym.envs.multiagent.goal_grid import GoalGridEnv
from hiergym.envs.multiagent.key_door import KeyDoorEnv
from hiergym.envs.multiagent.oracles import foraging_oracle, goal_grid_oracle, key_door_oracle
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.wrappers.canonical import canonical

ENVS = {
    "goal_grid": (GoalGridEnv, goal_grid_oracle, {"n_agents": 3, "n_goals": 2}),
    "foraging": (ForagingEnv, foraging_oracle, {"n_agents": 3, "n_food": 3}),
    "foraging_coop": (ForagingEnv, foraging_oracle, {"n_agents": 2, "n_food": 2, "force_coop": True}),
    "key_door": (KeyDoorEnv, key_door_oracle, {}),
}


@pytest.fixture(params=list(ENVS))
def spec(request):
    cls, oracle, kwargs = ENVS[request.param]
    return SimpleNamespace(make=partial(cls, **kwargs), oracle=oracle)


@pytest.mark.parametrize("obs_mode", ["vector", "text"])
def test_parallel_api(spec, obs_mode):
    parallel_api_test(spec.make(obs_mode=obs_mode), num_cycles=150)


def test_parallel_seed(spec):
    parallel_seed_test(spec.make, num_cycles=50)


def test_render_modes(spec, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    render_test(lambda render_mode: parallel_to_aec(spec.make(render_mode=render_mode)))


def _cannot_finish_in(env, steps):
    """True when no joint action sequence of ``steps`` steps can win (checked on the start layout)."""
    if isinstance(env, KeyDoorEnv):
        return True  # pick up, walk, unlock, then the runner needs >= 2 moves through the door
    agents = [env.position(a) for a in env.agents]
    if isinstance(env, GoalGridEnv):
        targets = env.goals
    else:
        targets = env.food_cells
    # every goal needs an agent on it / every item an agent next to it (distance - 1 moves + load)
    return any(min(abs(a[0] - t[0]) + abs(a[1] - t[1]) for a in agents) > steps for t in targets)


def test_max_cycles_truncates(spec):
    """PettingZoo's max_cycles_test, on a start layout where the task cannot end earlier."""
    for seed in range(500):
        env = spec.make(max_cycles=4)
        env.reset(seed=seed)
        if _cannot_finish_in(env, 4):
            break
    else:
        pytest.fail("no layout found")

    def parallel_env(max_cycles):
        env = spec.make(max_cycles=max_cycles)
        env.reset(seed=seed)  # max_cycles_test resets without a seed: continue from this RNG state
        return env

    def aec_env(max_cycles):
        return parallel_to_aec(parallel_env(max_cycles))

    max_cycles_test(SimpleNamespace(parallel_env=parallel_env, env=aec_env))


def _rollout(make, seed, steps=30):
    env = make()
    obs, infos = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    trace = [(sorted((a, o.tobytes()) for a, o in obs.items()), infos["agent_0"][InfoKeys.ANCHOR_STATE])]
    for _ in range(steps):
        if not env.agents:
            break
        actions = {a: int(rng.choice(np.flatnonzero(infos[a][InfoKeys.ACTION_MASK]))) for a in env.agents}
        obs, rewards, term, trunc, infos = env.step(actions)
        trace.append((sorted((a, o.tobytes()) for a, o in obs.items()), rewards, term, trunc, env.state().tobytes()))
    return trace


def test_same_seed_same_trajectory_and_seeds_differ(spec):
    assert _rollout(spec.make, 5) == _rollout(spec.make, 5)
    starts = {repr(spec.make().reset(seed=s)[1]["agent_0"][InfoKeys.ANCHOR_STATE]) for s in range(6)}
    assert len(starts) > 1


def test_reset_without_seed_continues_the_rng(spec):
    env = spec.make()
    env.reset(seed=3)
    first = env.reset()[1]["agent_0"][InfoKeys.ANCHOR_STATE]
    env.reset(seed=3)
    assert env.reset()[1]["agent_0"][InfoKeys.ANCHOR_STATE] == first


def test_spaces_state_and_infos(spec):
    env = spec.make()
    assert env.state().shape == env.state_space.shape  # well-formed even before the first reset
    obs, infos = env.reset(seed=0)
    assert env.state().dtype == np.float32 and env.state_space.contains(env.state())
    for agent in env.agents:
        assert env.observation_space(agent).contains(obs[agent])
        info = infos[agent]
        mask = info[InfoKeys.ACTION_MASK]
        assert mask.dtype == np.int8 and mask.shape == (env.action_space(agent).n,) and mask[0] == 1
        assert info[InfoKeys.ADMISSIBLE_ACTIONS] == [env.ACTIONS[i] for i in np.flatnonzero(mask)]
        assert info[InfoKeys.SUBGOALS] and info[InfoKeys.WON] is False
    states = {infos[agent][InfoKeys.ANCHOR_STATE] for agent in env.agents}  # a set: every state must hash
    assert len(states) == 1  # one global true state, shared by all agents
    state = states.pop()
    assert isinstance(state, tuple) and canonical(state).startswith("[")  # plain data that AnchorHash digests
    rng = np.random.default_rng(0)
    for _ in range(10):  # the state changes exactly when some agent's action had an effect
        actions = {agent: int(rng.choice(np.flatnonzero(infos[agent][InfoKeys.ACTION_MASK]))) for agent in env.agents}
        *_, infos = env.step(actions)
        if not env.agents:
            break
        new = infos[env.agents[0]][InfoKeys.ANCHOR_STATE]
        assert (new != state) == any(infos[agent][InfoKeys.ACTION_EFFECTIVE] for agent in env.agents)
        state = new
    assert env.observation_space("agent_0") is env.observation_space("agent_0")


def test_masked_action_is_a_penalised_noop(spec):
    env = spec.make()
    agent = "agent_0"
    for seed in range(100):  # a start state where agent_0 has an illegal action
        _, infos = env.reset(seed=seed)
        illegal = np.flatnonzero(infos[agent][InfoKeys.ACTION_MASK] == 0)
        if len(illegal):
            break
    before = env.state().copy()
    _, rewards, _, _, infos = env.step({a: (int(illegal[0]) if a == agent else 0) for a in env.agents})
    assert rewards[agent] == pytest.approx(env.invalid_action_penalty)
    flags = infos[agent]
    assert flags[InfoKeys.ACTION_FORMAT_OK]
    assert not flags[InfoKeys.ACTION_ADMISSIBLE] and not flags[InfoKeys.ACTION_VALID]
    assert not flags[InfoKeys.ACTION_EFFECTIVE]
    after = env.state()
    np.testing.assert_array_equal(before[:-1], after[:-1])  # only the time share moved


def test_out_of_range_action_is_malformed(spec):
    env = spec.make()
    env.reset(seed=1)
    _, rewards, _, _, infos = env.step({"agent_0": 99})
    assert not infos["agent_0"][InfoKeys.ACTION_FORMAT_OK]
    assert rewards["agent_0"] == pytest.approx(env.invalid_action_penalty)
    assert infos["agent_1"][InfoKeys.ACTION_VALID]  # a missing action is a legal noop


def test_random_masked_play_never_breaks_invariants(spec):
    env = spec.make()
    _, infos = env.reset(seed=11)
    rng = np.random.default_rng(0)
    while env.agents:
        actions = {a: int(rng.choice(np.flatnonzero(infos[a][InfoKeys.ACTION_MASK]))) for a in env.agents}
        _, rewards, _, _, infos = env.step(actions)
        cells = [env.position(a) for a in env.possible_agents]
        assert len(set(cells)) == len(cells), "two agents share a cell"
        assert not any(env.blocked(c) for c in cells), "an agent stands in a wall / item / closed door"
        assert all(i[InfoKeys.ACTION_VALID] for i in infos.values())
        assert min(rewards.values()) >= 0.0


@pytest.mark.parametrize("seed", range(5))
def test_oracle_solves(spec, seed):
    env = spec.make()
    _, infos = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    total = 0.0
    while env.agents:
        _, rewards, term, _, infos = env.step(spec.oracle(env, rng))
        assert len(set(rewards.values())) == 1, "team reward must be the same for every agent"
        total += rewards["agent_0"]
    assert all(term.values()) and all(i[InfoKeys.WON] for i in infos.values())
    assert total == pytest.approx(1.0)
    assert any(i[InfoKeys.SUBGOALS_ACHIEVED] for i in infos.values())


def test_subgoals_are_picklable_and_checked(spec):
    env = spec.make()
    _, infos = env.reset(seed=2)
    for agent in env.agents:
        for sg in pickle.loads(pickle.dumps(infos[agent][InfoKeys.SUBGOALS])):
            assert sg.check(env, agent) == (sg.id in infos[agent][InfoKeys.SUBGOALS_ACHIEVED])
            assert sg.text and sg.target is not None


def test_step_after_end_needs_reset(spec):
    env = spec.make(max_cycles=1)
    env.reset(seed=0)
    env.step({})
    assert env.agents == []
    with pytest.raises(ResetNeeded):
        env.step({})


def test_text_mode_reads_and_parses(spec):
    env = spec.make(obs_mode="text")
    obs, infos = env.reset(seed=4)
    space = env.observation_space("agent_0")
    for agent in env.agents:
        assert space.contains(obs[agent]) and "Legal actions:" in obs[agent] and agent in obs[agent]
    legal = infos["agent_0"][InfoKeys.ADMISSIBLE_ACTIONS]
    move = next(a for a in legal if a != "noop")
    alias = {"up": "north", "down": "south", "left": "west", "right": "east"}.get(move, move)
    vector = spec.make()
    vector.reset(seed=4)
    vector.step({"agent_0": vector.ACTIONS.index(move)})
    _, rewards, _, _, infos = env.step({"agent_0": f"  {alias.upper()} ", "agent_1": "dance wildly"})
    assert env.position("agent_0") == vector.position("agent_0")
    assert infos["agent_0"][InfoKeys.ACTION_VALID] and not infos["agent_1"][InfoKeys.ACTION_FORMAT_OK]
    assert rewards["agent_0"] == pytest.approx(env.invalid_action_penalty)


def test_bad_kwargs_name_the_field(spec):
    with pytest.raises(EnvSpecError, match="view_radius"):
        spec.make(view_radius=-1)
    with pytest.raises(EnvSpecError, match="obs_mode"):
        spec.make(obs_mode="pixels")
    with pytest.raises(EnvSpecError, match="max_cycles"):
        spec.make(max_cycles=0)
    with pytest.raises(EnvSpecError, match="invalid_action_penalty"):
        spec.make(invalid_action_penalty=float("nan"))
    with pytest.raises(EnvSpecError, match="render_mode"):
        spec.make(render_mode="video")


def test_rgb_frame_matches_grid(spec):
    env = spec.make(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    h, w = env.shape
    assert frame.shape == (h * 24, w * 24, 3) and frame.dtype == np.uint8
    env.close()


ANCHOR_SCRIPT = """
import numpy as np
from hiergym.envs.multiagent.{module} import {cls}
env = {cls}()
_, infos = env.reset(seed=9)
print(repr(infos["agent_0"]["anchor_state"]))
"""


@pytest.mark.parametrize(
    ("module", "cls"), [("goal_grid", "GoalGridEnv"), ("foraging", "ForagingEnv"), ("key_door", "KeyDoorEnv")]
)
def test_anchor_state_is_the_same_in_another_process(module, cls):
    out = subprocess.run(
        [sys.executable, "-c", ANCHOR_SCRIPT.format(module=module, cls=cls)],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "123"},
    ).stdout.strip()
    env = {"goal_grid": GoalGridEnv, "foraging": ForagingEnv, "key_door": KeyDoorEnv}[module]()
    assert out == repr(env.reset(seed=9)[1]["agent_0"][InfoKeys.ANCHOR_STATE])
