"""The WebShop purchase reward as a pure function.

r = r_type * (matched attributes + matched options + [price <= bound])
          / (number of goal attributes + number of goal options + 1)

``r_type`` (product-type match, after WebShop's type reward):

* 1.0 when the bought product has the goal's product type;
* 0.5 when it is in the goal's category and the type names share a word
  ("running shoes" vs "walking shoes", "men's t-shirt" vs "women's t-shirt");
* 0.1 when it is in the goal's category only ("hoodie" vs "rain jacket");
* 0.0 otherwise (a coffee table for a coffee request).

An attribute matches when it is one of the product's attributes or appears in its title;
an option matches when the selected value for that option kind equals the goal's value.
The episode is won when r = 1.

This is ``reward="exact"``, the default of both WebShop envs: r = 1 exactly when the product
has every requested attribute and the requested option values were chosen, so "won" means the
instruction was followed to the letter (the expert, the subgoals and ``is_matching_product``
use the same test), and the score needs no fuzzy thresholds or language model.
``reward="webshop"`` (``hiergym.envs.webshop.reward_webshop``) is the original WebShop rule,
whose fuzzy matching accepts near misses ("blue" for "navy blue"); use it to compare with
published WebShop numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hiergym.envs.webshop.catalogue import Product
from hiergym.envs.webshop.instructions import Goal

REWARD_RULES = ("exact", "webshop")
DEFAULT_REWARD_RULE = "exact"
TYPE_MATCH_EXACT = 1.0
TYPE_MATCH_SHARED_WORD = 0.5
TYPE_MATCH_CATEGORY = 0.1
TYPE_MATCH_NONE = 0.0
WIN_TOLERANCE = 1e-9
MIN_TYPE_WORD_LEN = 2


@dataclass(frozen=True)
class RewardBreakdown:
    """Every part of the reward, so a person (or a test) can see why a purchase scored what it did."""

    r_type: float
    attributes_matched: int
    attributes_total: int
    options_matched: int
    options_total: int
    price_ok: bool
    reward: float

    @property
    def won(self) -> bool:
        """True when the reward is 1 (up to float rounding): the instruction was met in full."""
        return self.reward >= 1.0 - WIN_TOLERANCE


def type_words(product_type: str) -> frozenset[str]:
    """Content words of a product-type name ("men's t-shirt" -> {"men", "shirt"})."""
    return frozenset(w for w in re.findall(r"[a-z0-9]+", product_type.lower()) if len(w) >= MIN_TYPE_WORD_LEN)


def type_match(goal_type: str, goal_category: str, product_type: str, product_category: str) -> float:
    """``r_type`` in {1, 0.5, 0.1, 0} as documented in the module docstring."""
    if goal_type == product_type:
        return TYPE_MATCH_EXACT
    if goal_category != product_category:
        return TYPE_MATCH_NONE
    if type_words(goal_type) & type_words(product_type):
        return TYPE_MATCH_SHARED_WORD
    return TYPE_MATCH_CATEGORY


def attribute_matches(attribute: str, product: Product) -> bool:
    """Whether ``product`` has ``attribute``, as one of its attributes or in its title."""
    return attribute in product.attributes or attribute in product.title.lower()


def purchase_reward(goal: Goal, product: Product, selected: Mapping[str, str]) -> RewardBreakdown:
    """The reward for buying ``product`` with options ``selected`` (kind -> value) under ``goal``."""
    r_type = type_match(goal.product_type, goal.category, product.product_type, product.category)
    attrs = sum(attribute_matches(a, product) for a in goal.attributes)
    opts = sum(selected.get(kind) == value for kind, value in goal.options)
    price_ok = product.price <= goal.price_upper
    total = len(goal.attributes) + len(goal.options) + 1
    reward = r_type * (attrs + opts + int(price_ok)) / total
    return RewardBreakdown(r_type, attrs, len(goal.attributes), opts, len(goal.options), price_ok, reward)


def best_selection(goal: Goal, product: Product) -> dict[str, str]:
    """The goal's option values that ``product`` offers (what an ideal shopper would click)."""
    return {k: v for k, v in goal.options if v in product.options.get(k, ())}


def achievable_reward(goal: Goal, product: Product) -> float:
    """The reward of buying ``product`` with the best option selection it allows."""
    return purchase_reward(goal, product, best_selection(goal, product)).reward


def is_matching_product(goal: Goal, product: Product) -> bool:
    """True when buying ``product`` with the right options wins (r = 1)."""
    return achievable_reward(goal, product) >= 1.0 - WIN_TOLERANCE
