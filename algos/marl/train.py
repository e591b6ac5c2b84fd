"""The MARL training loop: collect with the shared collector, learn from the replay buffer, evaluate, log, checkpoint.

Episodes come from :class:`hiergym.collector.Collector` (PettingZoo envs wrapped as team envs,
:class:`~hiergym.agents.marl.policy.EpsilonGreedyPolicy` acting) and enter the replay buffer as
columns (:func:`~hiergym.algos.marl.episodes.episode_columns`). The run directory is the one every
learner uses (:class:`hiergym.runs.RunDir`): ``config.json``, ``metrics.csv`` (one row per
evaluation) + ``throughput.csv`` + TensorBoard, ``curve.png``, ``samples.jsonl`` (greedy
evaluation episodes, one record per agent) and ``checkpoints/step-N.pt`` (networks, optimisers,
the replay buffer stored compactly unless ``save_buffer=False``, RNG states, counters), so a
stopped run resumes exactly where it was (``MarlRunConfig.resume``).

Randomness: exploration draws come from per-episode streams (``sampling_seed`` of the run seed,
the iteration, the env seed), so they do not depend on slot order or worker count; the buffer
sampler is a numpy Generator seeded with the run seed and saved in checkpoints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from hiergym.agents.marl.action_selection import LinearSchedule
from hiergym.agents.marl.controller import QMixAgents, SubgoalQMixAgents
from hiergym.agents.marl.policy import EpsilonGreedyPolicy
from hiergym.algos.marl.buffer import EpisodeBuffer
from hiergym.algos.marl.configs import LearnerConfig, MarlRunConfig, SubgoalQMIXConfig
from hiergym.algos.marl.env_stack import EnvSpec, SubgoalRewards, TeamEnvMaker, probe_env
from hiergym.algos.marl.episodes import agent_trajectories, episode_columns
from hiergym.algos.marl.hrl import SubgoalQLearner
from hiergym.algos.marl.learner import QLearner, make_mixer
from hiergym.collector import Collector, CollectStats
from hiergym.error import ConfigError
from hiergym.registration import make_parallel
from hiergym.runs import RunDir, restore_rng
from hiergym.types import Trajectory

logger = logging.getLogger(__name__)

TRAIN_SEED_STRIDE = 1_000_000
"""Training episode i of run seed s uses env seed ``s * TRAIN_SEED_STRIDE + i``."""
EVAL_SEED_BASE = 2_000_000_000
"""Evaluation episodes use env seeds ``EVAL_SEED_BASE + j``: the same tasks at every evaluation, never trained on."""
STREAM_STRIDE = 1_000_003
"""The sampling stream of iteration i of run seed s is ``s * STREAM_STRIDE + i``."""
CURVE_KEYS = ("eval_return", "train_return", "eval_success")

ProgressHook = Callable[[int, dict[str, Any] | None], None]
"""Called as ``hook(t_env, row)`` after every collection; ``row`` is the metrics row on evaluations, else None."""


def build_agents(spec: EnvSpec, algo: LearnerConfig) -> QMixAgents | SubgoalQMixAgents:
    """The acting side for ``algo`` on an env described by ``spec``."""
    kw = dict(hidden_dim=algo.hidden_dim, agent_id=algo.agent_id, last_action=algo.last_action)
    n = len(spec.agents)
    if isinstance(algo, SubgoalQMIXConfig):
        joint = algo.subgoal_choice == "joint"
        return SubgoalQMixAgents(
            n,
            spec.obs_dim,
            spec.n_actions,
            spec.n_subgoals,
            goal_horizon=algo.goal_horizon,
            subgoal_feat_dim=spec.subgoal_feat_dim,
            joint_scorer=make_mixer(algo, n, spec.state_dim) if joint else None,
            shared_subgoals=spec.shared_subgoals if joint else (),
            redecide=algo.redecide,
            **kw,
        )
    return QMixAgents(n, spec.obs_dim, spec.n_actions, **kw)


def build_learner(agents: QMixAgents | SubgoalQMixAgents, spec: EnvSpec, algo: LearnerConfig) -> QLearner | SubgoalQLearner:
    if isinstance(algo, SubgoalQMIXConfig):
        return SubgoalQLearner(agents, algo, state_dim=spec.state_dim)
    return QLearner(agents, algo, state_dim=spec.state_dim)


def build_collector(
    run: MarlRunConfig, algo: LearnerConfig, *, env_fn: Callable[[], Any] | None = None, agents: QMixAgents | SubgoalQMixAgents | None = None
) -> tuple[Collector, EnvSpec, EpsilonGreedyPolicy]:
    """The shared collector over ``run.n_envs`` team-env slots with an epsilon-greedy policy for ``algo``.

    ``env_fn``: ``() -> ParallelEnv`` for unregistered envs; default ``make_parallel(run.env_id, **run.env_kwargs)``.
    """
    hierarchical = isinstance(algo, SubgoalQMIXConfig)
    probe = env_fn() if env_fn is not None else make_parallel(run.env_id, **run.env_kwargs)
    spec = probe_env(
        probe,
        episode_limit=run.episode_limit,
        subgoals=hierarchical,
        subgoal_ids=algo.subgoal_ids if hierarchical else (),
        subgoal_features=hierarchical and algo.subgoal_features,
    )
    probe.close()
    rewards = SubgoalRewards(algo.subgoal_bonus, algo.step_cost, algo.mask_achieved) if hierarchical else SubgoalRewards()
    maker = TeamEnvMaker(spec, dict(run.env_kwargs), rewards, make=env_fn)
    policy = EpsilonGreedyPolicy(agents if agents is not None else build_agents(spec, algo), seed=run.seed)
    collector = Collector(
        maker, policy, num_slots=run.n_envs, num_workers=run.num_workers, max_turns=spec.episode_limit + 1, keep_final_observation=True
    )
    return collector, spec, policy


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


class MarlTrainer:
    """One training run of IQL / VDN / QMIX / subgoal-QMIX on a PettingZoo ParallelEnv."""

    def __init__(
        self,
        run: MarlRunConfig,
        algo: LearnerConfig,
        *,
        env_fn: Callable[[], Any] | None = None,
        hooks: Sequence[ProgressHook] = (),
    ):
        self.run, self.algo, self.hooks = run, algo, list(hooks)
        torch.set_num_threads(run.torch_threads)
        torch.manual_seed(run.seed)
        self.collector, self.spec, self.policy = build_collector(run, algo, env_fn=env_fn)
        self.agents = self.policy.agents
        self.learner = build_learner(self.agents, self.spec, algo)
        self.buffer = EpisodeBuffer(algo.buffer_size, self.spec.episode_limit, self.spec.buffer_fields())
        self.epsilon = LinearSchedule(algo.epsilon_start, algo.epsilon_finish, algo.epsilon_anneal_steps)
        self.rng = np.random.default_rng(run.seed)
        self.counters = {"iteration": 0, "t_env": 0, "episodes": 0, "updates": 0, "next_eval": 0, "next_checkpoint": run.checkpoint_interval_steps}
        self._window: list[tuple[float, bool]] = []  # (return, success) of training episodes since the last evaluation
        self._last_stats: dict[str, float] = {}
        self._last_collect = CollectStats()
        self._started = time.perf_counter()
        self.run_dir: RunDir | None = None

    def config_dict(self) -> dict[str, Any]:
        return {"run": asdict(self.run), "algo": self.algo.to_dict(), "spec": asdict(self.spec)}

    # --- the loop --------------------------------------------------------------------------
    def train(self) -> list[dict[str, Any]]:
        """Run until ``total_env_steps``; returns the metrics rows written during this call."""
        self.run_dir = RunDir(self.run.run_dir, self.config_dict(), resume=self.run.resume, tensorboard=self.run.tensorboard)
        try:
            if self.run.resume:
                self._restore()
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
                    self.save_checkpoint()
                    c["next_checkpoint"] += self.run.checkpoint_interval_steps
                for hook in self.hooks:
                    hook(c["t_env"], row)
            if not rows or rows[-1]["t_env"] != c["t_env"]:
                rows.append(self.evaluate())
            self.save_checkpoint()
            if self.run.plot:
                self.run_dir.plot(CURVE_KEYS)
            return rows
        finally:
            self.collector.close()
            self.run_dir.close()

    def _iteration(self) -> None:
        c, n = self.counters, self.run.n_envs
        tasks = [(self.run.env_id, self.run.seed * TRAIN_SEED_STRIDE + c["episodes"] + i) for i in range(n)]
        stream = self.run.seed * STREAM_STRIDE + c["iteration"]
        trajs, self._last_collect = self.collector.collect(tasks, 1, sampling=self.epsilon(c["t_env"]), stream=stream)
        c["iteration"] += 1
        c["t_env"] += self._last_collect.env_steps
        c["episodes"] += len(trajs)
        self.buffer.insert(episode_columns(trajs, self.spec))
        self._window.extend((t.episode_return, t.success) for t in trajs)
        if self.buffer.can_sample(self.algo.batch_size):
            for _ in range(self.run.train_steps_per_collect):
                self._last_stats = self.learner.train(self.buffer.sample(self.algo.batch_size, self.rng))
                c["updates"] += 1
        self.learner.maybe_update_targets(self.buffer.episodes_seen)

    def collect_greedy(self, seeds: Sequence[int]) -> list[Trajectory]:
        """Greedy (epsilon 0) episodes on ``seeds``, one team trajectory each."""
        trajs, _ = self.collector.collect([(self.run.env_id, s) for s in seeds], 1, sampling=0.0)
        return trajs

    def evaluate(self) -> dict[str, Any]:
        """Greedy episodes on the fixed evaluation seeds; logs a metrics row (and samples) and returns it."""
        c = self.counters
        trajs = self.collect_greedy([EVAL_SEED_BASE + j for j in range(self.run.eval_episodes)])
        step = max(c["iteration"] - 1, 0)  # the metrics row's step: resume cuts rows and samples by it
        if self.run_dir is not None and self.run.samples_per_eval:
            self.run_dir.save_samples([a for t in trajs[: self.run.samples_per_eval] for a in agent_trajectories(t, self.spec)], step=step)
        window, self._window = self._window, []
        row = {
            "t_env": c["t_env"],
            "episodes": c["episodes"],
            "updates": c["updates"],
            "epsilon": round(self.epsilon(c["t_env"]), 4),
            "train_return": _mean([r for r, _ in window]),
            "train_success": _mean([float(s) for _, s in window]),
            "eval_return": _mean([t.episode_return for t in trajs]),
            "eval_success": _mean([float(t.success) for t in trajs]),
            "eval_length": _mean([len(t.turns) for t in trajs]),
            "loss": self._last_stats.get("loss", float("nan")),
            "low_loss": self._last_stats.get("low_loss", float("nan")),
        }
        throughput = {**self._last_collect.as_dict(), "wall_time": round(time.perf_counter() - self._started, 2)}
        if self.run_dir is not None:
            self.run_dir.log(step, row, throughput)
        logger.info("t_env=%d eval_return=%.3f eval_success=%.2f", row["t_env"], row["eval_return"], row["eval_success"])
        return row

    # --- persistence -----------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        """Checkpoint ``checkpoints/step-<iteration>.pt`` through the run dir (atomic write); logs its size."""
        assert self.run_dir is not None
        state = {
            "algo": self.algo.to_dict(),
            "learner": self.learner.state_dict(),
            "buffer": self.buffer.state_dict() if self.run.save_buffer else None,
            "counters": dict(self.counters),
            "sampler_rng": self.rng.bit_generator.state,
            "window": list(self._window),
            "last_stats": self._last_stats,
        }
        path = self.run_dir.save_checkpoint(self.counters["iteration"], state)
        logger.info("checkpoint %s: %.1f MB (replay buffer %s)", path, path.stat().st_size / 1e6, "included" if self.run.save_buffer else "not saved")

    def _restore(self) -> bool:
        assert self.run_dir is not None
        state = self.run_dir.latest_checkpoint()
        if state is None:  # killed before its first checkpoint: start afresh, without the rows it had logged
            self.run_dir.resume_at(0)
            return False
        if state["algo"] != self.algo.to_dict():
            raise ConfigError("resume", self.run.run_dir, f"a checkpoint of the same algo config; it holds {state['algo']}")
        self.learner.load_state_dict(state["learner"])
        if state["buffer"] is not None:
            self.buffer.load_state_dict(state["buffer"])
        else:
            logger.warning("checkpoint has no replay buffer (save_buffer=False): the resumed run refills it and will differ from an uninterrupted one")
        self.counters.update(state["counters"])
        self.rng.bit_generator.state = state["sampler_rng"]
        restore_rng(state["rng"])
        self._window, self._last_stats = list(state["window"]), state["last_stats"]
        self.run_dir.resume_at(self.counters["iteration"])  # metrics, throughput and samples logged after the checkpoint
        logger.info("resumed %s at t_env=%d", self.run.run_dir, self.counters["t_env"])
        return True
