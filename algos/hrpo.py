"""HRPO (hierarchical relative policy optimisation): macro advantages for planner tokens, micro for executor tokens.

Pure, vectorised functions over flat per-turn arrays (``[N]`` rows, the turns of an episode adjacent
and in time order), and the adapter ``hrpo_advantages(trajectories, config)``. z(x, G) is the
z-score of ``algos/segments.py``: sample std (ddof=1) + eps; a group of one or a constant group gives 0.

Macro (planner): the M episodes of a task group are M plans. A plan's return R_j is the *env*
return of its execution (the sum of env rewards, without subgoal bonuses, so a planner cannot
earn advantage by naming easy subgoals); A^macro_j = z(R_j, task group), on every turn of episode j.

Micro (executor): a *run* is a segment (turns ``[start, end)`` pursuing one subgoal) or a maximal
stretch of turns outside any segment. The micro reward of a turn is its env reward plus
``subgoal_bonus`` on the last turn of an achieved segment. Per turn

    A^micro = S + omega * A^step + lambda * A^action

- S = z(segment reward, segment group): the segment reward is the sum of micro rewards in the
  segment; the segment group is the segments with the same (task group, subgoal, anchor of the
  segment's first turn). **Fallback**: a segment whose group has no other member, and a turn outside
  any segment, takes S = A^macro of its episode (never a silent 0). A group of >= 2 whose rewards
  are all equal gets S = 0 (its peers did no better and no worse).
- A^step = z(G_t, step group): G_t the discounted return-to-go of micro rewards *within the run*
  (it stops at the segment's end); the step group is the turns with the same (task group, subgoal,
  anchor). The subgoal is part of the key because the executor's input includes it: the same state
  with another subgoal is another decision. Turns outside segments share the subgoal "none", so
  on episodes without segments A^step equals GiGPO's A^S exactly.
- A^action = z(action-wise reward, task group over turns): a per-turn score such as validity or
  progress (MasHost's action-wise term); the adapter documents what it uses.

With no segments, ``action_weight=0`` and ``mean_std_cross_steps=False``, A^micro equals GiGPO's
A^E + omega * A^S (tested). Planner tokens get A^macro only; executor tokens get A^micro only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from hiergym.algos.advantages import ArrayLike, as_finite, grpo_advantages
from hiergym.algos.configs import HRPOConfig
from hiergym.algos.returns import discounted_returns_by_segment
from hiergym.algos.segments import GroupStats, factorize, factorize_pairs, group_zscore, segment_starts
from hiergym.info_keys import InfoKeys
from hiergym.types import Trajectory
from hiergym.wrappers.anchor_hash import anchor_of

logger = logging.getLogger(__name__)

PLANNER, EXECUTOR = "planner", "executor"


class HRPOParts(NamedTuple):
    """HRPO per turn (all ``[N]``): ``planner = macro``; ``executor = segment + omega * step + lambda * action``."""

    planner: np.ndarray
    executor: np.ndarray
    macro: np.ndarray
    segment: np.ndarray
    """S: the segment z-score, or the macro advantage where ``fallback``."""
    step: np.ndarray
    action: np.ndarray
    segment_group_size: np.ndarray
    """Segments in this turn's segment group (0 for turns outside segments)."""
    fallback: np.ndarray
    """True where S fell back to the macro advantage (no peer segment, or outside any segment)."""


def hrpo_parts(
    rewards: ArrayLike,
    episode_ids: ArrayLike,
    group_ids: ArrayLike,
    anchors: ArrayLike,
    segment_ids: ArrayLike,
    subgoals: ArrayLike,
    achieved: ArrayLike,
    action_rewards: ArrayLike,
    *,
    gamma: float = 0.95,
    omega: float = 1.0,
    action_weight: float = 0.1,
    subgoal_bonus: float = 1.0,
    normalize_std: bool = True,
    eps: float = 1e-6,
    plan_rewards: ArrayLike | None = None,
) -> HRPOParts:
    """HRPO macro and micro advantages per turn; every input is ``[N]``, one row per turn.

    ``rewards`` env rewards (no subgoal bonus); ``episode_ids`` adjacent rows per episode;
    ``group_ids`` the task group (constant within an episode); ``anchors`` step-group keys;
    ``segment_ids`` ints, -1 outside segments, the rows of a segment adjacent; ``subgoals`` the
    subgoal key of the row's segment (ignored where ``segment_ids`` is -1); ``achieved`` True only
    on the last row of a segment whose subgoal was achieved (the bonus is paid there);
    ``action_rewards`` the action-wise score of each turn; ``plan_rewards`` (optional) rewards of the
    planner's answers (e.g. a format penalty for an unparsable plan), added to the plan's return R_j of
    the macro level only (the executor's micro rewards do not see them).
    """
    r = as_finite(rewards, "rewards")
    u = as_finite(action_rewards, "action_rewards")
    episodes, groups, anchors = np.asarray(episode_ids), np.asarray(group_ids), np.asarray(anchors)
    seg = np.asarray(segment_ids).astype(np.int64, copy=False)
    sub, done = np.asarray(subgoals), np.asarray(achieved, dtype=bool)
    columns = {"episode_ids": episodes, "group_ids": groups, "anchors": anchors, "segment_ids": seg,
               "subgoals": sub, "achieved": done, "action_rewards": u}
    for name, col in columns.items():
        if col.shape != r.shape:
            raise ValueError(f"{name} has shape {col.shape} but rewards has shape {r.shape}; need one entry per turn")
    n = r.size
    ep_starts = segment_starts(episodes)
    ep_lengths = np.diff(np.r_[ep_starts, n])
    first_of_episode = np.zeros(n, dtype=bool)
    first_of_episode[ep_starts] = True
    if np.any((groups[1:] != groups[:-1]) & ~first_of_episode[1:]):
        raise ValueError("group_ids must be constant within an episode (one task group per episode)")
    episode_group, n_groups = factorize(groups[ep_starts])
    group_codes = np.repeat(episode_group, ep_lengths)

    # Macro: z of the env return (plus the planner's own rewards) over the episodes (plans) of each task group.
    plan_r = r if plan_rewards is None else r + as_finite(plan_rewards, "plan_rewards").reshape(r.shape)
    episode_return = np.add.reduceat(plan_r, ep_starts) if n else r
    macro = np.repeat(grpo_advantages(episode_return, episode_group, normalize_std=normalize_std, eps=eps), ep_lengths)

    # Runs: segments and the stretches between them, never crossing an episode boundary.
    run_start = first_of_episode.copy()
    run_start[1:] |= seg[1:] != seg[:-1]
    run_starts = np.flatnonzero(run_start)
    run_of_row = np.cumsum(run_start) - 1
    in_seg = seg >= 0
    seg_runs = in_seg[run_starts]
    if factorize(seg[run_starts[seg_runs]])[1] != int(seg_runs.sum()):
        raise ValueError("segment_ids are not contiguous: the rows of a segment must be adjacent and in one episode")
    last_of_run = np.r_[run_start[1:], True] if n else run_start
    if np.any(done & ~(in_seg & last_of_run)):
        raise ValueError("achieved must be True only on the last row of a segment")
    micro_reward = r + subgoal_bonus * done

    # Subgoal code per row: -1 outside segments, so stretches between segments share one "none" subgoal.
    sub_codes = np.where(in_seg, factorize(sub)[0], -1) if n else np.zeros(0, dtype=np.int64)
    task_subgoal, _ = factorize_pairs(group_codes, sub_codes)

    # S: z of the segment reward within (task group, subgoal, start anchor); no peer -> macro.
    seg_reward = np.add.reduceat(micro_reward, run_starts) if n else r
    seg_first = run_starts[seg_runs]
    seg_codes, n_seg_groups = factorize_pairs(task_subgoal[seg_first], anchors[seg_first])
    seg_groups = GroupStats(seg_codes, n_seg_groups)
    run_size = np.zeros(run_starts.size, dtype=np.int64)
    run_size[seg_runs] = seg_groups.counts[seg_codes]
    run_z = np.zeros(run_starts.size)
    run_z[seg_runs] = group_zscore(seg_reward[seg_runs], seg_groups, normalize_std=normalize_std, eps=eps)
    fallback = (run_size < 2)[run_of_row]
    segment = np.where(fallback, macro, run_z[run_of_row])

    # A^step: return-to-go inside each run, z over (task group, subgoal, anchor).
    step_codes, n_steps = factorize_pairs(task_subgoal, anchors)
    rtg = discounted_returns_by_segment(micro_reward, run_starts, gamma)
    step = group_zscore(rtg, GroupStats(step_codes, n_steps), normalize_std=normalize_std, eps=eps)

    # A^action: z of the action-wise score over the turns of the task group.
    action = group_zscore(u, GroupStats(group_codes, n_groups), normalize_std=normalize_std, eps=eps)

    executor = segment + omega * step + action_weight * action
    return HRPOParts(macro.copy(), executor, macro, segment, step, action, run_size[run_of_row], fallback)


# --- trajectories -> columns ------------------------------------------------------------------
def hrpo_trajectory_parts(trajectories: Sequence[Trajectory], config: HRPOConfig) -> HRPOParts:
    """``hrpo_parts`` over the flattened turns of ``trajectories`` (for logging the parts).

    Columns taken from the trajectories:
    - reward: ``turn.info["env_reward"]`` when present (``SubgoalHooks`` writes the reward before
      it added its own bonus and step cost), else ``turn.reward``; HRPO adds ``config.subgoal_bonus``
      itself, so a wrapper's bonus is never counted twice;
    - segments: ``Trajectory.segments``; subgoal texts compared case- and space-insensitively;
      empty segments (start == end) hold no turn and are dropped;
    - anchor: as GiGPO, ``anchor_of(observation, {"anchor": turn.anchor}, config.anchor_fallback)``;
      a turn without a key is a singleton;
    - plan rewards: ``turn.info["planner_penalty"]`` (the ``HierarchicalAgent``'s format penalty for a
      planner answer without a usable plan), added to the plan's return at the macro level only;
    - action-wise reward: 1.0 if ``turn.action_valid`` else 0.0, plus ``float(turn.info[config.progress_key])``
      when ``progress_key`` is set and present (default ``"action_effective"``: the command changed
      the true state); a missing or None value counts 0.
    """
    lengths = np.array([len(t.turns) for t in trajectories], dtype=np.int64)
    n = int(lengths.sum())
    turns = [turn for t in trajectories for turn in t.turns]
    rewards = np.array([turn.info.get(InfoKeys.ENV_REWARD, turn.reward) for turn in turns], dtype=np.float64)
    valid = np.array([turn.action_valid for turn in turns], dtype=np.float64)
    progress = np.zeros(n)
    if config.progress_key is not None:
        progress = _scores([turn.info.get(config.progress_key) for turn in turns], config.progress_key)
    anchors = _anchor_codes([
        turn.anchor if turn.anchor is not None else anchor_of(turn.observation, {}, config.anchor_fallback) for turn in turns
    ])
    group_codes: dict[str, int] = {}
    groups = np.repeat(np.array([group_codes.setdefault(t.group_id, len(group_codes)) for t in trajectories], dtype=np.int64), lengths)
    segment_ids, subgoals, achieved = segment_columns(trajectories, lengths)
    plan_rewards = np.array([turn.info.get(InfoKeys.PLANNER_PENALTY) or 0.0 for turn in turns], dtype=np.float64)
    return hrpo_parts(
        rewards,
        np.repeat(np.arange(len(trajectories)), lengths),
        groups,
        anchors,
        segment_ids,
        subgoals,
        achieved,
        valid + progress,
        gamma=config.gamma,
        omega=config.omega,
        action_weight=config.action_weight,
        subgoal_bonus=config.subgoal_bonus,
        normalize_std=config.normalize_std,
        eps=config.eps,
        plan_rewards=plan_rewards,
    )


def hrpo_advantages(trajectories: Sequence[Trajectory], config: HRPOConfig) -> dict[str, list[np.ndarray]]:
    """``{"planner": [...], "executor": [...]}``: per trajectory, one advantage per turn for each role.

    Pass the dict to ``build_batch`` as ``advantages``: each generation takes its own role's value,
    so a turn holding a planner call and an executor call trains them with different advantages.
    """
    parts = hrpo_trajectory_parts(trajectories, config)
    bounds = np.cumsum([len(t.turns) for t in trajectories])[:-1]
    return {role: [a.copy() for a in np.split(col, bounds)] if trajectories else []
            for role, col in ((PLANNER, parts.planner), (EXECUTOR, parts.executor))}


def hrpo_stats(parts: HRPOParts) -> dict[str, float]:
    """Numbers to log per batch: spread of each part and how many turns had peer segments."""
    if parts.executor.size == 0:
        return {}
    return {
        "hrpo/macro_adv_std": float(parts.macro.std()),
        "hrpo/segment_adv_std": float(parts.segment.std()),
        "hrpo/step_adv_std": float(parts.step.std()),
        "hrpo/action_adv_std": float(parts.action.std()),
        "hrpo/fallback_share": float(parts.fallback.mean()),
        "hrpo/in_segment_share": float((parts.segment_group_size > 0).mean()),
    }


def segment_columns(trajectories: Sequence[Trajectory], lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(segment_ids[N], subgoal_codes[N], achieved[N])`` from ``Trajectory.segments``; bad segments raise.

    Segment ids are positions in the concatenated segment list (-1 outside segments); ``achieved``
    is True on the last turn of an achieved segment.
    """
    n = int(lengths.sum())
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    rows = [(i, int(s.start), int(s.end), bool(s.achieved), " ".join(str(s.subgoal).lower().split()))
            for i, t in enumerate(trajectories) for s in t.segments]
    if not rows:
        return np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
    traj, start, end, ok, texts = (np.array(c) for c in zip(*rows))
    bad = np.flatnonzero((start < 0) | (end < start) | (end > lengths[traj]))
    same_traj = traj[1:] == traj[:-1]
    overlap = np.flatnonzero(same_traj & (start[1:] < end[:-1])) + 1
    for idx, why in ((bad, "must satisfy 0 <= start <= end <= number of turns"), (overlap, "overlaps or precedes the segment before it")):
        if idx.size:
            k = idx[0]
            raise ValueError(f"trajectory {traj[k]} ({trajectories[traj[k]].group_id!r}): segment "
                             f"(start={start[k]}, end={end[k]}) {why}; segments must be sorted and disjoint")
    keep = end > start  # an empty segment holds no turn
    traj, start, end, ok, texts = traj[keep], start[keep], end[keep], ok[keep], texts[keep]
    g_start, g_end = offsets[traj] + start, offsets[traj] + end
    delta = np.zeros(n + 1, dtype=np.int64)
    ids = np.arange(1, traj.size + 1)
    np.add.at(delta, g_start, ids)
    np.add.at(delta, g_end, -ids)
    segment_ids = np.cumsum(delta[:n]) - 1
    sub_codes = factorize(texts)[0][np.maximum(segment_ids, 0)]
    achieved = np.zeros(n, dtype=bool)
    achieved[g_end[ok] - 1] = True
    return segment_ids, np.where(segment_ids >= 0, sub_codes, -1), achieved


def _anchor_codes(keys: list[str | None]) -> np.ndarray:
    """``[N]`` dense codes of the anchor keys; each None gets a code of its own (a singleton, as GiGPO)."""
    codes: dict[str, int] = {}
    out = np.array([-1 if k is None else codes.setdefault(k, len(codes)) for k in keys], dtype=np.int64)
    missing = out < 0
    out[missing] = len(codes) + np.arange(int(missing.sum()))
    return out


def _scores(values: list[object], key: str) -> np.ndarray:
    """Progress values as numbers: None -> 0, bool -> 0/1, numbers as they are; anything else raises naming it."""
    out = np.zeros(len(values))
    for i, v in enumerate(values):
        if v is None:
            continue
        if not isinstance(v, (bool, int, float, np.number)):
            raise ValueError(f"turn.info[{key!r}]={v!r} (turn {i}) is not a number or bool; progress_key must name a numeric signal")
        out[i] = v
    return out
