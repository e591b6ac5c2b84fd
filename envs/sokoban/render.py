"""RGB frames of Sokoban positions by numpy tile blitting.

Tiles are drawn once, in code (no image files), into one ``(n_tiles, T, T, 3)`` uint8 array;
a frame is ``tiles[tile_ids]`` rearranged into ``(rows * T, cols * T, 3)``: one fancy-index
and one reshape per frame, no per-cell Python loop.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hiergym.envs.sokoban.level import Pos

TILE_SIZE = 16
"""Pixels per grid cell (gym-sokoban's frame scale)."""

# tile ids, one per cell kind
FLOOR_ID, WALL_ID, TARGET_ID, BOX_ID, BOX_ON_TARGET_ID, PLAYER_ID, PLAYER_ON_TARGET_ID = range(7)

FLOOR_RGB = (32, 32, 40)
WALL_RGB = (150, 70, 45)
MORTAR_RGB = (95, 55, 45)
TARGET_RGB = (230, 60, 60)
BOX_RGB = (215, 170, 70)
BOX_EDGE_RGB = (120, 85, 30)
BOX_ON_TARGET_RGB = (80, 190, 90)
PLAYER_RGB = (70, 140, 240)


def _floor() -> np.ndarray:
    return np.broadcast_to(np.array(FLOOR_RGB, np.uint8), (TILE_SIZE, TILE_SIZE, 3)).copy()


def _wall() -> np.ndarray:
    tile = np.broadcast_to(np.array(WALL_RGB, np.uint8), (TILE_SIZE, TILE_SIZE, 3)).copy()
    half = TILE_SIZE // 2
    tile[::half, :] = MORTAR_RGB  # brick rows
    tile[:half, half - 1] = MORTAR_RGB  # staggered joints
    tile[half:, 0] = MORTAR_RGB
    return tile


def _target(base: np.ndarray) -> np.ndarray:
    tile = base.copy()
    lo, hi = TILE_SIZE // 4, TILE_SIZE - TILE_SIZE // 4 - 1
    tile[lo, lo : hi + 1] = tile[hi, lo : hi + 1] = TARGET_RGB
    tile[lo : hi + 1, lo] = tile[lo : hi + 1, hi] = TARGET_RGB
    return tile


def _box(fill: tuple[int, int, int]) -> np.ndarray:
    tile = _floor()
    inner = slice(1, TILE_SIZE - 1)
    tile[inner, inner] = BOX_EDGE_RGB
    tile[2:-2, 2:-2] = fill
    idx = np.arange(2, TILE_SIZE - 2)
    tile[idx, idx] = tile[idx, TILE_SIZE - 1 - idx] = BOX_EDGE_RGB  # the crate's cross
    return tile


def _player(base: np.ndarray) -> np.ndarray:
    tile = base.copy()
    yy, xx = np.mgrid[:TILE_SIZE, :TILE_SIZE]
    centre = (TILE_SIZE - 1) / 2
    tile[(yy - centre) ** 2 + (xx - centre) ** 2 <= (TILE_SIZE * 0.3) ** 2] = PLAYER_RGB
    return tile


@lru_cache(maxsize=1)
def tiles() -> np.ndarray:
    """All tiles, indexed by the ``*_ID`` constants; read-only, built on first use."""
    floor = _floor()
    target = _target(floor)
    out = np.stack(
        [floor, _wall(), target, _box(BOX_RGB), _box(BOX_ON_TARGET_RGB), _player(floor), _player(target)]
    )
    out.setflags(write=False)
    return out


def base_ids(walls: np.ndarray, targets: tuple[Pos, ...]) -> np.ndarray:
    """Tile ids of the static layer (walls, floor, targets) of a level."""
    ids = np.where(walls, WALL_ID, FLOOR_ID).astype(np.intp)
    for r, c in targets:
        ids[r, c] = TARGET_ID
    return ids


def frame(base: np.ndarray, targets: frozenset[Pos], boxes: set[Pos], player: Pos) -> np.ndarray:
    """The ``(rows * TILE_SIZE, cols * TILE_SIZE, 3)`` uint8 image of one position."""
    ids = base.copy()
    for pos in boxes:
        ids[pos] = BOX_ON_TARGET_ID if pos in targets else BOX_ID
    ids[player] = PLAYER_ON_TARGET_ID if player in targets else PLAYER_ID
    rows, cols = ids.shape
    return tiles()[ids].transpose(0, 2, 1, 3, 4).reshape(rows * TILE_SIZE, cols * TILE_SIZE, 3)
