"""Pure grid-world helpers shared by the multi-agent envs: actions, movement, view windows, paths.

Cells are ``(row, col)`` tuples; row 0 is the top. Nothing here holds state or randomness
except through the ``np.random.Generator`` passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence

import numpy as np

Cell = tuple[int, int]

NOOP, UP, DOWN, LEFT, RIGHT = range(5)
MOVE_ACTIONS = ("noop", "up", "down", "left", "right")
"""Action names of every grid env, by index; envs append their own (``load``, ``interact``)."""
DELTAS: dict[int, Cell] = {UP: (-1, 0), DOWN: (1, 0), LEFT: (0, -1), RIGHT: (0, 1)}
MOVE_OFFSETS: tuple[Cell, ...] = tuple(DELTAS[a] for a in (UP, DOWN, LEFT, RIGHT))
"""Row/col offsets of actions 1-4, by ``action - 1``."""
ACTION_ALIASES = {"stay": "noop", "wait": "noop", "north": "up", "south": "down", "west": "left", "east": "right"}
"""Other words a text agent may use for a move; mapped before the action name lookup."""


def shifted(cell: Cell, action: int) -> Cell:
    """The cell one move away from ``cell`` (``cell`` itself for non-move actions)."""
    dr, dc = DELTAS.get(action, (0, 0))
    return (cell[0] + dr, cell[1] + dc)


def neighbours(cell: Cell) -> list[Cell]:
    """The four orthogonal neighbours of ``cell`` (up, down, left, right), possibly out of bounds."""
    r, c = cell
    return [(r + dr, c + dc) for dr, dc in MOVE_OFFSETS]


def in_bounds(cell: Cell, shape: tuple[int, int]) -> bool:
    return 0 <= cell[0] < shape[0] and 0 <= cell[1] < shape[1]


def manhattan(a: Cell, b: Cell) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def resolve_moves(cells: Sequence[Cell], targets: Sequence[Cell]) -> list[bool]:
    """Which agents move from ``cells`` to ``targets``. Agents that want one cell all stay (as lbforaging).

    ``targets[i] == cells[i]`` for agents that do not move, so a standing agent also blocks its
    cell. Targets are assumed free of walls (the action masks guarantee it).
    """
    return [target != cell and targets.count(target) == 1 for cell, target in zip(cells, targets)]


def pad_planes(planes: np.ndarray, radius: int, wall_channel: int = 0) -> np.ndarray:
    """``[C, H, W]`` -> ``[C, H + 2r, W + 2r]``; outside the grid is wall (1 in ``wall_channel``), 0 elsewhere."""
    c, h, w = planes.shape
    padded = np.zeros((c, h + 2 * radius, w + 2 * radius), dtype=planes.dtype)
    padded[wall_channel] = 1.0
    padded[:, radius : radius + h, radius : radius + w] = planes
    return padded


def view_window(padded: np.ndarray, cell: Cell, radius: int) -> np.ndarray:
    """The ``[C, 2r+1, 2r+1]`` window of ``pad_planes(..., radius)`` centred on ``cell``."""
    size = 2 * radius + 1
    return padded[:, cell[0] : cell[0] + size, cell[1] : cell[1] + size]


def char_window(chars: np.ndarray, cell: Cell, radius: int, outside: str = "#") -> list[str]:
    """Rows of the ``(2r+1)``-square character view centred on ``cell``; outside the grid is ``outside``."""
    padded = np.pad(chars, radius, constant_values=outside)
    size = 2 * radius + 1
    return ["".join(row) for row in padded[cell[0] : cell[0] + size, cell[1] : cell[1] + size]]


def sample_cells(rng: np.random.Generator, candidates: Iterable[Cell], n: int) -> list[Cell]:
    """``n`` distinct cells drawn uniformly from ``candidates`` (in their given order) with ``rng``."""
    pool = list(candidates)
    if n > len(pool):
        raise ValueError(f"cannot place {n} objects in {len(pool)} free cells")
    return [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]


def first_step(start: Cell, goals: set[Cell], passable: Callable[[Cell], bool]) -> int | None:
    """First move action of a shortest path from ``start`` into ``goals`` (BFS); NOOP if already there.

    ``passable(cell)`` says whether a cell may be entered. Returns None when no goal is reachable.
    Used by the scripted oracles and subgoal-conditioned baselines.
    """
    if start in goals:
        return NOOP
    first: dict[Cell, int] = {}
    queue: deque[Cell] = deque()
    for action in (UP, DOWN, LEFT, RIGHT):
        nxt = shifted(start, action)
        if nxt not in first and passable(nxt):
            first[nxt] = action
            queue.append(nxt)
    while queue:
        cell = queue.popleft()
        if cell in goals:
            return first[cell]
        for nxt in neighbours(cell):
            if nxt not in first and nxt != start and passable(nxt):
                first[nxt] = first[cell]
                queue.append(nxt)
    return None
