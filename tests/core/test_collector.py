import functools

import pytest

from hiergym.collector import Collector, WorkerCrashError, group_id_of
from hiergym.error import ConfigError, GroupMismatchError
from hiergym.types import Trajectory

from .collector_fixtures import ScriptedAgent, make_countdown

TASKS = [("Countdown-v0", s) for s in (0, 1, 2, 3)]


def lengths(trajs):
    return [len(t) for t in trajs]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_returns_complete_groups_in_task_order(num_workers):
    agent = ScriptedAgent()
    with Collector(make_countdown, agent, num_slots=3, num_workers=num_workers) as c:
        trajs, stats = c.collect(TASKS, group_size=2)
    assert [t.group_id for t in trajs] == [group_id_of("Countdown-v0", s) for s in (0, 0, 1, 1, 2, 2, 3, 3)]
    assert [t.meta["copy"] for t in trajs] == [0, 1] * 4
    assert lengths(trajs) == [2, 2, 3, 3, 4, 4, 2, 2]
    assert all(t.success and t.episode_return == len(t) for t in trajs)
    assert stats.env_steps == sum(lengths(trajs)) == 22 and stats.episodes == 8
    assert stats.generated_tokens == 2 * 22
    assert max(agent.calls) == 3  # one batched call per tick over all active slots


def test_finished_slot_takes_next_task_without_waiting():
    agent = ScriptedAgent()
    with Collector(make_countdown, agent, num_slots=2) as c:
        c.collect([("Countdown-v0", 2), ("Countdown-v0", 0), ("Countdown-v0", 3)], group_size=1)
    # seed 2 runs 4 steps; slot 2 runs seed 0 (2 steps) then seed 3 (2 steps) alongside: always 2 active
    assert agent.calls == [2, 2, 2, 2]


def test_turns_record_anchor_of_the_state_acted_in_and_validity():
    with Collector(make_countdown, ScriptedAgent(stall_on=("left 1",)), num_slots=1) as c:
        (traj,), _ = c.collect([("Countdown-v0", 0)], group_size=1)
    assert [t.anchor for t in traj.turns] == ["0:2", "0:1"]
    assert [t.action for t in traj.turns] == ["go", "wait"]
    assert [t.action_valid for t in traj.turns] == [True, False]
    assert [t.terminated for t in traj.turns] == [False, True]
    assert traj.turns[0].generations[0].response_ids == [3, 4]
    assert not traj.success and traj.episode_return == 1.0
    assert Trajectory.from_dict(traj.to_dict()) == traj  # turns hold JSON-able data only


def test_hooks_see_every_turn_and_episode():
    steps, episodes = [], []
    with Collector(make_countdown, ScriptedAgent(), num_slots=2, on_step=[lambda tr, tu: steps.append(tu)], on_episode=[episodes.append]) as c:
        trajs, _ = c.collect(TASKS[:2], group_size=1)
    assert len(steps) == 5 and episodes == sorted(episodes, key=len)
    assert {id(t) for t in episodes} == {id(t) for t in trajs}


def test_group_copies_with_different_start_states_fail_loudly():
    env_fn = functools.partial(make_countdown, ignore_seed=True)
    with Collector(env_fn, ScriptedAgent(), num_slots=2) as c, pytest.raises(GroupMismatchError, match="seed=0"):
        c.collect(TASKS[:1], group_size=2)


@pytest.mark.parametrize("num_workers,hard_exit", [(2, True), (0, False)])
def test_crashed_env_is_restarted_and_episode_rerun_without_losing_trajectories(tmp_path, num_workers, hard_exit):
    env_fn = functools.partial(make_countdown, crash_marker=str(tmp_path / "crashed"), crash_seed=2, hard_exit=hard_exit)
    with Collector(env_fn, ScriptedAgent(), num_slots=4, num_workers=num_workers, step_timeout=30) as c:
        trajs, stats = c.collect(TASKS, group_size=2)
    assert (tmp_path / "crashed").exists() and stats.restarts >= 1
    assert lengths(trajs) == [2, 2, 3, 3, 4, 4, 2, 2] and all(t.success for t in trajs)


def test_env_that_always_crashes_gives_up_with_the_error():
    env_fn = functools.partial(make_countdown, crash_marker="/nonexistent-dir/marker", crash_seed=1, hard_exit=False)
    with Collector(env_fn, ScriptedAgent(), num_slots=1, max_restarts=2) as c, pytest.raises(WorkerCrashError, match="crashed 3 times"):
        c.collect([("Countdown-v0", 1)], group_size=1)


def test_max_turns_truncates():
    with Collector(make_countdown, ScriptedAgent(), num_slots=1, max_turns=2) as c:
        (traj,), _ = c.collect([("Countdown-v0", 2)], group_size=1)
    assert len(traj) == 2 and traj.turns[-1].truncated and not traj.turns[-1].terminated


@pytest.mark.parametrize("kwargs", [{"num_slots": 0}, {"num_workers": -1}])
def test_bad_collector_config_names_the_field(kwargs):
    with pytest.raises(ConfigError) as e:
        Collector(make_countdown, ScriptedAgent(), **kwargs)
    assert e.value.field == next(iter(kwargs))


def test_stats_shares_add_up():
    with Collector(make_countdown, ScriptedAgent(), num_slots=2) as c:
        _, stats = c.collect(TASKS, group_size=1)
    d = stats.as_dict()
    assert d["share_env"] + d["share_model"] + d["share_collector"] == pytest.approx(1.0, abs=1e-6)
    assert d["env_steps_per_s"] > 0


class MalformedAgent:
    """Empty, endless (cut at max_new_tokens), tag-less and unclosed answers, then a good one."""

    ANSWERS = ["", "left left left left left left left left", "up", "<action>down", "<action>left</action>"]

    def __init__(self):
        self.t = 0

    def act(self, observations, sampling=None):
        from hiergym.agents.llm_agent import AgentAction
        from hiergym.types import Generation
        from hiergym.wrappers import parse_llm_output

        text = self.ANSWERS[min(self.t, len(self.ANSWERS) - 1)]
        self.t += 1
        parsed = parse_llm_output(text)
        gen = Generation([1], [2], [-1.0], text, finish_reason="length" if self.t == 2 else "stop")
        return [AgentAction(text, parsed.action, parsed.format_ok, [gen]) for _ in observations]


def test_malformed_model_output_is_an_invalid_action_with_penalty_not_a_crash():
    from hiergym.envs.common import INVALID_ACTION_PENALTY
    from hiergym.training import TextEnvMaker

    with Collector(TextEnvMaker(max_episode_steps=5), MalformedAgent(), num_slots=1) as c:
        (traj,), _ = c.collect([("hiergym/Sokoban-6x6-1box-v0", 0)], group_size=1)
    bad, good = traj.turns[:4], traj.turns[4]
    assert [t.action_valid for t in bad] == [False] * 4 and all(t.action is None for t in bad)
    assert [t.reward for t in bad] == [pytest.approx(INVALID_ACTION_PENALTY)] * 4
    assert all(t.info["parse_error"] for t in bad) and len({t.anchor for t in bad}) == 1  # no state change
    assert good.action == "left" and good.action_valid and len(traj) == 5
