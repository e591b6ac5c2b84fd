"""A Sokoban level as plain data, and its text form.

Positions are ``(row, col)`` tuples of Python ints. The text legend is printable ASCII
(the env's text space is printable ASCII):

====  ================  =========================
ours  also accepted     meaning
====  ================  =========================
``#``                   wall
``_``  ``' '`` ``-``    floor
``O``  ``.``            target
``X``  ``$``            box
``*``                   box on a target
``P``  ``@``            player
``S``  ``+``            player on a target
====  ================  =========================

The second column is the classic XSB notation, so published levels parse as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

Pos = tuple[int, int]

WALL = "#"
FLOOR = "_"
TARGET = "O"
BOX = "X"
BOX_ON_TARGET = "*"
PLAYER = "P"
PLAYER_ON_TARGET = "S"

# cell kinds: the index into KIND_CHARS (text) and into the RGB tile table (render.py)
FLOOR_KIND, WALL_KIND, TARGET_KIND, BOX_KIND, BOX_ON_TARGET_KIND, PLAYER_KIND, PLAYER_ON_TARGET_KIND = range(7)
KIND_CHARS = (FLOOR, WALL, TARGET, BOX, BOX_ON_TARGET, PLAYER, PLAYER_ON_TARGET)

LEGEND = (
    f"{WALL} wall, {FLOOR} floor, {TARGET} target, {BOX} box, {BOX_ON_TARGET} box on target, "
    f"{PLAYER} player, {PLAYER_ON_TARGET} player on target"
)
"""What each character of the text grid means (for prompts and docs)."""

# char -> (is_wall, is_target, has_box, has_player)
_PARSE: dict[str, tuple[bool, bool, bool, bool]] = {
    WALL: (True, False, False, False),
    FLOOR: (False, False, False, False),
    " ": (False, False, False, False),
    "-": (False, False, False, False),
    TARGET: (False, True, False, False),
    ".": (False, True, False, False),
    BOX: (False, False, True, False),
    "$": (False, False, True, False),
    BOX_ON_TARGET: (False, True, True, False),
    PLAYER: (False, False, False, True),
    "@": (False, False, False, True),
    PLAYER_ON_TARGET: (False, True, False, True),
    "+": (False, True, False, True),
}


class LevelFormatError(ValueError):
    """Level text that does not describe a playable Sokoban level."""


@dataclass(frozen=True, eq=False)
class Level:
    """Walls, targets, boxes and the player of one Sokoban position.

    ``walls`` is a read-only ``bool`` array of shape ``(rows, cols)``; cells outside it count
    as walls. ``targets`` and ``boxes`` are sorted tuples of positions, equally many.
    """

    walls: np.ndarray
    targets: tuple[Pos, ...]
    boxes: tuple[Pos, ...]
    player: Pos

    def __post_init__(self) -> None:
        walls = np.array(self.walls, dtype=bool)
        walls.setflags(write=False)
        object.__setattr__(self, "walls", walls)
        object.__setattr__(self, "targets", _sorted_positions(self.targets))
        object.__setattr__(self, "boxes", _sorted_positions(self.boxes))
        object.__setattr__(self, "player", (int(self.player[0]), int(self.player[1])))
        self._validate()

    def _validate(self) -> None:
        if len(self.boxes) != len(self.targets) or not self.boxes:
            raise LevelFormatError(f"a level needs as many boxes as targets (>= 1); got {len(self.boxes)} boxes, {len(self.targets)} targets")
        if len(set(self.boxes)) != len(self.boxes) or len(set(self.targets)) != len(self.targets):
            raise LevelFormatError("two boxes (or two targets) share a cell")
        for what, positions in (("player", [self.player]), ("box", self.boxes), ("target", self.targets)):
            for r, c in positions:
                if not (0 <= r < self.shape[0] and 0 <= c < self.shape[1]) or self.walls[r, c]:
                    raise LevelFormatError(f"{what} at {(r, c)} is on a wall or outside the {self.shape} grid")
        if self.player in self.boxes:
            raise LevelFormatError(f"player and a box share the cell {self.player}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the grid."""
        return int(self.walls.shape[0]), int(self.walls.shape[1])

    @property
    def solved(self) -> bool:
        """Every box is on a target."""
        return self.boxes == self.targets

    def key(self) -> tuple:
        """A hashable identity of the whole position (walls included)."""
        return (self.walls.shape, self.walls.tobytes(), self.targets, self.boxes, self.player)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Level) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def to_text(self) -> str:
        """The grid in our legend, one line per row, no trailing newline."""
        return grid_text(kind_grid(self.walls, self.targets, self.boxes, self.player))

    @classmethod
    def from_text(cls, text: str) -> Level:
        """Parse a grid in our legend or XSB notation; ragged rows are padded with walls."""
        lines = [line.rstrip("\n") for line in text.strip("\n").splitlines()]
        if not lines:
            raise LevelFormatError("empty level text")
        width = max(len(line) for line in lines)
        walls = np.ones((len(lines), width), dtype=bool)
        targets: list[Pos] = []
        boxes: list[Pos] = []
        players: list[Pos] = []
        for r, line in enumerate(lines):
            for c, ch in enumerate(line):
                if ch not in _PARSE:
                    raise LevelFormatError(f"unknown character {ch!r} at row {r}, col {c}; legend: {LEGEND}")
                is_wall, is_target, has_box, has_player = _PARSE[ch]
                walls[r, c] = is_wall
                if is_target:
                    targets.append((r, c))
                if has_box:
                    boxes.append((r, c))
                if has_player:
                    players.append((r, c))
        if len(players) != 1:
            raise LevelFormatError(f"a level needs exactly one player, found {len(players)}")
        return cls(walls=walls, targets=tuple(targets), boxes=tuple(boxes), player=players[0])


def _sorted_positions(positions: Iterable[Pos]) -> tuple[Pos, ...]:
    return tuple(sorted((int(r), int(c)) for r, c in positions))


def kind_grid(walls: np.ndarray, targets: Iterable[Pos], boxes: Iterable[Pos], player: Pos) -> np.ndarray:
    """The ``*_KIND`` of every cell of a position, as an int array shaped like ``walls``."""
    kinds = np.where(walls, WALL_KIND, FLOOR_KIND).astype(np.intp)
    targets = set(targets)
    for pos in targets:
        kinds[pos] = TARGET_KIND
    for pos in boxes:
        kinds[pos] = BOX_ON_TARGET_KIND if pos in targets else BOX_KIND
    kinds[player] = PLAYER_ON_TARGET_KIND if player in targets else PLAYER_KIND
    return kinds


def grid_text(kinds: np.ndarray) -> str:
    """A kind grid in the text legend, one line per row."""
    return "\n".join("".join(KIND_CHARS[k] for k in row) for row in kinds.tolist())
