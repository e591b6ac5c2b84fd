"""WebShop catalogue generator and the SQLite/FTS5 store: determinism, search, and query injection."""

import sqlite3

import pytest

from hiergym.envs.webshop.catalogue import OPTION_VALUES, PRODUCT_TYPES, asin_for, generate_catalogue
from hiergym.envs.webshop.state import BACK_TO_SEARCH, BUY_NOW, DETAIL_VIEWS, NEXT_PAGE, PREV_PAGE
from hiergym.envs.webshop.store import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    MAX_RESULTS,
    ProductStore,
    QueryError,
    fts_expression,
    query_terms,
)

N = 300


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = ProductStore.open(seed=7, n=N, cache_dir=tmp_path_factory.mktemp("webshop"))
    yield s
    s.close()


def test_same_seed_same_catalogue_and_prefix_property():
    a, b = list(generate_catalogue(50, seed=3)), list(generate_catalogue(50, seed=3))
    assert a == b
    assert list(generate_catalogue(20, seed=3)) == a[:20]
    assert [p.asin for p in generate_catalogue(50, seed=4)] != [p.asin for p in a]


def test_catalogue_covers_many_categories_and_labels_never_clash():
    products = list(generate_catalogue(1000, seed=0))
    assert len({p.asin for p in products}) == 1000
    assert len({p.category for p in products}) >= 8
    assert len({p.product_type for p in products}) >= 40
    fixed = {BACK_TO_SEARCH, NEXT_PAGE, PREV_PAGE, BUY_NOW, *DETAIL_VIEWS}
    for p in products:
        values = [v for vs in p.options.values() for v in vs]
        assert len(values) == len(set(values)), p.options
        assert not fixed & set(values)
        assert p.price > 0 and 2.5 <= p.rating <= 5.0 and p.attributes and p.features and p.reviews


def test_asin_is_a_bijection_on_indices():
    assert len({asin_for(i, 0) for i in range(20000)}) == 20000
    assert all(len(asin_for(i, 5)) == 10 and asin_for(i, 5).startswith("B") for i in range(10))


def test_option_pools_and_types_are_consistent():
    for t in PRODUCT_TYPES:
        assert all(k in OPTION_VALUES for k in t.option_kinds)
        assert t.price_range[0] < t.price_range[1]


def test_file_and_memory_stores_agree(store):
    mem = ProductStore.in_memory(seed=7, n=N)
    for q in ["running shoes", "gluten free coffee", "wireless headphones black"]:
        assert mem.search(q) == store.search(q)
    assert mem.by_index(0) == store.by_index(0) == next(generate_catalogue(1, seed=7))
    mem.close()


def test_search_ranks_all_term_matches_first(store):
    product = store.by_index(5)
    query = f"{product.attributes[0]} {product.product_type}"
    results = store.search(query)
    assert 0 < len(results) <= MAX_RESULTS
    top = [store.get(a) for a in results[:3]]
    assert all(p.product_type == product.product_type for p in top)
    assert product.asin in results


def test_like_baseline_finds_the_same_full_matches(store):
    q = "non slip running shoes"
    full = {a for a in store.search(q) if all(t in (store.get(a).title + " ".join(store.get(a).attributes)).lower() for t in ("running", "shoes"))}
    assert full and full <= set(store.like_search(q, limit=N))


def test_query_terms_are_plain_words():
    assert query_terms('Gluten-Free "dark" roast*  coffee: (NEAR OR)') == ["gluten", "free", "dark", "roast", "coffee", "near"]
    assert query_terms("i need a pack of 2 with the AND") == ["i", "need", "pack", "2"]  # Lucene stop words dropped
    assert fts_expression(["near", "or"], operator="OR") == '"near" OR "or"'
    with pytest.raises(ValueError, match="operator"):
        fts_expression(["a"], operator="NOT")


INJECTIONS = [
    '"', '""', "'", "a' OR '1'='1", 'coffee"; DROP TABLE products; --', "NEAR(coffee tea, 2)", "coffee*", "*",
    "title:coffee", ":", "coffee OR tea", "AND", "NOT coffee", "(coffee", ")", "^coffee", "{title}: x",
    "1; DELETE FROM products", "products_fts MATCH 'x'", "\x00", "caf\u00e9 na\u00efve", "\u202eevil", "%", "_",
    "\\", "coffee\nINSERT INTO meta VALUES ('a','b')", "🙂 emoji", "a" * MAX_QUERY_CHARS,
]


@pytest.mark.parametrize("query", INJECTIONS)
def test_injection_is_plain_words_and_never_changes_the_database(store, query):
    before = store.checksum()
    results = store.search(query)
    store.like_search(query)
    assert isinstance(results, list) and len(results) <= MAX_RESULTS
    assert store.checksum() == before


@pytest.mark.parametrize(
    "query, message",
    [
        ("x" * (MAX_QUERY_CHARS + 1), "characters"),
        (" ".join(["w"] * (MAX_QUERY_TERMS + 1)), "words"),
        (b"\xff\xfe coffee", "UTF-8"),
        (None, "text"),
    ],
)
def test_bad_queries_are_rejected_with_the_limit(store, query, message):
    with pytest.raises(QueryError, match=message):
        store.search(query)


def test_connection_is_read_only(store, tmp_path):
    with pytest.raises(sqlite3.OperationalError):
        store._conn.execute("DELETE FROM products")
    mem = ProductStore.in_memory(seed=1, n=5)
    with pytest.raises(sqlite3.OperationalError):
        mem._conn.execute("INSERT INTO meta VALUES ('x', 'y')")


def test_lookup_and_index_errors(store):
    p = store.by_index(3)
    assert store.get(p.asin.lower()) == p
    assert store.get("B000000000") is None
    with pytest.raises(IndexError, match="index"):
        store.by_index(N)


def test_get_many_keeps_order_and_skips_unknown(store):
    a, b = store.by_index(4), store.by_index(9)
    assert store.get_many([b.asin, "B000000000", a.asin.lower()]) == [b, a]
    assert store.get_many([]) == []
