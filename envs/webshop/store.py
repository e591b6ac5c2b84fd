"""The product store: SQLite with an FTS5 full-text index ranked by BM25. No search server.

User and LLM queries are treated as plain words: ``query_terms`` keeps runs of letters and
digits, each term is double-quoted for FTS5, and every statement is parameterized, so
quotes, ``NEAR``, ``*``, ``:``, ``OR``, parentheses or SQL fragments are only words.
A query that is too long, has too many words or is not valid UTF-8 raises ``QueryError``
with the limit it broke. After building, connections are read-only (``mode=ro`` for
files, ``PRAGMA query_only`` in memory), so no query can change the database.

Ranking: products that contain every query term come first, ranked by BM25; when fewer
than ``limit`` do, products that contain some of the terms follow, again by BM25 (the
disjunctive ranking WebShop's BM25 search gives, with exact matches first).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from hiergym.envs.webshop.catalogue import CATALOGUE_VERSION, Product, generate_catalogue
from hiergym.error import HierGymError

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 256
ASIN_PATTERN = r"^[A-Za-z0-9]{10}$"
"""Product ids: ten letters or digits (matched case-insensitively)."""
_ASIN_RE = re.compile(ASIN_PATTERN)


def is_asin(text: object) -> bool:
    """Whether ``text`` has the form of a product id (anything else names no product)."""
    return isinstance(text, str) and _ASIN_RE.fullmatch(text) is not None
"""Longest query (characters) accepted; longer ones raise ``QueryError`` (HTTP 422)."""
MAX_QUERY_TERMS = 16
"""Most words a query may have after tokenizing."""
MAX_RESULTS = 50
"""Results a search returns (WebShop shows the top 50, 10 per page)."""
BM25_WEIGHTS = (10.0, 5.0, 1.0, 2.0, 4.0, 2.0)
"""BM25 column weights for (title, product_type, description, features, attributes, options)."""
FTS_COLUMNS = "title, product_type, description, features, attributes, options"
BUILD_BATCH = 5000
PRODUCT_CACHE_SIZE = 20_000
"""Decoded products kept in memory per store (cleared when full)."""
CACHE_ENV_VAR = "HIERGYM_CACHE"
STORE_FORMAT = 2
"""Bump when the schema or index settings change, so cached database files are rebuilt."""

STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "
    "these they this to was will with".split()
)
"""Lucene's English stop words (WebShop's BM25 search uses Lucene): dropped from queries, as there."""

_TERM_RE = re.compile(r"[^\W_]+")
_SCHEMA = """
CREATE TABLE products (
    id INTEGER PRIMARY KEY, asin TEXT UNIQUE NOT NULL, category TEXT NOT NULL, product_type TEXT NOT NULL,
    title TEXT NOT NULL, description TEXT NOT NULL, features TEXT NOT NULL, attributes TEXT NOT NULL,
    options TEXT NOT NULL, price REAL NOT NULL, rating REAL NOT NULL, reviews TEXT NOT NULL
);
CREATE VIRTUAL TABLE products_fts USING fts5(
    title, product_type, description, features, attributes, options,
    content='products', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = "asin, category, product_type, title, description, features, attributes, options, price, rating, reviews"


class QueryError(HierGymError, ValueError):
    """A search query that breaks an input limit; the message names the limit."""


def query_terms(query: str | bytes) -> list[str]:
    """Plain lower-case words of ``query`` (letters and digits, stop words dropped); ``QueryError`` on bad input."""
    if isinstance(query, bytes):
        try:
            query = query.decode("utf-8")
        except UnicodeDecodeError as e:
            raise QueryError(f"query is not valid UTF-8 (byte {e.start}); send UTF-8 text") from e
    if not isinstance(query, str):
        raise QueryError(f"query must be text, got {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query has {len(query)} characters; at most {MAX_QUERY_CHARS} are allowed")
    terms = [t for t in _TERM_RE.findall(query.lower()) if t not in STOPWORDS]
    if len(terms) > MAX_QUERY_TERMS:
        raise QueryError(f"query has {len(terms)} words; at most {MAX_QUERY_TERMS} are allowed")
    return terms


def fts_expression(terms: Iterable[str], *, operator: str) -> str:
    """An FTS5 MATCH expression with every term double-quoted (terms hold no quotes)."""
    if operator not in ("AND", "OR"):
        raise ValueError(f"operator={operator!r} is not allowed: 'AND' or 'OR'")
    return f" {operator} ".join(f'"{t}"' for t in terms)


def _row(p: Product, i: int) -> tuple:
    return (
        i, p.asin, p.category, p.product_type, p.title, p.description, json.dumps(p.features),
        json.dumps(p.attributes), json.dumps(p.options), p.price, p.rating, json.dumps(p.reviews),
    )


def _product(row: tuple) -> Product:
    asin, category, ptype, title, desc, features, attributes, options, price, rating, reviews = row
    return Product(
        asin=asin, category=category, product_type=ptype, title=title, description=desc,
        features=tuple(json.loads(features)), attributes=tuple(json.loads(attributes)),
        options={k: tuple(v) for k, v in json.loads(options).items()}, price=price, rating=rating,
        reviews=tuple(json.loads(reviews)),
    )


def build_database(conn: sqlite3.Connection, products: Iterable[Product], *, seed: int, n: int) -> None:
    """Create the schema, insert ``products`` with executemany in one transaction, build the FTS index."""
    conn.executescript(_SCHEMA)
    with conn:  # one transaction
        batch: list[tuple] = []
        for i, p in enumerate(products, 1):
            batch.append(_row(p, i))
            if len(batch) >= BUILD_BATCH:
                conn.executemany(f"INSERT INTO products (id, {_COLUMNS}) VALUES ({','.join('?' * 12)})", batch)
                batch.clear()
        if batch:
            conn.executemany(f"INSERT INTO products (id, {_COLUMNS}) VALUES ({','.join('?' * 12)})", batch)
        conn.execute(
            f"INSERT INTO products_fts (rowid, {FTS_COLUMNS}) SELECT id, {FTS_COLUMNS} FROM products"
        )
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)", [("seed", str(seed)), ("n", str(n)), ("version", f"{CATALOGUE_VERSION}.{STORE_FORMAT}")]
        )
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    conn.execute("INSERT INTO products_fts(products_fts, rank) VALUES ('rank', ?)", (f"bm25({weights})",))
    conn.execute("INSERT INTO products_fts(products_fts) VALUES ('optimize')")
    conn.commit()


def default_cache_dir() -> Path:
    """``$HIERGYM_CACHE/webshop`` or ``~/.cache/hiergym/webshop``."""
    root = os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "hiergym"
    return Path(root) / "webshop"


def cached_database_path(seed: int, n: int, cache_dir: str | Path | None = None) -> Path:
    """Path of the catalogue database for ``(seed, n)``; built atomically on first use."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"catalogue-v{CATALOGUE_VERSION}.{STORE_FORMAT}-seed{seed}-n{n}.sqlite"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
    os.close(fd)
    try:
        t0 = time.perf_counter()
        conn = sqlite3.connect(tmp)
        build_database(conn, generate_catalogue(n, seed), seed=seed, n=n)
        conn.close()
        os.replace(tmp, path)  # atomic: concurrent builders never see a half-built file
        logger.info("built WebShop catalogue %s in %.2fs", path, time.perf_counter() - t0)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


class ProductStore:
    """Read-only access to a catalogue: search (FTS5 + BM25), product lookup, sampling by index.

    Build with ``ProductStore.open(seed, n)`` (cached file) or ``ProductStore.in_memory(seed, n)``.
    Thread-safe: one connection guarded by a lock (queries take about a millisecond).
    """

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self._lock = threading.Lock()
        self._cache: dict[str, Product] = {}
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        self.seed = int(meta["seed"])
        self.num_products = int(meta["n"])

    @classmethod
    def open(cls, seed: int = 0, n: int = 1000, cache_dir: str | Path | None = None) -> ProductStore:
        """Open (building on first use) the cached database for ``(seed, n)`` read-only."""
        path = cached_database_path(seed, n, cache_dir)
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        return cls(conn)

    @classmethod
    def in_memory(cls, seed: int = 0, n: int = 1000) -> ProductStore:
        """Build the catalogue in memory (no file), then make the connection query-only."""
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        build_database(conn, generate_catalogue(n, seed), seed=seed, n=n)
        conn.execute("PRAGMA query_only = ON")
        return cls(conn)

    def close(self) -> None:
        """Close the SQLite connection."""
        self._conn.close()

    def search(self, query: str | bytes, limit: int = MAX_RESULTS) -> list[str]:
        """Asins of the best ``limit`` products for ``query``: all-terms matches first, then any-term."""
        terms = list(dict.fromkeys(query_terms(query)))
        if not terms:
            return []
        # ORDER BY rank (BM25 with our column weights, configured at build time) lets FTS5 keep
        # only the top `limit` rows; products are joined after the LIMIT, not for every match.
        sql = "SELECT rowid FROM products_fts WHERE products_fts MATCH ? ORDER BY rank LIMIT ?"
        with self._lock:
            ids = [r[0] for r in self._conn.execute(sql, (fts_expression(terms, operator="AND"), limit))]
            if len(ids) < limit and len(terms) > 1:
                extra = self._conn.execute(sql, (fts_expression(terms, operator="OR"), limit + len(ids)))
                seen = set(ids)
                ids += [r[0] for r in extra if r[0] not in seen][: limit - len(ids)]
            marks = ",".join("?" * len(ids))
            asins = dict(self._conn.execute(f"SELECT id, asin FROM products WHERE id IN ({marks})", ids).fetchall())
        return [asins[i] for i in ids]

    def like_search(self, query: str | bytes, limit: int = MAX_RESULTS) -> list[str]:
        """The naive baseline: a full ``LIKE '%term%'`` scan with the same all-terms-first order.

        Ranks by the number of matched terms (no BM25); used by the benchmark to show what
        the FTS5 index buys. Same input rules and parameterized SQL as ``search``.
        """
        terms = list(dict.fromkeys(query_terms(query)))
        if not terms:
            return []
        text = "lower(" + FTS_COLUMNS.replace(", ", " || ' ' || ") + ")"
        score = " + ".join(f"({text} LIKE ?)" for _ in terms)
        sql = f"SELECT asin, ({score}) AS s FROM products WHERE s > 0 ORDER BY s DESC, id LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, [f"%{t}%" for t in terms] + [limit]).fetchall()
        return [r[0] for r in rows]

    def get(self, asin: str) -> Product | None:
        """The product with id ``asin`` (case-insensitive), or None."""
        if not is_asin(asin):  # e.g. text SQLite cannot encode (lone surrogates): no such product
            return None
        found = self.get_many([asin])
        return found[0] if found else None

    def get_many(self, asins: list[str]) -> list[Product]:
        """The products with ids ``asins`` (at most one query), in the given order; unknown ids are skipped.

        Products are immutable, so decoded ones are kept in a bounded cache (result pages repeat).
        """
        keys = [a.upper() for a in asins]
        missing = [k for k in keys if k not in self._cache]
        if missing:
            marks = ",".join("?" * len(missing))
            with self._lock:
                rows = self._conn.execute(f"SELECT {_COLUMNS} FROM products WHERE asin IN ({marks})", missing).fetchall()
            if len(self._cache) + len(rows) > PRODUCT_CACHE_SIZE:
                self._cache.clear()
            self._cache.update((row[0], _product(row)) for row in rows)
        return [self._cache[k] for k in keys if k in self._cache]

    def by_index(self, index: int) -> Product:
        """Product number ``index`` in ``[0, num_products)`` (task sampling)."""
        if not 0 <= index < self.num_products:
            raise IndexError(f"index={index} is not allowed: 0 <= index < {self.num_products}")
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM products WHERE id = ?", (index + 1,)).fetchone()
        return _product(row)

    def checksum(self) -> str:
        """blake2b digest of every row of every table: equal before and after any search."""
        h = hashlib.blake2b(digest_size=16)
        with self._lock:
            for line in self._conn.iterdump():
                h.update(line.encode())
        return h.hexdigest()
