"""Conflict-free joint subgoal choice: enumerate the team's joint subgoal picks, score them with the mixer, pick the best.

With independent per-agent choices, a QMIX-mixed high level cannot stop two agents from both
picking the same subgoal: the mixer is monotonic in every agent's ``Q^H``, so when both agents
rate ``goal_0`` highest the joint pick ``(goal_0, goal_0)`` has the highest ``Q_tot`` of all. On
GoalGrid that is a certain failure (one goal stays uncovered). The *exclusive* joint choice
instead takes the argmax of ``Q_tot`` over the joint picks with the fewest duplicate claims of a
*shared* subgoal (an index that names the same subgoal, e.g. the same goal cell, for every
agent); indices that are private to each agent (KeyDoor's ``get_key`` vs ``near_door``) never
conflict, so there it equals the independent argmax.

Shapes: ``choices [C, N]`` (every joint pick, one subgoal index per agent), per-agent ``q
[..., N, G]``, ``avail [..., N, G]``; the result of a choice is an index into ``C``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

MAX_JOINT_CHOICES = 4096
"""Largest ``G ** N`` the exclusive choice enumerates (2 agents x 64 subgoals, 4 x 8, 6 x 4)."""


def joint_choices(n_agents: int, n_subgoals: int) -> torch.Tensor:
    """Every joint pick ``[G ** N, N]`` (int64), in lexicographic order (agent 0 slowest)."""
    count = n_subgoals**n_agents
    if count > MAX_JOINT_CHOICES:
        raise ValueError(f"{n_subgoals} subgoals ** {n_agents} agents = {count} joint choices; at most {MAX_JOINT_CHOICES} are enumerated")
    return torch.tensor(list(itertools.product(range(n_subgoals), repeat=n_agents)), dtype=torch.long).reshape(count, n_agents)


def duplicate_claims(choices: torch.Tensor, shared: Sequence[bool]) -> torch.Tensor:
    """``[C]``: per joint pick, how many agents claim a shared subgoal an earlier agent already claimed.

    ``shared[j]``: index ``j`` names the same subgoal for every agent (two agents on it conflict).
    """
    shared_t = torch.as_tensor(list(shared), dtype=torch.bool)
    n = choices.shape[1]
    same = choices.unsqueeze(-1) == choices.unsqueeze(-2)  # [C, N, N]
    earlier = torch.ones(n, n, dtype=torch.bool).tril(-1)  # [i, k]: k < i
    repeated = (same & earlier).any(-1)  # [C, N]: agent i repeats an earlier agent's pick
    return (repeated & shared_t[choices]).sum(-1)


def feasible_choices(choices: torch.Tensor, duplicates: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Bool ``[..., C]``: joint picks whose every subgoal is available and that have the fewest duplicates possible.

    "Fewest possible" (not zero) keeps a choice when there are fewer shared subgoals than agents.
    A row where no joint pick is available (padding after an episode's end) allows every pick.
    """
    n = choices.shape[1]
    agent = torch.arange(n)
    ok = avail.bool()[..., agent, choices].all(-1)  # [..., C]
    dup = torch.where(ok, duplicates, torch.iinfo(torch.long).max)
    fewest = dup == dup.min(-1, keepdim=True).values
    ok = ok & fewest
    return ok | ~ok.any(-1, keepdim=True)


def joint_agent_qs(q: torch.Tensor, choices: torch.Tensor) -> torch.Tensor:
    """``[..., C, N]``: each agent's ``Q^H`` of its subgoal in every joint pick (``q [..., N, G]``)."""
    n = choices.shape[1]
    return q[..., torch.arange(n), choices]


def best_joint(q_tot: torch.Tensor, feasible: torch.Tensor) -> torch.Tensor:
    """Index ``[...]`` of the feasible joint pick with the highest ``q_tot [..., C]`` (ties: lowest index)."""
    return q_tot.masked_fill(~feasible, float("-inf")).argmax(-1)


def random_feasible(feasible: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Index ``[...]`` of a uniformly drawn feasible joint pick, ``uniform [...]`` in [0, 1) choosing which."""
    count = feasible.sum(-1)
    k = torch.minimum((uniform * count).long(), count - 1)
    return (feasible.long().cumsum(-1) > k.unsqueeze(-1)).long().argmax(-1)
