"""The episode collector for value-based MARL on PettingZoo ``ParallelEnv``s.

Follows the shared collector conventions (DESIGN.md section 7): ``E`` env slots stepped in
lockstep with one batched ``agents.act`` per tick; a task queue of seeds; a finished slot
pulls the next seed at once (no waiting for the slowest episode); one stopping rule (every
queued task finished, no partial episodes carried over) and per-step / per-episode hooks.
Only this module calls both ``env.step`` and ``agents.act``.

Each finished episode becomes a padded row of buffer columns (see
:func:`~hiergym.algos.marl.buffer.episode_fields`) and, on request, one
:class:`hiergym.types.Trajectory` per agent with subgoal :class:`~hiergym.types.Segment`s.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hiergym.algos.marl.buffer import Field, episode_fields
from hiergym.error import ConfigError, EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.types import Segment, Subgoal, Trajectory, Turn

logger = logging.getLogger(__name__)

EPISODE_LIMIT_ATTRS = ("max_steps", "max_cycles", "episode_limit")
"""Env attributes read (in order) for the episode length when the run config gives none."""
SUBGOAL_FEAT_DIM = 2
"""Features per subgoal from :func:`subgoal_offsets`: the (row, col) offset to its target cell."""


def _is_cell(target: Any) -> bool:
    return isinstance(target, tuple) and len(target) == 2 and all(isinstance(v, (int, np.integer)) for v in target)


def has_cell_targets(env: Any, subgoals: Sequence[Subgoal]) -> bool:
    """True if ``env`` is a grid (``shape`` and ``position(agent)``) and some subgoal targets a cell."""
    return hasattr(env, "shape") and callable(getattr(env, "position", None)) and any(_is_cell(g.target) for g in subgoals)


def subgoal_offsets(env: Any, agent: str, goals: Sequence[Subgoal | None]) -> np.ndarray:
    """``[G, 2]`` float32: per subgoal, (target row - own row, target col - own col) / (size - 1).

    Zero for a missing subgoal or a target that is not a grid cell. Subgoal ids like ``goal_0``
    are arbitrary labels whose cell changes every episode; without this offset neither level
    can tell from an egocentric observation where subgoal ``j`` is (or which goal it names).
    """
    out = np.zeros((len(goals), SUBGOAL_FEAT_DIM), dtype=np.float32)
    h, w = env.shape
    r, c = env.position(agent)
    for j, g in enumerate(goals):
        if g is not None and _is_cell(g.target):
            out[j] = ((g.target[0] - r) / max(h - 1, 1), (g.target[1] - c) / max(w - 1, 1))
    return out


@dataclass(frozen=True)
class EnvSpec:
    """What the learners need to know about a ParallelEnv, read once from a probe reset."""

    agents: tuple[str, ...]
    obs_dim: int
    state_dim: int
    n_actions: int
    episode_limit: int
    subgoal_ids: tuple[str, ...] = ()
    """Fixed subgoal set (config), or empty: index j is each agent's j-th env subgoal."""
    n_subgoals: int = 0
    subgoal_feat_dim: int = 0
    """Features per subgoal given to the subgoal agents (0 = none; :data:`SUBGOAL_FEAT_DIM` on grids)."""

    def buffer_fields(self) -> dict[str, Field]:
        return episode_fields(
            len(self.agents), self.obs_dim, self.state_dim, self.n_actions, self.n_subgoals, self.subgoal_feat_dim
        )


def probe_env(
    env: Any,
    *,
    episode_limit: int = 0,
    subgoals: bool = False,
    subgoal_ids: Sequence[str] = (),
    subgoal_features: bool = False,
) -> EnvSpec:
    """Read agents, sizes and the episode limit from ``env`` (reset with seed 0).

    ``subgoal_features``: give subgoal agents each subgoal's target offset (:func:`subgoal_offsets`)
    when the env is a grid whose subgoals target cells; otherwise ``subgoal_feat_dim`` stays 0."""
    agents = tuple(env.possible_agents)
    _, infos = env.reset(seed=0)
    a0 = agents[0]
    obs_shape, n_actions = env.observation_space(a0).shape, getattr(env.action_space(a0), "n", None)
    if n_actions is None or obs_shape is None or len(obs_shape) != 1:
        raise EnvSpecError("env", type(env).__name__, "a ParallelEnv with Discrete actions and flat Box observations")
    limit = episode_limit or next((int(getattr(env, a)) for a in EPISODE_LIMIT_ATTRS if getattr(env, a, None)), 0)
    if limit < 1:
        raise ConfigError("episode_limit", episode_limit, f"> 0: the env has none of {EPISODE_LIMIT_ATTRS}")
    n_subgoals = 0
    if subgoals:
        if subgoal_ids:
            n_subgoals = len(subgoal_ids)
        else:
            n_subgoals = max(len(infos.get(a, {}).get(InfoKeys.SUBGOALS, [])) for a in agents)
        if n_subgoals == 0:
            raise EnvSpecError("subgoals", type(env).__name__, f"an env whose infos[agent][{InfoKeys.SUBGOALS!r}] lists subgoals")
    feat_dim = 0
    if subgoals and subgoal_features:
        listed = [g for a in agents for g in infos.get(a, {}).get(InfoKeys.SUBGOALS, [])]
        feat_dim = SUBGOAL_FEAT_DIM if has_cell_targets(getattr(env, "unwrapped", env), listed) else 0
    state_dim = int(np.asarray(env.state()).size)
    return EnvSpec(agents, int(obs_shape[0]), state_dim, int(n_actions), limit, tuple(subgoal_ids), n_subgoals, feat_dim)


@dataclass
class SubgoalRewards:
    """Executor intrinsic reward: ``bonus`` on achieving the subgoal, ``-cost`` on any other step."""

    bonus: float = 1.0
    cost: float = 0.01
    mask_achieved: bool = False


@dataclass
class Slot:
    """One env copy and the episode it is running."""

    env: Any
    seed: int = -1
    t: int = 0
    active: bool = False
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    subgoals: dict[str, list[Subgoal]] = field(default_factory=dict)
    achieved_ids: dict[str, list[str]] = field(default_factory=dict)
    turns: dict[str, list[Turn]] | None = None
    won: bool = False


@dataclass
class CollectResult:
    """Finished episodes as stacked buffer columns (``[E, T(+1), ...]``) plus per-agent trajectories."""

    episodes: dict[str, np.ndarray]
    trajectories: list[Trajectory]
    returns: np.ndarray
    successes: np.ndarray
    lengths: np.ndarray
    env_steps: int


StepHook = Callable[[int, dict[str, Any]], None]
"""Called after every env step as ``hook(slot_index, step_infos)``."""
EpisodeHook = Callable[[dict[str, np.ndarray], list[Trajectory]], None]
"""Called after every finished episode with its buffer row and trajectories (empty if not recorded)."""


class EpisodeRunner:
    """Steps ``len(envs)`` env copies with one batched ``agents.act`` per tick."""

    def __init__(
        self,
        envs: Sequence[Any],
        agents: Any,
        spec: EnvSpec,
        *,
        env_id: str = "",
        subgoal_rewards: SubgoalRewards | None = None,
        on_step: Sequence[StepHook] = (),
        on_episode: Sequence[EpisodeHook] = (),
    ):
        self.slots = [Slot(env) for env in envs]
        self.agents, self.spec, self.env_id = agents, spec, env_id
        self.hierarchical = bool(getattr(agents, "uses_subgoals", False))
        if self.hierarchical and spec.n_subgoals == 0:
            raise ConfigError("spec.n_subgoals", 0, "> 0 for subgoal agents (probe_env(..., subgoals=True))")
        self.rewards = subgoal_rewards or SubgoalRewards()
        self.fields = spec.buffer_fields()
        self.on_step, self.on_episode = list(on_step), list(on_episode)

    # --- slot lifecycle ----------------------------------------------------------------------
    def _start(self, slot: Slot, seed: int, record: bool) -> None:
        obs, infos = slot.env.reset(seed=int(seed))
        slot.seed, slot.t, slot.active, slot.won = int(seed), 0, True, False
        t_len = self.spec.episode_limit
        slot.columns = {n: np.zeros((t_len + int(f.per_state), *f.shape), f.dtype) for n, f in self.fields.items()}
        slot.turns = {a: [] for a in self.spec.agents} if record else None
        self._write_state(slot, 0, obs, infos)

    def _write_state(self, slot: Slot, t: int, obs: dict, infos: dict) -> None:
        c, n_actions = slot.columns, self.spec.n_actions
        for i, agent in enumerate(self.spec.agents):
            if agent in obs:
                c["obs"][t, i] = obs[agent]
                mask = infos.get(agent, {}).get(InfoKeys.ACTION_MASK)
                c["avail"][t, i] = 1 if mask is None else np.asarray(mask, dtype=np.int8)[:n_actions]
            else:  # agent already done: zero observation, only the no-op (action 0) available
                c["avail"][t, i] = np.eye(n_actions, dtype=np.int8)[0]
        c["state"][t] = np.asarray(slot.env.state(), dtype=np.float32).reshape(-1)
        if self.hierarchical:
            for agent in self.spec.agents:
                agent_info = infos.get(agent, {})
                if InfoKeys.SUBGOALS in agent_info:
                    slot.subgoals[agent] = list(agent_info[InfoKeys.SUBGOALS])
                slot.achieved_ids[agent] = list(agent_info.get(InfoKeys.SUBGOALS_ACHIEVED, []))
            c["subgoal_avail"][t] = self._subgoal_avail(slot)
            if self.spec.subgoal_feat_dim:
                base = getattr(slot.env, "unwrapped", slot.env)
                for i, agent in enumerate(self.spec.agents):
                    if agent in obs:
                        c["subgoal_feat"][t, i] = subgoal_offsets(base, agent, self._subgoal_index(slot, agent))

    def _subgoal_index(self, slot: Slot, agent: str) -> list[Subgoal | None]:
        """Subgoal objects by index: the configured id set, or the agent's own list."""
        own = slot.subgoals.get(agent, [])
        if not self.spec.subgoal_ids:
            if len(own) > self.spec.n_subgoals:
                raise EnvSpecError("subgoals", len(own), f"at most {self.spec.n_subgoals} per agent (seen at probe)")
            return own + [None] * (self.spec.n_subgoals - len(own))
        by_id = {g.id: g for g in own}
        return [by_id.get(i) for i in self.spec.subgoal_ids]

    def _subgoal_avail(self, slot: Slot) -> np.ndarray:
        out = np.zeros((len(self.spec.agents), self.spec.n_subgoals), dtype=np.int8)
        for i, agent in enumerate(self.spec.agents):
            goals = self._subgoal_index(slot, agent)
            present = np.array([g is not None for g in goals])
            fresh = present & np.array([g is not None and g.id not in slot.achieved_ids.get(agent, []) for g in goals])
            row = fresh if self.rewards.mask_achieved and fresh.any() else present
            out[i] = row if row.any() else np.eye(self.spec.n_subgoals, dtype=np.int8)[0]
        return out

    # --- the loop ----------------------------------------------------------------------------
    def collect(
        self,
        seeds: Sequence[int],
        *,
        epsilon: float,
        generator: torch.Generator | None = None,
        record_trajectories: bool = False,
    ) -> CollectResult:
        """Run one episode per seed (slots pull seeds from a queue); return them all, in finish order."""
        queue = deque(int(s) for s in seeds)
        for slot in self.slots:
            slot.active = False
            if queue:
                self._start(slot, queue.popleft(), record_trajectories)
        carry = self.agents.initial_carry(len(self.slots))
        finished: list[tuple[dict[str, np.ndarray], list[Trajectory], float, bool]] = []
        env_steps = 0
        while any(s.active for s in self.slots):
            obs = np.stack([s.columns["obs"][s.t] if s.active else self._idle("obs") for s in self.slots])
            avail = np.stack([s.columns["avail"][s.t] if s.active else self._idle("avail") for s in self.slots])
            extra = {}
            if self.hierarchical:
                for name in ("subgoal_avail", "subgoal_feat") if self.spec.subgoal_feat_dim else ("subgoal_avail",):
                    extra[name] = np.stack([s.columns[name][s.t] if s.active else self._idle(name) for s in self.slots])
            actions, record, carry = self.agents.act(obs, avail, carry, epsilon=epsilon, generator=generator, **extra)
            achieved = np.zeros((len(self.slots), len(self.spec.agents)), dtype=bool)
            restarted = np.zeros(len(self.slots), dtype=bool)
            for e, slot in enumerate(self.slots):
                if not slot.active:
                    continue
                env_steps += 1
                done, achieved[e] = self._step(e, slot, actions[e], {k: v[e] for k, v in record.items()})
                if done:
                    finished.append(self._finish(slot))
                    slot.active = False
                    if queue:
                        self._start(slot, queue.popleft(), record_trajectories)
                        restarted[e] = True
            if self.hierarchical:
                carry = self.agents.observe_achieved(carry, achieved)
            if restarted.any():
                carry = self.agents.reset_carry(carry, restarted)
        return self._result(finished, env_steps)

    def _idle(self, name: str) -> np.ndarray:
        f = self.fields[name]
        return np.ones(f.shape, dtype=f.dtype) if name.endswith("avail") else np.zeros(f.shape, dtype=f.dtype)

    def _step(self, e: int, slot: Slot, actions: np.ndarray, record: dict[str, Any]) -> tuple[bool, np.ndarray]:
        env, t, c, agents = slot.env, slot.t, slot.columns, self.spec.agents
        chosen = [self._subgoal_index(slot, a)[int(record["subgoal"][i])] for i, a in enumerate(agents)] if self.hierarchical else []
        act = {a: int(actions[i]) for i, a in enumerate(agents) if a in env.agents}
        obs, rewards, terms, truncs, infos = env.step(act)
        team_reward = float(np.mean([rewards[a] for a in act])) if act else 0.0
        terminated = any(terms.get(a, False) for a in act)
        slot.t = t + 1
        done = terminated or not env.agents or all(truncs.get(a, False) for a in act) or slot.t >= self.spec.episode_limit
        c["actions"][t], c["reward"][t], c["terminated"][t], c["mask"][t] = actions, team_reward, float(terminated), 1.0
        slot.won = slot.won or any(bool(infos.get(a, {}).get(InfoKeys.WON, False)) for a in agents)
        achieved = np.zeros(len(agents), dtype=bool)
        if self.hierarchical:
            base = getattr(env, "unwrapped", env)
            achieved = np.array([g is not None and g.check is not None and a in obs and bool(g.check(base, a)) for a, g in zip(agents, chosen)])
            c["subgoal"][t], c["decision"][t] = record["subgoal"], float(record["decision"])
            c["intrinsic_reward"][t] = np.where(achieved, self.rewards.bonus, -self.rewards.cost)
            c["subgoal_done"][t] = achieved
        self._write_state(slot, slot.t, obs, infos)
        if slot.turns is not None:
            self._record_turns(slot, t, rewards, terms, truncs, achieved, chosen)
        for hook in self.on_step:
            hook(e, infos)
        return done, achieved

    def _record_turns(self, slot: Slot, t: int, rewards: dict, terms: dict, truncs: dict, achieved: np.ndarray, chosen: list) -> None:
        c = slot.columns
        for i, agent in enumerate(self.spec.agents):
            action = int(c["actions"][t, i])
            slot.turns[agent].append(
                Turn(
                    observation=json.dumps(c["obs"][t, i].tolist()),
                    action=str(action),
                    reward=float(rewards.get(agent, 0.0)),
                    terminated=bool(terms.get(agent, False)),
                    truncated=bool(truncs.get(agent, False)),
                    subgoal=chosen[i].id if chosen and chosen[i] is not None else None,
                    subgoal_done=bool(achieved[i]),
                    action_valid=bool(c["avail"][t, i, action]),
                )
            )

    def _finish(self, slot: Slot) -> tuple[dict[str, np.ndarray], list[Trajectory], float, bool]:
        ep_return = float(slot.columns["reward"].sum())
        trajectories = []
        if slot.turns is not None:
            for agent, turns in slot.turns.items():
                trajectories.append(
                    Trajectory(
                        group_id=f"{self.env_id}:{slot.seed}",
                        env_id=self.env_id,
                        seed=slot.seed,
                        agent_id=agent,
                        turns=turns,
                        episode_return=ep_return,
                        success=slot.won,
                        segments=segments_from_turns(turns, slot.columns.get("decision")),
                    )
                )
        for hook in self.on_episode:
            hook(slot.columns, trajectories)
        return slot.columns, trajectories, ep_return, slot.won

    def _result(self, finished: list, env_steps: int) -> CollectResult:
        if not finished:
            empty = {n: np.zeros((0, self.spec.episode_limit + int(f.per_state), *f.shape), f.dtype) for n, f in self.fields.items()}
            return CollectResult(empty, [], np.zeros(0), np.zeros(0, bool), np.zeros(0, int), 0)
        columns = {n: np.stack([f[0][n] for f in finished]) for n in self.fields}
        return CollectResult(
            episodes=columns,
            trajectories=[t for f in finished for t in f[1]],
            returns=np.array([f[2] for f in finished]),
            successes=np.array([f[3] for f in finished]),
            lengths=columns["mask"].sum(axis=1).astype(int),
            env_steps=env_steps,
        )


def segments_from_turns(turns: list[Turn], decision: np.ndarray | None) -> list[Segment]:
    """Subgoal segments ``[start, end)`` of one agent: a new segment at every high-level decision step."""
    if decision is None or not turns:
        return []
    starts = [t for t in range(len(turns)) if decision[t] > 0] + [len(turns)]
    return [
        Segment(turns[s].subgoal or "", s, e, any(turn.subgoal_done for turn in turns[s:e]))
        for s, e in zip(starts[:-1], starts[1:])
    ]
