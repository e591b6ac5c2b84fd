"""The one place that registers hiergym environments.

Entry points are strings, so registering imports nothing heavy: the env module
(and torch, textworld, the web stack, ...) loads when the env is made.
Single-agent envs go to Gymnasium's registry; multi-agent PettingZoo envs go to
our own small registry (and to PettingZoo's when it has one).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from typing import Any

import gymnasium

from hiergym.error import UnknownEnvError

NAMESPACE = "hiergym"


@dataclass(frozen=True)
class EnvEntry:
    """One registered id: where it lives, its default kwargs and a one-line description.

    ``observations`` names the observation modes (``"text"``, ``"text or RGB"``, ...); with
    ``multi_agent`` it makes the ``kind`` column of ``hiergym list`` and the docs' env table.
    """

    id: str
    entry_point: str
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    multi_agent: bool = False
    observations: str = "text"

    @property
    def kind(self) -> str:
        """The API the env follows and its observation modes, e.g. ``"Gymnasium; text or RGB"``."""
        api = "PettingZoo Parallel" if self.multi_agent else "Gymnasium"
        return f"{api}; {self.observations}"


def _presets(entry_point: str, *entries: tuple[str, str, dict[str, Any]], **shared: Any) -> list[EnvEntry]:
    """Entries of one env class from ``(id, description, kwargs)`` rows and the fields they all share.

    A family's default id and its presets differ only in these three fields, so each row says
    just what is particular to it.
    """
    return [EnvEntry(id=i, entry_point=entry_point, description=d, kwargs=kw, **shared) for i, d, kw in entries]


def _parallel(id: str, entry_point: str, description: str, observations: str = "vector or text") -> EnvEntry:
    """A PettingZoo Parallel env's entry (multi-agent; vector or text observations unless said)."""
    return EnvEntry(id=id, entry_point=entry_point, description=description, multi_agent=True, observations=observations)


# Each env family owns one list; add an entry to make an id appear in
# `hiergym list`, the README table and the checker tests.
SOKOBAN: list[EnvEntry] = []
SOKOBAN += _presets(
    "hiergym.envs.sokoban:SokobanEnv",
    (
        "hiergym/Sokoban-v0",
        "Sokoban, any size via kwargs (default 6x6 room, 1 box, 100 steps); reverse-play levels checked by an optimal solver",
        {},
    ),
    *(
        (
            f"hiergym/Sokoban-{rows}x{cols}-{boxes}box-v0",
            f"Sokoban {rows}x{cols}, {boxes} box{'es' if boxes > 1 else ''}, {steps} steps"
            f" (median optimal solution {median_moves} moves)",
            {"dim_room": (rows, cols), "num_boxes": boxes, "max_steps": steps},
        )
        # median optimal solution lengths measured over generated levels (docs: Sokoban)
        for rows, cols, boxes, steps, median_moves in ((6, 6, 1, 100, 4), (8, 8, 2, 150, 8), (10, 10, 3, 200, 14))
    ),
    observations="text or RGB",
)
TEXT_GAMES: list[EnvEntry] = []
TEXT_GAMES += _presets(
    "hiergym.envs.household:HouseholdEnv",
    ("hiergym/Household-v0", "ALFWorld-style household tasks (all six task types) on our own pure-Python engine", {}),
    *(
        (
            f"hiergym/Household-{name}-v0",
            f"Household, {task_type.replace('_obj_', '_objects_').replace('_', '-')} tasks only",
            {"task_types": (task_type,)},
        )
        for name, task_type in (
            ("PickPlace", "pick_and_place"),
            ("PickClean", "pick_clean_then_place"),
            ("PickHeat", "pick_heat_then_place"),
            ("PickCool", "pick_cool_then_place"),
            ("LookInLight", "look_at_obj_in_light"),
            ("PickTwo", "pick_two_obj_and_place"),
        )
    ),
)
TEXT_GAMES += _presets(
    "hiergym.envs.tw.env:TextWorldEnv",
    (
        "hiergym/TextWorld-v0",
        "TextWorld games from its own `tw-make` generator (any challenge and settings as kwargs, or `game_files`), cached on disk",
        {},
    ),
    *(
        (
            f"hiergym/TextWorld-{name}-v0",
            f"TextWorld `{challenge}`: {what} ({', '.join(f'{k}={v}' for k, v in settings.items())})",
            {"challenge": challenge, **settings},
        )
        for name, challenge, what, settings in (
            ("Simple", "tw-simple", "a key, doors, food onto the stove", {"rewards": "dense", "goal": "detailed"}),
            ("Cooking", "tw-cooking", "find and prepare a recipe", {"recipe": 1, "take": 1, "go": 6, "open": True, "cook": True, "cut": True}),
            ("TreasureHunter", "tw-treasure_hunter", "find the named object", {"level": 5}),
            ("CoinCollector", "tw-coin_collector", "walk to the coin", {"level": 5}),
        )
    ),
)
WEB: list[EnvEntry] = []
WEB += _presets(
    "hiergym.envs.webshop.env:WebShopEnv",
    (
        "hiergym/WebShop-v0",
        "WebShop: buy what an instruction asks from a generated catalogue (1k products, SQLite FTS5/BM25), WebShop's reward",
        {},
    ),
    observations="text or HTML",
)
WEB += _presets(
    "hiergym.envs.webshop.http_env:WebShopHttpEnv",
    (
        "hiergym/WebShop-http-v0",
        "The same WebShop task over HTTP against `hiergym serve webshop` (`base_url`; a private 127.0.0.1 server when none is given)",
        {},
    ),
    observations="text or HTML",
)
MULTI_AGENT: list[EnvEntry] = []
MULTI_AGENT += [
    _parallel(
        "hiergym/GoalGrid-v0",
        "hiergym.envs.multiagent.goal_grid:GoalGridEnv",
        "N agents must cover M goal cells at once; sparse (or shaped) team reward",
    ),
    _parallel(
        "hiergym/Foraging-v0",
        "hiergym.envs.multiagent.foraging:ForagingEnv",
        "Level-based foraging (lbforaging rules): adjacent agents whose levels add up load items together",
    ),
    _parallel(
        "hiergym/KeyDoor-v0",
        "hiergym.envs.multiagent.key_door:KeyDoorEnv",
        "Long-horizon hand-off: one agent fetches a key and unlocks the door the other must pass to the goal",
    ),
    _parallel(
        "hiergym/TwoStepMatrix-v0",
        "hiergym.envs.multiagent.matrix_game:TwoStepMatrixGame",
        "The QMIX paper's two-step cooperative matrix game (optimal return 8; VDN gets 7)",
        observations="vector",
    ),
]


def register_pettingzoo() -> None:
    """Also put the multi-agent ids in PettingZoo's registry: ``pettingzoo.make("parallel", id)`` (idempotent).

    Lazy because importing pettingzoo adds 60-110 ms to ``import hiergym``: runs at ``import hiergym``
    when pettingzoo is already loaded, else when ``hiergym.envs.multiagent`` is first imported.
    """
    import pettingzoo

    for e in MULTI_AGENT:
        if e.id not in pettingzoo.parallel_registry:
            pettingzoo.register("parallel", e.id, entry_point=e.entry_point, kwargs=dict(e.kwargs))


if "pettingzoo" in sys.modules:
    register_pettingzoo()
RESEARCH: list[EnvEntry] = []
RESEARCH += [
    EnvEntry(
        id="hiergym/MultiHop-v0",
        entry_point="hiergym.envs.research:MultiHopEnv",
        description="Multi-hop questions (2-4 hops) over a generated knowledge base: search[...] (SQLite FTS5/BM25), open[...], answer[...]; exact-match reward",
    ),
]

_FAMILIES = (SOKOBAN, TEXT_GAMES, WEB, MULTI_AGENT, RESEARCH)


def all_entries() -> list[EnvEntry]:
    """Every registered hiergym id, single- and multi-agent."""
    return [e for family in _FAMILIES for e in family]


def env_table() -> list[tuple[str, str, str]]:
    """``(id, kind, description)`` for every registered id: ``hiergym list`` and the docs' env table."""
    return [(e.id, e.kind, e.description) for e in all_entries()]


def _load(entry_point: str) -> Any:
    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)


def register_envs() -> None:
    """Register all single-agent ids with Gymnasium (idempotent)."""
    for e in all_entries():
        if e.multi_agent or e.id in gymnasium.registry:
            continue
        gymnasium.register(
            id=e.id,
            entry_point=e.entry_point,
            kwargs=dict(e.kwargs),
            max_episode_steps=e.max_episode_steps,
        )


def _entry(env_id: str, *, multi_agent: bool) -> EnvEntry:
    env_id = env_id.removeprefix(f"{NAMESPACE}:")  # accept gymnasium's "module:id" form
    entries = [e for e in all_entries() if e.multi_agent == multi_agent]
    for e in entries:
        if e.id == env_id:
            return e
    raise UnknownEnvError(env_id, [e.id for e in entries])


def make(env_id: str, **kwargs: Any) -> gymnasium.Env:
    """``gymnasium.make`` with a did-you-mean error for unknown hiergym ids."""
    if env_id.removeprefix(f"{NAMESPACE}:").startswith(f"{NAMESPACE}/"):
        _entry(env_id, multi_agent=False)  # raises UnknownEnvError with suggestions
    return gymnasium.make(env_id, **kwargs)


def make_parallel(env_id: str, **kwargs: Any) -> Any:
    """Build a registered multi-agent PettingZoo ``ParallelEnv``."""
    e = _entry(env_id, multi_agent=True)
    return _load(e.entry_point)(**{**e.kwargs, **kwargs})
