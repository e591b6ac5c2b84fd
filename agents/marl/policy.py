"""Value-based multi-agent controllers behind the collector's policy protocol.

:class:`EpsilonGreedyPolicy` turns a :class:`QMixAgents` or :class:`SubgoalQMixAgents` into a
recurrent :class:`~hiergym.collector.policy.Policy` for :class:`~hiergym.wrappers.team.TeamEnv`
slots: it stacks the slots' :class:`TeamObservation`s, runs one batched forward pass, and answers
one :class:`JointAction` per slot whose ``memory`` is that episode's carry row (GRU hidden
state, last action, current subgoal, ...), handed back by the collector on the next step and
``None`` at an episode's start. ``sampling`` is the exploration rate epsilon; with ``seeds`` (one
per row, from the collector) every exploration draw of a row comes from its own seed, so an
episode is the same whichever slot runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hiergym.agents.marl.action_selection import seeded_uniforms
from hiergym.agents.marl.controller import QMixAgents, SubgoalQMixAgents
from hiergym.wrappers.team import TeamAction, TeamObservation

DRAWS_PER_CHOICE = 2
"""Uniforms per agent per epsilon-greedy choice: explore or not, and which available action."""


@dataclass(slots=True)
class JointAction:
    """The team's action for one slot (a :class:`~hiergym.collector.policy.PolicyAction`)."""

    env_action: TeamAction
    memory: tuple[torch.Tensor, ...]  # this episode's carry row (the controller's initial_carry keys, in order)
    text: str = ""
    format_ok: bool = True
    generations: list = field(default_factory=list)

    @property
    def action(self) -> TeamAction:
        return self.env_action


class EpsilonGreedyPolicy:
    """Epsilon-greedy acting for all agents of many team-env slots with one forward pass (see the module docstring).

    Args:
        agents: the controller (its parameters are the learner's, so acting follows learning).
        epsilon: used when ``act`` gets no ``sampling``.
        seed: seeds the fallback generator for calls without ``seeds``.
    """

    recurrent = True

    def __init__(self, agents: QMixAgents | SubgoalQMixAgents, *, epsilon: float = 0.0, seed: int = 0):
        self.agents = agents
        self.epsilon = epsilon
        self.hierarchical = bool(getattr(agents, "uses_subgoals", False))
        self.generator = torch.Generator().manual_seed(seed)
        initial = agents.initial_carry(1)
        self._keys = tuple(initial)
        self._fresh = tuple(v[0] for v in initial.values())  # one episode's carry row at its start

    def act(
        self,
        observations: Sequence[TeamObservation],
        *,
        sampling: float | None = None,
        seeds: Sequence[int] | None = None,
        memories: Sequence[tuple[torch.Tensor, ...] | None] | None = None,
    ) -> list[JointAction]:
        if not observations:
            return []
        epsilon = self.epsilon if sampling is None else float(sampling)
        rows = memories if memories is not None else [None] * len(observations)
        fresh = self._fresh
        carry = dict(zip(self._keys, (torch.stack(column) for column in zip(*(fresh if m is None else m for m in rows)))))
        obs = np.stack([o.obs for o in observations])
        avail = np.stack([o.avail for o in observations])
        uniforms = None
        if seeds is not None and epsilon > 0.0:
            choices = 2 if self.hierarchical else 1
            uniforms = seeded_uniforms(seeds, (obs.shape[1], DRAWS_PER_CHOICE * choices))
        extra: dict[str, Any] = {}
        if self.hierarchical:
            carry["achieved"] = torch.as_tensor(np.stack([np.asarray(o.subgoal_done, dtype=bool) for o in observations]))
            extra["subgoal_avail"] = np.stack([o.subgoal_avail for o in observations])
            if observations[0].subgoal_feat is not None:
                extra["subgoal_feat"] = np.stack([o.subgoal_feat for o in observations])
            if getattr(self.agents, "joint", False):  # joint subgoal choice scores picks on the global state
                extra["state"] = np.stack([o.state for o in observations])
        actions, record, new_carry = self.agents.act(obs, avail, carry, epsilon=epsilon, generator=self.generator, uniforms=uniforms, **extra)
        new_rows = list(zip(*(new_carry[k].unbind(0) for k in self._keys)))
        if self.hierarchical:
            subgoals, decisions, redecided = record["subgoal"], record["decision"], record["redecided"]
            return [
                JointAction(TeamAction(actions[i], subgoals[i], bool(decisions[i]), redecided[i]), new_rows[i]) for i in range(len(observations))
            ]
        return [JointAction(TeamAction(actions[i]), new_rows[i]) for i in range(len(observations))]
