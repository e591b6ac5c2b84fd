"""The per-agent recurrent Q network (PyMARL's ``RNNAgent``), optionally conditioned on a subgoal."""

from __future__ import annotations

import torch
from torch import nn

GRU_HIDDEN = 64
"""PyMARL/PyMARL2 ``rnn_hidden_dim``."""


class RecurrentQNet(nn.Module):
    """``inputs -> Linear+ReLU -> GRU -> Q`` with one output per discrete action.

    Parameters are shared by all agents (the agent id is part of the input). With
    ``cond_dim > 0`` the Q head also reads a conditioning vector (a subgoal one-hot) through a
    ReLU layer, so ``Q(h, g, .)`` can be evaluated for any ``g`` from the same hidden state:
    the low-level learner bootstraps ``Q(h_{t+1}, g_t)`` with the subgoal of step ``t`` even
    when the executor switched subgoal at ``t+1``.
    """

    def __init__(self, input_dim: int, n_actions: int, *, hidden_dim: int = GRU_HIDDEN, cond_dim: int = 0):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.cond_dim = cond_dim
        self.fc_in = nn.Linear(input_dim, hidden_dim)
        self.rnn = nn.GRU(hidden_dim, hidden_dim, batch_first=True)  # one fused call per unrolled sequence
        if cond_dim:
            self.head: nn.Module = nn.Sequential(
                nn.Linear(hidden_dim + cond_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, n_actions)
            )
        else:
            self.head = nn.Linear(hidden_dim, n_actions)

    def init_hidden(self, batch: int) -> torch.Tensor:
        """Zero hidden state ``[batch, hidden_dim]``."""
        return self.fc_in.weight.new_zeros(batch, self.hidden_dim)

    def step(self, inputs: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """One recurrent step: ``inputs [N, input_dim]``, ``hidden [N, H]`` -> new hidden ``[N, H]``."""
        out, _ = self.rnn(torch.relu(self.fc_in(inputs)).unsqueeze(1), hidden.unsqueeze(0))
        return out[:, 0]

    def unroll(self, inputs: torch.Tensor, hidden: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states ``[N, T, H]`` for a whole input sequence ``[N, T, input_dim]`` (same maths as ``step``)."""
        h0 = None if hidden is None else hidden.unsqueeze(0)
        out, _ = self.rnn(torch.relu(self.fc_in(inputs)), h0)
        return out

    def q_values(self, hidden: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Q values ``[..., n_actions]`` from hidden states ``[..., H]`` (and ``cond [..., cond_dim]``)."""
        if self.cond_dim:
            if cond is None:
                raise ValueError("this network is subgoal-conditioned: pass cond=[..., cond_dim]")
            hidden = torch.cat([hidden, cond], dim=-1)
        return self.head(hidden)
