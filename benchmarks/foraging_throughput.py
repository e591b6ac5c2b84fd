"""Foraging step throughput, side by side: hiergym's ``ForagingEnv`` vs the ``lbforaging`` package.

Both sides run the same configuration (grid size, players, items, player levels, sight / view
radius, 50-step episodes), built directly from their classes (no Gymnasium wrappers), stepped
with the same pre-drawn uniformly random joint actions; episode resets are included in the time.
lbforaging runs with its default vector observation (its ``grid_observation=True`` mode fails to
build its observation space under Gymnasium 1.x: "low.shape doesn't match provided shape").

    python benchmarks/foraging_throughput.py              # table
    python benchmarks/foraging_throughput.py --steps 5000 --repeats 5

Reported: median steps/s over the repeats (min-max in brackets), by CPU time of this process
(``time.process_time``) so other load on the machine matters less; wall-clock medians alongside.
Repeats are interleaved across the envs, and "ours / it" is the median of the per-round ratios.
Timings still depend on machine load: the header prints the core count and load average.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hiergym.envs.multiagent.foraging import ForagingEnv

N_ACTIONS = 6  # noop, up, down, left, right, load on both sides (same indices)
MAX_STEPS = 50
MAX_PLAYER_LEVEL = 2


@dataclass(frozen=True)
class Config:
    size: int
    players: int
    food: int
    sight: int

    def __str__(self) -> str:
        return f"{self.size}x{self.size} {self.players}p {self.food}f sight {self.sight}"


CONFIGS = (Config(8, 2, 2, 2), Config(10, 3, 3, 2), Config(8, 2, 2, 8))


def ours(cfg: Config, obs_mode: str = "vector") -> Callable[[np.ndarray], None]:
    env = ForagingEnv(
        n_agents=cfg.players,
        n_food=cfg.food,
        size=cfg.size,
        max_player_level=MAX_PLAYER_LEVEL,
        view_radius=cfg.sight,
        max_cycles=MAX_STEPS,
        obs_mode=obs_mode,
    )
    env.reset(seed=0)
    agents = env.possible_agents
    names = env.ACTIONS

    def run(actions: np.ndarray) -> None:
        for joint in actions.tolist():
            if not env.agents:
                env.reset()
            if obs_mode == "text":
                env.step({a: names[x] for a, x in zip(agents, joint)})
            else:
                env.step(dict(zip(agents, joint)))

    return run


def lbforaging(cfg: Config) -> Callable[[np.ndarray], None]:
    from lbforaging.foraging import ForagingEnv as LBForagingEnv

    env = LBForagingEnv(
        players=cfg.players,
        min_player_level=1,
        max_player_level=MAX_PLAYER_LEVEL,
        min_food_level=1,
        max_food_level=None,
        field_size=(cfg.size, cfg.size),
        max_num_food=cfg.food,
        sight=cfg.sight,
        max_episode_steps=MAX_STEPS,
        force_coop=False,
    )
    env.reset(seed=0)

    def run(actions: np.ndarray) -> None:
        for joint in actions.tolist():
            _, _, done, truncated, _ = env.step(tuple(joint))
            if done or truncated:
                env.reset()

    return run


def measure(runs: list[Callable[[np.ndarray], None]], actions: np.ndarray, repeats: int) -> list[tuple[list, list]]:
    """Per run: steps/s by CPU time and by wall clock, one value per repeat.

    Repeats are interleaved (all envs once, then all again, ...) so that changes in the machine's
    load hit every env alike; each env gets one untimed warm-up pass first.
    """
    for run in runs:
        run(actions[: len(actions) // 10])
    out: list[tuple[list, list]] = [([], []) for _ in runs]
    for _ in range(repeats):
        for run, (cpu, wall) in zip(runs, out):
            c0, w0 = time.process_time(), time.perf_counter()
            run(actions)
            cpu.append(len(actions) / (time.process_time() - c0))
            wall.append(len(actions) / (time.perf_counter() - w0))
    return out


def _cell(rates: list[float]) -> str:
    return f"{statistics.median(rates):>8.0f} [{min(rates):.0f}-{max(rates):.0f}]"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main() -> None:
    warnings.filterwarnings("ignore", message=".*precision lowered.*")  # lbforaging's float64 Box bounds
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="joint steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per row")
    args = parser.parse_args()
    have_reference = importlib.util.find_spec("lbforaging") is not None
    print(f"commit {_commit()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared machine: noisy)")
    print(f"{'config':<26}{'env':<30}{'CPU steps/s [min-max]':>26}{'wall steps/s':>14}{'ours / it':>11}")
    for cfg in CONFIGS:
        actions = np.random.default_rng(0).integers(0, N_ACTIONS, size=(args.steps, cfg.players))
        rows = [("hiergym ForagingEnv (vector)", ours(cfg))]
        rows.append(("hiergym ForagingEnv (text)", ours(cfg, "text")))
        if have_reference:
            rows.append(("lbforaging (vector obs)", lbforaging(cfg)))
        timed = measure([run for _, run in rows], actions, args.repeats)
        ours_cpu = timed[0][0]
        for (name, _), (cpu, wall) in zip(rows, timed):
            # ratio: median over repeats of ours / theirs measured back to back in the same round
            paired = statistics.median(o / t for o, t in zip(ours_cpu, cpu))
            ratio = "" if name.startswith("hiergym") else f"{paired:>10.2f}x"
            print(f"{str(cfg):<26}{name:<30}{_cell(cpu):>26}{statistics.median(wall):>14.0f}{ratio:>11}")
    if not have_reference:
        print("lbforaging is not installed: `pip install lbforaging` to add the reference rows")


if __name__ == "__main__":
    main()
