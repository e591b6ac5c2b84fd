"""Group and segment primitives: factorise keys into codes, then reduce per group without Python loops.

Every advantage estimator is "a statistic per group, broadcast back to rows". These helpers keep
that one idea in one place: ``factorize`` turns any key column (ints, strings, pairs of columns)
into dense integer codes, and ``GroupStats`` computes per-group counts, means and sample stds
with ``np.bincount``. Shapes: every row-level array is ``[N]``; group-level arrays are ``[G]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

_DENSE_RANGE_FACTOR = 4
"""Integer keys spanning at most this many times ``N`` values are factorised with a lookup table (no sort)."""

_HASH_SEED = 0x5EED
"""Seed of the fixed string-hash multipliers (codes never depend on the process, unlike ``hash()``)."""
_PREFIX_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, odd: spreads prefix codes over all bits
_CHUNK_ROWS = 1 << 15
"""Rows compared per chunk when verifying string codes (bounds the temporary copy to a few MB)."""


def factorize(keys: Sequence | np.ndarray) -> tuple[np.ndarray, int]:
    """Map a key column to dense codes ``0..G-1`` (equal keys, equal codes). Returns ``(codes[N], G)``.

    Integers use a lookup table when their range is small, else ``np.unique``. Strings are hashed
    to uint64 (vectorised over rows), factorised, then every row is compared with its hash group's
    first row; rows that collided get exact codes of their own, so the result is always exact.
    Object arrays (mixed Python values) are compared by their ``str()``. Codes are not necessarily
    in sorted-key order.
    """
    arr = np.asarray(keys)
    if arr.ndim != 1:
        raise ValueError(f"keys must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    if arr.dtype.kind in "iub":
        return _factorize_ints(arr.astype(np.int64, copy=False))
    if arr.dtype.kind == "O":
        arr = arr.astype(str)
    if arr.dtype.kind in "US":
        return _factorize_strings(arr)
    _, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.int64).reshape(-1), int(codes.max()) + 1


def factorize_pairs(codes_a: np.ndarray, keys_b: Sequence | np.ndarray) -> tuple[np.ndarray, int]:
    """Dense codes of the pairs ``(a, b)``: ``codes_a`` already dense ints (e.g. task group), ``keys_b`` any keys.

    String keys are hashed together with ``codes_a`` and factorised in one pass (one sort, not two);
    integer keys need no sort unless the same b occurs with several a.
    """
    codes_a = np.asarray(codes_a, dtype=np.int64)
    b = np.asarray(keys_b)
    if b.shape != codes_a.shape:
        raise ValueError(f"pair columns differ in shape: {codes_a.shape} vs {b.shape}")
    if b.dtype.kind == "O":
        b = b.astype(str)
    if b.size and b.dtype.kind in "US":
        return _factorize_strings(b, codes_a)
    codes_b, n_b = factorize(b)
    if codes_b.size == 0:
        return codes_b, 0
    # Usually a key b occurs with one a only (an anchor state belongs to one task): such rows get the
    # code of b itself, with no sort; only rows whose a differs from the a of b's first row are sorted.
    owner = codes_a[GroupStats(codes_b, n_b).first_row()]
    shared = np.flatnonzero(codes_a != owner[codes_b])
    if not shared.size:
        return codes_b, n_b
    pair = codes_b.copy()
    sub, _ = _factorize_ints(codes_a[shared] * np.int64(n_b) + codes_b[shared])
    pair[shared] = n_b + sub
    return _factorize_ints(pair)


def _factorize_ints(arr: np.ndarray) -> tuple[np.ndarray, int]:
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    lo, hi = int(arr.min()), int(arr.max())
    if hi - lo < _DENSE_RANGE_FACTOR * arr.size + 1:
        present = np.zeros(hi - lo + 1, dtype=np.int64)
        present[arr - lo] = 1
        table = np.cumsum(present) - 1
        return table[arr - lo], int(table[-1]) + 1
    uniq, codes = _unique_inverse(arr)
    return codes, int(uniq.size)


def _unique_inverse(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(arr, return_inverse=True)`` with the inverse as a flat int64 vector."""
    uniq, codes = np.unique(arr, return_inverse=True)
    return uniq, codes.reshape(-1).astype(np.int64)


def _word_view(arr: np.ndarray) -> np.ndarray:
    """``[N, W]`` the raw bytes of fixed-width strings as uint64 words (widened with zero padding if needed)."""
    unit = 4 if arr.dtype.kind == "U" else 1
    chars = -(-arr.dtype.itemsize // 8) * 8 // unit
    if chars * unit != arr.dtype.itemsize:
        arr = arr.astype(f"{arr.dtype.kind}{chars}")
    return np.ascontiguousarray(arr).view(np.uint64).reshape(arr.size, -1)


def _string_hashes(words: np.ndarray) -> np.ndarray:
    """``[N]`` uint64 hash of each row of ``words``: a dot product with fixed odd multipliers (wraps mod 2^64).

    Fast (one pass, no temporaries) but weak for some inputs; ``_factorize_strings`` checks every
    row against its hash group's first row and re-codes the rows that collided, so codes stay exact.
    """
    multipliers = np.random.default_rng(_HASH_SEED).integers(0, 2**63, size=words.shape[1], dtype=np.uint64)
    return words @ (multipliers * np.uint64(2) + np.uint64(1))


def _factorize_strings(arr: np.ndarray, prefix: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Exact dense codes of the strings ``arr`` (of the pairs ``(prefix, arr)`` when ``prefix`` codes are given)."""
    words = _word_view(arr)
    hashes = _string_hashes(words)
    if prefix is not None:
        with np.errstate(over="ignore"):
            hashes = hashes ^ (prefix.astype(np.uint64) * _PREFIX_MULTIPLIER)
    uniq, codes = _unique_inverse(hashes)
    n = int(uniq.size)
    first = GroupStats(codes, n).first_row()
    mismatch = [
        (words[first[codes[lo : lo + _CHUNK_ROWS]]] != words[lo : lo + _CHUNK_ROWS]).any(axis=1)
        for lo in range(0, words.shape[0], _CHUNK_ROWS)
    ]
    mismatch = np.concatenate(mismatch)
    if prefix is not None:
        mismatch |= prefix[first[codes]] != prefix
    collided = np.flatnonzero(mismatch)
    if collided.size:
        # A row that differs from its hash group's first row equals no first row at all (equal keys
        # hash equally), so exact codes for just these rows, placed after the others, stay exact.
        _, sub = _unique_inverse(arr[collided])
        if prefix is not None:
            sub, _ = _factorize_ints(prefix[collided] * np.int64(sub.max() + 1) + sub)
        codes[collided] = n + sub
        codes, n = _factorize_ints(codes)
    return codes, n


@dataclass(frozen=True)
class GroupStats:
    """Per-group reductions for a code column: ``codes[N]`` in ``0..n_groups-1``."""

    codes: np.ndarray
    n_groups: int

    @classmethod
    def of(cls, keys: Sequence | np.ndarray) -> GroupStats:
        codes, n = factorize(keys)
        return cls(codes, n)

    @cached_property
    def counts(self) -> np.ndarray:
        """``[G]`` rows per group."""
        return np.bincount(self.codes, minlength=self.n_groups)

    def sum(self, x: np.ndarray) -> np.ndarray:
        """``[G]`` sum of ``x`` per group."""
        return np.bincount(self.codes, weights=x, minlength=self.n_groups)

    def mean(self, x: np.ndarray) -> np.ndarray:
        """``[G]`` mean of ``x`` per group."""
        return self.sum(x) / np.maximum(self.counts, 1)

    def std(self, x: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """``[G]`` unbiased sample std (ddof=1) per group; 0 for groups of one."""
        mean = self.mean(x) if mean is None else mean
        sq = self.sum((x - mean[self.codes]) ** 2)
        return np.sqrt(sq / np.maximum(self.counts - 1, 1))

    def first_row(self) -> np.ndarray:
        """``[G]`` index of the first row of each group."""
        first = np.empty(self.n_groups, dtype=np.int64)
        first[self.codes[::-1]] = np.arange(self.codes.size - 1, -1, -1)  # the smallest index is written last
        return first

    def is_constant(self, x: np.ndarray) -> np.ndarray:
        """``[G]`` True where every value of the group is exactly equal (so its z-score is 0)."""
        reference = x[self.first_row()][self.codes]
        return self.sum((x != reference).astype(np.float64)) == 0


def group_zscore(
    values: np.ndarray,
    groups: GroupStats,
    *,
    normalize_std: bool = True,
    leave_one_out: bool = False,
    eps: float = 1e-6,
) -> np.ndarray:
    """``[N]`` z(x, G) = (x - mean_G x) / (std_G x + eps); groups of one or constant groups give 0.

    ``normalize_std=False`` only centres (Dr. GRPO). ``leave_one_out=True`` uses the mean of the
    *other* members as the baseline (RLOO): x_i - (S - x_i)/(n - 1) = n/(n-1) (x_i - mean).
    """
    x = np.asarray(values, dtype=np.float64)
    counts = groups.counts
    mean = groups.mean(x)
    centred = x - mean[groups.codes]
    if leave_one_out:
        centred = centred * (counts / np.maximum(counts - 1, 1))[groups.codes]
    if normalize_std:
        centred = centred / (groups.std(x, mean) + eps)[groups.codes]
    degenerate = (counts < 2) | groups.is_constant(x)
    return np.where(degenerate[groups.codes], 0.0, centred)


def segment_starts(episode_ids: Sequence | np.ndarray) -> np.ndarray:
    """Start row of each contiguous run of equal ids; raise if an episode's rows are not contiguous.

    Only the E run starts are factorised (to see that no id starts two runs), not the N rows.
    """
    ids = np.asarray(episode_ids)
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    if factorize(ids[starts])[1] != starts.size:
        raise ValueError(
            "episode_ids are not contiguous: the turns of one episode must be adjacent rows in time order"
        )
    return starts
