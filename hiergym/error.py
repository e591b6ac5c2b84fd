"""Typed exceptions: every error says what was wrong and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HierGymError(Exception):
    """Base class of every error hiergym raises on purpose."""


class UnknownEnvError(HierGymError, KeyError):
    """An environment id that is not registered."""

    def __init__(self, env_id: str, known: Iterable[str]):
        known = sorted(known)
        close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"Unknown environment id {env_id!r}.{hint} Run `hiergym list` to see all ids.")
        self.env_id = env_id
        self.suggestions = close

    def __reduce__(self) -> tuple[type, tuple[str, list[str]]]:  # rebuilt in the parent of a worker process
        return type(self), (self.env_id, self.suggestions)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class ConfigError(HierGymError, ValueError):
    """A configuration value that is out of range or inconsistent with another field."""

    def __init__(self, field: str, value: object, allowed: str):
        super().__init__(f"{field}={value!r} is not allowed: {allowed}")
        self.field = field
        self.value = value
        self.allowed = allowed

    def __reduce__(self) -> tuple[type, tuple[str, object, str]]:  # rebuilt in the parent of a worker process
        return type(self), (self.field, self.value, self.allowed)


class EnvSpecError(ConfigError):
    """Bad keyword arguments to an environment constructor (e.g. more boxes than fit)."""


class GroupMismatchError(HierGymError, RuntimeError):
    """The copies of one task group did not start from the same state (a seed was ignored)."""


class ParseError(HierGymError, ValueError):
    """LLM text that could not be parsed; wrappers turn it into an invalid action, never raise it to the env."""
