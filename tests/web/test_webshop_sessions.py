"""WebShop sessions: reading creates nothing, active sessions survive any flood, limits answer 429/503."""

import asyncio
import time

import httpx
import pytest

from hiergym.envs.webshop.server import CSRF_COOKIE, SESSION_COOKIE, create_app
from hiergym.envs.webshop.sessions import ClientLimited, Session, SessionsFull, SessionStore

TEN_MINUTES = 600.0
TOKEN = "t" * 43  # a well-formed CSRF token an attacker can put in its own cookie and form


class FakeClock:
    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the store ---------------------------------------------------------------------------------


def test_a_full_store_drops_idle_sessions_first_and_then_refuses_newcomers():
    clock = FakeClock()
    store = SessionStore(3, idle_timeout_s=100, clock=clock)
    old = store.create(Session("old"), "a")
    clock.now = 50
    recent = [store.create(Session(f"r{i}"), "b") for i in range(2)]
    clock.now = 100  # `old` has been idle 100 s: it may make room, the others may not
    newer = store.create(Session("new"), "c")
    assert old not in store and all(s in store for s in [*recent, newer])
    with pytest.raises(SessionsFull) as refused:
        store.create(Session("late"), "c")
    assert refused.value.status == 503 and refused.value.retry_after_s == 50  # when `recent[0]` turns idle
    assert len(store) == 3


def test_using_a_session_keeps_it():
    clock = FakeClock()
    store = SessionStore(2, idle_timeout_s=100, clock=clock)
    a, b = store.create(Session("a"), "x"), store.create(Session("b"), "x")
    clock.now = 99
    store.get(a)
    clock.now = 150  # b idle 150 s, a idle 51 s
    store.create(Session("c"), "y")
    assert a in store and b not in store


def test_per_client_limits_on_live_sessions_and_creation_rate():
    clock = FakeClock()
    store = SessionStore(100, max_per_client=3, client_rate_per_s=1.0, client_burst=2, clock=clock)
    store.create(Session(1), "a")
    second = store.create(Session(2), "a")
    with pytest.raises(ClientLimited) as limited:  # burst of 2 spent
        store.create(Session(3), "a")
    assert limited.value.status == 429 and limited.value.retry_after_s == 1
    store.create(Session(4), "b")  # other addresses are not affected
    clock.now = 1.0
    store.create(Session(5), "a")  # one more after a second
    clock.now = 10.0
    with pytest.raises(ClientLimited, match="holds 3 sessions"):
        store.create(Session(6), "a")
    store.delete(second)
    store.create(Session(7), "a")


def test_the_table_of_client_budgets_is_bounded(monkeypatch):
    import hiergym.envs.webshop.sessions as sessions

    monkeypatch.setattr(sessions, "MAX_TRACKED_CLIENTS", 10)
    store = SessionStore(1000)
    for i in range(50):
        store.create(Session(i), f"10.0.0.{i}")
    assert store.clients() == 10


# --- the site: reading creates nothing ----------------------------------------------------------


@pytest.fixture
def app(webshop_store):
    return create_app(store=webshop_store)


def _asgi_client(app, address: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app, client=(address, 40000)), base_url="http://shop.test")


def test_reading_pages_creates_no_session(app):
    sessions = app.app.state.sessions

    async def visit():
        async with _asgi_client(app) as c:
            for path in ("/", "/?task=3", "/new", "/new?task=5", "/healthz", "/api/docs", "/search?q=shoes"):
                r = await c.get(path)
                assert r.status_code in (200, 405) and SESSION_COOKIE not in r.cookies, path
            csrf = {"csrf": c.cookies[CSRF_COOKIE]}
            for path, data in (("/click", {"label": "buy now"}), ("/search", {"q": "shoes"})):  # no session to act on
                r = await c.post(path, data={**data, **csrf})
                assert r.status_code == 303 and SESSION_COOKIE not in r.cookies
            assert len(sessions) == 0
            r = await c.post("/new", data=csrf)  # the explicit action
            assert r.status_code == 303 and SESSION_COOKIE in r.cookies and len(sessions) == 1
            r = await c.post("/new", data={**csrf, "task": 7})  # a second start replaces, creates nothing
            assert len(sessions) == 1 and "Task 7 " in (await c.get("/")).text

    asyncio.run(visit())


def test_refusals_carry_retry_after(webshop_store):
    app = create_app(store=webshop_store, max_sessions=2, client_burst=5)

    async def fill():
        async with _asgi_client(app) as c:
            for _ in range(2):
                assert (await c.post("/api/sessions")).status_code == 200
            full = await c.post("/api/sessions")
            assert full.status_code == 503 and int(full.headers["retry-after"]) >= 1 and "full" in full.json()["detail"]
            page = await c.post("/new", data={"csrf": TOKEN}, headers={"cookie": f"{CSRF_COOKIE}={TOKEN}"})
            assert page.status_code == 503 and "Retry-After" in page.headers and "<html" in page.text
        limited_app = create_app(store=webshop_store, client_burst=5)
        async with _asgi_client(limited_app, "10.9.9.9") as c:
            for _ in range(5):
                assert (await c.post("/api/sessions")).status_code == 200
            limited = await c.post("/api/sessions")
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1

    asyncio.run(fill())


# --- the flood ----------------------------------------------------------------------------------


def _snapshot(client_get, sids):
    return {sid: client_get(sid) for sid in sids}


async def _flood(app, clock, total: int, deadline_s: float) -> dict[int, int]:
    """``total`` hostile requests (cookieless reads, session starts, API creations) from one heavy
    address and 50 light ones, the clock moving 4.9 ms per request; returns counts by status."""
    statuses: dict[int, int] = {}
    clients = [_asgi_client(app, "203.0.113.1")] + [_asgi_client(app, f"198.51.100.{i}") for i in range(50)]
    forged = {"cookie": f"{CSRF_COOKIE}={TOKEN}"}
    requests = [
        lambda c, k: c.get("/"),
        lambda c, k: c.get("/new", params={"task": k}),
        lambda c, k: c.get("/search", params={"q": "shoes"}),
        lambda c, k: c.post("/click", data={"label": "buy now", "csrf": TOKEN}, headers=forged),
        lambda c, k: c.post("/new", data={"task": k, "csrf": TOKEN}, headers=forged),
        lambda c, k: c.post("/api/sessions", json={"task_id": k}),
        lambda c, k: c.get("/", params={"task": k}),
    ]
    start, begin = time.monotonic(), clock.now
    try:
        for k in range(total):
            c = clients[0] if k % 2 == 0 else clients[1 + (k // 2) % 50]  # half from the heavy address
            r = await requests[k % len(requests)](c, k)
            c.cookies.clear()  # cookieless: every request is a newcomer
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code in (429, 503):
                assert int(r.headers["retry-after"]) >= 1
            assert len(app.app.state.sessions) <= app.app.state.sessions.max_sessions
            clock.now = begin + 0.0049 * (k + 1)
            assert time.monotonic() - start < deadline_s, f"flood took longer than {deadline_s}s"
    finally:
        for c in clients:
            await c.aclose()
    return statuses


@pytest.mark.parametrize("total", [pytest.param(20_000, marks=pytest.mark.slow), 2_000])
def test_a_flood_leaves_every_session_active_in_the_last_ten_minutes_intact(webshop_store, total):
    clock = FakeClock(0.0)
    app = create_app(store=webshop_store, max_sessions=600, client_burst=100, clock=clock)
    sessions = app.app.state.sessions

    async def scenario():
        async with _asgi_client(app, "192.0.2.10") as owner:
            idle = [(await owner.post("/api/sessions", json={"task_id": i})).json()["session_id"] for i in range(100)]
            clock.now = 3100.0  # the victims: API sessions with progress, and a browser visitor mid-task
            victims = []
            for i in range(20):
                sid = (await owner.post("/api/sessions", json={"task_id": 1000 + i})).json()["session_id"]
                await owner.post(f"/api/sessions/{sid}/step", json={"action": "search[blue shoes]"})
                victims.append(sid)
            async with _asgi_client(app, "192.0.2.11") as visitor:
                await visitor.get("/")
                csrf = visitor.cookies[CSRF_COOKIE]
                await visitor.post("/new", data={"csrf": csrf, "task": 42})
                await visitor.post("/search", data={"csrf": csrf, "q": "gift"})
                visitor_page = (await visitor.get("/")).text
                assert "Total results" in visitor_page
                before = {sid: (await owner.get(f"/api/sessions/{sid}")).json() for sid in victims}
                clock.now = 3600.0  # the 100 idle ones have been unused an hour: they may go
                statuses = await _flood(app, clock, total, deadline_s=600.0)
                assert clock.now - 3100.0 <= TEN_MINUTES  # the victims were active within the last ten minutes
                assert (await visitor.get("/")).text == visitor_page
                after = {sid: (await owner.get(f"/api/sessions/{sid}")).json() for sid in victims}
                assert after == before
        return idle, statuses

    idle, statuses = asyncio.run(scenario())
    assert not set(statuses) - {200, 303, 405, 429, 503}, statuses  # no 5xx but "full"
    assert statuses.get(429, 0) > 0  # the per-address limits did their part
    if total >= 20_000:
        assert statuses.get(503, 0) > 0 and len(sessions) == sessions.max_sessions  # full: newcomers refused
        assert not any(sid in sessions for sid in idle)  # idle expiry made room first


# --- state changes: POST only, with the page's CSRF token, under SameSite=Strict cookies ---------


def test_state_changes_need_a_post_carrying_the_pages_token(app):
    async def attack():
        async with _asgi_client(app) as c:
            first = await c.get("/")
            assert "samesite=strict" in first.headers["set-cookie"].lower()
            csrf = c.cookies[CSRF_COOKIE]
            started = await c.post("/new", data={"csrf": csrf, "task": 3})
            assert "samesite=strict" in started.headers["set-cookie"].lower() and "httponly" in started.headers["set-cookie"].lower()
            page = (await c.get("/")).text
            assert "Task 3 " in page
            assert '<form action="/search" method="post"' in page and f'name="csrf" value="{csrf}"' in page
            # what a link or a form on another site can make the visitor's browser send:
            assert (await c.get("/search", params={"q": "shoes"})).status_code == 405
            offer = await c.get("/new", params={"task": 9})  # only offers the new task
            assert offer.status_code == 200 and 'id="start-button"' in offer.text
            for path, data in (("/search", {"q": "shoes"}), ("/click", {"label": "buy now"}), ("/new", {"task": 9})):
                assert (await c.post(path, data=data)).status_code == 403, path  # no token
                assert (await c.post(path, data={**data, "csrf": TOKEN})).status_code == 403, path  # a guessed one
            assert (await c.get("/")).text == page  # nothing changed
            assert (await c.post("/search", data={"q": "shoes", "csrf": csrf})).status_code == 303
            assert "Total results" in (await c.get("/")).text

    asyncio.run(attack())
