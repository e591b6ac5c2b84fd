"""Multi-agent joint steps/s through the collector: the same episodes, the same controller, timed.

    python benchmarks/marl_collector_overhead.py [--episodes 400] [--repeats 3] [--path new|old|both]

Every measurement collects the same episodes (env seeds 0..E-1, 8 env slots, in-process envs)
on GoalGrid and Foraging (the benchmarks/marl.py configs) with a QMIX controller acting
epsilon-greedily at epsilon = 1 (uniformly random actions, but the recurrent Q network still runs
every tick, as in training), for flat QMIX and for subgoal-QMIX. "joint steps/s" counts one env
step of the whole team. The time covers collection and turning the episodes into replay-buffer
columns (what a learner needs). Median over repeats by process CPU time (other load on the
shared machine matters less); wall-clock medians alongside.

``old`` is the pre-issue-12 ``EpisodeRunner`` (only importable at commits that still have
algos/marl/runner.py); ``new`` is the shared :class:`hiergym.collector.Collector`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

ENVS = {
    "GoalGrid": ("hiergym/GoalGrid-v0", {"size": 5, "max_cycles": 20, "reward_mode": "sparse"}),
    "Foraging": ("hiergym/Foraging-v0", {"size": 5, "n_food": 1, "max_cycles": 20}),
}
N_SLOTS = 8
GOAL_HORIZON = 5


def old_path(env_id: str, kwargs: dict[str, Any], hierarchical: bool) -> Callable[[int], int]:
    from hiergym.agents.marl import QMixAgents, SubgoalQMixAgents
    from hiergym.algos.marl.runner import EpisodeRunner, probe_env
    from hiergym.registration import make_parallel

    spec = probe_env(make_parallel(env_id, **kwargs), subgoals=hierarchical, subgoal_features=hierarchical)
    torch.manual_seed(0)
    if hierarchical:
        agents = SubgoalQMixAgents(len(spec.agents), spec.obs_dim, spec.n_actions, spec.n_subgoals, goal_horizon=GOAL_HORIZON, subgoal_feat_dim=spec.subgoal_feat_dim)
    else:
        agents = QMixAgents(len(spec.agents), spec.obs_dim, spec.n_actions)
    runner = EpisodeRunner([make_parallel(env_id, **kwargs) for _ in range(N_SLOTS)], agents, spec)

    def run(episodes: int) -> int:
        result = runner.collect(range(episodes), epsilon=1.0, generator=torch.Generator().manual_seed(0))
        return result.env_steps

    return run


def new_path(env_id: str, kwargs: dict[str, Any], hierarchical: bool) -> Callable[[int], int]:
    from hiergym.algos.marl.configs import MarlRunConfig, make_algo_config
    from hiergym.algos.marl.episodes import episode_columns
    from hiergym.algos.marl.train import build_collector

    algo = make_algo_config("subgoal-qmix", goal_horizon=GOAL_HORIZON) if hierarchical else make_algo_config("qmix")
    torch.manual_seed(0)
    collector, spec, _ = build_collector(MarlRunConfig(env_id=env_id, env_kwargs=kwargs, n_envs=N_SLOTS), algo)

    def run(episodes: int) -> int:
        trajs, stats = collector.collect([(env_id, s) for s in range(episodes)], 1, sampling=1.0, stream=0)
        episode_columns(trajs, spec)
        return stats.env_steps

    return run


PATHS = {"old": old_path, "new": new_path}


def measure(build: Callable[..., Callable[[int], int]], env: str, hierarchical: bool, episodes: int, repeats: int) -> tuple[float, float, int]:
    env_id, kwargs = ENVS[env]
    run = build(env_id, kwargs, hierarchical)
    run(16)  # warm-up: imports, first forward passes
    cpu, wall = [], []
    steps = 0
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        steps = run(episodes)
        cpu.append(steps / (time.process_time() - c0))
        wall.append(steps / (time.perf_counter() - w0))
    return statistics.median(cpu), statistics.median(wall), steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--path", choices=("old", "new", "both"), default="new")
    args = parser.parse_args()
    torch.set_num_threads(1)
    paths = ("old", "new") if args.path == "both" else (args.path,)
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}; {args.episodes} episodes x {args.repeats} repeats, {N_SLOTS} slots")
    print(f"{'path':5} {'env':9} {'controller':13} {'joint steps':>11} {'steps/s cpu':>12} {'steps/s wall':>13}")
    for env in ENVS:
        for hierarchical in (False, True):
            for path in paths:
                cpu, wall, steps = measure(PATHS[path], env, hierarchical, args.episodes, args.repeats)
                name = "subgoal-qmix" if hierarchical else "qmix"
                print(f"{path:5} {env:9} {name:13} {steps:>11} {cpu:>12.0f} {wall:>13.0f}")


if __name__ == "__main__":
    main()
