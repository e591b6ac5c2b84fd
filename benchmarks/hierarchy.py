"""Flat GiGPO vs HRPO-blueprint vs HRPO-switch at the same generated-token budget (issue 13).

Every arm starts from the same tiny model (per seed), gets the same supervised warm start on the
env's solver (flat: the actions; hierarchical: the blueprint from the subgoals the solver reaches plus
the actions with their subgoal), then trains with RL until its training collections have generated
``--token-budget`` tokens (planner and executor tokens both count). Seeds are paired: seed s gives
every arm the same model init, training tasks and held-out tasks. At the end each arm is evaluated
greedily on ``--eval-episodes`` held-out seeds (>= 256 at full size); the blueprint arm is also
evaluated with an oracle blueprint (the env's own subgoals, no planner), which separates plan quality
from execution quality.

Reported per arm (IQM over seeds and a 95% percentile-bootstrap CI, ``benchmarks/stats.py``): held-out
success, mean episode length, and the paired difference to flat GiGPO; learning curves (training success
against generated tokens) as a PNG. Results go to ``benchmarks/results/hierarchy/<name>/``
(``results.json``, ``summary.md``, ``curves.png``).

    nice -n 10 python benchmarks/hierarchy.py --smoke                # the tiny size the test runs (~1 CPU minute)
    nice -n 10 python benchmarks/hierarchy.py --seeds 5 --eval-episodes 256 --token-budget 2000000   # full size (GPU hours)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stats import bootstrap_ci, iqm  # noqa: E402

from hiergym.agents import SamplingParams, TinyModelSpec  # noqa: E402
from hiergym.algos import GiGPOConfig, HRPOConfig, TrainerConfig  # noqa: E402
from hiergym.training import AlgoConfig, EnvConfig, HierarchyTrainConfig, ModelConfig, TrainConfig, WarmStartConfig  # noqa: E402

logger = logging.getLogger("benchmarks.hierarchy")

ARMS = ("flat-gigpo", "hrpo-blueprint", "hrpo-switch")
BASELINE = "flat-gigpo"
RESULTS = Path(__file__).resolve().parent / "results" / "hierarchy"
EXPERT = "hiergym.training.hierarchy:expert_actions"


def arm_config(arm: str, seed: int, args: argparse.Namespace, out: Path) -> TrainConfig:
    """The TrainConfig of one arm and seed; everything but the agent and the estimator is shared."""
    spec = TinyModelSpec(hidden_size=args.hidden, intermediate_size=2 * args.hidden, num_hidden_layers=args.layers, num_attention_heads=4, num_key_value_heads=2)
    if arm == BASELINE:
        algo, agent, mode = AlgoConfig(name="gigpo", gigpo=GiGPOConfig(group_size=args.group_size)), "flat", "blueprint"
    elif arm in ("hrpo-blueprint", "hrpo-switch"):
        algo, agent, mode = AlgoConfig(name="hrpo", hrpo=HRPOConfig(group_size=args.group_size)), "hierarchical", arm.split("-")[1]
    else:
        raise ValueError(f"arm={arm!r} is not one of {ARMS}")
    return TrainConfig(
        env=EnvConfig(env_id=args.env_id, max_episode_steps=args.max_episode_steps),
        model=ModelConfig(tiny=spec, init_seed=seed, device=args.device),
        algo=algo,
        agent=agent,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        hierarchy=HierarchyTrainConfig(max_segment_steps=args.k, plan_max_new_tokens=args.plan_tokens),
        trainer=TrainerConfig(lr=args.lr),
        sampling=SamplingParams(max_new_tokens=args.action_tokens),
        warm_start=WarmStartConfig(expert=EXPERT, episodes=args.warm_start_episodes, steps=args.warm_start_steps, batch_size=32, lr=2e-3),
        out=out / f"{arm}-seed{seed}",
        iterations=args.max_iterations,
        tasks_per_iteration=args.tasks,
        num_slots=min(args.tasks * args.group_size, 64),
        eval_every=10**9,  # evaluated by this script at the start and the end only
        eval_episodes=args.eval_episodes,
        checkpoint_every=10**9,
        seed=seed,
        progress=False,
        tensorboard=False,
    )


def run_arm(arm: str, seed: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Warm start, RL until the token budget is spent, held-out evaluation; the numbers of one arm and seed."""
    from hiergym.training.loop import TrainLoop

    t0 = time.perf_counter()
    loop = TrainLoop(arm_config(arm, seed, args, out))
    try:
        loop._warm_start()
        loop._build_trainers()
        start = loop.evaluate()
        curve, tokens, it = [], 0, 0
        while tokens < args.token_budget and it < args.max_iterations:
            row = loop.iteration(it)
            tokens += int(loop.last_stats.generated_tokens)
            curve.append({"iteration": it, "tokens": tokens, "success": row["success"], "length": row["length"]})
            it += 1
        final = loop.evaluate()
        result = {"arm": arm, "seed": seed, "iterations": it, "tokens": tokens, "start": start, "final": final, "curve": curve,
                  "warm_start": loop.result.warm_start_metrics, "wall_s": time.perf_counter() - t0}
        if arm == "hrpo-blueprint":  # plan quality vs execution quality: the executor with a perfect plan
            loop.agent.config = replace(loop.agent.config, oracle_plan=True)
            result["oracle_plan"] = loop.evaluate()
        return result
    finally:
        loop.collector.close()
        loop.run.close()


def summarise(runs: list[dict[str, Any]], arms: list[str], resamples: int = 2000) -> dict[str, Any]:
    """IQM and 95% CI over seeds per arm (success, length), and the paired differences to flat GiGPO.

    ``resamples``: bootstrap resamples per CI (``benchmarks/stats.py``'s default is 2000)."""
    def ci(x: np.ndarray) -> tuple[float, float]:
        return bootstrap_ci(x, n=resamples)

    by_arm = {a: sorted((r for r in runs if r["arm"] == a), key=lambda r: r["seed"]) for a in arms}
    out: dict[str, Any] = {}
    for arm, rs in by_arm.items():
        if not rs:
            continue
        entry = {"seeds": [r["seed"] for r in rs], "tokens_mean": float(np.mean([r["tokens"] for r in rs]))}
        for key in ("eval_success", "eval_length"):
            x = np.array([r["final"][key] for r in rs])
            entry[key] = {"iqm": iqm(x), "ci95": ci(x), "per_seed": x.tolist()}
        if "oracle_plan" in rs[0]:
            x = np.array([r["oracle_plan"]["eval_success"] for r in rs])
            entry["oracle_plan_success"] = {"iqm": iqm(x), "ci95": ci(x), "per_seed": x.tolist()}
        base = {r["seed"]: r for r in by_arm.get(BASELINE, [])}
        paired = [r["final"]["eval_success"] - base[r["seed"]]["final"]["eval_success"] for r in rs if r["seed"] in base]
        if arm != BASELINE and paired:
            entry["success_minus_flat"] = {"iqm": iqm(np.array(paired)), "ci95": ci(np.array(paired)), "per_seed": paired}
        out[arm] = entry
    return out


def plot(runs: list[dict[str, Any]], arms: list[str], path: Path) -> None:
    """Training success against generated tokens, one line per seed (thin) and the per-arm mean at shared token points (thick)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for color, arm in zip(("tab:gray", "tab:blue", "tab:orange"), arms):
        rs = [r for r in runs if r["arm"] == arm and r["curve"]]
        for r in rs:
            ax.plot([c["tokens"] for c in r["curve"]], [c["success"] for c in r["curve"]], color=color, alpha=0.25, lw=0.8)
        if rs:
            grid = np.linspace(0, min(r["curve"][-1]["tokens"] for r in rs), 20)
            mean = np.mean([np.interp(grid, [c["tokens"] for c in r["curve"]], [c["success"] for c in r["curve"]]) for r in rs], axis=0)
            ax.plot(grid, mean, color=color, lw=2, label=arm)
    ax.set_xlabel("generated tokens (training collections)")
    ax.set_ylabel("training success")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_summary(summary: dict[str, Any], args: argparse.Namespace, path: Path) -> None:
    lines = [f"# Hierarchy benchmark: {args.env_id}", ""]
    if args.smoke:
        lines += ["**Smoke run**: tiny sizes that check every step of the script runs; these numbers measure nothing.", ""]
    lines += [
             f"seeds {args.seeds}, token budget {args.token_budget}, held-out episodes {args.eval_episodes}, group size {args.group_size}, "
             f"tasks/iteration {args.tasks}, warm start {args.warm_start_steps} steps on {args.warm_start_episodes} solver episodes, tiny model {args.layers}x{args.hidden}", "",
             "| arm | held-out success IQM [95% CI] | episode length IQM | success - flat GiGPO (paired) | oracle-plan success |",
             "|---|---|---|---|---|"]
    lines.insert(len(lines) - 2, f"command: `python benchmarks/hierarchy.py {' '.join(args.argv)}`" + "\n")
    for arm, e in summary.items():
        s, ln = e["eval_success"], e["eval_length"]
        diff = e.get("success_minus_flat")
        orc = e.get("oracle_plan_success")
        lines.append(f"| {arm} | {s['iqm']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] | {ln['iqm']:.1f} | "
                     + (f"{diff['iqm']:+.3f} [{diff['ci95'][0]:+.3f}, {diff['ci95'][1]:+.3f}]" if diff else "-") + " | "
                     + (f"{orc['iqm']:.3f}" if orc else "-") + " |")
    path.write_text("\n".join(lines) + "\n")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env-id", default="hiergym/Household-v0")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--token-budget", type=int, default=2_000_000, help="generated tokens per arm and seed (training collections)")
    p.add_argument("--max-iterations", type=int, default=500)
    p.add_argument("--eval-episodes", type=int, default=256)
    p.add_argument("--tasks", type=int, default=8)
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--max-episode-steps", type=int, default=30)
    p.add_argument("--k", type=int, default=8, help="segment limit of the hierarchical arms")
    p.add_argument("--action-tokens", type=int, default=24)
    p.add_argument("--plan-tokens", type=int, default=64)
    p.add_argument("--warm-start-steps", type=int, default=600)
    p.add_argument("--warm-start-episodes", type=int, default=500)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--device", default="auto")
    p.add_argument("--name", default=None, help="results subfolder (default: full or smoke)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--runs-dir", type=Path, default=Path("runs/benchmarks/hierarchy"), help="run dirs (models, metrics) of every arm and seed")
    p.add_argument("--smoke", action="store_true", help="tiny sizes: every step runs, nothing is measured")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.smoke:
        for k, v in dict(env_id="hiergym/Household-PickClean-v0", seeds=1, token_budget=300, max_iterations=2, eval_episodes=2, tasks=1, group_size=2,
                         max_episode_steps=4, k=2, action_tokens=8, plan_tokens=16, warm_start_steps=2, warm_start_episodes=2, hidden=32, layers=1).items():
            setattr(args, k, v)
    args.name = args.name or ("smoke" if args.smoke else "full")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse(argv)
    out = args.out / args.name
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in range(args.seeds):
        for arm in args.arms:
            logger.info("arm %s seed %d", arm, seed)
            runs.append(run_arm(arm, seed, args, args.runs_dir / args.name))
    summary = summarise(runs, args.arms)
    (out / "results.json").write_text(json.dumps({"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "summary": summary, "runs": runs}, indent=1))
    write_summary(summary, args, out / "summary.md")
    plot(runs, args.arms, out / "curves.png")
    print((out / "summary.md").read_text())
    return summary


if __name__ == "__main__":
    main()
