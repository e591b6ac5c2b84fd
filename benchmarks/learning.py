"""Does RL make the demo's agent better? RL's own gain over the warm start, over seeds, with IQM and bootstrap CIs.

Each seed runs ``hiergym demo`` (Sokoban 6x6, tiny LM: warm start on solver demonstrations, then
RL) with the given settings; held-out success (``--eval-episodes`` sampled episodes on the
held-out seeds, the same sampling streams at every point) is read at init, right after the warm
start (iteration 0) and at the end. The per-seed gain after-RL minus after-warm-start is paired
(same seed, same held-out episodes), so its CI is the one to read.

    python benchmarks/learning.py --seeds 5 --jobs 2 --out runs/bench_learning \
        --results benchmarks/results/learning/demo

Other settings are demo flags (``--set warm_start_steps=300 --set iterations=120``).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from hiergym.demo import DemoConfig, run_demo

from stats import bootstrap_ci, iqm  # benchmarks/stats.py (run as python benchmarks/learning.py)


def demo_config(seed: int, args: argparse.Namespace) -> DemoConfig:
    overrides: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(DemoConfig)}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in types:
            raise SystemExit(f"--set {item}: {key!r} is not a DemoConfig field ({sorted(types)})")
        overrides[key] = json.loads(value) if value[:1] in "0123456789-[{tf" else value
    return replace(DemoConfig(), seed=seed, out=args.out / f"seed{seed}", eval_episodes=args.eval_episodes, progress=False, **overrides)


def run_seed(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One demo run (reused when its summary exists); returns its held-out curve and CPU time."""
    config = demo_config(seed, args)
    done = config.out / "summary.json"
    if not done.is_file():
        shutil.rmtree(config.out, ignore_errors=True)
        t0 = time.process_time()
        summary = run_demo(config)
        record = {"seed": seed, "init": summary.init, "curve": summary.curve, "cpu_s": time.process_time() - t0}
        done.write_text(json.dumps(record))
    record = json.loads(done.read_text())
    record["curve"] = {int(k): v for k, v in record["curve"].items()}
    logging.info("seed %d: init %s, curve %s", seed, record["init"], record["curve"])
    return record


def diagnostics(run_dir: Path) -> dict[str, float]:
    """Means over RL iterations of the learning diagnostics logged in metrics.csv."""
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/entropy")]
    keys = ("format_ok", "signal/groups_same_return", "signal/groups_zero_advantage", "train/entropy", "train/approx_kl", "train/clipfrac", "train/grad_norm", "train/kl")
    return {k: float(np.mean([float(r[k]) for r in rows if r.get(k)])) for k in keys if any(r.get(k) for r in rows)}


def summarise(records: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    records = sorted(records, key=lambda r: r["seed"])
    first = min(records[0]["curve"])
    last = max(records[0]["curve"])
    warm = np.array([r["curve"][first] for r in records])
    final = np.array([r["curve"][last] for r in records])
    gain = final - warm
    out: dict[str, Any] = {"seeds": [r["seed"] for r in records], "eval_episodes": args.eval_episodes, "settings": args.set}
    for name, x in (("after_warm_start", warm), ("after_rl", final), ("rl_gain", gain)):
        lo, hi = bootstrap_ci(x)
        out[name] = {"iqm": iqm(x), "ci95": [lo, hi], "per_seed": np.round(x, 4).tolist()}
    init = [r["init"] for r in records if r["init"] is not None]
    out["init"] = {"iqm": iqm(np.array(init)), "per_seed": init} if init else None
    its = sorted(records[0]["curve"])
    out["curve"] = {it: {"iqm": iqm(np.array([r["curve"][it] for r in records])), "ci95": list(bootstrap_ci(np.array([r["curve"][it] for r in records])))} for it in its}
    out["cpu_min_per_seed"] = float(np.mean([r["cpu_s"] for r in records]) / 60)
    out["diagnostics"] = {r["seed"]: diagnostics(args.out / f"seed{r['seed']}") for r in records}
    return out


def plot(records: list[dict[str, Any]], summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for r in records:
        its = sorted(r["curve"])
        ax.plot(its, [r["curve"][i] for i in its], color="grey", alpha=0.35, lw=1)
    its = sorted(summary["curve"])
    mid = [summary["curve"][i]["iqm"] for i in its]
    lo, hi = zip(*(summary["curve"][i]["ci95"] for i in its))
    ax.plot(its, mid, color="C0", lw=2, label=f"IQM over {len(records)} seeds")
    ax.fill_between(its, lo, hi, color="C0", alpha=0.2, label="95% bootstrap CI")
    if summary["init"]:
        ax.axhline(summary["init"]["iqm"], color="C3", ls="--", lw=1, label="random init")
    ax.set_xlabel("RL iteration (0 = right after the warm start)")
    ax.set_ylabel(f"held-out success ({summary['eval_episodes']} episodes)")
    ax.set_ylim(0, 1)
    gain = summary["rl_gain"]
    ax.set_title(f"Sokoban 6x6, tiny LM: RL gain {gain['iqm']:+.3f} [{gain['ci95'][0]:+.3f}, {gain['ci95'][1]:+.3f}]")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="seeds run in parallel (one process and one torch thread each)")
    p.add_argument("--eval-episodes", type=int, default=256)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a DemoConfig field (repeatable)")
    p.add_argument("--out", type=Path, default=Path("runs/bench_learning"))
    p.add_argument("--results", type=Path, default=None, help="directory to keep summary.json, curve.png and the printed report")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        records = list(pool.map(run_seed, seeds, [args] * len(seeds)))
    summary = summarise(records, args)
    summary["commit"] = commit
    lines = [f"commit {commit}; seeds {seeds}; settings {args.set or 'demo defaults'}; {args.eval_episodes} held-out episodes per point"]
    for name in ("after_warm_start", "after_rl", "rl_gain"):
        s = summary[name]
        lines.append(f"{name:>16}: IQM {s['iqm']:+.3f}  95% CI [{s['ci95'][0]:+.3f}, {s['ci95'][1]:+.3f}]  per seed {s['per_seed']}")
    if summary["init"]:
        lines.append(f"{'random init':>16}: IQM {summary['init']['iqm']:.3f}")
    lines.append(f"CPU per seed: {summary['cpu_min_per_seed']:.1f} min")
    print("\n".join(lines))
    target = args.results or args.out
    target.mkdir(parents=True, exist_ok=True)
    (target / "summary.json").write_text(json.dumps(summary, indent=1))
    (target / "report.txt").write_text("\n".join(lines) + "\n")
    plot(records, summary, target / "curve.png")
    print(f"results: {target}")


if __name__ == "__main__":
    main()
