"""Parse LLM text into an env command: ``<think>``, ``<action>``, and HiPER-style ``<switch>``/``<subgoal>``.

Pure functions: the parser never raises on any input; a malformed answer is
reported through ``ParsedAction.format_ok`` and ``error`` so the env can treat
it as an invalid action with a penalty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_ACTION_CHARS = 512
SWITCH_VALUES = ("KEEP", "SWITCH")

_TAG = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.DOTALL | re.IGNORECASE) for name in ("think", "action", "switch", "subgoal")}
_OPEN = {name: re.compile(rf"<{name}>", re.IGNORECASE) for name in ("action", "switch", "subgoal")}
_LITERAL = {name: f"<{name}>" for name in _TAG}
"""For ASCII text, ``_LITERAL[name] in text.lower()`` is exactly "``_OPEN[name]`` matches" (no regex needed)."""


@dataclass(frozen=True)
class ParsedAction:
    """What an LLM answer means. ``action`` is None exactly when ``format_ok`` is False."""

    action: str | None
    format_ok: bool
    error: str | None = None
    think: str | None = None
    switch: str | None = None  # "KEEP" | "SWITCH" | None
    subgoal: str | None = None


def _first(name: str, text: str, lower: str | None) -> str | None:
    if lower is not None and _LITERAL[name] not in lower:  # no opening tag: the regex cannot match
        return None
    m = _TAG[name].search(text)
    return " ".join(m.group(1).split()) if m else None


def _opens(name: str, text: str, lower: str | None) -> bool:
    return _LITERAL[name] in lower if lower is not None else _OPEN[name].search(text) is not None


def _malformed(error: str, **parts: Any) -> ParsedAction:
    return ParsedAction(action=None, format_ok=False, error=error, **parts)


def parse_llm_output(text: Any, *, require_tags: bool = True) -> ParsedAction:
    """Parse one LLM answer.

    The first complete ``<action>...</action>`` block is the command (whitespace collapsed).
    ``require_tags=False`` also accepts bare text as the command (for people and simple
    scripted agents). ``<switch>`` must be KEEP or SWITCH when present; a ``<subgoal>`` is
    returned as text. Empty, unclosed, over-long or tag-less answers are malformed.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return _malformed(f"expected text, got {type(text).__name__}")
    # Case-insensitive matching of the ASCII tag names equals lower-casing only for ASCII text
    # (Unicode folds e.g. the Kelvin sign to k), so other text goes through the regexes alone.
    lower = text.lower() if text.isascii() else None
    think, subgoal = _first("think", text, lower), _first("subgoal", text, lower)
    switch = _first("switch", text, lower)
    parts = {"think": think, "subgoal": subgoal}
    if switch is not None:
        switch = switch.upper()
        if switch not in SWITCH_VALUES:
            return _malformed(f"<switch> must be KEEP or SWITCH, got {switch[:40]!r}", **parts)
    elif _opens("switch", text, lower):
        return _malformed("<switch> tag is not closed", **parts)
    parts["switch"] = switch
    if subgoal is None and _opens("subgoal", text, lower):
        return _malformed("<subgoal> tag is not closed", **parts)
    action = _first("action", text, lower)
    if action is None:
        if _opens("action", text, lower):
            return _malformed("<action> tag is not closed (answer cut off?)", **parts)
        if require_tags:
            return _malformed("no <action>...</action> in the answer", **parts)
        bare = _TAG["think"].sub(" ", text)
        action = " ".join(bare.split())
    if not action:
        return _malformed("the action is empty", **parts)
    if len(action) > MAX_ACTION_CHARS:
        return _malformed(f"the action is longer than {MAX_ACTION_CHARS} characters", **parts)
    return ParsedAction(action=action, format_ok=True, **parts)
