"""Small test-only envs that follow the hiergym env conventions."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from hiergym.envs.common import INVALID_ACTION_PENALTY, action_flags, normalize_command, text_space
from hiergym.info_keys import InfoKeys
from hiergym.types import Subgoal


class SwitchesEnv(gym.Env):
    """N light switches; ``flip <i>`` toggles one, the task is to turn all on (+1, terminated).

    The start pattern comes from ``np_random``; the same state is reachable by many flip orders,
    which is what anchor tests need. ``wait`` is legal but changes nothing.
    """

    metadata = {"render_modes": []}

    def __init__(self, n: int = 3, max_steps: int = 20):
        self.n = n
        self.max_steps = max_steps
        self.observation_space = text_space(256)
        self.action_space = text_space(64)
        self.on = [False] * n
        self.t = 0
        self.achieved: list[str] = []
        self.subgoals = [Subgoal(f"s{i}", f"turn on switch {i}", check=lambda env, i=i: env.on[i]) for i in range(n)]

    def _obs(self, prefix: str = "") -> str:
        return prefix + "switches: " + " ".join("on" if v else "off" for v in self.on)

    def _info(self) -> dict[str, Any]:
        for sg in self.subgoals:
            if sg.id not in self.achieved and sg.check(self):
                self.achieved.append(sg.id)
        return {
            InfoKeys.ADMISSIBLE_ACTIONS: [f"flip {i}" for i in range(self.n)] + ["wait"],
            InfoKeys.ANCHOR_STATE: tuple(self.on),
            InfoKeys.WON: all(self.on),
            InfoKeys.SUBGOALS: self.subgoals,
            InfoKeys.SUBGOALS_ACHIEVED: list(self.achieved),
            InfoKeys.TASK: "Turn on every switch.",
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.on = [bool(v) for v in self.np_random.integers(0, 2, self.n)]
        if all(self.on):
            self.on[0] = False
        self.t, self.achieved = 0, []
        return self._obs(), self._info()

    def step(self, action: Any):
        self.t += 1
        cmd = normalize_command(action)
        words = (cmd or "").split()
        ok = len(words) == 2 and words[0] == "flip" and words[1].isdigit() and int(words[1]) < self.n
        reward, prefix = 0.0, ""
        if ok:
            self.on[int(words[1])] = not self.on[int(words[1])]
        elif cmd == "wait":
            pass
        else:
            reward, prefix = INVALID_ACTION_PENALTY, "Unknown command. "
        terminated = all(self.on)
        reward += 1.0 if terminated else 0.0
        info = self._info()
        info.update(action_flags(format_ok=cmd is not None and cmd != "", admissible=ok or cmd == "wait", effective=ok))
        return self._obs(prefix), reward, terminated, self.t >= self.max_steps and not terminated, info
