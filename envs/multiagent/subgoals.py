"""Subgoal constructors for the multi-agent grid envs.

Each ``Subgoal.check`` is a ``functools.partial`` of a module-level predicate taking
``(env, agent)``, so subgoals pickle (vector envs, Ray) and compare by id/text/target.
Predicates read only the env's public state accessors (``position``, ``item_present``, ...).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from hiergym.types import Subgoal

from .grid import Cell, manhattan


def at_cell(env: Any, agent: str, cell: Cell) -> bool:
    """The agent stands on ``cell``."""
    return env.position(agent) == cell


def next_to_cell(env: Any, agent: str, cell: Cell) -> bool:
    """The agent stands on one of the four cells next to ``cell``."""
    return manhattan(env.position(agent), cell) == 1


def item_loaded_by(env: Any, agent: str, item: int) -> bool:
    """Item ``item`` was loaded, with ``agent`` among the loaders."""
    return agent in env.loaders_of(item)


def holds_key(env: Any, agent: str) -> bool:
    """The agent holds the key (or has used it on the lock)."""
    return env.key_holder == agent


def door_open(env: Any, agent: str) -> bool:
    """The door is open (a team fact; any agent may report it)."""
    return bool(env.door_open)


def reach_cell(subgoal_id: str, cell: Cell, what: str) -> Subgoal:
    return Subgoal(subgoal_id, f"Go to {what} at row {cell[0]}, col {cell[1]}.", partial(at_cell, cell=cell), cell)


def next_to(subgoal_id: str, cell: Cell, what: str) -> Subgoal:
    text = f"Go next to {what} at row {cell[0]}, col {cell[1]}."
    return Subgoal(subgoal_id, text, partial(next_to_cell, cell=cell), cell)


def load_item(item: int, cell: Cell, level: int) -> Subgoal:
    text = f"Help load item {item} (level {level}) at row {cell[0]}, col {cell[1]}."
    return Subgoal(f"load_item_{item}", text, partial(item_loaded_by, item=item), cell)


def get_key(cell: Cell) -> Subgoal:
    return Subgoal("get_key", f"Pick up the key at row {cell[0]}, col {cell[1]}.", holds_key, cell)


def open_door(lock: Cell, door: Cell) -> Subgoal:
    text = f"Use the key on the lock at row {lock[0]}, col {lock[1]} to open the door at row {door[0]}, col {door[1]}."
    return Subgoal("open_door", text, door_open, lock)  # target: where the agent must go (and interact)
