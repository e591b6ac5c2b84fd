"""HierarchicalAgent through the shared Collector: blueprint and switch modes, segments, roles, bad planner output."""

from __future__ import annotations

import pytest

from hiergym.agents.hierarchical import (
    EXECUTOR,
    PLANNER,
    HierarchicalAgent,
    HierarchyConfig,
    planner_part_end,
    split_switch_generation,
)
from hiergym.agents.hierarchical_prompts import HierarchicalPrompts, format_blueprint, parse_blueprint
from hiergym.collector import Collector
from hiergym.error import ConfigError
from hiergym.info_keys import InfoKeys
from hiergym.training.env_stack import TextEnvMaker
from hiergym.types import Generation, Segment

from .hierarchical_fixtures import ScriptedBackend

ENV = "hiergym/Household-PickClean-v0"
SEED = 3
SUBGOALS = ["find the soapbar", "take the soapbar", "clean the soapbar with the sinkbasin", "put the soapbar in/on the toilet"]
GOOD_PLAN = "<plan>1. find soapbar\n2. take the soapbar\n3. clean the soapbar with the sinkbasin\n4. put the soapbar in/on the toilet</plan>"


def _maker(max_steps: int = 30) -> TextEnvMaker:
    return TextEnvMaker(max_episode_steps=max_steps, subgoals="proposed")


def _expert_actions() -> list[str]:
    env = _maker()(ENV)
    env.reset(seed=SEED)
    return env.unwrapped.expert_plan()


def _collect(agent, max_steps: int = 30, group_size: int = 1):
    maker = _maker(max_steps)
    with Collector(maker, agent, num_slots=group_size, on_episode=maker.episode_hooks()) as c:
        trajs, _ = c.collect([(ENV, SEED)], group_size, stream=7)
    return trajs


def _expert_executor(plan_text: str = GOOD_PLAN):
    actions = iter(_expert_actions())

    def answer(role: str, prompt: str) -> str:
        return plan_text if role == PLANNER else f"<action>{next(actions)}</action>"

    return answer


# --- parsing ---------------------------------------------------------------------------------------


def test_parse_blueprint_numbered_lines_inline_and_round_trip():
    assert parse_blueprint("<plan>1. a b\n2. c</plan>").subgoals == ["a b", "c"]
    assert parse_blueprint("x <PLAN>1. a 2. c; d</plan> y").subgoals == ["a", "c", "d"]
    texts = ["a box on target at (6, 3)", "a box on target at (4, 2)"]
    assert parse_blueprint(format_blueprint(texts)).subgoals == texts


def test_parse_blueprint_bad_input_is_reported_never_raised():
    for text in ("", "no plan here", "<plan>1. unclosed", "<plan> 1. ; 2. </plan>", None):
        bp = parse_blueprint(text)
        assert bp.format_ok is False and bp.subgoals == [] and bp.error
    dup = parse_blueprint("<plan>1. A  b\n2. a B\n3. c</plan>")
    assert dup.subgoals == ["A b", "c"] and dup.duplicates == 1 and "repeated" in dup.error
    long = parse_blueprint("<plan>" + ";".join(str(i) + "x" for i in range(10)) + "</plan>", max_subgoals=3)
    assert long.subgoals == ["0x", "1x", "2x"] and long.truncated == 7


def test_prompt_templates_are_checked():
    with pytest.raises(ConfigError, match="executor"):
        HierarchicalPrompts(executor="{task} {plan}")
    with pytest.raises(ConfigError, match="hierarchy.mode"):
        HierarchyConfig(mode="tree")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="plan_format_penalty"):
        HierarchyConfig(plan_format_penalty=0.5)


# --- blueprint mode --------------------------------------------------------------------------------


def test_blueprint_segments_roles_and_env_subgoal_matching():
    backend = ScriptedBackend(_expert_executor())
    (traj,) = _collect(HierarchicalAgent(backend))
    assert traj.success
    # "find soapbar" named the env subgoal "find the soapbar": matched to the env's text and achieved
    assert traj.segments == [
        Segment(SUBGOALS[0], 0, 1, True),
        Segment(SUBGOALS[1], 1, 2, True),
        Segment(SUBGOALS[2], 2, 4, True),
        Segment(SUBGOALS[3], 4, 6, True),
    ]
    assert [g.role for g in traj.turns[0].generations] == [PLANNER, EXECUTOR]
    assert all([g.role for g in t.generations] == [EXECUTOR] for t in traj.turns[1:])
    assert traj.turns[0].info[InfoKeys.PLAN] == SUBGOALS and traj.turns[0].info[InfoKeys.PLANNER_PENALTY] == 0.0
    assert InfoKeys.PLAN not in traj.turns[1].info
    # one planner call for the episode, one executor call per step
    assert [role for role, _ in backend.calls].count(PLANNER) == 1


def test_executor_sees_task_current_subgoal_and_only_its_segment_history():
    backend = ScriptedBackend(_expert_executor())
    _collect(HierarchicalAgent(backend, config=HierarchyConfig(history_k=2)))
    executor_prompts = [p[0] for role, p in backend.calls if role == EXECUTOR]
    fourth = executor_prompts[3]  # second step of the "clean" segment
    assert "Subgoal: clean the soapbar with the sinkbasin" in fourth
    assert "clean some soapbar and put it in toilet" in fourth  # the task
    assert "> go to sinkbasin 2" in fourth  # the segment's own previous step
    assert "take soapbar 1 from garbagecan 1" not in fourth.split("Allowed:")[0]  # an earlier segment's step is not shown
    assert "put the soapbar" not in fourth  # later subgoals of the blueprint are not shown


def test_unparsable_plan_falls_back_to_the_task_goal_with_a_penalty():
    agent = HierarchicalAgent(ScriptedBackend(lambda role, p: "I will just do it" if role == PLANNER else "<action>look</action>"),
                              config=HierarchyConfig(max_segment_steps=50, plan_format_penalty=-0.25))
    (traj,) = _collect(agent, max_steps=6)
    info = traj.turns[0].info
    assert info[InfoKeys.PLAN_FORMAT_OK] is False and info[InfoKeys.PLANNER_PENALTY] == -0.25
    assert info[InfoKeys.PLAN] == ["clean some soapbar and put it in toilet."] and "no <plan>" in info[InfoKeys.PLAN_ERROR]
    assert [s.subgoal for s in traj.segments] == ["clean some soapbar and put it in toilet."]


def test_duplicate_and_empty_blueprints_are_handled_and_logged(caplog):
    dup = "<plan>1. find the soapbar\n2. find soapbar\n3. Take the soapbar\n4. take the  soapbar</plan>"
    agent = HierarchicalAgent(ScriptedBackend(_expert_executor(dup)))
    with caplog.at_level("INFO", logger="hiergym.agents.hierarchical"):
        (traj,) = _collect(agent, max_steps=4)
    info = traj.turns[0].info
    assert info[InfoKeys.PLAN] == SUBGOALS[:2] and info[InfoKeys.PLAN_FORMAT_OK] is True
    assert "repeated" in info[InfoKeys.PLAN_ERROR] and "same env subgoal" in info[InfoKeys.PLAN_ERROR]
    assert "planner blueprint" in caplog.text
    empty = HierarchicalAgent(ScriptedBackend(lambda role, p: "<plan> </plan>" if role == PLANNER else "<action>look</action>"))
    (traj,) = _collect(empty, max_steps=2)
    assert traj.turns[0].info[InfoKeys.PLAN_FORMAT_OK] is False and traj.turns[0].info[InfoKeys.PLANNER_PENALTY] < 0


def test_executor_that_never_ends_a_segment_is_cut_at_k_steps():
    agent = HierarchicalAgent(ScriptedBackend(lambda role, p: "<plan>1. dance\n2. sing</plan>" if role == PLANNER else "<action>look</action>"),
                              config=HierarchyConfig(max_segment_steps=3))
    (traj,) = _collect(agent, max_steps=8)
    assert traj.segments == [Segment("dance", 0, 3, False), Segment("sing", 3, 6, False), Segment("clean some soapbar and put it in toilet.", 6, 8, False)]


def test_done_tag_ends_the_segment_and_replan_after_a_failed_segment():
    answers = iter(["<done><action>look</action>"] + ["<action>look</action>"] * 20)
    plans = iter(["<plan>1. dance\n2. sing</plan>", "<plan>1. jump</plan>", "<plan>1. swim</plan>"])
    agent = HierarchicalAgent(ScriptedBackend(lambda role, p: next(plans) if role == PLANNER else next(answers)),
                              config=HierarchyConfig(max_segment_steps=2, replan=True, max_replans=2))
    (traj,) = _collect(agent, max_steps=7)
    # "dance" ends on <done> after 1 step (unachieved -> replan), "jump" is cut at k=2 (-> replan), then "swim"
    assert [(s.subgoal, s.start, s.end) for s in traj.segments] == [("dance", 0, 1), ("jump", 1, 3), ("swim", 3, 5), ("clean some soapbar and put it in toilet.", 5, 7)]
    planner_turns = [i for i, t in enumerate(traj.turns) if any(g.role == PLANNER for g in t.generations)]
    assert planner_turns == [0, 1, 3]  # start + two replans (max_replans=2), then no more


def test_oracle_plan_uses_the_env_subgoals_without_a_planner_call():
    backend = ScriptedBackend(_expert_executor("<plan>1. nonsense</plan>"))
    (traj,) = _collect(HierarchicalAgent(backend, config=HierarchyConfig(oracle_plan=True)))
    assert traj.success and traj.turns[0].info[InfoKeys.PLAN] == SUBGOALS
    assert [s.subgoal for s in traj.segments] == SUBGOALS and all(s.achieved for s in traj.segments)
    assert PLANNER not in {role for role, _ in backend.calls}


def test_two_models_each_play_one_role():
    planner = ScriptedBackend(lambda role, p: GOOD_PLAN)
    executor = ScriptedBackend(lambda role, p: "<action>look</action>")
    agent = HierarchicalAgent(planner, executor)
    assert not agent.shared
    _collect(agent, max_steps=3)
    assert {role for role, _ in planner.calls} == {PLANNER} and {role for role, _ in executor.calls} == {EXECUTOR}
    with pytest.raises(ConfigError, match="switch"):
        HierarchicalAgent(planner, executor, config=HierarchyConfig(mode="switch"))


def test_blueprint_with_env_workers_matches_in_process():
    """Subgoals cross the process boundary as plain dicts; matching and segments stay the same."""
    maker = _maker()
    results = []
    for workers in (0, 1):
        agent = HierarchicalAgent(ScriptedBackend(_expert_executor()))
        with Collector(maker, agent, num_slots=1, num_workers=workers, on_episode=maker.episode_hooks()) as c:
            (traj,), _ = c.collect([(ENV, SEED)], 1, stream=7)
        results.append((traj.segments, traj.turns[0].info[InfoKeys.PLAN]))
    assert results[0] == results[1]


# --- switch mode -----------------------------------------------------------------------------------


def test_switch_generation_is_split_into_planner_and_executor_records():
    backend = ScriptedBackend(lambda role, p: "")
    tok = backend.tokenizer
    text = "<switch>SWITCH</switch><subgoal>take the soapbar</subgoal><action>look</action>"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    gen = Generation([5, 6], ids, [-float(i) for i in range(len(ids))], text, role=EXECUTOR)
    planner, executor = split_switch_generation(gen, tok)
    assert planner.role == PLANNER and executor.role == EXECUTOR
    assert planner.text == "<switch>SWITCH</switch><subgoal>take the soapbar</subgoal>" and executor.text == "<action>look</action>"
    assert planner.response_ids + executor.response_ids == ids and executor.prompt_ids == [5, 6] + planner.response_ids
    assert planner.logprobs + executor.logprobs == gen.logprobs
    assert planner_part_end("<action>a</action><switch>KEEP</switch>") == 0
    (whole,) = split_switch_generation(Generation([1], ids[-3:], [0.0] * 3, "<action>look</action>", role=EXECUTOR), tok)
    assert whole.role == EXECUTOR


def test_switch_mode_opens_segments_on_switch_and_records_both_roles():
    actions = iter(_expert_actions())
    switch_plan = {0: SUBGOALS[0], 1: SUBGOALS[1], 2: SUBGOALS[2], 4: SUBGOALS[3]}
    step = iter(range(100))

    def answer(role: str, prompt: str) -> str:
        t = next(step)
        head = f"<switch>SWITCH</switch><subgoal>{switch_plan[t]}</subgoal>" if t in switch_plan else "<switch>KEEP</switch>"
        return head + f"<action>{next(actions)}</action>"

    (traj,) = _collect(HierarchicalAgent(ScriptedBackend(answer), config=HierarchyConfig(mode="switch")))
    assert traj.success
    assert [(s.subgoal, s.start, s.end, s.achieved) for s in traj.segments] == [
        (SUBGOALS[0], 0, 1, True), (SUBGOALS[1], 1, 2, True), (SUBGOALS[2], 2, 4, True), (SUBGOALS[3], 4, 6, True)]
    assert all([g.role for g in t.generations] == [PLANNER, EXECUTOR] for t in traj.turns)


def test_switch_mode_segments_are_cut_at_k_by_the_env_stack():
    """Switch mode has no agent-side cut: SubgoalHooks(max_segment_steps=k) ends a segment the model never switches out of."""
    answer = lambda role, prompt: "<switch>KEEP</switch><subgoal>dance</subgoal><action>look</action>"  # noqa: E731
    maker = TextEnvMaker(max_episode_steps=7, subgoals="proposed", subgoal_max_steps=3)
    with Collector(maker, HierarchicalAgent(ScriptedBackend(answer), config=HierarchyConfig(mode="switch")), num_slots=1, on_episode=maker.episode_hooks()) as c:
        (traj,), _ = c.collect([(ENV, SEED)], 1, stream=7)
    assert [(s.subgoal, s.start, s.end) for s in traj.segments] == [("dance", 0, 3), ("dance", 3, 6), ("dance", 6, 7)]


# --- a real tiny model ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["blueprint", "switch"])
def test_tiny_model_runs_both_modes_through_the_collector(tiny_backend, mode):
    from hiergym.agents.backend import SamplingParams

    agent = HierarchicalAgent(tiny_backend, config=HierarchyConfig(mode=mode, max_segment_steps=2, plan_max_new_tokens=8),
                              sampling=SamplingParams(max_new_tokens=6))
    trajs = _collect(agent, max_steps=3, group_size=2)
    assert len(trajs) == 2 and all(len(t) == 3 for t in trajs)
    roles = {g.role for t in trajs for turn in t.turns for g in turn.generations}
    assert EXECUTOR in roles and (PLANNER in roles if mode == "blueprint" else True)
    for t in trajs:
        assert t.segments and t.segments[0].start == 0 or mode == "switch"
    again = _collect(HierarchicalAgent(tiny_backend, config=HierarchyConfig(mode=mode, max_segment_steps=2, plan_max_new_tokens=8),
                                       sampling=SamplingParams(max_new_tokens=6)), max_steps=3, group_size=2)
    # every row samples from its own seed (the planner from one derived from it): the same stream gives the same episodes
    assert [[g.text for turn in t.turns for g in turn.generations] for t in again] == [[g.text for turn in t.turns for g in turn.generations] for t in trajs]
