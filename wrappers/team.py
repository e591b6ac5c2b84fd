"""TeamEnv: a PettingZoo ``ParallelEnv`` seen as one env of the whole team, so the shared collector can step it.

Value-based multi-agent learners act for all agents at once and learn from one team reward, so
the collector treats the team as one player: ``reset(seed) -> (TeamObservation, info)`` and
``step(TeamAction) -> (TeamObservation, team reward, terminated, truncated, info)``, the
Gymnasium signature. Observations are fixed-shape arrays (agents in ``possible_agents`` order), so
they batch across slots and cross process boundaries cheaply; ``info`` stays small and plain
(``anchor``: digest of ``state()``; ``won``).

Conventions (those of the PyMARL runner): team reward = mean of the acting agents' rewards;
the episode terminates when any agent terminates, and is truncated when every acting agent is
truncated, no agent is left, or ``episode_limit`` steps have passed. An agent that is already done
gets a zero observation and only action 0 (no-op) available.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from hiergym.error import ConfigError, EnvSpecError
from hiergym.info_keys import InfoKeys

EPISODE_LIMIT_ATTRS = ("max_steps", "max_cycles", "episode_limit")
"""Env attributes read (in order) for the episode length when none is given."""


@dataclass(slots=True)
class TeamObservation:
    """What the team sees at one state; arrays are ``[N, ...]`` in ``possible_agents`` order.

    ``subgoal_*`` fields are filled by :class:`~hiergym.wrappers.team_subgoals.TeamSubgoalHooks`
    (None without it); ``subgoal_done`` and ``intrinsic_reward`` belong to the step that led here
    (all False / 0 after a reset).
    """

    obs: np.ndarray  # [N, obs_dim] float32
    avail: np.ndarray  # [N, n_actions] int8: 1 = legal action
    state: np.ndarray  # [state_dim] float32: the env's global state()
    subgoal_avail: np.ndarray | None = None  # [N, G] int8
    subgoal_feat: np.ndarray | None = None  # [N, G, F] float32
    subgoal_done: np.ndarray | None = None  # [N] bool
    intrinsic_reward: np.ndarray | None = None  # [N] float32
    subgoal_achieved: np.ndarray | None = None  # [N, G] bool: each subgoal index's check after the step (hindsight relabelling)


@dataclass(frozen=True, slots=True)
class TeamAction:
    """One joint action: ``actions [N]`` (ints), and for subgoal agents the subgoal index per agent and
    whether this step was a (synchronous) subgoal decision."""

    actions: np.ndarray
    subgoals: np.ndarray | None = None
    decision: bool = False
    redecided: np.ndarray | None = None  # [N] bool: agents that picked anew at this decision (None: all of them)


def episode_limit_of(env: Any, episode_limit: int = 0) -> int:
    """``episode_limit`` if > 0, else the env's own ``max_steps`` / ``max_cycles`` / ``episode_limit``."""
    limit = episode_limit or next((int(getattr(env, a)) for a in EPISODE_LIMIT_ATTRS if getattr(env, a, None)), 0)
    if limit < 1:
        raise ConfigError("episode_limit", episode_limit, f"> 0: the env has none of {EPISODE_LIMIT_ATTRS}")
    return limit


class TeamEnv:
    """Wraps a ParallelEnv with Discrete actions and flat Box observations (see the module docstring)."""

    def __init__(self, env: Any, *, episode_limit: int = 0):
        self.env = env
        self.agents = tuple(env.possible_agents)
        a0 = self.agents[0]
        obs_shape, n_actions = env.observation_space(a0).shape, getattr(env.action_space(a0), "n", None)
        if n_actions is None or obs_shape is None or len(obs_shape) != 1:
            raise EnvSpecError("env", type(env).__name__, "a ParallelEnv with Discrete actions and flat Box observations")
        self.obs_dim, self.n_actions = int(obs_shape[0]), int(n_actions)
        self.episode_limit = episode_limit_of(env, episode_limit)
        self._noop_only = np.eye(self.n_actions, dtype=np.int8)[0]
        self.infos: dict[str, dict[str, Any]] = {}
        """The per-agent infos of the last reset/step (for wrappers on top, e.g. subgoal lists)."""
        self.observed: frozenset[str] = frozenset()
        """Agents that got an observation at the last reset/step (the ones not done yet)."""
        self.t = 0

    @property
    def unwrapped(self) -> Any:
        """The innermost env, as Gymnasium's ``unwrapped`` (so ``env.unwrapped`` reaches the PettingZoo env)."""
        return getattr(self.env, "unwrapped", self.env)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[TeamObservation, dict[str, Any]]:
        """Reset the team; the info holds the global state's anchor and ``won``."""
        obs, infos = self.env.reset(seed=seed, options=options)
        self.t = 0
        self.infos = infos
        team_obs = self._observe(obs, infos)
        return team_obs, {InfoKeys.ANCHOR: _digest(team_obs.state), InfoKeys.WON: False}

    def step(self, action: TeamAction | np.ndarray) -> tuple[TeamObservation, float, bool, bool, dict[str, Any]]:
        """One joint action; the team reward is the mean of the live agents' rewards."""
        actions = action.actions if isinstance(action, TeamAction) else np.asarray(action)
        live = self.env.agents
        joint = {a: int(actions[i]) for i, a in enumerate(self.agents) if a in live}
        obs, rewards, terms, truncs, infos = self.env.step(joint)
        self.t += 1
        self.infos = infos
        total, terminated, all_truncated = 0.0, False, True
        for a in joint:
            total += float(rewards[a])
            terminated = terminated or bool(terms.get(a, False))
            all_truncated = all_truncated and bool(truncs.get(a, False))
        team_reward = total / len(joint) if joint else 0.0
        truncated = not terminated and (not self.env.agents or all_truncated or self.t >= self.episode_limit)
        won = False
        for info in infos.values():
            won = won or bool(info.get(InfoKeys.WON, False))
        team_obs = self._observe(obs, infos)
        return team_obs, team_reward, terminated, truncated, {InfoKeys.ANCHOR: _digest(team_obs.state), InfoKeys.WON: won}

    def _observe(self, obs: dict[str, Any], infos: dict[str, Any]) -> TeamObservation:
        self.observed = frozenset(obs)
        state = np.asarray(self.env.state(), dtype=np.float32).reshape(-1)
        if len(obs) == len(self.agents):  # everyone still acting: one array call per field
            masks = [(infos.get(a) or {}).get(InfoKeys.ACTION_MASK) for a in self.agents]
            out = np.array([obs[a] for a in self.agents], dtype=np.float32)
            if any(m is None for m in masks):
                avail = np.array([np.ones(self.n_actions, np.int8) if m is None else m[: self.n_actions] for m in masks], dtype=np.int8)
            else:
                avail = np.array(masks, dtype=np.int8)[:, : self.n_actions]
            return TeamObservation(out, avail, state)
        out = np.zeros((len(self.agents), self.obs_dim), dtype=np.float32)
        avail = np.ones((len(self.agents), self.n_actions), dtype=np.int8)
        for i, agent in enumerate(self.agents):
            if agent in obs:
                out[i] = obs[agent]
                info = infos.get(agent)
                mask = info.get(InfoKeys.ACTION_MASK) if info else None
                if mask is not None:
                    avail[i] = mask[: self.n_actions]
            else:  # agent already done: zero observation, only the no-op (action 0) available
                avail[i] = self._noop_only
        return TeamObservation(out, avail, state)

    def close(self) -> None:
        """Close the wrapped env."""
        self.env.close()


def _digest(state: np.ndarray) -> str:
    """The anchor of a team state: blake2b of its bytes (cheap; copies of a task must start equal)."""
    return hashlib.blake2b(state.tobytes(), digest_size=16).hexdigest()
