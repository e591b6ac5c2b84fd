"""Async rollouts: generate batch n+1 on a background thread while the trainer updates on batch n.

The rollout side samples from its own copy of the policy (a second model, or the vLLM engine),
so the trainer never changes weights under a running generation. After an update the trainer's
parameters are snapshotted (``policy_updated``); the worker loads the newest snapshot before it
starts its next collection, and tags every ``Generation`` of that collection with the snapshot's
``policy_version`` (the number of trainer updates behind it).

Staleness of a trajectory = trainer version when it is consumed - its oldest generation's
version. With one batch in flight it is 1 (the batch was sampled while the previous update ran);
``sync_every = k`` loads snapshots only every k updates (cheaper syncs, older data). Data older
than ``max_staleness`` is dropped (whole task groups, so group baselines stay complete; if nothing
is left the iteration is re-collected with fresh weights) or re-weighted (its advantages scaled by
``stale_weight ** (staleness - max_staleness)``). Metrics under ``async/`` say how much.

Off by default: ``TrainLoop(config)`` collects synchronously exactly as before; ``config.async_rollouts``
(``hiergym train llm --async-rollouts.enabled --async-rollouts.max-staleness 1``) or ``train(config,
async_rollouts=...)`` turn it on.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hiergym.error import ConfigError
from hiergym.types import Trajectory

logger = logging.getLogger(__name__)

StalePolicy = Literal["drop", "reweight"]
Weights = list[tuple[str, Any]]
"""Named parameter tensors, as ``model.named_parameters()`` yields them."""


@dataclass(frozen=True)
class AsyncRolloutConfig:
    """Overlap generation with training, with a bound on how old the trained-on data may be."""

    enabled: bool = False
    """Collect the next iteration's batch while the trainer updates (off: synchronous, the default)."""
    max_staleness: int = 1
    """Largest allowed (trainer version - sampling version); 1 admits the normal one-batch overlap."""
    stale: StalePolicy = "drop"
    """What happens to data beyond the bound: ``drop`` its task groups, or ``reweight`` its advantages."""
    stale_weight: float = 0.5
    """With ``reweight``: advantage factor per version beyond the bound."""
    sync_every: int = 1
    """Load the trainer's weights into the rollout policy every k updates."""

    def __post_init__(self) -> None:
        if self.max_staleness < 0:
            raise ConfigError("async_rollouts.max_staleness", self.max_staleness, "an integer >= 0")
        if self.stale not in ("drop", "reweight"):
            raise ConfigError("async_rollouts.stale", self.stale, "'drop' or 'reweight'")
        if not 0 < self.stale_weight <= 1:
            raise ConfigError("async_rollouts.stale_weight", self.stale_weight, "a float in (0, 1]")
        if self.sync_every < 1:
            raise ConfigError("async_rollouts.sync_every", self.sync_every, "an integer >= 1")


def tag_policy_version(trajectories: Sequence[Trajectory], version: int) -> None:
    """Set ``policy_version`` on every generation that has none yet."""
    for traj in trajectories:
        for turn in traj.turns:
            for gen in turn.generations:
                if gen.policy_version is None:
                    gen.policy_version = version


def sampling_version(traj: Trajectory) -> int | None:
    """The oldest policy version among a trajectory's generations (None: untagged or no generations)."""
    versions = [g.policy_version for turn in traj.turns for g in turn.generations if g.policy_version is not None]
    return min(versions) if versions else None


class AsyncRollouts:
    """A one-batch-ahead rollout worker with policy-version tags and a staleness bound.

    Args:
        config: the bound and what to do beyond it.
        collect: ``iteration -> (trajectories, stats)`` with the rollout policy; runs on the worker thread.
        snapshot: ``() -> weights`` of the trainer's current policy (called on the caller's thread).
        load: ``weights -> None`` into the rollout policy (called on the worker thread, between collections).
        num_iterations: iterations of the run, so nothing is collected past the end (None: unbounded).
        on_close: called by ``shutdown`` after the worker stopped (e.g. to close the rollout collector).
    """

    def __init__(
        self,
        config: AsyncRolloutConfig,
        collect: Callable[[int], tuple[list[Trajectory], Any]],
        snapshot: Callable[[], Weights],
        load: Callable[[Weights], None],
        *,
        num_iterations: int | None = None,
        on_close: Callable[[], None] | None = None,
    ):
        self.config = config
        self._collect, self._snapshot, self._load = collect, snapshot, load
        self.num_iterations = num_iterations
        self._on_close = on_close
        self.version = 0
        """Trainer updates so far (``policy_updated`` calls)."""
        self.rollout_version = 0
        """Version of the weights the rollout policy holds."""
        self._pending: tuple[int, Weights] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._inflight: int | None = None
        self._result: tuple[list[Trajectory], Any] | None = None
        self._error: BaseException | None = None
        self.collector: Any = None
        """The rollout side's own ``Collector`` when ``for_train_loop`` built it (None otherwise)."""

    # --- the worker ---------------------------------------------------------------------
    def _refresh(self) -> None:
        """Load the newest pending snapshot into the rollout policy (worker side, between collections)."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._load(pending[1])
            self.rollout_version = pending[0]

    def _run(self, it: int) -> None:
        try:
            self._refresh()
            version = self.rollout_version
            trajs, stats = self._collect(it)
            tag_policy_version(trajs, version)
            self._result = (trajs, stats)
        except BaseException as e:  # handed to the caller's thread by _wait
            self._error = e

    def _submit(self, it: int) -> None:
        if self.num_iterations is not None and it >= self.num_iterations:
            return
        self._inflight = it
        self._result = self._error = None
        self._thread = threading.Thread(target=self._run, args=(it,), name=f"hiergym-rollout-{it}", daemon=True)
        self._thread.start()

    def _wait(self, it: int) -> tuple[list[Trajectory], Any]:
        if self._inflight != it:  # first call (e.g. after a warm start or resume): from the trainer's weights now
            self.close()
            self.sync_now()
            self._submit(it)
        assert self._thread is not None
        self._thread.join()
        self._thread, self._inflight = None, None
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    # --- the caller's side --------------------------------------------------------------
    def next_batch(self, it: int, metrics: dict[str, float] | None = None) -> tuple[list[Trajectory], Any]:
        """Iteration ``it``'s trajectories within the staleness bound; starts collecting ``it + 1`` before returning.

        ``metrics`` (if given) gets the ``async/`` numbers of this batch.
        """
        start = time.perf_counter()
        trajs, stats = self._wait(it)
        waited = time.perf_counter() - start
        kept, dropped = self._within_bound(trajs)
        recollected = 0
        if not kept:  # everything too old: load the trainer's weights now and collect this iteration again
            self.sync_now()
            trajs, stats = self._wait(it)
            kept, recollected = trajs, 1
        self._submit(it + 1)
        if metrics is not None:
            staleness = [self.version - v for v in map(sampling_version, kept) if v is not None]
            over = sum(s > self.config.max_staleness for s in staleness)
            metrics.update({
                "async/wait_s": waited,
                "async/staleness_mean": float(np.mean(staleness)) if staleness else 0.0,
                "async/staleness_max": float(max(staleness, default=0)),
                "async/dropped": float(dropped),
                "async/dropped_share": dropped / max(dropped + len(kept), 1) if not recollected else 1.0,
                "async/reweighted": float(over if self.config.stale == "reweight" else 0),
                "async/recollected": float(recollected),
                "async/rollout_version": float(self.rollout_version),
            })
        return kept, stats

    def _within_bound(self, trajs: list[Trajectory]) -> tuple[list[Trajectory], int]:
        """(kept trajectories, number dropped): with ``drop``, every group holding a too-old trajectory goes."""
        if self.config.stale != "drop":
            return trajs, 0
        too_old = {t.group_id for t in trajs if self.staleness(t) > self.config.max_staleness}
        kept = [t for t in trajs if t.group_id not in too_old]
        return kept, len(trajs) - len(kept)

    def staleness(self, traj: Trajectory) -> int:
        """Trainer updates since the weights that sampled ``traj`` (0 when untagged)."""
        v = sampling_version(traj)
        return 0 if v is None else self.version - v

    def weigh(self, trajs: Sequence[Trajectory], advantages: Sequence[np.ndarray]) -> list[np.ndarray]:
        """With ``reweight``: advantages of data beyond the bound scaled by ``stale_weight ** excess``; else unchanged."""
        cfg = self.config
        if cfg.stale != "reweight":
            return list(advantages)
        out = []
        for traj, adv in zip(trajs, advantages):
            excess = self.staleness(traj) - cfg.max_staleness
            out.append(np.asarray(adv) * cfg.stale_weight**excess if excess > 0 else adv)
        return out

    def policy_updated(self) -> None:
        """The trainer finished an update: bump the version; every ``sync_every`` updates, queue a weight snapshot."""
        self.version += 1
        if self.version % self.config.sync_every == 0:
            snap = self._snapshot()
            with self._lock:
                self._pending = (self.version, snap)

    def sync_now(self) -> None:
        """Queue the trainer's current weights; the next collection starts from them."""
        snap = self._snapshot()
        with self._lock:
            self._pending = (self.version, snap)

    def close(self) -> None:
        """Wait for a collection still running (its result is discarded)."""
        if self._thread is not None:
            self._thread.join()
            self._thread, self._inflight = None, None

    def shutdown(self) -> None:
        """``close`` and release what the rollout side holds (``on_close``)."""
        self.close()
        if self._on_close is not None:
            self._on_close()


def _copy_into(model: Any) -> Callable[[Weights], None]:
    """A loader that copies named tensors into ``model``'s parameters."""
    import torch

    def load(weights: Weights) -> None:
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, tensor in weights:
                params[name].copy_(tensor)

    return load


def for_train_loop(loop: Any, config: AsyncRolloutConfig) -> AsyncRollouts:
    """Async rollouts for a ``TrainLoop``: their own collector (own env slots, on the run's ``env.host``) over a rollout copy of the policy.

    A backend with ``sync_weights`` (vLLM) already samples from its own copy; otherwise the rollout
    side is a ``TransformersBackend`` over a deep copy of the trainer's model, made here
    and synced when the first batch is collected (after a warm start or a restore).
    """
    from hiergym.agents.llm_agent import LLMAgent
    from hiergym.collector import Collector
    from hiergym.training.loop import run_stream

    cfg = loop.config
    state: dict[str, Any] = {}

    def rollout_collector() -> Any:
        if "collector" not in state:
            backend = loop.backend
            if hasattr(backend, "sync_weights"):
                state["load"] = lambda weights: backend.sync_weights(weights)
                rollout_backend = backend
            else:
                from hiergym.agents.transformers_backend import TransformersBackend

                rollout_model = copy.deepcopy(backend.model)
                state["load"] = _copy_into(rollout_model)
                rollout_backend = TransformersBackend(rollout_model, backend.tokenizer, device=backend.device)
            agent = LLMAgent(rollout_backend, sampling=cfg.sampling)
            state["collector"] = Collector(
                loop.make_env, agent, num_slots=cfg.num_slots, num_workers=cfg.env.num_workers,
                host=cfg.env.host, step_timeout=cfg.env.step_timeout, ray_actor_options=cfg.env.ray_actor_options,
                max_turns=(cfg.env.max_episode_steps or 1000), on_episode=loop.make_env.episode_hooks(),
            )
        return state["collector"]

    def collect(it: int) -> tuple[list[Trajectory], Any]:
        return rollout_collector().collect(cfg.train_tasks(it), cfg.group_size, stream=run_stream(cfg.seed, "train", it))

    def snapshot() -> Weights:
        return [(name, p.detach().clone()) for name, p in loop.backend.model.named_parameters()]

    def load(weights: Weights) -> None:
        state["load"](weights)

    rollouts = AsyncRollouts(config, collect, snapshot, load, num_iterations=cfg.iterations, on_close=lambda: state["collector"].close())
    rollouts.collector = rollout_collector()  # built on the caller's thread; the first batch loads the trainer's weights first
    return rollouts
