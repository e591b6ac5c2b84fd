"""Fixtures for the WebShop site: one catalogue and one live server on 127.0.0.1 per module."""

import pytest

from hiergym.envs.webshop.server import RunningServer, create_app
from hiergym.envs.webshop.store import ProductStore

NUM_PRODUCTS = 300


@pytest.fixture(scope="session")
def webshop_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("webshop-cache")


@pytest.fixture(scope="module")
def webshop_store(webshop_cache):
    store = ProductStore.open(seed=0, n=NUM_PRODUCTS, cache_dir=webshop_cache)
    yield store
    store.close()


@pytest.fixture(scope="module")
def webshop_app(webshop_store):
    return create_app(store=webshop_store)


@pytest.fixture(scope="module")
def webshop_server(webshop_app):
    """A real uvicorn server on an ephemeral loopback port, stopped after the module."""
    with RunningServer(webshop_app, host="127.0.0.1", port=0) as server:
        yield server


def csrf_token(client) -> str:
    """The visitor's CSRF token: any page sets the cookie whose value the site's forms carry."""
    from hiergym.envs.webshop.server import CSRF_COOKIE

    if CSRF_COOKIE not in client.cookies:
        client.get("/")
    return client.cookies[CSRF_COOKIE]


def browser_post(client, path, **fields):
    """A form POST as the site's own pages send it (with the CSRF field)."""
    return client.post(path, data={"csrf": csrf_token(client), **fields})


def start_task(client, task=None):
    """Press "Start shopping" (optionally for task ``task``): creates or replaces the visitor's session."""
    fields = {} if task is None else {"task": task}
    r = browser_post(client, "/new", **fields)
    assert r.status_code in (200, 303), r.text
    return r
