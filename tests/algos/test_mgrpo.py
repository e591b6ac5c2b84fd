"""M-GRPO: rewards, A^main, A^sub and trajectory alignment against hand-computed numbers; config checks."""

import math

import numpy as np
import pytest

from hiergym.algos.mgrpo import (
    MGRPOConfig,
    align_calls,
    format_score,
    main_advantages,
    mgrpo_advantages,
    rollout_id_of,
    sub_advantages,
    weighted_reward,
)
from hiergym.error import ConfigError
from hiergym.types import Generation, Trajectory, Turn

EPS = 1e-6


# --- flat functions ------------------------------------------------------------------------------
def test_main_reward_and_advantage_hand_computed():
    # a1 = 0.5, a2 = 1: format 1, .5, 1, 0 and correct 1, 0, 0, 1 -> rewards 1.5, .25, .5, 1.0
    r = weighted_reward([1, 0.5, 1, 0], [1, 0, 0, 1], format_weight=0.5, correct_weight=1.0)
    np.testing.assert_allclose(r, [1.5, 0.25, 0.5, 1.0])
    adv = main_advantages(np.r_[r, [2.0, 2.0]], ["q"] * 4 + ["p"] * 2)
    # mean 3.25/4 = .8125; deviations .6875 -.5625 -.3125 .1875; squares sum .921875; sample var / 3
    sd = math.sqrt(0.921875 / 3) + EPS
    np.testing.assert_allclose(adv[:4], np.array([0.6875, -0.5625, -0.3125, 0.1875]) / sd, rtol=1e-12)
    assert adv[4] == adv[5] == 0.0  # a constant group carries no signal


def test_sub_advantage_groups_by_query_and_sub_agent():
    # query q: searcher calls 1, 0, 0 (one group), reader call 5 (alone); query p: searcher calls 2, 4
    rewards = [1.0, 0.0, 5.0, 0.0, 2.0, 4.0]
    queries = ["q", "q", "q", "q", "p", "p"]
    names = ["searcher", "searcher", "reader", "searcher", "searcher", "searcher"]
    adv = sub_advantages(rewards, queries, names)
    sd_q = math.sqrt(((2 / 3) ** 2 + 2 * (1 / 3) ** 2) / 2) + EPS  # mean 1/3
    sd_p = math.sqrt(2.0) + EPS  # 2 and 4: mean 3, deviations -1 +1, var 2
    np.testing.assert_allclose(adv, [(2 / 3) / sd_q, -(1 / 3) / sd_q, 0.0, -(1 / 3) / sd_q, -1 / sd_p, 1 / sd_p], rtol=1e-12)


def test_alignment_drops_duplicates_borrows_and_logs():
    # rollouts 0, 1, 2 ask query a; rollout 3 asks query b. calls: r0 x3, r1 x1, r2 none, r3 none
    call_rollouts = [0, 1, 0, 0]
    a = align_calls(call_rollouts, ["a", "a", "a", "b"], 2, seed=7)
    assert (a.duplicated, a.dropped, a.borrowed, a.empty_rollouts) == (1, 1, 2, 1)
    assert a.index.size == 6 and a.rollout.tolist() == [0, 0, 1, 1, 2, 2]
    r0 = a.index[:2].tolist()
    assert len(set(r0)) == 2 and set(r0) <= {0, 2, 3}  # two distinct calls of rollout 0, one dropped
    assert a.index[2:4].tolist() == [1, 1]  # rollout 1's single call, duplicated
    assert set(a.index[4:].tolist()) <= {0, 1, 2, 3}  # rollout 2 borrows calls of its query's rollouts
    assert a.log()["align/duplicated"] == 1.0
    again = align_calls(call_rollouts, ["a", "a", "a", "b"], 2, seed=7)
    np.testing.assert_array_equal(a.index, again.index)  # seeded


def test_alignment_exact_when_every_rollout_has_d_max_calls():
    a = align_calls([1, 0, 1, 0], ["a", "a"], 2, seed=0)
    assert sorted(a.index[:2].tolist()) == [1, 3] and sorted(a.index[2:].tolist()) == [0, 2]
    assert (a.duplicated, a.dropped, a.borrowed, a.empty_rollouts) == (0, 0, 0, 0)


def test_alignment_drops_and_duplicates_uniformly_at_random():
    dropped = np.zeros(3)
    dup = np.zeros(2)
    for seed in range(1000):
        keep = align_calls([0, 0, 0], [0], 2, seed=seed).index
        dropped[list({0, 1, 2} - set(keep.tolist()))] += 1
        rows = align_calls([0, 0], [0], 3, seed=seed).index
        dup[np.bincount(rows, minlength=2).argmax()] += 1
    np.testing.assert_allclose(dropped / 1000, 1 / 3, atol=0.06)  # ~4 standard errors
    np.testing.assert_allclose(dup / 1000, 1 / 2, atol=0.07)


def test_alignment_rejects_bad_input():
    with pytest.raises(ConfigError, match="d_max"):
        align_calls([0], ["a"], 0)
    with pytest.raises(ValueError, match="index the 1 rollouts"):
        align_calls([1], ["a"], 1)


# --- trajectory adapters -------------------------------------------------------------------------
def _main(group, copy, success, formats):
    turns = [Turn("obs", "answer[x]", info={"format_ok": f}, generations=[Generation([1], [2], [-0.1], "t", role="main")]) for f in formats]
    return Trajectory(group, "env", 0, turns=turns, success=success, meta={"copy": copy})


def _sub(parent, formats, returned=True, name="searcher"):
    turns = [Turn("q", "search[x]", info={"format_ok": f}, generations=[Generation([1], [2], [-0.1], "t", role=f"sub:{name}")]) for f in formats]
    return Trajectory(parent.split("/")[0], "env", 0, turns=turns, meta={"parent": parent, "sub_agent": name, "returned": returned})


def test_mgrpo_adapter_hand_computed():
    cfg = MGRPOConfig(group_size=2, main_format_weight=0.5, main_correct_weight=1.0, sub_format_weight=0.5, sub_correct_weight=1.0, max_sub_calls=2)
    mains = [_main("q", 0, True, [True, True]), _main("q", 1, False, [True, False])]
    # main rewards 0.5*1 + 1 = 1.5 and 0.5*0.5 + 0 = 0.25 -> +-1/sqrt(2) (two values: z = +-0.7071)
    subs = [
        _sub("q/0", [True, True]),  # 0.5 + 1 = 1.5
        _sub("q/1", [True, False]),  # 0.25 + 0 = 0.25
        _sub("q/1", [True], returned=False),  # cut without report: format 0 -> 0
        _sub("q/1", [True]),  # 0.5
    ]
    res = mgrpo_advantages(mains, subs, cfg, seed=3)
    z = 1 / math.sqrt(2)
    np.testing.assert_allclose(res.main.reward, [1.5, 0.25])
    np.testing.assert_allclose([a.tolist() for a in res.main_advantages], [[z, z], [-z, -z]], rtol=1e-5)
    np.testing.assert_allclose(res.sub.reward, [1.5, 0.25, 0.0, 0.5])
    m = 2.25 / 4
    dev = np.array([1.5, 0.25, 0.0, 0.5]) - m
    sd = math.sqrt((dev**2).sum() / 3) + EPS
    np.testing.assert_allclose(res.sub.advantage, dev / sd, rtol=1e-12)
    al = res.sub.alignment["searcher"]
    assert (al.duplicated, al.dropped, al.borrowed) == (1, 1, 0)
    assert len(res.sub.trajectories) == 4 == len(res.sub.advantages)  # 2 rollouts x D_max 2
    assert res.sub.trajectories[0] is subs[0] and res.sub.trajectories[1] is subs[0]  # q/0's one call twice
    for t, a in zip(res.sub.trajectories, res.sub.advantages):
        assert a.shape == (len(t.turns),) and np.all(a == res.sub.advantage[subs.index(t)])
    stats = res.stats()
    assert stats["mgrpo/main_correct"] == 0.5 and stats["mgrpo/align/searcher/dropped"] == 1.0


def test_sub_call_with_unknown_parent_raises():
    with pytest.raises(ValueError, match="not in the batch"):
        mgrpo_advantages([_main("q", 0, True, [True]), _main("q", 1, True, [True])], [_sub("zz/9", [True])], MGRPOConfig(group_size=2))


def test_format_score_and_rollout_id():
    assert format_score(_main("q", 0, True, [True, False, True, True])) == 0.75
    assert format_score(_sub("q/0", [True], returned=False)) == 0.0
    assert format_score(Trajectory("q", "env", 0)) == 0.0
    assert rollout_id_of(_main("q", 3, True, [True])) == "q/3"


@pytest.mark.parametrize(
    "field,value",
    [("group_size", 1), ("main_format_weight", -1.0), ("sub_correct_weight", float("inf")), ("max_sub_calls", 0), ("max_sub_calls", 1.5), ("eps", 0.0)],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=field):
        MGRPOConfig(**{field: value})


def test_config_rejects_constant_rewards():
    with pytest.raises(ConfigError, match="main_correct_weight"):
        MGRPOConfig(main_format_weight=0.0, main_correct_weight=0.0)


def test_a_sub_agent_without_calls_still_gets_an_alignment_log():
    from hiergym.algos.mgrpo import sub_part

    part = sub_part([], {"q/0": 1.0, "q/1": 0.0}, {"q/0": "q", "q/1": "q"}, MGRPOConfig(group_size=2), sub_names=["searcher"])
    a = part.alignment["searcher"]
    assert a.index.size == 0 and a.empty_rollouts == 2
    assert part.stats()["mgrpo/align/searcher/empty_rollouts"] == 2.0 and part.trajectories == []
