"""WebShop-http-v0: the same env over HTTP gives the same trajectories as the in-process env."""

import warnings

import pytest
from gymnasium.utils.env_checker import check_env

from hiergym.envs.webshop.env import WebShopEnv
from hiergym.envs.webshop.expert import expert, run_episode
from hiergym.envs.webshop.http_env import WebShopHttpEnv
from hiergym.info_keys import InfoKeys

from .conftest import NUM_PRODUCTS as N


@pytest.fixture
def http_env(webshop_server):
    e = WebShopHttpEnv(base_url=webshop_server.url, max_steps=10)
    yield e
    e.close()


def test_check_env_over_http(http_env):
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=UserWarning)
        check_env(http_env, skip_render_check=True)


def test_http_and_in_process_trajectories_are_identical(http_env, webshop_cache):
    local = WebShopEnv(num_products=N, cache_dir=webshop_cache, max_steps=10)
    for seed in (0, 1, 2):
        a, b = run_episode(local, expert, seed), run_episode(http_env, expert, seed)
        assert [t.to_dict() for t in a.turns] == [t.to_dict() for t in b.turns] and a.success
    actions = ["search[wireless black]", "click[next >]", "click[nope]", "hello", "click[back to search]"]
    local.reset(seed=9)
    http_env.reset(seed=9)
    for act in actions:
        la, ha = local.step(act), http_env.step(act)
        assert la[:4] == ha[:4]
        strip = lambda info: {k: v for k, v in info.items() if k != InfoKeys.SUBGOALS}  # noqa: E731
        assert strip(la[4]) == strip(ha[4])
        assert [s.id for s in la[4][InfoKeys.SUBGOALS]] == [s.id for s in ha[4][InfoKeys.SUBGOALS]]
    local.close()


def test_http_subgoal_checks_read_server_progress(http_env):
    _, info = http_env.reset(seed=3)
    policy = expert(http_env.goal, http_env)
    term = False
    while not term:
        *_, term, _, info = http_env.step(policy(info))
    assert all(s.check(http_env) for s in info[InfoKeys.SUBGOALS]) and info[InfoKeys.WON]


def test_private_server_starts_and_stops(webshop_cache):
    e = WebShopHttpEnv(num_products=N, cache_dir=webshop_cache)
    url = e.base_url
    assert url.startswith("http://127.0.0.1:")
    obs, _ = e.reset(seed=0)
    assert obs.startswith("Instruction:")
    e.close()
    import httpx

    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/healthz", timeout=2)
