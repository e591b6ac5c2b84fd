"""Pure grid helpers of the multi-agent envs, against hand-worked cases."""

import numpy as np
import pytest

from hiergym.envs.multiagent.grid import (
    DOWN,
    LEFT,
    NOOP,
    RIGHT,
    UP,
    char_window,
    first_step,
    pad_planes,
    resolve_moves,
    sample_cells,
    shifted,
    view_window,
)
from hiergym.envs.multiagent.render import TILE_PX, render_ansi, render_rgb


def test_shifted_moves_one_cell_and_noop_stays():
    assert shifted((2, 2), UP) == (1, 2)
    assert shifted((2, 2), DOWN) == (3, 2)
    assert shifted((2, 2), LEFT) == (2, 1)
    assert shifted((2, 2), RIGHT) == (2, 3)
    assert shifted((2, 2), NOOP) == (2, 2)


def test_resolve_moves_contested_cell_nobody_moves():
    cells = [(0, 0), (0, 2), (3, 3)]
    targets = [(0, 1), (0, 1), (3, 4)]  # agents 0 and 1 both want (0, 1)
    assert resolve_moves(cells, targets) == [False, False, True]


def test_resolve_moves_standing_agent_blocks_its_cell():
    cells = [(1, 1), (1, 2)]
    targets = [(1, 2), (1, 2)]  # agent 1 stays where agent 0 wants to go
    assert resolve_moves(cells, targets) == [False, False]


def test_view_window_pads_outside_as_wall():
    planes = np.zeros((2, 3, 3), dtype=np.float32)
    planes[1, 0, 0] = 1.0
    padded = pad_planes(planes, radius=1)
    window = view_window(padded, (0, 0), radius=1)
    assert window.shape == (2, 3, 3)
    np.testing.assert_array_equal(window[0], [[1, 1, 1], [1, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(window[1], [[0, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_char_window_matches_view_window():
    chars = np.array([list("ab"), list("cd")])
    assert char_window(chars, (1, 1), 1) == ["ab#", "cd#", "###"]


def test_first_step_follows_a_shortest_path_around_walls():
    walls = {(0, 1), (1, 1)}  # a wall between (0,0) and (0,2); the way round is via row 2

    def passable(c):
        return 0 <= c[0] < 3 and 0 <= c[1] < 3 and c not in walls

    assert first_step((0, 0), {(0, 2)}, passable) == DOWN
    assert first_step((0, 2), {(0, 2)}, passable) == NOOP
    assert first_step((0, 0), {(5, 5)}, passable) is None


def test_sample_cells_distinct_and_seeded():
    cells = [(r, c) for r in range(3) for c in range(3)]
    a = sample_cells(np.random.default_rng(7), cells, 5)
    assert a == sample_cells(np.random.default_rng(7), cells, 5)
    assert len(set(a)) == 5
    with pytest.raises(ValueError, match="cannot place 10"):
        sample_cells(np.random.default_rng(0), cells, 10)


def test_render_rgb_shape_and_agent_colour():
    background = np.array([list(".#"), list("G.")])
    img = render_rgb(background, np.array([[1, 1]]))
    assert img.shape == (2 * TILE_PX, 2 * TILE_PX, 3) and img.dtype == np.uint8
    centre = TILE_PX + TILE_PX // 2
    assert tuple(img[centre, centre]) != tuple(img[TILE_PX // 2, TILE_PX // 2])  # agent disc drawn
    assert render_ansi(background, "s") == ".#\nG.\ns"
