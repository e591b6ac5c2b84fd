"""The one collector: env slots, a task queue, one batched ``policy.act`` per tick, crash restart, stats.

- :mod:`~hiergym.collector.loop`: :class:`Collector` (the loop) and its bookkeeping;
- :mod:`~hiergym.collector.hosts`: where envs live (this process, or worker processes);
- :mod:`~hiergym.collector.ray_host`: env workers as Ray actors (the ``ray`` extra, imported lazily);
- :mod:`~hiergym.collector.policy`: the protocol every policy implements.

It drives single-agent Gymnasium text envs (LLM agents) and PettingZoo Parallel envs wrapped as
one team env (:class:`hiergym.wrappers.team.TeamEnv`, value-based multi-agent controllers) alike.
"""

from hiergym.collector.hosts import EnvFn, EnvHost, Host, InProcessHost, ProcessHost, WorkerStartError, make_hosts
from hiergym.collector.loop import (
    DEFAULT_MAX_RESTARTS,
    DEFAULT_STEP_TIMEOUT_S,
    DROPPED_INFO_KEYS,
    FINAL_OBSERVATION,
    CollectStats,
    Collector,
    EpisodeHook,
    StepHook,
    Task,
    WorkerCrashError,
    group_id_of,
    sampling_seed,
)
from hiergym.collector.policy import InfoPolicy, Policy, PolicyAction, RecurrentPolicy, env_action_of
from hiergym.collector.ray_host import RayEnvPool, RayHost

__all__ = [
    "DEFAULT_MAX_RESTARTS",
    "DEFAULT_STEP_TIMEOUT_S",
    "DROPPED_INFO_KEYS",
    "FINAL_OBSERVATION",
    "CollectStats",
    "Collector",
    "EnvFn",
    "EnvHost",
    "EpisodeHook",
    "Host",
    "InProcessHost",
    "InfoPolicy",
    "Policy",
    "PolicyAction",
    "ProcessHost",
    "RayEnvPool",
    "RayHost",
    "RecurrentPolicy",
    "StepHook",
    "Task",
    "WorkerCrashError",
    "WorkerStartError",
    "env_action_of",
    "group_id_of",
    "make_hosts",
    "sampling_seed",
]
