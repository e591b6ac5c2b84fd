"""Adapters from collected trajectories to per-turn advantages: ``compute_advantages(trajectories, config)``.

The collector returns ``list[Trajectory]``; the estimators are pure functions over flat arrays.
This module flattens once (one pass over turns, which extracting Python objects needs anyway),
calls the estimator and splits the result back per trajectory.

Conventions:
- an episode's return is the sum of its turn rewards (what the per-turn arrays carry, so GRPO
  and GiGPO agree);
- the GiGPO step-group key of a turn is its ``anchor`` (the ``AnchorHash`` digest of the true
  state); when the env gives no state the anchor is None and ``GiGPOConfig.anchor_fallback``
  decides through ``wrappers.anchor_hash.anchor_of``: the observation text the policy saw, as
  verl-agent does, or ``"none"``, which makes such turns singletons (A^S = 0). Observation
  digests and state digests live in separate key spaces.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from hiergym.algos.advantages import GiGPOParts, gigpo_advantages, grpo_advantages
from hiergym.algos.configs import AdvantageConfig, GiGPOConfig, GRPOConfig, HRPOConfig
from hiergym.info_keys import InfoKeys
from hiergym.types import Trajectory, Turn
from hiergym.wrappers.anchor_hash import anchor_of

logger = logging.getLogger(__name__)


def compute_advantages(trajectories: Sequence[Trajectory], config: AdvantageConfig) -> list[np.ndarray] | dict[str, list[np.ndarray]]:
    """Per-turn advantages ``[len(t.turns)]`` for each trajectory, in the input order.

    With ``HRPOConfig`` the answer is per role, ``{"planner": [...], "executor": [...]}`` (macro
    advantages for planner tokens, micro for executor tokens; ``hrpo_advantages``): pass it to
    ``build_batch`` as it is, and each generation takes its own role's value.
    """
    if isinstance(config, HRPOConfig):
        from hiergym.algos.hrpo import hrpo_advantages

        return hrpo_advantages(trajectories, config)
    if isinstance(config, GiGPOConfig):
        return split_per_trajectory(gigpo_trajectory_parts(trajectories, config).total, trajectories)
    if isinstance(config, GRPOConfig):
        returns = np.array([sum(turn.reward for turn in t.turns) for t in trajectories], dtype=np.float64)
        per_episode = grpo_advantages(
            returns,
            [t.group_id for t in trajectories],
            normalize_std=config.normalize_std,
            leave_one_out=config.leave_one_out,
            eps=config.eps,
        )
        return [np.full(len(t.turns), a) for t, a in zip(trajectories, per_episode)]
    raise TypeError(f"config must be GRPOConfig or GiGPOConfig (flat agents) or HRPOConfig (hierarchical), got {type(config).__name__}")


def gigpo_trajectory_parts(trajectories: Sequence[Trajectory], config: GiGPOConfig) -> GiGPOParts:
    """GiGPO parts over the flattened turns of ``trajectories`` (for logging A^E, A^S, step-group sizes)."""
    if any(not t.turns for t in trajectories):
        logger.warning("GiGPO: %d trajectories without turns are ignored", sum(not t.turns for t in trajectories))
    lengths = [len(t.turns) for t in trajectories]
    rewards = np.fromiter((turn.reward for t in trajectories for turn in t.turns), dtype=np.float64, count=sum(lengths))
    episode_ids = np.repeat(np.arange(len(trajectories)), lengths)
    group_codes: dict[str, int] = {}
    groups = np.repeat([group_codes.setdefault(t.group_id, len(group_codes)) for t in trajectories], lengths)
    anchor_codes: dict[tuple[str, str], int] = {}
    anchors = np.fromiter(
        (_anchor_code(turn, anchor_codes, config) for t in trajectories for turn in t.turns),
        dtype=np.int64,
        count=sum(lengths),
    )
    return gigpo_advantages(
        rewards,
        episode_ids,
        groups.astype(np.int64),
        anchors,
        gamma=config.gamma,
        omega=config.omega,
        normalize_std=config.normalize_std,
        eps=config.eps,
        mean_std_cross_steps=config.mean_std_cross_steps,
        actions=_action_keys(trajectories) if config.step_credit == "action" else None,
        return_parts=True,
    )


def gigpo_stats(parts: GiGPOParts) -> dict[str, float]:
    """Numbers to log per batch: spread of both parts and how many turns found a step group to compare with."""
    if parts.total.size == 0:
        return {}
    grouped = parts.step_group_size > 1
    return {
        "gigpo/episode_adv_std": float(parts.episode.std()),
        "gigpo/step_adv_std": float(parts.step.std()),
        "gigpo/step_grouped_share": float(grouped.mean()),
        "gigpo/step_group_size_mean": float(parts.step_group_size.mean()),
    }


def _anchor_code(turn: Turn, codes: dict[tuple[str, str], int], config: GiGPOConfig) -> int:
    """Dense code of a turn's step-group key; a fresh code (a singleton) when there is no key."""
    key = anchor_of(turn.observation, {InfoKeys.ANCHOR: turn.anchor}, config.anchor_fallback)
    return codes.setdefault(("anchor", key) if key is not None else ("singleton", str(len(codes))), len(codes))


def _action_keys(trajectories: Sequence[Trajectory]) -> np.ndarray:
    """``[N]`` what each turn did, for action credit: the parsed action; every unparsable answer is one key."""
    return np.array([turn.action if turn.action is not None else "\x00invalid" for t in trajectories for turn in t.turns], dtype=object).astype(str)


def split_per_trajectory(per_turn: np.ndarray, trajectories: Sequence[Trajectory]) -> list[np.ndarray]:
    """Split a flat ``[N]`` per-turn array back into one array per trajectory."""
    bounds = np.cumsum([len(t.turns) for t in trajectories])[:-1]
    return [a.copy() for a in np.split(per_turn, bounds)] if trajectories else []
