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
