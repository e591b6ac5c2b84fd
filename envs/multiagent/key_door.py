"""KeyDoor: a two-agent hand-off. One agent fetches a key and unlocks a door the other must pass."""

from __future__ import annotations

from typing import Any

import numpy as np

from hiergym.types import Subgoal

from .base import GridTaskEnv, _check_int
from .grid import Cell, sample_cells
from .subgoals import get_key, next_to, open_door, reach_cell

INTERACT = 5
KEY_DOOR_ACTIONS = ("noop", "up", "down", "left", "right", "interact")
SUCCESS_REWARD = 1.0
MIN_SIZE = 5
N_AGENTS = 2
FETCHER, RUNNER = "agent_0", "agent_1"


class KeyDoorEnv(GridTaskEnv):
    """Long-horizon hand-off between two agents in separate rooms.

    **Description.** A wall splits the ``size x size`` grid into a left room and a right part; a
    second wall splits the right part into an upper room and a lower room, joined only by a
    locked door. ``agent_0`` starts in the left room with the key ``K`` and the lock ``L``;
    ``agent_1`` starts in the upper right room; the goal ``G`` is in the lower right room.
    ``agent_0`` must pick up the key (``interact`` on its cell) and use it on the lock
    (``interact`` standing on ``L``), which opens the door ``D``; then ``agent_1`` walks through
    the door to the goal. Neither agent can do the other's part: the rooms are sealed.

    **Actions.** ``Discrete(6)``: 0 noop, 1 up, 2 down, 3 left, 4 right, 5 interact. Moves into
    walls, the closed door or the other agent are illegal; ``interact`` is legal only on the key
    (picks it up) or on the lock while holding the key with the door closed (opens it).

    **Observations.** Flat float32 ``Box(0, 1)``: planes ``wall, agent, key, lock, door, goal``
    (door = 1 while closed) over the ``(2 view_radius + 1)`` square (outside = wall), own row/col
    (normalised), one-hot agent id, ``has_key``. ``obs_mode="text"``: ``describe``.
    ``state()``: the planes of the whole grid, each agent's row/col/has_key, the time share.

    **Rewards.** Sparse team reward ``+1`` when an agent reaches the goal; each illegal or
    malformed action adds ``invalid_action_penalty`` (default -0.1).

    **Starting state.** Door column, key, lock, both agents and the goal on uniformly random
    free cells of their rooms (``np_random``).

    **Episode end.** Terminated when an agent stands on the goal; truncated after ``max_cycles``.

    **Info.** ``action_mask``, ``admissible_actions``, ``anchor_state`` (agent cells, key holder
    or cell, door state, goal), ``subgoals`` (``agent_0``: ``get_key``, ``open_door``; ``agent_1``:
    ``near_door``, ``reach_goal``), ``subgoals_achieved``, ``won``, ``task``, the action flags.

    **Arguments.** ``size`` (9), ``view_radius`` (2), ``max_cycles`` (100), ``obs_mode``,
    ``render_mode``, ``invalid_action_penalty``.

    **Version history.** v0: initial version.
    """

    metadata = {**GridTaskEnv.metadata, "name": "key_door_v0"}
    ACTIONS = KEY_DOOR_ACTIONS
    CHANNELS = ("wall", "agent", "key", "lock", "door", "goal")
    AGENT_FEATURES = ("has_key",)
    LEGEND = "# wall, . floor, K key, L lock, D closed door, / open door, G goal, A-J agents (you are the centre)"

    def __init__(
        self,
        size: int = 9,
        max_cycles: int = 100,
        **grid_options: Any,
    ):
        _check_int("size", size, MIN_SIZE, None)
        self.key_cell: Cell | None = None
        self.key_holder: str | None = None
        self.lock: Cell = (0, 0)
        self.door: Cell = (0, 0)
        self.goal: Cell = (0, 0)
        self.door_open = False
        super().__init__(n_agents=N_AGENTS, shape=(size, size), max_cycles=max_cycles, **grid_options)

    def status_text(self, agent: str) -> str:
        held = "You hold the key." if self.key_holder == agent and not self.door_open else "You hold no key."
        return f"{held} The door is {'open' if self.door_open else 'closed'}."

    # ----- task hooks ------------------------------------------------------------------------
    def _generate(self) -> None:
        h, w = self.shape
        rng = self.np_random
        split_col, split_row = w // 2, h // 2
        self.walls[:, split_col] = True
        self.walls[split_row, split_col + 1 :] = True
        self.door = (split_row, int(rng.integers(split_col + 1, w)))
        self.walls[self.door] = False
        left = [(r, c) for r in range(h) for c in range(split_col)]
        upper = [(r, c) for r in range(split_row) for c in range(split_col + 1, w)]
        lower = [(r, c) for r in range(split_row + 1, h) for c in range(split_col + 1, w)]
        fetcher, self.key_cell, self.lock = sample_cells(rng, left, 3)
        (runner,) = sample_cells(rng, upper, 1)
        (self.goal,) = sample_cells(rng, lower, 1)
        self.positions = np.array([fetcher, runner], dtype=np.int64)
        self.key_holder = None
        self.door_open = False
        self.task_text = (
            f"{FETCHER} must pick up the key K and use it on the lock L to open the door D; "
            f"then {RUNNER} goes through the door to the goal G. Use 'interact' to pick up and to unlock."
        )

    def _apply(self, chosen: list[int]) -> tuple[float, list[bool]]:
        effective = self._move(chosen)
        for i in (i for i, a in enumerate(chosen) if a == INTERACT):
            agent, here = self.possible_agents[i], tuple(self.positions[i].tolist())
            if here == self.key_cell:
                self.key_cell, self.key_holder = None, agent
            elif here == self.lock and self.key_holder == agent:
                self.door_open = True
            effective[i] = True
        return (SUCCESS_REWARD if self._won() else 0.0), effective

    def _won(self) -> bool:
        return any(tuple(p) == self.goal for p in self.positions.tolist())

    def _obstacle(self, cell: Cell) -> bool:
        return cell == self.door and not self.door_open

    def _task_action_mask(self, i: int, cell: Cell) -> list[int]:
        picks_up = cell == self.key_cell
        unlocks = cell == self.lock and self.key_holder == self.possible_agents[i] and not self.door_open
        return [int(picks_up or unlocks)]

    def _make_subgoals(self, agent: str) -> list[Subgoal]:
        if agent == FETCHER:
            return [get_key(self.key_cell), open_door(self.lock, self.door)]
        return [next_to("near_door", self.door, "the door"), reach_cell("reach_goal", self.goal, "the goal")]

    def _static_planes(self) -> np.ndarray:
        planes = super()._static_planes()
        planes[3][self.lock] = 1.0
        planes[5][self.goal] = 1.0
        return planes

    def _mark_dynamic(self, planes: np.ndarray, offset: int) -> None:
        super()._mark_dynamic(planes, offset)
        if self.key_cell is not None:
            planes[2, self.key_cell[0] + offset, self.key_cell[1] + offset] = 1.0
        if not self.door_open:
            planes[4, self.door[0] + offset, self.door[1] + offset] = 1.0

    def _agent_features(self, i: int) -> list[float]:
        return [float(self.key_holder == self.possible_agents[i] and not self.door_open)]

    def _background(self) -> np.ndarray:
        chars = super()._background()
        if self.key_cell is not None:
            chars[self.key_cell] = "K"
        chars[self.lock] = "L"
        chars[self.door] = "/" if self.door_open else "D"
        chars[self.goal] = "G"
        return chars

    def _anchor_state(self) -> tuple[Any, ...]:
        key = ("key", self.key_holder if self.key_holder is not None else self.key_cell)
        return (*super()._anchor_state(), key, ("door_open", self.door_open), ("goal", self.goal))
