"""Subgoal-QMIX learner: QMIX over high-level subgoal choices with SMDP targets, plus executors.

High level: per-agent ``Q^H(history, subgoal)`` from ``SubgoalQMixAgents.high`` is mixed by a
monotonic QMIX mixer on ``state()``; for each decision step the target is the team reward
summed (discounted) over the subgoal period plus ``gamma^k`` times the target Q_tot at the next
decision (double Q, target networks) - see :func:`smdp_targets`. With ``subgoal_choice="joint"``
the mixer is also the agents' joint scorer and the bootstrap is ``Q_tot`` of the best joint pick
that claims no shared subgoal twice (:meth:`SubgoalQLearner.joint_bootstrap`), the same set the
agents choose from.
Low level: the subgoal-conditioned executor is trained per agent (parameter sharing) by
one-step double Q-learning on the intrinsic reward (``+subgoal_bonus`` when the subgoal is
achieved, ``-step_cost`` otherwise); achieving the subgoal ends the executor's episode, and
the bootstrap keeps the subgoal of step ``t`` even if a new one is chosen at ``t + 1``.
"""

from __future__ import annotations

import numpy as np
import torch

from hiergym.agents.marl.controller import SubgoalQMixAgents
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
from hiergym.algos.marl.targets import smdp_targets, td_lambda_targets


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
            if self.agents.joint:
                values = self.joint_bootstrap(q, target_q, b["state"], b["subgoal_avail"])
            else:
                next_values = bootstrap_values(q, target_q, b["subgoal_avail"], self.config.double_q)
                values = self.nets.target["mixer"](next_values, b["state"])  # [B, T+1]
            targets = smdp_targets(b["reward"], b["terminated"], b["decision"], b["mask"], values, self.config.gamma)
        chosen = q[:, :-1].gather(-1, b["subgoal"].unsqueeze(-1)).squeeze(-1)
        prediction = self.mixer(chosen, b["state"][:, :-1])
        return masked_td_loss(prediction, targets, b["mask"] * b["decision"])

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

    def low_loss(self, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Masked squared one-step TD error of the executors on the intrinsic reward."""
        low, target_low = self.agents.low, self.nets.target["low"]
        feat = b.get("subgoal_feat")  # [B, T+1, N, G, F]: the subgoal of step t is scored at t and t + 1
        goal = self.agents.low_cond(b["subgoal"], None if feat is None else feat[:, :-1])  # [B, T, N, G (+F)]
        next_goal = self.agents.low_cond(b["subgoal"], None if feat is None else feat[:, 1:])
        hidden = low.unroll(b["obs"], b["actions"])  # [B, T+1, N, H]
        q = low.q_values(hidden[:, :-1], goal)
        with torch.no_grad():
            target_hidden = target_low.unroll(b["obs"], b["actions"])
            online_next = low.q_values(hidden[:, 1:], next_goal)
            target_next = target_low.q_values(target_hidden[:, 1:], next_goal)
            next_v = bootstrap_values(online_next, target_next, b["avail"][:, 1:], self.config.double_q)  # [B, T, N]
            values = torch.cat([torch.zeros_like(next_v[:, :1]), next_v], dim=1)
            done = torch.maximum(b["subgoal_done"], b["terminated"].unsqueeze(-1))
            targets = td_lambda_targets(b["intrinsic_reward"], done, b["mask"], values, self.config.low_gamma, 0.0)
        chosen = q.gather(-1, b["actions"].unsqueeze(-1)).squeeze(-1)
        return masked_td_loss(chosen, targets, b["mask"].unsqueeze(-1))

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
