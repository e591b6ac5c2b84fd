"""Odd envs for collector tests: a countdown task, one that crashes its worker once, one that ignores its seed."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import gymnasium as gym

from hiergym.agents.llm_agent import AgentAction
from hiergym.envs.common import text_space
from hiergym.info_keys import InfoKeys
from hiergym.types import Generation

_unseeded = itertools.count()


class CountdownEnv(gym.Env):
    """Episode of ``2 + seed % 3`` steps; reward 1 per step whose text contains 'go'; won if all steps said 'go'."""

    def __init__(self, crash_marker: str | None = None, crash_seed: int = -1, hard_exit: bool = True, ignore_seed: bool = False):
        self.observation_space = text_space(64)
        self.action_space = text_space(64)
        self.crash_marker, self.crash_seed, self.hard_exit, self.ignore_seed = crash_marker, crash_seed, hard_exit, ignore_seed

    def _obs(self):
        start = next(_unseeded) if self.ignore_seed else self.seed_
        return f"left {self.left}", {InfoKeys.ANCHOR_STATE: (start, self.left), InfoKeys.ANCHOR: f"{start}:{self.left}"}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.seed_ = seed
        self.left = 2 + seed % 3
        self.all_go = True
        return self._obs()

    def step(self, action):
        if self.crash_marker and self.seed_ == self.crash_seed and not Path(self.crash_marker).exists():
            Path(self.crash_marker).touch()
            if self.hard_exit:
                os._exit(3)  # the worker process dies mid-episode
            raise RuntimeError("env bug")
        ok = "go" in action
        self.all_go &= ok
        self.left -= 1
        obs, info = self._obs()
        info.update({InfoKeys.WON: self.left == 0 and self.all_go, InfoKeys.ACTION_VALID: ok})
        return obs, float(ok), self.left == 0, False, info


def make_countdown(env_id: str, **kwargs) -> CountdownEnv:
    return CountdownEnv(**kwargs)


class ScriptedAgent:
    """Says 'go' except on observations listed in ``stall_on``; counts batched calls."""

    def __init__(self, stall_on: tuple[str, ...] = ()):
        self.calls: list[int] = []
        self.stall_on = stall_on

    def act(self, observations, sampling=None):
        self.calls.append(len(observations))
        out = []
        for o in observations:
            text = "<action>wait</action>" if o in self.stall_on else "<action>go</action>"
            gen = Generation([1, 2], [3, 4], [-0.1, -0.2], text)
            out.append(AgentAction(text, text[8:-9], True, [gen]))
        return out
