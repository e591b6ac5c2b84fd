"""Sokoban level generation by reverse play, verified by the optimal solver.

The method of Schrader's gym-sokoban (after Racanière et al., 2017): carve a random room,
put boxes on targets (a solved position), then play the game *backwards*: the player walks
and may pull the box behind it. Reversed, every pull is a push, so the result is solvable.
We then solve it forward to get the optimal length; a candidate that needs no push, or that
the solver cannot finish within its node budget, is rejected and the next candidate is drawn
from the same generator, so a seed always yields the same level.

All randomness comes from the ``numpy.random.Generator`` passed in (the env's ``np_random``),
drawn in fixed-size batches so the stream does not depend on anything but the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hiergym.envs.sokoban.level import Level, Pos
from hiergym.envs.sokoban.solver import search
from hiergym.error import HierGymError

ROOM_WALK_FACTOR = 1.7
"""Room carving walks ``ROOM_WALK_FACTOR * (rows + cols)`` steps (gym-sokoban's choice)."""

TURN_PROBABILITY = 0.35
"""Chance that the room-carving walk (and the reverse-play walk) picks a new direction at each step.

Keeping a direction for a few steps lets the reverse-play player pull a box along a corridor
instead of jiggling it back and forth, which gives levels with longer solutions."""

REVERSE_STEPS_FACTOR = 2
"""Reverse play takes ``REVERSE_STEPS_FACTOR * (rows + cols) * (num_boxes + 1)`` steps by default."""

PULL_PROBABILITY = 0.75
"""Chance that the player pulls the box behind it when it steps away from one."""

REVERSE_WALKS_FACTOR = 4
"""``REVERSE_WALKS_FACTOR * (num_boxes + 1)`` reverse-play walks per candidate room; the
highest-scoring end position is used. More boxes get more and longer walks, so bigger presets
get harder levels while a 1-box room stays easy."""

MAX_SOLVER_EXPANSIONS = 4000
"""Push states the solver may expand on one candidate before it is rejected as too slow."""

MAX_ATTEMPTS = 1000
"""Candidates tried before generation gives up with :class:`LevelGenerationError`."""

MIN_SPARE_FLOOR = 2
"""A room must have at least ``num_boxes + 1 + MIN_SPARE_FLOOR`` floor cells to be used..."""

MIN_FLOOR_FRACTION = 0.3
"""...and at least this share of the cells inside the border, so boxes have room to move."""

_DIRECTIONS: tuple[Pos, ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))

# 3x3 stamps carved along the room walk: a corridor each way, corners and a 2x2 room.
_STAMPS = np.array(
    [
        [[0, 0, 0], [1, 1, 1], [0, 0, 0]],
        [[0, 1, 0], [0, 1, 0], [0, 1, 0]],
        [[0, 0, 0], [1, 1, 0], [0, 1, 0]],
        [[0, 0, 0], [1, 1, 0], [1, 1, 0]],
        [[0, 0, 0], [0, 1, 1], [0, 1, 0]],
    ],
    dtype=bool,
)
_STAMP_OFFSETS = np.array([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)])  # row-major 3x3
_STAMP_MASKS = _STAMPS.reshape(len(_STAMPS), 9)


class LevelGenerationError(HierGymError, RuntimeError):
    """No acceptable level was found within ``MAX_ATTEMPTS`` candidates."""


@dataclass(frozen=True)
class GeneratedLevel:
    """A generated start position with one optimal solution (``len(solution)`` is the optimal length)."""

    level: Level
    solution: list[str]
    attempts: int


def carve_room(rng: np.random.Generator, dim_room: tuple[int, int]) -> np.ndarray:
    """A connected random room: ``True`` marks walls; the border is always wall."""
    rows, cols = dim_room
    n_steps = int(ROOM_WALK_FACTOR * (rows + cols))
    turns = (rng.random(n_steps) < TURN_PROBABILITY).tolist()
    new_dirs = rng.integers(len(_DIRECTIONS), size=n_steps).tolist()
    stamps = rng.integers(len(_STAMPS), size=n_steps)
    r = int(rng.integers(1, rows - 1))
    c = int(rng.integers(1, cols - 1))
    direction = _DIRECTIONS[int(rng.integers(len(_DIRECTIONS)))]
    centres = []
    for step in range(n_steps):
        if turns[step]:
            direction = _DIRECTIONS[new_dirs[step]]
        # keep the stamp centre inside the border; consecutive centres touch, so the room is connected
        r = min(max(r + direction[0], 1), rows - 2)
        c = min(max(c + direction[1], 1), cols - 2)
        centres.append((r, c))
    cells = np.array(centres)[:, None, :] + _STAMP_OFFSETS[None, :, :]  # (steps, 9, 2)
    carved = cells[_STAMP_MASKS[stamps]]
    floor = np.zeros((rows, cols), dtype=bool)
    floor[carved[:, 0], carved[:, 1]] = True
    floor[[0, -1], :] = False
    floor[:, [0, -1]] = False
    return ~floor


@dataclass(frozen=True)
class WalkPlan:
    """The random draws of one reverse-play walk, drawn up front so the walk itself is plain Python."""

    new_dirs: list[int]
    turns: list[bool]
    pulls: list[bool]

    @classmethod
    def draw(cls, rng: np.random.Generator, n_walks: int, n_steps: int) -> list[WalkPlan]:
        """Plans for ``n_walks`` walks of ``n_steps`` with three array draws, not one draw per step."""
        new_dirs = rng.integers(len(_DIRECTIONS), size=(n_walks, n_steps)).tolist()
        turns = (rng.random((n_walks, n_steps)) < TURN_PROBABILITY).tolist()
        pulls = (rng.random((n_walks, n_steps)) < PULL_PROBABILITY).tolist()
        return [cls(*walk) for walk in zip(new_dirs, turns, pulls)]


def reverse_play(walls: np.ndarray, targets: list[Pos], player: Pos, plan: WalkPlan) -> tuple[tuple[Pos, ...], Pos, int]:
    """Walk backwards from the solved position, pulling boxes; returns the best (boxes, player, score).

    "Best" is gym-sokoban's room score: box swaps (how often the pulled box changes) times the
    summed distance of the boxes from their starting targets, so positions that need several
    boxes moved far are preferred. Of equally scored positions the *last* is kept: the player
    has walked away from the box it pulled, so the forward solution must walk back to it.
    Cells are flat indices ``r * cols + c`` here (the wall ring keeps every step in bounds).
    """
    cols = walls.shape[1]
    wall = walls.ravel().tolist()
    offsets = tuple(dr * cols + dc for dr, dc in _DIRECTIONS)
    new_dirs, turns, pulls = plan.new_dirs, plan.turns, plan.pulls
    direction = new_dirs[0]
    origin = {r * cols + c: r * cols + c for r, c in targets}  # box cell -> the target it started on
    displacement = swaps = best_score = 0
    last_pulled = -1
    p = player[0] * cols + player[1]
    best_boxes, best_player = tuple(origin), p
    snapshot_stale = False  # boxes moved since best_boxes was taken
    for step in range(len(new_dirs)):
        if turns[step]:
            direction = new_dirs[step]
        d = offsets[direction]
        if wall[p + d] or p + d in origin:
            direction = new_dirs[step]  # blocked: turn at once instead of waiting
            continue
        behind = p - d
        if pulls[step] and behind in origin:
            start = origin.pop(behind)
            origin[p] = start
            displacement += _manhattan(p, start, cols) - _manhattan(behind, start, cols)
            swaps += start != last_pulled
            last_pulled = start
            snapshot_stale = True
        p += d
        if displacement and swaps * displacement >= best_score:
            best_score = swaps * displacement
            best_player = p
            if snapshot_stale:
                best_boxes, snapshot_stale = tuple(origin), False
    return tuple(sorted(divmod(b, cols) for b in best_boxes)), divmod(best_player, cols), best_score


def _best_of_walks(
    rng: np.random.Generator, walls: np.ndarray, targets: list[Pos], player: Pos, n_steps: int
) -> tuple[tuple[Pos, ...], Pos]:
    """Run ``REVERSE_WALKS_FACTOR * (boxes + 1)`` reverse walks from the solved position; keep the best end."""
    n_walks = REVERSE_WALKS_FACTOR * (len(targets) + 1)
    walks = [reverse_play(walls, targets, player, plan) for plan in WalkPlan.draw(rng, n_walks, n_steps)]
    return max(walks, key=lambda w: w[2])[:2]


def _manhattan(a: int, b: int, cols: int) -> int:
    (ar, ac), (br, bc) = divmod(a, cols), divmod(b, cols)
    return abs(ar - br) + abs(ac - bc)


def generate_level(
    rng: np.random.Generator,
    dim_room: tuple[int, int] = (6, 6),
    num_boxes: int = 1,
    *,
    reverse_steps: int | None = None,
    max_expansions: int = MAX_SOLVER_EXPANSIONS,
) -> GeneratedLevel:
    """Draw candidates from ``rng`` until one needs at least one push and the solver solves it."""
    rows, cols = dim_room
    if reverse_steps is None:
        reverse_steps = REVERSE_STEPS_FACTOR * (rows + cols) * (num_boxes + 1)
    min_floor = max(num_boxes + 1 + MIN_SPARE_FLOOR, MIN_FLOOR_FRACTION * (rows - 2) * (cols - 2))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        walls = carve_room(rng, dim_room)
        floor_cells = np.argwhere(~walls)
        if len(floor_cells) < min_floor:
            continue
        picks = rng.choice(len(floor_cells), size=num_boxes + 1, replace=False)
        player = (int(floor_cells[picks[0]][0]), int(floor_cells[picks[0]][1]))
        targets = [(int(r), int(c)) for r, c in floor_cells[picks[1:]]]
        boxes, player = _best_of_walks(rng, walls, targets, player, reverse_steps)
        level = Level(walls=walls, targets=tuple(targets), boxes=boxes, player=player)
        if level.solved:
            continue
        result = search(level, max_expansions)
        if result.actions:
            return GeneratedLevel(level, result.actions, attempt)
    raise LevelGenerationError(
        f"no solvable, non-trivial {rows}x{cols} level with {num_boxes} boxes in {MAX_ATTEMPTS} candidates; "
        "use fewer boxes or a larger dim_room"
    )
