"""Rendering of grid worlds from a character grid: ANSI text, RGB tiles (numpy), a pygame window.

Every env draws the same way: a ``[H, W]`` array of one-character glyphs for the static layer
(walls, goals, items, doors) plus agent positions drawn as coloured discs on top.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TILE_PX = 24
"""Side of one grid cell in the RGB image, in pixels."""
GLYPH_COLORS: dict[str, tuple[int, int, int]] = {
    ".": (30, 30, 36),  # floor
    "#": (110, 110, 120),  # wall
    "G": (220, 190, 40),  # goal cell
    "K": (250, 215, 0),  # key
    "L": (230, 120, 30),  # lock (key hole)
    "D": (120, 70, 30),  # closed door
    "/": (70, 50, 35),  # open door
}
FOOD_COLOR = np.array((40, 170, 60), dtype=np.float32)
FOOD_GLYPHS = "123456789*"
"""Foraging items show their level as a digit (``*`` above 9)."""
AGENT_COLORS = np.array(
    [(230, 60, 60), (60, 120, 230), (240, 240, 240), (200, 80, 200), (60, 200, 200), (240, 160, 40)], dtype=np.uint8
)
AGENT_GLYPHS = "ABCDEFGHIJ"


def agent_glyph(index: int) -> str:
    return AGENT_GLYPHS[index % len(AGENT_GLYPHS)]


def _solid(color) -> np.ndarray:
    return np.broadcast_to(np.asarray(color, dtype=np.uint8), (TILE_PX, TILE_PX, 3)).copy()


def _disc_mask(radius_frac: float) -> np.ndarray:
    centre = (TILE_PX - 1) / 2
    yy, xx = np.mgrid[:TILE_PX, :TILE_PX]
    return (yy - centre) ** 2 + (xx - centre) ** 2 <= (radius_frac * TILE_PX) ** 2


_AGENT_DISC = _disc_mask(0.38)
_FOOD_DISC = _disc_mask(0.30)


def _glyph_tile(glyph: str) -> np.ndarray:
    if glyph in FOOD_GLYPHS:
        tile = _solid(GLYPH_COLORS["."])
        level = FOOD_GLYPHS.index(glyph) + 1
        shade = np.clip(FOOD_COLOR * (0.5 + 0.05 * level), 0, 255).astype(np.uint8)
        tile[_FOOD_DISC] = shade
        return tile
    return _solid(GLYPH_COLORS.get(glyph, GLYPH_COLORS["."]))


_TILE_CACHE: dict[str, np.ndarray] = {}


def tile(glyph: str) -> np.ndarray:
    """The ``[TILE_PX, TILE_PX, 3]`` uint8 image of a static glyph (cached)."""
    if glyph not in _TILE_CACHE:
        _TILE_CACHE[glyph] = _glyph_tile(glyph)
    return _TILE_CACHE[glyph]


def render_ansi(chars: np.ndarray, status: str = "") -> str:
    """The grid as lines of text (agents already drawn into ``chars``), plus a status line."""
    grid = "\n".join("".join(row) for row in chars)
    return f"{grid}\n{status}" if status else grid


def render_rgb(background: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``[H * TILE_PX, W * TILE_PX, 3]`` uint8 image: glyph tiles, agents as coloured discs."""
    glyphs = sorted(set(background.ravel().tolist()))
    tiles = np.stack([tile(g) for g in glyphs])
    codes = np.searchsorted(np.array(glyphs), background)
    h, w = background.shape
    img = tiles[codes].transpose(0, 2, 1, 3, 4).reshape(h * TILE_PX, w * TILE_PX, 3)
    for i, (r, c) in enumerate(positions):
        cell = img[r * TILE_PX : (r + 1) * TILE_PX, c * TILE_PX : (c + 1) * TILE_PX]
        cell[_AGENT_DISC] = AGENT_COLORS[i % len(AGENT_COLORS)]
    return img


class PygameWindow:
    """A window that shows RGB frames (``render_mode="human"``); pygame is imported on first use."""

    def __init__(self, title: str, fps: int):
        import pygame  # lazy: only human rendering needs it

        self._pygame = pygame
        self._fps = fps
        self._title = title
        self._screen: Any = None
        self._clock = pygame.time.Clock()

    def show(self, frame: np.ndarray) -> None:
        pg = self._pygame
        if self._screen is None:
            pg.init()
            pg.display.set_caption(self._title)
            self._screen = pg.display.set_mode((frame.shape[1], frame.shape[0]))
        pg.event.pump()
        self._screen.blit(pg.surfarray.make_surface(frame.transpose(1, 0, 2)), (0, 0))
        pg.display.flip()
        self._clock.tick(self._fps)

    def close(self) -> None:
        if self._screen is not None:
            self._pygame.display.quit()
            self._screen = None
