"""Multi-agent joint steps/s through the collector: the same episodes, the same controller, timed.

    python benchmarks/marl_collector_overhead.py [--episodes 400] [--repeats 3] [--path new|old|both]

Every measurement collects the same episodes (env seeds 0..E-1, 8 env slots, in-process envs)
on GoalGrid and Foraging (the benchmarks/marl.py configs) with a QMIX controller acting
epsilon-greedily at epsilon = 1 (uniformly random actions, but the recurrent Q network still runs
every tick, as in training), for flat QMIX and for subgoal-QMIX. "joint steps/s" counts one env
step of the whole team. The time covers collection and turning the episodes into replay-buffer
columns (what a learner needs). Median over repeats by process CPU time (other load on the
shared machine matters less); wall-clock medians alongside.

``old`` is the pre-issue-12 ``EpisodeRunner``, loaded from git history (``OLD_RUNNER``) and driving
today's controllers and envs; ``new`` is the shared :class:`hiergym.collector.Collector`. With
``--path both`` the two run in one process with their repeats alternating, so load drift on the
shared machine hits both alike. The old runner wrote buffer columns as it stepped; the new path's
time includes ``episode_columns``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

ENVS = {
    "GoalGrid": ("hiergym/GoalGrid-v0", {"size": 5, "max_cycles": 20, "reward_mode": "sparse"}),
    "Foraging": ("hiergym/Foraging-v0", {"size": 5, "n_food": 1, "max_cycles": 20}),
}
N_SLOTS = 8
GOAL_HORIZON = 5


OLD_RUNNER = ("8e12171", "algos/marl/runner.py")
"""The last commit with the pre-issue-12 MARL runner, and its path: the "old" side is loaded from git history."""


def load_old_runner() -> Any:
    """``algos/marl/runner.py`` of ``OLD_RUNNER`` as a module (it imports only names that still exist)."""
    import subprocess
    import sys
    import types

    source = subprocess.run(["git", "show", ":".join(OLD_RUNNER)], capture_output=True, text=True, check=True, cwd=os.path.dirname(__file__)).stdout
    module = types.ModuleType("old_marl_runner")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, "old_marl_runner.py", "exec"), module.__dict__)  # noqa: S102 - our own file from git history
    return module


class OldCarryAPI:
    """The controller API the old runner called: today's controllers plus the removed ``reset_carry``."""

    def __init__(self, agents: Any):
        self.agents = agents

    def __getattr__(self, name: str) -> Any:
        return getattr(self.agents, name)

    def reset_carry(self, carry: dict[str, torch.Tensor], slots: Any) -> dict[str, torch.Tensor]:
        fresh = self.agents.initial_carry(len(slots))
        mask = torch.as_tensor(slots, dtype=torch.bool)
        return {k: torch.where(mask.view(-1, *[1] * (v.dim() - 1)), fresh[k], v) for k, v in carry.items()}


def old_path(env_id: str, kwargs: dict[str, Any], hierarchical: bool) -> Callable[[int], int]:
    from hiergym.algos.marl.configs import MarlRunConfig, make_algo_config
    from hiergym.algos.marl.train import build_agents
    from hiergym.registration import make_parallel

    old = load_old_runner()
    spec = old.probe_env(make_parallel(env_id, **kwargs), subgoals=hierarchical, subgoal_features=hierarchical)
    algo = make_algo_config("subgoal-qmix", goal_horizon=GOAL_HORIZON) if hierarchical else make_algo_config("qmix")
    torch.manual_seed(0)
    agents = OldCarryAPI(build_agents(spec, algo))
    runner = old.EpisodeRunner([make_parallel(env_id, **kwargs) for _ in range(N_SLOTS)], agents, spec)
    MarlRunConfig  # noqa: B018 - same configs as the new side

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


def measure(paths: Sequence[str], env: str, hierarchical: bool, episodes: int, repeats: int) -> dict[str, tuple[float, float, int]]:
    """Median joint steps/s (CPU, wall) per path; the paths' repeats alternate, so drifting load hits both alike."""
    env_id, kwargs = ENVS[env]
    runs = {p: PATHS[p](env_id, kwargs, hierarchical) for p in paths}
    for run in runs.values():
        run(16)  # warm-up: imports, first forward passes
    cpu: dict[str, list[float]] = {p: [] for p in paths}
    wall: dict[str, list[float]] = {p: [] for p in paths}
    steps = {}
    for _ in range(repeats):
        for p, run in runs.items():
            c0, w0 = time.process_time(), time.perf_counter()
            steps[p] = run(episodes)
            cpu[p].append(steps[p] / (time.process_time() - c0))
            wall[p].append(steps[p] / (time.perf_counter() - w0))
    return {p: (statistics.median(cpu[p]), statistics.median(wall[p]), steps[p]) for p in paths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--path", choices=("old", "new", "both"), default="both")
    args = parser.parse_args()
    torch.set_num_threads(1)
    paths = ("old", "new") if args.path == "both" else (args.path,)
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}; {args.episodes} episodes x {args.repeats} repeats, {N_SLOTS} slots")
    print(f"{'path':5} {'env':9} {'controller':13} {'joint steps':>11} {'steps/s cpu':>12} {'steps/s wall':>13}")
    for env in ENVS:
        for hierarchical in (False, True):
            result = measure(paths, env, hierarchical, args.episodes, args.repeats)
            name = "subgoal-qmix" if hierarchical else "qmix"
            for path, (cpu, wall, steps) in result.items():
                print(f"{path:5} {env:9} {name:13} {steps:>11} {cpu:>12.0f} {wall:>13.0f}")
            if len(result) == 2:
                print(f"      new / old (CPU): {result['new'][0] / result['old'][0]:.2f}")


if __name__ == "__main__":
    main()
