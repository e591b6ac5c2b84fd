"""Parse LLM text into an env command: ``<think>``, ``<action>``, and HiPER-style ``<switch>``/``<subgoal>``.

Pure functions: the parser never raises on any input; a malformed answer is
reported through ``ParsedAction.format_ok`` and ``error`` so the env can treat
it as an invalid action with a penalty.

Parsing takes time linear in the answer's length (each tag is found by one forward
scan for its opening and one for its closing), and answers longer than
``MAX_ANSWER_CHARS`` are rejected as malformed before any tag is looked for, so a
hostile or runaway answer costs at most one bounded scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_ACTION_CHARS = 512
MAX_ANSWER_CHARS = 65536
"""Longest answer the parser reads (characters, after decoding bytes). A longer answer is
malformed ("the answer is longer than ..."): under ``TextActions`` it is an invalid action with
the env's invalid-action penalty plus ``format_penalty``, like any other malformed answer. 64 Ki
characters is ~16k tokens, beyond any generation budget the trainers use."""
SWITCH_VALUES = ("KEEP", "SWITCH")

_NAMES = ("think", "action", "switch", "subgoal")
_OPEN = {name: re.compile(rf"<{name}>", re.IGNORECASE) for name in _NAMES}
_CLOSE = {name: re.compile(rf"</{name}>", re.IGNORECASE) for name in _NAMES}
_OPEN_LITERAL = {name: f"<{name}>" for name in _NAMES}
_CLOSE_LITERAL = {name: f"</{name}>" for name in _NAMES}
"""For ASCII text, finding ``_OPEN_LITERAL[name]`` in ``text.lower()`` is exactly where ``_OPEN[name]``
matches (no regex needed). Non-ASCII text goes through the regexes, whose IGNORECASE also folds e.g.
the Kelvin sign to k."""


@dataclass(frozen=True)
class ParsedAction:
    """What an LLM answer means. ``action`` is None exactly when ``format_ok`` is False."""

    action: str | None
    format_ok: bool
    error: str | None = None
    think: str | None = None
    switch: str | None = None  # "KEEP" | "SWITCH" | None
    subgoal: str | None = None


def _find(literal: str, pattern: re.Pattern[str], text: str, lower: str | None, start: int) -> tuple[int, int] | None:
    """(start, end) of the first case-insensitive occurrence of a tag at or after ``start``."""
    if lower is not None:
        i = lower.find(literal, start)
        return None if i < 0 else (i, i + len(literal))
    m = pattern.search(text, start)
    return None if m is None else m.span()


def _block(name: str, text: str, lower: str | None, start: int = 0) -> tuple[int, int, int, int] | None:
    """Spans (open start, content start, content end, close end) of the first complete block at or after ``start``.

    Same match as ``re.search(r"<name>(.*?)</name>", re.DOTALL | re.IGNORECASE)`` but linear: if the
    first opening tag has no closing tag after it, no later opening tag has one either.
    """
    opened = _find(_OPEN_LITERAL[name], _OPEN[name], text, lower, start)
    if opened is None:
        return None
    closed = _find(_CLOSE_LITERAL[name], _CLOSE[name], text, lower, opened[1])
    if closed is None:
        return None
    return opened[0], opened[1], closed[0], closed[1]


def _first(name: str, text: str, lower: str | None) -> str | None:
    span = _block(name, text, lower)
    return None if span is None else " ".join(text[span[1] : span[2]].split())


def _opens(name: str, text: str, lower: str | None) -> bool:
    return _find(_OPEN_LITERAL[name], _OPEN[name], text, lower, 0) is not None


def _without_blocks(name: str, text: str, lower: str | None) -> str:
    """``text`` with every complete ``name`` block replaced by a space (like the regex's ``sub``), in linear time."""
    pieces, pos = [], 0
    while (span := _block(name, text, lower, pos)) is not None:
        pieces.append(text[pos : span[0]])
        pieces.append(" ")
        pos = span[3]
    pieces.append(text[pos:])
    return "".join(pieces)


def _malformed(error: str, **parts: Any) -> ParsedAction:
    return ParsedAction(action=None, format_ok=False, error=error, **parts)


def parse_llm_output(text: Any, *, require_tags: bool = True) -> ParsedAction:
    """Parse one LLM answer.

    The first complete ``<action>...</action>`` block is the command (whitespace collapsed).
    ``require_tags=False`` also accepts bare text as the command (for people and simple
    scripted agents). ``<switch>`` must be KEEP or SWITCH when present; a ``<subgoal>`` is
    returned as text. Empty, unclosed, over-long or tag-less answers are malformed, and so is
    an answer longer than ``MAX_ANSWER_CHARS``.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return _malformed(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_ANSWER_CHARS:
        return _malformed(f"the answer is longer than {MAX_ANSWER_CHARS} characters")
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
        action = " ".join(_without_blocks("think", text, lower).split())
    if not action:
        return _malformed("the action is empty", **parts)
    if len(action) > MAX_ACTION_CHARS:
        return _malformed(f"the action is longer than {MAX_ACTION_CHARS} characters", **parts)
    return ParsedAction(action=action, format_ok=True, **parts)
