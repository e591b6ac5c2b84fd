"""Sokoban speed, side by side: hiergym's env vs the `gym-sokoban` package, in one run.

Measures level generation (``reset``; ours includes the optimal-solver check of every level)
as median and p90 milliseconds, and step throughput (steps/s, RGB observations on both sides;
ours also in text mode), for 10x10 rooms with 3 boxes and 6x6 rooms with 1 box.

gym-sokoban 0.0.6 needs the old ``gym`` 0.26.2 and ``numpy<2``, so its side runs in its own
venv (created on first use, default ``~/.cache/hiergym/bench-venv-sokoban``) through a
subprocess that prints JSON. Its resets have a heavy tail (seconds), so it gets a reset count
cap, a total time budget and a per-reset time limit; a reset cut by the limit counts as the
limit (so its median/p90 are lower bounds) and the table says how many were cut.

    python benchmarks/sokoban.py                 # full table
    python benchmarks/sokoban.py --no-reference  # ours only

Times are CPU seconds of the measuring process (``time.process_time``; the reference's
per-reset limit is a CPU-time timer too), so other jobs on a shared machine distort them less
than wall-clock times; they still share caches and cores, so the header prints the load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CONFIGS = {"10x10, 3 boxes": ((10, 10), 3), "6x6, 1 box": ((6, 6), 1)}
DEFAULT_VENV = Path.home() / ".cache" / "hiergym" / "bench-venv-sokoban"
REFERENCE_PACKAGES = ("gym==0.26.2", "numpy<2", "gym-sokoban==0.0.6")
RESULT_MARK = "RESULT_JSON "

# Runs inside the reference venv. gym-sokoban seeds from the global `random`/`np.random`
# modules and prints retries to stdout, so the result is the last marked line.
REFERENCE_SCRIPT = r"""
import json, random, signal, sys, time
import numpy as np
from gym_sokoban.envs.sokoban_env import SokobanEnv

dim, boxes, n_resets, budget, limit, n_steps = json.loads(sys.argv[1])

class Cut(Exception):
    pass

def on_alarm(signum, frame):
    raise Cut()

signal.signal(signal.SIGPROF, on_alarm)
env = SokobanEnv(dim_room=tuple(dim), num_boxes=boxes, max_steps=10**9)
resets, cut, start = [], 0, time.process_time()
for seed in range(n_resets):
    if time.process_time() - start > budget:
        break
    random.seed(seed); np.random.seed(seed)
    t = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, limit)
    try:
        env.reset()
        signal.setitimer(signal.ITIMER_PROF, 0)
        resets.append(time.process_time() - t)
    except Cut:
        cut += 1
        resets.append(limit)
random.seed(0); np.random.seed(0)
signal.setitimer(signal.ITIMER_PROF, 0)
env.reset()
actions = np.random.randint(1, 9, size=n_steps)  # 1-4 push, 5-8 move
elapsed = 0.0
for a in actions:
    t = time.process_time()
    out = env.step(int(a))
    elapsed += time.process_time() - t
    if out[2]:
        env.reset()
print("RESULT_JSON " + json.dumps({"resets": resets, "cut": cut, "steps_per_s": n_steps / elapsed}))
"""


def ensure_reference_venv(venv: Path) -> Path:
    """The venv's python, creating the venv and installing gym-sokoban on first use (PyPI via pip)."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import gym_sokoban"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {venv} with {' '.join(REFERENCE_PACKAGES)} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REFERENCE_PACKAGES], check=True)
    return python


def run_reference(python: Path, dim, boxes, args) -> dict:
    params = json.dumps([list(dim), boxes, args.ref_resets, args.ref_budget, args.ref_limit, args.ref_steps])
    proc = subprocess.run(
        [str(python), "-c", REFERENCE_SCRIPT, params],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"},
    )
    line = next(ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith(RESULT_MARK))
    return json.loads(line[len(RESULT_MARK) :])


def run_ours(dim, boxes, args) -> dict:
    from hiergym.envs.sokoban import SokobanEnv

    text_env = SokobanEnv(dim_room=dim, num_boxes=boxes, max_steps=10**9)
    resets, lengths = [], []
    for seed in range(args.resets):
        t = time.process_time()
        _, info = text_env.reset(seed=seed)
        resets.append(time.process_time() - t)
        lengths.append(info["optimal_length"])
    out = {"resets": resets, "cut": 0, "optimal_length": float(np.median(lengths))}
    for mode in ("rgb", "text"):
        env = SokobanEnv(dim_room=dim, num_boxes=boxes, max_steps=10**9, obs_mode=mode)
        out[f"steps_per_s_{mode}"] = _steps_per_second(env, args.steps)
    return out


def _steps_per_second(env, n_steps: int) -> float:
    env.reset(seed=0)
    commands = ("up", "down", "left", "right")
    actions = np.random.default_rng(0).integers(len(commands), size=n_steps)
    elapsed = 0.0
    for a in actions:
        t = time.process_time()
        terminated = env.step(commands[a])[2]
        elapsed += time.process_time() - t
        if terminated:
            env.reset()
    return n_steps / elapsed


def _ms(values, q) -> float:
    return float(np.percentile(values, q) * 1000)


def table(results: dict) -> str:
    rows = ["| config | metric | hiergym | gym-sokoban 0.0.6 | speed-up |", "|---|---|---|---|---|"]
    for name, (ours, ref) in results.items():
        for label, q in (("reset median (ms)", 50), ("reset p90 (ms)", 90)):
            mine = _ms(ours["resets"], q)
            if ref is None:
                rows.append(f"| {name} | {label} | {mine:.1f} | - | - |")
                continue
            theirs = _ms(ref["resets"], q)
            bound = ">=" if ref["cut"] else ""
            rows.append(f"| {name} | {label} | {mine:.1f} | {bound}{theirs:.1f} | {bound}{theirs / mine:.0f}x |")
        mine = ours["steps_per_s_rgb"]
        theirs = f"{ref['steps_per_s']:,.0f}" if ref else "-"
        ratio = f"{mine / ref['steps_per_s']:.0f}x" if ref else "-"
        rows.append(f"| {name} | steps/s, RGB obs | {mine:,.0f} | {theirs} | {ratio} |")
        rows.append(f"| {name} | steps/s, text obs | {ours['steps_per_s_text']:,.0f} | - | - |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resets", type=int, default=200, help="our resets per config (seeds 0..n-1)")
    parser.add_argument("--steps", type=int, default=20_000, help="our timed steps per config and obs mode")
    parser.add_argument("--ref-resets", type=int, default=40, help="most gym-sokoban resets per config")
    parser.add_argument("--ref-budget", type=float, default=60.0, help="CPU seconds of gym-sokoban resets per config")
    parser.add_argument("--ref-limit", type=float, default=10.0, help="CPU seconds after which one gym-sokoban reset is cut")
    parser.add_argument("--ref-steps", type=int, default=2_000, help="gym-sokoban timed steps per config")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="venv for gym-sokoban")
    parser.add_argument("--no-reference", action="store_true", help="skip gym-sokoban")
    args = parser.parse_args()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"# commit {commit or '?'}, {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}")
    python = None if args.no_reference else ensure_reference_venv(args.venv)
    results = {}
    for name, (dim, boxes) in CONFIGS.items():
        ours = run_ours(dim, boxes, args)
        ref = None if python is None else run_reference(python, dim, boxes, args)
        results[name] = (ours, ref)
        cut = f", {ref['cut']} of {len(ref['resets'])} reference resets cut at {args.ref_limit:.0f} s" if ref else ""
        print(f"# {name}: our median optimal length {ours['optimal_length']:.0f} moves{cut}")
    print(f"# load average at end {os.getloadavg()[0]:.2f}")
    print(table(results))


if __name__ == "__main__":
    main()
