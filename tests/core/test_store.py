"""The in-process shared store: concurrent producers and consumers lose and duplicate nothing, restart-resume, bad records."""

import threading

import pytest

from hiergym.error import ConfigError
from hiergym.store import Consumer, MalformedRecordError, QueueStore, check_record, drain


def rec(i, kind="rollout"):
    return {"id": f"r{i}", "kind": kind, "data": {"value": i}}


def test_concurrent_producers_and_consumers_lose_and_duplicate_nothing():
    store = QueueStore()
    n_producers, per_producer, n_consumers = 4, 250, 3
    expected = {f"p{p}-{i}" for p in range(n_producers) for i in range(per_producer)}
    received: list[list[str]] = [[] for _ in range(n_consumers)]
    stop = threading.Event()

    def produce(p):
        for i in range(0, per_producer, 10):
            store.put("main", [{"id": f"p{p}-{j}", "kind": "rollout", "data": {"j": j}} for j in range(i, i + 10)])

    def consume(c):
        consumer = Consumer(store, "main", "learner", f"c{c}")
        while not stop.is_set():
            got = consumer.get(max_records=7, timeout=0.05)
            received[c].extend(d.id for d in got)
            consumer.ack(got)

    threads = [threading.Thread(target=consume, args=(c,)) for c in range(n_consumers)]
    threads += [threading.Thread(target=produce, args=(p,)) for p in range(n_producers)]
    for t in threads:
        t.start()
    for t in threads[n_consumers:]:
        t.join()
    deadline = threading.Event()
    for _ in range(200):  # until every record is acknowledged (<= 10 s)
        if store.stats("main", "learner")["acked"] == len(expected):
            break
        deadline.wait(0.05)
    stop.set()
    for t in threads[:n_consumers]:
        t.join()
    everything = [i for r in received for i in r]
    assert len(everything) == len(expected)  # nothing delivered twice
    assert set(everything) == expected  # nothing lost
    assert store.stats("main", "learner") == {"records": 1000, "acked": 1000, "in_flight": 0, "pending": 0}


def test_every_group_reads_every_record():
    store = QueueStore()
    store.put("t", [rec(i) for i in range(5)])
    a, b = Consumer(store, "t", "main", "x"), Consumer(store, "t", "sub", "x")
    assert [d.id for d in drain(a, expected=5, timeout=1)] == [d.id for d in drain(b, expected=5, timeout=1)] == [f"r{i}" for i in range(5)]


def test_restarted_consumer_resumes_from_its_last_acknowledged_record():
    store = QueueStore()
    store.put("t", [rec(i) for i in range(6)])
    first = Consumer(store, "t", "g", "sub-learner")
    got = first.get(max_records=4)
    first.ack(got[:2])  # crashed after training on r0, r1; r2, r3 received but not acknowledged
    other = Consumer(store, "t", "g", "peer")  # a peer's records are not affected by the restart
    peer_got = other.get(max_records=1)
    assert [d.id for d in peer_got] == ["r4"]
    restarted = Consumer(store, "t", "g", "sub-learner")
    assert restarted.redelivered == 2
    again = restarted.get(max_records=10)
    assert [d.id for d in again] == ["r2", "r3", "r5"]  # the unacknowledged first, then new; r0, r1 never again
    restarted.ack(again)
    other.ack(peer_got)
    assert store.stats("t", "g") == {"records": 6, "acked": 6, "in_flight": 0, "pending": 0}
    assert Consumer(store, "t", "g", "sub-learner").get() == []


def test_malformed_records_are_rejected_and_the_rest_kept():
    store = QueueStore()
    bad = [rec(0), {"id": "", "kind": "x", "data": {}}, {"id": "n", "kind": "x", "data": {"v": float("nan")}},
           {"id": "o", "kind": "x", "data": {"v": object()}}, ["not", "a", "mapping"], {"id": "e", "kind": "x", "data": {}, "extra": 1},
           rec(1), rec(0)]
    with pytest.raises(MalformedRecordError) as info:
        store.put("t", bad)
    err = info.value
    assert err.accepted == ["r0", "r1"]
    assert [i for i, _ in err.rejected] == [1, 2, 3, 4, 5, 7]
    reasons = dict(err.rejected)
    assert "non-empty string" in reasons[1] and "not plain JSON" in reasons[2] and "not plain JSON" in reasons[3]
    assert "mapping" in reasons[4] and "unexpected ['extra']" in reasons[5] and "duplicate" in reasons[7]
    assert "rejected 6 malformed record(s), kept 2" in str(err)
    assert [r["id"] for r in store.records("t")] == ["r0", "r1"]


def test_stored_records_are_copies():
    store = QueueStore()
    r = rec(0)
    store.put("t", [r])
    r["data"]["value"] = 99
    assert store.records("t")[0]["data"]["value"] == 0


def test_bad_calls_raise_clear_errors():
    store = QueueStore()
    with pytest.raises(ConfigError, match="topic"):
        store.put("", [rec(0)])
    with pytest.raises(ConfigError, match="max_records"):
        store.get("t", "g", "c", max_records=0)
    with pytest.raises(ValueError, match="not delivered"):
        store.ack("t", "g", [3])
    assert check_record(rec(2)) == rec(2)


def test_get_waits_for_a_producer():
    store = QueueStore()
    timer = threading.Timer(0.05, lambda: store.put("t", [rec(0)]))
    timer.start()
    got = store.get("t", "g", "c", timeout=5.0)
    timer.join()
    assert [d.id for d in got] == ["r0"]
