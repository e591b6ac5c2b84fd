"""MultiHop benchmark: knowledge-base build time, reset time, search latency, env steps/s.

    python benchmarks/multihop.py                    # kb_size 200 (the default env), 20k steps per policy
    python benchmarks/multihop.py --sizes 200 1000 --steps 50000 --out benchmarks/results/multihop/run.json

Policies: ``random-valid`` picks uniformly among ``info["admissible_actions"]`` (search or
answer a named entity, open a listed document); ``expert`` plays ``env.solve()``. Steps/s counts
every ``reset`` and ``step`` in the loop. "warm" runs on the process's shared knowledge base
(repeated queries hit the memo caches, as in training); "uncached" clears the search caches
before every step, so every search runs FTS5/BM25. CartPole's steps/s on the same machine is
printed as a yardstick of the load (about 110k/s on an idle core, docs NOTES).
Steps/s are given per wall-clock second (what a run sees on this machine, with whatever else it
runs; the load average is printed) and per CPU second of this process (``time.process_time``:
the time the process actually ran, which stays near the idle-machine figure on a shared CPU;
compare CartPole's two figures to see how far apart they are).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from hiergym.envs.research import KnowledgeBase, MultiHopEnv
from hiergym.envs.research.questions import generate_questions
from hiergym.envs.research.world import generate_world


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q / 100 * len(xs)))]


def cartpole_steps_per_s(steps: int = 50_000) -> tuple[float, float]:
    """CartPole-v1 (unwrapped, random actions): (steps per wall second, steps per CPU second)."""
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(2, size=steps)
    t0, c0 = time.perf_counter(), time.process_time()
    for a in actions:
        _, _, terminated, _, _ = env.step(int(a))
        if terminated:
            env.reset()
    return steps / (time.perf_counter() - t0), steps / (time.process_time() - c0)


def build_times(size: int) -> dict[str, float]:
    """Seconds to generate the world, index it (memory; file first time; file reopened) and make the 2-4 hop questions."""
    t0 = time.perf_counter()
    world = generate_world(0, size)
    world_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    kb = KnowledgeBase(0, size)
    kb_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    counts = {h: len(generate_questions(world, kb.heads("train"), h)) for h in (2, 3, 4)}
    questions_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        KnowledgeBase(0, size, cache_dir=cache)
        disk_first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        KnowledgeBase(0, size, cache_dir=cache)
        disk_again_s = time.perf_counter() - t0
    return {
        "entities": len(world.entities), "documents": len(world.documents), "passages": len(world.passages),
        "train_questions_2_3_4_hops": sum(counts.values()),
        "world_s": world_s, "kb_in_memory_s": kb_s, "kb_disk_first_s": disk_first_s, "kb_disk_reopen_s": disk_again_s,
        "questions_s": questions_s,
    }


def reset_times(env: MultiHopEnv, n: int) -> dict[str, float]:
    times = []
    for seed in range(n):
        t0 = time.perf_counter()
        env.reset(seed=seed)
        times.append((time.perf_counter() - t0) * 1e6)
    return {"reset_us_mean": statistics.fmean(times), "reset_us_p50": percentile(times, 50), "reset_us_p99": percentile(times, 99)}


def search_latency(kb: KnowledgeBase, n: int) -> dict[str, float]:
    """Uncached FTS5 search latency (ms) for the queries agents send: names, names + relation words, two random words."""
    rng = np.random.default_rng(0)
    words = [w for e in kb.world.entities for w in e.name.lower().split()] + ["founded", "born", "city", "company", "capital", "studied"]
    queries = []
    for i in range(n):
        e = kb.world.entities[int(rng.integers(len(kb.world.entities)))]
        kind = i % 3
        queries.append(e.name if kind == 0 else f"{e.name} founded born" if kind == 1 else f"{words[int(rng.integers(len(words)))]} {words[int(rng.integers(len(words)))]}")
    times = []
    for q in queries:
        kb.index.clear_cache()
        t0 = time.perf_counter()
        kb.index.search(q, 5)
        times.append((time.perf_counter() - t0) * 1000)
    return {"search_ms_p50": percentile(times, 50), "search_ms_p99": percentile(times, 99), "search_ms_mean": statistics.fmean(times)}


def run_policy(env: MultiHopEnv, policy: str, steps: int, *, uncached: bool = False) -> dict[str, float]:
    rng = np.random.default_rng(0)
    n = episodes = finished = wins = 0
    seed = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while n < steps:
        _, info = env.reset(seed=seed)
        seed += 1
        episodes += 1
        plan = env.solve() if policy == "expert" else None
        done = False
        while not done and n < steps:
            if uncached:
                env.kb.clear_caches()
            if plan is not None:
                action = plan.pop(0)
            else:
                hints = info["admissible_actions"]
                action = hints[int(rng.integers(len(hints)))]
            _, _, terminated, truncated, info = env.step(action)
            n += 1
            done = terminated or truncated
        if done:  # the last episode may be cut by the step budget: success counts finished ones
            finished += 1
            wins += bool(info["won"])
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"steps": n, "episodes": episodes, "steps_per_s": n / elapsed, "steps_per_cpu_s": n / cpu, "success": wins / max(finished, 1)}


def one_search_baseline(env: MultiHopEnv, episodes: int) -> dict[int, float]:
    """Exact match by hop count of a retrieval-only answer: search the whole question once, answer the
    first entity of the answer's type the results name (the type is read off the question). Shows how
    much of the task one retrieval solves without following the chain."""
    from hiergym.envs.research.world import RELATIONS

    type_of = {e.name: e.type for e in env.kb.world.entities}
    wins: dict[int, list[float]] = {}
    for seed in range(episodes):
        _, info = env.reset(seed=seed)
        q = env.question
        want = RELATIONS[q.relations[-1]].object_type
        _, _, _, _, info = env.step(f"search[{q.text}]")
        named = [h[len("answer["):-1] for h in info["admissible_actions"] if h.startswith("answer[")]
        guess = next((n for n in named if type_of.get(n) == want and n != env.kb.name(q.head)), "nothing")
        _, reward, _, _, _ = env.step(f"answer[{guess}]")
        wins.setdefault(q.hops, []).append(float(reward == 1.0))
    return {h: statistics.fmean(v) for h, v in sorted(wins.items())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--uncached-steps", type=int, default=2_000)
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON here")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    cartpole_wall, cartpole_cpu = cartpole_steps_per_s()
    result: dict = {"commit": commit, "load_average_1m_before": os.getloadavg()[0], "cartpole_steps_per_s": cartpole_wall, "cartpole_steps_per_cpu_s": cartpole_cpu, "sizes": {}}
    print(f"commit {commit}; load average {result['load_average_1m_before']:.1f}; "
          f"CartPole yardstick {cartpole_wall:,.0f} steps/s wall, {cartpole_cpu:,.0f} per CPU second")
    for size in args.sizes:
        row = build_times(size)
        t0 = time.perf_counter()
        env = MultiHopEnv(kb_size=size)
        row["env_first_construction_s"] = time.perf_counter() - t0
        row.update(reset_times(env, 2000))
        row.update(search_latency(env.kb, 600))
        for policy in ("random-valid", "expert"):
            row[policy] = run_policy(env, policy, args.steps)
            row[f"{policy} uncached"] = run_policy(env, policy, args.uncached_steps, uncached=True)
        one_hop = MultiHopEnv(kb_size=size, min_hops=1, max_hops=1)
        row["one_search_baseline_em_by_hops"] = {**one_search_baseline(one_hop, 300), **one_search_baseline(env, 600)}
        result["sizes"][size] = row
        print(f"\nkb_size={size}: {row['entities']} entities, {row['documents']} documents, {row['passages']} passages, "
              f"{row['train_questions_2_3_4_hops']} train questions (2-4 hops)")
        print(f"  build: world {row['world_s']:.2f}s, KB in memory {row['kb_in_memory_s']:.2f}s, KB on disk {row['kb_disk_first_s']:.2f}s "
              f"first / {row['kb_disk_reopen_s']:.2f}s reopened, 2-4 hop questions {row['questions_s']:.2f}s; first env {row['env_first_construction_s']:.2f}s")
        print(f"  reset: mean {row['reset_us_mean']:.0f} us, p50 {row['reset_us_p50']:.0f} us, p99 {row['reset_us_p99']:.0f} us")
        print(f"  uncached search: p50 {row['search_ms_p50']:.2f} ms, p99 {row['search_ms_p99']:.2f} ms")
        for policy in ("random-valid", "expert", "random-valid uncached", "expert uncached"):
            r = row[policy]
            print(f"  {policy:>22}: {r['steps_per_s']:>9,.0f} steps/s wall, {r['steps_per_cpu_s']:>9,.0f} per CPU second "
                  f"({r['steps']} steps, {r['episodes']} episodes, success {r['success']:.3f})")
        print("  one-search baseline exact match by hops: " + ", ".join(f"{h} hops {em:.2f}" for h, em in row["one_search_baseline_em_by_hops"].items()))
    result["load_average_1m_after"] = os.getloadavg()[0]
    print(f"\nload average after: {result['load_average_1m_after']:.1f}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
