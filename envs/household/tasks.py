"""ALFWorld's six task types: goal sentences, success tests and subgoals over the true state.

A ``Task`` names an object kind (``"mug"``) and, except for look-at-object-in-light, a
target receptacle kind (``"coffeemachine"``); any instance of either counts, as in ALFWorld.
Subgoal checks are module-level callables (``WorldCheck``), so subgoals pickle across
processes (async vector envs) where lambdas would not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from hiergym.envs.household.catalog import LAMP_KIND, TOOL_OF_VERB
from hiergym.envs.household.world import World
from hiergym.types import Subgoal

TaskType = Literal[
    "pick_and_place",
    "pick_clean_then_place",
    "pick_heat_then_place",
    "pick_cool_then_place",
    "look_at_obj_in_light",
    "pick_two_obj_and_place",
]
TASK_TYPES: tuple[str, ...] = get_args(TaskType)
"""The six ALFWorld task types, in ALFWorld's order (the ``task_types`` kwarg takes a subset)."""

VERB_OF_TASK = {"pick_clean_then_place": "clean", "pick_heat_then_place": "heat", "pick_cool_then_place": "cool"}
"""Task types that need the object treated with a tool receptacle before placing it."""
STATE_OF_VERB = {"clean": "clean", "heat": "hot", "cool": "cool"}
TWO_OBJECTS = 2

GOAL_TEMPLATES: dict[str, tuple[str, ...]] = {
    "pick_and_place": ("put a {obj} in {recep}.", "put some {obj} on {recep}."),
    "pick_clean_then_place": ("put a clean {obj} in {recep}.", "clean some {obj} and put it in {recep}."),
    "pick_heat_then_place": ("put a hot {obj} in {recep}.", "heat some {obj} and put it in {recep}."),
    "pick_cool_then_place": ("put a cool {obj} in {recep}.", "cool some {obj} and put it in {recep}."),
    "look_at_obj_in_light": ("look at {obj} under the {recep}.", "examine the {obj} with the {recep}."),
    "pick_two_obj_and_place": ("put two {obj} in {recep}.", "find two {obj} and put them in {recep}."),
}
"""ALFWorld's goal phrasings per task type (the generator picks one)."""


@dataclass(frozen=True)
class Task:
    """One goal: ``type`` of ``obj`` kind into a ``target`` receptacle kind (``None`` for look tasks)."""

    type: str
    obj: str
    target: str | None
    template: int = 0

    @property
    def verb(self) -> str | None:
        """``clean`` / ``heat`` / ``cool`` for the treat-then-place types, else ``None``."""
        return VERB_OF_TASK.get(self.type)

    @property
    def tool(self) -> str | None:
        """Receptacle kind the treat verb needs (``sinkbasin`` / ``microwave`` / ``fridge``)."""
        return TOOL_OF_VERB[self.verb] if self.verb else None

    @property
    def goal(self) -> str:
        """The goal sentence, e.g. ``put a clean mug in coffeemachine.``"""
        recep = LAMP_KIND if self.type == "look_at_obj_in_light" else self.target
        return GOAL_TEMPLATES[self.type][self.template].format(obj=self.obj, recep=recep)

    @property
    def placed_needed(self) -> int:
        """How many objects must end up in the target (two for pick-two tasks, else one)."""
        return TWO_OBJECTS if self.type == "pick_two_obj_and_place" else 1

    def won(self, world: World) -> bool:
        """The success test over the true state."""
        if self.type == "look_at_obj_in_light":
            return lit_lamp_here(world, self.obj)
        state = STATE_OF_VERB[self.verb] if self.verb else None
        return count_placed(world, self.obj, self.target, state) >= self.placed_needed


# ----- predicates over the true state ----------------------------------------------------


def count_placed(world: World, obj: str, target: str | None, state: str | None = None) -> int:
    """How many ``obj``-kind objects (with ``state``, if given) lie in ``target``-kind receptacles."""
    n = 0
    kind, where = world.kind, world.where
    for o in world.instances.get(obj, ()):
        r = where[o]
        if r is not None and kind[r] == target:
            n += state is None or o in world.states[state]
    return n


def holds(world: World, obj: str) -> bool:
    """The agent holds an ``obj``-kind object."""
    return world.holding is not None and world.kind[world.holding] == obj


def found(world: World, obj: str, exclude_target: str | None = None) -> bool:
    """An ``obj``-kind object is held or seen here (ignoring ones already in ``exclude_target`` kind)."""
    if holds(world, obj):
        return True
    here = world.location
    if here is None or world.kind[here] == exclude_target or not world.visible(here):
        return False
    return any(world.kind[o] == obj for o in world.contents[here])


def treated(world: World, obj: str, state: str) -> bool:
    """Some ``obj``-kind object is in ``state`` (``clean``, ``hot`` or ``cool``)."""
    return any(o in world.states[state] for o in world.instances.get(obj, ()))


def lit_lamp_here(world: World, obj: str) -> bool:
    """Holding an ``obj``-kind object where a lamp is on: ALFWorld's look-at-in-light success."""
    here = world.location
    return holds(world, obj) and any(world.where[lamp] == here for lamp in world.lamps_on)


@dataclass(frozen=True)
class WorldCheck:
    """A picklable ``Subgoal.check``: evaluates predicate ``name`` of ``task`` on ``env.unwrapped.world``."""

    task: Task
    name: str
    placed_before: int = 0  # pick-two: how many must already be placed for this step to count

    def __call__(self, env: Any) -> bool:
        world: World = getattr(env, "unwrapped", env).world
        t = self.task
        if count_placed(world, t.obj, t.target) < self.placed_before:
            return False
        if self.name == "find":
            return found(world, t.obj, exclude_target=t.target)
        if self.name == "take":
            return holds(world, t.obj)
        if self.name == "treat":
            return treated(world, t.obj, STATE_OF_VERB[t.verb])
        if self.name == "put":
            return count_placed(world, t.obj, t.target) >= self.placed_before + 1
        return t.won(world)  # "goal"


def subgoals(task: Task) -> list[Subgoal]:
    """The task's subgoals in intended order, e.g. find / take / clean / put the mug."""
    o = task.obj
    if task.type == "pick_two_obj_and_place":
        out = []
        for i, nth in enumerate(("first", "second")):
            out += [
                Subgoal(f"find_{i + 1}", f"find the {nth} {o}", WorldCheck(task, "find", i), o),
                Subgoal(f"take_{i + 1}", f"take the {nth} {o}", WorldCheck(task, "take", i), o),
                Subgoal(f"put_{i + 1}", f"put the {nth} {o} in/on the {task.target}", WorldCheck(task, "put", i), task.target),
            ]
        return out
    out = [
        Subgoal("find", f"find the {o}", WorldCheck(task, "find"), o),
        Subgoal("take", f"take the {o}", WorldCheck(task, "take"), o),
    ]
    if task.type == "look_at_obj_in_light":
        return out + [Subgoal("use", f"look at the {o} under the {LAMP_KIND}", WorldCheck(task, "goal"), LAMP_KIND)]
    if task.verb:
        out.append(Subgoal(task.verb, f"{task.verb} the {o} with the {task.tool}", WorldCheck(task, "treat"), task.tool))
    return out + [Subgoal("put", f"put the {o} in/on the {task.target}", WorldCheck(task, "goal"), task.target)]
