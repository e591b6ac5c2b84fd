"""WebShop-style instructions generated from a target product.

A task is an integer ``task_id``; ``goal_for_task(store, task_id)`` picks the target product
and writes a request naming some of its attributes, options and a price bound, e.g.
"i need a gluten free coffee with dark roast and 12 ounce, and price lower than 20.00 dollars".
The same ``task_id`` gives the same goal in every process (blake2b-seeded ``random.Random``),
so the in-process env and the web site agree on task ``k``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from hiergym.envs.webshop.catalogue import Product, seeded_rng
from hiergym.envs.webshop.store import ProductStore

MAX_GOAL_ATTRIBUTES = 3
PRICE_STEP = 10.0
"""Price bounds are multiples of 10 dollars, as in WebShop's "price lower than 40.00 dollars"."""
MAX_PRICE_SLACK = 0.5
"""The bound is at most 50% above the product's price (rounded up to the next step)."""
OPTION_PHRASES = {
    "size": "{v} size",
    "shoe size": "size {v}",
    "color": "{v} color",
    "flavor": "{v} flavor",
    "scent": "{v} scent",
    "style": "{v} style",
    "capacity": "{v} capacity",
    "length": "{v} long",
}
TEMPLATES = (
    "i need {a} {attrs} {ptype}{opts}, and price lower than {price:.2f} dollars",
    "i am looking for {a} {attrs} {ptype}{opts}, and price lower than {price:.2f} dollars",
    "find me {a} {attrs} {ptype}{opts}, and price lower than {price:.2f} dollars",
    "i want to buy {a} {ptype} that is {attrs}{opts}, and price lower than {price:.2f} dollars",
)


@dataclass(frozen=True)
class Goal:
    """What to buy: the product type, attribute and option targets and a price bound.

    ``options`` is a tuple of ``(kind, value)`` pairs, e.g. ``(("roast", "dark roast"),)``.
    ``asin`` is the product the goal was made from (one of possibly several that satisfy it).
    """

    task_id: int
    asin: str
    category: str
    product_type: str
    attributes: tuple[str, ...]
    options: tuple[tuple[str, str], ...]
    price_upper: float
    instruction: str

    @property
    def option_dict(self) -> dict[str, str]:
        """The goal's options as ``{kind: value}``."""
        return dict(self.options)


def _task_rng(task_id: int, store_seed: int) -> random.Random:
    return seeded_rng(f"webshop-goal:{store_seed}:{task_id}")


def price_bound(price: float, slack: float) -> float:
    """The smallest multiple of ``PRICE_STEP`` that is >= ``price * (1 + slack)`` and > ``price``."""
    bound = math.ceil(price * (1.0 + slack) / PRICE_STEP) * PRICE_STEP
    return bound if bound > price else bound + PRICE_STEP


def option_phrase(kind: str, value: str) -> str:
    """How an option reads in an instruction: ``("color", "black")`` -> "black color"."""
    return OPTION_PHRASES.get(kind, "{v}").format(v=value)


def make_goal(product: Product, rng: random.Random, task_id: int = 0) -> Goal:
    """A goal naming 1-3 of ``product``'s attributes, 1+ of its option kinds and a price bound."""
    n_attrs = rng.randint(1, min(MAX_GOAL_ATTRIBUTES, len(product.attributes)))
    attributes = tuple(rng.sample(product.attributes, n_attrs))
    kinds = list(product.options)
    chosen = rng.sample(kinds, rng.randint(1, len(kinds))) if kinds else []
    options = tuple((k, rng.choice(product.options[k])) for k in kinds if k in chosen)
    bound = price_bound(product.price, rng.uniform(0.0, MAX_PRICE_SLACK))
    opts = (" with " + " and ".join(option_phrase(k, v) for k, v in options)) if options else ""
    attrs = " and ".join(attributes)
    template = rng.choice(TEMPLATES)
    first_word = product.product_type if "{a} {ptype}" in template else attrs
    article = "an" if first_word[:1] in "aeiou" else "a"
    instruction = template.format(a=article, attrs=attrs, ptype=product.product_type, opts=opts, price=bound)
    return Goal(
        task_id=task_id,
        asin=product.asin,
        category=product.category,
        product_type=product.product_type,
        attributes=attributes,
        options=options,
        price_upper=bound,
        instruction=instruction,
    )


def goal_for_task(store: ProductStore, task_id: int) -> Goal:
    """The goal of task ``task_id`` (any non-negative int) in ``store``'s catalogue."""
    if task_id < 0:
        raise ValueError(f"task_id={task_id!r} is not allowed: a non-negative integer")
    rng = _task_rng(task_id, store.seed)
    product = store.by_index(rng.randrange(store.num_products))
    return make_goal(product, rng, task_id)
