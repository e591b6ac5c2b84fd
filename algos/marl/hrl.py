"""Subgoal-QMIX learner: QMIX over high-level subgoal choices with SMDP targets, plus executors.

High level: per-agent ``Q^H(history, subgoal)`` from ``SubgoalQMixAgents.high`` is mixed by a
monotonic QMIX mixer on ``state()``; for each decision step the target is the team reward
summed (discounted) over the subgoal period plus ``gamma^k`` times the target Q_tot at the next
decision (double Q, target networks) - see :func:`smdp_targets`. With ``subgoal_choice="joint"``
the mixer is also the agents' joint scorer and the bootstrap is ``Q_tot`` of the best joint pick
that claims no shared subgoal twice (:meth:`SubgoalQLearner.joint_bootstrap`), the same set the
agents choose from.
Low level: the subgoal-conditioned executor is trained per agent (parameter sharing) by
double Q-learning on the intrinsic reward (``+subgoal_bonus`` when the subgoal is
achieved, ``-step_cost`` otherwise); achieving the subgoal ends the executor's episode, and
the bootstrap keeps the subgoal of step ``t`` even if a new one is chosen at ``t + 1``. One-step
targets by default; ``low_td_lambda > 0``: Watkins Q(lambda) (traces cut at a subgoal change or a
non-greedy action). ``relabel_subgoals``: every step also trains every other available subgoal on
the reward it would have paid (hindsight relabelling; ``subgoal_achieved`` in the buffer).
"""

from __future__ import annotations

import numpy as np
import torch

from hiergym.agents.marl.controller import SubgoalQMixAgents, held_subgoal_avail
from hiergym.agents.marl.joint_choice import best_joint
from hiergym.algos.marl.configs import SubgoalQMIXConfig
from hiergym.algos.marl.learner import (
    QLearner,
    TargetNetworks,
    bootstrap_values,
    gradient_step,
    make_mixer,
    masked_td_loss,
    to_tensors,
)
from hiergym.algos.marl.targets import smdp_targets, td_lambda_targets, watkins_traces


class SubgoalQLearner:
    """Trains both levels of :class:`SubgoalQMixAgents`; owns one Adam optimiser per level."""

    def __init__(self, agents: SubgoalQMixAgents, config: SubgoalQMIXConfig, *, state_dim: int):
        self.agents, self.config = agents, config
        self.mixer = agents.joint_scorer if agents.joint else make_mixer(config, agents.n_agents, state_dim)
        self.nets = TargetNetworks({"high": agents.high, "mixer": self.mixer, "low": agents.low}, config.target_update_episodes)
        high_params = [*agents.high.parameters(), *self.mixer.parameters()]
        self.optimisers = {
            "high_optimiser": torch.optim.Adam(high_params, lr=config.lr),
            "low_optimiser": torch.optim.Adam(agents.low.parameters(), lr=config.low_lr),
        }

    def high_loss(self, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Masked squared SMDP TD error of the mixed high-level Q at decision steps."""
        high, target_high = self.agents.high, self.nets.target["high"]
        obs = self.agents.high_inputs(b["obs"], b.get("subgoal_feat"))
        q = high.q_values(high.unroll(obs, b["subgoal"]))  # [B, T+1, N, G]
        with torch.no_grad():
            target_q = target_high.q_values(target_high.unroll(obs, b["subgoal"]))
            avail = self.bootstrap_avail(b)
            if self.agents.joint:
                values = self.joint_bootstrap(q, target_q, b["state"], avail)
            else:
                next_values = bootstrap_values(q, target_q, avail, self.config.double_q)
                values = self.nets.target["mixer"](next_values, b["state"])  # [B, T+1]
            targets = smdp_targets(b["reward"], b["terminated"], b["decision"], b["mask"], values, self.config.gamma)
        chosen = q[:, :-1].gather(-1, b["subgoal"].unsqueeze(-1)).squeeze(-1)
        prediction = self.mixer(chosen, b["state"][:, :-1])
        return masked_td_loss(prediction, targets, b["mask"] * b["decision"])

    @staticmethod
    def bootstrap_avail(b: dict[str, torch.Tensor]) -> torch.Tensor:
        """``[B, T+1, N, G]`` subgoals each agent may take at every state: an agent that did not pick anew there keeps its own.

        The same constraint as acting (:func:`held_subgoal_avail`); after an episode's last step every agent is free.
        """
        avail = b["subgoal_avail"]
        steps = b["subgoal"].shape[1]
        free = (b["redecided"] > 0) | (b["mask"] <= 0).unsqueeze(-1)
        held = held_subgoal_avail(avail[:, :steps], b["subgoal"], free)
        return torch.cat([held, avail[:, steps:]], dim=1)

    def joint_bootstrap(self, q: torch.Tensor, target_q: torch.Tensor, state: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
        """``[B, T+1]`` value of the best feasible joint pick at every state (joint choice; no conflicting picks).

        Double Q: the online mixer's best joint pick, scored by the target networks; else the target's own max.
        """
        target_tot, feasible = self.agents.joint_values(target_q, state, self.nets.target["mixer"], avail)
        if not self.config.double_q:
            return target_tot.masked_fill(~feasible, float("-inf")).max(-1).values
        online_tot, _ = self.agents.joint_values(q.detach(), state, self.mixer, avail)
        best = best_joint(online_tot, feasible)
        return target_tot.gather(-1, best.unsqueeze(-1)).squeeze(-1)

    def executor_columns(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """What the executors learn from, per step, agent and trained subgoal ``[B, T, N, K]``.

        ``K = 1`` (the pursued subgoal, its intrinsic reward) or, with ``relabel_subgoals``, ``K = G``: every
        subgoal index with the intrinsic reward it would have paid (``subgoal_achieved``), weighted by whether
        the agent could pursue it there. ``same``: the trace may run on from the previous step (same subgoal).
        """
        c, subgoal, mask = self.config, b["subgoal"], b["mask"]
        if c.relabel_subgoals:
            n_goals = self.agents.n_subgoals
            goals = torch.arange(n_goals).expand(*subgoal.shape, n_goals)
            achieved = b["subgoal_achieved"]
            reward = torch.where(achieved > 0, c.subgoal_bonus, -c.step_cost)
            pursued = torch.nn.functional.one_hot(subgoal, n_goals)
            weight = torch.maximum(b["subgoal_avail"][:, :-1].to(pursued.dtype), pursued).float() * mask[..., None, None]
            same = torch.ones_like(reward)
        else:
            goals, achieved, reward = subgoal.unsqueeze(-1), b["subgoal_done"].unsqueeze(-1), b["intrinsic_reward"].unsqueeze(-1)
            weight = mask[..., None, None].expand_as(reward)
            same = torch.cat([torch.ones_like(subgoal[:, :1]), (subgoal[:, 1:] == subgoal[:, :-1]).long()], dim=1).unsqueeze(-1).float()
        done = torch.maximum(achieved, b["terminated"][..., None, None])
        return {"goals": goals, "reward": reward, "done": done, "weight": weight, "same": same}

    def low_loss(self, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Masked squared TD error of the executors on the intrinsic reward (one-step, or Watkins Q(lambda))."""
        low, target_low = self.agents.low, self.nets.target["low"]
        cols = self.executor_columns(b)
        goals = cols["goals"]  # [B, T, N, K]
        feat = b.get("subgoal_feat")  # [B, T+1, N, G, F]: the subgoal of step t is scored at t and t + 1
        k = goals.shape[-1]
        per_goal_feat = lambda f: None if f is None else f.unsqueeze(-3).expand(*f.shape[:-2], k, *f.shape[-2:])  # noqa: E731
        cond = self.agents.low_cond(goals, per_goal_feat(None if feat is None else feat[:, :-1]))  # [B, T, N, K, G (+F)]
        next_cond = self.agents.low_cond(goals, per_goal_feat(None if feat is None else feat[:, 1:]))
        hidden = low.unroll(b["obs"], b["actions"])  # [B, T+1, N, H]
        per_goal = lambda h: h.unsqueeze(-2).expand(*h.shape[:-1], k, h.shape[-1])  # noqa: E731
        q = low.q_values(per_goal(hidden[:, :-1]), cond)  # [B, T, N, K, A]
        actions = b["actions"].unsqueeze(-1).expand_as(goals)
        with torch.no_grad():
            target_hidden = target_low.unroll(b["obs"], b["actions"])
            online_next = low.q_values(per_goal(hidden[:, 1:]), next_cond)
            target_next = target_low.q_values(per_goal(target_hidden[:, 1:]), next_cond)
            next_v = bootstrap_values(online_next, target_next, b["avail"][:, 1:].unsqueeze(-2), self.config.double_q)  # [B, T, N, K]
            values = torch.cat([torch.zeros_like(next_v[:, :1]), next_v], dim=1)
            continues = b["mask"][..., None, None] * cols["same"]
            trace = watkins_traces(q.detach(), actions, b["avail"][:, :-1].unsqueeze(-2), continues)  # cut at a new subgoal or a non-greedy action
            targets = td_lambda_targets(cols["reward"], cols["done"], trace, values, self.config.low_gamma, self.config.low_td_lambda)
        chosen = q.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return masked_td_loss(chosen, targets, cols["weight"])

    def train(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One gradient step for each level on a sampled batch; returns both losses and stats."""
        b = to_tensors(batch)
        high_loss, high_stats = self.high_loss(b)
        low_loss, low_stats = self.low_loss(b)
        high_norm = gradient_step(high_loss, self.optimisers["high_optimiser"], self.config.grad_clip)
        low_norm = gradient_step(low_loss, self.optimisers["low_optimiser"], self.config.grad_clip)
        return {
            "loss": float(high_loss.detach()),
            "grad_norm": high_norm,
            "low_loss": float(low_loss.detach()),
            "low_grad_norm": low_norm,
            **high_stats,
            **{f"low_{k}": v for k, v in low_stats.items()},
        }

    maybe_update_targets = QLearner.maybe_update_targets
    state_dict = QLearner.state_dict
    load_state_dict = QLearner.load_state_dict
