"""Benchmark: IQL vs VDN vs QMIX vs subgoal-QMIX on GoalGrid, Foraging and KeyDoor.

    python benchmarks/marl.py [--steps 10000] [--seeds 5] [--workers 1] [--out benchmarks/results/marl]

Every (env, algo, seed) run is a full :class:`~hiergym.algos.marl.train.MarlTrainer` run on a
small env config (``ENV_CONFIGS``) with the same budget of env steps, evaluated greedily on
fixed evaluation seeds at regular intervals (the curves). Per (env, algo) the script prints the
interquartile mean (IQM) over seeds with a percentile-bootstrap 95% CI (resampling seeds) and
the mean success rate, writes ``summary.md`` / ``summary.json`` and one learning-curve PNG per
env (IQM across seeds with the bootstrap band), and records the git commit and the CPU time.
Runs are independent processes (``--workers``), each with one torch thread.

Budget and schedule are the same for all four algorithms: ``--steps`` env steps, epsilon 1 -> 0.05
over the first half of them (per env, see ``ENV_CONFIGS``) (PyMARL2's 100k-step anneal would never finish in a 10k budget),
``--train-steps`` gradient steps per collection of 8 episodes (one per episode by default:
PyMARL's one step per 8 episodes is ~60 updates in 5k steps, far too few to learn anything),
batch 32 episodes, buffer 1000 episodes (holds the whole run), target update every 80 episodes.
The only algorithm-specific knob is subgoal-QMIX's ``goal_horizon``.

``subgoal-qmix-joint`` is subgoal-QMIX with ``subgoal_choice="joint"`` (the team's subgoals are the
argmax of the mixed Q_tot over joint picks that claim no shared subgoal twice); ``-relabel`` adds
relabelled Watkins Q(0.6) executor updates (``relabel_subgoals``, ``low_td_lambda=0.6``), ``-ended`` lets
only the agents whose own subgoal ended re-pick (``redecide="ended"``); see ``VARIANTS``.
The score of a run is the mean greedy return of its final networks on ``--final-eval-episodes`` (256)
held-out evaluation seeds, the same for every arm (``0``: the old score, the mean of the last
``FINAL_EVALS`` curve points of ``EVAL_EPISODES`` episodes). ``--paired-against
qmix`` adds per-seed differences (same seeds, so same env seeds and evaluation episodes) with their
IQM and bootstrap CI. Statistics: ``benchmarks/stats.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from stats import bootstrap_ci, iqm  # benchmarks/stats.py (run as python benchmarks/marl.py)

JOINT: dict[str, Any] = {"subgoal_choice": "joint"}
RELABEL: dict[str, Any] = {"relabel_subgoals": True, "low_td_lambda": 0.6}
ENDED: dict[str, Any] = {"redecide": "ended"}
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "subgoal-qmix-joint": ("subgoal-qmix", JOINT),
    "subgoal-qmix-joint-ended": ("subgoal-qmix", JOINT | ENDED),
    "subgoal-qmix-joint-relabel": ("subgoal-qmix", JOINT | RELABEL),
    "subgoal-qmix-joint-relabel-ended": ("subgoal-qmix", JOINT | RELABEL | ENDED),
}
ALGOS = ("iql", "vdn", "qmix", "subgoal-qmix", *VARIANTS)
"""Benchmark arms that are another algorithm with extra settings: name -> (algo, overrides)."""
ENV_CONFIGS: dict[str, dict[str, Any]] = {
    "GoalGrid": {"env_id": "hiergym/GoalGrid-v0", "env_kwargs": {"size": 5, "max_cycles": 20, "reward_mode": "sparse"}, "steps": 10_000},
    "Foraging": {"env_id": "hiergym/Foraging-v0", "env_kwargs": {"size": 5, "n_food": 1, "max_cycles": 20}, "steps": 3_000},
    "KeyDoor": {
        "env_id": "hiergym/KeyDoor-v0",
        "env_kwargs": {"size": 5, "max_cycles": 30},
        "steps": 10_000,
        "hrl": {"mask_achieved": True},
    },
}
"""Small configs so that learning shows within a CPU budget of about a minute per run.

``steps`` is the env-step budget of every algorithm on that env (``--steps`` overrides it for all
envs): Foraging (a random policy already succeeds 42% of the time) is solved by all four in 3k
steps, and its short episodes make each env step cost more gradient steps. ``hrl``: subgoal-QMIX
settings for that env only. KeyDoor's ``get_key`` / ``open_door`` are milestones that stay true
once reached, so without masking them the fetcher can keep re-picking the satisfied ``get_key``
(an instantly "achieved" one-step period that pays the executor every step) and never unlocks;
GoalGrid's ``goal_j`` (stand there) must stay selectable, so masking is off there."""
ALGO_OVERRIDES: dict[str, Any] = {"batch_size": 32, "buffer_size": 1000, "target_update_episodes": 80}
"""Shared deviations from PyMARL2 defaults, scaled to the short budget (epsilon anneal is set from --steps)."""
HRL_OVERRIDES: dict[str, Any] = {"goal_horizon": 5}
FINAL_EVALS = 2
EVAL_EPISODES = 12
EVALS_PER_RUN = 6
FINAL_EVAL_EPISODES = 256
"""Held-out episodes of the final greedy evaluation that scores a run (0: the mean of the last FINAL_EVALS curve points)."""


def held_out_evaluation(trainer: Any, episodes: int) -> dict[str, float]:
    """Greedy return, success and length of the trained agents on ``episodes`` held-out evaluation seeds (never trained on)."""
    from hiergym.algos.marl.train import EVAL_SEED_BASE, build_collector

    collector, _, _ = build_collector(trainer.run, trainer.algo, agents=trainer.agents)
    try:
        trajs, _ = collector.collect([(trainer.run.env_id, EVAL_SEED_BASE + j) for j in range(episodes)], 1, sampling=0.0)
    finally:
        collector.close()
    return {
        "return": float(np.mean([t.episode_return for t in trajs])),
        "success": float(np.mean([float(t.success) for t in trajs])),
        "length": float(np.mean([len(t.turns) for t in trajs])),
        "episodes": len(trajs),
    }


def run_one(job: tuple[str, str, int, int, str, int]) -> dict[str, Any]:
    """One training run in a worker process; returns its evaluation rows and timings."""
    env_name, arm, seed, steps, out, train_steps, final_episodes = job
    algo, variant = VARIANTS.get(arm, (arm, {}))
    steps = steps or ENV_CONFIGS[env_name]["steps"]
    import torch

    from hiergym.algos.marl.configs import MarlRunConfig, make_algo_config
    from hiergym.algos.marl.train import MarlTrainer

    torch.set_num_threads(1)
    env = ENV_CONFIGS[env_name]
    overrides = {**ALGO_OVERRIDES, "epsilon_anneal_steps": steps // 2}
    if algo == "subgoal-qmix":
        overrides |= HRL_OVERRIDES | env.get("hrl", {}) | variant
    run = MarlRunConfig(
        env_id=env["env_id"],
        env_kwargs=env["env_kwargs"],
        seed=seed,
        total_env_steps=steps,
        n_envs=8,
        train_steps_per_collect=train_steps,
        eval_interval_steps=max(steps // EVALS_PER_RUN, 1),
        eval_episodes=EVAL_EPISODES,
        checkpoint_interval_steps=10 * steps,
        run_dir=f"{out}/runs/{env_name}/{arm}/seed{seed}",
        save_buffer=False,
        plot=False,
        tensorboard=False,
    )
    cpu0, wall0 = time.process_time(), time.perf_counter()
    trainer = MarlTrainer(run, make_algo_config(algo, **overrides))
    rows = trainer.train()
    last = {"return": float(np.mean([r["eval_return"] for r in rows[-FINAL_EVALS:]])), "success": float(np.mean([r["eval_success"] for r in rows[-FINAL_EVALS:]]))}
    final = held_out_evaluation(trainer, final_episodes) if final_episodes else last
    return {
        "env": env_name,
        "algo": arm,
        "seed": seed,
        "steps": steps,
        "rows": rows,
        "score": final["return"],
        "success": final["success"],
        "final_eval": final,
        "last_evals": last,
        "cpu_s": time.process_time() - cpu0,
        "wall_s": time.perf_counter() - wall0,
        "load1": os.getloadavg()[0],
    }


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for env in ENV_CONFIGS:
        for algo in ALGOS:
            runs = [r for r in results if r["env"] == env and r["algo"] == algo]
            if not runs:
                continue
            scores = np.array([r["score"] for r in runs])
            lo, hi = bootstrap_ci(scores)
            table.append(
                {
                    "env": env,
                    "algo": algo,
                    "seeds": len(runs),
                    "iqm_return": iqm(scores),
                    "ci95": (lo, hi),
                    "mean_success": float(np.mean([r["success"] for r in runs])),
                    "cpu_s_per_run": float(np.mean([r["cpu_s"] for r in runs])),
                }
            )
    return table


def paired_differences(results: list[dict[str, Any]], baseline: str) -> list[dict[str, Any]]:
    """Per env and arm: score minus ``baseline``'s score on the same seed; IQM and bootstrap CI of the differences."""
    table = []
    for env in ENV_CONFIGS:
        base = {r["seed"]: r["score"] for r in results if r["env"] == env and r["algo"] == baseline}
        for algo in ALGOS:
            runs = [r for r in results if r["env"] == env and r["algo"] == algo and r["seed"] in base and algo != baseline]
            if not runs:
                continue
            diffs = np.array([r["score"] - base[r["seed"]] for r in sorted(runs, key=lambda r: r["seed"])])
            lo, hi = bootstrap_ci(diffs)
            table.append({"env": env, "algo": algo, "baseline": baseline, "seeds": len(diffs), "diffs": diffs.tolist(), "iqm_diff": iqm(diffs), "ci95": (lo, hi)})
    return table


def plot_curves(results: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for env in sorted({r["env"] for r in results}):
        fig, ax = plt.subplots(figsize=(6, 4))
        for algo in ALGOS:
            runs = [r for r in results if r["env"] == env and r["algo"] == algo]
            if not runs:
                continue
            n = min(len(r["rows"]) for r in runs)
            steps = np.array([[row["t_env"] for row in r["rows"][:n]] for r in runs]).mean(axis=0)
            curves = np.array([[row["eval_return"] for row in r["rows"][:n]] for r in runs])
            centre = [iqm(curves[:, i]) for i in range(n)]
            band = np.array([bootstrap_ci(curves[:, i], n=500) for i in range(n)])
            ax.plot(steps, centre, label=algo)
            ax.fill_between(steps, band[:, 0], band[:, 1], alpha=0.2)
        ax.set_xlabel("env steps")
        ax.set_ylabel("greedy eval return (IQM over seeds)")
        ax.set_title(f"{env} {ENV_CONFIGS[env]['env_kwargs']}", fontsize=8)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / f"curve_{env}.png", dpi=100)
        plt.close(fig)


def markdown(table: list[dict[str, Any]], meta: dict[str, Any], paired: list[dict[str, Any]] | None = None) -> str:
    lines = [
        f"commit {meta['commit']}, env steps per run {meta['steps']}, {meta['seeds']} seeds, "
        f"{meta['train_steps']} gradient steps per 8 episodes, total CPU {meta['cpu_s_total']:.0f} s "
        f"({meta['cpu_s_total'] / 60:.1f} CPU-min), wall of the runs {meta['wall_s']:.0f} s, load average {meta['load']}",
        "",
        f"shared settings: {meta['shared']} (epsilon 1 -> 0.05 over the first half of the env's steps); subgoal-QMIX only: {meta['hrl']}",
        f"arms that are subgoal-QMIX with extra settings: {meta.get('variants', {})}",
        "envs: " + "; ".join(f"{k} {v['env_kwargs']}" for k, v in ENV_CONFIGS.items()),
        meta.get("score", f"score of a run = mean greedy return over its last {FINAL_EVALS} evaluations x {EVAL_EPISODES} held-out episodes"),
        "",
        "| env | algo | seeds | IQM final return | 95% CI | mean success | CPU s/run |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table:
        lo, hi = r["ci95"]
        lines.append(
            f"| {r['env']} | {r['algo']} | {r['seeds']} | {r['iqm_return']:.3f} | [{lo:.3f}, {hi:.3f}] | {r['mean_success']:.2f} | {r['cpu_s_per_run']:.0f} |"
        )
    if paired:
        lines += ["", f"Paired by seed (score minus {paired[0]['baseline']}'s on the same seed):", "",
                  "| env | algo | per-seed differences | IQM difference | 95% CI |", "|---|---|---|---|---|"]
        for r in paired:
            lo, hi = r["ci95"]
            diffs = ", ".join(f"{d:+.3f}" for d in r["diffs"])
            lines.append(f"| {r['env']} | {r['algo']} | {diffs} | {r['iqm_diff']:+.3f} | [{lo:+.3f}, {hi:+.3f}] |")
    return "\n".join(lines)


def _load_text(loads: list[float]) -> str:
    if not loads:
        return "not recorded"
    return f"{np.mean(loads):.1f} (1-min, at the end of each run; min {min(loads):.1f}, max {max(loads):.1f}; 2 cores, shared)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=0, help="env steps per run (0 = each env's own budget in ENV_CONFIGS)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--train-steps", type=int, default=8, help="gradient steps per collection of 8 episodes")
    parser.add_argument("--envs", nargs="+", default=list(ENV_CONFIGS), choices=list(ENV_CONFIGS))
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS)
    parser.add_argument("--out", default="benchmarks/results/marl")
    parser.add_argument("--first-seed", type=int, default=0, help="> 0 adds seeds to an existing OUT/runs.jsonl")
    parser.add_argument("--append", action="store_true", help="add these runs to an existing OUT/runs.jsonl (e.g. more arms)")
    parser.add_argument("--summarise-only", action="store_true", help="re-read OUT/runs.jsonl (e.g. after a stopped run)")
    parser.add_argument("--paired-against", default="", choices=("", *ALGOS), help="also report per-seed differences to this arm")
    parser.add_argument(
        "--final-eval-episodes", type=int, default=FINAL_EVAL_EPISODES, help="held-out episodes scoring each run's final networks (0: last curve points)"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    if not args.summarise_only:
        if args.first_seed == 0 and not args.append:
            log.write_text("")
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        jobs = [(e, a, s, args.steps, str(out), args.train_steps, args.final_eval_episodes) for s in seeds for e in args.envs for a in args.algos]
        with ProcessPoolExecutor(args.workers) as pool:
            for r in pool.map(run_one, jobs):  # seed-major order: a stopped run still has whole seeds
                with log.open("a") as f:
                    f.write(json.dumps(r, default=float) + "\n")
                print(f"{r['env']:9s} {r['algo']:13s} seed {r['seed']}: score {r['score']:.3f} success {r['success']:.2f} ({r['cpu_s']:.0f} s CPU)", flush=True)
    results = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {
        "commit": commit,
        "steps": {e: sorted({r["steps"] for r in results if r["env"] == e}) for e in ENV_CONFIGS},
        "seeds": len({r["seed"] for r in results}),
        "train_steps": args.train_steps,
        "cpu_s_total": sum(r["cpu_s"] for r in results),
        "wall_s": sum(r["wall_s"] for r in results),
        "load": _load_text([r["load1"] for r in results if "load1" in r]),
        "shared": {**ALGO_OVERRIDES, "n_envs": 8},
        "hrl": {**HRL_OVERRIDES, **{f"{e} {k}": v for e, c in ENV_CONFIGS.items() for k, v in c.get("hrl", {}).items()}},
        "variants": {name: overrides for name, (_, overrides) in VARIANTS.items() if any(r["algo"] == name for r in results)},
    }
    finals = sorted({r["final_eval"]["episodes"] for r in results if "final_eval" in r})
    if finals:
        meta["score"] = f"score of a run = mean greedy return of its final networks over {finals} held-out evaluation episodes (seeds never trained on; the same for every arm)"
    table = summarise(results)
    paired = paired_differences(results, args.paired_against) if args.paired_against else []
    text = markdown(table, meta, paired)
    print(text)
    (out / "summary.md").write_text(text + "\n")
    (out / "summary.json").write_text(json.dumps({"meta": meta, "table": table, "paired": paired}, indent=1, default=float))
    plot_curves(results, out)


if __name__ == "__main__":
    main()
