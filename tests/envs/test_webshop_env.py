"""WebShopEnv: the page flow, invalid actions (with a hypothesis fuzz), truncation, subgoals, html, expert."""

import json
import re

import gymnasium
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hiergym
from hiergym.envs.common import INVALID_ACTION_PENALTY
from hiergym.envs.webshop.env import WebShopEnv
from hiergym.envs.webshop.expert import demonstrations, evaluate, expert, expert_query, random_baseline
from hiergym.envs.webshop.reward import purchase_reward
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.types import Trajectory


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("webshop")


@pytest.fixture
def env(cache):
    e = WebShopEnv(cache_dir=cache)
    yield e
    e.close()


def labels(info):
    return [a[len("click["):-1] for a in info[InfoKeys.ADMISSIBLE_ACTIONS] if a.startswith("click[")]


def products_on(info):
    return [lb for lb in labels(info) if re.fullmatch(r"b[0-9a-z]{9}", lb)]


def test_registered_and_makeable():
    e = hiergym.make("hiergym/WebShop-v0")
    obs, info = e.reset(seed=0)
    assert obs.startswith("Instruction: [SEP] ") and obs.endswith("[SEP] Search")
    assert info[InfoKeys.ADMISSIBLE_ACTIONS] == ["search[<query>]"]
    e.close()


def test_full_purchase_flow(env):
    obs, info = env.reset(seed=1)
    goal = env.goal
    obs, r, term, trunc, info = env.step(f"search[{expert_query(goal)}]")
    assert (r, term, trunc) == (0.0, False, False) and "Page 1 of" in obs
    assert info[InfoKeys.ANCHOR_STATE][:3] == ("results", expert_query(goal), 1)
    assert len(products_on(info)) == 10 and "next >" in labels(info)
    obs, *_, info = env.step("click[next >]")
    assert info[InfoKeys.ANCHOR_STATE][2] == 2 and "< prev" in labels(info)
    obs, *_, info = env.step("CLICK[ < Prev ]")  # verbs and labels are case/space-insensitive
    assert info[InfoKeys.ANCHOR_STATE][2] == 1
    target = next(a for a in products_on(info) if env.product(a).product_type == goal.product_type)
    obs, *_, info = env.step(f"click[{target}]")
    item = env.product(target)
    assert info[InfoKeys.ANCHOR_STATE][0] == "item" and item.title in obs and "Buy Now" in obs
    obs, *_, info = env.step("click[reviews]")
    assert item.reviews[0] in obs and labels(info) == ["back to search", "< prev"]
    obs, *_, info = env.step("click[< prev]")
    kind, values = next(iter(item.options.items()))
    obs, r, *_, info = env.step(f"click[{values[-1]}]")
    assert info[InfoKeys.ANCHOR_STATE][5] == ((kind, values[-1]),) and info[InfoKeys.ACTION_EFFECTIVE]
    obs, r, *_, info = env.step(f"click[{values[-1]}]")  # same option again: valid, not effective
    assert info[InfoKeys.ACTION_VALID] and not info[InfoKeys.ACTION_EFFECTIVE] and r == 0.0
    obs, r, term, trunc, info = env.step("click[buy now]")
    assert term and not trunc and "Thank you" in obs
    assert r == pytest.approx(purchase_reward(goal, item, {kind: values[-1]}).reward)
    assert info[InfoKeys.WON] == (r == 1.0) and info[InfoKeys.ADMISSIBLE_ACTIONS] == []


def test_back_to_search_resets_the_page(env):
    env.reset(seed=2)
    env.step("search[shoes]")
    _, _, _, _, info = env.step("click[back to search]")
    assert info[InfoKeys.ANCHOR_STATE] == ("search", "", 1, "", "main", ())


BAD_ACTIONS = [
    "", "hello", "search", "click", "search[]", "search[!!!]", "click[nothing here]", "click[]", "[coffee]",
    "search[" + "a" * 300 + "]", "search[" + " ".join(["w"] * 20) + "]", None, 123, 4.5, ["click[buy now]"],
    b"\xff\xfe", "\x00click[buy now]", "click[buy now]",
]


@pytest.mark.parametrize("action", BAD_ACTIONS)
def test_invalid_actions_penalise_and_change_nothing(env, action):
    _, info0 = env.reset(seed=4)
    obs, r, term, trunc, info = env.step(action)
    assert r == INVALID_ACTION_PENALTY and not term and not trunc
    assert not info[InfoKeys.ACTION_VALID] and not info[InfoKeys.ACTION_EFFECTIVE]
    assert info[InfoKeys.ANCHOR_STATE] == info0[InfoKeys.ANCHOR_STATE]
    assert env.observation_space.contains(obs) and obs.split(" [SEP] ")[0]  # says what went wrong


def test_format_flag_separates_parse_errors_from_illegal_commands(env):
    env.reset(seed=4)
    _, _, _, _, info = env.step("buy the thing")
    assert not info[InfoKeys.ACTION_FORMAT_OK] and not info[InfoKeys.ACTION_ADMISSIBLE]
    _, _, _, _, info = env.step("click[buy now]")
    assert info[InfoKeys.ACTION_FORMAT_OK] and not info[InfoKeys.ACTION_ADMISSIBLE]
    env.step("search[coffee]")
    obs, _, _, _, info = env.step("search[tea]")
    assert info[InfoKeys.ACTION_FORMAT_OK] and not info[InfoKeys.ACTION_ADMISSIBLE] and "back to search" in obs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(st.one_of(st.text(max_size=80), st.sampled_from(["search[shoes]", "click[next >]", "click[buy now]", "click[< prev]"]).map(lambda a: a), st.binary(max_size=20)), max_size=8))
def test_fuzz_never_raises_and_stays_in_spaces(env, actions):
    obs, info = env.reset(seed=5)
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        assert env.observation_space.contains(obs)
        assert r == INVALID_ACTION_PENALTY or r == 0.0 or term
        if term or trunc:
            break


def test_truncated_at_max_steps(cache):
    e = WebShopEnv(cache_dir=cache, max_steps=3)
    e.reset(seed=0)
    flags = [e.step("click[nope]")[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    e.close()


def test_same_seed_same_task_and_task_id_option(env):
    _, a = env.reset(seed=11)
    _, b = env.reset(seed=11)
    assert a[InfoKeys.TASK] == b[InfoKeys.TASK]
    _, c = env.reset(options={"task_id": 42})
    _, d = env.reset(seed=99, options={"task_id": 42})
    assert c[InfoKeys.TASK] == d[InfoKeys.TASK] and env.goal.task_id == 42
    with pytest.raises(EnvSpecError, match="task_id"):
        env.reset(options={"task_id": -3})


@pytest.mark.parametrize(
    "kwargs, field", [({"obs_mode": "pixels"}, "obs_mode"), ({"max_steps": 0}, "max_steps"), ({"num_products": 0}, "num_products"), ({"render_mode": "human"}, "render_mode")]
)
def test_bad_kwargs_name_the_field(cache, kwargs, field):
    with pytest.raises(EnvSpecError, match=field):
        WebShopEnv(cache_dir=cache, **kwargs)


def test_subgoals_follow_the_expert(env):
    _, info = env.reset(seed=3)
    goal = env.goal
    ids = [s.id for s in info[InfoKeys.SUBGOALS]]
    assert ids == ["search", "open_item", *[f"option:{k}" for k, _ in goal.options], "buy"]
    policy = expert(goal, env)
    seen = []
    term = False
    while not term:
        *_, term, _, info = env.step(policy(info))
        seen.append(list(info[InfoKeys.SUBGOALS_ACHIEVED]))
    assert seen[-1] == ids and info[InfoKeys.WON]
    assert all(s.check(env) for s in info[InfoKeys.SUBGOALS])


def test_html_mode_escapes_and_fits_the_space(cache):
    e = WebShopEnv(cache_dir=cache, obs_mode="html")
    obs, _ = e.reset(seed=0)
    assert '<section class="instruction"' in obs and 'name="q"' in obs
    obs, *_ = e.step("search[<script>alert(1)</script> shoes]")
    assert "<script>" not in obs and "Page 1 of" in obs and e.observation_space.contains(obs)
    e.close()


def test_site_pages_share_one_layout(env):
    # The shop, start and error pages extend one base template: same head (but the title), same brand header.
    from hiergym.envs.webshop.views import render_content, render_page, render_template

    env.reset(seed=0)
    pages = [
        render_page(env.shop, csrf="t"),
        render_template("start.html", task=None, replacing=False, csrf="t"),
        render_template("error.html", status=404, detail="no <such> page"),
    ]
    heads = [re.sub(r"<title>.*?</title>", "", re.search(r"<head>.*?</head>", p, re.S).group(0)) for p in pages]
    assert heads[0] == heads[1] == heads[2] and 'name="viewport"' in heads[0]
    assert all('<header><a href="/" class="brand">hiergym&nbsp;WebShop</a>' in p for p in pages)
    assert "<title>hiergym WebShop: 404</title>" in pages[2] and "no &lt;such&gt; page" in pages[2]
    assert 'name="csrf" value="t"' in pages[0] and 'name="csrf"' not in render_content(env.shop)  # the env observes no token


def test_render_ansi(cache):
    e = WebShopEnv(cache_dir=cache, render_mode="ansi")
    obs, _ = e.reset(seed=0)
    assert e.render() == obs
    e.close()


def test_expert_beats_random_baseline(env):
    best = evaluate(env, expert, range(40))
    rand = evaluate(env, random_baseline(0), range(40))
    assert best.success_rate >= 0.9 and best.mean_reward >= 0.95
    assert rand.success_rate < 0.2 and rand.mean_reward < best.mean_reward - 0.5


def test_demonstrations_round_trip(env):
    demos = demonstrations(env, range(5))
    assert demos and all(d.success and d.turns[-1].action == "click[buy now]" for d in demos)
    assert Trajectory.from_dict(json.loads(json.dumps(demos[0].to_dict()))) == demos[0]


def test_gymnasium_make_with_kwargs(cache):
    e = gymnasium.make("hiergym/WebShop-v0", cache_dir=cache, num_products=200, max_steps=5)
    _, info = e.reset(seed=0)
    assert e.unwrapped.store.num_products == 200
    e.close()
