"""HRPO wired to the rest: compute_advantages takes HRPOConfig, the planner's format penalty reaches the macro level only,
build_batch gives planner rows macro and executor rows micro advantages, on trajectories the HierarchicalAgent records."""

from __future__ import annotations

import numpy as np
import pytest

from hiergym.algos import HRPOConfig, compute_advantages, hrpo_advantages, hrpo_trajectory_parts
from hiergym.info_keys import InfoKeys
from hiergym.types import Generation, Segment, Trajectory, Turn


def _gen(role: str, n: int = 2) -> Generation:
    return Generation([1, 2], [3] * n, [-0.1] * n, "x", role=role)


def _episode(rewards: list[float], penalty: float | None = None, copy: int = 0) -> Trajectory:
    turns = []
    for t, r in enumerate(rewards):
        gens = ([_gen("planner", 3)] if t == 0 else []) + [_gen("executor")]
        info = {InfoKeys.PLANNER_PENALTY: penalty} if (t == 0 and penalty is not None) else {}
        turns.append(Turn(observation=f"o{t}", action="a", reward=r, anchor=f"s{t}", generations=gens, info=info))
    return Trajectory("E#0", "E", 0, turns=turns, episode_return=sum(rewards), segments=[Segment("g", 0, len(rewards), False)], meta={"copy": copy})


def test_compute_advantages_with_hrpo_config_is_per_role():
    trajs = [_episode([0.0, 1.0]), _episode([0.0, 0.0], copy=1)]
    cfg = HRPOConfig(group_size=2)
    got = compute_advantages(trajs, cfg)
    want = hrpo_advantages(trajs, cfg)
    assert set(got) == {"planner", "executor"}
    for role in got:
        for a, b in zip(got[role], want[role]):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="HRPOConfig"):
        compute_advantages(trajs, object())  # type: ignore[arg-type]


def test_planner_penalty_moves_the_macro_level_only():
    # equal env returns (1 and 1): without the penalty the plans tie (macro 0); with -0.1 on plan 1 the
    # plan returns are 1 and 0.9: z = +-0.05 / std([1, 0.9], ddof=1) = +-0.05 / 0.0707107 = +-0.7071
    cfg = HRPOConfig(group_size=2, action_weight=0.0)
    plain = hrpo_trajectory_parts([_episode([0.0, 1.0]), _episode([1.0, 0.0], copy=1)], cfg)
    penalised = hrpo_trajectory_parts([_episode([0.0, 1.0]), _episode([1.0, 0.0], penalty=-0.1, copy=1)], cfg)
    np.testing.assert_allclose(plain.planner, 0.0)
    np.testing.assert_allclose(penalised.planner, [0.70710, 0.70710, -0.70710, -0.70710], atol=1e-4)
    np.testing.assert_allclose(penalised.step, plain.step)
    np.testing.assert_allclose(penalised.segment[penalised.segment_group_size > 1], plain.segment[plain.segment_group_size > 1])


def test_build_batch_gives_planner_rows_macro_and_executor_rows_micro():
    from hiergym.algos import build_batch

    trajs = [_episode([0.0, 1.0]), _episode([0.0, 0.0], copy=1)]
    adv = compute_advantages(trajs, HRPOConfig(group_size=2))
    batch = build_batch(trajs, adv, pad_token_id=0)
    assert batch.role == ["planner", "executor", "executor", "planner", "executor", "executor"]
    per_row = (batch.advantages * batch.response_mask).sum(1) / batch.response_mask.sum(1)
    expected = [adv["planner"][0][0], adv["executor"][0][0], adv["executor"][0][1], adv["planner"][1][0], adv["executor"][1][0], adv["executor"][1][1]]
    np.testing.assert_allclose(per_row.numpy(), expected, rtol=1e-6)
    assert adv["planner"][0][0] > 0 > adv["planner"][1][0]  # the plan whose execution earned more gets the positive macro advantage
    only_planner = build_batch(trajs, adv, pad_token_id=0, roles={"planner"})
    assert only_planner.role == ["planner", "planner"]


def test_hrpo_on_collected_hierarchical_trajectories():
    """The agent's recorded segments, roles and planner penalty flow into HRPO without adapters."""
    from hiergym.agents.hierarchical import HierarchicalAgent, HierarchyConfig
    from hiergym.collector import Collector
    from hiergym.training.env_stack import TextEnvMaker
    from tests.agents.hierarchical_fixtures import ScriptedBackend

    calls = iter(range(1000))
    plans = ["<plan>1. find the soapbar\n2. take the soapbar</plan>", "no plan"]

    def answer(role, prompt):
        return plans[next(calls) % 2] if role == "planner" else "<action>look</action>"

    maker = TextEnvMaker(max_episode_steps=4, subgoals="proposed")
    agent = HierarchicalAgent(ScriptedBackend(answer), config=HierarchyConfig(max_segment_steps=2))
    with Collector(maker, agent, num_slots=1, on_episode=maker.episode_hooks()) as c:
        trajs, _ = c.collect([("hiergym/Household-PickClean-v0", 3)], 2, stream=0)
    assert [t.turns[0].info[InfoKeys.PLAN_FORMAT_OK] for t in trajs] == [True, False]
    adv = compute_advantages(trajs, HRPOConfig(group_size=2))
    # same env return (nothing achieved): the unparsable plan's penalty alone ranks the plans
    assert adv["planner"][0][0] > 0 > adv["planner"][1][0]
    assert all(len(a) == len(t) for a, t in zip(adv["executor"], trajs))
