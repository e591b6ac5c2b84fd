"""Expert demonstrations as ``Trajectory`` records (for SFT warm starts, imitation baselines, sanity checks)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from hiergym.info_keys import InfoKeys
from hiergym.types import Trajectory, Turn, group_id_of

DEMO_INFO_KEYS = (InfoKeys.ACTION_VALID, InfoKeys.SUBGOALS_ACHIEVED, InfoKeys.WON)
"""The ``info`` entries each demonstration turn keeps (plain data, so trajectories serialise)."""


def expert_trajectory(env: gym.Env, seed: int, *, group_id: str | None = None) -> Trajectory:
    """Play ``env`` (a Household env, wrapped or not) from ``reset(seed=seed)`` with the expert plan.

    Each turn holds the observation the command answered, the command, its reward and flags;
    ``subgoal`` is the first subgoal not yet achieved when the command was chosen.
    """
    obs, info = env.reset(seed=seed)
    plan = env.unwrapped.expert_plan()
    subgoal_ids = [sg.id for sg in info[InfoKeys.SUBGOALS]]
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    traj = Trajectory(group_id=group_id or group_id_of(env_id, seed), env_id=env_id, seed=seed)
    for command in plan:
        pending = [s for s in subgoal_ids if s not in info[InfoKeys.SUBGOALS_ACHIEVED]]
        next_obs, reward, terminated, truncated, info = env.step(command)
        traj.turns.append(
            Turn(
                observation=obs,
                action=command,
                raw_action=command,
                reward=float(reward),
                terminated=terminated,
                truncated=truncated,
                subgoal=pending[0] if pending else None,
                subgoal_done=bool(pending) and pending[0] in info[InfoKeys.SUBGOALS_ACHIEVED],
                action_valid=bool(info[InfoKeys.ACTION_VALID]),
                info=_kept(info),
            )
        )
        obs = next_obs
    traj.episode_return = sum(t.reward for t in traj.turns)
    traj.success = bool(info[InfoKeys.WON])
    return traj


def _kept(info: dict[str, Any]) -> dict[str, Any]:
    return {k: info[k] for k in DEMO_INFO_KEYS}
