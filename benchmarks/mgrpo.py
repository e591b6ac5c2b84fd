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

``--shared-warm-start`` warm-starts each arm once and starts every RL seed of the arm from it (seeds then differ in RL
only); ``--arms`` / ``--first-seed`` split a run over processes, ``--report-only`` summarises the finished seeds,
``--diagnose N`` plays N held-out episodes per arm stage by stage. The run kept in the docs (docs/mgrpo.md) is
``benchmarks/results/mgrpo/kb50-shared-ws/command.txt``.

Results: ``<out>/results.json`` (every number), ``<out>/results.md`` (tables), ``<out>/curves.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
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
        env_kwargs={"max_hops": args.max_hops, "max_steps": args.max_steps, "kb_size": args.kb_size, "top_k": args.top_k},
        template=str(prompt_template(args.out)) if args.compact_prompt else None,
        sub_history=args.sub_history,
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
        init_eval_episodes=args.init_eval_episodes,
        checkpoint_every=args.checkpoint_every,
        tiny=TinyModelSpec(hidden_size=args.hidden, intermediate_size=2 * args.hidden, num_hidden_layers=args.layers, num_attention_heads=4, num_key_value_heads=2),
        init_seed=seed,
        seed=seed,
        model_path=model_path,
        out=out,
    )


COMPACT_PROMPT = 'header = "{task}\\n"\nturn = "> {action}\\n"\ncurrent = "{observation}\\n"\n'
"""The env prompt of the compact setting: the question, the past actions (not their results) and the current observation (no hint list)."""


def prompt_template(out: Path) -> Path:
    """Write the compact prompt template into the results dir (so the results say what the agents saw)."""
    path = (out / "prompt.toml").resolve()
    if not path.is_file() or path.read_text() != COMPACT_PROMPT:  # written once, atomically: other processes of the run read it
        from hiergym.runs import atomic_write

        out.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: f.write(COMPACT_PROMPT), text=True)
    return path


ROLE_STATS = ("success", "sub_calls", "mgrpo/main_correct", "mgrpo/main_format", "mgrpo/main_reward_mean", "mgrpo/main_adv_std", "mgrpo/sub_reward_mean",
              "mgrpo/sub_adv_std", "mgrpo/align/searcher/duplicated", "mgrpo/align/searcher/dropped", "mgrpo/align/searcher/borrowed", "length")
"""Training-batch metrics averaged over a run's iterations (what each role did: calls, correctness, format, alignment)."""


def wait_for(path: Path, timeout_s: float = 1800.0) -> Path:
    """Wait until another process has written ``path`` (the first arm's initial model, when arms run as separate processes)."""
    deadline = time.monotonic() + timeout_s
    while not path.is_file():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout_s:.0f} s")
        time.sleep(5)
    return path


def initial_model(args: argparse.Namespace, arm: str, first_run: Path) -> str | None:
    """None for the first arm (it builds the tiny model); the first arm's ``model_init`` for the others (paired)."""
    if arm == next(iter(ARMS)):
        return None
    return str(wait_for(first_run / "model_init" / "config.json").parent.resolve())


def warm_arm(args: argparse.Namespace, arm: str) -> dict:
    """``--shared-warm-start``: one warm start per arm (seed ``--warm-seed``), saved for every RL seed of that arm."""
    out = args.out / "runs" / f"warm-{arm}"
    done = out / "warm.json"
    if done.is_file():
        return json.loads(done.read_text())
    if out.exists():  # a killed warm start is redone (it has no checkpoint of its own)
        for f in sorted(out.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
    t0 = time.process_time()
    model = initial_model(args, arm, args.out / "runs" / f"warm-{next(iter(ARMS))}")
    trainer = MainSubTrainer(arm_config(args, args.warm_seed, ARMS[arm], out, model))
    try:
        init = trainer.evaluate(args.init_eval_episodes)
        metrics = trainer.warm_start()
        trainer.save_models("model_warm_start")
        acc = trainer.evaluate()
    finally:
        trainer.collector.close()
        trainer.eval_collector.close()
        trainer.run.close()
    record = {"init_eval": init, "warm_start": metrics, "eval": acc, "cpu_s": time.process_time() - t0, "model": str((out / "model_warm_start").resolve())}
    done.write_text(json.dumps(record))
    logging.info("warm start %s: random init %.3f -> warm-started %.3f held-out (%s), %.0f CPU s", arm, init, acc, metrics, record["cpu_s"])
    return record


def run_arm(args: argparse.Namespace, seed: int, arm: str, model_path: str | None) -> dict:
    """One arm on one seed; a finished arm is read back, a killed one resumes from its last checkpoint."""
    out = args.out / "runs" / f"{arm}-seed{seed}"
    done = out / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    warm = None
    config = arm_config(args, seed, ARMS[arm], out, model_path)
    if args.shared_warm_start:
        warm = warm_arm(args, arm)
        # the start is the warm-started model, evaluated once (greedy on the same held-out seeds: the same number for every seed)
        config = replace(config, model_path=warm["model"], warm_start_episodes=0, warm_start_steps=0, eval_at_start=False)
    resume = (out / "config.json").is_file()
    t0 = time.process_time()
    trainer = MainSubTrainer(replace(config, resume=resume))
    result = trainer()
    rows = result.rows
    stats = {k: float(np.mean([r[k] for r in rows if k in r])) for k in ROLE_STATS if any(k in r for r in rows)}
    prior = json.loads((out / "cpu_s_before_resume.json").read_text())["cpu_s"] if (out / "cpu_s_before_resume.json").is_file() else 0.0
    record = {
        "curve": result.eval_curve if warm is None else [(0, warm["eval"]), *result.eval_curve],
        "init_eval": result.init_eval if warm is None else warm["init_eval"],
        "warm_start": result.warm_start if warm is None else warm["warm_start"], "shared_warm_start": warm,
        "tokens": result.tokens, "iterations": result.iterations, "cpu_s": prior + time.process_time() - t0, "resumed": resume,
        "train_means": stats, "final_train_success": rows[-1]["success"] if rows else None,
        "train_curve": [(r["tokens_total"], r["success"]) for r in rows],
    }
    done.write_text(json.dumps(record))
    return record


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, dict]:
    """Both arms on one seed from the same initial model (the first arm builds it, the second loads it: paired)."""
    results = {}
    for arm in args.arms:
        model_path = None if args.shared_warm_start else initial_model(args, arm, args.out / "runs" / f"{next(iter(ARMS))}-seed{seed}")
        results[arm] = run_arm(args, seed, arm, model_path)
        logging.info("%s seed %d: %s", arm, seed, results[arm]["curve"])
    return results


def pipeline_stats(trajectories: list, agent: str) -> dict[str, float]:
    """Where held-out episodes fail, stage by stage (main+searcher: call, report, copy; main alone: hops found, answer)."""
    from hiergym.agents.main_sub import split_rollouts
    from hiergym.envs.research.scoring import normalize_answer

    gold = [next((t.info["gold_answer"] for t in reversed(tr.turns) if "gold_answer" in t.info), None) for tr in trajectories]
    answered = [any(t.info.get("tool") == "answer" for t in tr.turns) for tr in trajectories]
    out = {"episodes": float(len(trajectories)), "success": float(np.mean([tr.success for tr in trajectories])),
           "answered": float(np.mean(answered)), "env_steps": float(np.mean([len(tr.turns) for tr in trajectories]))}
    if agent == "main-only":
        hops = [len(tr.turns[-1].info.get("subgoals_achieved", [])) if tr.turns else 0 for tr in trajectories]
        out.update({"hops_found_mean": float(np.mean(hops)), "both_hops_found": float(np.mean([h >= 2 for h in hops]))})
        return out
    mains, calls = split_rollouts(trajectories)
    by_parent: dict[str, list] = {}
    for c in calls:
        by_parent.setdefault(c.meta["parent"], []).append(c)
    first = [by_parent.get(m.meta["rollout_id"], [None])[0] for m in mains]
    reports = [None if c is None or not c.meta.get("returned") else next((t.action for t in reversed(c.turns) if t.terminated), "") for c in first]
    report_text = [None if r is None else r[len("answer["):-1] if r.startswith("answer[") else r for r in reports]
    right = [r is not None and g is not None and normalize_answer(r) == normalize_answer(g) for r, g in zip(report_text, gold)]
    out.update({
        "called": float(np.mean([c is not None for c in first])),
        "call_query_is_question": float(np.mean([c is not None and c.meta.get("query", "").strip() == m.turns[0].observation.splitlines()[0].strip() for c, m in zip(first, mains)])),
        "sub_returned": float(np.mean([r is not None for r in reports])),
        "sub_steps_mean": float(np.mean([len(c.turns) for c in first if c is not None])) if any(c is not None for c in first) else 0.0,
        "report_is_gold": float(np.mean(right)),
        "success_given_gold_report": float(np.mean([m.success for m, r in zip(mains, right) if r])) if any(right) else float("nan"),
    })
    return out


def diagnose(args: argparse.Namespace) -> dict:
    """``--diagnose N``: N held-out episodes of each arm's warm-started model and of seed ``--warm-seed``'s model after RL, stage by stage."""
    from hiergym.runs import read_checkpoint
    from hiergym.training.loop import run_stream

    out: dict = {}
    for arm, agent in ARMS.items():
        warm = args.out / "runs" / f"warm-{arm}" / "warm.json"
        if not warm.is_file():
            continue
        model = json.loads(warm.read_text())["model"]
        cfg = replace(arm_config(args, args.warm_seed, agent, None, model), warm_start_episodes=0, warm_start_steps=0, eval_episodes=args.diagnose)
        trainer = MainSubTrainer(cfg)
        ckpts = sorted((args.out / "runs" / f"{arm}-seed{args.warm_seed}" / "checkpoints").glob("step-*.pt"))
        for name, ckpt in (("warm_started", None), ("after_rl", ckpts[-1] if ckpts else None)):
            if name == "after_rl":
                if ckpt is None:
                    continue
                trainer.backends["main"].model.load_state_dict(read_checkpoint(ckpt)["trainer"]["model"])
            tasks = [(cfg.env_id, 1_000_000 + i) for i in range(args.diagnose)]
            trajs, _ = trainer.eval_collector.collect(tasks, 1, sampling=replace(cfg.sampling, temperature=0.0), stream=run_stream(cfg.seed, "eval"))
            out.setdefault(arm, {})[name] = pipeline_stats(trajs, agent)
            logging.info("diagnosis %s %s: %s", arm, name, out[arm][name])
        trainer.collector.close()
        trainer.eval_collector.close()
    (args.out / "diagnosis.json").write_text(json.dumps(out, indent=2))
    return out


def finished_seeds(out: Path) -> dict[int, dict[str, dict]]:
    """Every seed whose arms all have a result.json under ``out/runs``."""
    per_seed: dict[int, dict[str, dict]] = {}
    for path in sorted((out / "runs").glob("*-seed*/result.json")):
        arm, seed = path.parent.name.rsplit("-seed", 1)
        per_seed.setdefault(int(seed), {})[arm] = json.loads(path.read_text())
    return {s: r for s, r in per_seed.items() if set(r) >= set(ARMS)}


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
            out["arms"][arm]["random_init_per_seed"] = init
            out["arms"][arm]["random_init_iqm"] = iqm(np.array(init))
        means = [per_seed[s][arm].get("train_means", {}) for s in seeds]
        out["arms"][arm]["train_means"] = {k: float(np.mean([m[k] for m in means if k in m])) for k in sorted(set().union(*means))}
        out["arms"][arm]["cpu_s_per_seed"] = [per_seed[s][arm]["cpu_s"] for s in seeds]
    diff = finals["mgrpo"] - finals["grpo_main_only"]
    out["paired_diff_mgrpo_minus_grpo"] = {"iqm": iqm(diff), "ci95": bootstrap_ci(diff), "per_seed": diff.tolist()}
    for arm in ARMS:  # what RL added to each arm's own starting point
        gain = finals[arm] - np.array(out["arms"][arm]["untrained_per_seed"])
        out["arms"][arm]["rl_gain"] = {"iqm": iqm(gain), "ci95": bootstrap_ci(gain), "per_seed": gain.tolist()}
    return out


def plot(per_seed: dict[int, dict[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_train) = plt.subplots(1, 2, figsize=(12, 4))
    for arm, color in zip(ARMS, ("C0", "C1")):
        for k, s in enumerate(sorted(per_seed)):
            pts = per_seed[s][arm].get("train_curve") or []
            if pts:
                ax_train.plot(*zip(*pts), color=color, alpha=0.6, marker=".", label=arm if k == 0 else None)
        curves = [per_seed[s][arm]["curve"] for s in sorted(per_seed)]
        for xs_ys in curves:
            xs, ys = zip(*xs_ys)
            ax.plot(xs, ys, color=color, alpha=0.25, marker=".")
        if len({len(c) for c in curves}) == 1:  # same eval points in every seed: the mean curve (x = mean tokens)
            xs = np.mean([[p[0] for p in c] for c in curves], axis=0)
            ys = np.mean([[p[1] for p in c] for c in curves], axis=0)
            ax.plot(xs, ys, color=color, lw=2.5, marker="o", label=f"{arm} (mean of {len(curves)} seeds)")
    ax.set_xlabel("generated training tokens")
    ax.set_ylabel("held-out exact match")
    ax.set_title("held-out (test split): M-GRPO vs main-only GRPO")
    ax.legend()
    ax_train.set_xlabel("generated training tokens")
    ax_train.set_ylabel("training-batch success (sampled, K copies)")
    ax_train.set_title("training batches, per seed")
    if ax_train.lines:
        ax_train.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_settings(out: Path, args: argparse.Namespace) -> dict:
    """The command and budget the runs under ``out`` were made with (``command.txt`` and a run's config.json; else this call's)."""
    configs = sorted((out / "runs").glob("*-seed*/config.json"))
    cfg = json.loads(configs[0].read_text()) if configs else {}
    lines = (out / "command.txt").read_text().split("\n") if (out / "command.txt").is_file() else [" ".join(args.argv)]
    return {"command": lines[0].strip(), "commit": lines[1].strip() if len(lines) > 1 else "", "token_budget": cfg.get("token_budget", args.token_budget), "eval_episodes": cfg.get("eval_episodes", args.eval_episodes)}


def table(summary: dict, args: argparse.Namespace, cpu_s: float) -> str:
    seeds = summary["seeds"]
    run = run_settings(args.out, args)
    lines = [
        "# M-GRPO vs main-only GRPO on MultiHop-v0",
        "",
        f"Command: `python benchmarks/mgrpo.py {run['command']}`",
        *([f"Code: {run['commit']}", ""] if run["commit"] else []),
        f"Seeds: {seeds}; token budget per run: {run['token_budget']}; held-out: {run['eval_episodes']} test-split episodes (greedy); "
        f"CPU time of all runs: {cpu_s:.0f} s.",
        "",
        "| arm | random init (IQM) | untrained = warm start, no RL (IQM [95% CI]) | after RL (IQM [95% CI]) | RL gain (IQM [95% CI]) |",
        "|---|---|---|---|---|",
    ]
    for arm, a in summary["arms"].items():
        g = a["rl_gain"]
        lines.append(f"| {arm} | {a.get('random_init_iqm', float('nan')):.3f} | {a['untrained_iqm']:.3f} [{a['untrained_ci95'][0]:.3f}, {a['untrained_ci95'][1]:.3f}] | "
                     f"{a['final_iqm']:.3f} [{a['final_ci95'][0]:.3f}, {a['final_ci95'][1]:.3f}] | {g['iqm']:+.3f} [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}] |")
    d = summary["paired_diff_mgrpo_minus_grpo"]
    lines += ["", f"Paired difference M-GRPO - GRPO (after RL): IQM {d['iqm']:+.3f}, 95% CI [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}].", "",
              "Per seed (held-out exact match):", "",
              "| seed | " + " | ".join(f"{arm} random / untrained / after RL" for arm in summary["arms"]) + " | M-GRPO - GRPO | tokens (M-GRPO, GRPO) | iterations |",
              "|---|" + "---|" * (len(summary["arms"]) + 3)]
    for k, seed in enumerate(seeds):
        cells = []
        for a in summary["arms"].values():
            rnd = a.get("random_init_per_seed", [None] * len(seeds))[k]
            cells.append(f"{'-' if rnd is None else f'{rnd:.3f}'} / {a['untrained_per_seed'][k]:.3f} / {a['final_per_seed'][k]:.3f}")
        arms = list(summary["arms"].values())
        lines.append(f"| {seed} | " + " | ".join(cells) + f" | {d['per_seed'][k]:+.3f} | {', '.join(str(a['tokens_per_seed'][k]) for a in arms)} | "
                     f"{', '.join(str(a['iterations_per_seed'][k]) for a in arms)} |")
    lines += ["", "Training batches, mean over iterations and seeds:", "", "| arm | " + " | ".join(ROLE_STATS) + " |", "|---|" + "---|" * len(ROLE_STATS)]
    for arm, a in summary["arms"].items():
        lines.append(f"| {arm} | " + " | ".join(f"{a['train_means'][k]:.3f}" if k in a["train_means"] else "-" for k in ROLE_STATS) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="how many seeds (first-seed, first-seed + 1, ...)")
    p.add_argument("--first-seed", type=int, default=0, help="run seeds from this one (seeds as separate processes)")
    p.add_argument("--report-only", action="store_true", help="run nothing: summarise every finished seed under --out/runs")
    p.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS), help="arms to run in this process (arms as separate processes)")
    p.add_argument("--shared-warm-start", action="store_true",
                   help="warm-start each arm once (seed --warm-seed) and start every RL seed of the arm from it (seeds then differ in RL only)")
    p.add_argument("--warm-seed", type=int, default=0)
    p.add_argument("--diagnose", type=int, default=0, help="run nothing else: N held-out episodes per arm (warm-started, after RL), stage by stage")
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
    p.add_argument("--top-k", type=int, default=5, help="search results shown")
    p.add_argument("--compact-prompt", action="store_true", help="env prompt = question, past actions, current observation (no hints)")
    p.add_argument("--sub-history", type=int, default=2, help="past tool calls a sub-agent prompt shows")
    p.add_argument("--history-k", type=int, default=2)
    p.add_argument("--slots", type=int, default=16)
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--eval-episodes", type=int, default=32)
    p.add_argument("--init-eval-episodes", type=int, default=None, help="held-out episodes for the random-init accuracy (default --eval-episodes)")
    p.add_argument("--checkpoint-every", type=int, default=5)
    p.add_argument("--warm-start-episodes", type=int, default=0)
    p.add_argument("--warm-start-steps", type=int, default=0)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/mgrpo"))
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def main(argv: list[str] | None = None) -> dict | None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.process_time()
    if args.diagnose:
        return diagnose(args)
    if not args.report_only:
        for s in range(args.first_seed, args.first_seed + args.seeds):
            run_seed(args, s)
    per_seed = finished_seeds(args.out)
    if not per_seed:
        logging.info("no finished seed under %s", args.out / "runs")
        return None
    cpu_s = sum(r["cpu_s"] for runs in per_seed.values() for r in runs.values())
    cpu_s += sum(json.loads(w.read_text())["cpu_s"] for w in (args.out / "runs").glob("warm-*/warm.json"))  # shared warm starts
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
