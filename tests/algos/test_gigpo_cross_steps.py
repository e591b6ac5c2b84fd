"""GiGPO's episode part over step rows (verl-agent's trainer default compute_mean_std_cross_steps=True)."""

import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiergym.algos import GiGPOConfig, compute_advantages, gigpo_advantages
from hiergym.types import Trajectory, Turn

EPS = 1e-6


def verl_agent_episode_norm(scores, index, traj_index, *, epsilon=1e-6, remove_std=True, compute_mean_std_cross_steps=True):
    """A transcription of verl-agent ``gigpo/core_gigpo.py::episode_norm_reward`` for one scalar per row.

    Each row is one step; verl-agent's EpisodeRewardManager puts the episode's total reward on
    every step row, so ``scores[i]`` is the return of row i's episode. torch as there (float32
    scores, ``torch.std`` unbiased); a group of one row keeps mean 0 and std 1.
    """
    import torch

    scores = torch.tensor(scores, dtype=torch.float32)
    id2score, id2mean, id2std, seen_pairs = defaultdict(list), {}, {}, set()
    for i in range(scores.shape[0]):
        if (index[i], traj_index[i]) in seen_pairs:
            continue
        id2score[index[i]].append(scores[i])
        if not compute_mean_std_cross_steps:
            seen_pairs.add((index[i], traj_index[i]))
    for idx, values in id2score.items():
        if len(values) == 1:
            id2mean[idx], id2std[idx] = torch.tensor(0.0), torch.tensor(1.0)
        else:
            id2mean[idx] = torch.mean(torch.tensor(values))
            id2std[idx] = torch.std(torch.tensor([values]))
    for i in range(scores.shape[0]):
        if remove_std:
            scores[i] = scores[i] - id2mean[index[i]]
        else:
            scores[i] = (scores[i] - id2mean[index[i]]) / (id2std[index[i]] + epsilon)
    return scores.numpy().astype(np.float64)


def test_hand_computed_episode_part_over_step_rows():
    # One task group: episode A has 1 turn and return 1, episode B 3 turns and return 0.
    # Over episodes: mean 0.5, std sqrt(0.5)               -> A +0.7071, B -0.7071.
    # Over step rows [1, 0, 0, 0]: mean 0.25, std sqrt((0.75^2 + 3 * 0.25^2) / 3) = 0.5
    #                                                      -> A (1 - 0.25) / 0.5 = 1.5, B -0.25 / 0.5 = -0.5.
    args = ([1.0, 0.0, 0.0, 0.0], [0, 1, 1, 1], [0, 0, 0, 0], ["a", "b", "c", "d"])
    per_episode = gigpo_advantages(*args, return_parts=True).episode
    per_step = gigpo_advantages(*args, mean_std_cross_steps=True, return_parts=True).episode
    s = math.sqrt(0.5) + EPS
    np.testing.assert_allclose(per_episode, [0.5 / s, -0.5 / s, -0.5 / s, -0.5 / s], rtol=1e-12)
    np.testing.assert_allclose(per_step, [0.75 / (0.5 + EPS), -0.25 / (0.5 + EPS), -0.25 / (0.5 + EPS), -0.25 / (0.5 + EPS)], rtol=1e-12)
    centred = gigpo_advantages(*args, mean_std_cross_steps=True, normalize_std=False, return_parts=True).episode
    np.testing.assert_allclose(centred, [0.75, -0.25, -0.25, -0.25], rtol=1e-12)
    # The step part does not depend on the option.
    np.testing.assert_array_equal(gigpo_advantages(*args, return_parts=True).step, gigpo_advantages(*args, mean_std_cross_steps=True, return_parts=True).step)


@st.composite
def _batches(draw):
    """Episodes (1-6 turns) in 1-3 task groups; every group has at least two step rows (a group of
    one row is where the conventions differ: verl-agent keeps its raw return, we give 0)."""
    n_episodes = draw(st.integers(2, 10))
    lengths = draw(st.lists(st.integers(1, 6), min_size=n_episodes, max_size=n_episodes))
    groups = draw(st.lists(st.integers(0, 2), min_size=n_episodes, max_size=n_episodes))
    rows_per_group = defaultdict(int)
    for g, n in zip(groups, lengths):
        rows_per_group[g] += n
    if min(rows_per_group.values()) < 2:
        groups = [0] * n_episodes
    reward = st.sampled_from([-0.1, 0.0, 1.0, 10.0]) | st.floats(-5, 5, width=32)
    n = sum(lengths)
    rewards = draw(st.lists(reward, min_size=n, max_size=n))
    episodes = np.repeat(np.arange(n_episodes), lengths)
    return rewards, episodes, np.repeat(groups, lengths), lengths


@settings(max_examples=150, deadline=None)
@given(_batches(), st.booleans(), st.booleans())
def test_episode_part_matches_a_transcription_of_verl_agent(batch, cross_steps, normalize_std):
    rewards, episodes, groups, lengths = batch
    anchors = np.arange(len(rewards))  # no shared anchors: the step part is 0, the total is A^E
    ours = gigpo_advantages(rewards, episodes, groups, anchors, normalize_std=normalize_std, mean_std_cross_steps=cross_steps)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    returns = np.repeat(np.add.reduceat(np.asarray(rewards, dtype=np.float64), starts), lengths)
    # float32 episode returns as verl-agent holds them (its reward tensor is float32)
    theirs = verl_agent_episode_norm(returns.astype(np.float32), groups, episodes,
                                     remove_std=not normalize_std, compute_mean_std_cross_steps=cross_steps)
    constant_group = {g for g in set(groups) if np.ptp(returns[groups == g].astype(np.float32)) == 0}
    mask = ~np.isin(groups, list(constant_group))  # constant groups: 0 here, 0 / (0 + eps) there, both 0 up to float32 noise
    np.testing.assert_allclose(ours[mask], theirs[mask], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours[~mask], 0.0)


def test_the_config_option_reaches_the_estimator():
    def traj(group, rewards):
        return Trajectory(group, "hiergym/Test-v0", 0, turns=[Turn(f"o{i}", "act", reward=r) for i, r in enumerate(rewards)],
                          episode_return=sum(rewards))

    batch = [traj("g", [1.0]), traj("g", [0.0, 0.0, 0.0])]
    default = compute_advantages(batch, GiGPOConfig(anchor_fallback="none"))
    verl_like = compute_advantages(batch, GiGPOConfig(anchor_fallback="none", mean_std_cross_steps=True))
    np.testing.assert_allclose(default[0], [0.5 / (math.sqrt(0.5) + EPS)])
    np.testing.assert_allclose(verl_like[0], [0.75 / (0.5 + EPS)])
    np.testing.assert_allclose(verl_like[1], [-0.25 / (0.5 + EPS)] * 3)
    assert GiGPOConfig().mean_std_cross_steps is False


@pytest.mark.parametrize("normalize_std", [True, False])
def test_equal_length_episodes_give_the_same_advantages_either_way(normalize_std):
    # With every episode equally long, weighting by turns changes the mean not at all and the
    # std only through ddof (n episodes vs n*L rows): centred-only advantages are identical.
    rewards = [0.0, 1.0, 0.0, 0.0, 0.5, 0.5]
    args = (rewards, [0, 0, 1, 1, 2, 2], [0] * 6, list("abcdef"))
    a = gigpo_advantages(*args, normalize_std=normalize_std, return_parts=True).episode
    b = gigpo_advantages(*args, normalize_std=normalize_std, mean_std_cross_steps=True, return_parts=True).episode
    if normalize_std:
        assert np.all(np.sign(a) == np.sign(b)) and not np.allclose(a, b)
    else:
        np.testing.assert_allclose(a, b)
