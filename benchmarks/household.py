"""Household speed: steps/s and resets/s of our engine, and the expert planner's time and plan lengths.

Steps: a uniformly random admissible command each step (``info["admissible_actions"]``), reset
on episode end; only ``step`` calls are timed, in CPU seconds of this process
(``time.process_time``, less distorted than wall time when others share the machine). The env
is measured raw (the class) and through ``gymnasium.make`` (checker + order wrappers).
CartPole's raw step rate is printed as a load gauge: ~110k steps/s on an idle core here.
The side-by-side with TextWorld (same walk, same wrapper stack) is the Household row of
``benchmarks/textworld.py``.

    python benchmarks/household.py

Timings depend on machine load: the header prints the core count and load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

import gymnasium as gym
import numpy as np

import hiergym  # noqa: F401  (registers the ids)
from hiergym.envs.household import TASK_TYPES, HouseholdEnv, expert_plan
from hiergym.info_keys import InfoKeys


def random_admissible_steps_per_s(env: gym.Env, seconds: float, seed: int = 0) -> float:
    """Steps per CPU second of a random-admissible-command walk; only ``step`` calls are timed."""
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    steps, stepping = 0, 0.0
    while stepping < seconds:
        actions = info[InfoKeys.ADMISSIBLE_ACTIONS]
        action = actions[int(rng.integers(len(actions)))]
        t = time.process_time()
        _, _, terminated, truncated, info = env.step(action)
        stepping += time.process_time() - t
        steps += 1
        if terminated or truncated:
            _, info = env.reset(seed=seed + steps)
    return steps / stepping


def resets_per_s(env: gym.Env, n: int) -> float:
    """Resets per CPU second (generation of a new household + its optimal plan)."""
    start = time.process_time()
    for seed in range(n):
        env.reset(seed=seed)
    return n / (time.process_time() - start)


def cartpole_steps_per_s(n: int = 50_000) -> float:
    """Wall-clock CartPole steps/s: how loaded the machine is right now."""
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    start = time.perf_counter()
    for i in range(n):
        if env.step(i % 2)[2]:
            env.reset()
    return n / (time.perf_counter() - start)


def plan_stats(n_seeds: int) -> dict[str, tuple[float, float, float]]:
    """Per task type: mean optimal length, its std, and median expert_plan time in microseconds."""
    out = {}
    for task_type in TASK_TYPES:
        env = HouseholdEnv(task_types=[task_type])
        lengths, times = [], []
        for seed in range(n_seeds):
            env.reset(seed=seed)
            start = time.process_time()
            lengths.append(len(expert_plan(env.world, env.task)))
            times.append((time.process_time() - start) * 1e6)
        out[task_type] = (statistics.mean(lengths), statistics.pstdev(lengths), statistics.median(times))
    return out


def household_measurement(seconds: float, n_resets: int, n_plan_seeds: int) -> dict[str, object]:
    """The Household numbers (a separate function so other benchmark scripts can call it)."""
    return {
        "raw steps/s": random_admissible_steps_per_s(HouseholdEnv(max_steps=50), seconds),
        "gym.make steps/s": random_admissible_steps_per_s(gym.make("hiergym/Household-v0"), seconds),
        "resets/s": resets_per_s(HouseholdEnv(), n_resets),
        "plans": plan_stats(n_plan_seeds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU seconds of stepping per measurement")
    parser.add_argument("--resets", type=int, default=300)
    parser.add_argument("--plan-seeds", type=int, default=200)
    args = parser.parse_args()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {commit or '?'}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"CartPole raw (load gauge, ~110k idle): {cartpole_steps_per_s():,.0f} steps/s")
    m = household_measurement(args.seconds, args.resets, args.plan_seeds)
    print("\n| Household | value |\n|---|---|")
    print(f"| steps/s, env class, random admissible command | {m['raw steps/s']:,.0f} |")
    print(f"| steps/s, gymnasium.make (with checker wrappers) | {m['gym.make steps/s']:,.0f} |")
    print(f"| resets/s (generation + optimal plan) | {m['resets/s']:,.0f} |")
    print("\n| task type | optimal length (mean +- std) | expert_plan median us |\n|---|---|---|")
    for task_type, (mean, std, us) in m["plans"].items():
        print(f"| {task_type} | {mean:.2f} +- {std:.2f} | {us:.0f} |")


if __name__ == "__main__":
    main()
