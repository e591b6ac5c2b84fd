"""HTTP fuzzing of the WebShop server on 127.0.0.1 with hypothesis: never a 5xx, the server stays up.

Reproducible (the hypothesis profile in tests/conftest.py derandomises) and without shared
mutable state: every example fuzzes a session of its own, which it may well delete.
"""

from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PATHS = ["/", "/new", "/search", "/click", "/api/sessions", "/api/sessions/{sid}", "/api/sessions/{sid}/step",
         "/api/products/{text}", "/api/sessions/{text}/step", "/static/{text}", "/healthz", "/{text}"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=300).map(lambda b: {"content": b}),
    json_values.map(lambda v: {"json": v}),
    st.fixed_dictionaries({"action": st.one_of(st.text(max_size=60), json_values)}).map(lambda v: {"json": v}),
    st.dictionaries(st.sampled_from(["task_id", "max_steps", "obs_mode", "x"]), json_values, max_size=3).map(lambda v: {"json": v}),
    st.dictionaries(st.sampled_from(["label", "q"]), st.text(max_size=300), max_size=2).map(lambda v: {"data": v}),
)
params = st.dictionaries(st.sampled_from(["q", "task", "x"]), st.text(max_size=300), max_size=2)
headers = st.dictionaries(
    st.sampled_from(["content-type", "x-junk", "accept"]),
    st.sampled_from(["application/json", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "\u00e9"]).filter(lambda v: v.isascii()),
    max_size=2,
)


@pytest.fixture(scope="module")
def client(webshop_server):
    with httpx.Client(base_url=webshop_server.url, timeout=30) as c:
        yield c


def own_session(client) -> str:
    r = client.post("/api/sessions")
    assert r.status_code == 200, r.text
    return r.json()["session_id"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    method=st.sampled_from(METHODS),
    path=st.sampled_from(PATHS),
    text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"), min_size=1, max_size=40),
    body=bodies,
    query=params,
    extra_headers=headers,
)
def test_fuzz_requests_never_get_a_server_error(client, method, path, text, body, query, extra_headers):
    sid = own_session(client) if "{sid}" in path else None
    url = path.format(sid=sid, text=quote(text, safe=""))
    r = client.request(method, url, params=query, headers=extra_headers, **(body or {}))
    client.cookies.clear()  # no cookie carries over to the next example
    assert r.status_code < 500, (method, url, query, body, r.status_code, r.text[:300])
    if sid is not None:
        client.delete(f"/api/sessions/{sid}")


def test_server_is_still_up_after_fuzzing(client, webshop_store):
    assert client.get("/healthz").json()["ok"]
    assert client.post(f"/api/sessions/{own_session(client)}/step", json={"action": "search[shoes]"}).status_code == 200
