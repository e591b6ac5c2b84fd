"""Epsilon-greedy action selection over masked discrete actions, and the epsilon schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
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


def seeded_uniforms(seeds: Sequence[int], shape: tuple[int, ...]) -> torch.Tensor:
    """``[len(seeds), *shape]`` float64 uniforms in [0, 1); row ``i`` is a pure function of ``seeds[i]``.

    A counter-based generator (splitmix64 of seed and position), vectorised: one call draws every
    random number of a tick, and each row's numbers do not depend on the other rows, so an
    episode explores the same way whichever slot runs it.
    """
    count = int(np.prod(shape)) if shape else 1
    with np.errstate(over="ignore"):
        x = np.asarray(seeds, dtype=np.uint64)[:, None] * np.uint64(0x9E3779B97F4A7C15) + np.arange(1, count + 1, dtype=np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    u = (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return torch.from_numpy(u.reshape(len(seeds), *shape))


def epsilon_greedy(
    q: torch.Tensor,
    avail: torch.Tensor,
    epsilon: float,
    generator: torch.Generator | None = None,
    uniforms: torch.Tensor | None = None,
) -> torch.Tensor:
    """With probability ``epsilon`` a uniformly random *available* action, else the masked greedy one.

    Shapes as in :func:`masked_argmax`. Masked actions are never chosen, explored or not.
    ``uniforms [..., 2]`` (e.g. from :func:`seeded_uniforms`): the draws to use (explore?, which
    action) instead of drawing from ``generator``.
    """
    greedy = masked_argmax(q, avail)
    if epsilon <= 0.0:
        return greedy
    if uniforms is not None:
        allowed = avail.bool()
        n_allowed = allowed.sum(-1)
        k = (uniforms[..., 1] * n_allowed).long().minimum(n_allowed - 1)
        random = (allowed.cumsum(-1) > k.unsqueeze(-1)).long().argmax(-1)
        return torch.where(uniforms[..., 0] < epsilon, random, greedy)
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
