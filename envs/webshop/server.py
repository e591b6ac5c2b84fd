"""The WebShop web site and JSON API (FastAPI + Jinja2), served by ``hiergym serve webshop``.

The site and the API drive the same ``ShopState`` machine as ``WebShopEnv``: one
implementation, two views. Each visitor (cookie) or API client (``POST /api/sessions``)
gets its own session whose id is ``secrets.token_urlsafe``; a session is reachable only
through its id. Inputs are bounded (query length, action length, request body size) and
answered with 4xx, never 500.

Browser routes: ``GET /`` (current page), ``GET /new?task=N`` (new task),
``GET /search?q=...`` (bookmarkable within the session), ``POST /click`` (form field
``label``). API: ``POST /api/sessions``, ``GET|DELETE /api/sessions/{id}``,
``POST /api/sessions/{id}/step`` ``{"action": ...}``, ``GET /api/products/{asin}``.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hiergym.envs.webshop.instructions import Goal, goal_for_task
from hiergym.envs.webshop.state import (
    BACK_TO_SEARCH,
    PAGE_SEARCH,
    ShopState,
    Transition,
    state_info,
    subgoal_specs,
)
from hiergym.envs.webshop.store import ASIN_PATTERN, MAX_QUERY_CHARS, ProductStore
from hiergym.envs.webshop.views import render_page, render_template
from hiergym.info_keys import InfoKeys
from hiergym.types import to_jsonable

logger = logging.getLogger(__name__)

SESSION_COOKIE = "hiergym_webshop_session"
SESSION_ID_BYTES = 32
MAX_SESSIONS = 10_000
"""Live sessions kept; the least recently used one is dropped beyond this."""
MAX_BODY_BYTES = 16 * 1024
"""Largest request body accepted (HTTP 413 beyond)."""
MAX_API_ACTION_CHARS = 4096
"""Longest action the API accepts (HTTP 422 beyond); every valid action is far shorter."""
MAX_LABEL_CHARS = 256
MAX_API_STEPS = 1000
DEFAULT_NUM_TASKS = 100_000
STATIC_DIR = Path(__file__).parent / "static"


@dataclass
class Session:
    """One visitor's or client's episode."""

    state: ShopState
    obs_mode: str = "text"
    last_used: float = field(default_factory=time.monotonic)


class SessionStore:
    """Sessions by unguessable id, least recently used dropped beyond ``max_sessions``."""

    def __init__(self, max_sessions: int = MAX_SESSIONS):
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, session: Session) -> str:
        sid = secrets.token_urlsafe(SESSION_ID_BYTES)
        with self._lock:
            self._sessions[sid] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return sid

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None:
                self._sessions.move_to_end(sid)
                session.last_used = time.monotonic()
        return session

    def delete(self, sid: str) -> bool:
        with self._lock:
            return self._sessions.pop(sid, None) is not None

    def __len__(self) -> int:
        return len(self._sessions)


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
    task_id: int | None = Field(default=None, ge=0, le=2**62, description="task to play; random when omitted")
    max_steps: int | None = Field(default=None, ge=1, le=MAX_API_STEPS, description="truncate after this many actions")
    obs_mode: Literal["text", "html"] = "text"


class StepRequest(BaseModel):
    action: str = Field(max_length=MAX_API_ACTION_CHARS)


def goal_to_dict(goal: Goal) -> dict[str, Any]:
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
    if session.obs_mode == "html":
        from hiergym.envs.webshop.views import render_content

        return render_content(session.state)
    return session.state.text_observation()


def create_app(
    *,
    num_products: int = 1000,
    catalogue_seed: int = 0,
    cache_dir: str | Path | None = None,
    store: ProductStore | None = None,
    num_tasks: int = DEFAULT_NUM_TASKS,
    max_sessions: int = MAX_SESSIONS,
) -> FastAPI:
    """The site + API over one read-only catalogue (``store`` or the cached ``(seed, n)`` one)."""
    store = store or ProductStore.open(catalogue_seed, num_products, cache_dir)
    sessions = SessionStore(max_sessions)
    app = FastAPI(
        title="hiergym WebShop", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json", redirect_slashes=False
    )
    app.state.sessions = sessions
    app.state.store = store
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def new_session(task_id: int | None, max_steps: int | None = None, obs_mode: str = "text") -> tuple[str, Session]:
        task = secrets.randbelow(num_tasks) if task_id is None else task_id
        session = Session(ShopState(store, goal_for_task(store, task), max_steps), obs_mode)
        return sessions.create(session), session

    def api_session(sid: str) -> Session:
        session = sessions.get(sid)
        if session is None:
            raise HTTPException(404, "no such session (it may have expired); POST /api/sessions to start one")
        return session

    # --- browser routes ----------------------------------------------------------------
    def page_response(sid: str, session: Session, status: int = 200) -> HTMLResponse:
        response = HTMLResponse(render_page(session.state), status_code=status)
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", path="/")
        return response

    def browser_session(request: Request) -> tuple[str, Session]:
        sid = request.cookies.get(SESSION_COOKIE)
        session = sessions.get(sid)
        if session is None:
            return new_session(None)
        return sid, session  # type: ignore[return-value]

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        return page_response(*browser_session(request))

    @app.get("/new")
    async def new(task: int | None = Query(default=None, ge=0, le=2**62)) -> Response:
        sid, _ = new_session(task)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", path="/")
        return response

    @app.get("/search", response_class=HTMLResponse)
    async def search(request: Request, q: str = Query(max_length=MAX_QUERY_CHARS)) -> HTMLResponse:
        sid, session = browser_session(request)
        if session.state.page != PAGE_SEARCH and not session.state.done:
            session.state.step(f"click[{BACK_TO_SEARCH}]")
        session.state.step(f"search[{q}]")
        return page_response(sid, session)

    @app.post("/click")
    async def click(request: Request, label: str = Form(max_length=MAX_LABEL_CHARS)) -> Response:
        sid, session = browser_session(request)
        session.state.step(f"click[{label}]")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", path="/")
        return response

    # --- JSON API ----------------------------------------------------------------------
    @app.post("/api/sessions")
    async def api_create(body: NewSession | None = None) -> JSONResponse:
        body = body or NewSession()
        sid, session = new_session(body.task_id, body.max_steps, body.obs_mode)
        return JSONResponse({
            "session_id": sid,
            "observation": observe(session),
            "info": api_info(session.state),
            "goal": goal_to_dict(session.state.goal),
        })

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
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
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

