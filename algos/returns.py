"""Returns over flat per-turn arrays: episodes are contiguous runs of rows in time order.

Shapes: ``rewards[N]`` and ``episode_ids[N]`` (any hashable ids; the rows of one episode are
adjacent and in time order). No Python loop runs over turns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hiergym.algos.segments import factorize, segment_starts


def discounted_returns(rewards: Sequence[float] | np.ndarray, episode_ids: Sequence | np.ndarray, gamma: float) -> np.ndarray:
    """``[N]`` return-to-go G_t = sum_{k>=t} gamma^(k-t) r_k within each episode (float64).

    One reverse IIR pass (``scipy.signal.lfilter``) over all rows, then the part that leaked in
    from the later episode is removed: at offset k from an episode's last turn it is
    gamma^(k+1) * (value at the row just after the episode). No negative powers of gamma are
    formed, so long episodes never overflow; with gamma < 1 the carried value is bounded by
    max|r| / (1 - gamma), so the subtraction keeps float64 precision.
    """
    r = np.asarray(rewards, dtype=np.float64)
    episodes = np.asarray(episode_ids)
    if episodes.shape != r.shape:
        raise ValueError(f"rewards has shape {r.shape} but episode_ids has shape {episodes.shape}; need one id per turn")
    return discounted_returns_by_segment(r, segment_starts(episodes), gamma)


def discounted_returns_by_segment(rewards: np.ndarray, starts: np.ndarray, gamma: float) -> np.ndarray:
    """``discounted_returns`` for float64 ``rewards[N]`` whose episodes begin at the sorted rows ``starts``."""
    from scipy.signal import lfilter  # scipy.signal takes ~1 s to import: only when returns are computed

    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma={gamma!r} must lie in [0, 1]")
    r = rewards
    if r.size == 0:
        return r.copy()
    ends = np.r_[starts[1:], r.size]  # exclusive end of each episode, in forward order
    rev = lfilter([1.0], [1.0, -gamma], r[::-1])
    # In reversed order an episode starts at N - end; the row before it (in reversed order) is the
    # first turn of the *next* episode in time, whose value leaked in through the recurrence.
    rev_starts = r.size - ends
    carry = np.where(rev_starts > 0, rev[np.maximum(rev_starts - 1, 0)], 0.0)
    lengths = ends - starts
    rev_seg = np.repeat(np.arange(starts.size)[::-1], lengths[::-1])  # episode index of each reversed row
    offset = np.arange(r.size) - rev_starts[rev_seg]
    with np.errstate(divide="ignore"):  # log(0) = -inf gives gamma^k = 0 for gamma = 0
        decay = np.exp((offset + 1.0) * np.log(gamma))  # gamma^(offset+1); exp/log is ~3x faster than power
    rev = rev - decay * carry[rev_seg]
    return rev[::-1].copy()


def episode_returns(rewards: Sequence[float] | np.ndarray, episode_ids: Sequence | np.ndarray) -> np.ndarray:
    """``[N]`` the undiscounted return of each row's episode, broadcast to its rows."""
    r = np.asarray(rewards, dtype=np.float64)
    codes, n = factorize(episode_ids)
    return np.bincount(codes, weights=r, minlength=n)[codes]
