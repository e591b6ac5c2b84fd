"""The collector: steps many env copies, makes ONE batched ``agent.act`` call per tick, records trajectories.

Data flow per tick::

    active slots' observations -> agent.act (one backend call) -> env.step on every slot
    -> Turn records -> finished slots pull the next task at once (no waiting for the slowest)

Tasks are ``(env_id, seed)`` pairs, each run ``group_size`` times; the copies form one group
(``group_id``), they must start from the same anchor (else ``GroupMismatchError``), and only
complete groups are returned, in task order. Envs live either in this process
(``num_workers=0``) or in worker processes that each host several slots and talk over pipes.
A worker that dies or hangs is restarted and the episodes it hosted are re-run from their
seeds; finished trajectories are kept by the collector, never by a worker, so none is lost.

The collector is the only code that calls both ``env.step`` and ``agent.act`` (docs/design.md, section 1).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hiergym.collector.hosts import EnvFn, Host, make_hosts
from hiergym.collector.policy import env_action_of
from hiergym.error import ConfigError, GroupMismatchError, HierGymError
from hiergym.info_keys import InfoKeys
from hiergym.types import Trajectory, Turn, group_id_of
from hiergym.wrappers.anchor_hash import anchor_of

logger = logging.getLogger(__name__)

DEFAULT_STEP_TIMEOUT_S = 120.0
"""Seconds a worker may take for one command before it counts as hung and is restarted."""
DEFAULT_MAX_RESTARTS = 3
"""Re-runs of one episode after env crashes before ``WorkerCrashError``."""
DROPPED_INFO_KEYS = (InfoKeys.SUBGOALS,)
"""Info keys not copied into every Turn (static per episode, large); kept in ``Trajectory.meta``."""
FINAL_OBSERVATION = "final_observation"
"""``Trajectory.meta`` key of the observation after the last step (``keep_final_observation=True``)."""


class WorkerCrashError(HierGymError, RuntimeError):
    """An env kept crashing after ``max_restarts`` re-runs of the same episode."""


def derive_seed(*parts: object) -> int:
    """A 63-bit seed that is a pure function of ``parts`` (blake2b of ``"a/b/c"``; stable across processes)."""
    key = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1


def sampling_seed(stream: int, task_seed: int, copy: int, turn: int) -> int:
    """Seed of one agent call of one episode: a pure function of (run stream, task seed, copy, turn).

    Drawing every sample from its own stream makes a run independent of the order in which slots
    are served: the same numbers whatever the load, the number of env workers, or a worker restart
    that re-runs an episode (docs/design.md, section 7).
    """
    return derive_seed(stream, task_seed, copy, turn)


# ----------------------------------------------------------------------------- bookkeeping


@dataclass(frozen=True)
class Task:
    """One episode to run: copy ``copy`` of the group ``group_id``."""

    env_id: str
    seed: int
    group_id: str
    index: int  # position of the task in the request: results come back in this order
    copy: int
    attempts: int = 0


@dataclass
class CollectStats:
    """Throughput of one ``collect`` call and where its wall time went."""

    env_steps: int = 0
    episodes: int = 0
    generated_tokens: int = 0
    restarts: int = 0
    wall_s: float = 0.0
    env_s: float = 0.0
    model_s: float = 0.0

    @property
    def other_s(self) -> float:
        return max(self.wall_s - self.env_s - self.model_s, 0.0)

    def as_dict(self) -> dict[str, float]:
        wall = max(self.wall_s, 1e-9)
        return {
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "restarts": self.restarts,
            "env_steps_per_s": self.env_steps / wall,
            "tokens_per_s": self.generated_tokens / wall,
            "share_env": self.env_s / wall,
            "share_model": self.model_s / wall,
            "share_collector": self.other_s / wall,
            "collect_s": self.wall_s,
        }


@dataclass
class _Slot:
    task: Task
    trajectory: Trajectory
    obs: Any = ""
    info: dict[str, Any] = field(default_factory=dict)
    memory: Any = None  # a recurrent policy's state for this episode (None before its first step)


StepHook = Callable[[Trajectory, Turn], None]
"""``on_step(trajectory, turn)``: called after every recorded turn."""
EpisodeHook = Callable[[Trajectory], None]
"""``on_episode(trajectory)``: called after every finished episode."""


class Collector:
    """Runs ``group_size`` copies of each task on ``num_slots`` env slots with one agent call per tick.

    Args:
        env_fn: ``env_id -> env`` whose ``step`` takes what the agent's actions carry as ``env_action``
            (the LLM text for a ``TextEnvMaker`` env, a joint action for a ``TeamEnv`` over a PettingZoo env).
        agent: a :class:`~hiergym.collector.policy.Policy` (``act(observations, sampling=..., seeds=...)``);
            one with ``recurrent = True`` also gets and returns per-episode ``memories``.
        num_slots: envs stepped together (the batch size of each agent call).
        num_workers: 0 keeps envs in this process; N > 0 spreads the slots over N worker processes (or Ray actors).
        host: where envs live: ``auto`` (worker processes when ``num_workers > 0``), ``inprocess``,
            ``process`` or ``ray`` (N Ray actors, the ``ray`` extra; :mod:`hiergym.collector.ray_host`).
        mp_context: multiprocessing start method for workers (``spawn`` is safe with torch loaded).
        step_timeout: seconds a worker may take for one command before it counts as hung (restarted,
            its episodes re-run); envs in this process cannot be interrupted.
        max_restarts: re-runs of one episode after env crashes before ``WorkerCrashError``.
        max_turns: safety cap on episode length (truncation) for envs without a time limit.
        on_step: hook called after every recorded turn.
        on_episode: hook called after every finished episode.
        keep_final_observation: store the observation after an episode's last step in
            ``trajectory.meta["final_observation"]`` (value-based learners bootstrap from it).
        ray_actor_options: with ``host="ray"``, options for every env actor (``{"num_cpus": 1}``, ...).
    """

    def __init__(
        self,
        env_fn: EnvFn,
        agent: Any,
        *,
        num_slots: int = 8,
        num_workers: int = 0,
        mp_context: str = "spawn",
        host: str = "auto",
        step_timeout: float = DEFAULT_STEP_TIMEOUT_S,
        max_restarts: int = DEFAULT_MAX_RESTARTS,
        max_turns: int = 1000,
        on_step: Sequence[StepHook] = (),
        on_episode: Sequence[EpisodeHook] = (),
        keep_final_observation: bool = False,
        ray_actor_options: Mapping[str, Any] | None = None,
    ):
        if num_slots < 1:
            raise ConfigError("num_slots", num_slots, "an integer >= 1")
        if num_workers < 0:
            raise ConfigError("num_workers", num_workers, "0 (in-process envs) or a number of worker processes")
        self.agent = agent
        self.num_slots = num_slots
        self.step_timeout = step_timeout
        self.max_restarts = max_restarts
        self.max_turns = max_turns
        self.on_step = list(on_step)
        self.on_episode = list(on_episode)
        self.keep_final_observation = keep_final_observation
        self.recurrent = bool(getattr(agent, "recurrent", False))
        self.wants_info = bool(getattr(agent, "wants_info", False))
        self.hosts: list[Host] = make_hosts(env_fn, host, num_workers, num_slots, mp_context=mp_context, ray_actor_options=ray_actor_options)
        self.slot_host = [slot % len(self.hosts) for slot in range(num_slots)]

    # -- public ---------------------------------------------------------------------------

    def collect(
        self, tasks: Sequence[tuple[str, int]], group_size: int, *, sampling: Any = None, stream: int | None = None
    ) -> tuple[list[Trajectory], CollectStats]:
        """Run every task ``group_size`` times; return the trajectories grouped and in task order.

        ``stream``: when given, every agent call gets ``seeds=[sampling_seed(stream, task seed, copy,
        turn), ...]`` so each episode samples from its own random stream (reproducible whatever the
        slot order); a training loop passes e.g. ``run seed * 1_000_003 + iteration``.
        """
        if group_size < 1:
            raise ConfigError("group_size", group_size, "an integer >= 1")
        queue = deque(Task(env_id, int(seed), group_id_of(env_id, seed), i, c) for i, (env_id, seed) in enumerate(tasks) for c in range(group_size))
        run = _Run(self, queue, group_size, sampling, stream)
        return run.loop()

    def close(self) -> None:
        for host in self.hosts:
            host.close()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- host exchange --------------------------------------------------------------------

    def exchange(self, commands: dict[int, tuple]) -> dict[int, tuple[str, Any]]:
        """Send each slot's command to its host, gather results; a dead/hung host yields ("crash", ...) for its slots."""
        by_host: dict[int, list[int]] = {}
        for slot in commands:
            by_host.setdefault(self.slot_host[slot], []).append(slot)
        for h, slots in by_host.items():
            self.hosts[h].send([commands[s] for s in slots])
        results: dict[int, tuple[str, Any]] = {}
        for h, slots in by_host.items():
            got = self.hosts[h].recv(self.step_timeout)
            if got is None:
                self.hosts[h].restart()
                # every slot of this worker lost its env, including slots not in this exchange
                results.update({s: ("crash", f"worker {h} died or hung") for s, sh in enumerate(self.slot_host) if sh == h})
            else:
                results.update(zip(slots, got))
        return results


class _Run:
    """State of one ``collect`` call: slots, queue, finished groups, stats."""

    def __init__(self, collector: Collector, queue: deque[Task], group_size: int, sampling: Any, stream: int | None = None):
        self.c = collector
        self.stream = stream
        self.queue = queue
        self.group_size = group_size
        self.sampling = sampling
        self.slots: list[_Slot | None] = [None] * collector.num_slots
        self.done: dict[int, list[Trajectory]] = {}
        self.start_anchor: dict[str, str] = {}
        self.stats = CollectStats()

    def loop(self) -> tuple[list[Trajectory], CollectStats]:
        t0 = time.perf_counter()
        self._fill()
        while any(self.slots):
            active = [i for i, s in enumerate(self.slots) if s is not None]
            t = time.perf_counter()
            kwargs: dict[str, Any] = {} if self.sampling is None else {"sampling": self.sampling}
            if self.stream is not None:
                kwargs["seeds"] = [self._seed(self.slots[i]) for i in active]
            if self.c.recurrent:
                kwargs["memories"] = [self.slots[i].memory for i in active]
            if self.c.wants_info:
                kwargs["infos"] = [self.slots[i].info for i in active]
            actions = self.c.agent.act([self.slots[i].obs for i in active], **kwargs)
            self.stats.model_s += time.perf_counter() - t
            t = time.perf_counter()
            results = self.c.exchange({i: ("step", i, env_action_of(a)) for i, a in zip(active, actions)})
            self.stats.env_s += time.perf_counter() - t
            for i, action in zip(active, actions):
                self._record(i, action, results[i])
            self._fill()
        self.stats.wall_s = time.perf_counter() - t0
        groups = [self.done[k] for k in sorted(self.done)]
        return [t for g in groups for t in sorted(g, key=lambda tr: tr.meta["copy"])], self.stats

    def _seed(self, slot: _Slot) -> int:
        return sampling_seed(self.stream, slot.task.seed, slot.task.copy, len(slot.trajectory.turns))

    # -- slot life cycle ------------------------------------------------------------------

    def _fill(self) -> None:
        """Give every free slot the next task and reset them in one exchange; re-run crashed resets."""
        while True:
            commands = {}
            for i, slot in enumerate(self.slots):
                if slot is None and self.queue:
                    task = self.queue.popleft()
                    traj = Trajectory(group_id=task.group_id, env_id=task.env_id, seed=task.seed, meta={"copy": task.copy})
                    self.slots[i] = _Slot(task, traj)
                    commands[i] = ("reset", i, task.env_id, task.seed)
            if not commands:
                return
            t = time.perf_counter()
            results = self.c.exchange(commands)
            self.stats.env_s += time.perf_counter() - t
            for i, (status, payload) in results.items():
                if status != "ok":
                    self._crashed(i, payload)
                elif i in commands:
                    self._started(i, *payload)

    def _started(self, i: int, obs: str, info: dict[str, Any]) -> None:
        slot = self.slots[i]
        anchor = anchor_of(info.get(InfoKeys.RAW_OBSERVATION, obs), info)  # falls back to the observation
        first = self.start_anchor.setdefault(slot.task.group_id, anchor)
        if first != anchor:
            raise GroupMismatchError(
                f"copies of task {slot.task.env_id!r} seed={slot.task.seed} started from different states "
                f"(anchors {first[:12]}... vs {anchor[:12]}...): the env ignores its reset seed"
            )
        slot.obs, slot.info = obs, info
        if InfoKeys.SUBGOALS in info:
            slot.trajectory.meta[InfoKeys.SUBGOALS] = info[InfoKeys.SUBGOALS]

    def _record(self, i: int, action: Any, result: tuple[str, Any]) -> None:
        status, payload = result
        if status != "ok":
            self._crashed(i, payload)
            return
        slot = self.slots[i]
        obs, reward, terminated, truncated, info = payload
        traj = slot.trajectory
        truncated = truncated or (not terminated and len(traj.turns) + 1 >= self.c.max_turns)
        turn = Turn(
            observation=slot.obs,
            action=info.get(InfoKeys.PARSED_ACTION, action.action),
            raw_action=action.text,
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            anchor=anchor_of(slot.info.get(InfoKeys.RAW_OBSERVATION, slot.obs), slot.info, "none"),  # None: the learner's fallback
            subgoal=slot.info.get(InfoKeys.SUBGOAL),
            subgoal_done=bool(info.get(InfoKeys.SUBGOAL_DONE, False)),
            action_valid=bool(info.get(InfoKeys.ACTION_VALID, action.format_ok)),
            generations=list(action.generations),
            info={k: v for k, v in info.items() if k not in DROPPED_INFO_KEYS},
        )
        extra = getattr(action, "info", None)
        if extra:
            turn.info.update(extra)
        traj.turns.append(turn)
        slot.memory = getattr(action, "memory", None)
        self.stats.env_steps += 1
        if action.generations:
            self.stats.generated_tokens += sum(len(g.response_ids) for g in action.generations)
        for hook in self.c.on_step:
            hook(traj, turn)
        slot.obs, slot.info = obs, info
        if terminated or truncated:
            self._finish(i, won=bool(info.get(InfoKeys.WON, False)))

    def _finish(self, i: int, *, won: bool) -> None:
        slot = self.slots[i]
        traj = slot.trajectory
        traj.episode_return = float(sum(traj.rewards))
        traj.success = won
        if self.c.keep_final_observation:
            traj.meta[FINAL_OBSERVATION] = slot.obs
        self.done.setdefault(slot.task.index, []).append(traj)
        self.stats.episodes += 1
        self.slots[i] = None
        for hook in self.c.on_episode:
            hook(traj)

    def _crashed(self, i: int, reason: str) -> None:
        """Re-run the slot's episode from its seed (at the front of the queue), up to ``max_restarts`` times."""
        slot = self.slots[i]
        if slot is None:
            return
        self.slots[i] = None
        self.stats.restarts += 1
        task = slot.task
        if task.attempts >= self.c.max_restarts:
            raise WorkerCrashError(f"env {task.env_id!r} seed={task.seed} crashed {task.attempts + 1} times; last error:\n{reason}")
        logger.warning("env slot %d crashed on %s seed=%d; re-running the episode: %s", i, task.env_id, task.seed, reason.strip().splitlines()[-1])
        self.queue.appendleft(Task(task.env_id, task.seed, task.group_id, task.index, task.copy, task.attempts + 1))
