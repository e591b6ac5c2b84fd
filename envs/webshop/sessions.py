"""The WebShop server's session store: bounded, fair, and never evicting an active session for a newcomer.

A session is created only by an explicit request (``POST /new`` on the site, ``POST /api/sessions``
on the API). The store holds at most ``max_sessions``. When it is full, a session idle for at
least ``idle_timeout_s`` makes room (least recently used first); if none is that idle, the new
session is refused (``SessionsFull``, HTTP 503 with ``Retry-After``) rather than dropping
someone's game. Each client address may hold at most ``max_per_client`` live sessions and create
them at ``client_rate_per_s`` on average with bursts of ``client_burst`` (``ClientLimited``,
HTTP 429 with ``Retry-After``), so one client cannot fill the store quickly.

Behind a reverse proxy every visitor has the proxy's address: the per-client limits then apply
to all visitors together (raise them, or serve directly).
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SESSION_ID_BYTES = 32
MAX_SESSIONS = 10_000
"""Live sessions kept at most."""
IDLE_TIMEOUT_S = 3600.0
"""A session unused this long may be dropped to make room for a new one (never earlier)."""
MAX_SESSIONS_PER_CLIENT = 1000
"""Live sessions one client address may hold (a training run keeps one per env copy)."""
CLIENT_RATE_PER_S = 5.0
"""Sessions a client address may create per second on average ..."""
CLIENT_BURST = 300
"""... and at once (the load test opens 200 together)."""
MAX_TRACKED_CLIENTS = 65_536
"""Client addresses whose creation budget is remembered (least recently seen forgotten first)."""


class SessionRefused(Exception):
    """No new session now; ``retry_after_s`` says when to try again."""

    status = 503

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class SessionsFull(SessionRefused):
    """The store is full of sessions used within ``idle_timeout_s`` (HTTP 503)."""

    status = 503


class ClientLimited(SessionRefused):
    """This client address holds or created too many sessions (HTTP 429)."""

    status = 429


@dataclass
class Session:
    """One visitor's or client's episode: ``state`` is the shop state machine (any object here)."""

    state: Any
    obs_mode: str = "text"
    client: str = ""
    last_used: float = field(default=0.0)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class SessionStore:
    """Sessions by unguessable id (``secrets.token_urlsafe``), kept in least-recently-used order.

    Thread-safe. ``clock`` (seconds, monotonic) is injectable for tests.
    """

    def __init__(
        self,
        max_sessions: int = MAX_SESSIONS,
        *,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        max_per_client: int = MAX_SESSIONS_PER_CLIENT,
        client_rate_per_s: float = CLIENT_RATE_PER_S,
        client_burst: int = CLIENT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ):
        if max_sessions < 1 or max_per_client < 1 or client_burst < 1 or client_rate_per_s <= 0 or idle_timeout_s <= 0:
            raise ValueError("session limits must be positive")
        self.max_sessions = max_sessions
        self.idle_timeout_s = idle_timeout_s
        self.max_per_client = max_per_client
        self.client_rate_per_s = client_rate_per_s
        self.client_burst = client_burst
        self.clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._per_client: dict[str, int] = {}
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, session: Session, client: str) -> str:
        """Store ``session`` for ``client`` (an address) and return its new id, or raise ``SessionRefused``."""
        with self._lock:
            now = self.clock()
            if self._per_client.get(client, 0) >= self.max_per_client:
                raise ClientLimited(
                    f"this address holds {self.max_per_client} sessions already; delete some first", self.idle_timeout_s
                )
            bucket = self._bucket(client, now)
            if bucket.tokens < 1:
                raise ClientLimited("too many new sessions from this address; slow down", (1 - bucket.tokens) / self.client_rate_per_s)
            self._make_room(now)
            bucket.tokens -= 1
            sid = secrets.token_urlsafe(SESSION_ID_BYTES)
            session.client, session.last_used = client, now
            self._sessions[sid] = session
            self._per_client[client] = self._per_client.get(client, 0) + 1
        return sid

    def get(self, sid: str | None) -> Session | None:
        """The session (marked as just used), or None."""
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None:
                self._sessions.move_to_end(sid)
                session.last_used = self.clock()
        return session

    def delete(self, sid: str) -> bool:
        """Drop session ``sid`` and free its client's slot; False when there was no such session."""
        with self._lock:
            session = self._sessions.pop(sid, None)
            if session is not None:
                self._forget(session)
            return session is not None

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, sid: object) -> bool:
        return sid in self._sessions

    def clients(self) -> int:
        """Client addresses whose creation budget is tracked (bounded by ``MAX_TRACKED_CLIENTS``)."""
        return len(self._buckets)

    # --- internals (lock held) ---------------------------------------------------------------
    def _make_room(self, now: float) -> None:
        while len(self._sessions) >= self.max_sessions:
            sid, oldest = next(iter(self._sessions.items()))
            idle = now - oldest.last_used
            if idle < self.idle_timeout_s:
                raise SessionsFull("the shop is full; try again later", self.idle_timeout_s - idle)
            del self._sessions[sid]
            self._forget(oldest)

    def _forget(self, session: Session) -> None:
        left = self._per_client.get(session.client, 0) - 1
        if left > 0:
            self._per_client[session.client] = left
        else:
            self._per_client.pop(session.client, None)

    def _bucket(self, client: str, now: float) -> _Bucket:
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(float(self.client_burst), now)
            while len(self._buckets) > MAX_TRACKED_CLIENTS:  # a forgotten client starts with a full budget
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            bucket.tokens = min(float(self.client_burst), bucket.tokens + (now - bucket.updated) * self.client_rate_per_s)
            bucket.updated = now
        return bucket
