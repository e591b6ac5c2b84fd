"""The two-step cooperative matrix game of the QMIX paper, as a PettingZoo ``ParallelEnv``.

Rashid et al. 2018, "QMIX: Monotonic Value Function Factorisation for Deep Multi-Agent
Reinforcement Learning", section 6.1 / figure 2. It separates QMIX from VDN: VDN's additive
factorisation cannot represent the joint Q-values of matrix 2B, so it settles for the safe
matrix 2A (return 7) while QMIX finds the optimal joint return 8.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from hiergym.info_keys import InfoKeys

STATE_START, STATE_2A, STATE_2B = 0, 1, 2
STATE_NAMES = ("start", "2A", "2B")
NUM_STATES = len(STATE_NAMES)
NUM_ACTIONS = 2
PAYOFF_2A = np.full((NUM_ACTIONS, NUM_ACTIONS), 7.0, dtype=np.float32)
"""Matrix 2A: every joint action pays 7."""
PAYOFF_2B = np.array([[0.0, 1.0], [1.0, 8.0]], dtype=np.float32)
"""Matrix 2B: rows are agent 1's action, columns agent 2's; only (1, 1) pays the optimum 8."""
OPTIMAL_RETURN = 8.0
EPISODE_LENGTH = 2


class TwoStepMatrixGame(ParallelEnv):
    """Two agents, two steps, team reward.

    **Description.** In the first step agent 1's action picks the next state: action 0 leads to
    state 2A, action 1 to state 2B (agent 2's action does not matter; reward 0). In the second
    step both agents act and receive the payoff of the chosen matrix (``PAYOFF_2A`` all 7,
    ``PAYOFF_2B`` ``[[0, 1], [1, 8]]``). The optimal joint return is 8: go to 2B, both play 1.

    **Spaces.** Actions ``Discrete(2)`` per agent. Observations: the one-hot state
    (``Box(0, 1, (3,), float32)``; the game is fully observable, as in the paper).
    ``state()`` is the same one-hot vector (``state_space``).

    **Rewards.** Team reward (the same for both agents): 0 on step 1, the matrix payoff on step 2.

    **Start state.** Always ``start``; no randomness (``reset(seed=...)`` is accepted).

    **Episode end.** ``terminations`` are True after the second step.

    **Info.** ``action_mask`` (all ones), ``anchor_state`` (the state name), ``subgoals`` (none),
    ``subgoals_achieved`` (empty), ``won`` (the team scored the optimal 8).

    **Version history.** v0: initial version.
    """

    metadata = {"name": "two_step_matrix_game_v0", "render_modes": ["ansi"], "is_parallelizable": True}
    max_cycles = EPISODE_LENGTH
    """Every episode lasts exactly two steps (read by runners that size buffers by ``max_cycles``)."""

    def __init__(self, render_mode: str | None = None):
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self.render_mode = render_mode
        self.state_space = spaces.Box(0.0, 1.0, (NUM_STATES,), dtype=np.float32)
        self._state = STATE_START
        self._last_reward = 0.0

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent: str) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (NUM_STATES,), dtype=np.float32)

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent: str) -> spaces.Discrete:
        return spaces.Discrete(NUM_ACTIONS)

    def state(self) -> np.ndarray:
        return np.eye(NUM_STATES, dtype=np.float32)[self._state]

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.agents = list(self.possible_agents)
        self._state = STATE_START
        self._last_reward = 0.0
        return self._observations(), self._infos()

    def step(self, actions: dict[str, Any]):
        a0, a1 = (int(actions.get(agent, 0)) for agent in self.possible_agents)
        if self._state == STATE_START:
            self._state = STATE_2A if a0 == 0 else STATE_2B
            reward, done = 0.0, False
        else:
            payoff = PAYOFF_2A if self._state == STATE_2A else PAYOFF_2B
            reward, done = float(payoff[a0, a1]), True
        self._last_reward = reward
        obs, infos = self._observations(), self._infos()
        rewards = dict.fromkeys(self.agents, reward)
        terminations = dict.fromkeys(self.agents, done)
        truncations = dict.fromkeys(self.agents, False)
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return f"state={STATE_NAMES[self._state]} last_reward={self._last_reward:g}"

    def close(self) -> None:
        pass

    def _observations(self) -> dict[str, np.ndarray]:
        return {agent: self.state() for agent in self.agents}

    def _infos(self) -> dict[str, dict[str, Any]]:
        info = {
            InfoKeys.ACTION_MASK: np.ones(NUM_ACTIONS, dtype=np.int8),
            InfoKeys.ANCHOR_STATE: STATE_NAMES[self._state],
            InfoKeys.SUBGOALS: [],
            InfoKeys.SUBGOALS_ACHIEVED: [],
            InfoKeys.WON: self._last_reward >= OPTIMAL_RETURN,
        }
        return {agent: dict(info) for agent in self.agents}
