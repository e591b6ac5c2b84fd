"""The Sokoban solver is move-optimal: hand-counted levels and a brute-force BFS oracle."""

from collections import deque

import numpy as np
import pytest

from hiergym.envs.sokoban import Level, LevelFormatError, search, solve
from hiergym.envs.sokoban.generator import generate_level
from hiergym.envs.sokoban.solver import DELTAS

# (level, optimal number of moves counted by hand)
HAND_LEVELS = [
    pytest.param("#######\n#P_X_O#\n#######", 3, id="walk-then-push-twice"),
    pytest.param("#######\n#O_XP_#\n#######", 2, id="push-left-twice"),
    # the player stands on the wrong side: walk round the box (4 moves), then 2 pushes
    pytest.param("#######\n#_____#\n#OPX__#\n#_____#\n#######", 6, id="walk-round-the-box"),
    # two boxes: 3 moves for the first, walk back left-left-down (3), push twice (2)
    pytest.param("#######\n#P_X_O#\n#__X_O#\n#######", 8, id="two-boxes"),
    # XSB notation parses too; a box already sits on the second target
    pytest.param("#######\n#@$ .*#\n#######", 2, id="xsb-notation"),
    pytest.param("#####\n#P*_#\n#####", 0, id="already-solved"),
]

UNSOLVABLE = [
    pytest.param("#####\n#X__#\n#_P_#\n#__O#\n#####", id="box-in-corner"),
    pytest.param("#######\n#_X___#\n#_____#\n#_P_O_#\n#######", id="box-against-wall-target-elsewhere"),
    # the only box is walled in: the player cannot reach any side of it to push
    pytest.param("#######\n#P#O__#\n#_#X#_#\n#__#__#\n#######", id="player-sealed-off"),
]


def replay(level: Level, actions: list[str]) -> tuple[tuple[int, int], frozenset]:
    """Play ``actions`` by the rules (blocked moves do nothing); returns (player, boxes)."""
    walls, boxes, (r, c) = level.walls, set(level.boxes), level.player
    for a in actions:
        dr, dc = DELTAS[a]
        nr, nc = r + dr, c + dc
        if walls[nr, nc]:
            continue
        if (nr, nc) in boxes:
            if walls[nr + dr, nc + dc] or (nr + dr, nc + dc) in boxes:
                continue
            boxes.remove((nr, nc))
            boxes.add((nr + dr, nc + dc))
        r, c = nr, nc
    return (r, c), frozenset(boxes)


def brute_force_length(level: Level, limit: int = 200_000) -> int | None:
    """Breadth-first search over every (player, boxes) state: the true optimal move count."""
    start = (level.player, frozenset(level.boxes))
    targets = frozenset(level.targets)
    seen = {start}
    queue = deque([(start, 0)])
    while queue:
        (player, boxes), depth = queue.popleft()
        if boxes == targets:
            return depth
        for dr, dc in DELTAS.values():
            nxt = (player[0] + dr, player[1] + dc)
            if level.walls[nxt]:
                continue
            new_boxes = boxes
            if nxt in boxes:
                beyond = (nxt[0] + dr, nxt[1] + dc)
                if level.walls[beyond] or beyond in boxes:
                    continue
                new_boxes = boxes - {nxt} | {beyond}
            state = (nxt, new_boxes)
            if state not in seen:
                seen.add(state)
                queue.append((state, depth + 1))
        assert len(seen) < limit, "oracle state space too large for a unit test"
    return None


@pytest.mark.parametrize(("text", "optimal"), HAND_LEVELS)
def test_solver_finds_hand_counted_optimum(text, optimal):
    level = Level.from_text(text)
    actions = solve(level)
    assert actions is not None and len(actions) == optimal
    assert replay(level, actions)[1] == frozenset(level.targets)
    assert brute_force_length(level) == optimal


@pytest.mark.parametrize("text", UNSOLVABLE)
def test_solver_returns_none_when_unsolvable(text):
    level = Level.from_text(text)
    assert brute_force_length(level) is None
    assert solve(text) is None


def test_budget_exhaustion_is_reported_apart_from_unsolvable():
    level = Level.from_text("#######\n#P_X_O#\n#__X_O#\n#######")
    result = search(level, max_expansions=1)
    assert result.actions is None and result.budget_exhausted
    assert not search(Level.from_text("#####\n#X__#\n#_P_#\n#__O#\n#####")).budget_exhausted


def _scrambled_levels(n: int):
    """Generated rooms with the boxes moved to random floor cells: solvable and unsolvable mixes."""
    rng = np.random.default_rng(123)
    for seed in range(n):
        base = generate_level(np.random.default_rng(seed), (6, 6), 1 + seed % 2).level
        floor = [tuple(map(int, p)) for p in np.argwhere(~base.walls)]
        cells = rng.choice(len(floor), size=len(base.boxes) + 1, replace=False)
        yield Level(walls=base.walls, targets=base.targets, boxes=[floor[i] for i in cells[1:]], player=floor[cells[0]])


def test_solver_matches_brute_force_on_random_levels():
    solved = unsolvable = 0
    for level in _scrambled_levels(60):
        actions = solve(level)
        expected = brute_force_length(level)
        if expected is None:
            assert actions is None, level.to_text()
            unsolvable += 1
        else:
            assert actions is not None and len(actions) == expected, level.to_text()
            assert replay(level, actions)[1] == frozenset(level.targets)
            solved += 1
    assert solved > 10 and unsolvable > 5  # the sample really exercises both outcomes


def test_solver_is_deterministic():
    level = Level.from_text("#######\n#_____#\n#OPX__#\n#_____#\n#######")
    assert solve(level) == solve(level.to_text())


def test_level_text_round_trip_and_bad_text():
    text = "######\n#P_X_#\n#__*O#\n######"
    level = Level.from_text(text)
    assert level.to_text() == text and Level.from_text(level.to_text()) == level
    on_target = Level.from_text("######\n#+$ *#\n######")  # XSB: player on a target
    assert on_target.player in on_target.targets and "S" in on_target.to_text()
    with pytest.raises(LevelFormatError, match="exactly one player"):
        Level.from_text("#####\n#_XO#\n#####")
    with pytest.raises(LevelFormatError, match="unknown character"):
        Level.from_text("#####\n#PX?#\n#####")
    with pytest.raises(LevelFormatError, match="as many boxes as targets"):
        Level.from_text("#####\n#PXX#\n#O__#\n#####")
