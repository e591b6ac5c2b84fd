"""GiGPO vs GRPO on Sokoban 6x6 with the demo's tiny LM: same budget, several seeds, IQM + bootstrap CI.

Each (algorithm, seed) is one demo run (same warm start, same iterations, same tasks per
iteration and group size). Held-out success is measured every ``eval_every`` iterations on the
same held-out seeds. Per evaluation point we report the interquartile mean (IQM) over seeds and
a 95% percentile-bootstrap CI of the IQM (resampling seeds), print a table and write a plot.

    python benchmarks/gigpo_vs_grpo.py --seeds 5 --iterations 60 --out runs/bench_gigpo_vs_grpo
"""

import argparse
import json
import logging
import subprocess
from pathlib import Path

import numpy as np
from scipy.stats import trim_mean

from hiergym.demo import DemoConfig, run_demo

ALGOS = ("gigpo", "grpo")
BOOTSTRAP_SAMPLES = 2000
IQM_TRIM = 0.25


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% (Agarwal et al. 2021)."""
    return float(trim_mean(np.asarray(x, dtype=float), IQM_TRIM))


def bootstrap_ci(x: np.ndarray, rng: np.random.Generator, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the IQM, resampling runs with replacement."""
    x = np.asarray(x, dtype=float)
    stats = [iqm(rng.choice(x, size=len(x), replace=True)) for _ in range(BOOTSTRAP_SAMPLES)]
    lo, hi = np.percentile(stats, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def run_all(args: argparse.Namespace) -> dict[str, dict[int, dict[int, float]]]:
    """curves[algo][seed] = {iteration: held-out success}; finished runs are read back, not re-run."""
    curves: dict[str, dict[int, dict[int, float]]] = {a: {} for a in ALGOS}
    for seed in range(args.seeds):
        for algo in ALGOS:
            out = args.out / f"{algo}-seed{seed}"
            done = out / "curve.json"
            if done.is_file():
                curves[algo][seed] = {int(k): v for k, v in json.loads(done.read_text()).items()}
                continue
            cfg = DemoConfig(iterations=args.iterations, seed=seed, out=out, algo=algo, eval_every=args.eval_every, eval_episodes=args.eval_episodes, progress=False)
            summary = run_demo(cfg)
            curves[algo][seed] = summary.curve
            done.write_text(json.dumps(summary.curve))
            logging.info("%s seed %d: %s", algo, seed, summary.curve)
    return curves


def report(curves: dict[str, dict[int, dict[int, float]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(6, 4))
    for algo in ALGOS:
        iterations = sorted(next(iter(curves[algo].values())))
        rows = []
        for it in iterations:
            x = np.array([curves[algo][s][it] for s in sorted(curves[algo])])
            lo, hi = bootstrap_ci(x, rng)
            rows.append((it, iqm(x), lo, hi))
            print(f"{algo:>6} iter {it:4d}: IQM held-out success {iqm(x):.3f}  95% CI [{lo:.3f}, {hi:.3f}]  (n={len(x)})")
        its, mid, lo, hi = map(np.array, zip(*rows))
        ax.plot(its, mid, label=algo)
        ax.fill_between(its, lo, hi, alpha=0.2)
        last = np.array([curves[algo][s][iterations[-1]] for s in curves[algo]])
        print(f"{algo:>6} final: IQM {iqm(last):.3f}, per seed {np.round(last, 3).tolist()}")
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
    p.add_argument("--iterations", type=int, default=60)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--eval-episodes", type=int, default=64)
    p.add_argument("--out", type=Path, default=Path("runs/bench_gigpo_vs_grpo"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}; {args.seeds} seeds x {args.iterations} iterations per algorithm")
    report(run_all(args), args.out)


if __name__ == "__main__":
    main()
