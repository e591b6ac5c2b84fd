"""Seeded households: a room layout, object placements and one task, drawn from a split.

Splits, as ALFWorld's in- and out-of-distribution evaluation sets:

- A *layout* is a room type with a count per receptacle kind (e.g. kitchen with 4
  cabinets, 2 countertops, ...). A layout is *unseen* when a blake2b hash of its signature
  falls in the lowest ``UNSEEN_SHARE`` of the hash range; the others are *seen*.
- A *goal combo* is (object kind, target kind) (target ``desklamp`` for look tasks); it is
  unseen by the same hash rule on the combo.
- ``train`` and ``valid_seen`` use only seen layouts and seen combos; an episode goes to
  ``valid_seen`` when the hash of its whole start state falls in the lowest
  ``VALID_SEEN_SHARE``, else to ``train``. So the two never share an episode.
- ``valid_unseen`` uses only unseen layouts *and* unseen combos: no layout and no
  object-receptacle goal of it ever occurs in ``train`` or ``valid_seen``.

The split of a candidate is a pure function of its content, so rejection sampling with the
env's ``np_random`` keeps every split deterministic under a seed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from hiergym.envs.household.catalog import LAMP, OBJECTS_BY_ROOM, ROOMS, TOOL_OF_VERB, ObjectKind
from hiergym.envs.household.tasks import GOAL_TEMPLATES, VERB_OF_TASK, Task
from hiergym.error import EnvSpecError

Split = Literal["train", "valid_seen", "valid_unseen"]
SPLITS: tuple[str, ...] = get_args(Split)
UNSEEN_SHARE = 0.25
"""Share of layouts and of goal combos held out for ``valid_unseen``."""
VALID_SEEN_SHARE = 0.1
"""Share of seen-layout, seen-combo episodes that belong to ``valid_seen`` instead of ``train``."""
MAX_ATTEMPTS = 2000
"""Rejection-sampling budget per episode before the configuration is declared impossible."""
TASK_COPIES = {"pick_two_obj_and_place": (2, 3)}
"""Instances of the task's object kind placed in the room: (min, max); default (1, 2)."""
DEFAULT_COPIES = (1, 2)
DEFAULT_DISTRACTORS = (6, 14)
"""Range of distractor objects when ``num_distractors`` is ``None``."""


@dataclass(frozen=True)
class Episode:
    """One generated start state: receptacles (name -> loc number), placements, fixed objects, task."""

    room: str
    receptacles: dict[str, int]
    placement: dict[str, str]
    fixed: frozenset[str]
    task: Task


def hash_unit(*parts: object) -> float:
    """A number in [0, 1) from blake2b of ``parts``: stable across processes (unlike ``hash``)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def episode_hash_unit(episode: Episode) -> float:
    """``hash_unit`` of a whole start state (sorted, so independent of ``PYTHONHASHSEED``)."""
    return hash_unit("episode", episode.room, tuple(episode.receptacles.items()), tuple(sorted(episode.placement.items())), episode.task)


def layout_is_unseen(room: str, counts: dict[str, int]) -> bool:
    """Whether a room layout belongs to the held-out share kept for unseen-layout evaluation."""
    return hash_unit("layout", room, tuple(sorted(counts.items()))) < UNSEEN_SHARE


@functools.lru_cache(maxsize=4096)
def combo_is_unseen(obj: str, target: str) -> bool:
    """Whether an (object, target) pair belongs to the held-out share kept for unseen-combination evaluation."""
    return hash_unit("combo", obj, target) < UNSEEN_SHARE


def room_supports(room: str, task_type: str) -> bool:
    """Every layout of the room can host the task type: tool receptacle / lamp place and a fitting object."""
    always = {k: lo for k, (lo, _) in ROOMS[room].items()}
    return any(_targets(always, task_type, kind) for kind in OBJECTS_BY_ROOM[room])


def receptacle_range(room: str) -> tuple[int, int]:
    """Smallest and largest number of receptacles a layout of ``room`` can have."""
    spec = ROOMS[room].values()
    return sum(lo for lo, _ in spec), sum(hi for _, hi in spec)


def _targets(counts: dict[str, int], task_type: str, kind: ObjectKind) -> list[str]:
    """Target kinds present in ``counts`` for ``kind`` in a task of ``task_type`` (``desklamp`` for look tasks)."""
    if not kind.portable:
        return []
    if task_type == "look_at_obj_in_light":
        usable = "look" in kind.verbs and _starts(counts, LAMP, None) and _starts(counts, kind, None)
        return [LAMP.name] if usable else []
    verb = VERB_OF_TASK.get(task_type)
    tool = TOOL_OF_VERB[verb] if verb else None
    if verb is not None and (verb not in kind.verbs or not counts.get(tool)):
        return []
    return [t for t in kind.places if t != tool and counts.get(t) and _starts(counts, kind, t)]


def _starts(counts: dict[str, int], kind: ObjectKind, target: str | None) -> list[str]:
    """Receptacle kinds where ``kind`` may start: its places present in the layout, minus the target kind."""
    return [p for p in kind.places if p != target and counts.get(p)]


class HouseholdGenerator:
    """Draws ``Episode``s for one configuration; all randomness comes from the ``rng`` passed in."""

    def __init__(
        self,
        *,
        task_types: Sequence[str],
        rooms: Sequence[str],
        num_receptacles: int | None,
        num_distractors: int | None,
        split: str,
    ):
        self.task_types = tuple(task_types)
        self.num_receptacles = num_receptacles
        self.num_distractors = num_distractors
        self.split = split
        self.rooms_for = {}
        for t in self.task_types:
            hosts = [r for r in rooms if room_supports(r, t)]
            if not hosts:
                able = [r for r in ROOMS if room_supports(r, t)]
                raise EnvSpecError("rooms", tuple(rooms), f"task type {t!r} needs one of the rooms {able}")
            fitting = [r for r in hosts if self._size_fits(r)]
            if not fitting:
                sizes = {r: receptacle_range(r) for r in hosts}
                raise EnvSpecError(
                    "num_receptacles", num_receptacles, f"task type {t!r} in rooms with these (min, max) counts: {sizes}"
                )
            self.rooms_for[t] = fitting

    def _size_fits(self, room: str) -> bool:
        lo, hi = receptacle_range(room)
        return self.num_receptacles is None or lo <= self.num_receptacles <= hi

    def sample(self, rng: np.random.Generator) -> Episode:
        """One episode of this split; raises ``EnvSpecError`` if the split has none for this config."""
        for _ in range(MAX_ATTEMPTS):
            episode = self._candidate(rng)
            if episode is not None:
                return episode
        raise EnvSpecError(
            "split", self.split, f"no episode found in {MAX_ATTEMPTS} draws for task_types={self.task_types}, "
            f"num_receptacles={self.num_receptacles}; widen rooms/num_receptacles or use another split"
        )

    def _candidate(self, rng: np.random.Generator) -> Episode | None:
        task_type = self.task_types[int(rng.integers(len(self.task_types)))]
        rooms = self.rooms_for[task_type]
        room = rooms[int(rng.integers(len(rooms)))]
        counts = self._counts(rng, room)
        unseen = self.split == "valid_unseen"
        if layout_is_unseen(room, counts) != unseen:
            return None
        combos = [
            (kind, target)
            for kind in OBJECTS_BY_ROOM[room]
            for target in _targets(counts, task_type, kind)
            if combo_is_unseen(kind.name, target) == unseen
        ]
        if not combos:
            return None
        kind, target = combos[int(rng.integers(len(combos)))]
        template = int(rng.integers(len(GOAL_TEMPLATES[task_type])))
        task = Task(task_type, kind.name, None if target == LAMP.name else target, template)
        episode = self._place(rng, room, counts, task, kind)
        if not unseen and (episode_hash_unit(episode) < VALID_SEEN_SHARE) != (self.split == "valid_seen"):
            return None
        return episode

    def _counts(self, rng: np.random.Generator, room: str) -> dict[str, int]:
        spec = ROOMS[room]
        counts = {k: int(rng.integers(lo, hi + 1)) for k, (lo, hi) in spec.items()}
        if self.num_receptacles is not None:
            kinds = list(spec)
            while sum(counts.values()) != self.num_receptacles:
                grow = sum(counts.values()) < self.num_receptacles
                movable = [k for k in kinds if (counts[k] < spec[k][1] if grow else counts[k] > spec[k][0])]
                k = movable[int(rng.integers(len(movable)))]
                counts[k] += 1 if grow else -1
        return {k: n for k, n in counts.items() if n > 0}

    def _place(self, rng: np.random.Generator, room: str, counts: dict[str, int], task: Task, kind: ObjectKind) -> Episode:
        names = [f"{k} {i}" for k in sorted(counts) for i in range(counts[k], 0, -1)]  # ALFWorld's intro order
        locs = rng.permutation(len(names)) + 1
        receptacles = {n: int(loc) for n, loc in zip(names, locs)}
        placement: dict[str, str] = {}
        fixed: set[str] = set()

        def put(obj_kind: ObjectKind, where: list[str]) -> str:
            number = 1 + sum(o.rpartition(" ")[0] == obj_kind.name for o in placement)
            name = f"{obj_kind.name} {number}"
            r_kind = where[int(rng.integers(len(where)))]
            placement[name] = f"{r_kind} {int(rng.integers(counts[r_kind])) + 1}"
            return name

        lo, hi = TASK_COPIES.get(task.type, DEFAULT_COPIES)
        for _ in range(int(rng.integers(lo, hi + 1))):
            put(kind, _starts(counts, kind, task.target))
        if task.type == "look_at_obj_in_light":
            fixed.add(put(LAMP, _starts(counts, LAMP, None)))
        others = [k for k in OBJECTS_BY_ROOM[room] if k.name != kind.name and _starts(counts, k, None)]
        n = self.num_distractors
        if n is None:
            n = int(rng.integers(DEFAULT_DISTRACTORS[0], DEFAULT_DISTRACTORS[1] + 1))
        for _ in range(n):
            other = others[int(rng.integers(len(others)))]
            put(other, _starts(counts, other, None))
        return Episode(room, receptacles, placement, frozenset(fixed), task)
