"""GoalGrid: N agents must stand on all M goal cells at the same moment."""

from __future__ import annotations

from typing import Any

import numpy as np

from hiergym.error import EnvSpecError
from hiergym.types import Subgoal

from .base import GridTaskEnv, _check_int
from .grid import manhattan, sample_cells
from .subgoals import reach_cell

SUCCESS_REWARD = 1.0
REWARD_MODES = ("sparse", "shaped")
MIN_SIZE = 3


class GoalGridEnv(GridTaskEnv):
    """Cover every goal cell at once: the agents must split up over the goals.

    **Description.** An open ``size x size`` grid holds ``n_agents`` agents and ``n_goals <= n_agents``
    goal cells. The team wins when every goal cell has an agent on it in the same step, which
    needs the agents to agree who takes which goal.

    **Actions.** ``Discrete(5)``: 0 noop, 1 up, 2 down, 3 left, 4 right (text mode: the names).
    Moves into the border, a wall or an agent's current cell are illegal (masked in
    ``infos[agent]["action_mask"]``); two agents moving into one cell both stay.

    **Observations.** Flat float32 ``Box(0, 1)``: planes ``wall, agent, goal`` over the
    ``(2 view_radius + 1)`` square around the agent (outside = wall), then own row/col
    (normalised), one-hot agent id. ``obs_mode="text"``: the same view as text (``describe``).
    ``state()``: all planes of the whole grid, every agent's row/col, the elapsed time share.

    **Rewards.** Team reward, the same for all agents: ``+1`` on the step all goals are covered
    (``reward_mode="sparse"``). ``reward_mode="shaped"`` adds the potential-based term
    ``phi(s') - phi(s)`` with ``phi = -sum_goals(distance to the nearest agent) / (n_goals (H + W - 2))``,
    which leaves the optimal policies unchanged (Ng et al. 1999). Each illegal or malformed action
    adds ``invalid_action_penalty`` (default -0.1).

    **Starting state.** Agents and goals on distinct uniformly random cells (``np_random``).

    **Episode end.** Terminated when all goals are covered; truncated after ``max_cycles`` steps.

    **Info.** ``action_mask``, ``admissible_actions``, ``anchor_state`` (agent and goal cells),
    ``subgoals`` (per agent: ``goal_j`` = stand on goal j), ``subgoals_achieved``, ``won``,
    ``task``, and the action flags.

    **Arguments.** ``n_agents`` (2), ``n_goals`` (2), ``size`` (7), ``view_radius`` (2),
    ``max_cycles`` (50), ``reward_mode`` (sparse | shaped), ``obs_mode`` (vector | text),
    ``render_mode`` (ansi | rgb_array | human), ``invalid_action_penalty`` (-0.1).

    **Version history.** v0: initial version.
    """

    metadata = {**GridTaskEnv.metadata, "name": "goal_grid_v0"}
    CHANNELS = ("wall", "agent", "goal")
    LEGEND = "# wall, . floor, G goal cell, A-J agents (you are the centre)"

    def __init__(
        self,
        n_agents: int = 2,
        n_goals: int = 2,
        size: int = 7,
        max_cycles: int = 50,
        reward_mode: str = "sparse",
        **grid_options: Any,
    ):
        _check_int("size", size, MIN_SIZE, None)
        _check_int("n_goals", n_goals, 1, n_agents if isinstance(n_agents, int) else None)
        if n_agents + n_goals > size * size:
            raise EnvSpecError("size", size, f"a grid with at least n_agents + n_goals = {n_agents + n_goals} cells")
        if reward_mode not in REWARD_MODES:
            raise EnvSpecError("reward_mode", reward_mode, f"one of {REWARD_MODES}")
        self.n_goals = n_goals
        self.reward_mode = reward_mode
        self.goals: list[tuple[int, int]] = []
        super().__init__(n_agents=n_agents, shape=(size, size), max_cycles=max_cycles, **grid_options)

    def covered(self) -> list[bool]:
        """Per goal: an agent stands on it."""
        occupied = set(map(tuple, self.positions.tolist()))
        return [g in occupied for g in self.goals]

    def _generate(self) -> None:
        h, w = self.shape
        cells = sample_cells(self.np_random, ((r, c) for r in range(h) for c in range(w)), self.n_agents + self.n_goals)
        self.positions = np.array(cells[: self.n_agents], dtype=np.int64)
        self.goals = cells[self.n_agents :]
        where = ", ".join(f"(row {r}, col {c})" for r, c in self.goals)
        self.task_text = f"All {self.n_goals} goal cells G must have an agent on them at the same time: {where}."

    def _apply(self, chosen: list[int]) -> tuple[float, list[bool]]:
        before = self._potential()
        moved = self._move(chosen)
        reward = SUCCESS_REWARD if self._won() else 0.0
        if self.reward_mode == "shaped":
            reward += self._potential() - before
        return reward, moved

    def _potential(self) -> float:
        h, w = self.shape
        agents = list(map(tuple, self.positions.tolist()))
        total = sum(min(manhattan(a, g) for a in agents) for g in self.goals)
        return -total / (self.n_goals * (h + w - 2))

    def _won(self) -> bool:
        return all(self.covered())

    def _make_subgoals(self, agent: str) -> list[Subgoal]:
        return [reach_cell(f"goal_{j}", g, f"goal {j}") for j, g in enumerate(self.goals)]

    def _static_planes(self) -> np.ndarray:
        planes = super()._static_planes()
        for g in self.goals:
            planes[2][g] = 1.0
        return planes

    def _background(self) -> np.ndarray:
        chars = super()._background()
        for g in self.goals:
            chars[g] = "G"
        return chars

    def _anchor_state(self) -> tuple[Any, ...]:
        return (*super()._anchor_state(), ("goals", tuple(self.goals)))
