"""Why subgoal-QMIX trails QMIX on sparse GoalGrid: measurements on the trained runs of ``benchmarks/marl.py``.

    python benchmarks/marl_subgoal_diagnosis.py [--out benchmarks/results/marl_subgoal] [--episodes 200] [--arms ARM ...]

Reads the final checkpoint of every GoalGrid subgoal run under ``OUT/runs/GoalGrid/<arm>/seed<k>``
(``subgoal-qmix``: independent subgoal picks; ``subgoal-qmix-joint``: joint conflict-free picks),
plays ``--episodes`` greedy held-out episodes (the evaluation seeds, the benchmark's 12 first) and
measures, per run:

- ``success``: greedy success rate;
- ``conflict``: share of subgoal decisions at which both agents pick the same goal (a certain
  failure while it lasts: one goal stays uncovered);
- ``mixer_prefers_conflict``: share of first steps where the high-level mixer's ``Q_tot`` is highest
  for a conflicting joint pick (with independent picks the agents follow exactly that ranking);
- ``optimal_assignment``: share of decisions whose joint pick is the distance-optimal goal split;
- ``switches``: share of re-decisions that change some agent's subgoal;
- ``achieved``: share of executor segments (one agent, one subgoal period) that reach their subgoal;
- ``oracle_success``: success when the distance-optimal split replaces the high level's pick at every
  decision and the learned executors act (the executors' ceiling);
- ``length``: mean episode length.

Writes ``OUT/diagnosis.md`` and ``OUT/diagnosis.json`` (per run and the mean over seeds).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

ARMS = ("subgoal-qmix", "subgoal-qmix-joint")
METRICS = ("success", "oracle_success", "conflict", "mixer_prefers_conflict", "optimal_assignment", "switches", "achieved", "length")


def optimal_split(subgoal_feat: np.ndarray) -> np.ndarray:
    """``[B, 2]`` distance-optimal goal per agent for two agents and two goals (``subgoal_feat [B, 2, 2, F]`` offsets)."""
    d = np.abs(subgoal_feat).sum(-1)  # [B, agent, goal]
    straight = d[:, 0, 0] + d[:, 1, 1] <= d[:, 0, 1] + d[:, 1, 0]
    return np.where(straight[:, None], [0, 1], [1, 0])


def load_trainer(run_dir: Path) -> Any:
    """A trainer rebuilt from the run's config.json with the final checkpoint's networks (its logs go to a scratch dir)."""
    import tempfile

    import torch

    from hiergym.algos.marl.configs import MarlRunConfig, make_algo_config
    from hiergym.algos.marl.train import MarlTrainer

    config = json.loads((run_dir / "config.json").read_text())
    algo = dict(config["algo"])
    name = algo.pop("algo")
    algo["subgoal_ids"] = tuple(algo["subgoal_ids"])
    run = MarlRunConfig(**{**config["run"], "run_dir": tempfile.mkdtemp(prefix="diag-"), "resume": False})
    trainer = MarlTrainer(run, make_algo_config(name, **algo))
    latest = sorted((run_dir / "checkpoints").glob("step-*.pt"))[-1]
    trainer.learner.load_state_dict(torch.load(latest, weights_only=False, map_location="cpu")["learner"])
    return trainer


def diagnose(run_dir: Path, episodes: int) -> dict[str, float]:
    import torch

    from hiergym.algos.marl.episodes import episode_columns
    from hiergym.algos.marl.learner import to_tensors
    from hiergym.algos.marl.train import EVAL_SEED_BASE

    trainer = load_trainer(run_dir)
    agents, seeds = trainer.agents, [EVAL_SEED_BASE + j for j in range(episodes)]
    try:
        trajs = trainer.collect_greedy(seeds)
        cols = episode_columns(trajs, trainer.spec)
        mask, subgoal, done = cols["mask"], cols["subgoal"], cols["subgoal_done"]
        decision = cols["decision"] * mask
        feat = cols["subgoal_feat"][:, :-1]  # [E, T, N, G, F] before each step
        same = subgoal[..., 0] == subgoal[..., 1]
        optimal = optimal_split(feat.reshape(-1, *feat.shape[2:])).reshape(*subgoal.shape)
        switches = re_decisions = segments = reached = 0
        for e in range(len(trajs)):
            n = int(mask[e].sum())
            starts = np.flatnonzero(decision[e, :n])
            switches += int(sum((subgoal[e, a] != subgoal[e, b]).any() for a, b in zip(starts[:-1], starts[1:])))
            re_decisions += max(len(starts) - 1, 0)
            for a, b in zip(starts, [*starts[1:], n]):
                segments += 2
                reached += int(done[e, a:b].any(0).sum())
        b = to_tensors(cols)
        with torch.no_grad():  # the mixer's ranking of the four joint picks at the first step
            high = agents.high
            q = high.q_values(high.unroll(agents.high_inputs(b["obs"], b.get("subgoal_feat")), b["subgoal"]))[:, 0]  # [E, N, G]
            picks = [(0, 0), (0, 1), (1, 0), (1, 1)]
            q_tot = torch.stack([trainer.learner.mixer(torch.stack([q[:, 0, i], q[:, 1, j]], -1), b["state"][:, 0]) for i, j in picks], -1)
            prefers_conflict = float(np.isin(q_tot.argmax(-1).numpy(), (0, 3)).mean())
        oracle = oracle_success(trainer, seeds)
    finally:
        trainer.collector.close()
    return {
        "success": float(np.mean([t.success for t in trajs])),
        "oracle_success": oracle,
        "conflict": float((same * decision).sum() / decision.sum()),
        "mixer_prefers_conflict": prefers_conflict,
        "optimal_assignment": float(((subgoal == optimal).all(-1) * decision).sum() / decision.sum()),
        "switches": switches / max(re_decisions, 1),
        "achieved": reached / max(segments, 1),
        "length": float(mask.sum(1).mean()),
    }


def collect_with_oracle_split(trainer: Any, seeds: list[int]) -> list[Any]:
    """Greedy episodes in which every subgoal decision takes the distance-optimal split instead of the high level's pick."""
    import torch

    agents = trainer.agents
    act, joint, pick = agents.act, agents.joint_scorer, getattr(agents, "pick_joint", None)

    def oracle_act(obs, avail, carry, *, subgoal_feat=None, **kw):
        split = torch.as_tensor(optimal_split(subgoal_feat))
        agents.pick_joint = lambda *a, **k: split
        agents.joint_scorer = joint if joint is not None else torch.nn.Identity()  # route every decision through pick_joint
        kw.setdefault("state", np.zeros((len(obs), 1), np.float32))
        try:
            return act(obs, avail, carry, subgoal_feat=subgoal_feat, **kw)
        finally:
            agents.joint_scorer, agents.pick_joint = joint, pick

    agents.act = oracle_act
    try:
        return trainer.collect_greedy(seeds)
    finally:
        agents.act = act


def oracle_success(trainer: Any, seeds: list[int]) -> float:
    """Greedy success with the distance-optimal subgoal split forced (the executors' ceiling)."""
    return float(np.mean([t.success for t in collect_with_oracle_split(trainer, seeds)]))


def markdown(per_run: dict[str, list[dict[str, float]]], episodes: int) -> str:
    lines = [
        f"GoalGrid (5x5, 2 agents, 2 goals, sparse), final checkpoints of the benchmark runs, {episodes} greedy held-out episodes per run; mean over seeds (per-seed values in diagnosis.json)",
        "",
        "| arm | seeds | " + " | ".join(METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    for arm, runs in per_run.items():
        means = [np.mean([r[m] for r in runs]) for m in METRICS]
        lines.append(f"| {arm} | {len(runs)} | " + " | ".join(f"{v:.3f}" if m != "length" else f"{v:.1f}" for m, v in zip(METRICS, means)) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/marl_subgoal")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), help="subgoal arms under OUT/runs/GoalGrid/ to diagnose")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    per_run: dict[str, list[dict[str, float]]] = {}
    for arm in args.arms:
        for run_dir in sorted((out / "runs" / "GoalGrid" / arm).glob("seed*")):
            if not list((run_dir / "checkpoints").glob("step-*.pt")):
                continue
            row = {"seed": int(run_dir.name[4:]), **diagnose(run_dir, args.episodes)}
            per_run.setdefault(arm, []).append(row)
            print(arm, json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)
    text = markdown(per_run, args.episodes)
    print(text)
    (out / "diagnosis.md").write_text(text + "\n")
    (out / "diagnosis.json").write_text(json.dumps(per_run, indent=1))


if __name__ == "__main__":
    main()
