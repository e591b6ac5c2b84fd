"""The passage index: SQLite FTS5 ranked by BM25 (stdlib ``sqlite3``, no search server).

Queries are plain words, never FTS5 syntax: ``query_terms`` keeps runs of letters and digits
(lower-cased, English stop words dropped, at most ``MAX_QUERY_TERMS``), each term is
double-quoted for FTS5 and the statement is parameterized. So quotes, ``*``, ``^``, ``:``,
``NEAR``, ``AND``/``OR``/``NOT``, parentheses or SQL fragments in a query are only words (or
nothing), and no query can raise. A query with no words left returns no passages.

Ranking: passages containing every term first, by BM25 (title weighted ``TITLE_WEIGHT``); when
fewer than ``k`` do, passages containing some of the terms follow, again by BM25. Results are
memoised per (terms, k): the index is read-only, so a repeated query costs a dict lookup.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from hiergym.error import HierGymError

logger = logging.getLogger(__name__)

MAX_QUERY_TERMS = 16
"""Words of a query kept (the rest are ignored)."""
MAX_QUERY_CHARS = 512
"""Characters of a query read (the rest are ignored)."""
TITLE_WEIGHT, TEXT_WEIGHT = 3.0, 1.0
SEARCH_CACHE_SIZE = 50_000
"""Memoised queries per index (cleared when full)."""
INDEX_FORMAT = 1
"""Bump when the schema or ranking settings change, so cached index files are rebuilt."""

STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with".split()
)
"""Lucene's English stop words, dropped from queries (as in the WebShop env's search)."""

_TERM_RE = re.compile(r"[^\W_]+")
_SEARCH_SQL = f"SELECT rowid FROM passages WHERE passages MATCH ? ORDER BY bm25(passages, {TITLE_WEIGHT}, {TEXT_WEIGHT}) LIMIT ?"
"""Explicit ``bm25(...)``: the same order as the configured ``rank`` but ~25% less CPU per query (measured)."""
_SCHEMA = """
CREATE VIRTUAL TABLE passages USING fts5(title, text, tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)


class FTS5UnavailableError(HierGymError, RuntimeError):
    """The Python's SQLite library was built without the FTS5 full-text extension."""


def check_fts5() -> None:
    """Raise ``FTS5UnavailableError`` (saying how to fix it) when SQLite has no FTS5."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
    except sqlite3.OperationalError as e:
        raise FTS5UnavailableError(
            f"hiergym/MultiHop-v0 needs SQLite's FTS5 extension, but this Python's SQLite "
            f"{sqlite3.sqlite_version} has none ({e}). Use a Python whose sqlite3 has FTS5 "
            "(python.org, conda and Debian builds do), or rebuild SQLite with -DSQLITE_ENABLE_FTS5."
        ) from e
    finally:
        conn.close()


def query_terms(query: str) -> tuple[str, ...]:
    """Plain lower-case words of ``query``: letters and digits only, stop words dropped, at most ``MAX_QUERY_TERMS``."""
    terms = [t for t in _TERM_RE.findall(query[:MAX_QUERY_CHARS].lower()) if t not in STOPWORDS]
    return tuple(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


def fts_expression(terms: Sequence[str], operator: str) -> str:
    """An FTS5 MATCH expression with every term double-quoted (terms hold no quotes)."""
    return f" {operator} ".join(f'"{t}"' for t in terms)


def build_index(conn: sqlite3.Connection, rows: Sequence[tuple[str, str]], *, meta: dict[str, str]) -> None:
    """Create the FTS5 table, insert ``(title, text)`` rows (rowid = position + 1), set BM25 weights."""
    conn.executescript(_SCHEMA)
    with conn:
        conn.executemany("INSERT INTO passages (rowid, title, text) VALUES (?, ?, ?)", [(i + 1, t, x) for i, (t, x) in enumerate(rows)])
        conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        conn.execute("INSERT INTO passages(passages, rank) VALUES ('rank', ?)", (f"bm25({TITLE_WEIGHT}, {TEXT_WEIGHT})",))
        conn.execute("INSERT INTO passages(passages) VALUES ('optimize')")


class PassageIndex:
    """Read-only BM25 search over passages; ``search`` returns passage positions (0-based).

    One connection guarded by a lock, so one index may serve several threads. Build with
    ``in_memory`` or ``cached`` (an SQLite file under a cache dir, built atomically once).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None):
        self._conn = conn
        self._path = path
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._cache: dict[tuple[tuple[str, ...], int], tuple[int, ...]] = {}
        self.meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())

    @classmethod
    def in_memory(cls, rows: Sequence[tuple[str, str]], meta: dict[str, str]) -> PassageIndex:
        check_fts5()
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        build_index(conn, rows, meta=meta)
        conn.execute("PRAGMA query_only = ON")
        return cls(conn)

    @classmethod
    def cached(cls, rows: Sequence[tuple[str, str]], meta: dict[str, str], path: Path) -> PassageIndex:
        """Open the index file at ``path``, building it first when missing or built from other data."""
        check_fts5()
        if path.exists():
            index = cls(_open_read_only(path), path)
            if index.meta == meta:
                return index
            index.close()
            logger.warning("rebuilding stale MultiHop index %s", path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp)
            build_index(conn, rows, meta=meta)
            conn.close()
            os.replace(tmp, path)  # atomic: a concurrent reader never sees a half-built file
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return cls(_open_read_only(path), path)

    def close(self) -> None:
        self._conn.close()

    def search(self, query: str, k: int) -> tuple[int, ...]:
        """Positions of the best ``k`` passages for ``query`` (all-terms matches first); () when it has no words."""
        return self.search_terms(query_terms(query), k)

    def search_terms(self, terms: tuple[str, ...], k: int) -> tuple[int, ...]:
        """``search`` for already extracted ``query_terms``; memoised."""
        if not terms or k < 1:
            return ()
        terms = tuple(sorted(terms))  # the order of words never changes the results, ties included
        key = (terms, k)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        with self._lock:
            if self._path is not None and os.getpid() != self._pid:
                # a forked child: an SQLite connection must not be used across fork (an in-memory
                # index is the child's own copy and stays usable), so reopen the file
                self._conn, self._pid = _open_read_only(self._path), os.getpid()
            ids = [r[0] for r in self._conn.execute(_SEARCH_SQL, (fts_expression(terms, "AND"), k))]
            if len(ids) < k and len(terms) > 1:
                seen = set(ids)
                more = self._conn.execute(_SEARCH_SQL, (fts_expression(terms, "OR"), k + len(ids)))
                ids += [r[0] for r in more if r[0] not in seen][: k - len(ids)]
        found = tuple(i - 1 for i in ids)
        if len(self._cache) >= SEARCH_CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = found
        return found

    def clear_cache(self) -> None:
        """Forget memoised queries (benchmarks measure uncached search with it)."""
        self._cache.clear()
