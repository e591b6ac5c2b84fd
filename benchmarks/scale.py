"""Scale-out: env steps/s by where envs live, and the per-step costs behind the cluster model of docs/scale.md.

``steps``: env steps/s with 1, 2 and 4 workers for in-process, worker-process and Ray-actor hosts on
Household and Sokoban, printed side by side. A random valid action each step (from the env's
``admissible_actions``; no LLM), so the numbers are the env stack (Gymnasium env -> AnchorHash ->
TextActions -> History, as in training) plus the collector and its transport.

``costs``: the three per-step costs of a training iteration with the demo's tiny model on Sokoban:
env step, generation per turn (batched over the slots), trainer update per row.

    nice -n 10 python benchmarks/scale.py                    # both parts (~5 minutes on 2 cores)
    python benchmarks/scale.py steps --workers 1 2 4 --episodes 256
    python benchmarks/scale.py costs

Results are printed and written to --out (JSON) and, beside it, the printed table (.txt).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENVS = {"Household": "hiergym/Household-v0", "Sokoban": "hiergym/Sokoban-6x6-1box-v0"}
MAX_STEPS = 30


class RandomValidAgent:
    """Answers a uniformly random admissible command, drawn from the row's own seed (no model)."""

    wants_info = True

    def act(self, observations, *, sampling=None, seeds=None, infos=None, memories=None):
        from hiergym.agents.llm_agent import AgentAction

        out = []
        for i, info in enumerate(infos):
            rng = random.Random(seeds[i] if seeds else None)
            command = rng.choice(info.get("admissible_actions") or ["look"])
            text = f"<action>{command}</action>"
            out.append(AgentAction(text, command, True, []))
        return out


def env_maker(env_id: str):
    from hiergym.training import EnvConfig, TextEnvMaker

    return TextEnvMaker.from_config(EnvConfig(env_id=env_id, max_episode_steps=MAX_STEPS))


def measure_env(env_id: str, configs: list[tuple[str, int]], args: argparse.Namespace) -> dict[tuple[str, int], list[float]]:
    """Env steps/s of every (host, workers) config, ``args.repeats`` rounds in alternation (all collectors
    started and warmed up first), so a burst of load from other jobs hits every config alike."""
    from hiergym.collector import Collector

    tasks = [(env_id, s) for s in range(args.episodes // args.group_size)]
    collectors = {}
    try:
        for host, workers in configs:
            c = Collector(env_maker(env_id), RandomValidAgent(), num_slots=args.slots, num_workers=0 if host == "inprocess" else workers, host=host, max_turns=MAX_STEPS)
            collectors[host, workers] = c
            c.collect(tasks[:2], args.group_size, stream=0)  # starts the workers, first resets
        runs: dict[tuple[str, int], list[float]] = {k: [] for k in collectors}
        for r in range(args.repeats):
            for key, c in collectors.items():
                _, stats = c.collect(tasks, args.group_size, stream=r + 1)
                runs[key].append(stats.env_steps / stats.wall_s)
        return runs
    finally:
        for c in collectors.values():
            c.close()


def run_steps(args: argparse.Namespace) -> dict:
    hosts = ["inprocess", "process"] + (["ray"] if args.ray else [])
    if args.ray:
        import ray

        for attempt in range(5):  # Ray waits a fixed 30 s for its raylet: a loaded machine may need another try
            try:
                ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
                break
            except Exception:
                ray.shutdown()
                if attempt == 4:
                    raise
    configs = [(h, w) for h in hosts for w in ([1] if h == "inprocess" else args.workers)]
    results: dict = {}
    for name, env_id in ENVS.items():
        for (host, workers), runs in measure_env(env_id, configs, args).items():
            results.setdefault(name, {}).setdefault(host, {})[workers] = max(runs)
            print(f"  {name:<10} {host:<10} workers={workers}: best {max(runs):8.0f} env steps/s (runs: {', '.join(f'{v:.0f}' for v in runs)})", flush=True)
    return results


def steps_table(results: dict, workers: list[int]) -> str:
    hosts = ["inprocess", "process", "ray"]
    head = f"{'env':<10} {'workers':>7} | " + " | ".join(f"{h:>10}" for h in hosts)
    lines = [head, "-" * len(head)]
    for name, by_host in results.items():
        for w in workers:
            cells = []
            for h in hosts:
                v = by_host.get(h, {}).get(w if h != "inprocess" else 1)
                cells.append(f"{v:10.0f}" if v is not None and (h != "inprocess" or w == workers[0]) else f"{'':>10}")
            lines.append(f"{name:<10} {w:>7} | " + " | ".join(cells))
    return "\n".join(lines)


def run_costs(args: argparse.Namespace) -> dict:
    """Env step, generation per turn and trainer update per row, with the demo's model and env stack on Sokoban."""
    import torch

    from hiergym.algos import build_batch, compute_advantages
    from hiergym.demo import DemoConfig
    from hiergym.training.loop import TrainLoop

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        demo = DemoConfig(warm_start_steps=0, iterations=1, eval_every=1000, out=Path(tmp) / "run", progress=False)
        cfg = replace(demo.to_train_config(), tensorboard=False)
        loop = TrainLoop(cfg)
        loop.trainer = loop._build_trainer()
        out = {"slots": cfg.num_slots, "episodes_per_iteration": cfg.tasks_per_iteration * cfg.group_size}
        env_s = model_s = update_s = 0.0
        steps = tokens = rows = 0
        for it in range(args.cost_iterations):
            trajs, stats = loop.collector.collect(cfg.train_tasks(it), cfg.group_size, stream=it)
            env_s, model_s, steps, tokens = env_s + stats.env_s, model_s + stats.model_s, steps + stats.env_steps, tokens + stats.generated_tokens
            advantages = compute_advantages(trajs, cfg.algo.selected)
            batch = build_batch(trajs, advantages, pad_token_id=loop.backend.pad_token_id)
            t = time.perf_counter()
            loop.trainer.step(batch)
            update_s += time.perf_counter() - t
            rows += int(batch.input_ids.shape[0])
        loop.collector.close()
        loop.run.close()
    out.update(
        env_step_ms=1e3 * env_s / steps,
        generation_per_turn_ms=1e3 * model_s / steps,
        tokens_per_turn=tokens / steps,
        update_per_row_ms=1e3 * update_s / rows,
        rows_per_turn=rows / steps,
        turns=steps,
        iterations=args.cost_iterations,
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("part", nargs="?", choices=["all", "steps", "costs"], default="all")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--slots", type=int, default=16)
    p.add_argument("--episodes", type=int, default=256)
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cost-iterations", type=int, default=2)
    p.add_argument("--no-ray", dest="ray", action="store_false")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale" / "scale.json")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.ray:
        try:
            import ray  # noqa: F401
        except ImportError:
            print("ray not installed: the Ray column is skipped (pip install 'hiergym[ray]')")
            args.ray = False
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()[0]
    report: dict = {"commit": commit, "cpus": os.cpu_count(), "load_avg_1min_at_start": load, "python": platform.python_version(), "args": {k: str(v) for k, v in vars(args).items()}}
    text = [f"scale benchmark at {commit}: {os.cpu_count()} CPUs, load average {load:.1f} at start, {args.slots} slots, {args.episodes} episodes per measurement, best of {args.repeats} alternating rounds"]
    if args.part in ("all", "steps"):
        report["steps_per_s"] = run_steps(args)
        table = steps_table(report["steps_per_s"], args.workers)
        text += ["", "env steps/s (random valid actions, no LLM; in-process has no workers: one row)", table]
    if args.part in ("all", "costs"):
        costs = run_costs(args)
        report["costs"] = costs
        text += [
            "",
            f"per-step costs (demo model and env stack, Sokoban 6x6, {costs['slots']} slots, {costs['turns']} turns over {costs['iterations']} iterations):",
            f"  env step               {costs['env_step_ms']:.2f} ms",
            f"  generation per turn    {costs['generation_per_turn_ms']:.2f} ms  ({costs['tokens_per_turn']:.1f} tokens; batched over the slots)",
            f"  trainer update per row {costs['update_per_row_ms']:.2f} ms  ({costs['rows_per_turn']:.2f} rows per turn)",
        ]
    print("\n".join(text))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".txt").write_text("\n".join(text) + "\n")


if __name__ == "__main__":
    main()
