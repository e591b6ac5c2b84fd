"""The Ray actor store under a local ray.init(num_cpus=2): same semantics as the in-process one across processes."""

import pytest

pytest.importorskip("ray")

from hiergym.store import Consumer, MalformedRecordError, RayStore  # noqa: E402
from tests.core.ray_fixtures import ray_local  # noqa: E402, F401

pytestmark = [pytest.mark.usefixtures("ray_local"), pytest.mark.slow]


def test_ray_store_concurrent_producers_and_consumers_across_processes(ray_local):
    ray = ray_local
    store = RayStore("test-store-concurrent")

    @ray.remote(num_cpus=0)
    def produce(store, p, n):
        for i in range(0, n, 5):
            store.put("main", [{"id": f"p{p}-{j}", "kind": "rollout", "data": {"j": j}} for j in range(i, i + 5)])
        return n

    @ray.remote(num_cpus=0)
    def consume(store, name, stop_after):
        consumer = Consumer(store, "main", "learner", name)
        seen = []
        idle = 0
        while idle < stop_after:
            got = consumer.get(max_records=8, timeout=0.2)
            idle = 0 if got else idle + 1
            seen.extend(d.id for d in got)
            consumer.ack(got)
        return seen

    consumers = [consume.remote(store, f"c{c}", 10) for c in range(2)]
    assert sum(ray.get([produce.remote(store, p, 100) for p in range(3)])) == 300
    received = ray.get(consumers)
    everything = [i for r in received for i in r]
    assert len(everything) == 300 and set(everything) == {f"p{p}-{j}" for p in range(3) for j in range(100)}
    assert store.stats("main", "learner") == {"records": 300, "acked": 300, "in_flight": 0, "pending": 0}
    store.kill()


def test_ray_store_restart_resume_and_malformed(ray_local):
    store = RayStore("test-store-resume")
    with pytest.raises(MalformedRecordError) as info:
        store.put("t", [{"id": f"r{i}", "kind": "x", "data": {}} for i in range(4)] + [{"id": "bad"}])
    assert info.value.accepted == ["r0", "r1", "r2", "r3"] and info.value.rejected[0][0] == 4
    first = Consumer(store, "t", "g", "sub")
    got = first.get(max_records=3)
    first.ack(got[:1])
    again = Consumer(RayStore("test-store-resume"), "t", "g", "sub")  # a new process would connect by name
    assert again.redelivered == 2
    assert [d.id for d in again.get(max_records=10)] == ["r1", "r2", "r3"]
    with pytest.raises(ValueError, match="not delivered"):
        store.ack("t", "g", [99])
    store.kill()
