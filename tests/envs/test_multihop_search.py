"""MultiHop's search tool: FTS5 syntax never crashes (hypothesis fuzz), ranking, the on-disk cache, FTS5 missing."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hiergym.envs.research import FTS5UnavailableError, KnowledgeBase, MultiHopEnv, query_terms
from hiergym.envs.research import index as index_module
from hiergym.envs.research.index import MAX_QUERY_TERMS, STOPWORDS, check_fts5
from hiergym.info_keys import InfoKeys

FTS_SYNTAX = ['"', "'", "*", "^", ":", "(", ")", "-", "+", "{", "}", "[", "]", ",", ".", ";", "\\", "%", "_", "\x00",
              " NEAR ", "NEAR(", " AND ", " OR ", " NOT ", "title:", "text:", "rowid", "passages", "DROP TABLE passages;--"]
WORDS = ["founded", "company", "born", "city", "Labs", "the", "of", "é", "ß", "İ", "²", "٣", "中文", "🙂", "\u0301", "\ud800"]

fts_like = st.lists(st.sampled_from(FTS_SYNTAX + WORDS) | st.text(max_size=6), max_size=12).map("".join)
anything = st.text(alphabet=st.characters(blacklist_categories=()), max_size=80)


@pytest.fixture(scope="module")
def kb():
    return KnowledgeBase.get(0, 60)


@pytest.fixture(scope="module")
def env():
    return MultiHopEnv(kb_size=60)


@given(query=fts_like | anything)
def test_any_query_searches_without_error(kb, query):
    hits = kb.index.search(query, 5)
    assert len(hits) <= 5 and len(set(hits)) == len(hits)
    assert all(0 <= i < len(kb.world.passages) for i in hits)
    terms = query_terms(query)
    assert len(terms) <= MAX_QUERY_TERMS and not set(terms) & STOPWORDS
    assert all(t.isalnum() for t in terms)


@given(query=fts_like | anything)
def test_any_search_action_gives_a_defined_observation(env, query):
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(f"search[{query}]")
    assert env.observation_space.contains(obs)
    assert not terminated and not truncated
    if query_terms(" ".join(query.split())):
        assert info[InfoKeys.ACTION_VALID] and obs.startswith(("Results for", "No results for")) and reward == 0.0
    else:  # nothing searchable (or empty): a penalised invalid action, the state unchanged
        assert not info[InfoKeys.ACTION_VALID] and reward == pytest.approx(-0.1)


@given(action=anything)
def test_any_text_action_is_handled(env, action):
    env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step(action)
    assert env.observation_space.contains(obs)
    assert isinstance(reward, float) and not truncated


def test_syntax_is_only_words(kb):
    """FTS5 operators and column filters are searched as the words they contain, not interpreted."""
    assert query_terms('title:"Torvex" NEAR(a b) OR NOT x*') == ("title", "torvex", "near", "b", "x")
    name = kb.name(kb.world.by_type("company")[0].id)
    plain = kb.index.search(name, 5)
    assert plain and kb.index.search(f'"{name}"*^ AND (', 5) == plain
    assert kb.index.search("!!! ''' ***", 5) == ()


def test_word_order_and_case_do_not_change_results(kb):
    a = kb.index.search("company founded Labs", 5)
    kb.index.clear_cache()
    assert kb.index.search("LABS founded company", 5) == a


@pytest.mark.parametrize("size", [60, 200])
def test_every_entity_page_is_found_by_its_name(size):
    """What the expert relies on: searching an entity's name lists its page in the top 5."""
    kb = KnowledgeBase.get(0, size)
    for e in kb.world.entities:
        assert any(p.doc_id == kb.world.page_of[e.id] for p in kb.search(e.name, 5)), e.name


def test_all_terms_matches_rank_first(kb):
    company = kb.world.by_type("company")[3]
    hits = kb.search(f"{company.name} founded", 5)
    assert "founded" in hits[0].text.lower() and company.name in hits[0].text


def test_disk_cache_builds_once_and_matches_memory(tmp_path):
    on_disk = KnowledgeBase(4, 30, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.sqlite"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    again = KnowledgeBase(4, 30, cache_dir=tmp_path)
    assert files[0].stat().st_mtime_ns == mtime
    memory = KnowledgeBase(4, 30)
    for q in ["company", "born city", "Labs founded"]:
        assert on_disk.index.search(q, 5) == again.index.search(q, 5) == memory.index.search(q, 5)
    with pytest.raises(sqlite3.OperationalError):  # read-only: no query can change the file
        on_disk.index._conn.execute("DELETE FROM passages")


def test_stale_cache_file_is_rebuilt(tmp_path):
    KnowledgeBase(4, 30, cache_dir=tmp_path)
    path = next(tmp_path.glob("*.sqlite"))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'passages'")
    conn.commit()
    conn.close()
    kb = KnowledgeBase(4, 30, cache_dir=tmp_path)
    assert kb.index.meta["passages"] == str(len(kb.world.passages))


def test_shared_instance_per_arguments():
    assert KnowledgeBase.get(0, 60) is KnowledgeBase.get(0, 60)
    assert KnowledgeBase.get(0, 60) is not KnowledgeBase.get(1, 60)


def test_missing_fts5_is_a_clear_error(monkeypatch):
    real_connect = sqlite3.connect

    class NoFTS5:
        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, *args):
            if "fts5" in sql.lower():
                raise sqlite3.OperationalError("no such module: fts5")
            return self.conn.execute(sql, *args)

        def close(self):
            self.conn.close()

    monkeypatch.setattr(index_module.sqlite3, "connect", lambda *a, **k: NoFTS5(real_connect(*a, **k)))
    with pytest.raises(FTS5UnavailableError, match="FTS5"):
        check_fts5()
    with pytest.raises(FTS5UnavailableError, match="SQLITE_ENABLE_FTS5"):
        KnowledgeBase(9, 10)


action_script = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=50),  # pick a hint (index modulo the hint count)
        st.sampled_from(["search[company founded]", "open[d0001]", "open[D0002]", "answer[nothing]", "search[]", "x"]),
        fts_like.map(lambda q: f"search[{q}]"),
        anything,
    ),
    max_size=25,
)


def _play_script(env, seed, script):
    obs, info = env.reset(seed=seed)
    trace = [obs]
    for item in script:
        if isinstance(item, int):
            hints = info[InfoKeys.ADMISSIBLE_ACTIONS] or ["search[anything]"]
            item = hints[item % len(hints)]
        obs, reward, terminated, truncated, info = env.step(item)
        assert env.observation_space.contains(obs)
        assert set(info[InfoKeys.SUBGOALS_ACHIEVED]) <= {sg.id for sg in info[InfoKeys.SUBGOALS]}
        trace.append((obs, reward, terminated, truncated, info[InfoKeys.ANCHOR_STATE], info[InfoKeys.SUBGOALS_ACHIEVED]))
        if terminated or truncated:
            break
    return trace


@given(seed=st.integers(min_value=0, max_value=2**31 - 1), script=action_script)
def test_any_action_sequence_is_handled_and_replays_identically(env, seed, script):
    other = MultiHopEnv(kb_size=60)
    assert _play_script(env, seed, script) == _play_script(other, seed, script)


def test_a_forked_child_reopens_the_index_file(tmp_path):
    import multiprocessing as mp

    kb = KnowledgeBase(5, 30, cache_dir=tmp_path)
    parent_conn = kb.index._conn
    expected = kb.index.search("company founded", 5)
    kb.index.clear_cache()
    ctx = mp.get_context("fork")
    queue = ctx.Queue()

    def child():
        hits = kb.index.search("company founded", 5)
        queue.put((hits, kb.index._conn is not parent_conn))

    proc = ctx.Process(target=child)
    proc.start()
    hits, reopened = queue.get(timeout=60)
    proc.join(timeout=60)
    assert hits == expected and reopened
    assert kb.index._conn is parent_conn
