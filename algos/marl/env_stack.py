"""The multi-agent env stack: a PettingZoo env wrapped as one team env for the collector, and what learners need to know of it.

``TeamEnvMaker`` builds ``ParallelEnv -> TeamEnv (-> TeamSubgoalHooks)`` for every env slot (it is
the collector's ``env_fn``); ``probe_env`` reads agents, sizes, episode limit and subgoal count
once, from a reset with seed 0, into an :class:`EnvSpec`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hiergym.algos.marl.buffer import Field, episode_fields
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.wrappers.team import TeamEnv
from hiergym.wrappers.team_subgoals import SUBGOAL_FEAT_DIM, TeamSubgoalHooks, has_cell_targets


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
    """Features per subgoal given to the subgoal agents (0 = none; ``SUBGOAL_FEAT_DIM`` on grids)."""
    shared_subgoals: tuple[bool, ...] = ()
    """Per subgoal index: it names the same subgoal (id) for every agent, so two agents picking it claim one thing."""

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
    """Read agents, sizes and the episode limit from the ParallelEnv ``env`` (reset with seed 0).

    ``subgoal_features``: give subgoal agents each subgoal's target offset (``subgoal_offsets``)
    when the env is a grid whose subgoals target cells; otherwise ``subgoal_feat_dim`` stays 0."""
    team = TeamEnv(env, episode_limit=episode_limit)
    _, infos = env.reset(seed=0)
    n_subgoals = 0
    if subgoals:
        n_subgoals = len(subgoal_ids) or max(len(infos.get(a, {}).get(InfoKeys.SUBGOALS, [])) for a in team.agents)
        if n_subgoals == 0:
            raise EnvSpecError("subgoals", type(env).__name__, f"an env whose infos[agent][{InfoKeys.SUBGOALS!r}] lists subgoals")
    feat_dim = 0
    if subgoals and subgoal_features:
        listed = [g for a in team.agents for g in infos.get(a, {}).get(InfoKeys.SUBGOALS, [])]
        feat_dim = SUBGOAL_FEAT_DIM if has_cell_targets(team.unwrapped, listed) else 0
    state_dim = int(np.asarray(env.state()).size)
    shared = shared_subgoal_indices(infos, team.agents, n_subgoals, subgoal_ids) if subgoals else ()
    return EnvSpec(team.agents, team.obs_dim, state_dim, team.n_actions, team.episode_limit, tuple(subgoal_ids), n_subgoals, feat_dim, shared)


def shared_subgoal_indices(infos: dict[str, Any], agents: Sequence[str], n_subgoals: int, subgoal_ids: Sequence[str] = ()) -> tuple[bool, ...]:
    """Per subgoal index: does it name the same subgoal id for every agent (read from one reset's ``infos``)?

    With a configured id set every index does (index j is ``subgoal_ids[j]`` for all agents); otherwise index
    ``j`` is each agent's own ``j``-th subgoal, shared only if every agent lists the same id there
    (GoalGrid's ``goal_j``: yes; KeyDoor's ``get_key`` / ``near_door``: no).
    """
    if subgoal_ids:
        return (True,) * n_subgoals
    lists = [[g.id for g in infos.get(a, {}).get(InfoKeys.SUBGOALS, [])] for a in agents]
    return tuple(all(j < len(ids) for ids in lists) and len({ids[j] for ids in lists}) == 1 for j in range(n_subgoals))


@dataclass
class SubgoalRewards:
    """Executor intrinsic reward: ``bonus`` on achieving the subgoal, ``-cost`` on any other step."""

    bonus: float = 1.0
    cost: float = 0.01
    mask_achieved: bool = False


def _registered(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    from hiergym.registration import make_parallel

    return make_parallel(env_id, **env_kwargs)


@dataclass
class TeamEnvMaker:
    """The collector's ``env_fn``: ``env_id -> TeamEnv`` (with ``TeamSubgoalHooks`` when ``spec`` has subgoals).

    ``make``: ``() -> ParallelEnv`` for unregistered envs (tests); otherwise ``make_parallel(env_id,
    **env_kwargs)``. Picklable when ``make`` is (worker processes).
    """

    spec: EnvSpec
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    rewards: SubgoalRewards = field(default_factory=SubgoalRewards)
    make: Callable[[], Any] | None = None

    def __call__(self, env_id: str) -> TeamEnv | TeamSubgoalHooks:
        env = self.make() if self.make is not None else _registered(env_id, self.env_kwargs)
        team = TeamEnv(env, episode_limit=self.spec.episode_limit)
        if not self.spec.n_subgoals:
            return team
        r = self.rewards
        return TeamSubgoalHooks(
            team,
            n_subgoals=self.spec.n_subgoals,
            subgoal_ids=self.spec.subgoal_ids,
            features=bool(self.spec.subgoal_feat_dim),
            mask_achieved=r.mask_achieved,
            bonus=r.bonus,
            cost=r.cost,
        )
