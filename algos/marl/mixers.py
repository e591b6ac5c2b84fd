"""Mixers that combine per-agent Q values into Q_tot: VDN (sum) and QMIX (monotonic hypernetwork).

Shapes: ``agent_qs [B, T, N]``, ``states [B, T, state_dim]`` -> ``Q_tot [B, T]``.
"""

from __future__ import annotations

import torch
from torch import nn

MIXING_EMBED = 32
"""PyMARL2 ``mixing_embed_dim``."""
HYPERNET_EMBED = 64
"""PyMARL2 ``hypernet_embed`` (hidden width of the two-layer hypernetworks)."""


class VDNMixer(nn.Module):
    """Value decomposition: Q_tot = sum_a Q_a (no parameters, ignores the state)."""

    def forward(self, agent_qs: torch.Tensor, states: torch.Tensor | None = None) -> torch.Tensor:
        return agent_qs.sum(dim=-1)


class QMixer(nn.Module):
    """QMIX: a one-hidden-layer mixing net whose weights come from hypernetworks on the state.

    Q_tot = w2 . ELU(W1 q + b1) + V(s), with W1 = |hyper_w1(s)| and w2 = |hyper_w2(s)|, so
    dQ_tot/dQ_a >= 0 for every agent (monotonicity); biases are unconstrained. As PyMARL's
    ``QMixer`` with ``hypernet_layers = 2``.
    """

    def __init__(self, n_agents: int, state_dim: int, *, embed_dim: int = MIXING_EMBED, hypernet_embed: int = HYPERNET_EMBED):
        super().__init__()
        self.n_agents, self.embed_dim = n_agents, embed_dim
        self.hyper_w1 = nn.Sequential(
            nn.Linear(state_dim, hypernet_embed), nn.ReLU(), nn.Linear(hypernet_embed, embed_dim * n_agents)
        )
        self.hyper_w2 = nn.Sequential(nn.Linear(state_dim, hypernet_embed), nn.ReLU(), nn.Linear(hypernet_embed, embed_dim))
        self.hyper_b1 = nn.Linear(state_dim, embed_dim)
        self.hyper_v = nn.Sequential(nn.Linear(state_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, 1))

    def forward(self, agent_qs: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        lead = agent_qs.shape[:-1]
        q = agent_qs.reshape(-1, 1, self.n_agents)
        s = states.reshape(q.shape[0], -1)
        w1 = self.hyper_w1(s).abs().view(-1, self.n_agents, self.embed_dim)
        b1 = self.hyper_b1(s).view(-1, 1, self.embed_dim)
        hidden = nn.functional.elu(torch.bmm(q, w1) + b1)
        w2 = self.hyper_w2(s).abs().view(-1, self.embed_dim, 1)
        v = self.hyper_v(s).view(-1, 1, 1)
        return (torch.bmm(hidden, w2) + v).view(lead)
