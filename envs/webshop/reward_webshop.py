"""The original WebShop purchase reward (princeton-nlp/WebShop ``web_agent_site/engine/goal.py::get_reward``).

Offered as ``reward="webshop"`` so scores compare with published WebShop numbers; the default
``reward="exact"`` (``hiergym.envs.webshop.reward``) has the same formula with exact matching.
The rules, written afresh from the original's behaviour:

* **Attributes**: a goal attribute matches when one of the product's attributes scores
  ``token_set_ratio > 85`` against it (thefuzz's rounded score with its default text
  processing; computed with rapidfuzz), or else when it appears in the title, the bullet points
  (our ``features``) or the description.
* **Options**: every *selected* option value is first reduced to the first colour word it
  contains (WebShop's ``normalize_color``, e.g. "navy blue" -> "blue"), as are the goal's option
  values; a value of the option kind "size" must then equal a goal value, any other value must
  score ``token_set_ratio > 85`` against one; a value that does not match but appears in the
  title, bullet points or description counts too.
* **Price**: 1 when the price is at most the goal's bound.
* **Type** ``r_type``: 1.0, lowered to 0.5 when neither the search query (our product type), nor
  the category path (two shared levels: here department, category, product type) nor the title
  (more than 20% of the goal title's nouns) match; to 0.1 when under 10% of those nouns match,
  and to 0 when none does. WebShop finds nouns with spaCy's part-of-speech tagger; our titles are
  generated as "<brand> <qualifier> <attributes> <product type>", so their nouns are the brand
  and product-type words (no tagger model needed).

r = r_type * (attribute matches + option matches + price) / (goal attributes + goal options + 1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from hiergym.envs.webshop.catalogue import BRANDS, PRODUCT_TYPES, Product
from hiergym.envs.webshop.instructions import Goal
from hiergym.envs.webshop.reward import RewardBreakdown

FUZZY_THRESHOLD = 85
"""A fuzzy match needs a (rounded) token-set ratio above this, as in WebShop."""
EXACT_MATCH_OPTION_KINDS = ("size",)
QUERY_MATCH_TITLE_SCORE = 0.2
LOW_TITLE_SCORE = 0.1
R_TYPE_NO_MATCH, R_TYPE_LOW, R_TYPE_NONE = 0.5, 0.1, 0.0
COLOR_WORDS = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue", "blush",
    "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne", "charcoal", "cheetah",
    "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper", "coral", "cranberry", "cream", "crystal",
    "dark", "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape", "graphite",
    "grass", "gray", "green", "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender", "lemon",
    "leopard", "light", "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha",
    "multicolor", "mushroom", "mustard", "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink",
    "plum", "purple", "rainbow", "red", "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver",
    "skull", "slate", "steel", "stone", "stonewash", "sunflower", "tan", "taupe", "teal", "tiger", "turquoise",
    "violet", "walnut", "wheat", "white", "wine", "yellow",
)
"""WebShop's colour list in its order: the first one found in a value (as a substring) replaces it."""
DEPARTMENTS = {
    "apparel": "Clothing, Shoes & Jewelry", "shoes": "Clothing, Shoes & Jewelry",
    "electronics": "Electronics & Computers", "grocery": "Grocery & Gourmet Food",
    "beauty": "Beauty & Personal Care", "home": "Home & Kitchen", "sports": "Sports & Outdoors",
    "pets": "Pet Supplies",
}
"""Top level of each category's path (Amazon's departments), so the path has WebShop's depth."""
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_BRAND_WORDS = sorted((tuple(_WORD.findall(b.lower())) for b in BRANDS), key=len, reverse=True)
_TYPE_WORDS = sorted((tuple(_WORD.findall(t.name.lower())) for t in PRODUCT_TYPES), key=len, reverse=True)


def _fuzz():
    try:
        from rapidfuzz import fuzz, utils
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("reward='webshop' needs rapidfuzz: pip install 'hiergym[web]'") from e
    return fuzz, utils


def fuzzy_score(a: str, b: str) -> int:
    """thefuzz's ``token_set_ratio(a, b)``: default processing (lower case, punctuation to spaces), rounded."""
    fuzz, utils = _fuzz()
    a, b = utils.default_process(a), utils.default_process(b)
    if not a or not b:
        return 0
    return int(round(fuzz.token_set_ratio(a, b)))


def normalize_color(value: str) -> str:
    """The first WebShop colour word inside ``value`` (substring), else ``value`` unchanged."""
    return next((c for c in COLOR_WORDS if c in value), value)


def title_nouns(title: str) -> list[str]:
    """The nouns of a catalogue title: its brand words and product-type words (other words describe)."""
    words = _WORD.findall(title.lower())
    nouns: list[str] = []
    brand = next((b for b in _BRAND_WORDS if tuple(words[: len(b)]) == b), ())
    nouns += brand
    kind = next((t for t in _TYPE_WORDS if len(words) >= len(brand) + len(t) and tuple(words[len(words) - len(t):]) == t), ())
    nouns += kind
    return nouns if (brand or kind) else words


def category_path(product_category: str, product_type: str) -> tuple[str, str, str]:
    """WebShop's (department, category, product type) path of a product, which ``type_reward`` compares level by level."""
    return DEPARTMENTS.get(product_category, product_category), product_category, product_type


def _in_text(needle: str, product: Product) -> bool:
    return (
        needle in product.title.lower()
        or needle in " ".join(product.features).lower()
        or needle in product.description.lower()
    )


def type_reward(goal: Goal, goal_title: str, product: Product) -> float:
    """WebShop's ``r_type`` for buying ``product`` when the goal was made from a product titled ``goal_title``."""
    query_match = product.product_type == goal.product_type
    shared_levels = set(category_path(product.category, product.product_type)) & set(category_path(goal.category, goal.product_type))
    category_match = len(shared_levels) >= 2
    desired, bought = title_nouns(goal_title), set(title_nouns(product.title))
    title_score = len(bought & set(desired)) / len(desired) if desired else QUERY_MATCH_TITLE_SCORE
    r_type = 1.0
    if not (query_match or category_match or title_score > QUERY_MATCH_TITLE_SCORE):
        r_type = R_TYPE_NO_MATCH
    if title_score < LOW_TITLE_SCORE:
        r_type = R_TYPE_LOW
    if title_score == 0.0:
        r_type = R_TYPE_NONE
    return r_type


def attribute_matches(goal_attributes: Sequence[str], product: Product) -> int:
    """How many goal attributes ``product`` has, fuzzily (score > 85) or as text in its title, features or description."""
    matched = 0
    for wanted in goal_attributes:
        if any(fuzzy_score(have, wanted) > FUZZY_THRESHOLD for have in product.attributes) or _in_text(wanted, product):
            matched += 1
    return matched


def option_matches(goal_values: Sequence[str], product: Product, selected: Mapping[str, str]) -> int:
    """How many selected options match a goal option value (exactly for size, fuzzily otherwise) or appear in the product text."""
    goal_values = [normalize_color(v) for v in goal_values]
    matched = 0
    for kind, value in selected.items():
        value = normalize_color(value)
        if kind.lower() in EXACT_MATCH_OPTION_KINDS:
            hit = value in goal_values
        else:
            hit = any(fuzzy_score(wanted, value) > FUZZY_THRESHOLD for wanted in goal_values)
        if hit or _in_text(value, product):
            matched += 1
    return matched


def webshop_purchase_reward(goal: Goal, product: Product, selected: Mapping[str, str], goal_title: str) -> RewardBreakdown:
    """WebShop's ``get_reward`` for buying ``product`` with options ``selected``; ``goal_title`` is the
    title of the product the goal was made from (WebShop's goal ``name``)."""
    r_type = type_reward(goal, goal_title, product)
    attrs = attribute_matches(goal.attributes, product)
    opts = option_matches([v for _, v in goal.options], product, selected)
    price_ok = product.price <= goal.price_upper
    total = len(goal.attributes) + len(goal.options) + 1
    reward = r_type * (attrs + opts + int(price_ok)) / total
    return RewardBreakdown(r_type, attrs, len(goal.attributes), opts, len(goal.options), price_ok, reward)
