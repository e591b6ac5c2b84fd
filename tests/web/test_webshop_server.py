"""The WebShop site and JSON API: sessions, isolation, input limits, escaping, the browser flow over HTTP."""

import re

import httpx
import pytest

from hiergym.envs.webshop.instructions import goal_for_task
from hiergym.envs.webshop.reward import is_matching_product
from hiergym.envs.webshop.server import MAX_API_ACTION_CHARS, MAX_BODY_BYTES, SESSION_COOKIE
from hiergym.envs.webshop.store import MAX_QUERY_CHARS
from hiergym.info_keys import InfoKeys

from .conftest import browser_post, start_task


@pytest.fixture
def client(webshop_server):
    with httpx.Client(base_url=webshop_server.url, timeout=30) as c:
        yield c


def new_session(client, **body):
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def step(client, sid, action):
    r = client.post(f"/api/sessions/{sid}/step", json={"action": action})
    assert r.status_code == 200, r.text
    return r.json()


def test_api_episode_matches_the_state_machine(client, webshop_store):
    data = new_session(client, task_id=7, max_steps=10)
    goal = goal_for_task(webshop_store, 7)
    assert data["goal"]["instruction"] == goal.instruction and data["observation"].endswith("Search")
    out = step(client, data["session_id"], f"search[{goal.product_type}]")
    assert out["reward"] == 0.0 and out["info"][InfoKeys.ANCHOR_STATE][0] == "results"
    assert out["info"][InfoKeys.ACTION_VALID] is True
    assert [s["id"] for s in out["info"][InfoKeys.SUBGOALS]][0] == "search"


def test_session_ids_are_unguessable_and_distinct(client):
    ids = {new_session(client)["session_id"] for _ in range(20)}
    assert len(ids) == 20 and all(len(i) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)


def test_one_session_cannot_read_or_change_another(client):
    a, b = new_session(client, task_id=1), new_session(client, task_id=2)
    before_b = client.get(f"/api/sessions/{b['session_id']}").json()
    step(client, a["session_id"], "search[shoes]")
    after_b = client.get(f"/api/sessions/{b['session_id']}").json()
    assert after_b == before_b
    for guess in (a["session_id"][:-1] + "x", a["session_id"].upper(), "", "..", "../sessions"):
        assert client.get(f"/api/sessions/{guess}").status_code in (404, 405)
        assert client.post(f"/api/sessions/{guess}/step", json={"action": "click[buy now]"}).status_code in (404, 405)
    assert client.delete(f"/api/sessions/{a['session_id']}").status_code == 204
    assert client.get(f"/api/sessions/{a['session_id']}").status_code == 404
    assert client.get(f"/api/sessions/{b['session_id']}").status_code == 200


def test_browser_cookie_sessions_are_separate(webshop_server):
    with httpx.Client(base_url=webshop_server.url) as alice, httpx.Client(base_url=webshop_server.url) as bob:
        start_task(alice, 3)
        start_task(bob, 4)
        assert alice.cookies[SESSION_COOKIE] != bob.cookies[SESSION_COOKIE]
        browser_post(alice, "/search", q="running shoes")
        assert "Total results" in alice.get("/").text
        assert "Total results" not in bob.get("/").text and 'name="q"' in bob.get("/").text


@pytest.mark.parametrize(
    "request_args, status",
    [
        (("POST", "/search", {"data": {"q": "x" * (MAX_QUERY_CHARS + 1)}}), 422),
        (("GET", "/search", {"params": {"q": "shoes"}}), 405),
        (("POST", "/api/sessions/{sid}/step", {"json": {"action": "x" * (MAX_API_ACTION_CHARS + 1)}}), 422),
        (("POST", "/api/sessions/{sid}/step", {"content": b"a" * (MAX_BODY_BYTES + 1)}), 413),
        (("POST", "/api/sessions/{sid}/step", {"content": (b"x" * 1024 for _ in range(40))}), 413),  # chunked, no length
        (("POST", "/api/sessions/{sid}/step", {"content": b"{not json"}), 422),
        (("POST", "/api/sessions/{sid}/step", {"json": {"act": "x"}}), 422),
        (("POST", "/api/sessions/{sid}/step", {"json": {"action": 5}}), 422),
        (("POST", "/api/sessions", {"json": {"task_id": -1}}), 422),
        (("POST", "/api/sessions", {"json": {"max_steps": 10**9}}), 422),
        (("POST", "/api/sessions", {"json": {"obs_mode": "pixels"}}), 422),
        (("GET", "/new", {"params": {"task": "abc"}}), 422),
        (("POST", "/click", {"data": {"label": "x" * 1000}}), 422),
        (("POST", "/click", {}), 422),
        (("GET", "/api/products/" + "Z" * 300, {}), 404),
        (("PUT", "/api/sessions", {}), 405),
        (("GET", "/nope", {}), 404),
    ],
)
def test_bad_requests_get_4xx_not_500(client, request_args, status):
    sid = new_session(client)["session_id"]
    method, path, kwargs = request_args
    r = client.request(method, path.format(sid=sid), **kwargs)
    assert r.status_code == status, r.text
    assert client.get("/healthz").json()["ok"]


def test_search_is_escaped_and_keeps_the_database(client, webshop_store):
    before = webshop_store.checksum()
    start_task(client, 1)
    for q in ['<script>alert(1)</script>', 'a" OR 1=1 --', "NEAR(x y)", "'; DROP TABLE products; --", "caf\u00e9"]:
        assert browser_post(client, "/search", q=q).status_code == 303
        page = client.get("/").text
        assert "<script>alert" not in page and ("Total results" in page or "Invalid query" in page or "no words" in page)
        browser_post(client, "/click", label="back to search")
    assert webshop_store.checksum() == before


def test_a_person_can_buy_through_the_html_pages(client, webshop_store):
    goal = goal_for_task(webshop_store, 12)
    start_task(client, 12)
    r = browser_post(client, "/search", q=" ".join([*goal.attributes, goal.product_type]))
    assert r.status_code == 303 and r.headers["location"] == "/"
    page = client.get("/").text
    assert goal.instruction in page
    asins = re.findall(r'name="label" value="(b[0-9a-z]{9})"', page)
    target = next(a for a in asins if is_matching_product(goal, webshop_store.get(a)))
    r = browser_post(client, "/click", label=target)
    assert r.status_code == 303 and r.headers["location"] == "/"
    for _, value in goal.options:
        browser_post(client, "/click", label=value)
    page = client.get("/").text
    assert all(f'class="option selected" data-kind="{k}">{v}<' in page for k, v in goal.options)
    assert browser_post(client, "/click", label="buy now").status_code == 303
    page = client.get("/").text
    assert 'id="reward">1.00<' in page and "Thank you" in page


def test_unknown_cookie_gets_the_start_page_and_creates_nothing(webshop_server, webshop_app):
    before = len(webshop_app.app.state.sessions)
    with httpx.Client(base_url=webshop_server.url, cookies={SESSION_COOKIE: "forged"}) as c:
        r = c.get("/")
        assert r.status_code == 200 and 'id="start-button"' in r.text and SESSION_COOKIE not in r.cookies
        assert browser_post(c, "/click", label="buy now").headers["location"] == "/"
    assert len(webshop_app.app.state.sessions) == before


def test_product_api_and_health(client, webshop_store):
    p = webshop_store.by_index(0)
    assert client.get(f"/api/products/{p.asin}").json()["title"] == p.title
    assert client.get("/api/products/B000000000").status_code == 404
    assert client.get("/static/shop.css").status_code == 200
    assert client.get("/healthz").json()["products"] == webshop_store.num_products
