"""The WebShop web site and JSON API (FastAPI + Jinja2), served by ``hiergym serve webshop``.

The site and the API drive the same ``ShopState`` machine as ``WebShopEnv``: one
implementation, two views. Sessions live in a bounded ``SessionStore`` (``sessions.py``): a
session is created only by an explicit request, a recently used one is never evicted for a
newcomer (a full shop answers 503 with ``Retry-After``), and each client address has creation
limits (429). A session is reachable only through its unguessable id. Inputs are bounded
(query length, action length, request body size) and answered with 4xx, never 500.

Browser routes (reading never changes state; every change is a POST carrying the CSRF token
of the page's forms, and cookies are ``SameSite=Strict``): ``GET /`` (the current page, or a
start page without a session), ``GET /new?task=N`` (a start page offering a new task),
``POST /new`` (start it: creates or replaces the visitor's session), ``POST /search``
(field ``q``) and ``POST /click`` (field ``label``), both answered by a redirect to ``/``.
API: ``POST /api/sessions``, ``GET|DELETE /api/sessions/{id}``, ``POST /api/sessions/{id}/reset``
(a new task in the same session), ``POST /api/sessions/{id}/step`` ``{"action": ...}``,
``GET /api/products/{asin}``.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hiergym.envs.webshop.instructions import Goal, goal_for_task
from hiergym.envs.webshop.sessions import (
    CLIENT_BURST,
    CLIENT_RATE_PER_S,
    IDLE_TIMEOUT_S,
    MAX_SESSIONS,
    MAX_SESSIONS_PER_CLIENT,
    Session,
    SessionRefused,
    SessionStore,
)
from hiergym.envs.webshop.state import (
    BACK_TO_SEARCH,
    PAGE_SEARCH,
    ShopState,
    Transition,
    state_info,
    subgoal_specs,
)
from hiergym.envs.webshop.store import ASIN_PATTERN, MAX_QUERY_CHARS, ProductStore
from hiergym.envs.webshop.views import render_observation, render_page, render_template
from hiergym.info_keys import InfoKeys
from hiergym.types import to_jsonable

logger = logging.getLogger(__name__)

SESSION_COOKIE = "hiergym_webshop_session"
CSRF_COOKIE = "hiergym_webshop_csrf"
CSRF_FIELD = "csrf"
"""Hidden form field every browser POST must carry, equal to the ``CSRF_COOKIE`` value (double submit)."""
CSRF_TOKEN_BYTES = 32
MAX_BODY_BYTES = 16 * 1024
"""Largest request body accepted (HTTP 413 beyond)."""
MAX_API_ACTION_CHARS = 4096
"""Longest action the API accepts (HTTP 422 beyond); every valid action is far shorter."""
MAX_LABEL_CHARS = 256
MAX_API_STEPS = 1000
MAX_TASK_ID = 2**62
DEFAULT_NUM_TASKS = 100_000
STATIC_DIR = Path(__file__).parent / "static"


class BodySizeLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before any route sees it."""

    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(send, self.max_bytes)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Any, limit: int) -> None:
    payload = f'{{"detail": "request body larger than {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})


class NewSession(BaseModel):
    """Body of ``POST /api/sessions``: which task, step budget, observation mode and reward rule."""

    task_id: int | None = Field(default=None, ge=0, le=MAX_TASK_ID, description="task to play; random when omitted")
    max_steps: int | None = Field(default=None, ge=1, le=MAX_API_STEPS, description="truncate after this many actions")
    obs_mode: Literal["text", "html"] = "text"
    reward: Literal["exact", "webshop"] = Field(default="exact", description="purchase reward rule (see WebShopEnv)")


class StepRequest(BaseModel):
    """Body of ``POST /api/sessions/{id}/step``: one command, at most ``MAX_API_ACTION_CHARS`` long."""

    action: str = Field(max_length=MAX_API_ACTION_CHARS)


def goal_to_dict(goal: Goal) -> dict[str, Any]:
    """The goal as JSON-ready data for the API (``goal_from_dict`` reads it back)."""
    return to_jsonable(asdict(goal))


def goal_from_dict(d: dict[str, Any]) -> Goal:
    """Inverse of ``goal_to_dict`` (JSON lists back to tuples)."""
    return Goal(**{**d, "attributes": tuple(d["attributes"]), "options": tuple(tuple(kv) for kv in d["options"])})


def api_info(state: ShopState, transition: Transition | None = None) -> dict[str, Any]:
    """``state_info`` as JSON, with subgoals as ``{"id", "text", "target"}`` records."""
    info = state_info(state, transition)
    info[InfoKeys.SUBGOALS] = [{"id": sid, "text": text, "target": sid} for sid, text, _ in subgoal_specs(state.goal)]
    return to_jsonable(info)


def observe(session: Session) -> str:
    """The session's current observation in its mode: the text page or the main part of the HTML page."""
    return render_observation(session.state, session.obs_mode)


def client_address(request: Request) -> str:
    """The peer address the per-client limits count by (a proxy's address when behind one)."""
    return request.client.host if request.client is not None else "unknown"


def create_app(
    *,
    num_products: int = 1000,
    catalogue_seed: int = 0,
    cache_dir: str | Path | None = None,
    store: ProductStore | None = None,
    num_tasks: int = DEFAULT_NUM_TASKS,
    max_sessions: int = MAX_SESSIONS,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
    max_sessions_per_client: int = MAX_SESSIONS_PER_CLIENT,
    client_rate_per_s: float = CLIENT_RATE_PER_S,
    client_burst: int = CLIENT_BURST,
    clock: Any = time.monotonic,
) -> FastAPI:
    """The site + API over one read-only catalogue (``store`` or the cached ``(seed, n)`` one).

    The session limits are ``SessionStore``'s (see ``hiergym.envs.webshop.sessions``).
    """
    store = store or ProductStore.open(catalogue_seed, num_products, cache_dir)
    sessions = SessionStore(
        max_sessions, idle_timeout_s=idle_timeout_s, max_per_client=max_sessions_per_client,
        client_rate_per_s=client_rate_per_s, client_burst=client_burst, clock=clock,
    )
    app = FastAPI(
        title="hiergym WebShop", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json", redirect_slashes=False
    )
    app.state.sessions = sessions
    app.state.store = store
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def new_state(task_id: int | None, max_steps: int | None = None, reward: str = "exact") -> ShopState:
        task = secrets.randbelow(num_tasks) if task_id is None else task_id
        return ShopState(store, goal_for_task(store, task), max_steps, reward_rule=reward)

    def create_session(
        request: Request, task_id: int | None, max_steps: int | None = None, obs_mode: str = "text", reward: str = "exact"
    ) -> str:
        """A new session for this client, or ``SessionRefused``; the slot is taken before the (costly)
        task is built, so refused requests cost nothing."""
        session = Session(None, obs_mode)
        sid = sessions.create(session, client_address(request))
        try:
            session.state = new_state(task_id, max_steps, reward)
        except BaseException:
            sessions.delete(sid)
            raise
        return sid

    def api_session(sid: str) -> Session:
        session = sessions.get(sid)
        if session is None:
            raise HTTPException(404, "no such session (it may have expired); POST /api/sessions to start one")
        return session

    # --- browser routes: GETs only read; POSTs need the page's CSRF token ----------------------
    def set_cookie(response: Response, name: str, value: str) -> None:
        response.set_cookie(name, value, httponly=True, samesite="strict", path="/")

    def with_csrf(request: Request, render: Any) -> HTMLResponse:
        """An HTML page whose forms carry the visitor's CSRF token (a new cookie if they had none)."""
        token = request.cookies.get(CSRF_COOKIE) or ""
        fresh = not re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
        if fresh:
            token = secrets.token_urlsafe(CSRF_TOKEN_BYTES)
        response = HTMLResponse(render(token))
        if fresh:
            set_cookie(response, CSRF_COOKIE, token)
        return response

    def check_csrf(request: Request, token: str) -> None:
        cookie = request.cookies.get(CSRF_COOKIE)
        if not cookie or not token or not secrets.compare_digest(cookie.encode(), token.encode()):
            raise HTTPException(403, "this form is out of date or came from another site; reload the page and try again")

    def visitor(request: Request) -> tuple[str, Session] | None:
        sid = request.cookies.get(SESSION_COOKIE)
        session = sessions.get(sid)
        return None if session is None else (sid, session)  # type: ignore[return-value]

    def to_current_page() -> RedirectResponse:
        return RedirectResponse("/", status_code=303)

    def start_page(request: Request, task: int | None, replacing: bool) -> HTMLResponse:
        return with_csrf(request, lambda token: render_template("start.html", task=task, replacing=replacing, csrf=token))

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request, task: int | None = Query(default=None, ge=0, le=MAX_TASK_ID)) -> HTMLResponse:
        current = visitor(request)
        if current is None:
            return start_page(request, task, replacing=False)
        return with_csrf(request, lambda token: render_page(current[1].state, csrf=token))

    @app.get("/new", response_class=HTMLResponse)
    async def offer_new(request: Request, task: int | None = Query(default=None, ge=0, le=MAX_TASK_ID)) -> HTMLResponse:
        return start_page(request, task, replacing=visitor(request) is not None)

    @app.post("/new")
    async def start_new(
        request: Request,
        csrf: str = Form(default="", max_length=64),
        task: int | None = Form(default=None, ge=0, le=MAX_TASK_ID),
    ) -> Response:
        check_csrf(request, csrf)
        current = visitor(request)
        if current is not None:  # the visitor's own session gets the new task: nothing is created
            current[1].state = new_state(task)
            return to_current_page()
        sid = create_session(request, task)
        response = to_current_page()
        set_cookie(response, SESSION_COOKIE, sid)
        return response

    @app.post("/search")
    async def search(request: Request, q: str = Form(max_length=MAX_QUERY_CHARS), csrf: str = Form(default="", max_length=64)) -> Response:
        check_csrf(request, csrf)
        current = visitor(request)
        if current is not None:
            state = current[1].state
            if state.page != PAGE_SEARCH and not state.done:
                state.step(f"click[{BACK_TO_SEARCH}]")
            state.step(f"search[{q}]")
        return to_current_page()

    @app.post("/click")
    async def click(request: Request, label: str = Form(max_length=MAX_LABEL_CHARS), csrf: str = Form(default="", max_length=64)) -> Response:
        check_csrf(request, csrf)
        current = visitor(request)
        if current is not None:
            current[1].state.step(f"click[{label}]")
        return to_current_page()

    # --- JSON API ----------------------------------------------------------------------
    def session_payload(sid: str, session: Session) -> JSONResponse:
        return JSONResponse({
            "session_id": sid,
            "observation": observe(session),
            "info": api_info(session.state),
            "goal": goal_to_dict(session.state.goal),
        })

    @app.post("/api/sessions")
    async def api_create(request: Request, body: NewSession | None = None) -> JSONResponse:
        body = body or NewSession()
        sid = create_session(request, body.task_id, body.max_steps, body.obs_mode, body.reward)
        return session_payload(sid, sessions.get(sid))  # type: ignore[arg-type]

    @app.post("/api/sessions/{sid}/reset")
    async def api_reset(sid: str, body: NewSession | None = None) -> JSONResponse:
        """A new task in an existing session (what an env does on every reset; creates nothing)."""
        body = body or NewSession()
        session = api_session(sid)
        session.state, session.obs_mode = new_state(body.task_id, body.max_steps, body.reward), body.obs_mode
        return session_payload(sid, session)

    @app.get("/api/sessions/{sid}")
    async def api_get(sid: str) -> JSONResponse:
        session = api_session(sid)
        return JSONResponse({"observation": observe(session), "info": api_info(session.state), "steps": session.state.steps})

    @app.delete("/api/sessions/{sid}", status_code=204)
    async def api_delete(sid: str) -> Response:
        if not sessions.delete(sid):
            raise HTTPException(404, "no such session")
        return Response(status_code=204)

    @app.post("/api/sessions/{sid}/step")
    async def api_step(sid: str, body: StepRequest) -> JSONResponse:
        # JSONResponse directly: the info dict is plain JSON already (to_jsonable), and
        # FastAPI's generic encoder would cost ~7x the json.dumps time per step.
        session = api_session(sid)
        t = session.state.step(body.action)
        return JSONResponse({
            "observation": observe(session),
            "reward": t.reward,
            "terminated": t.terminated,
            "truncated": t.truncated,
            "info": api_info(session.state, t),
        })

    @app.get("/api/products/{asin}")
    async def api_product(asin: str) -> dict[str, Any]:
        product = store.get(asin) if re.fullmatch(ASIN_PATTERN, asin) else None
        if product is None:
            raise HTTPException(404, f"no product {asin[:20]!r}")
        return to_jsonable(asdict(product))

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "sessions": len(sessions), "products": store.num_products}

    # --- errors: JSON for the API, a page for people -------------------------------------
    def error_response(request: Request, status: int, detail: Any) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": to_jsonable(detail)}, status_code=status)
        text = detail if isinstance(detail, str) else "; ".join(str(e.get("msg", e)) for e in detail)
        return HTMLResponse(render_template("error.html", status=status, detail=text), status_code=status)

    @app.exception_handler(SessionRefused)
    async def refused(request: Request, exc: SessionRefused) -> Response:
        response = error_response(request, exc.status, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return error_response(request, 422, errors)

    return BodySizeLimit(app)  # type: ignore[return-value]


class RunningServer:
    """uvicorn in a background thread on ``host:port`` (port 0 = an ephemeral port); a context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 20.0):
        import uvicorn

        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, name="webshop-server", daemon=True)
        self.host = host
        self.startup_timeout = startup_timeout
        self.port: int | None = None

    def start(self) -> RunningServer:
        """Start serving and wait until the socket is bound (``port`` then holds the real port)."""
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"WebShop server did not start on {self.host} within {self.startup_timeout}s")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait up to ``timeout`` seconds for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(host: str = "127.0.0.1", port: int = 3000, num_products: int = 1000, catalogue_seed: int = 0) -> None:
    """Run the site until interrupted (blocking)."""
    import uvicorn

    app = create_app(num_products=num_products, catalogue_seed=catalogue_seed)
    logger.info("WebShop on http://%s:%d", host, port)
    uvicorn.run(app, host=host, port=port, log_level="info")

