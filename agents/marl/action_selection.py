"""Epsilon-greedy action selection over masked discrete actions, and the epsilon schedule."""

from __future__ import annotations

import hashlib
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

    Each row is the blake2b digest of its seed read as 64-bit words (53 bits per uniform): one hash
    call per row, no generator object, and a row's numbers do not depend on the other rows, so an
    episode explores the same way whichever slot runs it.
    """
    count = int(np.prod(shape)) if shape else 1
    if count > 8:
        raise ValueError(f"seeded_uniforms draws at most 8 numbers per row (blake2b's 64-byte digest), asked {count}")
    digests = b"".join(hashlib.blake2b(int(s).to_bytes(8, "little", signed=True), digest_size=8 * count).digest() for s in seeds)
    words = np.frombuffer(digests, dtype="<u8").reshape(len(seeds), *shape)
    return torch.from_numpy((words >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53)))


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
    if uniforms is not None:  # in numpy: a handful of tiny ops, each cheaper than its torch twin
        allowed = avail.numpy().astype(bool)
        u = uniforms.numpy()
        n_allowed = allowed.sum(-1)
        k = np.minimum((u[..., 1] * n_allowed).astype(np.int64), n_allowed - 1)
        random = (allowed.cumsum(-1) > k[..., None]).argmax(-1)
        return torch.from_numpy(np.where(u[..., 0] < epsilon, random, greedy.numpy()))
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
