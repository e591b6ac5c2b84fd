"""M-GRPO (main agent + searcher sub-agent) vs main-only GRPO vs untrained on hiergym/MultiHop-v0: same token budget, paired seeds.

Per seed both arms start from the same tiny random-init model (built once, over both arms' prompt
words), optionally warm-started on the same number of expert episodes and supervised steps
(``MultiHopExpert``: with sub-agents the main agent calls the searcher with the question and answers
its report; alone it searches each hop itself), then train with RL until the same number of
generated tokens (main + sub-agent responses) is spent. Both arms use the same main reward
(a1*format + a2*correct) and group size; they differ only in the sub-agent. Held-out accuracy
(exact match on the env's test split, questions about entities no training question starts from,
greedy) is measured against tokens spent. "untrained" is each arm's starting policy (after the
warm start if any, before RL). We report the interquartile mean over seeds with a 95% percentile
bootstrap CI (``benchmarks/stats.py``), the paired differences, and a curve plot.

    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/mgrpo.py --seeds 5 --token-budget 20000 --out benchmarks/results/mgrpo

Results: ``<out>/results.json`` (every number), ``<out>/results.md`` (tables), ``<out>/curves.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stats import bootstrap_ci, iqm  # noqa: E402  (benchmarks/stats.py)

from hiergym.agents.backend import SamplingParams  # noqa: E402
from hiergym.training.main_sub import MainSubTrainConfig, MainSubTrainer  # noqa: E402
from hiergym.agents.tiny import TinyModelSpec  # noqa: E402
from hiergym.algos.configs import TrainerConfig  # noqa: E402
from hiergym.algos.mgrpo import MGRPOConfig  # noqa: E402

ARMS = {"mgrpo": "main-sub", "grpo_main_only": "main-only"}


def arm_config(args: argparse.Namespace, seed: int, agent: str, out: Path, model_path: str | None) -> MainSubTrainConfig:
    return MainSubTrainConfig(
        agent=agent,
        env_kwargs={"max_hops": args.max_hops, "max_steps": args.max_steps, "kb_size": args.kb_size},
        mgrpo=MGRPOConfig(group_size=args.group_size, max_sub_calls=args.d_max),
        trainer=TrainerConfig(lr=args.lr),
        sampling=SamplingParams(max_new_tokens=args.max_new_tokens),
        iterations=args.max_iterations,
        tasks_per_iteration=args.tasks,
        token_budget=args.token_budget,
        num_slots=args.slots,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        history_k=args.history_k,
        max_calls_per_step=1,
        max_sub_steps=args.max_sub_steps,
        warm_start_episodes=args.warm_start_episodes,
        warm_start_steps=args.warm_start_steps,
        tiny=TinyModelSpec(hidden_size=args.hidden, intermediate_size=2 * args.hidden, num_hidden_layers=args.layers, num_attention_heads=4, num_key_value_heads=2),
        init_seed=seed,
        seed=seed,
        model_path=model_path,
        out=out,
    )


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, dict]:
    """Both arms on one seed from the same initial model; finished arms are read back (a rerun resumes per arm)."""
    results = {}
    model_path = None
    for arm, agent in ARMS.items():
        out = args.out / "runs" / f"{arm}-seed{seed}"
        done = out / "result.json"
        if not done.is_file():
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.process_time()
            trainer = MainSubTrainer(arm_config(args, seed, agent, out, model_path))
            result = trainer()
            done.write_text(json.dumps({
                "curve": result.eval_curve, "init_eval": result.init_eval, "warm_start": result.warm_start,
                "tokens": result.tokens, "iterations": result.iterations, "cpu_s": time.process_time() - t0,
                "final_train_success": result.rows[-1]["success"] if result.rows else None,
            }))
        results[arm] = json.loads(done.read_text())
        if model_path is None:  # the second arm starts from the first arm's initial model (paired)
            model_path = str((args.out / "runs" / f"{arm}-seed{seed}" / "model_init").resolve())
        logging.info("%s seed %d: %s", arm, seed, results[arm]["curve"])
    return results


def summarise(per_seed: dict[int, dict[str, dict]]) -> dict:
    seeds = sorted(per_seed)
    out: dict = {"seeds": seeds, "arms": {}}
    finals = {}
    for arm in ARMS:
        final = np.array([per_seed[s][arm]["curve"][-1][1] for s in seeds])
        start = np.array([per_seed[s][arm]["curve"][0][1] for s in seeds])
        finals[arm] = final
        out["arms"][arm] = {
            "final_iqm": iqm(final), "final_ci95": bootstrap_ci(final), "final_per_seed": final.tolist(),
            "untrained_iqm": iqm(start), "untrained_ci95": bootstrap_ci(start), "untrained_per_seed": start.tolist(),
            "tokens_per_seed": [per_seed[s][arm]["tokens"] for s in seeds],
            "iterations_per_seed": [per_seed[s][arm]["iterations"] for s in seeds],
        }
        init = [per_seed[s][arm]["init_eval"] for s in seeds]
        if all(v is not None for v in init):
            out["arms"][arm]["before_warm_start_per_seed"] = init
    diff = finals["mgrpo"] - finals["grpo_main_only"]
    out["paired_diff_mgrpo_minus_grpo"] = {"iqm": iqm(diff), "ci95": bootstrap_ci(diff), "per_seed": diff.tolist()}
    return out


def plot(per_seed: dict[int, dict[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for arm in ARMS:
        for k, s in enumerate(sorted(per_seed)):
            xs, ys = zip(*per_seed[s][arm]["curve"])
            ax.plot(xs, ys, color="C0" if arm == "mgrpo" else "C1", alpha=0.5, marker="o", label=arm if k == 0 else None)
    ax.set_xlabel("generated training tokens")
    ax.set_ylabel("held-out exact match")
    ax.set_title("MultiHop-v0: M-GRPO (main+searcher) vs main-only GRPO")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(summary: dict, args: argparse.Namespace, cpu_s: float) -> str:
    lines = [
        "# M-GRPO vs main-only GRPO on MultiHop-v0",
        "",
        f"Command: `python benchmarks/mgrpo.py {' '.join(args.argv)}`",
        f"Seeds: {summary['seeds']}; token budget per run: {args.token_budget}; CPU time of all runs: {cpu_s:.0f} s.",
        "",
        "| arm | untrained (IQM [95% CI]) | after RL (IQM [95% CI]) | per seed after RL |",
        "|---|---|---|---|",
    ]
    for arm, a in summary["arms"].items():
        lines.append(f"| {arm} | {a['untrained_iqm']:.3f} [{a['untrained_ci95'][0]:.3f}, {a['untrained_ci95'][1]:.3f}] | "
                     f"{a['final_iqm']:.3f} [{a['final_ci95'][0]:.3f}, {a['final_ci95'][1]:.3f}] | {a['final_per_seed']} |")
    d = summary["paired_diff_mgrpo_minus_grpo"]
    lines += ["", f"Paired difference M-GRPO - GRPO (after RL): IQM {d['iqm']:+.3f}, 95% CI [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}], per seed {d['per_seed']}.", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--token-budget", type=int, default=20_000)
    p.add_argument("--max-iterations", type=int, default=1000)
    p.add_argument("--tasks", type=int, default=4, help="queries per iteration")
    p.add_argument("--group-size", type=int, default=4, help="K rollouts per query")
    p.add_argument("--d-max", type=int, default=1, help="sub-agent calls per rollout after alignment")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--max-hops", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=6)
    p.add_argument("--max-sub-steps", type=int, default=4)
    p.add_argument("--kb-size", type=int, default=200)
    p.add_argument("--history-k", type=int, default=2)
    p.add_argument("--slots", type=int, default=16)
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--eval-episodes", type=int, default=32)
    p.add_argument("--warm-start-episodes", type=int, default=0)
    p.add_argument("--warm-start-steps", type=int, default=0)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/mgrpo"))
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.process_time()
    per_seed = {s: run_seed(args, s) for s in range(args.seeds)}
    cpu_s = sum(r["cpu_s"] for runs in per_seed.values() for r in runs.values())
    summary = summarise(per_seed)
    summary["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    summary["cpu_s_all_runs"] = cpu_s
    summary["per_seed"] = {str(s): r for s, r in per_seed.items()}
    (args.out / "results.json").write_text(json.dumps(summary, indent=2))
    (args.out / "results.md").write_text(table(summary, args, cpu_s))
    plot(per_seed, args.out / "curves.png")
    logging.info("%s\n(benchmark process CPU %.0f s)", table(summary, args, cpu_s), time.process_time() - t0)
    return summary


if __name__ == "__main__":
    main()
