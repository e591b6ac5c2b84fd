"""Acting side of value-based MARL: build per-agent inputs, unroll the shared recurrent nets, pick actions.

Both controllers expose the same batched acting interface (``initial_carry``, ``act``) and the
same unrolling interface to their learner. The *carry* is a dict of per-row tensors (recurrent
state, last action, ...) threaded through steps, so a controller holds no hidden per-episode state
of its own; :class:`~hiergym.agents.marl.policy.EpsilonGreedyPolicy` puts them behind the
collector's policy protocol (one carry row per episode, kept by the collector).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from hiergym.agents.marl.action_selection import epsilon_greedy
from hiergym.agents.marl.joint_choice import best_joint, duplicate_claims, feasible_choices, joint_agent_qs, joint_choices, random_feasible
from hiergym.agents.marl.networks import GRU_HIDDEN, RecurrentQNet

NO_ACTION = -1
"""``last_action`` value before an agent's first step (encoded as an all-zero one-hot)."""
REDECIDE_MODES = ("team", "ended")
"""Who picks at a subgoal decision step: every agent, or only the agents whose own subgoal ended."""


def held_subgoal_avail(avail: torch.Tensor, subgoal: torch.Tensor, free: torch.Tensor) -> torch.Tensor:
    """Subgoal availability ``[..., N, G]`` where an agent that does not choose (``free`` False) can only keep ``subgoal``.

    The constraint the acting choice and the learner's bootstrap share under ``redecide="ended"``.
    """
    held = torch.nn.functional.one_hot(subgoal.clamp(min=0).long(), avail.shape[-1]).to(avail.dtype)
    return torch.where(free.unsqueeze(-1), avail, held)


def one_hot(index: torch.Tensor, n: int) -> torch.Tensor:
    """Float one-hot of ``index [...]`` over ``n`` classes; ``NO_ACTION`` gives a zero row."""
    valid = index >= 0
    out = torch.nn.functional.one_hot(index.clamp(min=0).long(), n).float()
    return out * valid.unsqueeze(-1)


class QMixAgents(nn.Module):
    """N agents sharing one :class:`RecurrentQNet` (agent-id one-hot and last action in the input).

    Used by IQL, VDN and QMIX; the learner wraps it with a mixer. Shapes: ``obs [B, N, obs_dim]``,
    ``avail [B, N, n_actions]``, actions ``[B, N]`` (int64).
    """

    uses_subgoals = False

    def __init__(
        self,
        n_agents: int,
        obs_dim: int,
        n_actions: int,
        *,
        hidden_dim: int = GRU_HIDDEN,
        agent_id: bool = True,
        last_action: bool = True,
        cond_dim: int = 0,
    ):
        super().__init__()
        self.n_agents, self.obs_dim, self.n_actions = n_agents, obs_dim, n_actions
        self.agent_id, self.last_action = agent_id, last_action
        input_dim = obs_dim + (n_actions if last_action else 0) + (n_agents if agent_id else 0)
        self.net = RecurrentQNet(input_dim, n_actions, hidden_dim=hidden_dim, cond_dim=cond_dim)
        self.register_buffer("_ids", torch.eye(n_agents), persistent=False)

    def build_inputs(self, obs: torch.Tensor, last_action: torch.Tensor) -> torch.Tensor:
        """Concatenate ``obs [..., N, o]``, one-hot ``last_action [..., N]`` and agent ids -> ``[..., N, in]``."""
        parts = [obs]
        if self.last_action:
            parts.append(one_hot(last_action, self.n_actions))
        if self.agent_id:
            parts.append(self._ids.expand(*obs.shape[:-1], self.n_agents))
        return torch.cat(parts, dim=-1)

    def init_hidden(self, batch: int) -> torch.Tensor:
        return self.net.init_hidden(batch * self.n_agents).view(batch, self.n_agents, -1)

    def step(self, obs: torch.Tensor, last_action: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """One recurrent step for all agents: returns the new hidden ``[B, N, H]``."""
        b = obs.shape[0]
        x = self.build_inputs(obs, last_action).reshape(b * self.n_agents, -1)
        return self.net.step(x, hidden.reshape(b * self.n_agents, -1)).view(b, self.n_agents, -1)

    def q_values(self, hidden: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``[..., N, n_actions]`` from hidden ``[..., N, H]`` (``cond [..., N, cond_dim]`` if conditioned)."""
        return self.net.q_values(hidden, cond)

    def unroll(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Hidden states ``[B, T+1, N, H]`` for ``obs [B, T+1, N, o]`` with ``actions [B, T, N]`` taken.

        The last action fed at step ``t`` is ``actions[:, t-1]`` (none at ``t = 0``), as when acting.
        """
        b, t1 = obs.shape[:2]
        prev = torch.cat([torch.full_like(actions[:, :1], NO_ACTION), actions], dim=1)[:, :t1]
        x = self.build_inputs(obs, prev).transpose(1, 2).reshape(b * self.n_agents, t1, -1)
        hidden = self.net.unroll(x)  # teacher forcing: every input is known, so one fused GRU call
        return hidden.view(b, self.n_agents, t1, -1).transpose(1, 2)

    # --- batched acting interface (EpsilonGreedyPolicy) ---------------------------------------------------
    def initial_carry(self, n_slots: int) -> dict[str, torch.Tensor]:
        """Per-slot recurrent state at the start of an episode."""
        return {
            "hidden": self.init_hidden(n_slots),
            "last_action": torch.full((n_slots, self.n_agents), NO_ACTION, dtype=torch.long),
        }

    @torch.no_grad()
    def act(
        self,
        obs: np.ndarray,
        avail: np.ndarray,
        carry: dict[str, torch.Tensor],
        *,
        epsilon: float,
        generator: torch.Generator | None = None,
        uniforms: torch.Tensor | None = None,
        **_: Any,
    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, torch.Tensor]]:
        """Epsilon-greedy actions ``[B, N]`` for ``obs [B, N, o]`` and masks ``avail [B, N, A]``.

        Returns ``(actions, record, new_carry)``; ``record`` holds extra per-step columns for the
        episode buffer (none for flat agents). ``uniforms [B, N, 2]``: pre-drawn exploration draws
        (see ``epsilon_greedy``) instead of ``generator``.
        """
        hidden = self.step(torch.as_tensor(obs, dtype=torch.float32), carry["last_action"], carry["hidden"])
        actions = epsilon_greedy(self.q_values(hidden), torch.as_tensor(avail), epsilon, generator, uniforms)
        return actions.numpy(), {}, {"hidden": hidden, "last_action": actions}


class SubgoalQMixAgents(nn.Module):
    """Two-level agents: ``high`` picks a subgoal per agent, ``low`` acts conditioned on it.

    ``high`` is a :class:`QMixAgents` whose "actions" are subgoal indices (its Q values are the
    per-agent ``Q^H(history, subgoal)`` the high-level mixer combines); its GRU runs every env
    step so it sees the whole history, but a new subgoal is chosen only at a *decision step*:
    the first step, ``k`` steps after the last decision, or the step after any agent achieved
    its subgoal. Decisions are synchronous across agents so the high level is one SMDP over
    joint subgoals whose transitions the mixer can score. With ``redecide="ended"`` only the agents
    whose own subgoal ended (achieved, or ``k`` of their own steps elapsed) pick anew at a decision
    step; the others keep theirs (their subgoal is the only one available to them, so a joint choice
    picks among the joint picks that keep it). ``low`` is a subgoal-conditioned
    :class:`QMixAgents` over primitive actions.

    With ``subgoal_feat_dim = F > 0`` both levels also see where the subgoals are
    (``subgoal_feat [B, N, G, F]``, e.g. the offset to each subgoal's target cell): ``high``
    reads all ``G x F`` features next to the observation, ``low`` reads the chosen subgoal's
    ``F`` features next to its one-hot.

    With a ``joint_scorer`` (the high-level QMIX mixer, ``(agent_qs [..., N], state [..., S]) ->
    Q_tot [...]``) the subgoals are chosen *jointly*: the argmax of ``Q_tot(state, .)`` over the
    joint picks that claim no ``shared_subgoals`` index twice (see :mod:`.joint_choice`), and an
    exploring decision draws one such joint pick uniformly. ``act`` then needs ``state [B, S]``.
    """

    uses_subgoals = True

    def __init__(
        self,
        n_agents: int,
        obs_dim: int,
        n_actions: int,
        n_subgoals: int,
        *,
        goal_horizon: int,
        hidden_dim: int = GRU_HIDDEN,
        agent_id: bool = True,
        last_action: bool = True,
        subgoal_feat_dim: int = 0,
        joint_scorer: nn.Module | None = None,
        shared_subgoals: Sequence[bool] = (),
        redecide: str = "team",
    ):
        super().__init__()
        if goal_horizon < 1:
            raise ValueError(f"goal_horizon={goal_horizon} must be >= 1")
        if redecide not in REDECIDE_MODES:
            raise ValueError(f"redecide={redecide!r}: one of {REDECIDE_MODES}")
        if joint_scorer is not None and len(shared_subgoals) != n_subgoals:
            raise ValueError(f"shared_subgoals has {len(shared_subgoals)} flags, need one per subgoal index ({n_subgoals})")
        self.n_agents, self.n_actions, self.n_subgoals = n_agents, n_actions, n_subgoals
        self.goal_horizon, self.subgoal_feat_dim, self.redecide = goal_horizon, subgoal_feat_dim, redecide
        kw = dict(hidden_dim=hidden_dim, agent_id=agent_id, last_action=last_action)
        self.high = QMixAgents(n_agents, obs_dim + n_subgoals * subgoal_feat_dim, n_subgoals, **kw)
        self.low = QMixAgents(n_agents, obs_dim, n_actions, cond_dim=n_subgoals + subgoal_feat_dim, **kw)
        self.joint_scorer = joint_scorer
        self.shared_subgoals = tuple(bool(x) for x in shared_subgoals)
        if joint_scorer is not None:
            choices = joint_choices(n_agents, n_subgoals)
            self.register_buffer("joint_choices", choices, persistent=False)
            self.register_buffer("joint_duplicates", duplicate_claims(choices, self.shared_subgoals), persistent=False)

    @property
    def joint(self) -> bool:
        """True when subgoals are chosen jointly by the scorer (exclusive shared subgoals)."""
        return self.joint_scorer is not None

    def joint_values(self, q: torch.Tensor, state: torch.Tensor, scorer: nn.Module, avail: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Q_tot [..., C], feasible [..., C])`` of every joint pick, from ``q [..., N, G]``, ``state [..., S]``."""
        agent_qs = joint_agent_qs(q, self.joint_choices)  # [..., C, N]
        states = state.unsqueeze(-2).expand(*agent_qs.shape[:-1], state.shape[-1])
        return scorer(agent_qs, states), feasible_choices(self.joint_choices, self.joint_duplicates, avail)

    def pick_joint(
        self, q: torch.Tensor, state: torch.Tensor, avail: torch.Tensor, epsilon: float, uniforms: torch.Tensor | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Epsilon-greedy joint subgoals ``[B, N]``: the best feasible joint pick, or a uniform feasible one when exploring."""
        q_tot, feasible = self.joint_values(q, state, self.joint_scorer, avail)
        index = best_joint(q_tot, feasible)
        if epsilon > 0.0:
            if uniforms is not None:  # the first agent's draws decide for the team
                explore_u, which_u = uniforms[:, 0, 0], uniforms[:, 0, 1]
            else:
                explore_u, which_u = torch.rand(q.shape[0], 2, generator=generator, dtype=torch.float64).unbind(-1)
            index = torch.where(explore_u < epsilon, random_feasible(feasible, which_u), index)
        return self.joint_choices[index]

    def high_inputs(self, obs: torch.Tensor, subgoal_feat: torch.Tensor | None) -> torch.Tensor:
        """``obs [..., N, o]`` with all subgoal features ``[..., N, G, F]`` appended (if any)."""
        if not self.subgoal_feat_dim:
            return obs
        return torch.cat([obs, subgoal_feat.flatten(-2)], dim=-1)

    def low_cond(self, subgoal: torch.Tensor, subgoal_feat: torch.Tensor | None) -> torch.Tensor:
        """Executor conditioning ``[..., N, G (+ F)]``: the subgoal one-hot and that subgoal's features."""
        goal = one_hot(subgoal, self.n_subgoals)
        if not self.subgoal_feat_dim:
            return goal
        index = subgoal.clamp(min=0).long()[..., None, None].expand(*subgoal.shape, 1, self.subgoal_feat_dim)
        return torch.cat([goal, subgoal_feat.gather(-2, index).squeeze(-2)], dim=-1)

    def initial_carry(self, n_slots: int) -> dict[str, torch.Tensor]:
        high, low = self.high.initial_carry(n_slots), self.low.initial_carry(n_slots)
        return {
            "high_hidden": high["hidden"],
            "subgoal": high["last_action"],
            "low_hidden": low["hidden"],
            "last_action": low["last_action"],
            "steps": torch.zeros(n_slots, self.n_agents, dtype=torch.long),
            "achieved": torch.zeros(n_slots, self.n_agents, dtype=torch.bool),
        }

    @staticmethod
    def observe_achieved(carry: dict[str, torch.Tensor], achieved: np.ndarray) -> dict[str, torch.Tensor]:
        """Tell the agents which agents achieved their subgoal on the last step (``achieved [B, N]``)."""
        return {**carry, "achieved": torch.as_tensor(np.asarray(achieved, dtype=bool))}

    def subgoals_ended(self, carry: dict[str, torch.Tensor]) -> torch.Tensor:
        """Bool ``[B, N]``: the agent's subgoal is over (none yet, ``k`` of its steps elapsed, or achieved)."""
        return (carry["subgoal"] == NO_ACTION) | (carry["steps"] >= self.goal_horizon) | carry["achieved"]

    def decision_due(self, carry: dict[str, torch.Tensor]) -> torch.Tensor:
        """Bool ``[B]``: a decision step (first step, ``k`` steps elapsed, or a subgoal achieved, for any agent)."""
        return self.subgoals_ended(carry).any(-1)

    def choosers(self, carry: dict[str, torch.Tensor]) -> torch.Tensor:
        """Bool ``[B, N]``: agents that pick a subgoal now (all at a decision step, or only those whose subgoal ended)."""
        ended = self.subgoals_ended(carry)
        if self.redecide == "ended":
            return ended
        return ended.any(-1, keepdim=True).expand_as(ended)

    @torch.no_grad()
    def act(
        self,
        obs: np.ndarray,
        avail: np.ndarray,
        carry: dict[str, torch.Tensor],
        *,
        epsilon: float,
        generator: torch.Generator | None = None,
        subgoal_avail: np.ndarray | None = None,
        subgoal_feat: np.ndarray | None = None,
        state: np.ndarray | None = None,
        uniforms: torch.Tensor | None = None,
        **_: Any,
    ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, torch.Tensor]]:
        """As :meth:`QMixAgents.act`; ``record`` holds ``subgoal [B, N]``, ``decision [B]`` and ``redecided [B, N]`` (who picked).

        ``uniforms [B, N, 4]``: pre-drawn draws, ``[..., :2]`` for the subgoal choice, ``[..., 2:]`` for the action.
        ``state [B, S]``: the global state, needed by joint agents (``joint_scorer``)."""
        if subgoal_avail is None:
            raise ValueError("SubgoalQMixAgents.act needs subgoal_avail [B, N, n_subgoals]")
        if self.subgoal_feat_dim and subgoal_feat is None:
            raise ValueError("these agents read subgoal features: pass subgoal_feat [B, N, n_subgoals, F]")
        x = torch.as_tensor(obs, dtype=torch.float32)
        feat = None if subgoal_feat is None else torch.as_tensor(subgoal_feat, dtype=torch.float32)
        high_hidden = self.high.step(self.high_inputs(x, feat), carry["subgoal"], carry["high_hidden"])
        free = self.choosers(carry)
        decide = free.any(-1)
        high_u, low_u = (None, None) if uniforms is None else (uniforms[..., :2], uniforms[..., 2:])
        high_q = self.high.q_values(high_hidden)
        sub_avail = held_subgoal_avail(torch.as_tensor(subgoal_avail), carry["subgoal"], free)
        if self.joint:
            if state is None:
                raise ValueError("joint subgoal agents score joint picks on the global state: pass state [B, S]")
            picked = self.pick_joint(high_q, torch.as_tensor(state, dtype=torch.float32), sub_avail, epsilon, high_u, generator)
        else:
            picked = epsilon_greedy(high_q, sub_avail, epsilon, generator, high_u)
        subgoal = torch.where(free, picked, carry["subgoal"])
        low_hidden = self.low.step(x, carry["last_action"], carry["low_hidden"])
        q = self.low.q_values(low_hidden, self.low_cond(subgoal, feat))
        actions = epsilon_greedy(q, torch.as_tensor(avail), epsilon, generator, low_u)
        new_carry = {
            "high_hidden": high_hidden,
            "subgoal": subgoal,
            "low_hidden": low_hidden,
            "last_action": actions,
            "steps": torch.where(free, 1, carry["steps"] + 1),
            "achieved": torch.zeros_like(carry["achieved"]),
        }
        record = {"subgoal": subgoal.numpy(), "decision": decide.numpy(), "redecided": free.numpy()}
        return actions.numpy(), record, new_carry
