"""The shared store through which decoupled learners exchange rollout records and reward statistics.

M-GRPO's main and sub-agent policies may train in different processes: the process that collects
rollouts ``put``s records on a *topic* (e.g. ``"main"``, ``"sub:searcher"``), each learner ``get``s
the records of its topic and ``ack``s them once they are trained on. Two stores, one interface:

- :class:`QueueStore`: in this process (threads), the default;
- :class:`RayStore`: a named Ray actor holding a ``QueueStore`` (``pip install hiergym[ray]``;
  ``ray`` is imported only when one is built), reachable from every process of a Ray cluster.

Semantics (the same for both):

- A topic is an append-only log; every record gets a sequence number ``seq`` (0, 1, ...).
- A *group* of consumers reads each record once: concurrent consumers of one group split the
  records, no record is delivered to two of them, and a record is delivered again only if its
  consumer restarts without acknowledging it. Separate groups each read every record.
- Acknowledgement: ``ack(topic, group, seqs)``. A consumer that restarts calls ``attach`` (or
  builds a :class:`Consumer`, which does) under its old name: the records it had received but not
  acknowledged are delivered again, first, and nothing it acknowledged comes back. It resumes
  from its last acknowledged record.
- Validation: a record is a mapping ``{"id": str, "kind": str, "data": mapping}`` of JSON values;
  ids are unique per topic (a producer's retry is rejected as a duplicate, never counted twice).
  ``put`` keeps every valid record and then raises :class:`MalformedRecordError` naming each
  rejected one and why. Records are stored as JSON-round-tripped copies, so a producer mutating
  its dict later changes nothing, and the Ray store behaves exactly like the in-process one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from hiergym.error import ConfigError, HierGymError

logger = logging.getLogger(__name__)

RECORD_KEYS = ("id", "kind", "data")
"""The keys every record has (extra keys are rejected: a typo should not pass silently)."""


class MalformedRecordError(HierGymError, ValueError):
    """``put`` got records it cannot store; ``accepted`` lists the ids it kept, ``rejected`` (index, reason) pairs."""

    def __init__(self, topic: str, accepted: list[str], rejected: list[tuple[int, str]]):
        lines = "\n".join(f"  record {i}: {reason}" for i, reason in rejected[:10])
        more = f"\n  ... and {len(rejected) - 10} more" if len(rejected) > 10 else ""
        super().__init__(f"topic {topic!r}: rejected {len(rejected)} malformed record(s), kept {len(accepted)}:\n{lines}{more}")
        self.topic, self.accepted, self.rejected = topic, accepted, rejected

    def __reduce__(self) -> tuple[type, tuple[str, list[str], list[tuple[int, str]]]]:
        return type(self), (self.topic, self.accepted, self.rejected)


class Delivery(NamedTuple):
    """One record handed to a consumer: ack it by its ``seq``."""

    seq: int
    record: dict[str, Any]

    @property
    def id(self) -> str:
        return self.record["id"]


class PutResult(NamedTuple):
    """What ``put_result`` did: the ids it stored and the (index, reason) of every record it rejected."""

    accepted: list[str]
    rejected: list[tuple[int, str]]


def check_record(record: Any) -> dict[str, Any]:
    """The record as a JSON-round-tripped dict, or ValueError saying what is wrong with it."""
    if not isinstance(record, Mapping):
        raise ValueError(f"a record must be a mapping with keys {RECORD_KEYS}, got {type(record).__name__}")
    keys = set(record)
    if keys != set(RECORD_KEYS):
        missing, extra = sorted(set(RECORD_KEYS) - keys), sorted(keys - set(RECORD_KEYS))
        raise ValueError(f"record keys must be exactly {RECORD_KEYS}" + (f"; missing {missing}" if missing else "") + (f"; unexpected {extra}" if extra else ""))
    rid, kind, data = record["id"], record["kind"], record["data"]
    if not isinstance(rid, str) or not rid:
        raise ValueError(f"id must be a non-empty string, got {rid!r}")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"record {rid!r}: kind must be a non-empty string, got {kind!r}")
    if not isinstance(data, Mapping):
        raise ValueError(f"record {rid!r}: data must be a mapping, got {type(data).__name__}")
    try:
        return json.loads(json.dumps({"id": rid, "kind": kind, "data": data}, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ValueError(f"record {rid!r}: data is not plain JSON ({e})") from e


class Store(Protocol):
    """What a learner needs from a store (``QueueStore`` and ``RayStore`` both implement it)."""

    def put(self, topic: str, records: Iterable[Mapping[str, Any]]) -> list[str]: ...

    def get(self, topic: str, group: str, consumer: str, *, max_records: int = ..., timeout: float = ...) -> list[Delivery]: ...

    def ack(self, topic: str, group: str, seqs: Iterable[int]) -> int: ...

    def attach(self, topic: str, group: str, consumer: str) -> int: ...

    def stats(self, topic: str, group: str | None = None) -> dict[str, int]: ...


@dataclass
class _Group:
    next_seq: int = 0
    in_flight: dict[int, str] = field(default_factory=dict)  # seq -> consumer holding it
    redeliver: deque[int] = field(default_factory=deque)
    acked: set[int] = field(default_factory=set)


@dataclass
class _Topic:
    log: list[dict[str, Any]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    groups: dict[str, _Group] = field(default_factory=dict)


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name:
        raise ConfigError(what, name, "a non-empty string")


class QueueStore:
    """The in-process store (thread-safe): topics of records, consumer groups, acknowledgements."""

    def __init__(self) -> None:
        self._topics: dict[str, _Topic] = {}
        self._cond = threading.Condition()

    def _topic(self, topic: str) -> _Topic:
        _check_name(topic, "topic")
        return self._topics.setdefault(topic, _Topic())

    def put_result(self, topic: str, records: Iterable[Mapping[str, Any]]) -> PutResult:
        """Store every valid record; return the accepted ids and the rejected (index, reason) pairs without raising."""
        checked: list[tuple[int, dict[str, Any] | None, str]] = []
        for i, record in enumerate(records):
            try:
                checked.append((i, check_record(record), ""))
            except ValueError as e:
                checked.append((i, None, str(e)))
        accepted: list[str] = []
        rejected: list[tuple[int, str]] = []
        with self._cond:
            t = self._topic(topic)
            for i, record, reason in checked:
                if record is None:
                    rejected.append((i, reason))
                elif record["id"] in t.ids:
                    rejected.append((i, f"id {record['id']!r} is already in topic {topic!r} (duplicate; a retried put is not counted twice)"))
                else:
                    t.ids.add(record["id"])
                    t.log.append(record)
                    accepted.append(record["id"])
            if accepted:
                self._cond.notify_all()
        return PutResult(accepted, rejected)

    def put(self, topic: str, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """Append ``records`` to ``topic``; returns their ids. Malformed ones: the rest are kept, then MalformedRecordError."""
        result = self.put_result(topic, records)
        if result.rejected:
            logger.warning("store topic %r: rejected %d malformed record(s)", topic, len(result.rejected))
            raise MalformedRecordError(topic, result.accepted, result.rejected)
        return result.accepted

    def attach(self, topic: str, group: str, consumer: str) -> int:
        """(Re)start ``consumer`` of ``group``: what it received but did not ack is delivered again first. Returns that count."""
        _check_name(group, "group")
        _check_name(consumer, "consumer")
        with self._cond:
            g = self._topic(topic).groups.setdefault(group, _Group())
            held = sorted(s for s, c in g.in_flight.items() if c == consumer)
            for s in held:
                del g.in_flight[s]
            g.redeliver.extend(held)
            if held:
                self._cond.notify_all()
            return len(held)

    def get(self, topic: str, group: str, consumer: str, *, max_records: int = 64, timeout: float = 0.0) -> list[Delivery]:
        """Up to ``max_records`` records for ``consumer`` of ``group``; waits up to ``timeout`` s when there are none."""
        _check_name(group, "group")
        _check_name(consumer, "consumer")
        if max_records < 1:
            raise ConfigError("max_records", max_records, "an integer >= 1")
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            t = self._topic(topic)
            g = t.groups.setdefault(group, _Group())
            while not g.redeliver and g.next_seq >= len(t.log):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)
            seqs: list[int] = []
            while g.redeliver and len(seqs) < max_records:
                seqs.append(g.redeliver.popleft())
            while g.next_seq < len(t.log) and len(seqs) < max_records:
                seqs.append(g.next_seq)
                g.next_seq += 1
            for s in seqs:
                g.in_flight[s] = consumer
            return [Delivery(s, t.log[s]) for s in seqs]

    def ack(self, topic: str, group: str, seqs: Iterable[int]) -> int:
        """Mark delivered records as done for ``group``; returns how many were newly acknowledged."""
        with self._cond:
            g = self._topic(topic).groups.setdefault(group, _Group())
            n = 0
            for s in seqs:
                s = int(s)
                if s in g.in_flight:
                    del g.in_flight[s]
                    g.acked.add(s)
                    n += 1
                elif s not in g.acked:
                    raise ValueError(f"topic {topic!r} group {group!r}: seq {s} was not delivered to this group, so it cannot be acknowledged")
            return n

    def stats(self, topic: str, group: str | None = None) -> dict[str, int]:
        """Record counts: ``records`` in the topic; with a group also ``acked``, ``in_flight`` and ``pending`` (not yet delivered)."""
        with self._cond:
            t = self._topic(topic)
            out = {"records": len(t.log)}
            if group is not None:
                g = t.groups.get(group, _Group())
                out.update(acked=len(g.acked), in_flight=len(g.in_flight), pending=len(g.redeliver) + len(t.log) - g.next_seq)
            return out

    def records(self, topic: str) -> list[dict[str, Any]]:
        """Every record of ``topic`` in order (for inspection and tests)."""
        with self._cond:
            return list(self._topic(topic).log)


class Consumer:
    """One named consumer of a group on a topic; building it (re)attaches, so a restarted consumer resumes."""

    def __init__(self, store: Store, topic: str, group: str, name: str):
        self.store, self.topic, self.group, self.name = store, topic, group, name
        self.redelivered = store.attach(topic, group, name)

    def get(self, *, max_records: int = 64, timeout: float = 0.0) -> list[Delivery]:
        return self.store.get(self.topic, self.group, self.name, max_records=max_records, timeout=timeout)

    def ack(self, deliveries: Iterable[Delivery | int]) -> int:
        return self.store.ack(self.topic, self.group, [d.seq if isinstance(d, Delivery) else int(d) for d in deliveries])


# ----------------------------------------------------------------------------- Ray


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("RayStore needs Ray: pip install 'hiergym[ray]'") from e
    return ray


class _StoreActor:
    """The Ray actor: a QueueStore whose methods never block (clients poll)."""

    def __init__(self) -> None:
        self.store = QueueStore()

    def put_result(self, topic: str, records: list[dict[str, Any]]) -> PutResult:
        return self.store.put_result(topic, records)

    def get(self, topic: str, group: str, consumer: str, max_records: int) -> list[Delivery]:
        return self.store.get(topic, group, consumer, max_records=max_records, timeout=0.0)

    def ack(self, topic: str, group: str, seqs: list[int]) -> int:
        return self.store.ack(topic, group, seqs)

    def attach(self, topic: str, group: str, consumer: str) -> int:
        return self.store.attach(topic, group, consumer)

    def stats(self, topic: str, group: str | None = None) -> dict[str, int]:
        return self.store.stats(topic, group)

    def records(self, topic: str) -> list[dict[str, Any]]:
        return self.store.records(topic)


class RayStore:
    """The store as a named Ray actor (needs ``ray.init`` first); the object pickles, so it can be passed to tasks and actors.

    ``RayStore(name)`` creates the actor or connects to the existing one of that name, so every
    process that builds ``RayStore("m-grpo")`` talks to the same store.
    """

    def __init__(self, name: str = "hiergym-store", *, namespace: str | None = None, poll_interval: float = 0.01):
        ray = _ray()
        _check_name(name, "name")
        if not ray.is_initialized():
            raise RuntimeError("RayStore needs a running Ray: call ray.init() (or ray.init(address=...)) first")
        self.name, self.poll_interval = name, poll_interval
        self._actor = ray.remote(num_cpus=0)(_StoreActor).options(name=name, namespace=namespace, get_if_exists=True).remote()

    def _call(self, method: str, *args: Any) -> Any:
        ray = _ray()
        try:
            return ray.get(getattr(self._actor, method).remote(*args))
        except ray.exceptions.RayTaskError as e:  # re-raise the store's own error (ValueError, ConfigError) unwrapped
            cause = e.as_instanceof_cause()
            raise (cause.cause if getattr(cause, "cause", None) is not None else cause) from None

    def put_result(self, topic: str, records: Iterable[Mapping[str, Any]]) -> PutResult:
        return PutResult(*self._call("put_result", topic, list(records)))

    def put(self, topic: str, records: Iterable[Mapping[str, Any]]) -> list[str]:
        result = self.put_result(topic, records)
        if result.rejected:
            raise MalformedRecordError(topic, result.accepted, result.rejected)
        return result.accepted

    def get(self, topic: str, group: str, consumer: str, *, max_records: int = 64, timeout: float = 0.0) -> list[Delivery]:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            got = self._call("get", topic, group, consumer, max_records)
            if got or time.monotonic() >= deadline:
                return [Delivery(*d) for d in got]
            time.sleep(min(self.poll_interval, max(deadline - time.monotonic(), 0.0)))

    def ack(self, topic: str, group: str, seqs: Iterable[int]) -> int:
        return self._call("ack", topic, group, [int(s) for s in seqs])

    def attach(self, topic: str, group: str, consumer: str) -> int:
        return self._call("attach", topic, group, consumer)

    def stats(self, topic: str, group: str | None = None) -> dict[str, int]:
        return self._call("stats", topic, group)

    def records(self, topic: str) -> list[dict[str, Any]]:
        return self._call("records", topic)

    def kill(self) -> None:
        """End the actor (its records are gone)."""
        _ray().kill(self._actor)


def drain(consumer: Consumer, *, expected: int, timeout: float = 30.0, max_records: int = 64) -> list[Delivery]:
    """Get and ack records until ``expected`` were received or ``timeout`` s passed (a learner's simple loop)."""
    out: list[Delivery] = []
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        got = consumer.get(max_records=max_records, timeout=min(0.5, max(deadline - time.monotonic(), 0.0)))
        consumer.ack(got)
        out.extend(got)
    return out


__all__ = [
    "Consumer",
    "Delivery",
    "MalformedRecordError",
    "PutResult",
    "QueueStore",
    "RayStore",
    "Store",
    "check_record",
    "drain",
]
