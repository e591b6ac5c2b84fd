"""The MARL training loop: collect with the runner, learn from the replay buffer, evaluate, log, checkpoint.

A run directory holds ``config.json``, ``metrics.csv`` (one row per evaluation),
``learning_curve.png``, ``trajectories.jsonl`` (the latest greedy evaluation episodes, one
record per agent) and ``checkpoint.pt`` (networks, optimisers, replay buffer, RNG states and
counters), so a stopped run resumes exactly where it was (``MarlRunConfig.resume``).
Progress goes to ``logging`` and to caller hooks (the CLI draws a progress bar from them).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hiergym.agents.marl.action_selection import LinearSchedule
from hiergym.agents.marl.controller import QMixAgents, SubgoalQMixAgents
from hiergym.algos.marl.buffer import EpisodeBuffer
from hiergym.algos.marl.configs import AlgoConfig, MarlRunConfig, SubgoalQMIXConfig
from hiergym.algos.marl.hrl import SubgoalQLearner
from hiergym.algos.marl.learner import QLearner
from hiergym.algos.marl.runner import CollectResult, EnvSpec, EpisodeRunner, SubgoalRewards, probe_env
from hiergym.error import ConfigError
from hiergym.types import save_jsonl

logger = logging.getLogger(__name__)

TRAIN_SEED_STRIDE = 1_000_000
"""Training episode i of run seed s uses env seed ``s * TRAIN_SEED_STRIDE + i``."""
EVAL_SEED_BASE = 2_000_000_000
"""Evaluation episodes use env seeds ``EVAL_SEED_BASE + j``: the same tasks at every evaluation, never trained on."""
CHECKPOINT, METRICS, CURVE, TRAJECTORIES, CONFIG = "checkpoint.pt", "metrics.csv", "learning_curve.png", "trajectories.jsonl", "config.json"

ProgressHook = Callable[[int, dict[str, Any] | None], None]
"""Called as ``hook(t_env, row)`` after every collection; ``row`` is the metrics row on evaluations, else None."""


def build_agents(spec: EnvSpec, algo: AlgoConfig) -> QMixAgents | SubgoalQMixAgents:
    """The acting side for ``algo`` on an env described by ``spec``."""
    kw = dict(hidden_dim=algo.hidden_dim, agent_id=algo.agent_id, last_action=algo.last_action)
    n = len(spec.agents)
    if isinstance(algo, SubgoalQMIXConfig):
        return SubgoalQMixAgents(
            n, spec.obs_dim, spec.n_actions, spec.n_subgoals, goal_horizon=algo.goal_horizon, subgoal_feat_dim=spec.subgoal_feat_dim, **kw
        )
    return QMixAgents(n, spec.obs_dim, spec.n_actions, **kw)


def build_learner(agents: QMixAgents | SubgoalQMixAgents, spec: EnvSpec, algo: AlgoConfig) -> QLearner | SubgoalQLearner:
    if isinstance(algo, SubgoalQMIXConfig):
        return SubgoalQLearner(agents, algo, state_dim=spec.state_dim)
    return QLearner(agents, algo, state_dim=spec.state_dim)


class MarlTrainer:
    """One training run of IQL / VDN / QMIX / subgoal-QMIX on a PettingZoo ParallelEnv."""

    def __init__(
        self,
        run: MarlRunConfig,
        algo: AlgoConfig,
        *,
        env_fn: Callable[[], Any] | None = None,
        hooks: Sequence[ProgressHook] = (),
    ):
        self.run, self.algo, self.hooks = run, algo, list(hooks)
        torch.set_num_threads(run.torch_threads)
        torch.manual_seed(run.seed)
        self.env_fn = env_fn or self._registered_env
        hierarchical = isinstance(algo, SubgoalQMIXConfig)
        self.spec = probe_env(
            self.env_fn(),
            episode_limit=run.episode_limit,
            subgoals=hierarchical,
            subgoal_ids=algo.subgoal_ids if hierarchical else (),
            subgoal_features=hierarchical and algo.subgoal_features,
        )
        self.agents = build_agents(self.spec, algo)
        self.learner = build_learner(self.agents, self.spec, algo)
        self.buffer = EpisodeBuffer(algo.buffer_size, self.spec.episode_limit, self.spec.buffer_fields())
        rewards = SubgoalRewards(algo.subgoal_bonus, algo.step_cost, algo.mask_achieved) if hierarchical else None
        envs = [self.env_fn() for _ in range(run.n_envs)]
        self.runner = EpisodeRunner(envs, self.agents, self.spec, env_id=run.env_id, subgoal_rewards=rewards)
        self.epsilon = LinearSchedule(algo.epsilon_start, algo.epsilon_finish, algo.epsilon_anneal_steps)
        self.generator = torch.Generator().manual_seed(run.seed)
        self.rng = np.random.default_rng(run.seed)
        self.counters = {"t_env": 0, "episodes": 0, "updates": 0, "next_eval": 0, "next_checkpoint": run.checkpoint_interval_steps}
        self.run_dir = Path(run.run_dir)
        self._window: list[CollectResult] = []
        self._last_stats: dict[str, float] = {}
        self._started = time.perf_counter()

    def _registered_env(self) -> Any:
        from hiergym.registration import make_parallel

        return make_parallel(self.run.env_id, **self.run.env_kwargs)

    # --- the loop --------------------------------------------------------------------------
    def train(self) -> list[dict[str, Any]]:
        """Run until ``total_env_steps``; returns the metrics rows written during this call."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.run.resume and (self.run_dir / CHECKPOINT).exists():
            self.load_checkpoint(self.run_dir / CHECKPOINT)
        self._write_config()
        rows = []
        c = self.counters
        while c["t_env"] < self.run.total_env_steps:
            self._iteration()
            row = None
            if c["t_env"] >= c["next_eval"]:
                row = self.evaluate()
                rows.append(row)
                c["next_eval"] += self.run.eval_interval_steps
            if c["t_env"] >= c["next_checkpoint"]:
                self.save_checkpoint(self.run_dir / CHECKPOINT)
                c["next_checkpoint"] += self.run.checkpoint_interval_steps
            for hook in self.hooks:
                hook(c["t_env"], row)
        if not rows or rows[-1]["t_env"] != c["t_env"]:
            rows.append(self.evaluate())
        self.save_checkpoint(self.run_dir / CHECKPOINT)
        if self.run.plot:
            plot_learning_curve(self.run_dir / METRICS, self.run_dir / CURVE, title=f"{self.algo.algo} on {self.run.env_id}")
        return rows

    def _iteration(self) -> None:
        c, n = self.counters, self.run.n_envs
        seeds = [self.run.seed * TRAIN_SEED_STRIDE + c["episodes"] + i for i in range(n)]
        result = self.runner.collect(seeds, epsilon=self.epsilon(c["t_env"]), generator=self.generator)
        c["t_env"] += result.env_steps
        c["episodes"] += len(result.returns)
        self.buffer.insert(result.episodes)
        self._window.append(result)
        if self.buffer.can_sample(self.algo.batch_size):
            for _ in range(self.run.train_steps_per_collect):
                self._last_stats = self.learner.train(self.buffer.sample(self.algo.batch_size, self.rng))
                c["updates"] += 1
        self.learner.maybe_update_targets(self.buffer.episodes_seen)

    def evaluate(self) -> dict[str, Any]:
        """Greedy episodes on the fixed evaluation seeds; appends a metrics row and returns it."""
        c = self.counters
        seeds = [EVAL_SEED_BASE + j for j in range(self.run.eval_episodes)]
        result = self.runner.collect(seeds, epsilon=0.0, record_trajectories=True)
        if result.trajectories:
            save_jsonl(result.trajectories, self.run_dir / TRAJECTORIES)
        window = self._window or [result]
        train_returns = np.concatenate([w.returns for w in window])
        train_success = np.concatenate([w.successes for w in window])
        self._window = []
        row = {
            "t_env": c["t_env"],
            "episodes": c["episodes"],
            "updates": c["updates"],
            "epsilon": round(self.epsilon(c["t_env"]), 4),
            "train_return": float(train_returns.mean()) if len(train_returns) else float("nan"),
            "train_success": float(train_success.mean()) if len(train_success) else float("nan"),
            "eval_return": float(result.returns.mean()) if len(result.returns) else float("nan"),
            "eval_success": float(result.successes.mean()) if len(result.successes) else float("nan"),
            "eval_length": float(result.lengths.mean()) if len(result.lengths) else float("nan"),
            "loss": self._last_stats.get("loss", float("nan")),
            "low_loss": self._last_stats.get("low_loss", float("nan")),
            "wall_time": round(time.perf_counter() - self._started, 2),
        }
        append_csv(self.run_dir / METRICS, row)
        logger.info("t_env=%d eval_return=%.3f eval_success=%.2f", row["t_env"], row["eval_return"], row["eval_success"])
        return row

    # --- persistence -----------------------------------------------------------------------
    def _write_config(self) -> None:
        config = {"run": asdict(self.run), "algo": self.algo.to_dict(), "spec": asdict(self.spec)}
        (self.run_dir / CONFIG).write_text(json.dumps(config, indent=2, default=str))

    def save_checkpoint(self, path: Path) -> None:
        """Write atomically (temp file + rename) so a kill during the save never corrupts the last one."""
        state = {
            "algo": self.algo.to_dict(),
            "learner": self.learner.state_dict(),
            "buffer": self.buffer.state_dict() if self.run.save_buffer else None,
            "counters": dict(self.counters),
            "generator": self.generator.get_state(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "window": self._window,
            "last_stats": self._last_stats,
        }
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)

    def load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=False)  # our own file: numpy arrays and dicts
        if state["algo"] != self.algo.to_dict():
            raise ConfigError("resume", str(path), f"a checkpoint of the same algo config; it holds {state['algo']}")
        self.learner.load_state_dict(state["learner"])
        if state["buffer"] is not None:
            self.buffer.load_state_dict(state["buffer"])
        self.counters.update(state["counters"])
        self.generator.set_state(state["generator"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self._window, self._last_stats = state["window"], state["last_stats"]
        logger.info("resumed %s at t_env=%d", path, self.counters["t_env"])


def append_csv(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` to a CSV file, writing the header when the file is new."""
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def read_csv(path: Path) -> list[dict[str, float]]:
    with path.open() as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def plot_learning_curve(metrics: Path, out: Path, *, title: str) -> Path | None:
    """Evaluation and training return against env steps, from ``metrics.csv``."""
    if not metrics.exists():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_csv(metrics)
    steps = [r["t_env"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, [r["eval_return"] for r in rows], marker="o", label="greedy evaluation")
    ax.plot(steps, [r["train_return"] for r in rows], alpha=0.6, label="training (epsilon-greedy)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("team return per episode")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
