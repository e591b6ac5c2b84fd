"""Flat GiGPO vs HRPO-blueprint vs HRPO-switch at the same generated-token budget (issue 13).

Every arm starts from the same tiny model (per seed), gets the same supervised warm start on the
env's solver (flat: the actions; hierarchical: the blueprint from the subgoals the solver reaches plus
the actions with their subgoal), then trains with RL until its training collections have generated
``--token-budget`` tokens (planner and executor tokens both count). Seeds are paired: seed s gives
every arm the same model init, training tasks and held-out tasks. At the end each arm is evaluated
on ``--eval-episodes`` held-out seeds (>= 256 at full size; sampled at ``--eval-temperature``, 1 by
default like the demo); the blueprint arm is also evaluated with an oracle blueprint (the env's own
subgoals, no planner) and its planner's blueprints are run by an oracle executor (Sokoban), which
separates plan quality from execution quality.

Reported per arm (IQM over seeds and a 95% percentile-bootstrap CI, ``benchmarks/stats.py``): held-out
success, mean episode length, and the paired difference to flat GiGPO; learning curves (training success
against generated tokens) as a PNG. Results go to ``benchmarks/results/hierarchy/<name>/``
(``results.json``, ``summary.md``, ``curves.png``).

    nice -n 10 python benchmarks/hierarchy.py --smoke                # the tiny size the test runs (~1 CPU minute)
    python benchmarks/hierarchy.py --first-seed S --seeds 1 --k 12 --tasks 4 --token-budget 14400 --name full   # one seed (S = 0..4), ~20 CPU-min
    python benchmarks/hierarchy.py --report-only --seeds 5 --k 12 --tasks 4 --token-budget 14400 --name full
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
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stats import bootstrap_ci, iqm  # noqa: E402

from hiergym.agents import SamplingParams, TinyModelSpec  # noqa: E402
from hiergym.demo import DEMO_MODEL, DEMO_PROMPT  # noqa: E402
from hiergym.algos import GiGPOConfig, HRPOConfig, TrainerConfig  # noqa: E402
from hiergym.training import AlgoConfig, EnvConfig, HierarchyTrainConfig, ModelConfig, TrainConfig, WarmStartConfig  # noqa: E402

logger = logging.getLogger("benchmarks.hierarchy")

ARMS = ("flat-gigpo", "hrpo-blueprint", "hrpo-switch")
BASELINE = "flat-gigpo"
RESULTS = Path(__file__).resolve().parent / "results" / "hierarchy"
EXPERT = "hiergym.training.hierarchy:expert_actions"
HIERARCHY_FILES = ("benchmarks/hierarchy.py", "agents/hierarchical.py", "agents/hierarchical_prompts.py", "algos/hrpo.py", "algos/segments.py",
                   "hiergym/training/hierarchy.py", "hiergym/training/loop.py", "hiergym/collector/loop.py")
"""The files whose uncommitted changes mark a run's commit ``+dirty``."""


def arm_config(arm: str, seed: int, args: argparse.Namespace, out: Path) -> TrainConfig:
    """The TrainConfig of one arm and seed; everything but the agent, the estimator and the answer length is shared.

    The recipe is the demo's (``hiergym.demo.DemoConfig``: 8-head tiny model, RL lr 5e-4 with a KL
    penalty of 0.1 to the warm start and a 20-update warm-up, sampled answers, warm start on the
    answer content first), the one that gives flat GiGPO ~17% held-out on Sokoban 8x8 after 400
    supervised steps (``benchmarks/results/gigpo_vs_grpo/``)."""
    spec = TinyModelSpec(hidden_size=args.hidden, intermediate_size=2 * args.hidden, num_hidden_layers=args.layers,
                         num_attention_heads=DEMO_MODEL.num_attention_heads, num_key_value_heads=DEMO_MODEL.num_key_value_heads)
    if arm == BASELINE:
        algo, agent, mode, tokens = AlgoConfig(name="gigpo", gigpo=GiGPOConfig(group_size=args.group_size)), "flat", "blueprint", args.flat_tokens
    elif arm in ("hrpo-blueprint", "hrpo-switch"):
        algo, agent, mode = AlgoConfig(name="hrpo", hrpo=HRPOConfig(group_size=args.group_size)), "hierarchical", arm.split("-")[1]
        tokens = args.action_tokens if mode == "blueprint" else args.switch_tokens
    else:
        raise ValueError(f"arm={arm!r} is not one of {ARMS}")
    return TrainConfig(
        env=EnvConfig(env_id=args.env_id, max_episode_steps=args.max_episode_steps, template=str(DEMO_PROMPT), history_k=args.history_k),
        model=ModelConfig(tiny=spec, init_seed=seed, device=args.device),
        algo=algo,
        agent=agent,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        hierarchy=HierarchyTrainConfig(max_segment_steps=args.k, plan_max_new_tokens=args.plan_tokens, history_k=args.history_k),
        trainer=TrainerConfig(lr=args.lr, num_minibatches=4, seed=seed, kl_beta=args.kl_beta, lr_warmup_steps=20),
        sampling=SamplingParams(max_new_tokens=tokens, temperature=1.0),
        warm_start=WarmStartConfig(expert=EXPERT, episodes=args.warm_start_episodes, steps=args.warm_start_steps, batch_size=64,
                                   content_only_steps=args.warm_start_steps * 3 // 4, lr=2e-3),
        out=out / f"{arm}-seed{seed}",
        iterations=args.max_iterations,
        tasks_per_iteration=args.tasks,
        num_slots=min(args.tasks * args.group_size, 64),
        eval_every=10**9,  # evaluated by this script at the start and the end only
        eval_episodes=args.eval_episodes,
        eval_temperature=args.eval_temperature,
        checkpoint_every=10**9,
        seed=seed,
        progress=False,
        tensorboard=False,
    )


def held_out(loop: Any) -> tuple[dict[str, float], list[Any]]:
    """``loop.evaluate()``'s metrics and the held-out trajectories themselves (the same episodes every call)."""
    from hiergym.training.loop import rollout_metrics, run_stream

    trajs, _ = loop.collector.collect(loop.config.eval_tasks(), group_size=1, sampling=loop.eval_sampling, stream=run_stream(loop.config.seed, "eval"))
    metrics = rollout_metrics(trajs, prefix="eval_")
    if loop.config.hierarchical:
        from hiergym.training.hierarchy import hierarchy_metrics

        metrics.update(hierarchy_metrics(trajs, prefix="eval_"))
    return metrics, trajs


def sokoban_subgoal_actions(level: Any, target: tuple[int, int], keep: set[tuple[int, int]], max_len: int) -> list[str] | None:
    """The shortest move list from ``level`` that ends with a box on ``target``, every cell of ``keep`` still
    holding a box, and the rest of the puzzle still solvable (a perfect executor of one Sokoban subgoal);
    None when no such list of at most ``max_len`` moves exists."""
    from collections import deque

    from hiergym.envs.sokoban.level import Level
    from hiergym.envs.sokoban.solver import ACTIONS, DELTAS, search

    walls = level.walls
    rows, cols = walls.shape

    def free(pos: tuple[int, int]) -> bool:
        return 0 <= pos[0] < rows and 0 <= pos[1] < cols and not walls[pos]

    start = (level.player, frozenset(level.boxes))
    parent: dict[Any, Any] = {start: None}
    queue = deque([(start, 0)])
    while queue:
        (player, boxes), depth = queue.popleft()
        if target in boxes and keep <= boxes:
            state_level = Level(walls, level.targets, tuple(boxes), player)
            if state_level.solved or search(state_level, 50_000).actions is not None:
                moves, node = [], (player, boxes)
                while parent[node] is not None:
                    node, move = parent[node]
                    moves.append(move)
                return moves[::-1]
        if depth >= max_len:
            continue
        for name in ACTIONS:
            dr, dc = DELTAS[name]
            nxt = (player[0] + dr, player[1] + dc)
            if not free(nxt):
                continue
            new_boxes = boxes
            if nxt in boxes:
                beyond = (nxt[0] + dr, nxt[1] + dc)
                if not free(beyond) or beyond in boxes:
                    continue
                new_boxes = (boxes - {nxt}) | {beyond}
            state = (nxt, new_boxes)
            if state not in parent:
                parent[state] = ((player, boxes), name)
                queue.append((state, depth + 1))
    return None


def oracle_executor_success(loop: Any, trajectories: list[Any]) -> dict[str, float]:
    """The planner's blueprints (the first plan of each held-out episode in ``trajectories``) run by a perfect
    executor, on the same episodes: plan quality without execution errors. Sokoban only (its solver can
    reach any single subgoal); other envs give an empty dict.

    The oracle follows the agent's segment rule: each blueprint item in order gets at most k moves (the
    shortest list that puts a box on that target, keeps the earlier plan targets covered and leaves the
    puzzle solvable); an item that names no env subgoal (free text, or the task-goal fallback of an
    unparsable answer) gets no moves, and nothing is done after the blueprint. Success = the blueprint,
    executed perfectly, solves the level within the episode limit: it names every target in a workable order.
    """
    from hiergym.info_keys import InfoKeys

    limit = loop.config.env.max_episode_steps
    k = loop.config.hierarchy.max_segment_steps
    wins, exact, complete = [], [], []
    for traj in trajectories:
        env = loop.make_env(loop.config.env.env_id)
        _, info = env.reset(seed=int(traj.seed))
        core = env.unwrapped
        if not hasattr(core, "level") or not hasattr(core, "solve"):
            env.close()
            return {}
        by_text = {sg.text: sg for sg in info.get(InfoKeys.SUBGOALS) or []}
        plan = next((list(t.info.get(InfoKeys.PLAN) or []) for t in traj.turns if InfoKeys.PLAN in t.info), [])
        exact.append(plan == list(by_text))
        complete.append(set(plan) == set(by_text))
        steps, covered = 0, set()

        def play(moves: list[str]) -> None:
            nonlocal steps
            for move in moves:
                if steps >= limit or core._is_solved():
                    return
                core.step(move)
                steps += 1

        for item in plan:
            if steps >= limit or core._is_solved():
                break
            if item in by_text:
                target = by_text[item].target
                moves = sokoban_subgoal_actions(core.level, target, covered, min(k, limit - steps))
                play((moves or [])[:k])
                if target in core.level.boxes:
                    covered.add(target)
        wins.append(bool(core._is_solved()))
        env.close()
    return {"success": float(np.mean(wins)), "plan_exact_share": float(np.mean(exact)), "plan_complete_share": float(np.mean(complete)), "episodes": len(wins)}


def reused_warm_start(arm: str, seed: int, args: argparse.Namespace) -> Path | None:
    """The model dir ``--reuse-warm-start`` names for ``arm`` (``{seed}`` filled in) when it exists, else None (warm-start here)."""
    for entry in args.reuse_warm_start:
        name, _, template = entry.partition("=")
        if name == arm:
            path = Path(template.format(seed=seed))
            return path if (path / "config.json").is_file() else None
    return None


def fit_warm_start(loop: Any) -> dict[str, float]:
    """The supervised warm start of ``loop``'s agent (both roles for a hierarchical one), saved in the run dir.

    Unlike ``TrainLoop._warm_start`` it skips the held-out evaluation of the random model (every episode of
    it runs to the step limit, and nothing here reports it)."""
    from hiergym.training import WARM_START_MODEL_DIR, warm_start

    if loop.config.warm_start.steps <= 0:
        return {}
    metrics = warm_start(loop.config, loop.agent, loop.make_env, loop.device)
    loop.backend.save_pretrained(loop.run.path / WARM_START_MODEL_DIR)
    return metrics


def run_arm(arm: str, seed: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Warm start, RL until the token budget is spent, held-out evaluation; the numbers of one arm and seed."""
    from hiergym.training.loop import TrainLoop

    t0, c0 = time.perf_counter(), time.process_time()
    config = arm_config(arm, seed, args, out)
    reused = reused_warm_start(arm, seed, args)
    if reused is not None:  # the flat arm's warm start made earlier with the same recipe: load it, skip the fit
        config = replace(config, model=replace(config.model, path=str(reused)), warm_start=replace(config.warm_start, steps=0, content_only_steps=0))
    shutil.rmtree(config.out, ignore_errors=True)  # an interrupted run of this arm and seed is redone from the start
    loop = TrainLoop(config)
    try:
        warm_metrics = {} if reused is not None else fit_warm_start(loop)
        loop._build_trainers()
        warm_cpu = time.process_time() - c0
        start, _ = held_out(loop)
        logger.info("%s seed %d: warm start %.1f CPU-min, held-out success %.3f", arm, seed, warm_cpu / 60, start["eval_success"])
        curve, tokens, it = [], 0, 0
        while tokens < args.token_budget and it < args.max_iterations:
            row = loop.iteration(it)
            tokens += int(loop.last_stats.generated_tokens)
            curve.append({"iteration": it, "tokens": tokens, "success": row["success"], "length": row["length"]})
            logger.info("%s seed %d iteration %d: %d tokens, training success %.3f", arm, seed, it, tokens, row["success"])
            it += 1
        final, trajs = held_out(loop)
        result = {"arm": arm, "seed": seed, "iterations": it, "tokens": tokens, "start": start, "final": final, "curve": curve,
                  "warm_start": warm_metrics, "warm_start_cpu_s": warm_cpu, "warm_start_from": None if reused is None else str(reused)}
        if arm == "hrpo-blueprint":  # plan quality vs execution quality, on the same held-out episodes
            result["planner_oracle_executor"] = oracle_executor_success(loop, trajs)
            loop.agent.config = replace(loop.agent.config, oracle_plan=True)
            result["oracle_plan"], _ = held_out(loop)
        result["wall_s"], result["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        logger.info("%s seed %d: held-out success %.3f after RL (%.1f CPU-min in all)", arm, seed, final["eval_success"], result["cpu_s"] / 60)
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
        gain = np.array([r["final"]["eval_success"] - r["start"]["eval_success"] for r in rs])
        entry["rl_gain"] = {"iqm": iqm(gain), "ci95": ci(gain), "per_seed": gain.tolist()}
        if all("oracle_plan" in r for r in rs):
            x = np.array([r["oracle_plan"]["eval_success"] for r in rs])
            entry["oracle_plan_success"] = {"iqm": iqm(x), "ci95": ci(x), "per_seed": x.tolist()}
        if all((r.get("planner_oracle_executor") or {}).get("success") is not None for r in rs):
            x = np.array([r["planner_oracle_executor"]["success"] for r in rs])
            entry["planner_oracle_executor_success"] = {"iqm": iqm(x), "ci95": ci(x), "per_seed": x.tolist()}
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


def _ci_cell(e: dict[str, Any] | None, fmt: str = "{:.1f}", scale: float = 100.0) -> str:
    if not e:
        return "-"
    return f"{fmt.format(e['iqm'] * scale)} [{fmt.format(e['ci95'][0] * scale)}, {fmt.format(e['ci95'][1] * scale)}]"


def write_summary(summary: dict[str, Any], runs: list[dict[str, Any]], args: argparse.Namespace, path: Path) -> None:
    """``summary.md``: the command, per-seed numbers of every arm, IQM [95% CI] rows, paired differences and the oracle columns."""
    lines = [f"# Hierarchy benchmark: {args.env_id}", ""]
    if args.smoke:
        lines += ["**Smoke run**: tiny sizes that check every step of the script runs; these numbers measure nothing.", ""]
    commits = sorted({r.get("commit", "?") for r in runs})
    run_commands = sorted({r["command"] for r in runs if r.get("command")})
    lines += ["commands of the runs:", "", *(f"    {c}" for c in run_commands), "", f"report: `python benchmarks/hierarchy.py {' '.join(args.argv)}`", "",
              f"runs at commit(s) {', '.join(commits)}; token budget {args.token_budget} generated tokens per arm and seed (at most "
              f"{args.max_iterations} iterations); {args.tasks} tasks x {args.group_size} rollouts an iteration; held-out {args.eval_episodes} episodes "
              f"(temperature {args.eval_temperature:g}); warm start {args.warm_start_steps} steps on {args.warm_start_episodes} solver episodes; "
              f"tiny model {args.layers}x{args.hidden}; episode limit {args.max_episode_steps}, k = {args.k}", "",
              "Success in %, per seed (after warm start -> after RL), mean held-out episode length after RL, RL iterations and generated tokens:", "",
              "| arm | seed | after warm start | after RL | length | iterations | tokens | oracle blueprint | planner + oracle executor | CPU min |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["seed"], r["arm"])):
        orc = r.get("oracle_plan", {}).get("eval_success")
        poe = (r.get("planner_oracle_executor") or {}).get("success")
        lines.append(f"| {r['arm']} | {r['seed']} | {100 * r['start']['eval_success']:.1f} | {100 * r['final']['eval_success']:.1f} | "
                     f"{r['final']['eval_length']:.1f} | {r['iterations']} | {r['tokens']} | {'-' if orc is None else f'{100 * orc:.1f}'} | "
                     f"{'-' if poe is None else f'{100 * poe:.1f}'} | {r.get('cpu_s', float('nan')) / 60:.1f} |")
    lines += ["", "IQM over seeds [95% percentile-bootstrap CI]; differences are paired by seed (arm - flat GiGPO), in points:", "",
              "| arm | held-out success | episode length | success - flat GiGPO | RL gain (after - before RL) | oracle blueprint | planner + oracle executor |",
              "|---|---|---|---|---|---|---|"]
    for arm, e in summary.items():
        lines.append(f"| {arm} | {_ci_cell(e['eval_success'])} | {_ci_cell(e['eval_length'], scale=1.0)} | {_ci_cell(e.get('success_minus_flat'), '{:+.1f}')} | "
                     f"{_ci_cell(e.get('rl_gain'), '{:+.1f}')} | {_ci_cell(e.get('oracle_plan_success'))} | {_ci_cell(e.get('planner_oracle_executor_success'))} |")
    path.write_text("\n".join(lines) + "\n")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env-id", default="hiergym/Sokoban-8x8-2box-v0")
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed+seeds-1 (one process per seed, then --report-only)")
    p.add_argument("--report-only", action="store_true", help="summarise the finished runs under --runs-dir/--name, run nothing")
    p.add_argument("--token-budget", type=int, default=2_000_000, help="generated tokens per arm and seed (training collections)")
    p.add_argument("--max-iterations", type=int, default=500)
    p.add_argument("--eval-episodes", type=int, default=256)
    p.add_argument("--tasks", type=int, default=8)
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--max-episode-steps", type=int, default=20)
    p.add_argument("--k", type=int, default=8, help="segment limit of the hierarchical arms")
    p.add_argument("--flat-tokens", type=int, default=6, help="answer budget of the flat agent (<action>dir</action>)")
    p.add_argument("--action-tokens", type=int, default=8, help="answer budget of the blueprint executor (<done><action>dir</action>)")
    p.add_argument("--switch-tokens", type=int, default=24, help="answer budget in switch mode (switch, subgoal and action)")
    p.add_argument("--history-k", type=int, default=0, help="earlier turns in the prompt (flat) / of the segment (executor)")
    p.add_argument("--eval-temperature", type=float, default=1.0, help="held-out sampling temperature (the demo's: the sampled policy RL trains)")
    p.add_argument("--kl-beta", type=float, default=0.1)
    p.add_argument("--plan-tokens", type=int, default=64)
    p.add_argument("--warm-start-steps", type=int, default=600)
    p.add_argument("--warm-start-episodes", type=int, default=500)
    p.add_argument("--reuse-warm-start", nargs="*", default=[], metavar="ARM=DIR",
                   help="load ARM's warm-started model from DIR ('{seed}' filled in) instead of fitting it, when DIR exists; only for a "
                   "warm start made with the same recipe (e.g. flat-gigpo=/work/runs_hstep/gvg/warm-seed{seed}/model_warm_start, gigpo_vs_grpo's)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--device", default="auto")
    p.add_argument("--name", default=None, help="results subfolder (default: full or smoke)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--runs-dir", type=Path, default=Path("runs/benchmarks/hierarchy"), help="run dirs (models, metrics) of every arm and seed")
    p.add_argument("--smoke", action="store_true", help="tiny sizes: every step runs, nothing is measured")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.smoke:
        for k, v in dict(env_id="hiergym/Household-PickClean-v0", seeds=1, token_budget=300, max_iterations=2, eval_episodes=2, tasks=1, group_size=2,
                         max_episode_steps=4, k=2, action_tokens=8, flat_tokens=8, switch_tokens=16, plan_tokens=16, warm_start_steps=2, warm_start_episodes=2, hidden=32, layers=1).items():
            setattr(args, k, v)
    args.name = args.name or ("smoke" if args.smoke else "full")
    return args


def git_commit() -> str:
    """The short HEAD commit of this checkout (``+dirty`` when the files of the hierarchical path have uncommitted changes)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *HIERARCHY_FILES], capture_output=True, text=True, cwd=root).stdout.strip()
    return head + ("+dirty" if dirty else "")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse(argv)
    out = args.out / args.name
    out.mkdir(parents=True, exist_ok=True)
    runs_dir = args.runs_dir / args.name
    runs = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for arm in args.arms:
            done = runs_dir / f"{arm}-seed{seed}.json"
            if done.is_file():  # finished earlier (an interrupted benchmark continues; --report-only reads them)
                runs.append(json.loads(done.read_text()))
            elif not args.report_only:
                logger.info("arm %s seed %d", arm, seed)
                runs.append(run_arm(arm, seed, args, runs_dir))
                done.write_text(json.dumps({**runs[-1], "command": f"python benchmarks/hierarchy.py {' '.join(args.argv)}", "commit": git_commit()}, indent=1))
    if not runs:
        raise SystemExit(f"no finished runs under {runs_dir}")
    summary = summarise(runs, args.arms)
    (out / "results.json").write_text(json.dumps({"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "summary": summary, "runs": runs}, indent=1))
    write_summary(summary, runs, args, out / "summary.md")
    plot(runs, args.arms, out / "curves.png")
    print((out / "summary.md").read_text())
    return summary


if __name__ == "__main__":
    main()
