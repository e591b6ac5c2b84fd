"""Optimal Sokoban solver: fewest moves (walks plus pushes), for level checks and expert demos.

A* over *push states*: a state is the player cell plus the sorted box cells, and an edge is
"walk to the cell behind a box (shortest path) and push it once", costing walk length + 1.
Every move sequence is a chain of such edges, so the first goal state popped is move-optimal.

Pruning that never cuts an optimal solution:

- dead squares: a box on a cell from which no pulls lead back to a target can never be
  solved (computed once per level by pulling boxes backwards from every target);
- 2x2 freeze: a push that makes a 2x2 block of walls and boxes with a box off target.

Heuristic: the sum over boxes of the push distance to the nearest target, ignoring the other
boxes. A push moves one box by one cell, so the heuristic changes by at most 1 per edge cost
of at least 1: it is consistent, and A* returns an optimal solution.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from hiergym.envs.sokoban.level import Level, Pos

ACTIONS: tuple[str, ...] = ("up", "down", "left", "right")
"""The four commands, in the order the solver tries them."""

DELTAS: dict[str, Pos] = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
"""Row/column change of each command."""

_BLOCKED = -2  # reachability marker for walls and boxes
_UNSEEN = -1


@dataclass(frozen=True)
class SearchResult:
    """Outcome of :func:`search`: ``actions`` is None when no solution was found.

    ``budget_exhausted`` tells "gave up after ``max_expansions``" from "proved unsolvable".
    """

    actions: list[str] | None
    expansions: int
    budget_exhausted: bool = False


class _Grid:
    """The static part of a level on a flat grid padded with a wall ring (cell = r * width + c)."""

    def __init__(self, level: Level):
        rows, cols = level.shape
        self.width = cols + 2
        size = (rows + 2) * self.width
        self.floor = bytearray(size)
        for r, c in zip(*np.nonzero(~level.walls)):
            self.floor[self.cell((int(r), int(c)))] = 1
        self.steps = (-self.width, self.width, -1, 1)  # aligned with ACTIONS
        self.targets = frozenset(self.cell(p) for p in level.targets)
        self.empty_reach = [_UNSEEN if f else _BLOCKED for f in self.floor]
        self.push_distance = self._push_distances()

    def cell(self, pos: Pos) -> int:
        return (pos[0] + 1) * self.width + pos[1] + 1

    def _push_distances(self) -> list[int]:
        """Fewest pushes from each cell to some target ignoring other boxes; -1 marks a dead square."""
        dist = [-1] * len(self.floor)
        frontier = list(self.targets)
        for t in frontier:
            dist[t] = 0
        floor = self.floor
        for box in frontier:  # the list grows while we walk it: a BFS queue
            for s in self.steps:  # pull the box one cell towards s: player stands at box+s, steps to box+2s
                prev = box + s
                if floor[prev] and floor[prev + s] and dist[prev] < 0:
                    dist[prev] = dist[box] + 1
                    frontier.append(prev)
        return dist

    def reach(self, start: int, boxes: tuple[int, ...]) -> list[int]:
        """Walking distance from ``start`` to every cell with boxes as obstacles (<0: unreachable)."""
        dist = self.empty_reach[:]
        for b in boxes:
            dist[b] = _BLOCKED
        dist[start] = 0
        frontier = [start]
        steps = self.steps
        for cell in frontier:
            d = dist[cell] + 1
            for s in steps:
                n = cell + s
                if dist[n] == _UNSEEN:
                    dist[n] = d
                    frontier.append(n)
        return dist

    def walk(self, start: int, goal: int, boxes: tuple[int, ...]) -> list[str]:
        """A shortest list of commands that walks the player from ``start`` to ``goal``."""
        dist = self.reach(start, boxes)
        path: list[str] = []
        cell = goal
        while cell != start:  # step back along decreasing distance
            for action, s in zip(ACTIONS, self.steps):
                if dist[cell - s] == dist[cell] - 1 and dist[cell - s] >= 0:
                    path.append(action)
                    cell -= s
                    break
        path.reverse()
        return path

    def frozen(self, box: int, boxes: frozenset[int]) -> bool:
        """True if ``box`` completes a 2x2 block of walls/boxes that holds a box off target."""
        floor = self.floor
        for a in (-1, 1):
            for b in (-self.width, self.width):
                block = (box, box + a, box + b, box + a + b)
                if all(not floor[c] or c in boxes for c in block) and any(
                    c in boxes and c not in self.targets for c in block
                ):
                    return True
        return False


def search(level: Level, max_expansions: int | None = None) -> SearchResult:
    """Find a move-optimal solution of ``level``; stop after ``max_expansions`` push states.

    Deterministic: ties are broken by insertion order, never by hashing.
    """
    grid = _Grid(level)
    start_boxes = tuple(sorted(grid.cell(b) for b in level.boxes))
    start = (grid.cell(level.player), start_boxes)
    push_distance = grid.push_distance
    if any(push_distance[b] < 0 for b in start_boxes):
        return SearchResult(None, 0)
    targets = grid.targets
    h0 = sum(push_distance[b] for b in start_boxes)
    best = {start: 0}
    parent: dict[tuple, tuple] = {}
    heap = [(h0, 0, 0, 0, h0, start)]  # (f, -g: deeper first on ties, insertion tie, g, h, state)
    tie = 0
    expansions = 0
    while heap:
        _, _, _, g, h, state = heapq.heappop(heap)
        if best[state] < g:
            continue  # stale entry: a cheaper path to this state was queued later
        player, boxes = state
        if h == 0 and targets.issuperset(boxes):
            return SearchResult(_replay(grid, start, state, parent), expansions)
        if max_expansions is not None and expansions >= max_expansions:
            return SearchResult(None, expansions, budget_exhausted=True)
        expansions += 1
        reach = grid.reach(player, boxes)
        box_set = frozenset(boxes)
        for i, box in enumerate(boxes):
            for s in grid.steps:
                to = box + s
                if reach[box - s] < 0 or push_distance[to] < 0 or to in box_set:
                    continue
                new_set = box_set - {box} | {to}
                if grid.frozen(to, new_set):
                    continue
                new_boxes = tuple(sorted(boxes[:i] + (to,) + boxes[i + 1 :]))
                new_state = (box, new_boxes)
                new_g = g + reach[box - s] + 1
                if new_g < best.get(new_state, new_g + 1):
                    best[new_state] = new_g
                    parent[new_state] = (state, box - s, s)
                    new_h = h - push_distance[box] + push_distance[to]
                    tie += 1
                    heapq.heappush(heap, (new_g + new_h, -new_g, tie, new_g, new_h, new_state))
    return SearchResult(None, expansions)


def _replay(grid: _Grid, start: tuple, goal: tuple, parent: dict[tuple, tuple]) -> list[str]:
    """Turn the chain of push edges ending in ``goal`` into the full list of commands."""
    edges = []
    state = goal
    while state != start:
        prev, push_from, step = parent[state]
        edges.append((prev, push_from, step))
        state = prev
    actions: list[str] = []
    for (player, boxes), push_from, step in reversed(edges):
        actions += grid.walk(player, push_from, boxes)
        actions.append(ACTIONS[grid.steps.index(step)])
    return actions


def solve(level: Level | str, max_expansions: int | None = None) -> list[str] | None:
    """A move-optimal list of commands ("up", "down", "left", "right") that solves ``level``.

    ``level`` is a :class:`Level` or its text (our legend or XSB). Returns ``[]`` for a solved
    level and ``None`` when there is no solution (or none within ``max_expansions`` push states).
    """
    if isinstance(level, str):
        level = Level.from_text(level)
    return search(level, max_expansions).actions
