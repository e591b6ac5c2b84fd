"""GiGPO vs GRPO on Sokoban 6x6 with the demo's tiny LM: same budget, several seeds, IQM + bootstrap CI.

Per seed, one demo warm start (solver demonstrations) is run once; GiGPO and GRPO then both start
from those same weights (``model_warm_start/`` of the warm-start run) with the same iterations,
tasks per iteration, group size, learning rate and held-out seeds: a paired comparison in which
only the advantage estimator differs. Held-out success is measured every ``eval_every``
iterations. Per evaluation point we report the interquartile mean (IQM) over seeds and a 95%
percentile-bootstrap CI of the IQM (resampling seeds), print a table and write a plot.

    python benchmarks/gigpo_vs_grpo.py --seeds 5 --jobs 2 --out runs/bench_gigpo_vs_grpo
"""

import argparse
import json
import logging
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from hiergym.demo import DemoConfig
from hiergym.training import WARM_START_MODEL_DIR, train

from stats import bootstrap_ci, iqm  # benchmarks/stats.py (run as python benchmarks/gigpo_vs_grpo.py)

ALGOS = ("gigpo", "grpo")


def run_seed(seed: int, args: argparse.Namespace) -> tuple[int, dict[str, dict[int, float]], float]:
    """Warm start once, then each algorithm from the warm-started weights; finished runs are read back."""
    t0 = time.process_time()
    base = DemoConfig(
        iterations=args.iterations, seed=seed, eval_every=args.eval_every, eval_episodes=args.eval_episodes, progress=False,
        warm_start_steps=args.warm_start_steps, warm_start_content_only_steps=min(args.warm_start_steps, DemoConfig.warm_start_content_only_steps),
    )
    warm_dir = args.out / f"warm-seed{seed}"
    if not (warm_dir / WARM_START_MODEL_DIR / "config.json").is_file():
        shutil.rmtree(warm_dir, ignore_errors=True)  # an interrupted warm start is redone
        train(replace(base, out=warm_dir, iterations=0).to_train_config())
    curves: dict[str, dict[int, float]] = {}
    for algo in ALGOS:
        out = args.out / f"{algo}-seed{seed}"
        done = out / "curve.json"
        if not done.is_file():
            shutil.rmtree(out, ignore_errors=True)
            cfg = replace(base, out=out, algo=algo).to_train_config()
            cfg = replace(cfg, model=replace(cfg.model, path=str(warm_dir / WARM_START_MODEL_DIR)), warm_start=replace(cfg.warm_start, steps=0, content_only_steps=0))
            result = train(cfg)
            done.write_text(json.dumps(dict(sorted(result.eval_success.items()))))
        curves[algo] = {int(k): v for k, v in json.loads(done.read_text()).items()}
        logging.info("%s seed %d: %s", algo, seed, curves[algo])
    return seed, curves, time.process_time() - t0


def run_all(args: argparse.Namespace) -> tuple[dict[str, dict[int, dict[int, float]]], float]:
    """curves[algo][seed] = {iteration: held-out success}, and the CPU seconds the runs took."""
    curves: dict[str, dict[int, dict[int, float]]] = {a: {} for a in ALGOS}
    cpu = 0.0
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        for seed, per_algo, seconds in pool.map(run_seed, range(args.seeds), [args] * args.seeds):
            cpu += seconds
            for algo, curve in per_algo.items():
                curves[algo][seed] = curve
    return curves, cpu


def report(curves: dict[str, dict[int, dict[int, float]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for algo in ALGOS:
        iterations = sorted(next(iter(curves[algo].values())))
        rows = []
        for it in iterations:
            x = np.array([curves[algo][s][it] for s in sorted(curves[algo])])
            lo, hi = bootstrap_ci(x)
            rows.append((it, iqm(x), lo, hi))
            print(f"{algo:>6} iter {it:4d}: IQM held-out success {iqm(x):.3f}  95% CI [{lo:.3f}, {hi:.3f}]  (n={len(x)})")
        its, mid, lo, hi = map(np.array, zip(*rows))
        ax.plot(its, mid, label=algo)
        ax.fill_between(its, lo, hi, alpha=0.2)
        last = np.array([curves[algo][s][iterations[-1]] for s in sorted(curves[algo])])
        print(f"{algo:>6} final: IQM {iqm(last):.3f}, per seed {np.round(last, 3).tolist()}")
    first, final = min(iterations), max(iterations)
    gain = {a: np.array([curves[a][s][final] - curves[a][s][first] for s in sorted(curves[a])]) for a in ALGOS}
    diff = np.array([curves["gigpo"][s][final] - curves["grpo"][s][final] for s in sorted(curves["gigpo"])])
    lo, hi = bootstrap_ci(diff)
    print(f"gain over the shared warm start (final - iter {first}), IQM: gigpo {iqm(gain['gigpo']):+.3f}, grpo {iqm(gain['grpo']):+.3f}")
    print(f"paired final difference gigpo - grpo: IQM {iqm(diff):+.3f}  95% CI [{lo:+.3f}, {hi:+.3f}]  per seed {np.round(diff, 3).tolist()}")
    ax.set_xlabel("RL iteration")
    ax.set_ylabel("held-out success (IQM over seeds)")
    ax.set_title("GiGPO vs GRPO, Sokoban 6x6, tiny LM")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "gigpo_vs_grpo.png", dpi=100)
    print(f"plot: {out / 'gigpo_vs_grpo.png'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--iterations", type=int, default=DemoConfig.iterations)
    p.add_argument("--jobs", type=int, default=1, help="seeds run in parallel (one process and one torch thread each)")
    p.add_argument("--warm-start-steps", type=int, default=DemoConfig.warm_start_steps)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--eval-episodes", type=int, default=64)
    p.add_argument("--out", type=Path, default=Path("runs/bench_gigpo_vs_grpo"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    print(f"commit {commit}; {args.seeds} seeds x {args.iterations} iterations per algorithm")
    curves, cpu = run_all(args)
    report(curves, args.out)
    print(f"CPU time of the runs: {cpu / 60:.1f} min")


if __name__ == "__main__":
    main()
