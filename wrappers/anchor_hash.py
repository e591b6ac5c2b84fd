"""AnchorHash: put a stable digest of the true state in ``info["anchor"]``."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from hiergym.info_keys import InfoKeys
from hiergym.wrappers.canonical import state_digest


_IMMUTABLE = (tuple, frozenset, str, bytes)


def _cacheable(state: Any) -> bool:
    """True when ``state`` cannot change in place: an immutable container whose contents all hash."""
    if type(state) not in _IMMUTABLE:
        return False
    try:
        hash(state)
    except TypeError:  # e.g. a tuple holding a list or an array
        return False
    return True


def anchor_of(observation: Any, info: dict[str, Any]) -> str:
    """Digest of ``info["anchor_state"]``; falls back to the observation (as verl-agent does) without one."""
    state = info.get(InfoKeys.ANCHOR_STATE)
    return state_digest(("obs", observation) if state is None else ("state", state))


class AnchorHash(gym.Wrapper):
    """Adds ``info["anchor"]``: blake2b of the canonical anchor state, the GiGPO step-group key.

    Identical true states reached by different action orders share an anchor, across
    processes and Python runs. Envs without ``anchor_state`` are keyed by their
    observation instead, which merges states that look alike (document that for your env).

    When an env hands back the very same immutable ``anchor_state`` object as on the previous
    step (TextWorld does while its facts do not change), the previous digest is reused.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._last: tuple[Any, str] | None = None  # (anchor_state, digest); the reference keeps the id unique

    def _anchor(self, obs: Any, info: dict[str, Any]) -> str:
        state = info.get(InfoKeys.ANCHOR_STATE)
        last = self._last
        if last is not None and state is last[0]:
            return last[1]
        digest = anchor_of(obs, info)
        if state is not None and _cacheable(state):
            self._last = (state, digest)
        return digest

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        info[InfoKeys.ANCHOR] = self._anchor(obs, info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info[InfoKeys.ANCHOR] = self._anchor(obs, info)
        return obs, reward, terminated, truncated, info


class ParallelAnchorHash:
    """The PettingZoo ``ParallelEnv`` counterpart: adds ``infos[agent]["anchor"]`` for every agent.

    The anchor is the digest of the env's global ``anchor_state`` (from any agent's info) or, without
    one, of ``env.state()``; all agents at one step share it.
    """

    def __init__(self, env: Any):
        self.env = env

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.env, name)

    def _annotate(self, infos: dict[str, dict[str, Any]]) -> None:
        state = next((i[InfoKeys.ANCHOR_STATE] for i in infos.values() if InfoKeys.ANCHOR_STATE in i), None)
        anchor = state_digest(("state", state) if state is not None else ("global", self.env.state()))
        for info in infos.values():
            info[InfoKeys.ANCHOR] = anchor

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        obs, infos = self.env.reset(seed=seed, options=options)
        self._annotate(infos)
        return obs, infos

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        obs, rewards, terms, truncs, infos = self.env.step(actions)
        self._annotate(infos)
        return obs, rewards, terms, truncs, infos
