"""Load: 200 concurrent sessions x 20 actions on loopback, no error, no cross-session leak (slow)."""

import asyncio

import pytest

from hiergym.envs.webshop.load import ServerProcess, run_load

SESSIONS, ACTIONS, BOUND_S = 200, 20, 170.0


@pytest.mark.slow
def test_200_concurrent_sessions(capsys):
    with ServerProcess(num_products=1000) as server:  # its own process: client and server do not share a GIL
        report = asyncio.run(run_load(server.url, SESSIONS, ACTIONS, timeout_s=BOUND_S))
    with capsys.disabled():
        print(f"\nWebShop load: {report.summary()}")
    assert report.errors == []
    assert report.requests == SESSIONS * (ACTIONS + 1)


def test_small_load_smoke(webshop_server):
    report = asyncio.run(run_load(webshop_server.url, sessions=10, actions=5, timeout_s=60))
    assert report.errors == [] and report.requests == 60 and report.percentile(50) > 0
