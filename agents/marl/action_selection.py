"""Epsilon-greedy action selection over masked discrete actions, and the epsilon schedule."""

from __future__ import annotations

from dataclasses import dataclass

import torch


def masked_argmax(q: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Greedy action over the last dim among ``avail == 1`` entries (ties: lowest index).

    Shapes: ``q [..., A]``, ``avail [..., A]`` (any int/bool dtype) -> ``[...]`` int64. A row with
    no available action is a caller bug and raises.
    """
    allowed = avail.bool()
    if not bool(allowed.any(dim=-1).all()):
        raise ValueError("an action mask row has no available action; envs must leave at least one (no-op)")
    return q.masked_fill(~allowed, float("-inf")).argmax(dim=-1)


def epsilon_greedy(
    q: torch.Tensor, avail: torch.Tensor, epsilon: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """With probability ``epsilon`` a uniformly random *available* action, else the masked greedy one.

    Shapes as in :func:`masked_argmax`. Masked actions are never chosen, explored or not.
    """
    greedy = masked_argmax(q, avail)
    if epsilon <= 0.0:
        return greedy
    allowed = avail.bool().to(q.dtype if q.is_floating_point() else torch.float32)
    flat = allowed.reshape(-1, allowed.shape[-1])
    random = torch.multinomial(flat, 1, generator=generator).reshape(greedy.shape)
    explore = torch.rand(greedy.shape, generator=generator) < epsilon
    return torch.where(explore, random, greedy)


@dataclass(frozen=True)
class LinearSchedule:
    """``start`` decaying linearly to ``finish`` over ``duration`` steps, then constant (PyMARL's epsilon)."""

    start: float
    finish: float
    duration: int

    def __call__(self, step: int) -> float:
        if self.duration <= 0:
            return self.finish
        frac = min(max(step, 0) / self.duration, 1.0)
        return self.start + frac * (self.finish - self.start)
