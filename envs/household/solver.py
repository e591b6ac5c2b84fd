"""Optimal plans (expert demonstrations) for household tasks.

``expert_plan`` is a task-specific planner that is exactly optimal: in this world every
command costs one step and ``go to`` reaches any receptacle in one step, so a shortest
plan is a fixed skeleton per task type (reach the object, take it, [treat it], reach the
target, put it; twice for pick-two; or reach a lamp and use it) in which the only choices
are *which* object instance(s), tool, lamp and target receptacle to use. The planner tries
every choice and keeps the shortest route; a step is saved exactly when the agent is
already there (no ``go to``) or the receptacle is already open (no ``open``). Detours
never help: taking something else blocks the one hand, and opening anything else changes
nothing the goal depends on. ``bfs_plan`` is the brute-force check of that argument
(breadth-first search over every effective admissible command); the tests compare the two.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from itertools import permutations

from hiergym.envs.household.catalog import LAMP_KIND
from hiergym.envs.household.tasks import STATE_OF_VERB, Task, count_placed
from hiergym.envs.household.world import World

BFS_MAX_STATES = 2_000_000
"""Safety cap on states the brute-force search expands."""


class _Route:
    """Commands from the current world state, tracking where the agent is and what is open."""

    def __init__(self, world: World):
        self.world = world
        self.location = world.location
        self.opened = set(world.opened)
        self.commands: list[str] = []

    def visit(self, r: str, *, reach_inside: bool) -> None:
        if self.location != r:
            self.commands.append(f"go to {r}")
            self.location = r
        if reach_inside and r in self.world.openable and r not in self.opened:
            self.commands.append(f"open {r}")
            self.opened.add(r)

    def fetch(self, o: str) -> None:
        """Reach ``o`` and take it (no-op when it is already held)."""
        if self.world.holding == o:
            return
        src = self.world.where[o]
        self.visit(src, reach_inside=True)
        self.commands.append(f"take {o} from {src}")

    def place(self, o: str, target: str) -> None:
        self.visit(target, reach_inside=True)
        self.commands.append(f"put {o} in/on {target}")


def expert_plan(world: World, task: Task) -> list[str]:
    """A shortest command list that wins ``task`` from ``world``'s current state (``[]`` if already won).

    Exact when the agent's hand is empty or holds an object of the task's kind (every start
    state); when it holds something else, the plan is found by ``bfs_plan``.
    """
    if task.won(world):
        return []
    held = world.holding
    if held is not None and (world.kind[held] != task.obj or _in_target(world, task, held)):
        plan = bfs_plan(world, task)
        if plan is None:
            raise ValueError(f"task {task.goal!r} cannot be won from this state")
        return plan
    routes = list(_routes(world, task))
    if not routes:
        raise ValueError(f"task {task.goal!r} cannot be won: no {task.obj} or no {task.target or LAMP_KIND} in this room")
    return min(routes, key=len)


def _in_target(world: World, task: Task, o: str) -> bool:
    r = world.where.get(o)
    return r is not None and world.kind[r] == task.target


def _of_kind(world: World, kind: str) -> list[str]:
    return list(world.instances.get(kind, ()))


def _receptacles(world: World, kind: str | None) -> list[str]:
    return [r for r in world.loc_of if world.kind[r] == kind]


def _routes(world: World, task: Task) -> Iterator[list[str]]:
    if task.type == "look_at_obj_in_light":
        yield from _look_routes(world, task)
    elif task.type == "pick_two_obj_and_place":
        yield from _pick_two_routes(world, task)
    else:
        yield from _place_routes(world, task)


def _held_first(world: World, objects: Iterable[str]) -> list[str]:
    objects = list(objects)
    return [o for o in objects if o == world.holding] or objects


def _place_routes(world: World, task: Task) -> Iterator[list[str]]:
    state = STATE_OF_VERB[task.verb] if task.verb else None
    candidates = [o for o in _of_kind(world, task.obj) if not (_in_target(world, task, o) and state is None)]
    tools = _receptacles(world, task.tool) if task.verb else [None]
    for o in _held_first(world, candidates):
        needs_treat = state is not None and o not in world.states[state]
        for tool in tools if needs_treat else [None]:
            for target in _receptacles(world, task.target):
                route = _Route(world)
                route.fetch(o)
                if needs_treat:
                    route.visit(tool, reach_inside=False)
                    route.commands.append(f"{task.verb} {o} with {tool}")
                route.place(o, target)
                yield route.commands


def _pick_two_routes(world: World, task: Task) -> Iterator[list[str]]:
    missing = task.placed_needed - count_placed(world, task.obj, task.target)
    loose = [o for o in _of_kind(world, task.obj) if not _in_target(world, task, o)]
    for order in permutations(loose, missing):
        if world.holding is not None and order[0] != world.holding:
            continue
        for target in _receptacles(world, task.target):
            route = _Route(world)
            for o in order:
                route.fetch(o)
                route.place(o, target)
            yield route.commands


def _look_routes(world: World, task: Task) -> Iterator[list[str]]:
    lamps = _of_kind(world, LAMP_KIND)
    for o in _held_first(world, _of_kind(world, task.obj)):
        for lamp in lamps:
            route = _Route(world)
            route.fetch(o)
            route.visit(world.where[lamp], reach_inside=True)
            if lamp not in world.lamps_on:
                route.commands.append(f"use {lamp}")
            yield route.commands


def bfs_plan(world: World, task: Task, *, max_states: int = BFS_MAX_STATES) -> list[str] | None:
    """Brute force: breadth-first search over every admissible command that changes the state.

    Returns a shortest winning plan, or ``None`` when no plan exists within ``max_states``
    expanded states. Exponential; meant for small rooms and for testing ``expert_plan``.
    """
    if task.won(world):
        return []
    start = world.anchor()
    parent: dict[tuple, tuple[tuple, str] | None] = {start: None}
    frontier = deque([world])
    while frontier and len(parent) < max_states:
        node = frontier.popleft()
        key = node.anchor()
        for command in node.admissible_commands():
            child = node.copy()
            if not child.step(command).effective:
                continue
            child_key = child.anchor()
            if child_key in parent:
                continue
            parent[child_key] = (key, command)
            if task.won(child):
                return _unwind(parent, child_key)
            frontier.append(child)
    return None


def _unwind(parent: dict[tuple, tuple[tuple, str] | None], key: tuple) -> list[str]:
    plan = []
    while parent[key] is not None:
        key, command = parent[key]
        plan.append(command)
    return plan[::-1]
