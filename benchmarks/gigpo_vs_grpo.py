"""GiGPO vs GRPO where step credit could matter: paired seeds, same token budget, held-out IQM and the paired difference's CI.

Per seed, the tiny LM is warm-started once on expert demonstrations (``warm-seed<s>/model_warm_start``)
and GiGPO and GRPO both start from those weights with the same iterations, tasks per iteration,
group size, learning rate, sampling streams and held-out seeds: only the advantage estimator
differs, so the two runs of a seed are a pair. Held-out success (``--eval-episodes`` sampled
episodes on seeds from 10^6) is read at iteration 0 (the shared warm start: both runs must
measure the same number, which the script checks) and at the end. We report per method the IQM
over seeds with a 95% percentile-bootstrap CI, and the IQM and CI of the per-seed paired
difference GiGPO - GRPO; plus, from the GiGPO runs' ``metrics.csv``, the step-group numbers that
say how much step credit there was to give (``gigpo/step_grouped_share``, ...).

    python benchmarks/gigpo_vs_grpo.py --setting sokoban-8x8 --seeds 5 --jobs 5 \
        --results benchmarks/results/gigpo_vs_grpo

(the defaults are the run in docs/step-credit.md: 400 warm-start steps, 15 iterations x 4 tasks x 8
rollouts, 256 held-out episodes; about 7 CPU-minutes a seed).

Settings come from ``benchmarks/step_credit.py`` (``SETTINGS``). Finished runs are read back, so
an interrupted benchmark continues where it stopped; ``--report-only`` reports the seeds that are done.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from stats import bootstrap_ci, iqm  # benchmarks/stats.py (run as python benchmarks/gigpo_vs_grpo.py)
from step_credit import SETTINGS, train_config, warm_start_once

ALGOS = ("gigpo", "grpo")
MEAN_COLUMNS = (
    "gigpo/step_grouped_share", "gigpo/step_group_size_mean", "gigpo/step_adv_std", "gigpo/episode_adv_std",
    "signal/groups_same_return", "signal/groups_failed_all", "signal/groups_solved_all", "signal/groups_zero_advantage", "signal/turns_zero_advantage",
    "success", "length", "format_ok", "train/approx_kl", "train/entropy",
)
"""metrics.csv columns averaged over a run's RL iterations (the gigpo/* ones exist in GiGPO runs only)."""


def seed_config(seed: int, args: argparse.Namespace, algo: str = "gigpo", out: Path | None = None) -> Any:
    return train_config(
        SETTINGS[args.setting], seed=seed, out=out or args.out / f"warm-seed{seed}", algo=algo, iterations=args.iterations,
        warm_start_steps=args.warm_start_steps, warm_start_episodes=args.warm_start_episodes, eval_every=args.iterations,
        eval_episodes=args.eval_episodes, tasks_per_iteration=args.tasks, group_size=args.group_size,
    )


def run_means(run_dir: Path) -> dict[str, float]:
    """Means over the RL iterations of ``MEAN_COLUMNS`` in a run's metrics.csv."""
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/entropy")]
    return {k: float(np.mean([float(r[k]) for r in rows if r.get(k)])) for k in MEAN_COLUMNS if any(r.get(k) for r in rows)}


def run_seed(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Warm start once (reused if present), then each algorithm from those weights; finished runs are read back."""
    from hiergym.training import train

    sys.path.insert(0, str(Path(__file__).parent))  # the expert entry points of step_credit in spawned workers
    warm_dir = args.out / f"warm-seed{seed}"
    model_dir = warm_start_once(seed_config(seed, args), warm_dir)
    record: dict[str, Any] = {"seed": seed, "cpu_warm_start_s": json.loads((warm_dir / "warm_start.json").read_text()).get("cpu_s", float("nan"))}
    for algo in ALGOS:
        out = args.out / f"{algo}-seed{seed}"
        done = out / "record.json"
        if not done.is_file():
            shutil.rmtree(out, ignore_errors=True)
            t1 = time.process_time()
            cfg = seed_config(seed, args, algo, out)
            cfg = replace(cfg, model=replace(cfg.model, path=str(model_dir)), warm_start=replace(cfg.warm_start, steps=0, content_only_steps=0))
            result = train(cfg)
            run = {"curve": dict(sorted(result.eval_success.items())), "cpu_s": time.process_time() - t1, "means": run_means(out)}
            done.write_text(json.dumps(run))
        run = json.loads(done.read_text())
        run["curve"] = {int(k): v for k, v in run["curve"].items()}
        record[algo] = run
        logging.info("%s seed %d: %s", algo, seed, run["curve"])
    return record


def finished_records(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The seeds whose two runs are both on disk (for --report-only)."""
    records = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        runs = {a: args.out / f"{a}-seed{seed}" / "record.json" for a in ALGOS}
        if all(p.is_file() for p in runs.values()):
            warm = args.out / f"warm-seed{seed}" / "warm_start.json"
            record: dict[str, Any] = {"seed": seed, "cpu_warm_start_s": json.loads(warm.read_text()).get("cpu_s", float("nan")) if warm.is_file() else float("nan")}
            for algo, path in runs.items():
                run = json.loads(path.read_text())
                run["curve"] = {int(k): v for k, v in run["curve"].items()}
                run["means"] = run_means(path.parent)  # today's MEAN_COLUMNS
                record[algo] = run
            records.append(record)
    return records


def ci_entry(x: np.ndarray) -> dict[str, Any]:
    lo, hi = bootstrap_ci(x)
    return {"iqm": iqm(x), "ci95": [lo, hi], "per_seed": np.round(x, 4).tolist()}


def summarise(records: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    records = sorted(records, key=lambda r: r["seed"])
    first, last = 0, args.iterations
    warm = {a: np.array([r[a]["curve"][first] for r in records]) for a in ALGOS}
    if not np.array_equal(warm["gigpo"], warm["grpo"]):
        logging.warning("iteration-0 evaluations differ between the methods (%s vs %s): the pairs do not share their start", warm["gigpo"], warm["grpo"])
    final = {a: np.array([r[a]["curve"][last] for r in records]) for a in ALGOS}
    out: dict[str, Any] = {"seeds": [r["seed"] for r in records], "after_warm_start": ci_entry(warm["gigpo"])}
    for algo in ALGOS:
        out[algo] = {"final": ci_entry(final[algo]), "gain": ci_entry(final[algo] - warm[algo]), "cpu_min_per_run": float(np.mean([r[algo]["cpu_s"] for r in records]) / 60)}
        out[algo]["means"] = {k: float(np.mean([r[algo]["means"][k] for r in records])) for k in records[0][algo]["means"]}
        out[algo]["means_per_seed"] = {r["seed"]: r[algo]["means"] for r in records}
    out["difference_gigpo_minus_grpo"] = ci_entry(final["gigpo"] - final["grpo"])
    warm_cpu = [r["cpu_warm_start_s"] for r in records if np.isfinite(r["cpu_warm_start_s"])]
    out["cpu_min_warm_start"] = float(np.mean(warm_cpu) / 60) if warm_cpu else None
    return out


def report_lines(summary: dict[str, Any], args: argparse.Namespace, commit: str) -> list[str]:
    def fmt(e: dict[str, Any], signed: bool = False) -> str:
        f = "{:+.1f}" if signed else "{:.1f}"
        return f"{f.format(100 * e['iqm'])} [{f.format(100 * e['ci95'][0])}, {f.format(100 * e['ci95'][1])}]"

    n = len(summary["seeds"])
    lines = [
        f"commit {commit}; setting {args.setting} ({SETTINGS[args.setting].env_id}, {SETTINGS[args.setting].max_episode_steps}-step limit); seeds {summary['seeds']}",
        f"per run: warm start {args.warm_start_steps} steps on {args.warm_start_episodes} demonstrations (shared by the pair), then {args.iterations} iterations x "
        f"{args.tasks} tasks x {args.group_size} rollouts; held-out {args.eval_episodes} episodes at iteration 0 and {args.iterations}",
        "",
        "| seed | after warm start | GiGPO end | GRPO end | GiGPO - GRPO |",
        "| --- | --- | --- | --- | --- |",
    ]
    for i, seed in enumerate(summary["seeds"]):
        w = summary["after_warm_start"]["per_seed"][i]
        g, r = summary["gigpo"]["final"]["per_seed"][i], summary["grpo"]["final"]["per_seed"][i]
        lines.append(f"| {seed} | {100 * w:.1f}% | {100 * g:.1f}% | {100 * r:.1f}% | {100 * (g - r):+.1f} |")
    d = summary["difference_gigpo_minus_grpo"]
    lines.append(f"| IQM [95% CI] | {fmt(summary['after_warm_start'])} | {fmt(summary['gigpo']['final'])} | {fmt(summary['grpo']['final'])} | {fmt(d, True)} |")
    lines += [
        "",
        f"RL gain over the warm start (points, IQM [95% CI]): GiGPO {fmt(summary['gigpo']['gain'], True)}, GRPO {fmt(summary['grpo']['gain'], True)}",
        f"paired difference GiGPO - GRPO at the end: {fmt(d, True)} points over {n} seeds" + ("" if n >= 5 else " (fewer than 5 seeds: no claim)"),
        "",
        "means over RL iterations and seeds (metrics.csv): " + ", ".join(f"{a}: " + ", ".join(f"{k} {v:.3f}" for k, v in summary[a]["means"].items()) for a in ALGOS),
        f"CPU: warm start {'n/a' if summary['cpu_min_warm_start'] is None else format(summary['cpu_min_warm_start'], '.1f')} min a seed, GiGPO run {summary['gigpo']['cpu_min_per_run']:.1f} min, GRPO run {summary['grpo']['cpu_min_per_run']:.1f} min",
    ]
    return lines


def plot(records: list[dict[str, Any]], summary: dict[str, Any], args: argparse.Namespace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]})
    its = [0, args.iterations]
    for k, algo in enumerate(ALGOS):
        for r in records:
            ax.plot(its, [r[algo]["curve"][i] for i in its], color=f"C{k}", alpha=0.3, lw=1)
        mid = [iqm(np.array([r[algo]["curve"][i] for r in records])) for i in its]
        lo, hi = zip(*(bootstrap_ci(np.array([r[algo]["curve"][i] for r in records])) for i in its))
        ax.plot(its, mid, color=f"C{k}", lw=2, marker="o", label=f"{algo.upper()} (IQM, {len(records)} seeds)")
        ax.fill_between(its, lo, hi, color=f"C{k}", alpha=0.15)
    ax.set_xlabel("RL iteration (0 = the shared warm start)")
    ax.set_ylabel(f"held-out success ({args.eval_episodes} episodes)")
    ax.set_title(f"{SETTINGS[args.setting].env_id.split('/')[-1]}, tiny LM")
    ax.grid(alpha=0.3)
    ax.legend()
    d = summary["difference_gigpo_minus_grpo"]
    bx.axhline(0, color="grey", lw=1)
    bx.scatter(np.zeros(len(d["per_seed"])), 100 * np.array(d["per_seed"]), color="C0", alpha=0.6, label="per seed")
    bx.errorbar([0], [100 * d["iqm"]], yerr=[[100 * (d["iqm"] - d["ci95"][0])], [100 * (d["ci95"][1] - d["iqm"])]], fmt="s", color="k", capsize=6, label="IQM, 95% CI")
    bx.set_xticks([])
    bx.set_ylabel("GiGPO - GRPO, final held-out success (points)")
    bx.legend()
    bx.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", default="sokoban-8x8", choices=list(SETTINGS))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=15)
    p.add_argument("--tasks", type=int, default=4, help="task groups per iteration")
    p.add_argument("--group-size", type=int, default=8, help="rollouts per task")
    p.add_argument("--warm-start-steps", type=int, default=400)
    p.add_argument("--warm-start-episodes", type=int, default=2000)
    p.add_argument("--eval-episodes", type=int, default=256)
    p.add_argument("--jobs", type=int, default=1, help="seeds run in parallel (one process and one torch thread each)")
    p.add_argument("--out", type=Path, default=Path("runs/bench_gigpo_vs_grpo"))
    p.add_argument("--results", type=Path, default=None, help="directory to keep summary.json, report.md and the plot")
    p.add_argument("--report-only", action="store_true", help="report the seeds whose runs are finished, run nothing")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    if args.report_only:
        records = finished_records(args)
    else:
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
            records = list(pool.map(run_seed, seeds, [args] * len(seeds)))
    if not records:
        raise SystemExit(f"no finished seed in {args.out}")
    summary = summarise(records, args)
    summary.update(commit=commit, command=" ".join(sys.argv), setting=args.setting, args={k: str(v) for k, v in vars(args).items()})
    lines = report_lines(summary, args, commit)
    print("\n".join(lines))
    target = args.results or args.out
    target.mkdir(parents=True, exist_ok=True)
    (target / "summary.json").write_text(json.dumps(summary, indent=1))
    (target / "report.md").write_text("\n".join([f"    {' '.join(['python', *sys.argv])}", "", *lines]) + "\n")
    plot(records, summary, args, target / "gigpo_vs_grpo.png")
    print(f"results: {target}")


if __name__ == "__main__":
    main()
