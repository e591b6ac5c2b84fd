import pytest

from hiergym.error import ConfigError
from hiergym.info_keys import InfoKeys
from hiergym.types import Segment
from hiergym.wrappers import SubgoalHooks, TextActions, match_subgoal
from tests.fixtures_envs import SwitchesEnv


def start_all_off(env):
    env.reset(seed=0)
    env.unwrapped.on = [False] * env.unwrapped.n
    return env


def test_completion_bonus_cost_and_segment():
    env = start_all_off(SubgoalHooks(SwitchesEnv(n=3), subgoal_bonus=2.0, step_cost=0.1))
    chosen = env.set_subgoal("s1")
    assert chosen.text == "turn on switch 1"
    _, r, *_, info = env.step("wait")
    assert r == pytest.approx(-0.1) and not info[InfoKeys.SUBGOAL_DONE] and not info[InfoKeys.SEGMENT_END]
    assert info[InfoKeys.SUBGOAL] == "turn on switch 1" and info[InfoKeys.ENV_REWARD] == 0.0
    _, r, *_, info = env.step("flip 1")
    assert r == pytest.approx(2.0 - 0.1) and info[InfoKeys.SUBGOAL_DONE] and info[InfoKeys.SEGMENT_END]
    assert info[InfoKeys.INTRINSIC_REWARD] == pytest.approx(1.9)
    assert env.segments == [Segment("turn on switch 1", 0, 2, True)]
    _, r, *_, info = env.step("wait")  # no subgoal: flat step, no intrinsic reward
    assert r == 0.0 and info[InfoKeys.SUBGOAL] is None


def test_segment_ends_after_k_steps_unachieved():
    env = start_all_off(SubgoalHooks(SwitchesEnv(n=3), max_segment_steps=2))
    env.set_subgoal("turn on switch 2")
    *_, info = env.step("wait")
    assert not info[InfoKeys.SEGMENT_END]
    *_, info = env.step("flip 0")
    assert info[InfoKeys.SEGMENT_END] and not info[InfoKeys.SUBGOAL_DONE]
    assert env.segments == [Segment("turn on switch 2", 0, 2, False)]
    assert env.current is None


def test_free_text_subgoal_and_fuzzy_match():
    env = start_all_off(SubgoalHooks(SwitchesEnv(n=3), max_segment_steps=1))
    assert env.set_subgoal("Turn on  switch 0").id == "s0"
    assert env.set_subgoal("turn on swich 0").id == "s0"  # clearly closest text
    assert env.set_subgoal("turn on switch X").id == "text:turn on switch x"  # equally close to all: no guess
    free = env.set_subgoal("dance")
    assert free.id == "text:dance" and free.check is None
    *_, info = env.step("flip 0")
    assert not info[InfoKeys.SUBGOAL_DONE] and info[InfoKeys.SEGMENT_END]
    # replacing an open segment closes it unachieved
    assert [s.achieved for s in env.segments] == [False, False, False, False]
    assert match_subgoal("nothing like it", env.available) is None


def test_episode_end_closes_segment():
    env = start_all_off(SubgoalHooks(SwitchesEnv(n=1)))
    env.set_subgoal("s0")
    _, r, term, *_ = env.step("flip 0")
    assert term and env.segments == [Segment("turn on switch 0", 0, 1, True)]
    assert r == pytest.approx(1.0 + 1.0)  # env win reward + subgoal bonus


def test_switch_planner_adopts_llm_subgoals():
    env = start_all_off(SubgoalHooks(TextActions(SwitchesEnv(n=3)), adopt_proposed=True, end_on_done=False))
    *_, info = env.step("<switch>SWITCH</switch><subgoal>turn on switch 2</subgoal><action>flip 2</action>")
    assert info[InfoKeys.SUBGOAL] == "turn on switch 2" and info[InfoKeys.SUBGOAL_DONE]
    *_, info = env.step("<switch>KEEP</switch><subgoal>turn on switch 0</subgoal><action>wait</action>")
    assert info[InfoKeys.SUBGOAL] == "turn on switch 2"
    *_, info = env.step("<switch>SWITCH</switch><subgoal>turn on switch 0</subgoal><action>flip 0</action>")
    assert info[InfoKeys.SUBGOAL] == "turn on switch 0" and info[InfoKeys.SUBGOAL_DONE]
    assert [s.subgoal for s in env.segments] == ["turn on switch 2"]


def test_reset_clears_segments_and_bad_config():
    env = start_all_off(SubgoalHooks(SwitchesEnv()))
    env.set_subgoal("s0")
    env.step("flip 0")
    env.reset(seed=1)
    assert env.segments == [] and env.current is None and len(env.available) == 3
    with pytest.raises(ConfigError, match="max_segment_steps=0"):
        SubgoalHooks(SwitchesEnv(), max_segment_steps=0)
    with pytest.raises(ConfigError, match="step_cost"):
        SubgoalHooks(SwitchesEnv(), step_cost=-1)


def test_follow_env_pursues_the_env_subgoals_in_order():
    env = start_all_off(SubgoalHooks(SwitchesEnv(n=3), follow_env=True, subgoal_bonus=1.0))
    env.unwrapped.achieved, env.achieved_ids = [], []  # as if the episode had started all off
    rewards, infos = [], []
    for cmd in ("flip 2", "flip 0", "wait", "flip 1"):
        _, r, term, _, info = env.step(cmd)
        rewards.append(r)
        infos.append(info)
    # s0 is pursued first (flip 2 achieves s2 on the side, so it is never pursued), then s1
    assert [i[InfoKeys.SUBGOAL] for i in infos] == ["turn on switch 0", "turn on switch 0", "turn on switch 1", "turn on switch 1"]
    assert [i[InfoKeys.SEGMENT_START] for i in infos] == [True, False, True, False]
    assert env.segments == [Segment("turn on switch 0", 0, 2, True), Segment("turn on switch 1", 2, 4, True)]
    assert term and rewards == [0.0, 1.0, 0.0, 2.0]  # the last step wins the task (+1) and reaches s1 (+1)


@pytest.mark.parametrize("seed", range(20))
def test_segments_rebuilt_from_step_infos_equal_the_wrappers(seed):
    """``segments_of`` (what reaches Trajectory.segments) matches the wrapper's own list on random HiPER-style play."""
    import random

    from hiergym.types import Turn
    from hiergym.wrappers.subgoal_hooks import segments_of

    rng = random.Random(seed)
    env = SubgoalHooks(TextActions(SwitchesEnv(n=3, max_steps=12)), adopt_proposed=True, max_segment_steps=rng.choice([None, 2, 3]))
    env.reset(seed=seed)
    turns, done = [], False
    while not done:
        parts = [rng.choice(["", "<switch>SWITCH</switch>", "<switch>KEEP</switch>"]), rng.choice(["", "<subgoal>s0</subgoal>", "<subgoal>s1</subgoal>", "<subgoal>dance</subgoal>"])]
        answer = "".join(parts) + f"<action>{rng.choice(['flip 0', 'flip 1', 'flip 2', 'wait'])}</action>"
        _, _, term, trunc, info = env.step(answer)
        turns.append(Turn(observation="", action=None, info=info))
        done = term or trunc
    assert segments_of(turns) == env.segments
    # cut short by a turn cap the wrapper never saw: the open segment ends with the turns, unachieved
    expected = [s if s.end <= 5 else Segment(s.subgoal, s.start, 5, False) for s in env.segments if s.start < 5]
    assert segments_of(turns[:5]) == expected
