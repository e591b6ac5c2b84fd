"""Text and RGB pictures of Sokoban positions, kept up to date cell by cell.

Tiles are drawn once, in code (no image files), into one ``(n_kinds, T, T, 3)`` uint8 array
indexed by cell kind. A full frame is ``tiles[kinds]`` rearranged into ``(rows * T, cols * T,
3)`` (one fancy-index, one reshape); after a move, :class:`Canvas` re-blits only the two or
three cells that changed, so a step costs a few small copies, not a redraw.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hiergym.envs.sokoban.level import KIND_CHARS, Pos

TILE_SIZE = 16
"""Pixels per grid cell (gym-sokoban's frame scale)."""

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
    """All tiles, indexed by the level's ``*_KIND`` constants; read-only, built on first use."""
    floor = _floor()
    target = _target(floor)
    out = np.stack(
        [floor, _wall(), target, _box(BOX_RGB), _box(BOX_ON_TARGET_RGB), _player(floor), _player(target)]
    )
    out.setflags(write=False)
    return out


def full_frame(kinds: np.ndarray) -> np.ndarray:
    """The ``(rows * TILE_SIZE, cols * TILE_SIZE, 3)`` uint8 image of a kind grid."""
    rows, cols = kinds.shape
    return tiles()[kinds].transpose(0, 2, 1, 3, 4).reshape(rows * TILE_SIZE, cols * TILE_SIZE, 3)


class Canvas:
    """The text grid and (when ``with_image``) the RGB image of one position, updated per cell."""

    def __init__(self, kinds: np.ndarray, *, with_image: bool):
        self._chars = [[KIND_CHARS[k] for k in row] for row in kinds.tolist()]
        self._image = full_frame(kinds) if with_image else None

    def set(self, pos: Pos, kind: int) -> None:
        """Redraw one cell as ``kind`` in the text grid and, when kept, the image."""
        r, c = pos
        self._chars[r][c] = KIND_CHARS[kind]
        if self._image is not None:
            self._image[r * TILE_SIZE : (r + 1) * TILE_SIZE, c * TILE_SIZE : (c + 1) * TILE_SIZE] = tiles()[kind]

    def text(self) -> str:
        """The grid as lines of characters."""
        return "\n".join(map("".join, self._chars))

    def image(self) -> np.ndarray:
        """A copy of the image, so observations handed out never change afterwards."""
        if self._image is None:
            raise RuntimeError("this Canvas keeps no image: create it with with_image=True")
        return self._image.copy()
