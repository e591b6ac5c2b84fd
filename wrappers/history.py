"""History: render the prompt from the task, the last ``k`` turns and the current observation.

Templates are data (``PromptTemplate``, loadable from TOML/JSON), not code.
"""

from __future__ import annotations

import json
import string
import tomllib
from collections import deque
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gymnasium as gym

from hiergym.envs.common import clip_text, text_space
from hiergym.error import ConfigError
from hiergym.info_keys import InfoKeys

PROMPT_MAX_CHARS = 32768
FIELDS = {
    "header": {"task"},
    "turn": {"step", "observation", "action"},
    "current": {"step", "observation", "admissible"},
}


@dataclass(frozen=True)
class PromptTemplate:
    """Format strings for the three parts of a prompt. Placeholders per part:

    - ``header``: ``{task}`` (the env's ``info["task"]``, empty when none)
    - ``turn`` (each of the last k turns): ``{step}``, ``{observation}``, ``{action}``
    - ``current``: ``{step}``, ``{observation}``, ``{admissible}`` (comma-separated, may be empty)
    """

    header: str = "{task}\n"
    turn: str = "[step {step}] {observation}\n> {action}\n"
    current: str = "[step {step}] {observation}\nAllowed: {admissible}\nAnswer with <action>...</action>.\n"

    def __post_init__(self) -> None:
        for part, allowed in FIELDS.items():
            used = {name for _, name, _, _ in string.Formatter().parse(getattr(self, part)) if name is not None}
            unknown = used - allowed
            if unknown:
                raise ConfigError(f"PromptTemplate.{part}", getattr(self, part), f"placeholders {sorted(allowed)} only; unknown {sorted(unknown)}")

    @classmethod
    def from_file(cls, path: str | Path) -> PromptTemplate:
        """Load from a ``.toml`` or ``.json`` file with keys ``header``, ``turn``, ``current``."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError("template", str(path), "an existing .toml or .json file")
        data = tomllib.loads(path.read_text()) if path.suffix == ".toml" else json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise ConfigError("template", str(path), f"keys {sorted(known)} only; unknown {sorted(extra)}")
        return cls(**data)

    def render(self, task: str, turns: list[tuple[int, str, str]], step: int, observation: str, admissible: list[str]) -> str:
        """The whole prompt: header with the task, the past turns, then the current observation and admissible actions."""
        parts = [self.header.format(task=task)]
        parts += [self.turn.format(step=s, observation=o, action=a) for s, o, a in turns]
        parts.append(self.current.format(step=step, observation=observation, admissible=", ".join(admissible)))
        return "".join(parts)


class History(gym.Wrapper):
    """The observation becomes the rendered prompt; the env's own observation stays in ``info["raw_observation"]``.

    Keeps the last ``k`` (observation, action) pairs. The recorded action is the parsed command
    when an inner ``TextActions`` parsed one, else the text the agent sent.
    """

    def __init__(self, env: gym.Env, *, k: int = 2, template: PromptTemplate | None = None, max_chars: int = PROMPT_MAX_CHARS):
        super().__init__(env)
        if not isinstance(env.observation_space, gym.spaces.Text):
            raise ConfigError("env.observation_space", type(env.observation_space).__name__, "History renders text observations only (spaces.Text)")
        if k < 0:
            raise ConfigError("k", k, "a number of past turns >= 0")
        self.k = k
        self.template = template or PromptTemplate()
        self.max_chars = max_chars
        self.observation_space = text_space(max_chars)
        # The header and each past turn are formatted (and made printable) once, when they appear;
        # a step formats only the current part. Same text as ``template.render`` then ``clip_text``,
        # since clip_text maps character by character.
        self._turns: deque[str] = deque(maxlen=k)
        self._header = ""
        self._task = ""
        self._step = 0
        self._last_obs = ""

    def _render(self, obs: str, info: dict[str, Any]) -> str:
        info[InfoKeys.RAW_OBSERVATION] = obs
        admissible = info.get(InfoKeys.ADMISSIBLE_ACTIONS)
        current = self.template.current.format(step=self._step, observation=obs, admissible=", ".join(admissible) if admissible else "")
        if not (current.isascii() and current.replace("\n", " ").isprintable()):  # else clip_text would keep it as is
            current = clip_text(current, self.max_chars)
        prompt = self._header + "".join(self._turns) + current
        return prompt if len(prompt) <= self.max_chars else prompt[: self.max_chars]

    def reset(self, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        """Reset the env, forget past turns and return the first prompt."""
        obs, info = self.env.reset(**kwargs)
        self._turns.clear()
        self._task = str(info.get(InfoKeys.TASK) or "")
        self._header = clip_text(self.template.header.format(task=self._task), self.max_chars)
        self._step = 0
        self._last_obs = obs
        return self._render(obs, info), info

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Step the env, remember the turn (up to ``k``) and return the next prompt."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.k:
            shown = info.get(InfoKeys.PARSED_ACTION) or (action if isinstance(action, str) else repr(action))
            turn = self.template.turn.format(step=self._step, observation=self._last_obs, action=" ".join(str(shown).split()))
            self._turns.append(clip_text(turn, self.max_chars))
        self._step += 1
        self._last_obs = obs
        return self._render(obs, info), reward, terminated, truncated, info
