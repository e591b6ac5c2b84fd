"""TextActions: the env takes raw LLM text; a malformed answer is an invalid action, never an exception."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

from hiergym.envs.common import action_flags, clip_text, text_space
from hiergym.error import ConfigError
from hiergym.info_keys import InfoKeys
from hiergym.wrappers.parsing import ParsedAction, parse_llm_output

MALFORMED_COMMAND = ""
"""What the inner env receives for a malformed answer: every hiergym env rejects it as an invalid
action (penalty, no state change) and still counts the step, so time limits keep working."""

LLM_TEXT_MAX_CHARS = 16384


class TextActions(gym.Wrapper):
    """Parse LLM output (``<think>``, ``<action>``, ``<switch>``/``<subgoal>``) into the env's command.

    On a malformed answer the inner env gets ``MALFORMED_COMMAND`` (its invalid-action penalty
    applies), ``info`` says ``action_format_ok=False`` / ``action_valid=False`` with the reason in
    ``parse_error``, an extra ``format_penalty`` (default 0) is added, and a text observation
    starts with what went wrong. ``info`` always carries ``raw_action`` and ``parsed_action``.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        require_tags: bool = True,
        format_penalty: float = 0.0,
        parser: Callable[[Any], ParsedAction] | None = None,
    ):
        super().__init__(env)
        if format_penalty > 0:
            raise ConfigError("format_penalty", format_penalty, "a penalty is a reward <= 0")
        self.require_tags = require_tags
        self.format_penalty = float(format_penalty)
        self.parser = parser or (lambda text: parse_llm_output(text, require_tags=require_tags))
        self.action_space = text_space(LLM_TEXT_MAX_CHARS)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Parse the model's text into a command and step the env with it; malformed text gets the format penalty."""
        parsed = self.parser(action)
        obs, reward, terminated, truncated, info = self.env.step(parsed.action if parsed.format_ok else MALFORMED_COMMAND)
        raw = action if isinstance(action, str) else repr(action)
        info[InfoKeys.RAW_ACTION] = raw
        info[InfoKeys.PARSED_ACTION] = parsed.action
        info[InfoKeys.THINK] = parsed.think
        info[InfoKeys.SWITCH] = parsed.switch
        info[InfoKeys.PROPOSED_SUBGOAL] = parsed.subgoal
        info[InfoKeys.PARSE_ERROR] = parsed.error
        if not parsed.format_ok:
            env_flags = {k: info.get(k, False) for k in (InfoKeys.ACTION_ADMISSIBLE, InfoKeys.ACTION_EFFECTIVE)}
            info.update(action_flags(format_ok=False, admissible=False, effective=env_flags[InfoKeys.ACTION_EFFECTIVE]))
            reward = float(reward) + self.format_penalty
            if isinstance(obs, str):
                limit = getattr(self.observation_space, "max_length", len(obs) + 200)
                obs = clip_text(f"Invalid answer: {parsed.error}. {obs}", limit)
        return obs, reward, terminated, truncated, info
