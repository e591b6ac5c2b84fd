"""GRPO / GiGPO advantages and discounted returns against hand-computed numbers and a loop oracle."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiergym.algos import discounted_returns, episode_returns, gigpo_advantages, grpo_advantages
from hiergym.algos import segments

EPS = 1e-6
_BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "advantages.py"
_spec = importlib.util.spec_from_file_location("bench_advantages", _BENCH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
gigpo_loop_reference = bench.gigpo_loop_reference


# --- GRPO ------------------------------------------------------------------------------
def test_grpo_hand_computed():
    # group a: returns 1, 2, 3 -> mean 2, sample std sqrt((1 + 0 + 1) / 2) = 1 -> z = -1, 0, 1 (over 1 + eps)
    # group b: 5, 5 -> zero std -> 0; group c: a single episode -> 0
    adv = grpo_advantages([1.0, 2.0, 3.0, 5.0, 5.0, 7.0], ["a", "a", "a", "b", "b", "c"])
    np.testing.assert_allclose(adv, [-1 / (1 + EPS), 0, 1 / (1 + EPS), 0, 0, 0], rtol=1e-12)


def test_grpo_dr_grpo_is_mean_centred_only():
    # std off: 1 - 2, 2 - 2, 3 - 2
    np.testing.assert_allclose(grpo_advantages([1.0, 2.0, 3.0], [0, 0, 0], normalize_std=False), [-1, 0, 1])


def test_grpo_leave_one_out():
    # baselines are the mean of the others: (2+3)/2 = 2.5, (1+3)/2 = 2, (1+2)/2 = 1.5 -> -1.5, 0, 1.5
    np.testing.assert_allclose(
        grpo_advantages([1.0, 2.0, 3.0], [0, 0, 0], normalize_std=False, leave_one_out=True), [-1.5, 0, 1.5]
    )
    # ... then divided by the group std (1)
    np.testing.assert_allclose(
        grpo_advantages([1.0, 2.0, 3.0], [0, 0, 0], leave_one_out=True), np.array([-1.5, 0, 1.5]) / (1 + EPS)
    )


def test_grpo_uses_sample_std_ddof1():
    # returns 0, 4: mean 2, ddof=1 std = sqrt((4 + 4) / 1) = 2.828..., so z = -+2 / 2.828 = -+0.7071
    np.testing.assert_allclose(grpo_advantages([0.0, 4.0], [1, 1]), [-2 / (math.sqrt(8) + EPS), 2 / (math.sqrt(8) + EPS)])


def test_grpo_string_and_int_ids_agree():
    r = [0.3, 1.0, -2.0, 0.5, 0.5, 4.0]
    np.testing.assert_array_equal(
        grpo_advantages(r, ["x", "y", "x", "y", "z", "z"]), grpo_advantages(r, [7, 9, 7, 9, 100, 100])
    )


def test_grpo_rejects_bad_input():
    with pytest.raises(ValueError, match="non-finite.*row 1"):
        grpo_advantages([1.0, float("nan")], [0, 0])
    with pytest.raises(ValueError, match="shape"):
        grpo_advantages([1.0, 2.0], [0, 0, 0])


_returns = st.lists(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 10.0]) | st.floats(-100, 100), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(_returns, st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_grpo_sums_to_zero_per_group_and_is_permutation_invariant(returns, n_groups, seed):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, size=len(returns))
    adv = grpo_advantages(returns, groups)
    for g in np.unique(groups):
        assert abs(adv[groups == g].sum()) < 1e-6 * max(1.0, np.abs(adv).max())
    perm = rng.permutation(len(returns))
    np.testing.assert_allclose(grpo_advantages(np.asarray(returns)[perm], groups[perm]), adv[perm], atol=1e-12)


# --- discounted returns ------------------------------------------------------------------
def test_discounted_returns_hand_computed():
    # gamma 0.5; episode 0: [1, 2] -> [1 + 0.5*2, 2] = [2, 2]
    # episode 1: [3, 4, 5] -> [3 + 0.5*4 + 0.25*5, 4 + 0.5*5, 5] = [6.25, 6.5, 5]
    np.testing.assert_allclose(discounted_returns([1, 2, 3, 4, 5], [0, 0, 1, 1, 1], 0.5), [2, 2, 6.25, 6.5, 5])


def test_discounted_returns_edge_gammas_and_episode_returns():
    r = [1.0, 2.0, 3.0, 4.0]
    ep = ["a", "a", "b", "b"]
    np.testing.assert_array_equal(discounted_returns(r, ep, 0.0), r)
    np.testing.assert_allclose(discounted_returns(r, ep, 1.0), [3, 2, 7, 4])
    np.testing.assert_allclose(episode_returns(r, ep), [3, 3, 7, 7])
    assert discounted_returns([], [], 0.9).shape == (0,)
    with pytest.raises(ValueError, match="gamma"):
        discounted_returns(r, ep, 1.5)


def _loop_returns(rewards, lengths, gamma):
    out, start = [], 0
    for n in lengths:
        running, seg = 0.0, []
        for x in reversed(rewards[start : start + n]):
            running = x + gamma * running
            seg.append(running)
        out.extend(reversed(seg))
        start += n
    return np.array(out)


@pytest.mark.parametrize("gamma", [0.95, 0.999, 1.0])
def test_discounted_returns_long_episodes_stay_exact(gamma):
    # a 20k-turn episode next to tiny ones: gamma^-t would overflow; the segmented scan must not leak or drift
    rng = np.random.default_rng(0)
    lengths = [3, 20_000, 1, 7_000, 2]
    rewards = rng.normal(size=sum(lengths)) * 10
    ep = np.repeat(np.arange(len(lengths)), lengths)
    np.testing.assert_allclose(discounted_returns(rewards, ep, gamma), _loop_returns(rewards.tolist(), lengths, gamma), rtol=1e-9, atol=1e-8)


def test_non_contiguous_episodes_raise():
    with pytest.raises(ValueError, match="contiguous"):
        discounted_returns([1, 2, 3], [0, 1, 0], 0.9)


# --- GiGPO -------------------------------------------------------------------------------
def _hand_case():
    """Task group g (3 episodes) and h (1 episode), gamma 0.5, omega 0.5; anchors A, B, C."""
    rewards = [0, 0, 1, 0, 1, 0, 0, 0, 2]
    episodes = [0, 0, 0, 1, 1, 2, 2, 2, 3]
    groups = ["g"] * 8 + ["h"]
    anchors = ["A", "B", "C", "A", "C", "A", "B", "B", "A"]
    return rewards, episodes, groups, anchors


def test_gigpo_hand_computed():
    # Episode part, group g: returns R = 1, 1, 0; mean 2/3; deviations 1/3, 1/3, -2/3;
    #   ddof=1 variance (1/9 + 1/9 + 4/9) / 2 = 1/3 -> std sqrt(1/3). Group h has one episode -> 0.
    s_e = math.sqrt(1 / 3) + EPS
    a_e = [1 / 3 / s_e] * 3 + [1 / 3 / s_e] * 2 + [-2 / 3 / s_e] * 3 + [0.0]
    # Return-to-go with gamma 0.5: ep0 [0.25, 0.5, 1], ep1 [0.5, 1], ep2 [0, 0, 0], ep3 [2].
    # Step group (g, A) = {ep0 t0: 0.25, ep1 t0: 0.5, ep2 t0: 0}: mean 0.25, var (0 + 1/16 + 1/16) / 2 -> std 0.25
    # Step group (g, B) = {ep0 t1: 0.5, ep2 t1: 0, ep2 t2: 0}: mean 1/6, var (1/9 + 1/36 + 1/36) / 2 = 1/12
    # Step group (g, C) = {ep0 t2: 1, ep1 t1: 1}: constant -> 0.   (h, A) is a singleton -> 0.
    s_a, s_b = 0.25 + EPS, math.sqrt(1 / 12) + EPS
    a_s = [0 / s_a, (1 / 3) / s_b, 0.0, 0.25 / s_a, 0.0, -0.25 / s_a, (-1 / 6) / s_b, (-1 / 6) / s_b, 0.0]
    parts = gigpo_advantages(*_hand_case(), gamma=0.5, omega=0.5, return_parts=True)
    np.testing.assert_allclose(parts.episode, a_e, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(parts.step, a_s, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(parts.total, np.array(a_e) + 0.5 * np.array(a_s), rtol=1e-12)
    np.testing.assert_array_equal(parts.step_group_size, [3, 3, 2, 3, 2, 3, 3, 3, 1])
    np.testing.assert_allclose(gigpo_advantages(*_hand_case(), gamma=0.5, omega=0.5), parts.total)


def test_gigpo_action_credit_hand_computed():
    # One task group, gamma 1. State s: ep0 takes a -> return-to-go 1, ep1 takes a -> 0, ep2 takes b -> 1.
    #   V(s) = mean(1, 0, 1) = 2/3, std (ddof=1) = sqrt(1/3); Q(s, a) = 1/2, Q(s, b) = 1.
    #   A^S(a) = (1/2 - 2/3) / sqrt(1/3) on both a-turns, A^S(b) = (1 - 2/3) / sqrt(1/3).
    # State t (ep0 and ep2, both take c): the same choice, so 0 although the returns differ (1 vs 0).
    rewards = [0, 1, 0, 1, 0]
    episodes = [0, 0, 1, 2, 2]
    anchors = ["s", "t", "s", "s", "t"]
    actions = ["a", "c", "a", "b", "c"]
    parts = gigpo_advantages(rewards, episodes, [0] * 5, anchors, gamma=1.0, actions=actions, return_parts=True)
    s = math.sqrt(1 / 3) + EPS
    np.testing.assert_allclose(parts.step, [(0.5 - 2 / 3) / s, 0.0, (0.5 - 2 / 3) / s, (1 - 2 / 3) / s, 0.0], rtol=1e-12)
    # the paper's per-visit form credits each visit with its own return instead
    visit = gigpo_advantages(rewards, episodes, [0] * 5, anchors, gamma=1.0, return_parts=True)
    assert visit.step[1] != 0.0 and visit.step[0] != visit.step[2]
    # a key per turn makes the two forms equal
    unique = gigpo_advantages(rewards, episodes, [0] * 5, anchors, gamma=1.0, actions=list("vwxyz"), return_parts=True)
    np.testing.assert_allclose(unique.step, visit.step, rtol=1e-12)
    with pytest.raises(ValueError, match="actions has shape"):
        gigpo_advantages(rewards, episodes, [0] * 5, anchors, actions=["a"])


def test_gigpo_episode_part_counts_each_episode_once():
    # verl-agent would average over step rows (the 3-turn episode weighing 3x); we z-score per episode:
    # returns 1 (one turn) and 0 (three turns) -> z = +-1/sqrt(2) / (std sqrt(0.5)) = +-0.7071 / 0.7071 = +-1
    parts = gigpo_advantages([1, 0, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0], ["a", "b", "c", "d"], return_parts=True)
    s = math.sqrt(0.5) + EPS
    np.testing.assert_allclose(parts.episode, [0.5 / s, -0.5 / s, -0.5 / s, -0.5 / s])


def test_gigpo_mean_only_normalisation():
    # normalize_std=False (verl-agent's "mean_norm"): episode part R - mean = 1 - 2/3, ...; step part G - mean
    parts = gigpo_advantages(*_hand_case(), gamma=0.5, omega=1.0, normalize_std=False, return_parts=True)
    np.testing.assert_allclose(parts.episode[:3], [1 / 3] * 3)
    np.testing.assert_allclose(parts.step[:2], [0.25 - 0.25, 0.5 - 1 / 6])


def test_gigpo_rejects_bad_input():
    with pytest.raises(ValueError, match="constant within an episode"):
        gigpo_advantages([1, 2], [0, 0], ["g", "h"], ["a", "b"])
    with pytest.raises(ValueError, match="one entry per turn"):
        gigpo_advantages([1, 2], [0, 0], ["g"], ["a", "b"])
    with pytest.raises(ValueError, match="contiguous"):
        gigpo_advantages([1, 2, 3], [0, 1, 0], [0, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError, match="non-finite"):
        gigpo_advantages([1, float("inf")], [0, 0], [0, 0], [0, 0])


@st.composite
def _gigpo_inputs(draw):
    n_episodes = draw(st.integers(1, 12))
    lengths = draw(st.lists(st.integers(1, 6), min_size=n_episodes, max_size=n_episodes))
    ep_groups = draw(st.lists(st.integers(0, 2), min_size=n_episodes, max_size=n_episodes))
    n = sum(lengths)
    reward = st.sampled_from([-0.1, 0.0, 1.0, 10.0]) | st.floats(-5, 5)
    rewards = draw(st.lists(reward, min_size=n, max_size=n))
    anchors = draw(st.lists(st.sampled_from(["s0", "s1", "s2", "s3"]), min_size=n, max_size=n))
    episodes = np.repeat(np.arange(n_episodes), lengths).tolist()
    groups = [f"task{g}" for g in np.repeat(ep_groups, lengths)]
    return rewards, episodes, groups, anchors


@settings(max_examples=80, deadline=None)
@given(_gigpo_inputs(), st.sampled_from([0.0, 0.5, 0.95, 1.0]), st.sampled_from([0.0, 1.0, 0.3]), st.booleans())
def test_gigpo_matches_loop_reference(inputs, gamma, omega, normalize_std):
    ours = gigpo_advantages(*inputs, gamma=gamma, omega=omega, normalize_std=normalize_std)
    ref = gigpo_loop_reference(*inputs, gamma=gamma, omega=omega, normalize_std=normalize_std)
    np.testing.assert_allclose(ours, ref, rtol=1e-7, atol=1e-7)
    # integer keys (anchor "s3" -> 3; the same anchor occurs in several task groups) take another path
    rewards, episodes, groups, anchors = inputs
    int_keys = ([int(g[4:]) for g in groups], [int(a[1:]) for a in anchors])
    as_ints = gigpo_advantages(rewards, episodes, *int_keys, gamma=gamma, omega=omega, normalize_std=normalize_std)
    np.testing.assert_allclose(as_ints, ours, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(_gigpo_inputs(), st.integers(0, 2**32 - 1))
def test_gigpo_invariant_to_episode_order(inputs, seed):
    rewards, episodes, groups, anchors = map(np.asarray, inputs)
    n_episodes = episodes.max() + 1
    perm = np.random.default_rng(seed).permutation(n_episodes)
    rows = np.concatenate([np.flatnonzero(episodes == e) for e in perm])
    ours = gigpo_advantages(rewards, episodes, groups, anchors)
    np.testing.assert_allclose(gigpo_advantages(rewards[rows], episodes[rows], groups[rows], anchors[rows]), ours[rows], atol=1e-9)


# --- key factorisation ---------------------------------------------------------------------
def test_factorize_strings_survives_hash_collisions(monkeypatch):
    keys = np.array(["alpha", "beta", "alpha", "gamma", "beta"])
    monkeypatch.setattr(segments, "_string_hashes", lambda words: np.zeros(words.shape[0], dtype=np.uint64))
    codes, n = segments.factorize(keys)
    assert n == 3 and codes[0] == codes[2] and codes[1] == codes[4] and len({codes[0], codes[1], codes[3]}) == 3
    # pairs (task group, anchor): (0,alpha) (0,beta) (1,alpha) (0,gamma) (0,beta) -> rows 1 and 4 equal
    monkeypatch.setattr(segments, "_PREFIX_MULTIPLIER", np.uint64(0))
    codes, n = segments.factorize_pairs(np.array([0, 0, 1, 0, 0]), keys)
    assert n == 4 and codes[1] == codes[4] and len(set(codes[[0, 1, 2, 3]].tolist())) == 4


@pytest.mark.parametrize("as_ints", [False, True])
@settings(max_examples=40, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["", "a", "ab", "b", "abc" * 5])), min_size=1, max_size=30))
def test_factorize_pairs_matches_python_tuples(pairs, as_ints):
    keys = np.array([k for _, k in pairs])
    if as_ints:
        keys = np.array([len(k) * 7 for k in keys])
        pairs = [(p, len(k) * 7) for p, k in pairs]
    codes, n = segments.factorize_pairs(np.array([p for p, _ in pairs]), keys)
    assert n == len(set(pairs))
    first_code = {}
    for pair, code in zip(pairs, codes.tolist()):
        assert first_code.setdefault(pair, code) == code
    assert len(set(first_code.values())) == n


@pytest.mark.parametrize(
    "keys",
    [[5, 5, 3, 10**12, 3], ["b", "a", "b", "", "a"], np.array(["x" * 9, "y", "x" * 9], dtype=object), [True, False, True]],
)
def test_factorize_equal_keys_equal_codes(keys):
    codes, n = segments.factorize(keys)
    keys = list(keys)
    assert n == len(set(keys)) and sorted(set(codes.tolist())) == list(range(n))
    for i in range(len(keys)):
        for j in range(len(keys)):
            assert (codes[i] == codes[j]) == (keys[i] == keys[j])
