"""Group-relative advantage estimators (GRPO, GiGPO) as pure, vectorised functions over flat arrays.

z(x, G) = (x - mean_G x) / (std_G x + eps) with the unbiased sample std (ddof=1, as TRL and
verl); a group of one, or a group whose values are all equal, gets 0.

- GRPO (Shao et al. 2024): one value per episode, A_i = z(R_i, task group).
- GiGPO (Feng et al. 2025, "Group-in-Group Policy Optimization"): per turn,
  A = A^E + omega * A^S, with A^E = z(episode return, task group) over *episodes* and
  A^S = z(G_t, step group), G_t the discounted return-to-go and the step group = the turns of
  one task group that share an anchor state. ``mean_std_cross_steps=True`` takes A^E's mean and
  std over the group's *turns* instead (each episode weighs once per turn): verl-agent's trainer
  default ``compute_mean_std_cross_steps=True`` in ``gigpo/core_gigpo.py::episode_norm_reward``,
  for exact comparison with verl-agent runs (there, a group with a single row keeps its raw
  return; here it gets 0 as everywhere else).
  ``step_credit="action"`` (an option of ours, not the paper's) replaces each turn's own G_t by
  the mean G_t of the turns of its step group that took the *same action*, Q(s, a) - V(s) in
  Monte-Carlo form: turns that made the same choice from the same state get the same step
  advantage, and a step group where every turn made the same choice gets 0 (there was no choice
  to credit), instead of crediting a move with what happened many turns later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from hiergym.algos.returns import discounted_returns_by_segment
from hiergym.algos.segments import GroupStats, factorize, factorize_pairs, group_zscore, segment_starts

ArrayLike = Sequence | np.ndarray


def as_finite(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a float64 vector; NaN or inf raises naming the first bad row (never a silent NaN advantage)."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ValueError(f"{name} has {bad.size} non-finite values (first at row {bad[0]}: {x[bad[0]]!r})")
    return x


def grpo_advantages(
    returns: ArrayLike,
    group_ids: ArrayLike,
    *,
    normalize_std: bool = True,
    leave_one_out: bool = False,
    eps: float = 1e-6,
) -> np.ndarray:
    """``[E]`` GRPO advantage of each episode: z-score of its return within its task group.

    ``returns[E]`` one value per episode, ``group_ids[E]`` ints or strings. ``normalize_std=False``
    only subtracts the group mean (Dr. GRPO); ``leave_one_out=True`` uses the mean of the other
    episodes of the group as baseline (RLOO), still divided by the group std if ``normalize_std``.
    """
    r = as_finite(returns, "returns")
    groups = GroupStats.of(group_ids)
    if groups.codes.shape != r.shape:
        raise ValueError(f"returns has shape {r.shape} but group_ids has shape {groups.codes.shape}")
    return group_zscore(r, groups, normalize_std=normalize_std, leave_one_out=leave_one_out, eps=eps)


class GiGPOParts(NamedTuple):
    """GiGPO advantages per turn and their two parts (for logging): ``total = episode + omega * step``."""

    total: np.ndarray
    episode: np.ndarray
    step: np.ndarray
    step_group_size: np.ndarray
    """``[N]`` how many turns share this turn's step group (1 = singleton, A^S = 0)."""


def gigpo_advantages(
    rewards: ArrayLike,
    episode_ids: ArrayLike,
    group_ids: ArrayLike,
    anchors: ArrayLike,
    *,
    gamma: float = 0.95,
    omega: float = 1.0,
    normalize_std: bool = True,
    eps: float = 1e-6,
    mean_std_cross_steps: bool = False,
    actions: ArrayLike | None = None,
    return_parts: bool = False,
) -> np.ndarray | GiGPOParts:
    """``[N]`` GiGPO advantage per turn, A = A^E + omega * A^S; all inputs ``[N]``, one row per turn.

    The turns of an episode are adjacent rows in time order; ``group_ids`` must be constant within
    an episode. By default the episode part is a z-score over *episodes* (each episode counts once,
    however long; the paper's Eq. 3). ``mean_std_cross_steps=True`` computes it over step rows
    instead: every turn carries its episode's return and the group mean and std are taken over
    turns, so long episodes weigh more (verl-agent's trainer default). ``return_parts=True``
    returns ``GiGPOParts`` (total, A^E, A^S and step-group sizes) for logging. ``actions[N]`` (any
    keys, e.g. the parsed action text) switches A^S to action credit: (mean_{s,a} G - mean_s G) /
    std_s G, the mean over the step group's turns that took the same action (module docstring).
    """
    r = as_finite(rewards, "rewards")
    episodes = np.asarray(episode_ids)
    groups = np.asarray(group_ids)
    anchors = np.asarray(anchors)
    if not (r.shape == episodes.shape == groups.shape == anchors.shape):
        raise ValueError(
            f"rewards {r.shape}, episode_ids {episodes.shape}, group_ids {groups.shape} and anchors "
            f"{anchors.shape} must all have one entry per turn"
        )
    starts = segment_starts(episodes)
    lengths = np.diff(np.r_[starts, r.size])
    continues = np.ones(r.size, dtype=bool)
    continues[starts] = False  # True on every turn after an episode's first
    if np.any((groups[1:] != groups[:-1]) & continues[1:]):
        raise ValueError("group_ids must be constant within an episode (one task group per episode)")
    episode_group, n_groups = factorize(groups[starts])  # one key per episode, not per turn
    group_codes = np.repeat(episode_group, lengths)
    episode_return = np.add.reduceat(r, starts) if r.size else r
    if mean_std_cross_steps:  # one value per turn: the group statistics weigh episodes by length
        turn_groups = GroupStats(group_codes, n_groups)
        a_episode = group_zscore(np.repeat(episode_return, lengths), turn_groups, normalize_std=normalize_std, eps=eps)
    else:
        a_episode = np.repeat(
            grpo_advantages(episode_return, episode_group, normalize_std=normalize_std, eps=eps), lengths
        )
    step_codes, n_steps = factorize_pairs(group_codes, anchors)
    step_groups = GroupStats(step_codes, n_steps)
    rtg = discounted_returns_by_segment(r, starts, gamma)
    if actions is None:
        a_step = group_zscore(rtg, step_groups, normalize_std=normalize_std, eps=eps)
    else:
        a_step = action_credit(rtg, step_groups, actions, normalize_std=normalize_std, eps=eps)
    parts = GiGPOParts(a_episode + omega * a_step, a_episode, a_step, step_groups.counts[step_codes])
    return parts if return_parts else parts.total



def action_credit(
    returns_to_go: np.ndarray,
    step_groups: GroupStats,
    actions: ArrayLike,
    *,
    normalize_std: bool = True,
    eps: float = 1e-6,
) -> np.ndarray:
    """``[N]`` (Q(s, a) - V(s)) / std_s: the mean return-to-go of the turns of a step group that took
    this turn's action, minus the group's mean, over the group's std (0 for singletons and groups
    whose returns are all equal)."""
    keys = np.asarray(actions)
    if keys.shape != returns_to_go.shape:
        raise ValueError(f"actions has shape {keys.shape} but there are {returns_to_go.shape[0]} turns")
    pair_codes, n_pairs = factorize_pairs(step_groups.codes, keys)
    q = GroupStats(pair_codes, n_pairs).mean(returns_to_go)[pair_codes]
    mean = step_groups.mean(returns_to_go)
    centred = q - mean[step_groups.codes]
    if normalize_std:
        centred = centred / (step_groups.std(returns_to_go, mean) + eps)[step_groups.codes]
    degenerate = (step_groups.counts < 2) | step_groups.is_constant(returns_to_go)
    return np.where(degenerate[step_groups.codes], 0.0, centred)
