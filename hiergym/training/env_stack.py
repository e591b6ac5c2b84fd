"""The env stack an LLM trains in: a registered env wrapped to take LLM text and give prompts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hiergym.info_keys import InfoKeys
from hiergym.training.configs import EnvConfig
from hiergym.types import Trajectory


@dataclass(frozen=True)
class TextEnvMaker:
    """Picklable ``env_id -> env`` for the collector: ``AnchorHash -> TextActions [-> SubgoalHooks] -> History``."""

    max_episode_steps: int | None = None
    history_k: int = 0
    template: str | None = None
    subgoals: str = "off"
    """``off``, ``env`` or ``proposed`` (``EnvConfig.subgoals``)."""
    subgoal_bonus: float = 1.0
    subgoal_step_cost: float = 0.0
    subgoal_max_steps: int | None = None
    require_tags: bool = True
    """``EnvConfig.require_tags``: False also takes a bare answer (``up``) as the command."""

    def __call__(self, env_id: str) -> Any:
        import hiergym
        from hiergym.wrappers import AnchorHash, History, PromptTemplate, SubgoalHooks, TextActions

        kwargs = {} if self.max_episode_steps is None else {"max_episode_steps": self.max_episode_steps}
        env = TextActions(AnchorHash(hiergym.make(env_id, **kwargs)), require_tags=self.require_tags)
        if self.subgoals != "off":
            env = SubgoalHooks(
                env,
                max_segment_steps=self.subgoal_max_steps,
                subgoal_bonus=self.subgoal_bonus,
                step_cost=self.subgoal_step_cost,
                follow_env=self.subgoals == "env",
                adopt_proposed=self.subgoals == "proposed",
            )
        template = PromptTemplate.from_file(self.template) if self.template else None
        return History(env, k=self.history_k, template=template)

    @classmethod
    def from_config(cls, env: EnvConfig) -> TextEnvMaker:
        return cls(env.max_episode_steps, env.history_k, env.template, env.subgoals, env.subgoal_bonus, env.subgoal_step_cost, env.subgoal_max_steps, env.require_tags)

    def episode_hooks(self) -> list[Callable[[Trajectory], None]]:
        """Collector ``on_episode`` hooks this stack needs: segments into ``Trajectory.segments`` with subgoals on."""
        from hiergym.wrappers.subgoal_hooks import record_segments

        return [record_segments] if self.subgoals != "off" else []


def env_corpus(make_env: Callable[[str], Any], env_id: str, seeds: Sequence[int], *, max_steps: int = 30) -> list[str]:
    """Prompts and messages an env shows under random play (plus a malformed answer): a tiny model's vocabulary."""
    texts = []
    for seed in seeds:
        env = make_env(env_id)
        obs, info = env.reset(seed=int(seed))
        texts.append(obs)
        rng = np.random.default_rng(seed)
        actions = list(info.get(InfoKeys.ADMISSIBLE_ACTIONS) or ["noop"])
        for step in range(max_steps):
            answer = "" if step == 0 else f"<action>{actions[rng.integers(len(actions))]}</action>"
            obs, _, terminated, truncated, info = env.step(answer)
            texts.append(obs)
            texts.extend(info.get(InfoKeys.ADMISSIBLE_ACTIONS) or [])
            if terminated or truncated:
                break
        env.close()
    return texts
