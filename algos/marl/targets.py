"""TD targets for value-based MARL as pure functions (no grad, no input mutation).

Shape conventions: ``rewards``, ``terminated``, ``mask`` are ``[B, T]`` (or ``[B, T, N]`` for
per-agent IQL targets; trailing dims broadcast against ``values``). ``values [B, T+1, ...]``
holds the bootstrap value of the state *at* each index: ``values[:, t+1]`` is V(s_{t+1}), so the
last index is the final observation after the last step (a truncated episode bootstraps from
it; a terminated one does not). ``mask[:, t] = 1`` on real steps, 0 on padding after the end.
"""

from __future__ import annotations

import torch


def _expand(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    x = x.to(like.dtype)
    return x.reshape(x.shape + (1,) * (like.dim() - x.dim()))


def double_q_values(online_q: torch.Tensor, target_q: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Double Q: ``target_q`` at the masked argmax of ``online_q`` (``[..., A]`` -> ``[...]``).

    Masked actions are excluded from the max; a row with no available action (padding after an
    episode ended) picks action 0, whose value is then masked out of the loss by the caller.
    """
    allowed = avail.bool()
    allowed = allowed | ~allowed.any(dim=-1, keepdim=True)
    best = online_q.masked_fill(~allowed, float("-inf")).argmax(dim=-1, keepdim=True)
    return target_q.gather(-1, best).squeeze(-1)


def max_q_values(target_q: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Plain Q-learning bootstrap: max of ``target_q`` over available actions (``[..., A]`` -> ``[...]``)."""
    return double_q_values(target_q, target_q, avail)


@torch.no_grad()
def td_lambda_targets(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    mask: torch.Tensor,
    values: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """TD(lambda) returns ``[B, T, ...]``: G_t = r_t + gamma (1 - d_t) ((1 - lam) V_{t+1} + lam G_{t+1}).

    Past the last real step ``G_{t+1}`` is replaced by ``V_{t+1}`` (so ``lam = 0`` is the one-step
    target and ``lam = 1`` the Monte-Carlo return bootstrapped at a truncation).
    """
    r, d, m = (_expand(x, values) for x in (rewards, terminated, mask))
    steps = r.shape[1]
    out = torch.zeros_like(values[:, :steps])
    next_g = values[:, steps]
    for t in reversed(range(steps)):
        v_next = values[:, t + 1]
        out[:, t] = r[:, t] + gamma * (1 - d[:, t]) * ((1 - lam) * v_next + lam * next_g)
        next_g = torch.where(m[:, t] > 0, out[:, t], values[:, t])
    return out


@torch.no_grad()
def n_step_targets(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    mask: torch.Tensor,
    values: torch.Tensor,
    gamma: float,
    n: int,
) -> torch.Tensor:
    """n-step returns ``[B, T, ...]``: sum_{i<n} gamma^i r_{t+i} + gamma^n V_{t+n}, cut at the episode end.

    A termination inside the window drops the bootstrap; reaching the end of a truncated episode
    first bootstraps from the final state instead of ``V_{t+n}``.
    """
    if n < 1:
        raise ValueError(f"n={n} must be >= 1")
    r, d, m = (_expand(x, values) for x in (rewards, terminated, mask))
    steps = r.shape[1]
    out = torch.zeros_like(values[:, :steps])
    for t in range(steps):
        g = torch.zeros_like(values[:, 0])
        discount = torch.ones_like(g)
        alive = torch.ones_like(g)  # 1 while the window is still inside a running episode
        for i in range(n):
            k = t + i
            if k >= steps:
                break
            real = alive * m[:, k]
            g = g + real * discount * r[:, k]
            discount = torch.where(real > 0, discount * gamma * (1 - d[:, k]), discount)
            # after a real step: continue only if the episode goes on (next step is real)
            nxt = m[:, k + 1] if k + 1 < steps else torch.zeros_like(g)
            ends_here = real * (1 - nxt)
            g = g + ends_here * discount * values[:, k + 1]
            alive = real * nxt
        k_end = min(t + n, steps)
        g = g + alive * discount * values[:, k_end]
        out[:, t] = g
    return out


@torch.no_grad()
def smdp_targets(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    decision: torch.Tensor,
    mask: torch.Tensor,
    values: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """SMDP (option-level) targets ``[B, T]`` for high-level decisions.

    For a decision at step ``t`` whose subgoal period lasts ``k`` steps (until the next decision
    or the episode end), the target is ``sum_{i<k} gamma^i r_{t+i} + gamma^k V(s_{t+k})`` with
    no bootstrap if the episode terminated inside the period. ``decision [B, T]`` marks decision
    steps; the result is only meaningful where ``decision * mask == 1`` (the caller masks the loss).
    """
    r, d, dec, m = (_expand(x, values) for x in (rewards, terminated, decision, mask))
    steps = r.shape[1]
    out = torch.zeros_like(values[:, :steps])
    next_g = values[:, steps]
    for t in reversed(range(steps)):
        out[:, t] = r[:, t] + gamma * (1 - d[:, t]) * next_g
        # what a step t-1 in the same period continues into: V at a decision or after the end
        continues = m[:, t] * (1 - dec[:, t])
        next_g = continues * out[:, t] + (1 - continues) * values[:, t]
    return out


@torch.no_grad()
def watkins_traces(q: torch.Tensor, actions: torch.Tensor, avail: torch.Tensor, continues: torch.Tensor) -> torch.Tensor:
    """Where a Watkins Q(lambda) return may run on into step ``t`` (the ``mask`` argument of :func:`td_lambda_targets`).

    ``q [..., A]`` online Q values at every step, ``actions [...]`` the actions taken, ``avail [..., A]``
    their masks, ``continues [...]`` 1 where step ``t`` is real and continues the previous step's task
    (same subgoal). The trace runs on only where the taken action is the greedy one (masked argmax): the
    lambda-return then follows the greedy policy, so off-policy (exploring, or relabelled) steps do not
    leak into the target.
    """
    allowed = avail.bool()
    allowed = allowed | ~allowed.any(dim=-1, keepdim=True)
    greedy = q.masked_fill(~allowed, float("-inf")).argmax(dim=-1) == actions
    return continues.to(q.dtype) * greedy.to(q.dtype)
