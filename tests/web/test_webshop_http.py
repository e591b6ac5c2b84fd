"""WebShop-http-v0: the same env over HTTP gives the same trajectories as the in-process env."""

import warnings

import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

from hiergym.envs.webshop.env import WebShopEnv
from hiergym.envs.webshop.expert import expert, run_episode
from hiergym.envs.webshop.http_env import WebShopHttpEnv
from hiergym.info_keys import InfoKeys
from hiergym.wrappers import TextActions

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


# Text with lone surrogates among ordinary characters: Python strings can hold them, UTF-8 cannot.
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
odd_text = st.text(st.one_of(surrogates, st.characters(codec="utf-8"), st.sampled_from("abc []<>/")), max_size=30)
odd_actions = st.one_of(odd_text, st.builds("{}[{}]".format, st.sampled_from(["search", "click", "CLICK"]), odd_text))


def _strip(info):
    return {k: v for k, v in info.items() if k != InfoKeys.SUBGOALS}


@pytest.fixture(scope="module")
def env_pair(webshop_server, webshop_cache):
    local = WebShopEnv(num_products=N, cache_dir=webshop_cache, max_steps=10)
    remote = WebShopHttpEnv(base_url=webshop_server.url, max_steps=10)
    yield local, remote
    local.close()
    remote.close()


@settings(max_examples=40, deadline=None, derandomize=True)
@given(actions=st.lists(odd_actions, min_size=1, max_size=4), prefix=st.sampled_from([[], ["search[shoes]"]]))
def test_lone_surrogates_mean_the_same_in_process_and_over_http(env_pair, actions, prefix):
    local, remote = env_pair
    assert local.reset(seed=4)[0] == remote.reset(seed=4)[0]
    for act in prefix + actions:
        la, ra = local.step(act), remote.step(act)
        assert la[:4] == ra[:4] and _strip(la[4]) == _strip(ra[4]), act
    assert local.product("\ud800" * 10) is remote.product("\ud800" * 10) is None


@settings(max_examples=30, deadline=None, derandomize=True)
@given(bodies=st.lists(odd_text, min_size=1, max_size=3))
def test_lone_surrogates_through_text_actions_mean_the_same_on_both(env_pair, bodies):
    local, remote = (TextActions(e) for e in env_pair)
    local.reset(seed=5)
    remote.reset(seed=5)
    for body in bodies:
        for answer in (f"<think>{body}</think><action>search[{body}]</action>", f"<action>click[{body}]</action>", body):
            la, ra = local.step(answer), remote.step(answer)
            assert la[:4] == ra[:4] and _strip(la[4]) == _strip(ra[4]), answer


def test_a_lone_surrogate_is_an_invalid_action_not_an_exception(http_env):
    http_env.reset(seed=0)
    obs, reward, *_, info = http_env.step("click[\ud800x]")
    assert reward == pytest.approx(http_env.invalid_action_penalty) and not info[InfoKeys.ACTION_VALID]
    assert "'?x'" in obs  # shown as the in-process env shows it


def test_resets_reuse_one_server_session(webshop_server, webshop_app):
    sessions = webshop_app.app.state.sessions
    env = WebShopHttpEnv(base_url=webshop_server.url, max_steps=10)
    before = len(sessions)
    env.reset(seed=0)
    sid = env.session_id
    for seed in range(1, 6):
        obs, _ = env.reset(seed=seed)
        assert env.session_id == sid and obs.startswith("Instruction:")
    assert len(sessions) == before + 1
    sessions.delete(sid)  # the server dropped it (e.g. restarted): the next reset starts another
    env.reset(seed=7)
    assert env.session_id != sid and len(sessions) == before + 1
    env.close()
    assert len(sessions) == before


def test_the_webshop_reward_rule_is_the_same_over_http(webshop_server, webshop_cache):
    pytest.importorskip("rapidfuzz")
    local = WebShopEnv(num_products=N, cache_dir=webshop_cache, max_steps=10, reward="webshop")
    remote = WebShopHttpEnv(base_url=webshop_server.url, max_steps=10, reward="webshop")
    for seed in (0, 5):
        a, b = run_episode(local, expert, seed), run_episode(remote, expert, seed)
        assert [t.to_dict() for t in a.turns] == [t.to_dict() for t in b.turns] and a.success
    local.reset(seed=1)
    remote.reset(seed=1)
    plan = [lambda: f"search[{local.goal.product_type}]", lambda: f"click[{local.shop.admissible_clicks()[-1]}]",
            lambda: "click[buy now]"]  # buy the last result on the page, whatever it is
    for next_action in plan:
        act = next_action()
        la, ra = local.step(act), remote.step(act)
        assert la[:4] == ra[:4]
    assert la[2]  # bought
    local.close()
    remote.close()
