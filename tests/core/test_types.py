import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiergym.types import (
    Generation,
    Segment,
    Subgoal,
    Trajectory,
    Turn,
    load_jsonl,
    load_parquet,
    save_jsonl,
    save_parquet,
    to_jsonable,
)


def make_trajectory(n_turns: int = 3) -> Trajectory:
    turns = []
    for i in range(n_turns):
        gen = Generation(prompt_ids=[1, 2, 3], response_ids=[4, 5], logprobs=[-0.5, -1.25], text="<action>up</action>", role="executor")
        plan = Generation(prompt_ids=[7], response_ids=[8], logprobs=[-0.1], text="push box", role="planner")
        turns.append(
            Turn(
                observation=f"obs {i} ünïcode",
                action="up",
                raw_action="<action>up</action>",
                reward=-0.1 * i,
                terminated=i == n_turns - 1,
                anchor=f"a{i % 2}",
                subgoal="box 0 on target",
                subgoal_done=i == 1,
                action_valid=True,
                generations=[plan, gen] if i == 0 else [gen],
                info={"won": False, "admissible_actions": ["up", "down"], "nested": {"x": [1, 2.5]}},
            )
        )
    return Trajectory(
        group_id="g0",
        env_id="hiergym/Sokoban-v0",
        seed=7,
        turns=turns,
        episode_return=sum(t.reward for t in turns),
        success=True,
        segments=[Segment("box 0 on target", 0, 2, True), Segment("box 1 on target", 2, 3, False)],
        meta={"policy_version": 3},
    )


def test_jsonl_round_trip_is_lossless(tmp_path):
    trajs = [make_trajectory(3), make_trajectory(1)]
    path = save_jsonl(trajs, tmp_path / "t.jsonl")
    back = load_jsonl(path)
    assert back == trajs
    assert isinstance(back[0].segments[0], Segment)


def test_parquet_round_trip_is_lossless(tmp_path):
    pytest.importorskip("pyarrow")
    trajs = [make_trajectory(2), make_trajectory(4)]
    assert load_parquet(save_parquet(trajs, tmp_path / "t.parquet")) == trajs


def test_jsonl_append_keeps_earlier_records(tmp_path):
    path = tmp_path / "t.jsonl"
    save_jsonl([make_trajectory(1)], path)
    save_jsonl([make_trajectory(2)], path, append=True)
    assert [len(t) for t in load_jsonl(path)] == [1, 2]


def test_malformed_jsonl_line_names_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(make_trajectory(1).to_dict()) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        load_jsonl(path)


def test_generation_checks_logprob_count_and_role():
    with pytest.raises(ValueError, match="one sampling-time log-prob per response token"):
        Generation(prompt_ids=[1], response_ids=[2, 3], logprobs=[-1.0], text="x")
    with pytest.raises(ValueError, match="role="):
        Generation(prompt_ids=[1], response_ids=[2], logprobs=[-1.0], text="x", role="boss")
    Generation(prompt_ids=[1], response_ids=[2], logprobs=[-1.0], text="x", role="sub:search")


def test_to_jsonable_handles_numpy_and_subgoals():
    sg = Subgoal("b0", "push box 0 onto a target", check=lambda s: True, target=(np.int64(2), 3))
    out = to_jsonable({"a": np.arange(3), "b": np.float32(1.5), "sg": [sg], "t": (1, 2)})
    assert out == {"a": [0, 1, 2], "b": 1.5, "sg": [{"id": "b0", "text": "push box 0 onto a target", "target": [2, 3]}], "t": [1, 2]}
    json.dumps(out)
    with pytest.raises(TypeError, match="cannot serialise"):
        to_jsonable(object())


@settings(max_examples=50, deadline=None)
@given(
    rewards=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=5),
    text=st.text(max_size=30),
)
def test_round_trip_property(rewards, text):
    turns = [Turn(observation=text, action=text or None, raw_action=text, reward=r) for r in rewards]
    t = Trajectory(group_id=text, env_id="e", seed=0, turns=turns, episode_return=sum(rewards))
    assert Trajectory.from_dict(json.loads(json.dumps(t.to_dict()))) == t
