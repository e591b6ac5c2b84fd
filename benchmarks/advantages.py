"""Benchmark: vectorised GiGPO advantages vs a straightforward dict-and-loop implementation.

    python benchmarks/advantages.py [--sizes 10000 1000000] [--repeats 3]

Both implementations get the same synthetic batch (tasks x G rollouts, episodes of random
length, anchors drawn from a small per-task state set so step groups really form) and must
agree (``np.allclose``); the script prints the best-of-``repeats`` wall time of each and the
ratio, once with string keys (task ids, 32-character anchor digests) and once with the integer
codes ``compute_advantages`` passes (it codes keys while it flattens the trajectories). The reference follows the paper's definition literally, one Python dict per grouping.
``gigpo_loop_reference`` is also the oracle of the property tests in tests/algos.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import time
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from hiergym.algos import gigpo_advantages
from hiergym.algos.segments import factorize


def _zscores(values_by_key: dict, normalize_std: bool) -> dict:
    """Per key: (mean, std, degenerate) of its list of values, std with ddof=1."""
    stats = {}
    for key, values in values_by_key.items():
        n = len(values)
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
        degenerate = n < 2 or max(values) == min(values)
        stats[key] = (mean, std if normalize_std else None, degenerate)
    return stats


def _z(x: float, stat: tuple, eps: float) -> float:
    """The z-score of ``x`` under ``stat`` from ``_zscores`` (0 in a degenerate group)."""
    mean, std, degenerate = stat
    if degenerate:
        return 0.0
    return (x - mean) / (std + eps) if std is not None else x - mean


def gigpo_loop_reference(
    rewards: Sequence[float],
    episode_ids: Sequence,
    group_ids: Sequence,
    anchors: Sequence,
    *,
    gamma: float = 0.95,
    omega: float = 1.0,
    normalize_std: bool = True,
    eps: float = 1e-6,
) -> list[float]:
    """GiGPO from the paper's definition with dicts and loops (rows of an episode contiguous, in time order)."""
    rows_of_episode: dict = defaultdict(list)
    for i, ep in enumerate(episode_ids):
        rows_of_episode[ep].append(i)
    # Episode level: z-score of each episode's return among the episodes of its task group.
    episode_return = {ep: sum(rewards[i] for i in rows) for ep, rows in rows_of_episode.items()}
    returns_by_group: dict = defaultdict(list)
    for ep, rows in rows_of_episode.items():
        returns_by_group[group_ids[rows[0]]].append(episode_return[ep])
    group_stats = _zscores(returns_by_group, normalize_std)
    # Step level: discounted return-to-go, grouped by (task group, anchor).
    return_to_go = [0.0] * len(rewards)
    for rows in rows_of_episode.values():
        running = 0.0
        for i in reversed(rows):
            running = rewards[i] + gamma * running
            return_to_go[i] = running
    rtg_by_step_group: dict = defaultdict(list)
    for i in range(len(rewards)):
        rtg_by_step_group[(group_ids[i], anchors[i])].append(return_to_go[i])
    step_stats = _zscores(rtg_by_step_group, normalize_std)
    out = []
    for i, ep in enumerate(episode_ids):
        a_episode = _z(episode_return[ep], group_stats[group_ids[i]], eps)
        a_step = _z(return_to_go[i], step_stats[(group_ids[i], anchors[i])], eps)
        out.append(a_episode + omega * a_step)
    return out


def synthetic_batch(n_turns: int, *, group_size: int = 8, max_len: int = 30, states_per_task: int = 12, seed: int = 0):
    """Rewards, episode ids, task-group ids (strings) and anchors (hex digests) for about ``n_turns`` turns."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_len + 1, size=max(1, 2 * n_turns // max_len))
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), n_turns) + 1]
    lengths[-1] -= max(0, int(lengths.sum()) - n_turns)
    n_episodes = lengths.size
    episode_ids = np.repeat(np.arange(n_episodes), lengths)
    task = np.repeat(np.arange(n_episodes) // group_size, lengths)
    group_ids = np.char.add("task-", task.astype(str))
    state = rng.integers(0, states_per_task, size=episode_ids.size)
    anchors = np.char.add(np.char.add(task.astype(str), ":"), state.astype(str))
    anchors = np.char.add("a", np.char.zfill(anchors, 31))  # fixed-width, digest-like strings
    rewards = np.where(rng.random(episode_ids.size) < 0.2, rng.normal(size=episode_ids.size), -0.1)
    return rewards, episode_ids, group_ids, anchors


def _best_times(fn, repeats: int) -> tuple[float, float]:
    """Best wall time and best CPU time (``process_time``, less sensitive to other jobs on a shared machine)."""
    wall = cpu = math.inf
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def main() -> None:
    """Time both implementations on each size with string and integer keys and fail on any mismatch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"GiGPO advantages, best of {args.repeats} (commit {commit or 'unknown'})")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print("| turns | episodes | keys | vectorised wall / CPU (s) | dict loops wall / CPU (s) | speed-up wall / CPU | allclose |")
    print("|---:|---:|:---|---:|---:|---:|:---:|")
    for n in args.sizes:
        rewards, episode_ids, group_ids, anchors = synthetic_batch(n)
        int_keys = (factorize(group_ids)[0], factorize(anchors)[0])  # what compute_advantages passes
        for label, (groups, anchor_keys) in (("str", (group_ids, anchors)), ("int", int_keys)):
            arrays = (rewards, episode_ids, groups, anchor_keys)
            as_lists = tuple(x.tolist() for x in arrays)
            ours = gigpo_advantages(*arrays)
            same = np.allclose(ours, gigpo_loop_reference(*as_lists), rtol=1e-9, atol=1e-9)
            w_ours, c_ours = _best_times(lambda: gigpo_advantages(*arrays), args.repeats)
            w_ref, c_ref = _best_times(lambda: gigpo_loop_reference(*as_lists), args.repeats)
            n_episodes = int(episode_ids[-1]) + 1
            print(
                f"| {n:,} | {n_episodes:,} | {label} | {w_ours:.3f} / {c_ours:.3f} | {w_ref:.3f} / {c_ref:.3f} "
                f"| {w_ref / w_ours:.1f}x / {c_ref / c_ours:.1f}x | {same} |"
            )
            if not same:
                raise SystemExit(f"mismatch at {n} turns ({label} keys)")


if __name__ == "__main__":
    main()
