"""Episode replay buffer (PyMARL's ``ReplayBuffer``): whole padded episodes in preallocated arrays.

Every field has a time axis of length ``T`` (per-step data) or ``T + 1`` (per-state data such as
observations, which include the final observation). Sampling draws whole episodes uniformly
and crops the time axis to the longest sampled episode, so recurrent learners unroll over
real steps only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Field:
    """One buffer column: per-step shape (after the time axis), dtype, and whether it has ``T + 1`` entries."""

    shape: tuple[int, ...]
    dtype: Any
    per_state: bool = False


class EpisodeBuffer:
    """A ring buffer of ``capacity`` episodes, each at most ``max_steps`` long.

    ``mask`` (``[T]``, 1 on real steps) is always a field; it gives each episode's length.
    """

    def __init__(self, capacity: int, max_steps: int, fields: dict[str, Field]):
        if capacity < 1 or max_steps < 1:
            raise ValueError(f"capacity={capacity} and max_steps={max_steps} must be >= 1")
        if "mask" not in fields:
            raise ValueError("fields must include 'mask' ([T] float, 1 on real steps)")
        self.capacity, self.max_steps, self.fields = capacity, max_steps, dict(fields)
        self.data = {
            name: np.zeros((capacity, max_steps + int(f.per_state), *f.shape), dtype=f.dtype) for name, f in fields.items()
        }
        self.size = 0
        self.pos = 0
        self.episodes_seen = 0

    def __len__(self) -> int:
        return self.size

    def insert(self, episodes: dict[str, np.ndarray]) -> None:
        """Append a batch of episodes: each field ``[E, T or T+1, *shape]`` (missing fields raise)."""
        missing = set(self.fields) - set(episodes)
        if missing:
            raise KeyError(f"episode batch lacks buffer fields {sorted(missing)}")
        n = len(episodes["mask"])
        for name, arr in self.data.items():
            value = np.asarray(episodes[name])
            if value.shape[1:] != arr.shape[1:] or len(value) != n:
                raise ValueError(f"field {name!r} has shape {value.shape}, expected [{n}, {', '.join(map(str, arr.shape[1:]))}]")
        idx = (self.pos + np.arange(n)) % self.capacity
        for name, arr in self.data.items():
            arr[idx] = episodes[name]
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)
        self.episodes_seen += n

    def can_sample(self, batch_size: int) -> bool:
        return self.size >= batch_size

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch_size`` distinct episodes, uniformly, time axis cropped to the longest of them."""
        if not self.can_sample(batch_size):
            raise ValueError(f"buffer holds {self.size} episodes, cannot sample {batch_size}")
        idx = np.sort(rng.choice(self.size, size=batch_size, replace=False))
        steps = max(int(self.data["mask"][idx].sum(axis=1).max()), 1)
        return {
            name: arr[idx, : steps + int(self.fields[name].per_state)] for name, arr in self.data.items()
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the buffer exactly, compactly: only the filled episodes, the time
        axis cut to the longest stored episode, each field in the smallest dtype that holds its values
        exactly (:func:`compact`); a 5000-episode buffer that holds 400 short episodes stores 400 short rows."""
        steps = int(self.data["mask"][: self.size].sum(axis=1).max()) if self.size else 0
        data = {name: compact(arr[: self.size, : steps + int(self.fields[name].per_state)]) for name, arr in self.data.items()}
        return {"data": data, "size": self.size, "pos": self.pos, "episodes_seen": self.episodes_seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        size = int(state["size"])
        for name, arr in self.data.items():
            stored = np.asarray(state["data"][name])
            if len(stored) != size or stored.shape[1] > arr.shape[1] or stored.shape[2:] != arr.shape[2:]:
                raise ValueError(f"checkpoint field {name!r} has shape {stored.shape}, buffer rows have {arr.shape[1:]}")
            arr[...] = 0
            arr[:size, : stored.shape[1]] = stored
        self.size, self.pos, self.episodes_seen = size, int(state["pos"]), int(state["episodes_seen"])


COMPACT_DTYPES = (np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16, np.int32, np.float32)
"""Candidate storage dtypes, smallest first; a field keeps the first one that round-trips exactly."""


def compact(arr: np.ndarray) -> np.ndarray:
    """``arr`` in the smallest dtype of :data:`COMPACT_DTYPES` that gives back exactly the same values."""
    for dtype in COMPACT_DTYPES:
        if np.dtype(dtype).itemsize >= arr.dtype.itemsize:
            break
        with np.errstate(all="ignore"):
            small = arr.astype(dtype)
        if np.array_equal(small.astype(arr.dtype), arr):
            return small
    return arr


def episode_fields(
    n_agents: int, obs_dim: int, state_dim: int, n_actions: int, n_subgoals: int = 0, subgoal_feat_dim: int = 0
) -> dict[str, Field]:
    """The buffer columns of one episode (``episodes.episode_columns`` writes them); subgoal columns only when ``n_subgoals > 0``.

    ``subgoal_feat [T+1, N, G, F]`` (only when ``subgoal_feat_dim = F > 0``): per agent and subgoal
    index, features of where that subgoal is (see :func:`hiergym.wrappers.team_subgoals.subgoal_offsets`).
    ``redecided [T, N]``: agents that picked a subgoal anew at step ``t`` (all of them at a team decision);
    ``subgoal_achieved [T, N, G]``: every subgoal index's check after step ``t`` (relabelled executor updates)."""
    fields = {
        "obs": Field((n_agents, obs_dim), np.float32, per_state=True),
        "state": Field((state_dim,), np.float32, per_state=True),
        "avail": Field((n_agents, n_actions), np.int8, per_state=True),
        "actions": Field((n_agents,), np.int64),
        "reward": Field((), np.float32),
        "terminated": Field((), np.float32),
        "mask": Field((), np.float32),
    }
    if n_subgoals:
        fields |= {
            "subgoal_avail": Field((n_agents, n_subgoals), np.int8, per_state=True),
            "subgoal": Field((n_agents,), np.int64),
            "decision": Field((), np.float32),
            "intrinsic_reward": Field((n_agents,), np.float32),
            "subgoal_done": Field((n_agents,), np.float32),
            "redecided": Field((n_agents,), np.float32),
            "subgoal_achieved": Field((n_agents, n_subgoals), np.float32),
        }
        if subgoal_feat_dim:
            fields["subgoal_feat"] = Field((n_agents, n_subgoals, subgoal_feat_dim), np.float32, per_state=True)
    return fields
