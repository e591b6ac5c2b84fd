"""Subgoals in the LLM training stack: SubgoalHooks' segments reach Trajectory.segments through the collector.

A real env with subgoals (Household: find, take, clean, put, ...) is played by its expert plan
through ``TextEnvMaker(subgoals="env")`` and the shared ``Collector`` (in process and in a worker
process); the segments must equal the wrapper's own and survive JSONL and Parquet.
"""

import dataclasses

import pytest

from hiergym.agents.llm_agent import AgentAction
from hiergym.collector import Collector
from hiergym.info_keys import InfoKeys
from hiergym.training import EnvConfig, TextEnvMaker, train
from hiergym.types import Generation, load_jsonl, load_parquet, save_jsonl, save_parquet

ENV_ID = "hiergym/Household-PickClean-v0"
BONUS = 0.5
MAKER = TextEnvMaker(max_episode_steps=60, history_k=60, subgoals="env", subgoal_bonus=BONUS)
"""history_k covers the whole episode, so a prompt names its episode's path: the expert table below is unambiguous."""


def expert_table(seeds):
    """prompt -> the expert's next command, and the wrapper's own segments per seed (the reference)."""
    table, reference = {}, {}
    for seed in seeds:
        env = MAKER(ENV_ID)
        obs, _ = env.reset(seed=seed)
        for command in env.unwrapped.expert_plan():
            table[obs] = command
            obs, *_ = env.step(f"<action>{command}</action>")
        hooks = env.env  # History -> SubgoalHooks
        reference[seed] = list(hooks.segments)
        env.close()
    return table, reference


class ExpertByPrompt:
    def __init__(self, table):
        self.table = table

    def act(self, observations, sampling=None, seeds=None):
        out = []
        for obs in observations:
            text = f"<action>{self.table[obs]}</action>"
            out.append(AgentAction(text, self.table[obs], True, [Generation([1], [2], [-0.1], text)]))
        return out


@pytest.mark.parametrize("num_workers", [0, 1], ids=["in-process", "worker-process"])
def test_household_segments_reach_the_trajectory_and_round_trip(tmp_path, num_workers):
    seeds = [0, 1, 2]
    table, reference = expert_table(seeds)
    with Collector(MAKER, ExpertByPrompt(table), num_slots=3, num_workers=num_workers, on_episode=MAKER.episode_hooks()) as c:
        trajs, _ = c.collect([(ENV_ID, s) for s in seeds], group_size=2)
    assert len(trajs) == 6
    for traj in trajs:
        segments = traj.segments
        assert traj.success and segments == reference[traj.seed] and len(segments) >= 4
        subgoals = [sg["text"] for sg in traj.meta[InfoKeys.SUBGOALS]]
        assert [s.subgoal for s in segments] == subgoals and all(s.achieved for s in segments)  # pursued in order, all reached
        assert segments[0].start == 0 and segments[-1].end == len(traj) and all(a.end == b.start for a, b in zip(segments, segments[1:]))
        for s in segments:
            assert all(t.subgoal == s.subgoal for t in traj.turns[s.start : s.end]) and traj.turns[s.end - 1].subgoal_done
        env_return = sum(t.info[InfoKeys.ENV_REWARD] for t in traj.turns)
        assert traj.episode_return == pytest.approx(env_return + BONUS * len(segments))
    assert load_jsonl(save_jsonl(trajs, tmp_path / "t.jsonl")) == trajs
    assert load_parquet(save_parquet(trajs, tmp_path / "t.parquet")) == trajs


def test_without_subgoals_the_stack_has_no_hooks_and_no_segments():
    plain = dataclasses.replace(MAKER, subgoals="off")
    assert plain.episode_hooks() == []
    env = plain(ENV_ID)
    _, info = env.reset(seed=0)
    assert InfoKeys.SEGMENT_START not in info
    env.close()


def test_training_run_with_subgoals_writes_segments_to_its_samples(tmp_path):
    from tests.core.test_runs_resume import tiny_config

    base = tiny_config(tmp_path / "run", 1)
    config = dataclasses.replace(base, env=EnvConfig(env_id="hiergym/Sokoban-6x6-1box-v0", max_episode_steps=3, subgoals="env", subgoal_max_steps=2))
    train(config)
    samples = load_jsonl(tmp_path / "run" / "samples.jsonl")
    assert samples and all(t.segments for t in samples)  # one box: its target is pursued from the first step
    assert all(s.subgoal.startswith("a box on target") and s.start == 0 for t in samples for s in t.segments[:1])
