"""Where does the collector's wall time go? Target: <= 5% outside env stepping and model calls.

Runs the Sokoban 6x6 text stack (AnchorHash -> TextActions -> History) with
(a) the real tiny-LM backend and (b) a zero-cost scripted agent that answers instantly,
which isolates the collector's own bookkeeping per env step. Prints one line per setting.

    python benchmarks/collector_overhead.py [--slots 64] [--episodes 256] [--workers 0]
"""

import argparse
import logging
import subprocess
import tempfile
import time

import torch

from hiergym.agents import LLMAgent, SamplingParams, TransformersBackend, save_tiny_lm
from hiergym.agents.llm_agent import AgentAction
from hiergym.collector import Collector
from hiergym.training import TextEnvMaker, env_corpus
from hiergym.types import Generation

ENV_ID = "hiergym/Sokoban-6x6-1box-v0"
MOVES = ("up", "right", "down", "left")


class InstantAgent:
    """Cycles through the four moves; no model: measures env + collector cost only."""

    def __init__(self) -> None:
        self.t = 0

    def act(self, observations, sampling=None):
        self.t += 1
        out = []
        for i, _ in enumerate(observations):
            text = f"<action>{MOVES[(self.t + i) % 4]}</action>"
            out.append(AgentAction(text, text[8:-9], True, [Generation([1], [2, 3, 4], [-1.0, -1.0, -1.0], text)]))
        return out


def measure(name: str, agent, make_env, args) -> None:
    tasks = [(ENV_ID, s) for s in range(args.episodes // args.group_size)]
    with Collector(make_env, agent, num_slots=args.slots, num_workers=args.workers) as collector:
        collector.collect(tasks[:2], args.group_size)  # warm-up (worker start, first forward)
        start = time.perf_counter()
        _, stats = collector.collect(tasks, args.group_size)
        wall = time.perf_counter() - start
    d = stats.as_dict()
    per_step_us = 1e6 * stats.other_s / max(stats.env_steps, 1)
    print(
        f"{name:>14}: {stats.env_steps} steps in {wall:.2f} s = {d['env_steps_per_s']:.0f} steps/s, "
        f"{d['tokens_per_s']:.0f} tokens/s | env {d['share_env']:.1%}  model {d['share_model']:.1%}  "
        f"collector {d['share_collector']:.1%} ({per_step_us:.0f} us/step)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slots", type=int, default=64)
    p.add_argument("--episodes", type=int, default=256)
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    load = open("/proc/loadavg").read().split()[0]
    print(f"commit {commit}, load average {load}, slots {args.slots}, workers {args.workers}, torch threads {args.threads}")
    make_env = TextEnvMaker(max_episode_steps=12)
    measure("instant agent", InstantAgent(), make_env, args)
    model_dir = save_tiny_lm(tempfile.mkdtemp(), env_corpus(make_env, ENV_ID, range(32)))
    backend = TransformersBackend.from_pretrained(model_dir, device="auto")
    measure("tiny LM", LLMAgent(backend, sampling=SamplingParams(max_new_tokens=6)), make_env, args)


if __name__ == "__main__":
    main()
