"""A loopback load generator for the WebShop API: many concurrent sessions, each stepping its own task.

Used by the slow load test and ``benchmarks/webshop.py``. Every response is checked against
the session that sent it (its own instruction, its own query), so a cross-session leak is
counted as an error, not just a slow request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from hiergym.envs.webshop.store import query_terms
from hiergym.info_keys import InfoKeys

REQUEST_TIMEOUT_S = 60.0
MAX_CONNECTIONS = 16
"""HTTP connections the client pools for all sessions (httpx pays per pooled connection on every request)."""


@dataclass
class LoadReport:
    """What a load run measured: sessions, requests, errors and per-request latencies."""

    sessions: int
    requests: int
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile request latency in milliseconds (NaN with no requests)."""
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(q / 100 * len(xs)))] if xs else float("nan")

    def summary(self) -> str:
        """One line with throughput, p50/p99 latency and the error count, for logs and docs."""
        return (
            f"{self.sessions} sessions, {self.requests} requests in {self.wall_s:.1f}s "
            f"({self.requests / max(self.wall_s, 1e-9):.0f} req/s), p50 {self.percentile(50):.1f} ms, "
            f"p99 {self.percentile(99):.1f} ms, errors {len(self.errors)}"
        )


def _next_action(info: dict[str, Any], query: str, turn: int) -> str:
    """A deterministic walk: search, open a result, click options and views, go back, search again."""
    actions = info[InfoKeys.ADMISSIBLE_ACTIONS]
    if actions == ["search[<query>]"]:
        return f"search[{query}]"
    clicks = [a for a in actions if a not in ("click[buy now]", "click[back to search]")]
    return clicks[turn % len(clicks)] if clicks else "click[back to search]"


async def _session(client: Any, index: int, actions: int, report: LoadReport) -> None:
    import httpx

    async def timed(method: str, url: str, **kw: Any) -> dict[str, Any]:
        t0 = time.perf_counter()
        r = await client.request(method, url, **kw)
        report.latencies_ms.append((time.perf_counter() - t0) * 1000)
        report.requests += 1
        if r.status_code != 200:
            raise RuntimeError(f"session {index}: HTTP {r.status_code} {r.text[:100]}")
        return r.json()

    try:
        data = await timed("POST", "/api/sessions", json={"task_id": index})
        sid, instruction = data["session_id"], data["goal"]["instruction"]
        query = data["goal"]["product_type"]
        normalized = " ".join(query_terms(query))
        info = data["info"]
        for turn in range(actions):
            out = await timed("POST", f"/api/sessions/{sid}/step", json={"action": _next_action(info, query, turn)})
            info = out["info"]
            page, seen_query = info[InfoKeys.ANCHOR_STATE][:2]
            if info[InfoKeys.TASK] != instruction or (page != "search" and seen_query != normalized):
                report.errors.append(f"session {index}: saw another session's state at turn {turn}")
                return
    except (httpx.HTTPError, RuntimeError, KeyError, ValueError) as e:  # every failure is reported
        report.errors.append(f"session {index}: {type(e).__name__}: {e}")


async def run_load(base_url: str, sessions: int = 200, actions: int = 20, timeout_s: float = 300.0) -> LoadReport:
    """``sessions`` concurrent API sessions x ``actions`` steps against ``base_url``; bounded by ``timeout_s``."""
    import httpx

    report = LoadReport(sessions=sessions, requests=0)
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        jobs = [_session(client, i, actions, report) for i in range(sessions)]
        await asyncio.wait_for(asyncio.gather(*jobs), timeout_s)
    report.wall_s = time.perf_counter() - t0
    return report


class ServerProcess:
    """``hiergym serve webshop`` in a child process on a free 127.0.0.1 port (own CPU, own GIL).

    A context manager: waits (bounded) until ``/healthz`` answers, terminates the child on exit.
    """

    def __init__(self, num_products: int = 1000, startup_timeout_s: float = 120.0):
        self.num_products = num_products
        self.startup_timeout_s = startup_timeout_s
        self.port = _free_port()
        self._proc: Any = None

    @property
    def url(self) -> str:
        """The base URL of the server process (127.0.0.1 on its free port)."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerProcess:
        import subprocess
        import sys

        import httpx

        cmd = [sys.executable, "-m", "hiergym", "serve", "webshop", "--host", "127.0.0.1", "--port", str(self.port),
               "--num-products", str(self.num_products)]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"WebShop server exited with code {self._proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"WebShop server did not answer on {self.url} within {self.startup_timeout_s}s")

    def __exit__(self, *exc: object) -> None:
        import subprocess

        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
