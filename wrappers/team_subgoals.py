"""TeamSubgoalHooks: the multi-agent variant of ``SubgoalHooks`` for a :class:`~hiergym.wrappers.team.TeamEnv`.

Each agent pursues one subgoal at a time, chosen by index in the joint action
(``TeamAction.subgoals``). After every step the wrapper evaluates each agent's subgoal with the
env-side ``check(env.unwrapped, agent)`` and reports, in the next :class:`TeamObservation`,
``subgoal_done [N]`` and ``intrinsic_reward [N]`` (``bonus`` on achieving it, ``-cost`` on any
other step), and ``subgoal_achieved [N, G]``: every subgoal index checked for every agent, so an
executor can also learn from the subgoals it was not pursuing (hindsight relabelling). Every observation also carries which subgoal indices each agent may choose
(``subgoal_avail``) and, on grids whose subgoals target cells, where each subgoal is
(``subgoal_feat``: the offset to its target cell, see :func:`subgoal_offsets`).

Subgoal index ``j`` means the ``j``-th of the configured ``subgoal_ids``, or, without them, the
``j``-th subgoal in the agent's own ``info["subgoals"]`` list. :func:`team_segments` cuts one
agent's episode into executor segments at its decision steps (``Trajectory.segments``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.types import Segment, Subgoal
from hiergym.wrappers.team import TeamAction, TeamEnv, TeamObservation

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


class TeamSubgoalHooks:
    """Declares, checks and rewards per-agent subgoals on a :class:`TeamEnv` (see the module docstring).

    Args:
        env: the team env.
        n_subgoals: G, the number of subgoal indices (``len(subgoal_ids)``, or the most any agent lists).
        subgoal_ids: a fixed subgoal set (ids from the env's lists), or empty for each agent's own list.
        features: add ``subgoal_feat`` (``SUBGOAL_FEAT_DIM`` per subgoal; the env must be a grid with cell targets).
        mask_achieved: hide subgoals the env reports as achieved (``info["subgoals_achieved"]``).
        bonus: intrinsic reward on achieving the subgoal.
        cost: intrinsic cost of any other step (subtracted).
    """

    def __init__(
        self,
        env: TeamEnv,
        *,
        n_subgoals: int,
        subgoal_ids: Sequence[str] = (),
        features: bool = False,
        mask_achieved: bool = False,
        bonus: float = 1.0,
        cost: float = 0.01,
    ):
        if n_subgoals < 1:
            raise EnvSpecError("subgoals", type(env.env).__name__, f"an env whose infos[agent][{InfoKeys.SUBGOALS!r}] lists subgoals")
        self.env = env
        self.agents = env.agents
        self.n_subgoals, self.subgoal_ids = n_subgoals, tuple(subgoal_ids)
        self.features, self.mask_achieved = features, mask_achieved
        self.bonus, self.cost = float(bonus), float(cost)
        self.subgoals: dict[str, list[Subgoal]] = {}
        self.achieved_ids: dict[str, list[str]] = {}
        self._fallback = np.eye(n_subgoals, dtype=np.int8)[0]

    @property
    def unwrapped(self) -> Any:
        return self.env.unwrapped

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[TeamObservation, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self.subgoals, self.achieved_ids = {}, {}
        n = len(self.agents)
        return self._observe(obs, np.zeros(n, dtype=bool), np.zeros(n, dtype=np.float32)), info

    def step(self, action: TeamAction) -> tuple[TeamObservation, float, bool, bool, dict[str, Any]]:
        if action.subgoals is None:
            raise EnvSpecError("action.subgoals", None, "a subgoal index per agent (TeamAction.subgoals) for TeamSubgoalHooks")
        goals = [self.indexed(agent) for agent in self.agents]
        obs, reward, terminated, truncated, info = self.env.step(action)
        base, live = self.env.unwrapped, self.env.observed
        every = np.array(
            [[g is not None and g.check is not None and a in live and bool(g.check(base, a)) for g in row] for a, row in zip(self.agents, goals)],
            dtype=bool,
        ).reshape(len(self.agents), self.n_subgoals)
        achieved = every[np.arange(len(self.agents)), np.asarray(action.subgoals, dtype=np.int64)]
        intrinsic = np.where(achieved, self.bonus, -self.cost).astype(np.float32)
        return self._observe(obs, achieved, intrinsic, every), reward, terminated, truncated, info

    def indexed(self, agent: str) -> list[Subgoal | None]:
        """The agent's subgoals by index: the configured id set, or its own list (padded with None to G)."""
        own = self.subgoals.get(agent, [])
        if not self.subgoal_ids:
            if len(own) > self.n_subgoals:
                raise EnvSpecError("subgoals", len(own), f"at most {self.n_subgoals} per agent (seen at probe)")
            return own + [None] * (self.n_subgoals - len(own))
        by_id = {g.id: g for g in own}
        return [by_id.get(i) for i in self.subgoal_ids]

    def _observe(self, obs: TeamObservation, achieved: np.ndarray, intrinsic: np.ndarray, every: np.ndarray | None = None) -> TeamObservation:
        for agent in self.agents:
            agent_info = self.env.infos.get(agent, {})
            if InfoKeys.SUBGOALS in agent_info:
                self.subgoals[agent] = list(agent_info[InfoKeys.SUBGOALS])
            self.achieved_ids[agent] = list(agent_info.get(InfoKeys.SUBGOALS_ACHIEVED, []))
        n = len(self.agents)
        avail = np.zeros((n, self.n_subgoals), dtype=np.int8)
        feat = np.zeros((n, self.n_subgoals, SUBGOAL_FEAT_DIM), dtype=np.float32) if self.features else None
        base = self.env.unwrapped
        for i, agent in enumerate(self.agents):
            goals = self.indexed(agent)
            present = np.array([g is not None for g in goals])
            fresh = present & np.array([g is not None and g.id not in self.achieved_ids.get(agent, []) for g in goals])
            row = fresh if self.mask_achieved and fresh.any() else present
            avail[i] = row if row.any() else self._fallback
            if feat is not None and agent in self.env.observed:
                feat[i] = subgoal_offsets(base, agent, goals)
        obs.subgoal_avail, obs.subgoal_feat, obs.subgoal_done, obs.intrinsic_reward = avail, feat, achieved, intrinsic
        obs.subgoal_achieved = every if every is not None else np.zeros((n, self.n_subgoals), dtype=bool)
        return obs

    def close(self) -> None:
        self.env.close()


def team_segments(subgoals: Sequence[str | None], decisions: Sequence[bool], achieved: Sequence[bool]) -> list[Segment]:
    """One agent's executor segments ``[start, end)``: a new segment at every decision step.

    ``subgoals[t]`` is the subgoal pursued at step ``t`` (text or id), ``decisions[t]`` whether step
    ``t`` chose it, ``achieved[t]`` whether it was achieved on step ``t``.
    """
    n = len(subgoals)
    if n == 0:
        return []
    starts = [t for t in range(n) if decisions[t]] + [n]
    if starts[0] != 0:
        starts.insert(0, 0)
    return [Segment(subgoals[s] or "", s, e, any(achieved[s:e])) for s, e in zip(starts[:-1], starts[1:])]
