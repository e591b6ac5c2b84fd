"""The knowledge base: a generated world, its FTS5 passage index and its question pools, built once.

``KnowledgeBase.get(seed, size)`` returns the process-wide instance for ``(seed, size)``
(built on first use, then shared by every env of the process; a forked child builds its own,
since an SQLite connection must not cross a fork). With ``cache_dir`` the index is also kept
on disk, so later processes open it instead of indexing again.

The tools an agent uses are here too, as plain methods: ``search`` (top-k passages) and
``document`` (a page by id). The env's ``search[...]`` / ``open[...]`` actions call them, and
so can a sub-agent that searches outside the env's step loop.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hiergym.envs.common import clip_text
from hiergym.envs.research.index import INDEX_FORMAT, PassageIndex, query_terms
from hiergym.envs.research.questions import MAX_HOPS, MIN_HOPS, SPLITS, QuestionPool, generate_questions, test_entities
from hiergym.envs.research.world import WORLD_VERSION, Document, Passage, World, generate_world

logger = logging.getLogger(__name__)

DEFAULT_TEST_FRACTION = 0.2
VIEW_CACHE_SIZE = 20_000
"""Rendered search results / documents kept per knowledge base (cleared when full)."""
_INSTANCES: dict[tuple, KnowledgeBase] = {}
_INSTANCES_LOCK = threading.Lock()


@dataclass(frozen=True)
class View:
    """What one tool call shows: the observation text and what it names (immutable, so cached)."""

    text: str
    """The observation (already inside the env's observation space)."""
    facts: tuple[tuple[int, str], ...]
    """``(subject, relation)`` of every fact the text states."""
    mentions: tuple[int, ...]
    """Entity ids the text names, in order of appearance."""
    listed: tuple[str, ...]
    """Document ids the text shows (search results, or the opened document)."""
    hints: tuple[str, ...]
    """Actions that follow from it: search and answer each named entity, open each listed document."""


def make_view(kb: KnowledgeBase, text: str, passages: list[Passage]) -> View:
    mentions = tuple(dict.fromkeys(e for p in passages for e in p.mentions))
    listed = tuple(dict.fromkeys(p.doc_id for p in passages))
    names = [kb.name(e) for e in mentions]
    hints = (*(f"search[{n}]" for n in names), *(f"open[{d}]" for d in listed), *(f"answer[{n}]" for n in names))
    return View(clip_text(text), tuple(f for p in passages for f in p.facts), mentions, listed, tuple(dict.fromkeys(hints)))


class KnowledgeBase:
    """World + passage index + questions for one ``(seed, size)``. Read-only after construction."""

    def __init__(self, seed: int = 0, size: int = 200, *, cache_dir: str | Path | None = None, test_fraction: float = DEFAULT_TEST_FRACTION):
        t0 = time.perf_counter()
        self.seed, self.size, self.test_fraction = seed, size, test_fraction
        self.world: World = generate_world(seed, size)
        rows = [(p.title, p.text) for p in self.world.passages]
        meta = {"world_version": str(WORLD_VERSION), "index_format": str(INDEX_FORMAT), "seed": str(seed), "size": str(size), "passages": str(len(rows))}
        if cache_dir is None:
            self.index = PassageIndex.in_memory(rows, meta)
        else:
            path = Path(cache_dir) / f"multihop-v{WORLD_VERSION}.{INDEX_FORMAT}-seed{seed}-size{size}.sqlite"
            self.index = PassageIndex.cached(rows, meta, path)
        self._test = test_entities(self.world, test_fraction)
        self._questions: dict[tuple[str, int], QuestionPool] = {}
        self._doc_ids_lower = {d.lower(): d for d in self.world.documents}
        self._views: dict[tuple, View] = {}
        self.build_seconds = time.perf_counter() - t0
        logger.info("built MultiHop knowledge base seed=%d size=%d (%d passages) in %.3fs", seed, size, len(rows), self.build_seconds)

    @classmethod
    def get(cls, seed: int = 0, size: int = 200, *, cache_dir: str | Path | None = None, test_fraction: float = DEFAULT_TEST_FRACTION) -> KnowledgeBase:
        """The shared instance for these arguments in this process (built on first call)."""
        key = (os.getpid(), seed, size, str(cache_dir) if cache_dir is not None else None, test_fraction)
        with _INSTANCES_LOCK:
            kb = _INSTANCES.get(key)
            if kb is None:
                kb = _INSTANCES[key] = cls(seed, size, cache_dir=cache_dir, test_fraction=test_fraction)
        return kb

    # ------------------------------------------------------------------ tools
    def search(self, query: str, k: int = 5) -> list[Passage]:
        """The best ``k`` passages for ``query`` (plain words; FTS5 syntax is never interpreted)."""
        return [self.world.passages[i] for i in self.index.search_terms(query_terms(query), k)]

    def document(self, doc_id: str) -> Document | None:
        """The document ``doc_id`` (case-insensitive), or None when there is no such id."""
        found = self._doc_ids_lower.get(doc_id.strip().lower())
        return self.world.documents[found] if found is not None else None

    def document_text(self, doc: Document) -> str:
        """The document's title line and its passages."""
        return f"[{doc.id}] {doc.title}\n" + " ".join(self.world.passages[p].text for p in doc.passages)

    def search_view(self, terms: tuple[str, ...], k: int) -> View:
        """The rendered results of searching ``terms`` (from ``query_terms``), cached."""
        key = ("search", terms, k)
        view = self._views.get(key)
        if view is None:
            passages = [self.world.passages[i] for i in self.index.search_terms(terms, k)]
            shown = " ".join(terms)
            if passages:
                text = f'Results for "{shown}":\n' + "\n".join(f"[{p.doc_id}] {p.title}: {p.text}" for p in passages)
            else:
                text = f'No results for "{shown}".'
            view = self._remember(key, make_view(self, text, passages))
        return view

    def document_view(self, doc: Document) -> View:
        """The rendered document, cached."""
        key = ("open", doc.id)
        view = self._views.get(key)
        if view is None:
            view = self._remember(key, make_view(self, self.document_text(doc), [self.world.passages[i] for i in doc.passages]))
        return view

    def clear_caches(self) -> None:
        """Forget memoised searches and rendered views (benchmarks measure uncached steps with it)."""
        self.index.clear_cache()
        self._views.clear()

    def _remember(self, key: tuple, view: View) -> View:
        if len(self._views) >= VIEW_CACHE_SIZE:
            self._views.clear()
        self._views[key] = view
        return view

    # -------------------------------------------------------------- questions
    def is_test_entity(self, entity_id: int) -> bool:
        return entity_id in self._test

    def heads(self, split: str) -> list[int]:
        """Entity ids questions of ``split`` may start from (test: the held-out entities)."""
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not allowed: one of {SPLITS}")
        want_test = split == "test"
        return [e.id for e in self.world.entities if (e.id in self._test) == want_test]

    def questions(self, split: str, hops: int) -> QuestionPool:
        """Every question of ``split`` with exactly ``hops`` hops (generated on first use, then kept)."""
        if not MIN_HOPS <= hops <= MAX_HOPS:
            raise ValueError(f"hops={hops!r} is not allowed: {MIN_HOPS} <= hops <= {MAX_HOPS}")
        key = (split, hops)
        if key not in self._questions:
            self._questions[key] = generate_questions(self.world, self.heads(split), hops)
        return self._questions[key]

    def name(self, entity_id: int) -> str:
        return self.world.entities[entity_id].name
