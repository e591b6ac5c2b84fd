"""AnchorHash: put a stable digest of the true state in ``info["anchor"]``.

``anchor_of`` is the one home of the step-group key and of its fallback for envs that give no
true state: the wrapper, the collector and the GiGPO estimator all call it.
"""

from __future__ import annotations

from typing import Any, Literal

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


AnchorFallback = Literal["observation", "none"]
"""What keys a state when the env gives no ``anchor_state``: the observation text (``"observation"``,
what verl-agent does; states that look alike merge) or nothing (``"none"``: no key, so GiGPO makes
the turn a step group of its own, A^S = 0)."""
ANCHOR_FALLBACKS: tuple[str, ...] = ("observation", "none")


def anchor_of(observation: Any, info: dict[str, Any], fallback: AnchorFallback = "observation") -> str | None:
    """The step-group key of the state ``observation`` was seen in.

    In order: ``info["anchor"]`` when a wrapper already set it; the digest of ``info["anchor_state"]``;
    without a state, the ``fallback``: the digest of the observation, or None. State and observation
    digests live in separate key spaces, so an observation never collides with a state.
    """
    anchor = info.get(InfoKeys.ANCHOR)
    if anchor is not None:
        return str(anchor)
    return _digest(observation, info.get(InfoKeys.ANCHOR_STATE), fallback)


def _digest(observation: Any, state: Any, fallback: AnchorFallback) -> str | None:
    if state is not None:
        return state_digest(("state", state))
    if fallback == "observation":
        return state_digest(("obs", observation))
    if fallback == "none":
        return None
    raise ValueError(f"fallback={fallback!r} is not allowed: one of {ANCHOR_FALLBACKS}")


class AnchorHash(gym.Wrapper):
    """Adds ``info["anchor"]``: blake2b of the canonical anchor state, the GiGPO step-group key.

    Identical true states reached by different action orders share an anchor, across
    processes and Python runs. For envs without ``anchor_state``, ``fallback`` decides:
    ``"none"`` (default) leaves ``info["anchor"] = None`` so the learner applies its own
    fallback (``GiGPOConfig.anchor_fallback``); ``"observation"`` keys the state by its
    observation here, which merges states that look alike (document that for your env).

    When an env hands back the very same immutable ``anchor_state`` object as on the previous
    step (TextWorld does while its facts do not change), the previous digest is reused.
    """

    def __init__(self, env: gym.Env, fallback: AnchorFallback = "none"):
        super().__init__(env)
        if fallback not in ANCHOR_FALLBACKS:
            from hiergym.error import ConfigError

            raise ConfigError("fallback", fallback, f"one of {ANCHOR_FALLBACKS}")
        self.fallback = fallback
        self._last: tuple[Any, str] | None = None  # (anchor_state, digest); the reference keeps the id unique

    def _anchor(self, obs: Any, info: dict[str, Any]) -> str | None:
        state = info.get(InfoKeys.ANCHOR_STATE)
        last = self._last
        if last is not None and state is last[0]:
            return last[1]
        digest = _digest(obs, state, self.fallback)
        if state is not None and _cacheable(state):
            self._last = (state, digest)
        return digest

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the env and add ``info["anchor"]``."""
        obs, info = self.env.reset(**kwargs)
        info[InfoKeys.ANCHOR] = self._anchor(obs, info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env and add ``info["anchor"]``."""
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
        """Reset the env and add the shared anchor to every agent's info."""
        obs, infos = self.env.reset(seed=seed, options=options)
        self._annotate(infos)
        return obs, infos

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Step the env and add the shared anchor to every agent's info."""
        obs, rewards, terms, truncs, infos = self.env.step(actions)
        self._annotate(infos)
        return obs, rewards, terms, truncs, infos
