"""Training-loop throughput: hiergym's collector + trainer vs TRL's ``GRPOTrainer`` on the same task and model.

Task (single turn): a prompt "Task k : say moves ." and up to ``--max-new-tokens`` sampled words;
reward = share of the answer's words in {up, left}. Both sides train the same tiny random-init
Llama (hiergym's word-level tiny model, written once to a temporary directory) with GRPO: the
same prompts, group size, response length, temperature 1 / top-p 1 (stop only at EOS), learning
rate, one optimiser update per batch, no KL term, one CPU thread.

Each side runs in its own subprocess (so peak RSS is its own): hiergym in this interpreter, TRL
in ``--trl-python`` (a venv that has ``trl``; e.g. ``python -m venv --system-site-packages
/work/venvs/trl && /work/venvs/trl/bin/pip install trl``). Reported per side: samples/s and
generated tokens/s over rollout + update (the first step is warm-up and not counted), the
split between generation and update, peak RSS, and the mean reward of the first and last steps.

    python benchmarks/trainer_throughput.py [--steps 30] [--prompts 8] [--group 8] [--max-new-tokens 16]
        [--trl-python /work/venvs/trl/bin/python] [--out benchmarks/results/throughput]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOOD = frozenset({"up", "left"})
WORDS = ("up", "down", "left", "right", "push", "pull", "wait", "stop", "box", "wall")
NUM_PROMPTS = 8
CORPUS = [f"Task {k} : say moves ." for k in range(NUM_PROMPTS)] + [" ".join(WORDS)]


def prompt_of(k: int) -> str:
    return f"Task {k % NUM_PROMPTS} : say moves ."


def reward_of(text: str, max_new_tokens: int) -> float:
    """Share of the answer's possible words that are good: 0..1, the same function on both sides."""
    return sum(w in GOOD for w in re.findall(r"[a-z]+", text)) / max_new_tokens


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def summary(step_s: list[float], cpu_s: list[float], samples: list[int], tokens: list[int], gen_s: list[float], rewards: list[float], **extra) -> dict:
    """Throughput over the steps after the first (warm-up), plus the reward curve's ends.

    ``*_per_cpu_s`` divide by the process's CPU time instead of wall time: on a shared machine
    other jobs' load slows wall time but not (much) CPU time.
    """
    s, c, n, t, g = step_s[1:], cpu_s[1:], samples[1:], tokens[1:], gen_s[1:]
    wall, cpu = sum(s), sum(c)
    k = max(1, len(rewards) // 4)
    return {
        "steps_timed": len(s), "wall_s": wall, "cpu_s": cpu, "samples_per_s": sum(n) / wall, "tokens_per_s": sum(t) / wall,
        "samples_per_cpu_s": sum(n) / cpu, "tokens_per_cpu_s": sum(t) / cpu,
        "median_step_s": statistics.median(s), "generation_share": sum(g) / wall, "peak_rss_mb": peak_rss_mb(),
        "reward_first": statistics.mean(rewards[:k]), "reward_last": statistics.mean(rewards[-k:]), "rewards": rewards, **extra,
    }


# --- hiergym side -----------------------------------------------------------------------------
def run_hiergym(args: argparse.Namespace) -> dict:
    import gymnasium as gym
    import torch

    from hiergym.agents import LLMAgent, SamplingParams, TransformersBackend
    from hiergym.algos import GRPOConfig, Trainer, TrainerConfig, build_batch, compute_advantages
    from hiergym.collector import Collector

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    class WordBandit(gym.Env):
        """One step: the observation is the prompt, the action the model's text."""

        def reset(self, *, seed=None, options=None):
            self.prompt = prompt_of(seed or 0)
            return self.prompt, {}

        def step(self, action):
            return self.prompt, reward_of(action, args.max_new_tokens), True, False, {}

    backend = TransformersBackend.from_pretrained(args.model, device="cpu", decoding=args.hiergym_decoding)
    agent = LLMAgent(backend, sampling=SamplingParams(max_new_tokens=args.max_new_tokens, temperature=1.0, top_p=1.0, stop=()), template="{observation}")
    trainer_config = TrainerConfig(lr=args.lr, ppo_epochs=1, num_minibatches=1, old_logprobs=args.hiergym_old_logprobs, shared_prefix=args.hiergym_shared_prefix)
    trainer = Trainer(backend.model, trainer_config, device="cpu")
    step_s, cpu_s, samples, tokens, gen_s, rewards, upd_s = [], [], [], [], [], [], []
    with Collector(lambda env_id: WordBandit(), agent, num_slots=args.prompts * args.group) as collector:
        for it in range(args.steps):
            start, cpu_start = time.perf_counter(), time.process_time()
            tasks = [("bandit", it * args.prompts + k) for k in range(args.prompts)]
            trajs, stats = collector.collect(tasks, args.group, stream=args.seed * 1000 + it)
            generated = time.perf_counter()
            batch = build_batch(trajs, compute_advantages(trajs, GRPOConfig()), pad_token_id=backend.pad_token_id)
            trainer.step(batch)
            end = time.perf_counter()
            step_s.append(end - start)
            cpu_s.append(time.process_time() - cpu_start)
            gen_s.append(generated - start)
            upd_s.append(end - generated)
            samples.append(len(trajs))
            tokens.append(stats.generated_tokens)
            rewards.append(statistics.mean(t.episode_return for t in trajs))
    return summary(step_s, cpu_s, samples, tokens, gen_s, rewards, update_s_median=statistics.median(upd_s[1:]), old_logprobs=args.hiergym_old_logprobs,
                   shared_prefix=args.hiergym_shared_prefix, decoding=args.hiergym_decoding)


# --- TRL side ---------------------------------------------------------------------------------
def run_trl(args: argparse.Namespace) -> dict:
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    torch.set_num_threads(1)
    step_s, cpu_s, samples, tokens, gen_s, rewards = [], [], [], [], [], []
    marks: dict[str, float] = {}

    def reward_fn(prompts, completions, completion_ids=None, **kwargs):
        marks["generated"] = time.perf_counter()  # TRL scores right after generating the batch
        samples.append(len(completions))
        tokens.append(sum(len(ids) for ids in completion_ids) if completion_ids is not None else 0)
        values = [reward_of(c, args.max_new_tokens) for c in completions]
        rewards.append(statistics.mean(values))
        return values

    class Timer(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            marks["start"], marks["cpu"] = time.perf_counter(), time.process_time()

        def on_step_end(self, a, state, control, **kw):
            step_s.append(time.perf_counter() - marks["start"])
            cpu_s.append(time.process_time() - marks["cpu"])
            gen_s.append(marks["generated"] - marks["start"])

    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            output_dir=out, use_cpu=True, seed=args.seed, learning_rate=args.lr, max_steps=args.steps,
            per_device_train_batch_size=args.prompts * args.group, num_generations=args.group, steps_per_generation=1,
            num_iterations=1, gradient_accumulation_steps=1, max_completion_length=args.max_new_tokens,
            temperature=1.0, top_p=1.0, beta=0.0, logging_steps=1, report_to="none", save_strategy="no",
            bf16=False, disable_tqdm=True, dataloader_num_workers=0, lr_scheduler_type="constant", warmup_steps=0,
        )
        dataset = Dataset.from_dict({"prompt": [prompt_of(k) for k in range(args.prompts * args.steps)]})
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        trainer = GRPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(args.model), reward_funcs=reward_fn, args=config,
            train_dataset=dataset, processing_class=tokenizer, callbacks=[Timer()],
        )
        trainer.train()
    return summary(step_s, cpu_s, samples, tokens, gen_s, rewards, trl_version=trl.__version__, transformers_version=transformers.__version__)


# --- the multi-turn Sokoban loop's time split --------------------------------------------------
def sokoban_split(args: argparse.Namespace, *, shared_prefix: bool = False) -> str:
    """CPU seconds per iteration of the demo's RL loop (no warm start) by phase, from timers around its parts.

    CPU time of this process (``time.process_time``), not wall time: on a shared machine other jobs'
    load changes wall time by several times between runs, CPU time hardly.
    """
    import dataclasses
    import warnings
    from collections import defaultdict

    import torch

    import hiergym.algos as algos
    from hiergym.demo import DemoConfig
    from hiergym.training.loop import TrainLoop

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message=re.escape("Seems like `optimizer.step()` has been overridden"))  # our timer wraps it
    spent: dict[str, float] = defaultdict(float)
    counts: dict[str, float] = defaultdict(float)

    def timed(name, fn):
        def wrapper(*a, **k):
            start = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.process_time() - start
        return wrapper

    with tempfile.TemporaryDirectory() as tmp:
        demo = DemoConfig(iterations=args.split_iterations + 1, warm_start_steps=0, eval_every=10**6, eval_episodes=8, progress=False, out=Path(tmp) / "run")
        config = demo.to_train_config()
        loop = TrainLoop(dataclasses.replace(config, trainer=dataclasses.replace(config.trainer, shared_prefix=shared_prefix)))
        loop.trainer = loop._build_trainer()
        collect = loop.collector.collect

        def collect_split(*a, **k):
            trajs, stats = collect(*a, **k)
            counts["env steps"] += stats.env_steps
            counts["generated tokens"] += stats.generated_tokens
            return trajs, stats

        loop.collector.collect = timed("collect", collect_split)
        loop.backend.generate = timed("generation (backend.generate)", loop.backend.generate)  # the agent calls the instance attribute
        loop._advantages = timed("advantages", loop._advantages)
        loop._diagnostics = timed("signal diagnostics", loop._diagnostics)
        algos.build_batch = timed("build_batch (padding)", algos.build_batch)
        trainer = loop.trainer
        trainer._prepare = timed("no-grad forwards (old + reference log-probs)", trainer._prepare)
        trainer.optimizer.step = timed("optimiser step", trainer.optimizer.step)
        trainer.step = timed("trainer.step", trainer.step)
        loop.run.log = timed("logging (metrics, samples)", loop.run.log)
        loop.run.save_samples = timed("logging (metrics, samples)", loop.run.save_samples)
        loop.iteration(0)  # warm-up, with the iteration-0 evaluation: not counted
        spent.clear()
        counts.clear()
        start, wall_start = time.process_time(), time.perf_counter()
        for it in range(1, args.split_iterations + 1):
            loop.iteration(it)
        total, wall = time.process_time() - start, time.perf_counter() - wall_start
        loop.collector.close()
        loop.run.close()
    step = spent.pop("trainer.step")
    spent["training forward + backward"] = step - spent["no-grad forwards (old + reference log-probs)"] - spent["optimiser step"]
    spent["env steps + collector bookkeeping"] = spent.pop("collect") - spent["generation (backend.generate)"]
    spent["other"] = total - sum(spent.values())
    n = args.split_iterations
    lines = [f"TrainerConfig.shared_prefix={shared_prefix}. Sokoban 6x6 demo loop without warm start (random tiny policy: episodes "
             f"mostly run to the 12-step limit), {n} iterations timed after one warm-up; per iteration: {counts['env steps'] / n:.0f} env steps, "
             f"{counts['generated tokens'] / n:.0f} generated tokens; {total / n:.2f} CPU-s per iteration "
             f"({wall / n:.1f} s wall at load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs).", "",
             "| phase | CPU-s / iteration | share |", "|---|---|---|"]
    for name, s in sorted(spent.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {s / n:.3f} | {s / total:.1%} |")
    return "\n".join(lines)


# --- driver -----------------------------------------------------------------------------------
def run_side(side: str, args: argparse.Namespace, python: str, model: Path, workdir: Path) -> dict:
    out = workdir / f"{side}.json"
    cmd = [python, __file__, "--side", side, "--model", str(model), "--json", str(out), "--steps", str(args.steps),
           "--prompts", str(args.prompts), "--group", str(args.group), "--max-new-tokens", str(args.max_new_tokens),
           "--lr", str(args.lr), "--seed", str(args.seed), "--hiergym-old-logprobs", args.hiergym_old_logprobs,
           "--hiergym-decoding", args.hiergym_decoding, "--hiergym-shared-prefix" if args.hiergym_shared_prefix else "--no-hiergym-shared-prefix"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} side failed ({python}):\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text())


def best_of(runs: list[dict]) -> dict:
    """The repeat with the highest CPU-time throughput (the least disturbed by other jobs), with all repeats' numbers."""
    best = dict(max(runs, key=lambda r: r["samples_per_cpu_s"]))
    best["repeats"] = [{k: r[k] for k in ("samples_per_s", "samples_per_cpu_s", "wall_s", "cpu_s", "peak_rss_mb")} for r in runs]
    return best


def spread(runs: dict[str, list[dict]]) -> list[str]:
    """Every repeat's samples per CPU-s, and the hiergym / TRL ratio of each alternating pair (the spread of the result)."""
    lines = [f"- {side} samples / CPU-s per repeat: " + ", ".join(f"{r['samples_per_cpu_s']:.1f}" for r in rs) for side, rs in runs.items()]
    if {"hiergym", "trl"} <= set(runs):
        ratios = [h["samples_per_cpu_s"] / t["samples_per_cpu_s"] for h, t in zip(runs["hiergym"], runs["trl"])]
        lines.append("- hiergym / TRL per CPU-s, each alternating pair: " + ", ".join(f"{x:.2f}x" for x in ratios)
                     + f" (median {statistics.median(ratios):.2f}x)")
    return lines


def git_commit() -> str:
    """The repository's HEAD (with ``+dirty`` when tracked files differ), so a stored result names its code."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "agents", "algos", "hiergym", "benchmarks/trainer_throughput.py"],
                               cwd=root, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def table(results: dict, args: argparse.Namespace) -> str:
    rows = [
        ("samples / CPU-s", "samples_per_cpu_s", "{:.1f}"), ("generated tokens / CPU-s", "tokens_per_cpu_s", "{:.0f}"),
        ("samples / s (wall)", "samples_per_s", "{:.1f}"), ("generated tokens / s (wall)", "tokens_per_s", "{:.0f}"),
        ("median step (s)", "median_step_s", "{:.2f}"), ("generation share of step", "generation_share", "{:.0%}"),
        ("peak RSS (MB)", "peak_rss_mb", "{:.0f}"), ("mean reward, first quarter", "reward_first", "{:.3f}"),
        ("mean reward, last quarter", "reward_last", "{:.3f}"),
    ]
    sides = list(results)
    lines = [f"| | {' | '.join(sides)} |", "|---|" + "---|" * len(sides)]
    for label, key, fmt in rows:
        lines.append(f"| {label} | " + " | ".join(fmt.format(results[s][key]) for s in sides) + " |")
    if {"hiergym", "trl"} <= set(results):
        h, t = results["hiergym"], results["trl"]
        lines.append(f"| hiergym / TRL, samples per CPU-s | {h['samples_per_cpu_s'] / t['samples_per_cpu_s']:.2f}x | |")
        lines.append(f"| hiergym / TRL, samples per wall-s | {h['samples_per_s'] / t['samples_per_s']:.2f}x | |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--prompts", type=int, default=8, help="prompts per step")
    p.add_argument("--group", type=int, default=8, help="samples per prompt (GRPO group)")
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hiergym-old-logprobs", default="current", choices=["current", "recompute", "sampling"],
                   help="hiergym's old log-probs; 'current' matches TRL with one update per batch (no extra forward)")
    p.add_argument("--hiergym-shared-prefix", action=argparse.BooleanOptionalAction, default=True,
                   help="hiergym's shared-prefix training forward (TrainerConfig.shared_prefix; same loss and gradients up to float rounding)")
    p.add_argument("--hiergym-decoding", default="loop", choices=["loop", "hf"], help="TransformersBackend decoding: its own KV-cache loop or model.generate")
    p.add_argument("--trl-python", default=os.environ.get("HIERGYM_TRL_PYTHON", "/work/venvs/trl/bin/python"))
    p.add_argument("--skip-trl", action="store_true")
    p.add_argument("--repeats", type=int, default=5, help="runs per side, alternating; the best (least disturbed) is reported")
    p.add_argument("--out", type=Path, default=None, help="directory for results.json and results.md")
    p.add_argument("--sokoban-split", action="store_true", help="instead: time split of the multi-turn Sokoban loop")
    p.add_argument("--split-iterations", type=int, default=4)
    p.add_argument("--side", choices=["hiergym", "trl"], help=argparse.SUPPRESS)
    p.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        result = run_hiergym(args) if args.side == "hiergym" else run_trl(args)
        args.json.write_text(json.dumps(result))
        return
    if args.sokoban_split:
        md = "\n\n".join(sokoban_split(args, shared_prefix=s) for s in (False, True))
        print(md)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "sokoban_split.md").write_text(md + "\n")
        return

    from hiergym.agents import save_tiny_lm

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model = save_tiny_lm(workdir / "model", CORPUS, seed=args.seed)
        sides = {"hiergym": sys.executable}
        if not args.skip_trl:
            if not Path(args.trl_python).is_file():
                raise SystemExit(f"--trl-python {args.trl_python} not found: create a venv with trl (see the module docstring) or pass --skip-trl")
            sides["trl"] = args.trl_python
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        for _ in range(args.repeats):  # alternating sides, so a burst of load on the machine hits both
            for side, python in sides.items():
                runs[side].append(run_side(side, args, python, model, workdir))
        results = {side: best_of(rs) for side, rs in runs.items()}
    setting = (f"commit {git_commit()}; best of {args.repeats} alternating runs per side, {args.steps} steps ({args.steps - 1} timed) x {args.prompts} prompts x group {args.group}, "
               f"<= {args.max_new_tokens} new tokens, tiny Llama (hiergym TinyModelSpec defaults), 1 CPU thread; "
               f"hiergym old_logprobs={args.hiergym_old_logprobs}, shared_prefix={args.hiergym_shared_prefix}, decoding={args.hiergym_decoding}; "
               f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    md = f"{setting}\n\n{table(results, args)}\n\n" + "\n".join(spread(runs)) + "\n"
    print(md)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps({"setting": setting, "args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=1))
        (args.out / "results.md").write_text(md)


if __name__ == "__main__":
    main()
