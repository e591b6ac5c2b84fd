"""``GridTaskEnv``: the PettingZoo ``ParallelEnv`` machinery every multi-agent grid task shares.

A task subclass says what the world is (``_generate``, ``_static_planes``, ``_mark_dynamic``,
``_background``), what an action does (``_apply``, ``_obstacle``, ``_task_action_mask``) and when
the team has won (``_won``). This class turns that into the ParallelEnv API: seeding, action
parsing and masking, the invalid-action penalty, ``max_cycles`` truncation, partial
observations, ``state()``, infos, subgoal tracking and rendering.

Observation (``obs_mode="vector"``), a flat float32 vector in [0, 1]:
``[ view window C x (2r+1) x (2r+1) | own row, col (normalised) | one-hot agent id | task features ]``;
outside the grid reads as wall. ``obs_mode="text"``: ``describe(env, agent)`` (see ``text.py``).
Action masks are in ``infos[agent]["action_mask"]`` (int8, 1 = legal); an illegal or malformed
action is a no-op that adds ``invalid_action_penalty`` to the team reward.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.types import Subgoal

from ..common import (
    INVALID_ACTION_PENALTY,
    MAX_ACTION_CHARS,
    MAX_OBS_CHARS,
    action_flags,
    normalize_command,
    text_space,
)
from .grid import ACTION_ALIASES, MOVE_ACTIONS, NOOP, Cell, in_bounds, neighbours, pad_planes, resolve_moves
from .render import PygameWindow, agent_glyph, render_ansi, render_rgb
from .text import describe

OBS_MODES = ("vector", "text")
_FLAGS = {
    (f, a, e): action_flags(format_ok=f, admissible=a, effective=e)
    for f in (False, True)
    for a in (False, True)
    for e in (False, True)
}
"""The eight possible action-flag dicts, built once (infos copy them into each agent's dict)."""
_MASK, _ADMISSIBLE, _ANCHOR = InfoKeys.ACTION_MASK, InfoKeys.ADMISSIBLE_ACTIONS, InfoKeys.ANCHOR_STATE
_SUBGOALS, _ACHIEVED, _WON, _TASK = InfoKeys.SUBGOALS, InfoKeys.SUBGOALS_ACHIEVED, InfoKeys.WON, InfoKeys.TASK
DEFAULT_VIEW_RADIUS = 2
OBS_TABLE_LIMIT = 1 << 21
"""Most entries (agents x cells x obs_dim) of an ``_ObsTable`` (16 MB); bigger envs gather per step."""
RENDER_FPS = 5
MAX_AGENTS = 10


class GridTaskEnv(ParallelEnv):
    """Base class of the grid tasks; not registered itself. See the module docstring for the contract.

    Options every task accepts as keywords (``**grid_options`` in the task classes):
    ``view_radius`` (2; the observed square is ``2 r + 1`` cells wide), ``obs_mode`` (vector | text),
    ``render_mode`` (ansi | rgb_array | human), ``invalid_action_penalty`` (-0.1).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "grid_task_v0",
        "render_modes": ["ansi", "rgb_array", "human"],
        "render_fps": RENDER_FPS,
        "is_parallelizable": True,
    }
    ACTIONS: ClassVar[tuple[str, ...]] = MOVE_ACTIONS
    CHANNELS: ClassVar[tuple[str, ...]] = ("wall", "agent")
    """Observation planes; ``wall`` must come first (outside the grid reads as wall)."""
    AGENT_FEATURES: ClassVar[tuple[str, ...]] = ()
    """Names of the per-agent scalar features appended to the observation and the state."""
    STATIC_AGENT_FEATURES: ClassVar[bool] = False
    """True if ``_agent_features`` change only with the layout (``reset``, ``layout_changed``):
    observations then compute them once per layout instead of every step."""
    LEGEND: ClassVar[str] = "# wall, . floor, A-J agents (you are the centre)"

    def __init__(
        self,
        *,
        n_agents: int,
        shape: tuple[int, int],
        max_cycles: int,
        view_radius: int = DEFAULT_VIEW_RADIUS,
        obs_mode: str = "vector",
        render_mode: str | None = None,
        invalid_action_penalty: float = INVALID_ACTION_PENALTY,
    ):
        _check_int("n_agents", n_agents, 1, MAX_AGENTS)
        _check_int("view_radius", view_radius, 0, max(shape))
        _check_int("max_cycles", max_cycles, 1, None)
        if obs_mode not in OBS_MODES:
            raise EnvSpecError("obs_mode", obs_mode, f"one of {OBS_MODES}")
        if not isinstance(invalid_action_penalty, numbers.Real) or not math.isfinite(invalid_action_penalty):
            raise EnvSpecError("invalid_action_penalty", invalid_action_penalty, "a finite number (default -0.1)")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise EnvSpecError("render_mode", render_mode, f"None or one of {self.metadata['render_modes']}")
        self.shape = shape
        self.view_radius = view_radius
        self.max_cycles = max_cycles
        self.obs_mode = obs_mode
        self.render_mode = render_mode
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.possible_agents = [f"agent_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        side = 2 * view_radius + 1
        self.obs_dim = len(self.CHANNELS) * side * side + 2 + n_agents + len(self.AGENT_FEATURES)
        """Length of the vector observation: view window, own row/col, one-hot id, task features."""
        self._observation_spaces = {a: self._make_observation_space() for a in self.possible_agents}
        self._action_spaces = {a: self._make_action_space() for a in self.possible_agents}
        h, w = shape
        n_state = len(self.CHANNELS) * h * w + n_agents * (2 + len(self.AGENT_FEATURES)) + 1
        self.state_space = spaces.Box(0.0, 1.0, (n_state,), dtype=np.float32)
        self.walls = np.zeros(shape, dtype=bool)
        self.positions = np.zeros((n_agents, 2), dtype=np.int64)
        self._wall_rows: list[list[bool]] = self.walls.tolist()
        self._static_padded = pad_planes(np.zeros((len(self.CHANNELS), h, w), dtype=np.float32), view_radius)
        self._masks = np.ones((n_agents, len(self.ACTIONS)), dtype=np.int8)
        self._neighbour_table = [[tuple(neighbours((r, c))) for c in range(w)] for r in range(h)]
        """Per cell: its four neighbours in action order (possibly outside); depends on the shape only."""
        self._move_targets: list[list[tuple[Cell | None, ...]]] = []
        """Per cell: the neighbours a move may enter as far as the walls go (None: outside or wall)."""
        self._move_targets_walls = b""
        self._update_move_targets()
        self._cells: list[Cell] | None = None
        """Agent cells, set only while ``step``/``reset`` build their outputs (positions cannot change then)."""
        self._obs_table: _ObsTable | None = None  # built by the first vector observation
        self._features_stale = True
        self.task_text = ""
        self.cycle = 0
        self.np_random, _ = seeding.np_random(None)
        self._subgoals: dict[str, list[Subgoal]] = {}
        self._achieved: dict[str, list[str]] = {}
        self._last_flags: dict[str, dict[str, bool]] = {}
        self._window: PygameWindow | None = None

    # ----- spaces ------------------------------------------------------------------------
    @property
    def n_agents(self) -> int:
        return len(self.possible_agents)

    def _make_observation_space(self) -> spaces.Space:
        if self.obs_mode == "text":
            return text_space(MAX_OBS_CHARS)
        return spaces.Box(0.0, 1.0, (self.obs_dim,), dtype=np.float32)

    def _make_action_space(self) -> spaces.Space:
        if self.obs_mode == "text":
            return text_space(MAX_ACTION_CHARS)
        return spaces.Discrete(len(self.ACTIONS))

    def observation_space(self, agent: str) -> spaces.Space:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._action_spaces[agent]

    # ----- public state accessors (used by subgoal checks, text, oracles) --------------
    def position(self, agent: str) -> Cell:
        if self._cells is not None:
            return self._cells[self._index[agent]]
        r, c = self.positions[self._index[agent]].tolist()
        return (r, c)

    def index(self, agent: str) -> int:
        return self._index[agent]

    def blocked(self, cell: Cell) -> bool:
        """True if no agent may enter ``cell`` (outside, wall, or a task obstacle); agents not counted."""
        r, c = cell
        return not in_bounds(cell, self.shape) or self._wall_rows[r][c] or self._obstacle(cell)

    def action_masks(self) -> np.ndarray:
        """int8 ``[n_agents, len(ACTIONS)]``: 1 where an action is legal now (noop always is).

        A move is legal into a free cell no agent stands on; task actions ask ``_task_action_mask``.
        Plain Python on purpose: for a handful of agents it is several times faster than numpy.
        """
        return np.array(self._action_mask_rows(), dtype=np.int8)

    def _action_mask_rows(self) -> list[list[int]]:
        """``action_masks()`` as Python lists of 0/1 (bools for the moves)."""
        targets, task_mask = self._move_targets, self._task_action_mask
        cells = self._agent_cells()
        blocked = set(cells)
        listed = self._obstacle_cells()
        if listed is not None:
            blocked.update(listed)
        obstacle = self._obstacle if listed is None else _never
        rows = []
        for i, cell in enumerate(cells):
            row = [1]
            for t in targets[cell[0]][cell[1]]:
                row.append(t is not None and t not in blocked and not obstacle(t))
            rows.append(row + task_mask(i, cell))
        return rows

    def _update_move_targets(self) -> None:
        """Rebuild ``_move_targets`` from ``_wall_rows`` unless the walls are those it was built for."""
        key = self.walls.tobytes()
        if key == self._move_targets_walls and self._move_targets:
            return
        walls = self._wall_rows
        h, w = self.shape
        self._move_targets = [
            [tuple(t if 0 <= t[0] < h and 0 <= t[1] < w and not walls[t[0]][t[1]] else None for t in nbs) for nbs in row]
            for row in self._neighbour_table
        ]
        self._move_targets_walls = key

    @contextmanager
    def _positions_fixed(self) -> Iterator[None]:
        """While reset/step build their outputs the agents stand still: ``_agent_cells`` is computed once."""
        self._cells = list(map(tuple, self.positions.tolist()))
        try:
            yield
        finally:
            self._cells = None

    def _agent_cells(self) -> list[Cell]:
        """Every agent's ``(row, col)``, by index (the step's cached cells while it builds its outputs)."""
        if self._cells is not None:
            return self._cells
        return list(map(tuple, self.positions.tolist()))

    def action_mask(self, agent: str) -> np.ndarray:
        """int8 ``[len(ACTIONS)]``: the row of ``action_masks()`` for ``agent``."""
        return self.action_masks()[self._index[agent]]

    def legal_actions(self, agent: str) -> list[str]:
        return _names(self.ACTIONS, self._masks[self._index[agent]].tolist())

    def status_text(self, agent: str) -> str:
        """One line about the agent's own task state (level, held key, ...) for text observations."""
        return ""

    # ----- the ParallelEnv API -----------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.agents = list(self.possible_agents)
        self.cycle = 0
        self.walls = np.zeros(self.shape, dtype=bool)
        self._generate()
        self.layout_changed()
        self._subgoals = {a: self._make_subgoals(a) for a in self.agents}
        self._achieved = {a: [] for a in self.agents}
        self._last_flags = {a: _FLAGS[True, True, False] for a in self.agents}
        with self._positions_fixed():
            self._update_achieved()
            out = self._observations(), self._infos()
        if self.render_mode == "human":
            self.render()
        return out

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise ResetNeeded("step() after the episode ended: call reset() first")
        chosen = [NOOP] * self.n_agents
        format_ok, admissible = [True] * self.n_agents, [True] * self.n_agents
        masks = self._masks.tolist()  # judged against the masks the agents were shown
        for agent in self.agents:
            i = self._index[agent]
            action = self._parse(actions[agent]) if agent in actions else NOOP  # no action: wait
            format_ok[i] = action is not None
            admissible[i] = action is not None and masks[i][action] == 1
            chosen[i] = action if admissible[i] else NOOP
        reward, effective = self._apply(chosen)
        reward += self.invalid_action_penalty * admissible.count(False)
        self.cycle += 1
        self._last_flags = {
            a: _FLAGS[format_ok[i], admissible[i], bool(effective[i])] for a, i in self._index.items()
        }
        with self._positions_fixed():
            self._update_achieved()
            self._masks = self.action_masks()
            won = self._won()
            truncated = not won and self.cycle >= self.max_cycles
            obs, infos = self._observations(), self._infos()
        rewards = dict.fromkeys(self.agents, float(reward))
        terminations = dict.fromkeys(self.agents, won)
        truncations = dict.fromkeys(self.agents, truncated)
        if won or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """Global state: all planes, every agent's position and features, the elapsed time share."""
        h, w, r = *self.shape, self.view_radius
        planes = self._padded_planes()[:, r : r + h, r : r + w].ravel()
        per_agent = [v for i in range(self.n_agents) for v in self._agent_vector(i)]
        time_share = min(self.cycle / self.max_cycles, 1.0)
        return np.concatenate([planes, np.array([*per_agent, time_share], dtype=np.float32)])

    def layout_changed(self) -> None:
        """Recompute what is cached per layout (wall lookups, static planes, masks).

        ``reset`` calls it; call it yourself after editing walls, positions or objects by hand.
        """
        self._wall_rows = self.walls.tolist()
        self._update_move_targets()
        self._static_padded = pad_planes(self._static_planes(), self.view_radius)
        self._features_stale = True
        self._masks = self.action_masks()

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            return render_ansi(self.char_grid(), f"step {self.cycle}/{self.max_cycles}")
        if self.render_mode == "rgb_array":
            return render_rgb(self._background(), self.positions)
        if self.render_mode == "human":
            if self._window is None:
                self._window = PygameWindow(type(self).__name__, self.metadata["render_fps"])
            self._window.show(render_rgb(self._background(), self.positions))
        return None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None

    def char_grid(self) -> np.ndarray:
        """``[H, W]`` one-character glyphs: the static layer with agents (``A``, ``B``, ...) on top."""
        chars = self._background().copy()
        for i, (r, c) in enumerate(self.positions):
            chars[r, c] = agent_glyph(i)
        return chars

    # ----- hooks for task subclasses -------------------------------------------------------
    def _generate(self) -> None:
        """Lay out walls, agents (``self.positions``) and task objects using ``self.np_random`` only."""
        raise NotImplementedError

    def _apply(self, chosen: list[int]) -> tuple[float, list[bool]]:
        """Apply the (legal) joint action; return the task's team reward and per-agent ``effective``."""
        raise NotImplementedError

    def _won(self) -> bool:
        raise NotImplementedError

    def _make_subgoals(self, agent: str) -> list[Subgoal]:
        return []

    def _obstacle(self, cell: Cell) -> bool:
        """Task objects that block movement (items, closed doors)."""
        return False

    def _obstacle_cells(self) -> Iterable[Cell] | None:
        """Every cell ``_obstacle`` is true for, if the task can list them cheaply (masks then skip the
        per-cell ``_obstacle`` calls); None: ask ``_obstacle``."""
        return None

    def _task_action_mask(self, i: int, cell: Cell) -> list[int]:
        """Legality (0/1) of the task's own actions (index >= 5) for agent ``i`` standing on ``cell``."""
        return []

    def _static_planes(self) -> np.ndarray:
        """``[C, H, W]`` float32: what does not change within an episode (walls, goals, locks)."""
        planes = np.zeros((len(self.CHANNELS), *self.shape), dtype=np.float32)
        planes[0] = self.walls
        return planes

    def _mark_dynamic(self, planes: np.ndarray, offset: int) -> None:
        """Write what moves or changes (agents, items, doors) into ``planes`` at cell + ``offset``."""
        for r, c in self._agent_cells():
            planes[1, r + offset, c + offset] = 1.0

    def _agent_features(self, i: int) -> list[float]:
        return []

    def _agent_feature_rows(self) -> np.ndarray | list[list[float]]:
        """``[n_agents, len(AGENT_FEATURES)]``: ``_agent_features`` of every agent (override to vectorise)."""
        return [self._agent_features(i) for i in range(self.n_agents)]

    def _background(self) -> np.ndarray:
        """``[H, W]`` glyphs of the static layer (no agents)."""
        return np.where(self.walls, "#", ".")

    def _anchor_state(self) -> tuple:
        """Canonical hashable description of the true state (agents first, then task objects)."""
        return (("agents", tuple(self._agent_cells())),)

    # ----- helpers -------------------------------------------------------------------------
    def _move(self, chosen: list[int]) -> list[bool]:
        """Move agents whose chosen action is a move; agents contesting one cell all stay."""
        cells = self._agent_cells()
        table = self._neighbour_table  # == shifted(cell, a), looked up
        targets = [table[r][c][a - 1] if 0 < a < 5 else (r, c) for (r, c), a in zip(cells, chosen)]
        moved = resolve_moves(cells, targets)
        for i, target in enumerate(targets):
            if moved[i]:
                self.positions[i] = target
        return moved

    def _parse(self, action: Any) -> int | None:
        if self.obs_mode == "text":
            command = normalize_command(action)
            command = ACTION_ALIASES.get(command, command)
            return self.ACTIONS.index(command) if command in self.ACTIONS else None
        if isinstance(action, (int, np.integer)) and 0 <= action < len(self.ACTIONS):
            return int(action)
        return None

    def _agent_vector(self, i: int) -> list[float]:
        """Own row and col scaled to [0, 1], then the task's agent features."""
        h, w = self.shape
        r, c = self.positions[i].tolist()
        return [r / max(h - 1, 1), c / max(w - 1, 1), *self._agent_features(i)]

    def _padded_planes(self) -> np.ndarray:
        """``[C, H + 2r, W + 2r]``: all planes, padded by the view radius (outside reads as wall)."""
        planes = self._static_padded.copy()
        self._mark_dynamic(planes, self.view_radius)
        return planes

    def _observations(self) -> dict[str, Any]:
        if self.obs_mode == "text":
            return {a: describe(self, a) for a in self.agents}
        table = self._obs_table
        if table is None:
            h, w = self.shape
            if self.n_agents * h * w * self.obs_dim > OBS_TABLE_LIMIT:
                return self._gathered_observations()
            n_features = len(self.AGENT_FEATURES)
            sizes = (len(self.CHANNELS), self.shape, self.view_radius, self.n_agents, n_features)
            table = self._obs_table = _ObsTable(*sizes)
        np.copyto(table.planes, self._static_padded)
        self._mark_dynamic(table.planes, self.view_radius)
        if self.AGENT_FEATURES and (self._features_stale or not self.STATIC_AGENT_FEATURES):
            table.features[:] = np.ravel(self._agent_feature_rows())
            self._features_stale = False
        cells, rows, index, take = self._agent_cells(), table.rows, self._index, table.buffer.take
        out = {}
        for agent in self.agents:
            i = index[agent]
            r, c = cells[i]
            out[agent] = take(rows[i][r][c])
        return out

    def _gathered_observations(self) -> dict[str, np.ndarray]:
        """The vector observations of envs too big for ``_ObsTable``: one gather over all agents."""
        h, w, radius = *self.shape, self.view_radius
        padded_w = w + 2 * radius
        window = _window_index(len(self.CHANNELS), radius, h + 2 * radius, padded_w)
        positions, n, n_view = self.positions, self.n_agents, window.size
        obs = np.empty((n, self.obs_dim), dtype=np.float32)
        corner = positions[:, 0] * padded_w + positions[:, 1]  # window start of each agent in the flat planes
        obs[:, :n_view] = self._padded_planes().ravel()[window + corner[:, None]]
        obs[:, n_view] = positions[:, 0] / max(h - 1, 1)
        obs[:, n_view + 1] = positions[:, 1] / max(w - 1, 1)
        obs[:, n_view + 2 : n_view + 2 + n] = np.eye(n, dtype=np.float32)
        if self.AGENT_FEATURES:
            obs[:, n_view + 2 + n :] = self._agent_feature_rows()
        return {agent: obs[self._index[agent]].copy() for agent in self.agents}

    def _update_achieved(self) -> None:
        for agent, subgoals in self._subgoals.items():
            self._check_subgoals(agent, subgoals)

    def _check_subgoals(self, agent: str, subgoals: list[Subgoal]) -> None:
        """Append to ``agent``'s achieved ids those of ``subgoals`` whose predicate now holds (in list order)."""
        done = self._achieved[agent]
        done.extend(sg.id for sg in subgoals if sg.id not in done and sg.check(self, agent))

    def _infos(self) -> dict[str, dict[str, Any]]:
        anchor = self._anchor_state()
        won = self._won()
        masks = self._masks
        rows = masks.tolist()
        actions, task, flags = self.ACTIONS, self.task_text, self._last_flags
        out = {}
        for agent in self.agents:
            i = self._index[agent]
            out[agent] = {
                _MASK: masks[i],
                _ADMISSIBLE: _names(actions, rows[i]),
                _ANCHOR: anchor,
                _SUBGOALS: self._subgoals[agent],
                _ACHIEVED: list(self._achieved[agent]),
                _WON: won,
                _TASK: task,
                **flags[agent],
            }
        return out


class _ObsTable:
    """Vector observations as one ``take`` per agent from a flat float32 buffer.

    ``buffer``: the padded planes (``planes`` is that part, ``[C, H + 2r, W + 2r]``), every row's
    and every col's normalised value, 0, 1, then the agents' features (``features``, agent-major).
    ``rows[i][r][c]``: the buffer indices of agent ``i``'s whole observation when it stands on
    ``(r, c)`` (view window, own row/col, one-hot id, own features), so a step only refreshes the
    buffer and takes one index row per agent. Built once per env (it depends on the sizes only).
    """

    def __init__(self, n_channels: int, shape: tuple[int, int], radius: int, n_agents: int, n_features: int):
        h, w = shape
        padded_h, padded_w = h + 2 * radius, w + 2 * radius
        n_planes = n_channels * padded_h * padded_w
        row0, col0 = n_planes, n_planes + h
        zero = col0 + w
        one, feature0 = zero + 1, zero + 2
        self.buffer = np.zeros(feature0 + n_agents * n_features, dtype=np.float32)
        self.buffer[row0:col0] = np.arange(h) / max(h - 1, 1)
        self.buffer[col0:zero] = np.arange(w) / max(w - 1, 1)
        self.buffer[one] = 1.0
        self.planes = self.buffer[:n_planes].reshape(n_channels, padded_h, padded_w)
        self.features = self.buffer[feature0:]
        window = _window_index(n_channels, radius, padded_h, padded_w)
        n_view = window.size
        r, c = np.arange(h)[:, None], np.arange(w)
        table = np.empty((n_agents, h, w, n_view + 2 + n_agents + n_features), dtype=np.intp)
        table[..., :n_view] = window + (r * padded_w + c)[..., None]
        table[..., n_view] = row0 + r
        table[..., n_view + 1] = col0 + c
        table[..., n_view + 2 : n_view + 2 + n_agents] = zero + np.eye(n_agents, dtype=np.intp)[:, None, None, :]
        agent_features = np.arange(n_agents)[:, None] * n_features + np.arange(n_features)
        table[..., n_view + 2 + n_agents :] = feature0 + agent_features[:, None, None, :]
        self.rows = [[list(cells) for cells in agent] for agent in table]


def _window_index(n_channels: int, radius: int, padded_h: int, padded_w: int) -> np.ndarray:
    """Flat indices, in ``[C, H + 2r, W + 2r]`` padded planes, of the view window whose corner is cell (0, 0)
    (add ``row * padded_w + col`` for the window of an agent on ``(row, col)``)."""
    k = np.arange(2 * radius + 1)
    return (np.arange(n_channels)[:, None, None] * (padded_h * padded_w) + k[:, None] * padded_w + k).ravel()


def _never(cell: Cell) -> bool:
    return False


def _names(actions: tuple[str, ...], mask: list[int]) -> list[str]:
    """The action names whose mask entry (a Python 0/1) is set."""
    return [name for name, ok in zip(actions, mask) if ok]


def _check_int(name: str, value: Any, low: int, high: int | None) -> None:
    ok = isinstance(value, numbers.Integral) and value >= low and (high is None or value <= high)
    if not ok:
        bound = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
        raise EnvSpecError(name, value, bound)
