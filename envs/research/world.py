"""The generated world behind ``hiergym/MultiHop-v0``: typed entities, functional relations, documents.

``generate_world(seed, size)`` makes a small fictional world (made-up names, so a language
model's prior knowledge cannot answer) of people, companies, products, cities, countries and
universities linked by typed relations (``made_by``, ``founded_by``, ``born_in``, ...). Every
relation is functional (one object per subject), so a chain of relations from an entity names
exactly one entity: that is what makes multi-hop questions well posed.

Each entity has one page document made of short passages, one fact per passage (plus an intro
and lists of inverse facts); distractor "news" documents each mention two entities without
stating any relation. The same ``(seed, size)`` gives the same world in any process: the
generator is ``random.Random`` seeded from a blake2b digest, never ``hash()``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

WORLD_VERSION = 2
"""Bump when generation or wording changes: it keys cached index files (v2: country facts reworded)."""
RNG_TAG = "multihop-world-v1"
"""Seeds the generator with the seed and size; change it only to draw different worlds on purpose."""

ENTITY_TYPES = ("person", "company", "product", "city", "country", "university")


@dataclass(frozen=True)
class Relation:
    """A functional relation ``subject_type -> object_type`` and how to say it.

    ``noun`` builds a noun phrase for the object from one for the subject ("the founder of {}"),
    ``question`` asks for the object ("Who founded {}?"), ``fact`` states one instance
    ("{s} was founded by {o}.").
    """

    name: str
    subject_type: str
    object_type: str
    noun: str
    question: str
    fact: str
    search_hint: str
    """Words an expert adds to the subject's name to find this fact (kept for solver variants and docs)."""


RELATIONS: dict[str, Relation] = {
    r.name: r
    for r in (
        Relation("made_by", "product", "company", "the company that makes {}", "Which company makes {}?", "{s} is made by {o}.", "made by"),
        Relation("designed_by", "product", "person", "the designer of {}", "Who designed {}?", "{s} was designed by {o}.", "designed by"),
        Relation("founded_by", "company", "person", "the founder of {}", "Who founded {}?", "{s} was founded by {o}.", "founded by"),
        Relation("ceo", "company", "person", "the chief executive of {}", "Who is the chief executive of {}?", "The chief executive of {s} is {o}.", "chief executive"),
        Relation("headquartered_in", "company", "city", "the city where {} is headquartered", "In which city is {} headquartered?", "{s} is headquartered in {o}.", "headquartered"),
        Relation("born_in", "person", "city", "the city where {} was born", "In which city was {} born?", "{s} was born in {o}.", "born"),
        Relation("studied_at", "person", "university", "the university where {} studied", "At which university did {} study?", "{s} studied at {o}.", "studied"),
        Relation("works_for", "person", "company", "the employer of {}", "Which company does {} work for?", "{s} works for {o}.", "works for"),
        Relation("located_in", "university", "city", "the city where {} is located", "In which city is {} located?", "{s} is located in {o}.", "located"),
        Relation("in_country", "city", "country", "the country of {}", "In which country is {}?", "{s} lies in the country of {o}.", "country"),
        Relation("capital", "country", "city", "the capital of {}", "What is the capital of {}?", "The capital of {s} is {o}.", "capital"),
    )
}
"""Every relation, by name. The type graph allows chains of any length (e.g. product -> company -> person -> city -> country)."""

INVERSE_FACTS: dict[str, str] = {
    "made_by": "{o} makes {items}.",
    "designed_by": "{o} designed {items}.",
    "founded_by": "{o} founded {items}.",
    "ceo": "{o} is the chief executive of {items}.",
    "headquartered_in": "Companies headquartered in {o} include {items}.",
    "born_in": "People born in {o} include {items}.",
    "studied_at": "Alumni of {o} include {items}.",
    "works_for": "Employees of {o} include {items}.",
    "located_in": "Universities in {o} include {items}.",
    "in_country": "Cities in {o} include {items}.",
}
"""How the object's page lists the subjects of a relation (``capital`` has no inverse list: the country page states it)."""
MAX_INVERSE_ITEMS = 4
"""Inverse lists name at most this many subjects: pages stay short (the subject's own page always states the fact)."""

_SYLLABLES = (
    "bar", "bel", "cor", "dal", "dor", "fen", "fal", "gar", "gil", "hal", "jor", "kal", "kel", "kor", "lan",
    "lor", "mar", "mel", "mor", "nal", "nor", "pel", "quin", "ral", "ren", "sal", "sel", "tal", "tor", "val",
    "vel", "wen", "yor", "zal", "zen", "bri", "cla", "dra", "fro", "gra", "kri", "pra", "sta", "tre", "vra",
)
_ENDINGS = ("a", "o", "i", "e", "an", "en", "is", "us", "ix", "et", "ar", "or")
_TYPE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "company": ("Labs", "Industries", "Systems", "Works", "Group", "Dynamics", "Foods", "Motors", "Holdings", "Media"),
    "product": ("Lamp", "Phone", "Kettle", "Drone", "Watch", "Speaker", "Bike", "Camera", "Chair", "Router", "Pad", "Oven"),
    "university": ("Institute", "College", "University", "Academy"),
}
_INTROS: dict[str, tuple[str, ...]] = {
    "person": ("{n} is an engineer.", "{n} is an economist.", "{n} is a designer.", "{n} is a chemist.", "{n} is an entrepreneur.", "{n} is an architect."),
    "company": ("{n} is a company founded in {y}.", "{n} is a firm that has been trading since {y}.", "{n} is a business established in {y}."),
    "product": ("{n} is a product first sold in {y}.", "{n} is a consumer product released in {y}.", "{n} went on sale in {y}."),
    "city": ("{n} is a city with a harbour.", "{n} is a city on a river.", "{n} is a city in the hills.", "{n} is a market town that became a city in {y}."),
    "country": ("{n} is a country.", "{n} is a small country with a long coast.", "{n} is a country in the mountains."),
    "university": ("{n} is a university established in {y}.", "{n} is a research university founded in {y}.", "{n} is a college that opened in {y}."),
}
_NEWS: tuple[str, ...] = (
    "{a} and {b} announced a partnership in {y}.",
    "{a} visited {b} in {y}.",
    "A report in {y} compared {a} with {b}.",
    "{a} gave a talk about {b} in {y}.",
    "In {y}, {a} was mentioned alongside {b} in a trade magazine.",
)


@dataclass(frozen=True)
class Entity:
    id: int
    type: str
    name: str


@dataclass(frozen=True)
class Passage:
    """One searchable passage: its document, text, the facts it states and the entities it names."""

    id: int
    doc_id: str
    title: str
    text: str
    facts: tuple[tuple[int, str], ...]
    """``(subject id, relation name)`` of every fact the passage states (inverse lists included)."""
    mentions: tuple[int, ...]
    """Entity ids named in the text (for the env's action hints)."""


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    passages: tuple[int, ...]
    entity: int | None
    """The entity whose page this is (None for news documents)."""


@dataclass
class World:
    """Entities, facts ``(subject, relation) -> object``, documents and passages of one generated world."""

    seed: int
    size: int
    entities: list[Entity]
    facts: dict[tuple[int, str], int]
    documents: dict[str, Document] = field(default_factory=dict)
    passages: list[Passage] = field(default_factory=list)
    page_of: dict[int, str] = field(default_factory=dict)
    """Entity id -> id of its page document."""
    _relations_of: dict[int, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def by_type(self, etype: str) -> list[Entity]:
        return [e for e in self.entities if e.type == etype]

    def relations_of(self, entity_id: int) -> tuple[str, ...]:
        """Names of the relations ``entity_id`` is the subject of, in ``RELATIONS`` order."""
        rels = self._relations_of.get(entity_id)
        if rels is None:
            etype = self.entities[entity_id].type
            rels = tuple(r.name for r in RELATIONS.values() if r.subject_type == etype and (entity_id, r.name) in self.facts)
            self._relations_of[entity_id] = rels
        return rels


def type_counts(size: int) -> dict[str, int]:
    """How many entities of each type a world of ``size`` has (``size`` = number of companies)."""
    return {
        "company": size,
        "person": 2 * size,
        "product": 3 * size,
        "city": max(6, size // 2),
        "country": max(3, size // 10),
        "university": max(3, size // 5),
    }


def _rng(seed: int, size: int) -> random.Random:
    digest = hashlib.blake2b(f"{RNG_TAG}-{seed}-{size}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _fresh_word(rng: random.Random, used: set[str]) -> str:
    """A made-up capitalised word not used before (two syllables at most, three when those run out)."""
    for attempt in range(40):
        parts = [rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 2) if attempt < 20 else 3)]
        word = ("".join(parts) + rng.choice(_ENDINGS)).capitalize()
        if word not in used:
            used.add(word)
            return word
    raise RuntimeError("name space exhausted; lower the knowledge base size")


def _names(rng: random.Random, counts: dict[str, int]) -> dict[str, list[str]]:
    """Names per type in which every made-up word is used once in the whole world.

    So no name contains another (a city "Mora" and a person "Mora Noris" cannot both exist), a
    question that names its head entity names no other entity, and names are unique.
    """
    used: set[str] = set()
    names: dict[str, list[str]] = {}
    for etype in ENTITY_TYPES:
        if etype == "person":
            names[etype] = [f"{_fresh_word(rng, used)} {_fresh_word(rng, used)}" for _ in range(counts[etype])]
        elif etype in ("product", "company", "university"):
            names[etype] = [f"{_fresh_word(rng, used)} {rng.choice(_TYPE_SUFFIXES[etype])}" for _ in range(counts[etype])]
        else:
            names[etype] = [_fresh_word(rng, used) for _ in range(counts[etype])]
    return names


def _assign_facts(rng: random.Random, by_type: dict[str, list[int]]) -> dict[tuple[int, str], int]:
    facts: dict[tuple[int, str], int] = {}
    cities, countries = by_type["city"], by_type["country"]
    # every country gets at least one city; its capital is one of its own cities
    city_country = {c: countries[i] if i < len(countries) else rng.choice(countries) for i, c in enumerate(cities)}
    for c, n in city_country.items():
        facts[(c, "in_country")] = n
    for n in countries:
        facts[(n, "capital")] = rng.choice([c for c in cities if city_country[c] == n])
    for u in by_type["university"]:
        facts[(u, "located_in")] = rng.choice(cities)
    people, companies = by_type["person"], by_type["company"]
    for p in people:
        facts[(p, "born_in")] = rng.choice(cities)
        facts[(p, "studied_at")] = rng.choice(by_type["university"])
        facts[(p, "works_for")] = rng.choice(companies)
    for c in companies:
        founder, ceo = rng.sample(people, 2)
        facts[(c, "founded_by")] = founder
        facts[(c, "ceo")] = ceo
        facts[(c, "headquartered_in")] = rng.choice(cities)
    for i, prod in enumerate(by_type["product"]):
        # every company makes at least one product
        facts[(prod, "made_by")] = companies[i] if i < len(companies) else rng.choice(companies)
        facts[(prod, "designed_by")] = rng.choice(people)
    return facts


def generate_world(seed: int = 0, size: int = 200) -> World:
    """The world for ``(seed, size)``: entities, facts, page and news documents, passages (deterministic)."""
    rng = _rng(seed, size)
    counts = type_counts(size)
    names = _names(rng, counts)
    entities: list[Entity] = []
    by_type: dict[str, list[int]] = {}
    for etype in ENTITY_TYPES:
        by_type[etype] = []
        for name in names[etype]:
            by_type[etype].append(len(entities))
            entities.append(Entity(len(entities), etype, name))
    facts = _assign_facts(rng, by_type)
    world = World(seed=seed, size=size, entities=entities, facts=facts)
    _write_documents(world, rng, num_news=size)
    return world


def _write_documents(world: World, rng: random.Random, *, num_news: int) -> None:
    """Page documents (one per entity) and news documents, with doc ids in a seeded random order."""
    inverse: dict[tuple[int, str], list[int]] = {}
    for (s, rel), o in world.facts.items():
        inverse.setdefault((o, rel), []).append(s)
    drafts: list[tuple[str, list[tuple[str, tuple, tuple]], int | None]] = []
    ents = world.entities
    for e in ents:
        parts: list[tuple[str, tuple, tuple]] = [(rng.choice(_INTROS[e.type]).format(n=e.name, y=rng.randint(1850, 2020)), (), (e.id,))]
        for rel in world.relations_of(e.id):
            o = world.facts[(e.id, rel)]
            parts.append((RELATIONS[rel].fact.format(s=e.name, o=ents[o].name), ((e.id, rel),), (e.id, o)))
        for rel, template in INVERSE_FACTS.items():
            subjects = inverse.get((e.id, rel), [])[:MAX_INVERSE_ITEMS]
            if subjects:
                items = _join([ents[s].name for s in subjects])
                parts.append((template.format(o=e.name, items=items), tuple((s, rel) for s in subjects), (e.id, *subjects)))
        drafts.append((e.name, parts, e.id))
    for _ in range(num_news):
        a, b = rng.sample(range(len(ents)), 2)
        text = rng.choice(_NEWS).format(a=ents[a].name, b=ents[b].name, y=rng.randint(1950, 2024))
        drafts.append((f"News about {ents[a].name}", [(text, (), (a, b))], None))
    order = list(range(len(drafts)))
    rng.shuffle(order)
    width = max(4, len(str(len(drafts))))
    for number, k in enumerate(order):
        title, parts, entity = drafts[k]
        doc_id = f"d{number:0{width}d}"
        first = len(world.passages)
        for text, facts, mentions in parts:
            world.passages.append(Passage(len(world.passages), doc_id, title, text, facts, tuple(dict.fromkeys(mentions))))
        world.documents[doc_id] = Document(doc_id, title, tuple(range(first, len(world.passages))), entity)
        if entity is not None:
            world.page_of[entity] = doc_id


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
