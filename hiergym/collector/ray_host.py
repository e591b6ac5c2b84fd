"""Env workers as Ray actors: :class:`RayEnvPool` holds N actors, each hosting several env slots.

Each actor is an :class:`~hiergym.collector.hosts.EnvHost` (the same code a worker process runs),
and each :class:`RayHost` speaks the collector's host interface (``send``/``recv``/``restart``/
``close``), so ``Collector(..., host="ray", num_workers=N)`` spreads its slots over N actors on
whatever Ray cluster ``ray.init`` connected to (a local one is started if none is). A dead actor
(``RayActorError``) or one that does not answer within the step timeout shows as ``recv() -> None``:
the collector kills it, starts a new one and re-runs the episodes it hosted from their seeds.

Ray is an optional extra (``pip install 'hiergym[ray]'``); it is imported only when a pool is built.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from hiergym.collector.hosts import DEFAULT_STARTUP_TIMEOUT_S, EnvFn, EnvHost, WorkerStartError
from hiergym.error import ConfigError

logger = logging.getLogger(__name__)


def import_ray() -> Any:
    """The ``ray`` module, or a ``ConfigError`` naming the ``ray`` extra that brings it."""
    try:
        import ray
    except ImportError as e:
        raise ConfigError("host", "ray", "Ray is not installed: install the optional extra, pip install 'hiergym[ray]'") from e
    return ray


class _EnvWorker(EnvHost):
    """The actor body: an EnvHost that also reports its process id (to watch or kill it)."""

    def pid(self) -> int:
        return os.getpid()


_ACTOR_CLASS: Any = None


def _actor_class(ray: Any) -> Any:
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        _ACTOR_CLASS = ray.remote(max_restarts=0)(_EnvWorker)  # the collector restarts, and re-runs the episodes
    return _ACTOR_CLASS


class RayHost:
    """One Ray actor hosting some env slots, behind the collector's host interface."""

    def __init__(self, env_fn: EnvFn, actor_options: Mapping[str, Any] | None = None, startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S):
        self.ray = import_ray()
        self.env_fn = env_fn
        self.actor_options = dict(actor_options or {})
        self.startup_timeout = startup_timeout
        self._start()

    def _start(self) -> None:
        self.actor = _actor_class(self.ray).options(**self.actor_options).remote(self.env_fn)
        self._ready_ref: Any = self.actor.pid.remote()  # answers once the actor is up
        self._pid: int | None = None
        self._ref: Any = None

    @property
    def pid(self) -> int:
        """The actor's worker process id (waits for the actor to start)."""
        self._wait_ready()
        return self._pid

    def _wait_ready(self) -> None:
        if self._pid is not None:
            return
        ray = self.ray
        try:
            self._pid = ray.get(self._ready_ref, timeout=self.startup_timeout)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayError) as e:
            ray.kill(self.actor, no_restart=True)
            raise WorkerStartError(
                f"env actor did not start within {self.startup_timeout:.0f} s ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                "is the env maker picklable and importable on the Ray workers?"
            ) from e

    def send(self, commands: list[tuple]) -> None:
        self._wait_ready()
        self._ref = self.actor.run.remote(commands)

    def recv(self, timeout: float) -> list[tuple[str, Any]] | None:
        ray = self.ray
        try:
            return ray.get(self._ref, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            logger.warning("env actor pid %s did not answer within %.0f s", self._pid, timeout)
        except ray.exceptions.RayActorError as e:
            logger.warning("env actor pid %s died (%s)", self._pid, type(e).__name__)
        return None

    def restart(self) -> None:
        self.ray.kill(self.actor, no_restart=True)
        self._start()

    def close(self) -> None:
        ray = self.ray
        try:
            ray.get(self.actor.close.remote(), timeout=10)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayError):
            pass
        ray.kill(self.actor, no_restart=True)


class RayEnvPool:
    """N env actors (:class:`RayHost`), started together; ``hosts`` plug into a ``Collector``.

    Connects to the running Ray instance, or starts a local one (``ray.init(**init_kwargs)``, no
    dashboard) when none is. ``actor_options`` go to ``ActorClass.options`` (e.g. ``{"num_cpus": 1}``
    to reserve a CPU per actor; Ray's default reserves none while an actor runs).
    """

    def __init__(self, env_fn: EnvFn, num_workers: int, *, actor_options: Mapping[str, Any] | None = None, init_kwargs: Mapping[str, Any] | None = None):
        ray = import_ray()
        if not ray.is_initialized():
            logger.info("starting a local Ray instance for the env actors")
            ray.init(**{"include_dashboard": False, **(init_kwargs or {})})
        self.hosts = [RayHost(env_fn, actor_options) for _ in range(num_workers)]

    def close(self) -> None:
        for host in self.hosts:
            host.close()
