"""WebShop benchmark: catalogue build time, search latency (FTS5/BM25 vs a naive LIKE scan),
env steps/s in-process vs over HTTP, and loopback load (concurrent sessions, p50/p99).

    python benchmarks/webshop.py                 # 1k and 100k products, load 200 x 20
    python benchmarks/webshop.py --sizes 1000 --skip-load

Timings are wall-clock on whatever else the machine runs; run it on an idle machine (see `uptime`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from hiergym.envs.webshop.catalogue import generate_catalogue
from hiergym.envs.webshop.env import WebShopEnv
from hiergym.envs.webshop.expert import evaluate, expert, expert_query, random_baseline
from hiergym.envs.webshop.http_env import WebShopHttpEnv
from hiergym.envs.webshop.instructions import goal_for_task
from hiergym.envs.webshop.load import ServerProcess, run_load
from hiergym.envs.webshop.store import ProductStore, build_database


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q / 100 * len(xs)))]


def build_store(n: int, cache_dir: str) -> tuple[ProductStore, float, float]:
    """A fresh catalogue file for n products: (read-only store, seconds to generate, seconds to insert + index)."""
    t0 = time.perf_counter()
    products = list(generate_catalogue(n, seed=0))
    gen_s = time.perf_counter() - t0
    path = Path(cache_dir) / f"bench-n{n}.sqlite"
    conn = sqlite3.connect(path)
    t0 = time.perf_counter()
    build_database(conn, products, seed=0, n=n)
    index_s = time.perf_counter() - t0
    conn.close()
    store = ProductStore(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False))
    return store, gen_s, index_s


def search_latency(store: ProductStore, queries: list[str], like_queries: int) -> dict[str, float]:
    fts, like = [], []
    for q in queries:
        t0 = time.perf_counter()
        store.search(q)
        fts.append((time.perf_counter() - t0) * 1000)
    for q in queries[:like_queries]:
        t0 = time.perf_counter()
        store.like_search(q)
        like.append((time.perf_counter() - t0) * 1000)
    return {
        "fts_p50": percentile(fts, 50), "fts_p99": percentile(fts, 99),
        "like_p50": percentile(like, 50), "like_p99": percentile(like, 99),
        "speedup_p50": percentile(like, 50) / percentile(fts, 50),
    }


def steps_per_second(env, steps: int) -> float:
    """A seeded random walk over admissible actions (searching with the goal's words)."""
    rng = random.Random(0)
    obs, info = env.reset(seed=0)
    t0 = time.perf_counter()
    for i in range(steps):
        actions = info["admissible_actions"]
        action = f"search[{expert_query(env.unwrapped.goal)}]" if actions == ["search[<query>]"] else rng.choice(actions)
        obs, r, term, trunc, info = env.step(action)
        if term or trunc:
            obs, info = env.reset(seed=i)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    ap.add_argument("--queries", type=int, default=200, help="search queries per size (from task goals)")
    ap.add_argument("--like-queries", type=int, default=20, help="queries timed with the LIKE scan")
    ap.add_argument("--steps", type=int, default=2000, help="env steps for the steps/s rows")
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--actions", type=int, default=20)
    ap.add_argument("--tasks", type=int, default=200, help="tasks for the expert / random baseline rows")
    ap.add_argument("--skip-load", action="store_true")
    args = ap.parse_args()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"# WebShop benchmark (commit {commit}, load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs)\n")
    print("| products | generate s | insert + FTS index s | FTS5 p50 ms | FTS5 p99 ms | LIKE p50 ms | LIKE p99 ms | FTS5 speed-up (p50) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    tmp = tempfile.mkdtemp(prefix="webshop-bench-")
    for n in args.sizes:
        store, gen_s, index_s = build_store(n, tmp)
        queries = [expert_query(goal_for_task(store, t)) for t in range(args.queries)]
        s = search_latency(store, queries, args.like_queries)
        store.close()
        print(f"| {n:,} | {gen_s:.2f} | {index_s:.2f} | {s['fts_p50']:.2f} | {s['fts_p99']:.2f} | "
              f"{s['like_p50']:.1f} | {s['like_p99']:.1f} | {s['speedup_p50']:.0f}x |", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)

    local = WebShopEnv()
    if args.tasks:
        print(f"\n| policy ({args.tasks} tasks, seeds 0..{args.tasks - 1}) | success (r = 1) | mean reward | mean steps |")
        print("|---|---:|---:|---:|")
        for name, make_policy in (("scripted expert", expert), ("random clicks", random_baseline(0))):
            ev = evaluate(local, make_policy, range(args.tasks))
            print(f"| {name} | {ev.success_rate:.3f} | {ev.mean_reward:.3f} | {ev.mean_steps:.2f} |", flush=True)
    remote = WebShopHttpEnv()  # private uvicorn server in a background thread of this process
    print("\n| env | steps/s |\n|---|---:|")
    print(f"| WebShop-v0 (in-process) | {steps_per_second(local, args.steps):.0f} |")
    print(f"| WebShop-http-v0 (loopback HTTP) | {steps_per_second(remote, args.steps // 4):.0f} |", flush=True)
    local.close()
    remote.close()

    if not args.skip_load:
        with ServerProcess(num_products=1000) as server:
            report = asyncio.run(run_load(server.url, args.sessions, args.actions, timeout_s=900))
        print(f"\nLoad ({args.sessions} concurrent sessions x {args.actions} actions, server in its own process): "
              f"{report.summary()}")
        print(f"latency mean {statistics.fmean(report.latencies_ms):.1f} ms")


if __name__ == "__main__":
    main()
