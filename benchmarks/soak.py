"""Soak: run a CPU training run (`hiergym train llm`, tiny model, Sokoban) for N minutes and sample its RSS.

A leak shows as RSS that keeps climbing after warm-up; the script prints the RSS series, the slope
over the second half of the run (MB/min) and writes both to --out (CSV + a summary line). The run
evaluates and checkpoints every few iterations so those paths are soaked too.

    nice -n 10 python benchmarks/soak.py --minutes 10 --out benchmarks/results/scale/soak.csv

RSS is read from /proc (Linux), summed over the training process and its children (env workers).
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
iterations = 100000
tasks_per_iteration = 4
num_slots = 16
eval_every = 10
eval_episodes = 8
checkpoint_every = 5
tensorboard = true
progress = false

[env]
env_id = "hiergym/Sokoban-6x6-1box-v0"
max_episode_steps = 8

[algo.gigpo]
group_size = 4

[sampling]
max_new_tokens = 6

[warm_start]
steps = 0
"""


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` and all its descendants, in kB (0 for a process that is gone)."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def descendants(pid: int) -> list[int]:
    children = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            children += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
    except FileNotFoundError:
        return []
    return [c for child in children for c in (child, *descendants(child))]


def iterations_done(run: Path) -> int:
    metrics = run / "metrics.csv"
    return max(len(metrics.read_text().splitlines()) - 1, 0) if metrics.is_file() else 0


def slope_mb_per_min(rows: list[tuple[float, float, int]]) -> float:
    """Least-squares slope of RSS (MB) over time (min), second half of the samples."""
    half = rows[len(rows) // 2 :]
    if len(half) < 2:
        return float("nan")
    ts, ys = [r[0] / 60 for r in half], [r[1] for r in half]
    mt, my = sum(ts) / len(ts), sum(ys) / len(ys)
    var = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var if var else float("nan")


def thirds_mb(rows: list[tuple[float, float, int]], warm_up_s: float = 120.0) -> tuple[float, float]:
    """Mean RSS (MB) of the first and last third of the samples after ``warm_up_s`` (model load, first iterations)."""
    steady = [r[1] for r in rows if r[0] >= warm_up_s]
    k = max(len(steady) // 3, 1)
    return sum(steady[:k]) / k, sum(steady[-k:]) / k


def summarize(rows: list[tuple[float, float, int]], minutes: float) -> str:
    first, last = thirds_mb(rows)
    steady = [r[1] for r in rows if r[0] >= 120.0]
    return (
        f"soak: {minutes:.1f} min, {rows[-1][2]} iterations; RSS after 2 min warm-up between {min(steady):.0f} and "
        f"{max(steady):.0f} MB, mean {first:.0f} MB in its first third and {last:.0f} MB in its last "
        f"({last - first:+.0f} MB); end {rows[-1][1]:.0f} MB; least-squares slope over the second half {slope_mb_per_min(rows):+.2f} MB/min"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--every", type=float, default=15.0, help="seconds between RSS samples")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale" / "soak.csv")
    p.add_argument("--summarize", action="store_true", help="only re-read --out and print its summary")
    args = p.parse_args()
    if args.summarize:
        with args.out.open(newline="") as f:
            rows = [(float(r["seconds"]), float(r["rss_mb"]), int(r["iterations"])) for r in csv.DictReader(f)]
        print(summarize(rows, rows[-1][0] / 60))
        return
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "soak.toml"
        config.write_text(CONFIG)
        run = Path(tmp) / "run"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "hiergym", "train", "llm", "--config-file", str(config), "--out", str(run)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        rows: list[tuple[float, float, int]] = []
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < args.minutes * 60 and proc.poll() is None:
                rows.append((time.monotonic() - t0, rss_kb(proc.pid) / 1024, iterations_done(run)))
                print(f"{rows[-1][0]:7.0f} s  RSS {rows[-1][1]:7.1f} MB  iterations {rows[-1][2]}", flush=True)
                time.sleep(args.every)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
            elif proc.returncode:
                sys.exit(f"training run failed:\n{proc.stderr.read()[-3000:]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["seconds", "rss_mb", "iterations"])
        w.writerows([(f"{t:.0f}", f"{r:.1f}", i) for t, r, i in rows])
    summary = summarize(rows, args.minutes)
    print(summary)
    args.out.with_suffix(".txt").write_text(summary + "\n")


if __name__ == "__main__":
    main()
