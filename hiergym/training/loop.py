"""The LLM training loop: collector -> advantages -> batch -> trainer, logged into a run dir.

``train(config)`` runs (or resumes, exactly on CPU) one run; ``TrainLoop`` holds the pieces so a
caller can step iterations itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from hiergym.info_keys import InfoKeys
from hiergym.training.configs import TrainConfig
from hiergym.training.env_stack import TextEnvMaker
from hiergym.training.model import build_backend, initial_model_path
from hiergym.training.hierarchy import PLANNER_MODEL_DIR
from hiergym.training.warm_start import WARM_START_MODEL_DIR, warm_start
from hiergym.types import Trajectory

logger = logging.getLogger(__name__)


def run_stream(seed: int, phase: str, iteration: int = 0) -> int:
    """The collector's sampling stream for one phase of a run (``train`` at iteration i, ``eval``).

    Every episode then samples from its own stream (``hiergym.collector.sampling_seed``), so the
    same config and seed give the same run whatever the load, the number of env workers, or a
    worker restart. Evaluation uses one stream for every evaluation point (common random numbers:
    two points differ by the policy, not by the sampling noise).
    """
    from hiergym.collector.loop import derive_seed

    return derive_seed(seed, phase, iteration)


def rollout_metrics(trajectories: Sequence[Trajectory], prefix: str = "") -> dict[str, float]:
    """Success rate, mean return, mean length and the share of well-formed/valid actions."""
    turns = [t for tr in trajectories for t in tr.turns]
    n_turns = max(len(turns), 1)
    return {
        f"{prefix}success": float(np.mean([t.success for t in trajectories])),
        f"{prefix}return": float(np.mean([t.episode_return for t in trajectories])),
        f"{prefix}length": float(np.mean([len(t) for t in trajectories])),
        f"{prefix}valid_action": sum(t.action_valid for t in turns) / n_turns,
        f"{prefix}format_ok": sum(bool(t.info.get(InfoKeys.ACTION_FORMAT_OK, True)) for t in turns) / n_turns,
    }


@dataclass
class TrainResult:
    """What a run produced: its dir, held-out success per evaluated iteration, and warm-start numbers."""

    run_dir: Path
    eval_success: dict[int, float]
    init_eval_success: float | None = None
    warm_start_metrics: dict[str, float] = field(default_factory=dict)


class TrainLoop:
    """Wires env maker, backend, agent, collector, advantage estimator, trainer and run dir."""

    def __init__(self, config: TrainConfig, *, async_rollouts: Any = None):
        from hiergym.agents.llm_agent import LLMAgent
        from hiergym.collector import Collector
        from hiergym.runs import RunDir, seed_everything
        from hiergym.training.hierarchy import build_hierarchical_agent
        from hiergym.training.model import build_planner_backend

        config.validate()  # every value checked before the run dir is touched
        self.config = config
        self.run = RunDir(config.out, config, resume=config.resume, tensorboard=config.tensorboard)
        seed_everything(config.seed)
        self.make_env = TextEnvMaker.from_config(config.env)
        if config.hierarchical:  # the agent names its subgoals; SubgoalHooks adopts, checks, cuts at k and records them
            self.make_env = replace(self.make_env, subgoals="proposed", subgoal_max_steps=self.make_env.subgoal_max_steps or config.hierarchy.max_segment_steps)
        self.backend = build_backend(config, self.run.path, self.make_env)
        self.device = self.backend.device
        self.planner_backend = build_planner_backend(config, self.run.path) if config.hierarchical and config.hierarchy.two_models else None
        if config.hierarchical:
            self.agent: Any = build_hierarchical_agent(config, self.backend, self.planner_backend)
        else:
            self.agent = LLMAgent(self.backend, sampling=config.sampling)
        self.eval_sampling = replace(config.sampling, temperature=config.eval_temperature)
        self.trainer: Any = None  # built once the starting policy is known (after warm start or restore)
        self.planner_trainer: Any = None  # the planner model's trainer when planner and executor are two models
        self.last_stats: Any = None  # the CollectStats of the last training collection (generated tokens, ...)
        self.collector = Collector(
            self.make_env, self.agent, num_slots=config.num_slots, num_workers=config.env.num_workers,
            host=config.env.host, step_timeout=config.env.step_timeout, ray_actor_options=config.env.ray_actor_options,
            max_turns=(config.env.max_episode_steps or 1000), on_episode=self.make_env.episode_hooks(),
        )
        self.start = 0
        self.result = TrainResult(self.run.path, {})
        self.rollouts = None  # an AsyncRolloutConfig with enabled=True overlaps collection with training
        async_rollouts = async_rollouts if async_rollouts is not None else config.async_rollouts
        if async_rollouts.enabled:
            from hiergym.training.async_rollouts import for_train_loop

            if config.hierarchical:
                from hiergym.error import ConfigError

                raise ConfigError("async_rollouts.enabled", True, "False with --agent hierarchical (async rollouts copy a flat LLMAgent)")

            self.rollouts = for_train_loop(self, async_rollouts)

    def evaluate(self) -> dict[str, float]:
        from hiergym.progress import episode_progress

        tasks = self.config.eval_tasks()
        with episode_progress(self.collector, len(tasks), "eval", enabled=self.config.progress):
            trajs, _ = self.collector.collect(tasks, group_size=1, sampling=self.eval_sampling, stream=run_stream(self.config.seed, "eval"))
        metrics = rollout_metrics(trajs, prefix="eval_")
        if self.config.hierarchical:
            from hiergym.training.hierarchy import hierarchy_metrics

            metrics.update(hierarchy_metrics(trajs, prefix="eval_"))
        return metrics

    def _restore(self) -> bool:
        from hiergym.runs import restore_rng

        state = self.run.latest_checkpoint()
        if state is None:  # killed before its first checkpoint: start afresh, without the old rows
            self.run.resume_at(0)
            return False
        self._build_trainers()
        self.trainer.load_state_dict(state["trainer"])
        if self.planner_trainer is not None:
            self.planner_trainer.load_state_dict(state["planner_trainer"])
        restore_rng(state["rng"])
        self.start = int(state["step"])
        self.result.eval_success = {int(k): v for k, v in state.get("eval_success", {}).items()}
        self.result.init_eval_success = state.get("init_eval_success")
        self.run.resume_at(self.start)
        logger.info("resumed %s at iteration %d", self.run.path, self.start)
        return True

    def _checkpoint(self, step: int) -> None:
        state = {"trainer": self.trainer.state_dict(), "eval_success": self.result.eval_success, "init_eval_success": self.result.init_eval_success}
        if self.planner_trainer is not None:
            state["planner_trainer"] = self.planner_trainer.state_dict()
        self.run.save_checkpoint(step, state)

    def _build_trainers(self) -> None:
        """The RL trainer(s): one per model (the planner's too when planner and executor are two models)."""
        self.trainer = self._build_trainer()
        if self.planner_backend is not None:
            self.planner_trainer = self._build_trainer(self.planner_backend, PLANNER_MODEL_DIR)

    def _build_trainer(self, backend: Any = None, subdir: str = "") -> Any:
        """The RL trainer; with ``trainer.kl_beta > 0`` its reference is a frozen copy of the policy RL starts from."""
        from hiergym.algos import Trainer

        ref = self._reference_model(subdir) if self.config.trainer.kl_beta > 0 else None
        return Trainer((backend or self.backend).model, self.config.trainer, ref_model=ref, device=self.device)

    def _reference_model(self, subdir: str = "") -> Any:
        """The starting policy read back from disk (the warm-started one if any), so a resumed run gets the same reference."""
        from transformers import AutoModelForCausalLM

        warm = self.run.path / subdir / WARM_START_MODEL_DIR
        if (warm / "config.json").is_file():
            return AutoModelForCausalLM.from_pretrained(warm)
        return AutoModelForCausalLM.from_pretrained(initial_model_path(self.config, self.run.path))

    def _warm_start(self) -> None:
        cfg = self.config
        if cfg.warm_start.steps <= 0:
            return
        self.result.init_eval_success = self.evaluate()["eval_success"]
        self.result.warm_start_metrics = warm_start(cfg, self.agent, self.make_env, self.device)
        self.backend.save_pretrained(self.run.path / WARM_START_MODEL_DIR)
        if self.planner_backend is not None:
            self.planner_backend.save_pretrained(self.run.path / PLANNER_MODEL_DIR / WARM_START_MODEL_DIR)

    def iteration(self, it: int) -> dict[str, float]:
        """Evaluate (when due), collect G copies of this iteration's tasks, one trainer step per learning model, log."""
        cfg = self.config
        row: dict[str, float] = {}
        if it % cfg.eval_every == 0:
            row.update(self.evaluate())
            self.result.eval_success[it] = row["eval_success"]
        if self.rollouts is not None:
            trajs, stats = self.rollouts.next_batch(it, row)
        else:
            trajs, stats = self.collector.collect(cfg.train_tasks(it), cfg.group_size, stream=run_stream(cfg.seed, "train", it))
        self.last_stats = stats
        advantages, estimator_stats = self._advantages(trajs)
        if self.rollouts is not None:
            advantages = {r: self.rollouts.weigh(trajs, a) for r, a in advantages.items()} if isinstance(advantages, dict) else self.rollouts.weigh(trajs, advantages)
        updates = self._updates(trajs, advantages, it)
        row.update(rollout_metrics(trajs))
        row.update(estimator_stats)
        if cfg.hierarchical:
            from hiergym.training.hierarchy import hierarchy_metrics, phase_of

            row.update(hierarchy_metrics(trajs))
            row["hier/planner_phase"] = float(phase_of(cfg, it) in ("joint", "planner"))
            row["hier/executor_phase"] = float(phase_of(cfg, it) in ("joint", "executor"))
        diag_advantages = advantages.get("executor", next(iter(advantages.values()))) if isinstance(advantages, dict) else advantages
        if updates:
            row.update(self._diagnostics(trajs, diag_advantages, updates[0][2]))
        if cfg.grad_cosine_every and it % cfg.grad_cosine_every == 0 and not cfg.hierarchical:
            row["signal/grad_cosine_halves"] = self._grad_cosine(trajs, advantages)
        for prefix, trainer, batch in updates:
            row.update({f"train/{prefix}{k}": v for k, v in trainer.step(batch).items()})
        if self.rollouts is not None:
            self.rollouts.policy_updated()
        elif updates and hasattr(self.backend, "sync_weights"):
            self.backend.sync_weights()  # push the update into the vLLM engine
        self.run.log(it, row, stats.as_dict())
        self.run.save_samples(trajs[: cfg.samples_per_iteration], step=it)
        return row

    def _updates(self, trajs: Sequence[Trajectory], advantages: Any, it: int) -> list[tuple[str, Any, Any]]:
        """``(metric prefix, trainer, batch)`` per model that learns this iteration.

        Flat and shared-model runs: one batch of the roles that carry loss (co-evolution: only the
        active phase's role). Two models: the executor's rows for the executor's trainer and the
        planner's for the planner's, each only in its phase; a frozen model gets no step at all.
        """
        from hiergym.algos import build_batch
        from hiergym.training.hierarchy import roles_to_train

        roles = roles_to_train(self.config, it)
        if self.planner_trainer is None:
            if not _has_rows(trajs, roles):
                logger.warning("iteration %d: no generation of roles %s to train on; no update", it, sorted(roles or []))
                return []
            return [("", self.trainer, build_batch(trajs, advantages, pad_token_id=self.backend.pad_token_id, roles=roles))]
        out = []
        for role, prefix, trainer, backend in (("executor", "", self.trainer, self.backend), ("planner", "planner_", self.planner_trainer, self.planner_backend)):
            if (roles is None or role in roles) and _has_rows(trajs, {role}):
                out.append((prefix, trainer, build_batch(trajs, advantages, pad_token_id=backend.pad_token_id, roles={role})))
        return out

    def _advantages(self, trajs: Sequence[Trajectory]) -> tuple[Any, dict[str, float]]:
        """Per-turn advantages (per role for HRPO), and for GiGPO/HRPO the group numbers from the same computation."""
        from hiergym.algos import compute_advantages, gigpo_stats, gigpo_trajectory_parts
        from hiergym.algos.estimators import split_per_trajectory

        if self.config.algo.name == "hrpo":
            from hiergym.algos.hrpo import hrpo_stats, hrpo_trajectory_parts

            parts = hrpo_trajectory_parts(trajs, self.config.algo.hrpo)
            return {"planner": split_per_trajectory(parts.planner, trajs), "executor": split_per_trajectory(parts.executor, trajs)}, hrpo_stats(parts)
        if self.config.algo.name != "gigpo":
            return compute_advantages(trajs, self.config.algo.selected), {}
        parts = gigpo_trajectory_parts(trajs, self.config.algo.selected)
        return split_per_trajectory(parts.total, trajs), gigpo_stats(parts)

    def _diagnostics(self, trajs: Sequence[Trajectory], advantages: Sequence[np.ndarray], batch: Any) -> dict[str, float]:
        """Where this iteration's learning signal is: groups without signal, advantage per token class."""
        from hiergym.algos.diagnostics import signal_stats, token_class_stats, token_id_mask
        from hiergym.training.warm_start import format_tag_ids

        row = {f"signal/{k}": v for k, v in signal_stats(trajs, advantages).items()}
        tags = format_tag_ids(self.backend.tokenizer)
        if tags:
            is_tag = token_id_mask(batch.input_ids, tags)
            row.update({f"signal/{k}": v for k, v in token_class_stats(batch, {"format": is_tag, "content": ~is_tag}).items()})
        return row

    def _grad_cosine(self, trajs: Sequence[Trajectory], advantages: Sequence[np.ndarray]) -> float:
        from hiergym.algos import build_batch
        from hiergym.algos.diagnostics import gradient_cosine, split_by_group

        halves = [build_batch([trajs[i] for i in idx], [advantages[i] for i in idx], pad_token_id=self.backend.pad_token_id) for idx in split_by_group(trajs)]
        return gradient_cosine(self.trainer, *halves)

    def __call__(self) -> TrainResult:
        cfg = self.config
        if not (cfg.resume and self._restore()):
            self._warm_start()
            self._build_trainers()
        if self.rollouts is None and hasattr(self.backend, "sync_weights"):
            self.backend.sync_weights()  # a vLLM engine samples from its own copy: start it from the trainer's weights
        bar = _progress(cfg.iterations, self.start, enabled=cfg.progress)
        try:
            for it in range(self.start, cfg.iterations):
                row = self.iteration(it)
                bar.update(1)
                bar.set_postfix(success=f"{row['success']:.2f}", ret=f"{row['return']:.2f}", eval=f"{self.result.eval_success.get(max(self.result.eval_success, default=0), float('nan')):.2f}")
                if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == cfg.iterations:
                    self._checkpoint(it + 1)
            final = self.evaluate()
            self.result.eval_success[cfg.iterations] = final["eval_success"]
            self.run.metrics.truncate(cfg.iterations)
            self.run.log(cfg.iterations, final)
            init = self.result.init_eval_success
            model = Path(cfg.model.path).name if cfg.model.path else "tiny LM"
            warm = f", warm start {cfg.warm_start.steps} steps before iteration 0" if cfg.warm_start.steps else ""
            self.run.plot(baselines={"eval_success": {"before warm start": init}} if init is not None else None, title=f"{cfg.env.env_id}: {cfg.algo.name.upper()}, {model}{warm}")
        finally:
            bar.close()
            if self.rollouts is not None:
                self.rollouts.shutdown()
            self.collector.close()
            self.run.close()
        return self.result


def _has_rows(trajs: Sequence[Trajectory], roles: Any) -> bool:
    """Some generation of ``roles`` (None: any) has response tokens to train on."""
    return any(len(g.response_ids) > 0 and (roles is None or g.role in roles) for t in trajs for turn in t.turns for g in turn.generations)


def _progress(total: int, initial: int, *, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", disable=not enabled, dynamic_ncols=True)


def train(config: TrainConfig, *, async_rollouts: Any = None) -> TrainResult:
    """Run (or resume) one training run; returns held-out success per evaluated iteration.

    ``async_rollouts``: an ``AsyncRolloutConfig`` (hiergym.training.async_rollouts) instead of ``config.async_rollouts``.
    """
    return TrainLoop(config, async_rollouts=async_rollouts)()
