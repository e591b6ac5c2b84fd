"""Why subgoal-QMIX executors fail on GoalGrid even when the goal split is right: the failed episodes under the oracle split.

    python benchmarks/marl_subgoal_failures.py RUN_DIR [RUN_DIR ...] [--episodes 256] [--out FILE.json]

For each run (a GoalGrid subgoal arm of ``benchmarks/marl.py``, final checkpoint), plays ``--episodes``
greedy held-out episodes with the distance-optimal goal split forced at every decision
(``marl_subgoal_diagnosis.oracle_success``'s setting) and, in the failed ones, classifies every agent
that ends off its goal: ``stuck`` (its offset to the goal unchanged over the last 5 steps), ``oscillating``
(at most 2 distinct offsets over the last 5 steps), or ``moving``; plus its remaining distance (cells).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

LAST = 5
"""Steps at the end of a failed episode that decide stuck / oscillating."""


def oracle_failures(run_dir: Path, episodes: int) -> dict[str, Any]:
    from hiergym.algos.marl.train import EVAL_SEED_BASE
    from hiergym.collector import FINAL_OBSERVATION
    from marl_subgoal_diagnosis import collect_with_oracle_split, load_trainer

    trainer = load_trainer(run_dir)
    try:
        trajs = collect_with_oracle_split(trainer, [EVAL_SEED_BASE + j for j in range(episodes)])
    finally:
        trainer.collector.close()
    cells = int(trainer.run.env_kwargs.get("size", 7)) - 1  # offsets are normalised by (size - 1)
    counts = {"stuck": 0, "oscillating": 0, "moving": 0}
    distances = []
    failed = [t for t in trajs if not t.success]
    for t in failed:
        feats = np.stack([turn.observation.subgoal_feat for turn in t.turns] + [t.meta[FINAL_OBSERVATION].subgoal_feat])  # [T+1, N, G, 2]
        goals = [int(g) for g in t.turns[-1].action.subgoals]
        for i, g in enumerate(goals):
            offsets = feats[-(LAST + 1) :, i, g]
            if not np.abs(offsets[-1]).sum() > 1e-6:
                continue
            distances.append(float(np.abs(offsets[-1]).sum()) * cells)
            distinct = len({tuple(np.round(o, 4)) for o in offsets})
            counts["stuck" if distinct == 1 else "oscillating" if distinct <= 2 else "moving"] += 1
    return {
        "oracle_success": float(np.mean([t.success for t in trajs])),
        "failed_episodes": len(failed),
        "agents_off_goal": sum(counts.values()),
        **counts,
        "mean_remaining_cells": float(np.mean(distances)) if distances else 0.0,
        "failed_at_time_limit": float(np.mean([len(t.turns) == trainer.spec.episode_limit for t in failed])) if failed else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--episodes", type=int, default=256)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    result = {}
    for run in args.runs:
        result[run] = oracle_failures(Path(run), args.episodes)
        print(run, json.dumps(result[run]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
