"""IQL / VDN / QMIX learner (PyMARL's ``QLearner``): the only owner of the optimiser.

One ``train`` call = one gradient step on a batch of whole episodes from the replay buffer:
unroll the online and target agent networks over the episodes, pick the taken actions'
Q values, mix them (VDN sum, QMIX hypernetwork mixer; IQL trains each agent's Q on the team
reward directly), build the TD target from the target networks (double Q, masked max) and
minimise the masked squared TD error.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from hiergym.agents.marl.controller import QMixAgents
from hiergym.algos.marl.configs import FlatLearnerConfig, QMIXConfig, SubgoalQMIXConfig
from hiergym.algos.marl.mixers import QMixer, VDNMixer
from hiergym.algos.marl.targets import double_q_values, max_q_values, n_step_targets, td_lambda_targets


def to_tensors(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Buffer arrays -> torch tensors (no copy where the dtype already fits)."""
    return {k: torch.as_tensor(v) for k, v in batch.items()}


def make_mixer(config: FlatLearnerConfig | SubgoalQMIXConfig, n_agents: int, state_dim: int) -> nn.Module | None:
    """The mixer an algorithm uses: None (IQL), VDN sum, or the QMIX hypernetwork mixer."""
    if config.algo == "iql":
        return None
    if config.algo == "vdn":
        return VDNMixer()
    assert isinstance(config, (QMIXConfig, SubgoalQMIXConfig))
    return QMixer(n_agents, state_dim, embed_dim=config.mixing_embed_dim, hypernet_embed=config.hypernet_embed)


def bootstrap_values(online_q: torch.Tensor, target_q: torch.Tensor, avail: torch.Tensor, double_q: bool) -> torch.Tensor:
    """Per-agent bootstrap values ``[..., N]`` from ``[..., N, A]`` Q tensors (masked actions excluded)."""
    return double_q_values(online_q.detach(), target_q, avail) if double_q else max_q_values(target_q, avail)


def masked_td_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean squared TD error over ``mask == 1`` entries, plus logging stats."""
    mask = mask.expand_as(prediction).to(prediction.dtype)
    error = (prediction - target.detach()) * mask
    n = mask.sum().clamp(min=1.0)
    loss = (error**2).sum() / n
    with torch.no_grad():
        stats = {"td_error_abs": float(error.abs().sum() / n), "q_taken_mean": float((prediction * mask).sum() / n)}
    return loss, stats


def gradient_step(loss: torch.Tensor, optimiser: torch.optim.Optimizer, max_norm: float) -> float:
    """Backward, clip the global grad norm of the optimiser's parameters, step; returns the pre-clip norm."""
    optimiser.zero_grad()
    loss.backward()
    params = [p for group in optimiser.param_groups for p in group["params"]]
    norm = float(nn.utils.clip_grad_norm_(params, max_norm))
    optimiser.step()
    return norm


class TargetNetworks:
    """Online modules, their frozen copies, and the hard update every ``every_episodes`` episodes."""

    def __init__(self, modules: dict[str, nn.Module | None], every_episodes: int):
        self.online = {k: m for k, m in modules.items() if m is not None}
        self.target = {k: copy.deepcopy(m).requires_grad_(False) for k, m in self.online.items()}
        self.every_episodes = every_episodes
        self.last_update_episode = 0

    def update(self) -> None:
        for k, m in self.online.items():
            self.target[k].load_state_dict(m.state_dict())

    def maybe_update(self, episodes_seen: int) -> bool:
        """Copy online -> target if ``every_episodes`` episodes were collected since the last copy."""
        if episodes_seen - self.last_update_episode < self.every_episodes:
            return False
        self.update()
        self.last_update_episode = episodes_seen
        return True

    def parameters(self) -> list[nn.Parameter]:
        return [p for m in self.online.values() for p in m.parameters()]

    def state_dict(self) -> dict[str, Any]:
        state = {f"{side}.{k}": m.state_dict() for side, d in (("online", self.online), ("target", self.target)) for k, m in d.items()}
        return {**state, "last_update_episode": self.last_update_episode}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for side, d in (("online", self.online), ("target", self.target)):
            for k, m in d.items():
                m.load_state_dict(state[f"{side}.{k}"])
        self.last_update_episode = int(state["last_update_episode"])


class QLearner:
    """Trains :class:`QMixAgents` with an optional mixer; owns the Adam optimiser and target nets."""

    def __init__(self, agents: QMixAgents, config: FlatLearnerConfig, *, state_dim: int):
        self.agents, self.config = agents, config
        self.mixer = make_mixer(config, agents.n_agents, state_dim)
        self.nets = TargetNetworks({"agents": agents, "mixer": self.mixer}, config.target_update_episodes)
        self.optimisers = {"optimiser": torch.optim.Adam(self.nets.parameters(), lr=config.lr)}

    def _targets(self, rewards: torch.Tensor, terminated: torch.Tensor, mask: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.target == "n_step":
            return n_step_targets(rewards, terminated, mask, values, c.gamma, c.n_step)
        return td_lambda_targets(rewards, terminated, mask, values, c.gamma, c.td_lambda)

    def train(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One gradient step on a sampled batch (buffer field names); returns loss and stats."""
        b = to_tensors(batch)
        actions, avail, mask = b["actions"], b["avail"], b["mask"]
        q = self.agents.q_values(self.agents.unroll(b["obs"], actions))  # [B, T+1, N, A]
        with torch.no_grad():
            target_agents = self.nets.target["agents"]
            target_q = target_agents.q_values(target_agents.unroll(b["obs"], actions))
        chosen = q[:, :-1].gather(-1, actions.unsqueeze(-1)).squeeze(-1)  # [B, T, N]
        next_values = bootstrap_values(q, target_q, avail, self.config.double_q)  # [B, T+1, N]
        if self.mixer is None:  # IQL: every agent regresses on the team reward
            prediction = chosen
            targets = self._targets(b["reward"], b["terminated"], mask, next_values)
            loss_mask = mask.unsqueeze(-1)
        else:
            prediction = self.mixer(chosen, b["state"][:, :-1])
            with torch.no_grad():
                values = self.nets.target["mixer"](next_values, b["state"])
            targets = self._targets(b["reward"], b["terminated"], mask, values)
            loss_mask = mask
        loss, stats = masked_td_loss(prediction, targets, loss_mask)
        grad_norm = gradient_step(loss, self.optimisers["optimiser"], self.config.grad_clip)
        return {"loss": float(loss.detach()), "grad_norm": grad_norm, **stats}

    def maybe_update_targets(self, episodes_seen: int) -> bool:
        """Hard-update the target nets every ``target_update_episodes`` collected episodes."""
        return self.nets.maybe_update(episodes_seen)

    def state_dict(self) -> dict[str, Any]:
        """Online and target nets, optimiser moments and the target-update counter."""
        return {"nets": self.nets.state_dict(), **{k: o.state_dict() for k, o in self.optimisers.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nets.load_state_dict(state["nets"])
        for k, o in self.optimisers.items():
            o.load_state_dict(state[k])
