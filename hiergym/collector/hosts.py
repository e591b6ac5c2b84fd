"""Where envs live: in this process, in worker processes, or in Ray actors; each host runs reset/step commands for its slots.

A host never raises on env errors: each result is ``("ok", payload)`` or ``("error", traceback
text)`` per slot, and a dead or hung worker shows as ``recv() -> None`` so the collector can
restart it and re-run the episodes it hosted. A worker's start-up (spawning, imports, building
envs' makers) is waited for before its first command, so ``step_timeout`` times env steps only.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hiergym.error import ConfigError, HierGymError
from hiergym.types import to_jsonable

logger = logging.getLogger(__name__)

EnvFn = Callable[[str], Any]
"""Builds one env from an env id (must be picklable when envs run in worker processes)."""
HOST_KINDS = ("auto", "inprocess", "process", "ray")
"""Where a collector's envs live: ``auto`` = ``process`` when ``num_workers > 0``, else ``inprocess``."""
DEFAULT_STARTUP_TIMEOUT_S = 300.0
"""Seconds a new worker may take to start (spawn, imports) before ``WorkerStartError``."""


class WorkerStartError(HierGymError, RuntimeError):
    """An env worker process or actor did not start (its maker does not unpickle, an import fails, ...)."""

class EnvHost:
    """Holds the envs of some slots and runs reset/step commands on them; never raises on env errors.

    A result is ``("ok", payload)`` or ``("error", traceback text)`` per slot; infos are converted
    to plain JSON data here so they cross process boundaries.
    """

    def __init__(self, env_fn: EnvFn):
        self.env_fn = env_fn
        self.envs: dict[int, tuple[str, Any]] = {}

    def _env(self, slot: int, env_id: str) -> Any:
        held = self.envs.get(slot)
        if held is None or held[0] != env_id:
            if held is not None:
                held[1].close()
            self.envs[slot] = (env_id, self.env_fn(env_id))
        return self.envs[slot][1]

    def reset(self, slot: int, env_id: str, seed: int) -> tuple[str, Any]:
        try:
            obs, info = self._env(slot, env_id).reset(seed=seed)
            return "ok", (obs, _plain(info))
        except Exception:  # report, the collector decides (re-run or give up)
            self.envs.pop(slot, None)
            return "error", traceback.format_exc()

    def step(self, slot: int, action: str) -> tuple[str, Any]:
        try:
            obs, reward, terminated, truncated, info = self.envs[slot][1].step(action)
            return "ok", (obs, float(reward), bool(terminated), bool(truncated), _plain(info))
        except Exception:  # report, the collector decides (re-run or give up)
            self.envs.pop(slot, None)
            return "error", traceback.format_exc()

    def run(self, commands: list[tuple]) -> list[tuple[str, Any]]:
        """``commands``: ``("reset", slot, env_id, seed)`` or ``("step", slot, action)``."""
        return [getattr(self, name)(*args) for name, *args in commands]

    def close(self) -> None:
        for _, env in self.envs.values():
            env.close()
        self.envs.clear()


_SCALARS = (bool, int, float, str, type(None))


def _plain(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` as plain JSON data, always a new dict (an env may reuse its info dict); an info of string
    keys and scalar values (the common small per-step info) is copied flat, without recursion."""
    for key, value in info.items():
        if type(key) is not str or type(value) not in _SCALARS:
            return to_jsonable(info)
    return dict(info)


class Host(Protocol):
    """Where env slots live: ``send`` commands, ``recv`` their results, ``restart`` after a crash, ``close``."""

    def send(self, commands: list[tuple]) -> None: ...
    def recv(self, timeout: float) -> list[tuple[str, Any]] | None: ...
    def restart(self) -> None: ...
    def close(self) -> None: ...


class InProcessHost:
    """Runs commands at ``send`` time in this process."""

    def __init__(self, env_fn: EnvFn):
        self.env_fn = env_fn
        self.host = EnvHost(env_fn)
        self._results: list[tuple[str, Any]] = []

    def send(self, commands: list[tuple]) -> None:
        self._results = self.host.run(commands)

    def recv(self, timeout: float) -> list[tuple[str, Any]] | None:
        return self._results

    def restart(self) -> None:
        self.host.close()
        self.host = EnvHost(self.env_fn)

    def close(self) -> None:
        self.host.close()


def _worker_main(conn: Any, env_fn: EnvFn) -> None:
    host = EnvHost(env_fn)
    conn.send("ready")  # env_fn unpickled, imports done: from here on the parent times steps only
    try:
        while True:
            commands = conn.recv()
            if commands is None:
                break
            conn.send(host.run(commands))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        host.close()


class ProcessHost:
    """An ``EnvHost`` in a worker process behind a pipe; ``recv`` returns None if the worker died or hung."""

    def __init__(self, env_fn: EnvFn, context: str = "spawn", startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S):
        self.env_fn = env_fn
        self.ctx = mp.get_context(context)
        self.startup_timeout = startup_timeout
        self._start()

    @property
    def pid(self) -> int | None:
        """The worker's process id (e.g. to watch or kill it)."""
        return self.proc.pid

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker_main, args=(child, self.env_fn), daemon=True)
        self.proc.start()
        child.close()
        self._ready = False

    def _wait_ready(self) -> None:
        """Block until the worker said it is up (first command only); a worker that dies starting is an error."""
        try:
            if self.conn.poll(self.startup_timeout) and self.conn.recv() == "ready":
                self._ready = True
                return
        except (EOFError, ConnectionResetError, OSError):
            pass
        self._stop()
        raise WorkerStartError(
            f"env worker pid {self.proc.pid} did not start within {self.startup_timeout:.0f} s (exit code {self.proc.exitcode}); "
            "is the env maker picklable and importable in a fresh process? (its traceback is on stderr)"
        )

    def send(self, commands: list[tuple]) -> None:
        if not self._ready:
            self._wait_ready()
        try:
            self.conn.send(commands)
        except (BrokenPipeError, ConnectionResetError, OSError):
            logger.warning("env worker pid %s is gone before send", self.proc.pid)

    def recv(self, timeout: float) -> list[tuple[str, Any]] | None:
        try:
            if self.conn.poll(timeout):
                return self.conn.recv()
            logger.warning("env worker pid %s did not answer within %.0f s", self.proc.pid, timeout)
        except (EOFError, ConnectionResetError, OSError):
            logger.warning("env worker pid %s died (exit code %s)", self.proc.pid, self.proc.exitcode)
        return None

    def restart(self) -> None:
        self._stop()
        self._start()

    def _stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        self.proc.join(timeout=5)
        self._stop()


def make_hosts(
    env_fn: EnvFn, kind: str, num_workers: int, num_slots: int, *, mp_context: str = "spawn", ray_actor_options: Mapping[str, Any] | None = None
) -> list[Host]:
    """The hosts of a collector: one per worker (at most one per slot), or one in-process host.

    ``kind``: ``inprocess`` (``num_workers`` ignored), ``process`` (worker processes), ``ray``
    (Ray actors, :class:`~hiergym.collector.ray_host.RayEnvPool`; needs the ``ray`` extra), or
    ``auto`` (``process`` when ``num_workers > 0``, else ``inprocess``). ``ray_actor_options``
    go to every actor's ``ActorClass.options`` (e.g. ``{"num_cpus": 1}``); only with ``ray``.
    """
    if kind not in HOST_KINDS:
        raise ConfigError("host", kind, "'auto', 'inprocess', 'process' (worker processes) or 'ray' (Ray actors)")
    if kind == "auto":
        kind = "process" if num_workers else "inprocess"
    if ray_actor_options and kind != "ray":
        raise ConfigError("ray_actor_options", dict(ray_actor_options), f"empty with host={kind!r} (Ray actor options apply to host='ray' only)")
    if kind == "inprocess":
        return [InProcessHost(env_fn)]
    if num_workers < 1:
        raise ConfigError("num_workers", num_workers, f"an integer >= 1 with host={kind!r} (0 keeps envs in this process: host='inprocess')")
    n_hosts = min(num_workers, num_slots)
    if kind == "ray":
        from hiergym.collector.ray_host import RayEnvPool

        return list(RayEnvPool(env_fn, n_hosts, actor_options=ray_actor_options).hosts)
    return [ProcessHost(env_fn, mp_context) for _ in range(n_hosts)]
