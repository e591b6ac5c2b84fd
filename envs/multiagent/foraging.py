"""Level-based foraging (after Albrecht & Ramamoorthy 2013 and the ``lbforaging`` package), team reward."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from hiergym.error import EnvSpecError
from hiergym.types import Subgoal

from .base import GridTaskEnv, _check_int
from .grid import Cell, manhattan, neighbours, sample_cells
from .render import FOOD_GLYPHS
from .subgoals import load_item, next_to

LOAD = 5
FORAGING_ACTIONS = ("noop", "up", "down", "left", "right", "load")
MIN_SIZE = 5
FOOD_LEVEL_SUM_OF = 3
"""Like lbforaging: a food's level is at most the sum of the ``3`` lowest player levels."""
FOOD_CLEARANCE = 2
"""Like lbforaging: no two items within Chebyshev distance 1 or on one row/column within distance 2."""
ITEM_FOOTPRINT = 9 + 4
"""Interior cells one item rules out for the others (its 3x3 block and 4 cells 2 away on its row and
column); ``n_food`` is capped so that random placement can never run out of room (lbforaging
instead silently spawns fewer items)."""


class ForagingEnv(GridTaskEnv):
    """Level-based foraging: agents with levels load items together.

    **Description.** ``n_agents`` agents with levels in ``[1, max_player_level]`` and ``n_food``
    items on a ``size x size`` grid. An item is loaded (and removed) when the agents standing
    next to it (4-neighbourhood) that choose ``load`` in the same step have levels summing to at
    least the item's level. Items with high levels need several agents at once.

    **Actions.** ``Discrete(6)``: 0 noop, 1 up, 2 down, 3 left, 4 right, 5 load (text mode: the names).
    Moves into the border, an item or an agent's current cell are illegal, and ``load`` is legal
    only next to an item (``infos[agent]["action_mask"]``; as lbforaging's valid actions, except that
    lbforaging also lets an agent follow another into the cell it leaves).

    **Observations.** Flat float32 ``Box(0, 1)``: planes ``wall, agent, agent_level, food_level``
    (levels divided by their maxima) over the ``(2 view_radius + 1)`` square (outside = wall),
    own row/col (normalised), one-hot agent id, own level. ``obs_mode="text"``: ``describe``.
    ``state()``: the planes of the whole grid, each agent's row/col/level, the elapsed time share.

    **Rewards.** Team reward: loading an item of level ``l`` gives ``l / (sum of all item levels)``,
    so a full episode sums to 1. This is the sum over agents of lbforaging's normalised
    per-agent rewards (``level_i * l / (sum of loader levels * total item level)``). Each
    illegal or malformed action adds ``invalid_action_penalty`` (default -0.1).

    **Starting state.** As lbforaging: agents on random cells with random levels; items away from
    the border and from each other, level uniform in ``[1, sum of the 3 lowest agent levels]``
    (``force_coop=True``: exactly that sum, so the weakest agents must cooperate).

    **Episode end.** Terminated when every item is loaded; truncated after ``max_cycles`` steps.

    **Info.** ``action_mask``, ``admissible_actions``, ``anchor_state`` (agent cells and levels,
    remaining items), ``subgoals`` (per agent and item: ``near_item_i``, ``load_item_i``),
    ``subgoals_achieved``, ``won``, ``task``, the action flags.

    **Arguments.** ``n_agents`` (2), ``n_food`` (2), ``size`` (8), ``max_player_level`` (2),
    ``force_coop`` (False), ``view_radius`` (2), ``max_cycles`` (50), ``obs_mode``, ``render_mode``,
    ``invalid_action_penalty``.

    **Version history.** v0: initial version.
    """

    metadata = {**GridTaskEnv.metadata, "name": "foraging_v0"}
    ACTIONS = FORAGING_ACTIONS
    CHANNELS = ("wall", "agent", "agent_level", "food_level")
    AGENT_FEATURES = ("level",)
    STATIC_AGENT_FEATURES = True  # levels are drawn by reset
    LEGEND = "# wall, . floor, 1-9 item of that level (* above 9), A-J agents (you are the centre)"

    def __init__(
        self,
        n_agents: int = 2,
        n_food: int = 2,
        size: int = 8,
        max_player_level: int = 2,
        force_coop: bool = False,
        max_cycles: int = 50,
        **grid_options: Any,
    ):
        _check_int("size", size, MIN_SIZE, None)
        _check_int("n_food", n_food, 1, None)
        _check_int("max_player_level", max_player_level, 1, None)
        n_agents_int = n_agents if isinstance(n_agents, int) else 0
        fit = max((size - 2) ** 2 - n_agents_int - 1, -1) // ITEM_FOOTPRINT + 1
        if n_food > fit:
            raise EnvSpecError("n_food", n_food, f"at most {fit} items on a {size}x{size} grid with {n_agents} agents")
        self.n_food = n_food
        self.max_player_level = max_player_level
        self.force_coop = bool(force_coop)
        self.levels = np.ones(n_agents, dtype=np.int64)
        self.food_cells: list[Cell] = []
        self.food_levels: list[int] = []
        self.food_present = np.zeros(n_food, dtype=bool)
        self._loaders: list[tuple[str, ...]] = []
        self._items_by_cell: dict[Cell, int] = {}
        self._subgoal_lookup: dict[str, tuple[list[Subgoal], dict[Cell, list[tuple[int, str]]], list[Any]]] = {}
        """Per agent, from ``_make_subgoals``: its list, ``near_item`` (list position, id) by cell,
        ``load_item`` (list position, id, item)."""
        self.max_food_level = max_player_level * min(n_agents, FOOD_LEVEL_SUM_OF)
        super().__init__(n_agents=n_agents, shape=(size, size), max_cycles=max_cycles, **grid_options)
        self._all_cells = [(r, c) for r in range(size) for c in range(size)]
        self._interior = [(r, c) for r in range(1, size - 1) for c in range(1, size - 1)]

    # ----- public state accessors --------------------------------------------------------
    def loaders_of(self, item: int) -> tuple[str, ...]:
        """Agents that loaded ``item`` (empty while it is still on the grid)."""
        return self._loaders[item]

    def item_at(self, cell: Cell) -> int | None:
        """Index of the item on ``cell``, None if there is none."""
        return self._items_by_cell.get(cell)

    def status_text(self, agent: str) -> str:
        left = int(self.food_present.sum())
        return f"Your level is {self.levels[self.index(agent)]}. Items left on the grid: {left} of {self.n_food}."

    # ----- task hooks ------------------------------------------------------------------------
    def _generate(self) -> None:
        h, w = self.shape
        rng = self.np_random
        cells = sample_cells(rng, self._all_cells, self.n_agents)
        self.positions = np.array(cells, dtype=np.int64)
        self.levels = rng.integers(1, self.max_player_level + 1, size=self.n_agents)
        top = int(np.sort(self.levels)[:FOOD_LEVEL_SUM_OF].sum())
        # candidates in row-major order, minus agents and the cells not _apart from a placed item
        self.food_cells, taken = [], set(cells)
        for _ in range(self.n_food):
            self.food_cells += sample_cells(rng, [cell for cell in self._interior if cell not in taken], 1)
            taken.update(_too_close(self.food_cells[-1]))
        low = top if self.force_coop else 1
        self._set_items(self.food_cells, [int(v) for v in rng.integers(low, top + 1, size=self.n_food)])
        self.task_text = (
            f"Load all {self.n_food} items. Agents next to an item that choose 'load' together load it "
            "if their levels add up to at least the item's level."
        )

    def _set_items(self, cells: list[Cell], levels: list[int]) -> None:
        """Put items of ``levels`` on ``cells`` (all present, none loaded yet)."""
        self.food_cells, self.food_levels = list(cells), list(levels)
        self.food_present = np.ones(len(cells), dtype=bool)
        self._loaders = [()] * len(cells)
        self._items_by_cell = {cell: item for item, cell in enumerate(self.food_cells)}

    def _apply(self, chosen: list[int]) -> tuple[float, list[bool]]:
        effective = self._move(chosen)
        loading = [i for i, a in enumerate(chosen) if a == LOAD]
        if not loading:
            return 0.0, effective
        reward, total, levels = 0.0, float(sum(self.food_levels)), self.levels.tolist()
        cells = list(map(tuple, self.positions.tolist()))
        for item in sorted({self.item_at(n) for i in loading for n in neighbours(cells[i])} - {None}):
            cell = self.food_cells[item]
            loaders = [i for i in loading if manhattan(cells[i], cell) == 1]
            if sum(levels[i] for i in loaders) >= self.food_levels[item]:
                self.food_present[item] = False
                del self._items_by_cell[cell]
                self._loaders[item] = tuple(self.possible_agents[i] for i in loaders)
                for i in loaders:
                    effective[i] = True
                reward += self.food_levels[item] / total
        return reward, effective

    def _won(self) -> bool:
        return not self._items_by_cell

    def _obstacle(self, cell: Cell) -> bool:
        return cell in self._items_by_cell

    def _obstacle_cells(self) -> Iterable[Cell]:
        return self._items_by_cell.keys()

    def _task_action_mask(self, i: int, cell: Cell) -> list[int]:
        return [0 if self._items_by_cell.keys().isdisjoint(self._neighbour_table[cell[0]][cell[1]]) else 1]

    def _make_subgoals(self, agent: str) -> list[Subgoal]:
        out: list[Subgoal] = []
        near: dict[Cell, list[tuple[int, str]]] = {}
        loads: list[tuple[int, str, int]] = []
        for item, (cell, level) in enumerate(zip(self.food_cells, self.food_levels)):
            goal, load = next_to(f"near_item_{item}", cell, f"item {item}"), load_item(item, cell, level)
            for n in neighbours(cell):
                near.setdefault(n, []).append((len(out), goal.id))
            loads.append((len(out) + 1, load.id, item))
            out += [goal, load]
        self._subgoal_lookup[agent] = (out, near, loads)
        return out

    def _update_achieved(self) -> None:
        """The base class's update, without a predicate call per subgoal and step.

        ``near_item_i`` holds on the cells next to the item and ``load_item_i`` once the agent is among
        its loaders (the rules of ``next_to_cell`` and ``item_loaded_by``), so ``_make_subgoals`` keeps
        a table of both; lists it did not make (or that changed since) go through the predicates.
        """
        cells, index, lookup, loaders = self._agent_cells(), self._index, self._subgoal_lookup, self._loaders
        loaded = any(loaders)
        for agent, subgoals in self._subgoals.items():
            made = lookup.get(agent)
            if made is None or made[0] is not subgoals or len(subgoals) != 2 * len(made[2]):
                self._check_subgoals(agent, subgoals)
                continue
            done = self._achieved[agent]
            hits = [hit for hit in made[1].get(cells[index[agent]], ()) if hit[1] not in done]
            if loaded:
                hits += [(k, sid) for k, sid, item in made[2] if sid not in done and agent in loaders[item]]
            if hits:
                done.extend(sid for _, sid in sorted(hits))

    def _mark_dynamic(self, planes: np.ndarray, offset: int) -> None:
        super()._mark_dynamic(planes, offset)
        for (r, c), level in zip(self._agent_cells(), self.levels.tolist()):
            planes[2, r + offset, c + offset] = level / self.max_player_level
        for (r, c), item in self._items_by_cell.items():
            planes[3, r + offset, c + offset] = self.food_levels[item] / self.max_food_level

    def _agent_features(self, i: int) -> list[float]:
        return [float(self.levels[i]) / self.max_player_level]

    def _background(self) -> np.ndarray:
        chars = super()._background()
        for cell, level, present in zip(self.food_cells, self.food_levels, self.food_present):
            if present:
                chars[cell] = FOOD_GLYPHS[min(level, len(FOOD_GLYPHS)) - 1]
        return chars

    def _anchor_state(self) -> tuple[Any, ...]:
        present = self.food_present.tolist()
        items = tuple((c, lvl) for c, lvl, p in zip(self.food_cells, self.food_levels, present) if p)
        return (*super()._anchor_state(), ("levels", tuple(self.levels.tolist())), ("items", items))


def _too_close(cell: Cell) -> list[Cell]:
    """The cells ``b`` with ``not _apart(cell, b)``: the 3x3 block and the cells 2 away on the row and column."""
    r, c = cell
    block = [(r + dr, c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    return [*block, (r, c - FOOD_CLEARANCE), (r, c + FOOD_CLEARANCE), (r - FOOD_CLEARANCE, c), (r + FOOD_CLEARANCE, c)]


def _apart(a: Cell, b: Cell) -> bool:
    """lbforaging's spacing rule for items: not in each other's 3x3 block nor 2 apart on a row/column."""
    dr, dc = abs(a[0] - b[0]), abs(a[1] - b[1])
    return max(dr, dc) > 1 and not ((dr == 0 and dc <= FOOD_CLEARANCE) or (dc == 0 and dr <= FOOD_CLEARANCE))
