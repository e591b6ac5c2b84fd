"""Multi-hop questions from relation chains, and the split of head entities into train and test.

A question is a head entity and a chain of relations, e.g. ``product -made_by-> company
-founded_by-> person -born_in-> city``: "In which city was the founder of the company that
makes Zorbla Lamp born?". Chains never revisit an entity (no question answers itself), and
every relation is functional, so each question has exactly one answer.

Splits are by entity, not only by question: a seeded permutation of each entity type puts a
``test_fraction`` of the entities in the test set, and a question belongs to the split of its
head entity. So no test question starts from an entity any training question starts from.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from hiergym.envs.research.world import ENTITY_TYPES, RELATIONS, World

SPLITS = ("train", "test")
MIN_HOPS, MAX_HOPS = 1, 4
"""Chain lengths the generator supports (the env's defaults ask for 2-4 hops)."""


@dataclass(frozen=True)
class Question:
    """One question: the head entity, the relation chain and the entity each hop reaches."""

    head: int
    relations: tuple[str, ...]
    path: tuple[int, ...]
    """Entity ids ``(head, hop 1, ..., answer)``: ``path[i + 1] = facts[(path[i], relations[i])]``."""
    text: str
    hop_texts: tuple[str, ...]
    """Noun phrase for the entity each hop reaches ("the company that makes X", "the founder of the company that makes X")."""
    key: str = field(init=False, compare=False)
    """Stable id of the question: head entity id and relation chain, e.g. ``"412:made_by/founded_by"``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.head}:{'/'.join(self.relations)}")

    @property
    def hops(self) -> int:
        return len(self.relations)

    @property
    def answer_id(self) -> int:
        return self.path[-1]


def question_text(head_name: str, relations: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The question sentence and the noun phrase of every hop, built inside out from the head's name."""
    phrase = head_name
    hop_texts = []
    for rel in relations:
        phrase = RELATIONS[rel].noun.format(phrase)
        hop_texts.append(phrase)
    inner = hop_texts[-2] if len(relations) > 1 else head_name
    return RELATIONS[relations[-1]].question.format(inner), tuple(hop_texts)


def test_entities(world: World, test_fraction: float) -> frozenset[int]:
    """Entity ids held out for the test split: ``test_fraction`` of each type, by a seeded permutation."""
    digest = hashlib.blake2b(f"multihop-split-{world.seed}-{world.size}".encode(), digest_size=8).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    held: set[int] = set()
    for etype in ENTITY_TYPES:
        ids = [e.id for e in world.by_type(etype)]
        rng.shuffle(ids)
        held.update(ids[: round(test_fraction * len(ids))])
    return frozenset(held)


def chains_from(world: World, head: int, hops: int, memo: dict | None = None) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    """Every ``(relations, path)`` of exactly ``hops`` relations from ``head`` that visits no entity twice.

    Built from the chains of ``hops - 1`` relations of each next entity (memoised in ``memo``
    across heads), dropping those that come back to ``head``.
    """
    memo = {} if memo is None else memo
    key = (head, hops)
    if key not in memo:
        if hops == 0:
            memo[key] = [((), (head,))]
        else:
            out = []
            for rel in world.relations_of(head):
                nxt = world.facts[(head, rel)]
                if nxt == head:
                    continue
                for rels, path in chains_from(world, nxt, hops - 1, memo):
                    if head not in path:
                        out.append(((rel, *rels), (head, *path)))
            memo[key] = out
    return memo[key]


Chain = tuple[tuple[str, ...], tuple[int, ...]]
"""``(relations, path)`` of one question."""


def generate_chains(world: World, heads: list[int], hops: int) -> list[Chain]:
    """Every chain of ``hops`` hops from the ``heads`` (in head order, then relation order)."""
    memo: dict = {}
    return [chain for head in heads for chain in chains_from(world, head, hops, memo)]


class QuestionPool(Sequence[Question]):
    """The questions of a list of chains; a ``Question`` (with its text) is made when it is read.

    Enumerating chains is cheap; writing 30k-80k question texts up front is not, so pools of
    large knowledge bases stay small until used.
    """

    def __init__(self, world: World, chains: list[Chain]):
        self._world = world
        self._chains = chains

    def __len__(self) -> int:
        return len(self._chains)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        rels, path = self._chains[index]
        text, hop_texts = question_text(self._world.entities[path[0]].name, rels)
        return Question(path[0], rels, path, text, hop_texts)

    def __add__(self, other: QuestionPool) -> QuestionPool:
        return QuestionPool(self._world, self._chains + other._chains)


def generate_questions(world: World, heads: list[int], hops: int) -> QuestionPool:
    """All questions of ``hops`` hops whose head is in ``heads`` (in head order, then chain order)."""
    return QuestionPool(world, generate_chains(world, heads, hops))
