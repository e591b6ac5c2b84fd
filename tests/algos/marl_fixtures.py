"""A tiny multi-agent ParallelEnv for the MARL learner tests (independent of envs/multiagent)."""

from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from hiergym.info_keys import InfoKeys
from hiergym.types import Subgoal

NOOP, LEFT, RIGHT = 0, 1, 2


class Corridor(ParallelEnv):
    """Agents on a 1-D corridor of ``length`` cells; the team wins when every agent stands on the last cell.

    Actions noop/left/right (moving into a wall is masked). Observation: one-hot own cell +
    one-hot agent id. ``state()``: concatenated one-hot cells. Team reward 1 on the win, else 0.
    Subgoals per agent: ``cell<j>`` for j in ``subgoal_cells`` (check: standing on cell j).
    Start cells are drawn from ``np_random``, so the seed matters.
    """

    metadata = {"name": "corridor_v0", "is_parallelizable": True}

    def __init__(self, n_agents: int = 2, length: int = 4, max_cycles: int = 8, subgoal_cells: tuple[int, ...] = (0, 3)):
        self.possible_agents = [f"agent_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self.length, self.max_cycles, self.subgoal_cells = length, max_cycles, subgoal_cells
        self.np_random = np.random.default_rng()
        self.pos: dict[str, int] = {}
        self.cycle = 0

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        return spaces.Box(0.0, 1.0, (self.length + len(self.possible_agents),), np.float32)

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return spaces.Discrete(3)

    def state(self):
        return np.concatenate([np.eye(self.length, dtype=np.float32)[self.pos[a]] for a in self.possible_agents])

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.pos = {a: int(self.np_random.integers(self.length - 1)) for a in self.agents}
        self.cycle = 0
        return self._obs(), self._infos()

    def step(self, actions):
        for a, act in actions.items():
            if self._mask(a)[act]:
                self.pos[a] += {NOOP: 0, LEFT: -1, RIGHT: 1}[int(act)]
        self.cycle += 1
        won = all(p == self.length - 1 for p in self.pos.values())
        trunc = not won and self.cycle >= self.max_cycles
        obs, infos = self._obs(), self._infos()
        infos = {a: {**i, InfoKeys.WON: won} for a, i in infos.items()}
        rewards = dict.fromkeys(self.agents, 1.0 if won else 0.0)
        terms, truncs = dict.fromkeys(self.agents, won), dict.fromkeys(self.agents, trunc)
        if won or trunc:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def _mask(self, agent):
        p = self.pos[agent]
        return np.array([1, p > 0, p < self.length - 1], dtype=np.int8)

    def _obs(self):
        n = len(self.possible_agents)
        return {
            a: np.concatenate([np.eye(self.length, dtype=np.float32)[self.pos[a]], np.eye(n, dtype=np.float32)[i]])
            for i, a in enumerate(self.possible_agents)
            if a in self.agents
        }

    def _infos(self):
        def subgoal(j):
            return Subgoal(f"cell{j}", f"go to cell {j}", check=lambda env, agent, j=j: env.pos[agent] == j, target=j)

        return {
            a: {
                InfoKeys.ACTION_MASK: self._mask(a),
                InfoKeys.SUBGOALS: [subgoal(j) for j in self.subgoal_cells],
                InfoKeys.SUBGOALS_ACHIEVED: [],
            }
            for a in self.agents
        }
