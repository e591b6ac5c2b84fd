"""Deterministic, seeded generator of a WebShop-like product catalogue.

``generate_catalogue(n, seed)`` yields ``n`` products spread over many categories
(apparel, shoes, electronics, grocery, beauty, home, sports, pets). Each product has a
product type, a title, a description, bullet features, attributes ("machine wash",
"gluten free", "wireless"), options (size, color, flavor, count, ...), a price, a rating
and a few reviews. The same ``(n, seed)`` gives byte-identical products in any process:
the generator uses ``random.Random`` seeded from a blake2b digest, never ``hash()``.
"""

from __future__ import annotations

import functools
import hashlib
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field

CATALOGUE_VERSION = 1
"""Bump when generation changes (it seeds the generator and keys the cached databases)."""

DEFAULT_NUM_PRODUCTS = 1000
MIN_ATTRIBUTES, MAX_ATTRIBUTES = 2, 4
MIN_OPTION_VALUES, MAX_OPTION_VALUES = 2, 5
NUM_REVIEWS = 3
MIN_RATING, MAX_RATING = 2.5, 5.0
ASIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ASIN_BODY_LEN = 9
_ASIN_SPACE = len(ASIN_ALPHABET) ** ASIN_BODY_LEN
_ASIN_MULTIPLIER = 1_000_000_007  # prime, coprime with 36**9, so i -> asin is a bijection

OPTION_VALUES: dict[str, tuple[str, ...]] = {
    "size": ("x-small", "small", "medium", "large", "x-large", "xx-large"),
    "shoe size": ("6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12"),
    "color": ("black", "white", "navy blue", "grey", "red", "green", "beige", "pink", "brown", "purple", "sky blue", "yellow"),
    "flavor": ("vanilla", "chocolate", "strawberry", "original", "mint", "honey", "caramel", "lemon", "sea salt", "cinnamon"),
    "roast": ("light roast", "medium roast", "dark roast", "espresso roast"),
    "count": ("pack of 1", "pack of 2", "pack of 3", "pack of 6", "pack of 12", "pack of 24"),
    "weight": ("8 ounce", "12 ounce", "16 ounce", "1 pound", "2 pound", "5 pound"),
    "capacity": ("32gb", "64gb", "128gb", "256gb", "512gb"),
    "scent": ("lavender", "unscented", "citrus", "rose", "eucalyptus", "coconut", "sandalwood"),
    "volume": ("1 fl oz", "3.4 fl oz", "8 fl oz", "16 fl oz", "32 fl oz"),
    "style": ("classic", "modern", "vintage", "minimalist", "rustic"),
    "length": ("3 ft", "6 ft", "10 ft", "15 ft"),
}

_APPAREL = ("machine wash", "hand wash", "moisture wicking", "quick dry", "long sleeve", "short sleeve",
            "cotton", "polyester spandex", "relaxed fit", "slim fit", "button closure", "elastic waist")
_SHOES = ("rubber sole", "non slip", "lace up", "slip on", "memory foam", "arch support", "waterproof",
          "lightweight", "breathable mesh", "wide width")
_ELECTRONICS = ("wireless", "bluetooth", "noise cancelling", "fast charging", "usb c", "high definition",
                "long battery life", "water resistant", "easy install", "hands free", "4k ultra hd")
_GROCERY = ("gluten free", "non gmo", "sugar free", "low carb", "keto friendly", "organic", "plant based",
            "high protein", "caffeine free", "kosher", "dairy free", "individually wrapped")
_BEAUTY = ("paraben free", "cruelty free", "long lasting", "sensitive skin", "natural ingredients",
           "fragrance free", "travel size", "dermatologist tested", "vegan", "anti aging")
_HOME = ("easy clean", "space saving", "dishwasher safe", "stainless steel", "solid wood", "assembly required",
         "bpa free", "heavy duty", "non stick", "easy assemble", "living room")
_SPORTS = ("lightweight", "durable", "adjustable", "non slip", "portable", "waterproof", "high density",
           "easy carry", "foldable", "heavy duty")
_PETS = ("grain free", "natural ingredients", "high protein", "easy clean", "durable", "machine wash",
         "non toxic", "adjustable", "small breed", "large breed")


@dataclass(frozen=True)
class ProductType:
    """A kind of product: its category, attribute pool, option kinds and price range (dollars)."""

    name: str
    category: str
    attributes: tuple[str, ...]
    option_kinds: tuple[str, ...]
    price_range: tuple[float, float]


def _types(category: str, attributes: tuple[str, ...], rows: list[tuple[str, tuple[str, ...], tuple[float, float]]]) -> list[ProductType]:
    return [ProductType(name, category, attributes, kinds, prices) for name, kinds, prices in rows]


PRODUCT_TYPES: tuple[ProductType, ...] = tuple(
    _types("apparel", _APPAREL, [
        ("men's t-shirt", ("size", "color"), (8, 35)), ("women's t-shirt", ("size", "color"), (8, 35)),
        ("hoodie", ("size", "color"), (20, 70)), ("yoga pants", ("size", "color"), (15, 60)),
        ("rain jacket", ("size", "color"), (30, 150)), ("dress shirt", ("size", "color"), (18, 80)),
        ("swim trunks", ("size", "color"), (12, 45)), ("wool socks", ("size", "count"), (6, 30)),
    ])
    + _types("shoes", _SHOES, [
        ("running shoes", ("shoe size", "color"), (35, 160)), ("walking shoes", ("shoe size", "color"), (30, 120)),
        ("hiking boots", ("shoe size", "color"), (50, 220)), ("slippers", ("shoe size", "color"), (10, 45)),
        ("sandals", ("shoe size", "color"), (15, 80)), ("rain boots", ("shoe size", "color"), (25, 90)),
    ])
    + _types("electronics", _ELECTRONICS, [
        ("headphones", ("color",), (15, 350)), ("bluetooth speaker", ("color",), (20, 250)),
        ("phone charger", ("length", "count"), (8, 40)), ("usb flash drive", ("capacity", "count"), (6, 60)),
        ("smart watch", ("color",), (40, 400)), ("hdmi cable", ("length", "count"), (6, 30)),
        ("security camera", ("count",), (25, 200)), ("memory card", ("capacity",), (8, 90)),
    ])
    + _types("grocery", _GROCERY, [
        ("coffee", ("roast", "weight"), (6, 30)), ("green tea", ("flavor", "count"), (4, 25)),
        ("protein bar", ("flavor", "count"), (10, 45)), ("granola", ("flavor", "weight"), (4, 20)),
        ("dark chocolate", ("flavor", "count"), (3, 25)), ("potato chips", ("flavor", "count"), (3, 30)),
        ("almond butter", ("flavor", "weight"), (6, 25)), ("olive oil", ("volume", "count"), (8, 40)),
    ])
    + _types("beauty", _BEAUTY, [
        ("face moisturizer", ("scent", "volume"), (8, 80)), ("shampoo", ("scent", "volume"), (5, 40)),
        ("body lotion", ("scent", "volume"), (5, 35)), ("lip balm", ("flavor", "count"), (3, 20)),
        ("sunscreen", ("volume", "count"), (6, 35)), ("hair dryer", ("color",), (20, 150)),
    ])
    + _types("home", _HOME, [
        ("coffee table", ("color", "style"), (60, 400)), ("bookshelf", ("color", "style"), (40, 300)),
        ("frying pan", ("size", "count"), (15, 120)), ("bath towel", ("color", "count"), (10, 60)),
        ("table lamp", ("color", "style"), (20, 150)), ("storage bins", ("color", "count"), (12, 60)),
        ("scented candle", ("scent", "count"), (6, 40)),
    ])
    + _types("sports", _SPORTS, [
        ("yoga mat", ("color", "length"), (15, 90)), ("water bottle", ("color", "volume"), (8, 45)),
        ("camping tent", ("color", "style"), (50, 400)), ("resistance bands", ("color", "count"), (8, 40)),
        ("dumbbells", ("weight", "count"), (20, 200)), ("backpack", ("color", "size"), (20, 150)),
    ])
    + _types("pets", _PETS, [
        ("dog food", ("flavor", "weight"), (12, 80)), ("cat litter", ("scent", "weight"), (8, 40)),
        ("dog collar", ("size", "color"), (6, 30)), ("cat toy", ("color", "count"), (4, 25)),
        ("pet bed", ("size", "color"), (20, 120)),
    ])
)

BRANDS = ("Norwood", "Alderline", "Brightpeak", "Cobalt & Finch", "Dunmore", "Evergreen Co", "Fairhaven",
          "Greystone", "Halcyon", "Ironbark", "Juniper Lane", "Kestrel", "Lumen", "Maple Ridge", "Northstar",
          "Oakhurst", "Pinecrest", "Quillon", "Redfern", "Silverleaf", "Tidewater", "Umber", "Vantage",
          "Westbrook", "Yarrow", "Zephyr")
QUALIFIERS = ("premium", "classic", "everyday", "ultra", "essential", "pro", "deluxe", "compact", "original",
              "signature", "value", "advanced")
DESCRIPTION_OPENERS = (
    "Designed for everyday use, this {type} from {brand} combines comfort and value.",
    "The {brand} {type} is made to last and easy to love.",
    "Meet the {type} that customers keep coming back to: {brand} quality at a fair price.",
    "A dependable {type} built with care by {brand}.",
)
REVIEW_TEMPLATES = (
    "Great {type}, exactly as described. {attr} really shows.",
    "Good value for the price. Would buy this {type} again.",
    "The {attr} part is nice, but shipping took a while.",
    "Not bad. My second {type} from {brand}.",
    "Love it! {attr} and it looks great.",
    "Okay quality; the {type} is smaller than I expected.",
)


@dataclass(frozen=True)
class Product:
    """One catalogue entry. ``options`` maps an option kind (``"size"``) to its values."""

    asin: str
    category: str
    product_type: str
    title: str
    description: str
    features: tuple[str, ...]
    attributes: tuple[str, ...]
    options: dict[str, tuple[str, ...]] = field(hash=False)
    price: float
    rating: float
    reviews: tuple[str, ...] = ()


def asin_for(index: int, seed: int) -> str:
    """A unique, deterministic Amazon-style id ``B`` + 9 base-36 chars for product ``index``."""
    x = (index * _ASIN_MULTIPLIER + _asin_offset(seed)) % _ASIN_SPACE
    chars = []
    for _ in range(ASIN_BODY_LEN):
        x, d = divmod(x, len(ASIN_ALPHABET))
        chars.append(ASIN_ALPHABET[d])
    return "B" + "".join(reversed(chars))


def stable_int(key: str) -> int:
    """A 64-bit number from the blake2b digest of ``key``: the same in every process (``hash()`` is salted)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def seeded_rng(key: str) -> random.Random:
    """A ``random.Random`` seeded from ``stable_int(key)``: the catalogue and the goals draw from these."""
    return random.Random(stable_int(key))


@functools.lru_cache(maxsize=64)
def _asin_offset(seed: int) -> int:
    return stable_int(f"asin:{seed}")


def _rng(seed: int) -> random.Random:
    return seeded_rng(f"webshop-catalogue:{CATALOGUE_VERSION}:{seed}")


def _price(rng: random.Random, low: float, high: float) -> float:
    return round(int(rng.uniform(low, high)) + rng.choice((0.49, 0.99, 0.95, 0.0)), 2)


def _make_product(index: int, seed: int, rng: random.Random) -> Product:
    ptype = PRODUCT_TYPES[rng.randrange(len(PRODUCT_TYPES))]
    brand = rng.choice(BRANDS)
    attributes = tuple(rng.sample(ptype.attributes, rng.randint(MIN_ATTRIBUTES, MAX_ATTRIBUTES)))
    options = {}
    for kind in ptype.option_kinds:
        pool = OPTION_VALUES[kind]
        k = min(len(pool), rng.randint(MIN_OPTION_VALUES, MAX_OPTION_VALUES))
        options[kind] = tuple(sorted(rng.sample(pool, k), key=pool.index))
    title_attrs = " ".join(string.capwords(a) for a in attributes[: rng.randint(1, 2)])
    title = f"{brand} {string.capwords(rng.choice(QUALIFIERS))} {title_attrs} {string.capwords(ptype.name)}"
    description = (
        rng.choice(DESCRIPTION_OPENERS).format(type=ptype.name, brand=brand)
        + f" Features {', '.join(attributes)}."
        + (f" Available in {len(options[ptype.option_kinds[0]])} {ptype.option_kinds[0]} options." if options else "")
    )
    features = tuple(f"{a.capitalize()}: a {ptype.name} that is {a}." for a in attributes) + (
        f"Backed by the {brand} satisfaction guarantee.",
    )
    rating = round(rng.uniform(MIN_RATING, MAX_RATING), 1)
    reviews = tuple(
        rng.choice(REVIEW_TEMPLATES).format(type=ptype.name, brand=brand, attr=rng.choice(attributes).capitalize())
        for _ in range(NUM_REVIEWS)
    )
    return Product(
        asin=asin_for(index, seed),
        category=ptype.category,
        product_type=ptype.name,
        title=title,
        description=description,
        features=features,
        attributes=attributes,
        options=options,
        price=_price(rng, *ptype.price_range),
        rating=rating,
        reviews=reviews,
    )


def generate_catalogue(n: int = DEFAULT_NUM_PRODUCTS, seed: int = 0) -> Iterator[Product]:
    """Yield ``n`` products; the same ``(n, seed)`` always yields the same products in the same order.

    Product ``i`` does not depend on ``n``: the first 1,000 products of a 100,000 catalogue
    are the 1,000-product catalogue.
    """
    if n < 1:
        raise ValueError(f"n={n!r} is not allowed: a catalogue needs at least 1 product")
    from hiergym.progress import build_progress  # bar per hiergym.progress.BUILD_PROGRESS (terminal only by default)

    rng = _rng(seed)
    with build_progress(n, "WebShop catalogue", unit="product") as bar:
        for i in range(n):
            yield _make_product(i, seed, rng)
            bar.update(1)


def product_type_by_name(name: str) -> ProductType:
    """The ``ProductType`` called ``name`` (KeyError when unknown)."""
    return _TYPES_BY_NAME[name]


_TYPES_BY_NAME = {t.name: t for t in PRODUCT_TYPES}
