"""reward="exact" (ours, default) vs reward="webshop" (princeton-nlp/WebShop's get_reward) on hand cases."""

import pytest

pytest.importorskip("rapidfuzz")

from hiergym.envs.webshop.catalogue import Product  # noqa: E402
from hiergym.envs.webshop.env import WebShopEnv  # noqa: E402
from hiergym.envs.webshop.expert import expert, run_episode  # noqa: E402
from hiergym.envs.webshop.instructions import Goal  # noqa: E402
from hiergym.envs.webshop.reward import purchase_reward  # noqa: E402
from hiergym.envs.webshop.reward_webshop import (  # noqa: E402
    fuzzy_score,
    normalize_color,
    title_nouns,
    type_reward,
    webshop_purchase_reward,
)
from hiergym.error import EnvSpecError  # noqa: E402

# The goal was made from this product; 3 attributes + 1 option + price: 5 parts.
GOAL_TITLE = "Norwood Pro Non Slip Lightweight Running Shoes"
GOAL = Goal(
    task_id=0, asin="B000000001", category="shoes", product_type="running shoes",
    attributes=("non slip", "lightweight", "waterproof"), options=(("color", "navy blue"),), price_upper=60.0,
    instruction="i need non slip lightweight waterproof running shoes in navy blue color, and price lower than 60.00 dollars",
)


def bought(ptype="running shoes", category="shoes", title="Dunmore Classic Running Shoes", attributes=GOAL.attributes,
           features=(), colors=("navy blue", "blue", "sky blue", "black"), sizes=None, price=40.0):
    options = {"color": colors, **({"size": sizes} if sizes else {})}
    return Product(asin="B000000002", category=category, product_type=ptype, title=title, description="",
                   features=features, attributes=attributes, options=options, price=price, rating=4.0)


def both(product, selected):
    return purchase_reward(GOAL, product, selected).reward, webshop_purchase_reward(GOAL, product, selected, GOAL_TITLE).reward


@pytest.mark.parametrize(
    "case, product, selected, exact, webshop",
    [
        ("the goal's product", bought(), {"color": "navy blue"}, 1.0, 1.0),
        ("'blue' for 'navy blue'", bought(), {"color": "blue"}, 0.8, 1.0),  # both colours reduce to "blue"
        ("'sky blue' for 'navy blue'", bought(), {"color": "sky blue"}, 0.8, 1.0),
        ("'black' for 'navy blue'", bought(), {"color": "black"}, 0.8, 0.8),
        ("attribute only in the bullet points", bought(attributes=("non slip", "lightweight"), features=("Waterproof: keeps feet dry.",)),
         {"color": "navy blue"}, 0.8, 1.0),
        ("attribute spelled 'non-slip'", bought(attributes=("non-slip", "lightweight", "waterproof")), {"color": "navy blue"}, 0.8, 1.0),
        ("walking shoes for running shoes", bought("walking shoes", title="Dunmore Classic Lightweight Walking Shoes"),
         {"color": "navy blue"}, 0.5, 1.0),
        ("sandals for running shoes", bought("sandals", title="Halcyon Value Sandals"), {"color": "navy blue"}, 0.1, 0.0),
        ("a coffee table", bought("coffee table", "home", title="Umber Deluxe Solid Wood Coffee Table"), {"color": "navy blue"}, 0.0, 0.0),
        ("over the price bound", bought(price=60.01), {"color": "navy blue"}, 0.8, 0.8),
    ],
)
def test_exact_and_webshop_rules_on_hand_cases(case, product, selected, exact, webshop):
    assert both(product, selected) == (pytest.approx(exact), pytest.approx(webshop)), case


def test_size_options_match_exactly_even_in_the_webshop_rule():
    goal = Goal(task_id=0, asin="B000000001", category="apparel", product_type="hoodie", attributes=("cotton",),
                options=(("size", "large"),), price_upper=50.0, instruction="")
    hoodie = Product(asin="B000000003", category="apparel", product_type="hoodie", title="Norwood Pro Cotton Hoodie",
                     description="", features=(), attributes=("cotton",), options={"size": ("large", "x-large")},
                     price=30.0, rating=4.0)
    assert fuzzy_score("x-large", "large") == 100  # a fuzzy rule would accept it ...
    r = webshop_purchase_reward(goal, hoodie, {"size": "x-large"}, "Norwood Pro Cotton Hoodie")
    assert r.options_matched == 0 and r.reward == pytest.approx(2 / 3)  # ... "size" is matched exactly, as in WebShop


def test_webshop_rule_parts():
    assert normalize_color("navy blue") == normalize_color("sky blue") == "blue"  # WebShop's colour order
    assert normalize_color("dark roast") == "dark" and normalize_color("vanilla") == "vanilla"
    assert fuzzy_score("Non-Slip", "non slip") == 100 and fuzzy_score("", "x") == 0
    assert title_nouns(GOAL_TITLE) == ["norwood", "running", "shoes"]
    assert title_nouns("Cobalt & Finch Ultra Wireless Bluetooth Speaker") == ["cobalt", "finch", "bluetooth", "speaker"]
    # hoodie for a rain jacket: same category path, no shared noun -> 0; a shared brand noun -> 1/3 -> 1.0
    jacket = Goal(task_id=0, asin="B1", category="apparel", product_type="rain jacket", attributes=(), options=(), price_upper=1e9,
                  instruction="")
    hoodie = bought("hoodie", "apparel", title="Norwood Pro Cotton Hoodie")
    assert type_reward(jacket, "Dunmore Classic Rain Jacket", hoodie) == 0.0
    assert type_reward(jacket, "Norwood Classic Rain Jacket", hoodie) == 1.0
    # other department: more than 20% of the goal title's nouns must match, and a brand noun counts
    towel = bought("bath towel", "home", title="Norwood Pro Bath Towel")
    assert type_reward(GOAL, GOAL_TITLE, towel) == 1.0  # 1 of 3 nouns (WebShop's heuristic is that lenient)
    other = bought("bath towel", "home", title="epsilon zeta")  # titles of unknown form: every word a noun
    assert type_reward(GOAL, "alpha beta gamma delta epsilon", other) == 0.5  # 1 of 5: 0.2, not above it
    assert type_reward(GOAL, "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda", bought("bath towel", "home", title="lambda")) == 0.1


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("webshop-rules")


def test_env_rule_choice_and_the_expert_wins_under_both(cache):
    exact, fuzzy = (WebShopEnv(num_products=300, cache_dir=cache, max_steps=10, reward=r) for r in ("exact", "webshop"))
    assert exact.reward == "exact" and WebShopEnv(num_products=300, cache_dir=cache).reward == "exact"  # the default
    for seed in range(3):
        a, b = run_episode(exact, expert, seed), run_episode(fuzzy, expert, seed)
        assert a.success and b.success and [t.action for t in a.turns] == [t.action for t in b.turns]
    with pytest.raises(EnvSpecError, match="reward"):
        WebShopEnv(num_products=300, cache_dir=cache, reward="fuzzy")
    exact.close()
    fuzzy.close()


def test_the_rule_decides_the_reward_of_a_near_miss_in_the_env(cache):
    # Buy the target with a wrong colour that shares WebShop's colour word: 'exact' docks it, 'webshop' does not.
    rewards = {}
    for rule in ("exact", "webshop"):
        env = WebShopEnv(num_products=300, cache_dir=cache, max_steps=20, reward=rule)
        for task in range(300):
            env.reset(options={"task_id": task})
            goal = env.goal
            colour = dict(goal.options).get("color")
            item = env.product(goal.asin)
            near = [v for v in item.options.get("color", ()) if v != colour and normalize_color(v) == normalize_color(colour or "")]
            if colour and near:
                break
        else:
            pytest.fail("no task with a near-miss colour in 300")
        env.step(f"search[{goal.product_type}]")
        for page in range(20):  # find the target in the results
            _, _, _, _, info = env.step("click[next >]") if page else (None, None, None, None, {"admissible_actions": env.shop.admissible_actions()})
            if f"click[{goal.asin.lower()}]" in info["admissible_actions"]:
                break
        env.step(f"click[{goal.asin.lower()}]")
        for kind, value in goal.options:
            env.step(f"click[{near[0] if kind == 'color' else value}]")
        rewards[rule] = env.step("click[buy now]")[1]
        env.close()
    n = len(goal.attributes) + len(goal.options) + 1
    assert rewards["exact"] == pytest.approx((n - 1) / n) and rewards["webshop"] == pytest.approx(1.0)
