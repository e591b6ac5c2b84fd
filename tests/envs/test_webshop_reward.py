"""The WebShop reward against hand-computed numbers, and the goal generator."""

import pytest

from hiergym.envs.webshop.catalogue import Product
from hiergym.envs.webshop.instructions import Goal, goal_for_task, option_phrase, price_bound
from hiergym.envs.webshop.reward import (
    achievable_reward,
    best_selection,
    is_matching_product,
    purchase_reward,
    type_match,
)
from hiergym.envs.webshop.store import ProductStore


def product(ptype="running shoes", category="shoes", attributes=("non slip", "lightweight"), price=25.0, title="X"):
    return Product(
        asin="B000000001", category=category, product_type=ptype, title=title, description="", features=(),
        attributes=attributes, options={"shoe size": ("8", "9"), "color": ("black", "red")}, price=price, rating=4.0,
    )


GOAL = Goal(
    task_id=0, asin="B000000001", category="shoes", product_type="running shoes",
    attributes=("non slip", "waterproof"), options=(("shoe size", "9"),), price_upper=30.0, instruction="",
)


def test_reward_hand_numbers():
    # type 1; attributes 1 of 2; option 1 of 1; price ok -> 1 * (1 + 1 + 1) / (2 + 1 + 1) = 0.75
    r = purchase_reward(GOAL, product(), {"shoe size": "9"})
    assert (r.r_type, r.attributes_matched, r.options_matched, r.price_ok) == (1.0, 1, 1, True)
    assert r.reward == pytest.approx(0.75) and not r.won
    # wrong option, price over bound: 1 * (1 + 0 + 0) / 4
    assert purchase_reward(GOAL, product(price=30.01), {"shoe size": "8"}).reward == pytest.approx(0.25)
    # shared type word (walking shoes): 0.5 * (1 + 1 + 1) / 4
    assert purchase_reward(GOAL, product("walking shoes"), {"shoe size": "9"}).reward == pytest.approx(0.375)
    # attribute found in the title counts
    assert purchase_reward(GOAL, product(title="Waterproof Runner"), {"shoe size": "9"}).won


@pytest.mark.parametrize(
    "ptype, category, expected",
    [
        ("running shoes", "shoes", 1.0),
        ("walking shoes", "shoes", 0.5),
        ("sandals", "shoes", 0.1),
        ("coffee table", "home", 0.0),
    ],
)
def test_type_match_levels(ptype, category, expected):
    assert type_match("running shoes", "shoes", ptype, category) == expected


def test_type_match_ignores_one_letter_words():
    assert type_match("men's t-shirt", "apparel", "women's t-shirt", "apparel") == 0.5
    assert type_match("coffee", "grocery", "coffee table", "home") == 0.0


def test_best_selection_and_achievable_reward():
    p = product(attributes=("non slip", "waterproof"))
    assert best_selection(GOAL, p) == {"shoe size": "9"}
    assert achievable_reward(GOAL, p) == 1.0 and is_matching_product(GOAL, p)
    assert not is_matching_product(GOAL, product())


def test_price_bound_is_a_step_above_the_price():
    assert price_bound(19.99, 0.0) == 20.0
    assert price_bound(20.0, 0.0) == 30.0
    assert price_bound(12.5, 0.5) == 20.0


def test_option_phrases():
    assert option_phrase("color", "black") == "black color"
    assert option_phrase("shoe size", "9.5") == "size 9.5"
    assert option_phrase("count", "pack of 6") == "pack of 6"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = ProductStore.open(seed=0, n=200, cache_dir=tmp_path_factory.mktemp("webshop"))
    yield s
    s.close()


def test_goals_are_deterministic_and_describe_their_product(store):
    for task_id in range(40):
        goal = goal_for_task(store, task_id)
        assert goal == goal_for_task(store, task_id)
        text = goal.instruction
        assert text == text.lower() and f"price lower than {goal.price_upper:.2f} dollars" in text
        assert goal.product_type in text and all(a in text for a in goal.attributes)
        assert all(v in text for _, v in goal.options)
        assert is_matching_product(goal, store.get(goal.asin))
    assert len({goal_for_task(store, t).asin for t in range(40)}) > 30
    with pytest.raises(ValueError, match="task_id"):
        goal_for_task(store, -1)
