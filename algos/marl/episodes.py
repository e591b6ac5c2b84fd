"""From the collector's team trajectories to what value-based learners and run logs read.

The collector returns one :class:`~hiergym.types.Trajectory` per episode of a
:class:`~hiergym.wrappers.team.TeamEnv`: ``turn.observation`` is the :class:`TeamObservation`
before the step, ``turn.action`` the :class:`TeamAction`, ``turn.reward`` the team reward, and
``meta["final_observation"]`` the observation after the last step. ``episode_columns`` pads them
into the replay buffer's columns (:func:`~hiergym.algos.marl.buffer.episode_fields`);
``agent_trajectories`` splits one into per-agent records with subgoal segments (JSON-friendly,
for ``samples.jsonl``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from hiergym.algos.marl.env_stack import EnvSpec
from hiergym.collector import FINAL_OBSERVATION
from hiergym.types import Trajectory, Turn
from hiergym.wrappers.team import TeamAction, TeamObservation
from hiergym.wrappers.team_subgoals import team_segments

STATE_FIELDS = ("obs", "avail", "state", "subgoal_avail", "subgoal_feat")
"""Per-state columns (``T + 1`` entries) and the ``TeamObservation`` attribute each comes from."""


def _states(traj: Trajectory) -> list[TeamObservation]:
    return [turn.observation for turn in traj.turns] + [traj.meta[FINAL_OBSERVATION]]


def episode_columns(trajectories: Sequence[Trajectory], spec: EnvSpec) -> dict[str, np.ndarray]:
    """Buffer columns ``[E, T (+1), ...]`` of finished team episodes, zero-padded to ``spec.episode_limit``."""
    fields = spec.buffer_fields()
    limit = spec.episode_limit
    out = {name: np.zeros((len(trajectories), limit + int(f.per_state), *f.shape), f.dtype) for name, f in fields.items()}
    hierarchical = "subgoal" in fields
    for e, traj in enumerate(trajectories):
        n = len(traj.turns)
        states = _states(traj)
        for name in STATE_FIELDS:
            if name in fields:
                out[name][e, : n + 1] = np.stack([getattr(s, name) for s in states])
        out["actions"][e, :n] = np.stack([turn.action.actions for turn in traj.turns])
        out["reward"][e, :n] = [turn.reward for turn in traj.turns]
        out["terminated"][e, n - 1] = float(traj.turns[-1].terminated)
        out["mask"][e, :n] = 1.0
        if hierarchical:
            out["subgoal"][e, :n] = np.stack([turn.action.subgoals for turn in traj.turns])
            out["decision"][e, :n] = [float(turn.action.decision) for turn in traj.turns]
            out["intrinsic_reward"][e, :n] = np.stack([s.intrinsic_reward for s in states[1:]])
            out["subgoal_done"][e, :n] = np.stack([s.subgoal_done for s in states[1:]])
            out["subgoal_achieved"][e, :n] = np.stack([s.subgoal_achieved for s in states[1:]])
            out["redecided"][e, :n] = np.stack([_redecided(turn.action, len(spec.agents)) for turn in traj.turns])
    return out


def _redecided(action: TeamAction, n_agents: int) -> np.ndarray:
    """``[N]`` float: agents that picked their subgoal anew on this step (every agent at a team decision)."""
    if not action.decision:
        return np.zeros(n_agents, dtype=np.float32)
    if action.redecided is None:
        return np.ones(n_agents, dtype=np.float32)
    return np.asarray(action.redecided, dtype=np.float32)


def subgoal_name(spec: EnvSpec, index: int) -> str:
    """The configured subgoal id of ``index``, else ``"#<index>"`` (the index-th subgoal of the agent's own list)."""
    return spec.subgoal_ids[index] if spec.subgoal_ids else f"#{index}"


def agent_trajectories(traj: Trajectory, spec: EnvSpec) -> list[Trajectory]:
    """One JSON-friendly trajectory per agent of a team episode (observation vectors as JSON text).

    Subgoal episodes get ``segments`` cut at the decision steps, subgoals named by :func:`subgoal_name`.
    """
    out = []
    states = _states(traj)
    hierarchical = traj.turns and traj.turns[0].action.subgoals is not None
    for i, agent in enumerate(spec.agents):
        turns, goals = [], []
        for t, turn in enumerate(traj.turns):
            obs, after = states[t], states[t + 1]
            action = int(turn.action.actions[i])
            goal = None
            if hierarchical:
                goal = subgoal_name(spec, int(turn.action.subgoals[i]))
            goals.append(goal)
            turns.append(
                Turn(
                    observation=json.dumps(obs.obs[i].tolist()),
                    action=str(action),
                    reward=turn.reward,
                    terminated=turn.terminated,
                    truncated=turn.truncated,
                    anchor=turn.anchor,
                    subgoal=goal,
                    subgoal_done=bool(after.subgoal_done[i]) if hierarchical else False,
                    action_valid=bool(obs.avail[i, action]),
                )
            )
        segments = []
        if hierarchical:
            picks = [bool(_redecided(t.action, len(spec.agents))[i]) for t in traj.turns]
            segments = team_segments(goals, picks, [t.subgoal_done for t in turns])
        out.append(
            Trajectory(
                group_id=traj.group_id,
                env_id=traj.env_id,
                seed=traj.seed,
                agent_id=agent,
                turns=turns,
                episode_return=traj.episode_return,
                success=traj.success,
                segments=segments,
            )
        )
    return out
