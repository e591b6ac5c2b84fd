"""Parsing the env's text actions: ``search[query]``, ``open[doc_id]``, ``answer[text]``.

The tool name is case-insensitive and may have spaces around it; the argument is everything
between the first ``[`` and the last ``]`` (so brackets inside a query are kept), stripped.
Anything else, an empty argument, or a non-string action is malformed: ``parse_action``
returns a ``ParseFailure`` saying why, and never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TOOLS = ("search", "open", "answer")
USAGE = "Use search[query], open[doc_id] or answer[text]."

_ACTION_RE = re.compile(r"\s*([A-Za-z]+)\s*\[(.*)\]\s*", re.DOTALL)


@dataclass(frozen=True)
class ToolCall:
    tool: str
    """One of ``TOOLS``."""
    argument: str


@dataclass(frozen=True)
class ParseFailure:
    reason: str


def parse_action(action: Any) -> ToolCall | ParseFailure:
    """``ToolCall`` for a well-formed action, else ``ParseFailure`` with a reason an agent can read."""
    if isinstance(action, bytes):
        action = action.decode("utf-8", errors="replace")
    if not isinstance(action, str):
        return ParseFailure(f"the action must be text, not {type(action).__name__}")
    m = _ACTION_RE.fullmatch(action)
    if m is None:
        return ParseFailure("the action is not of the form tool[argument]")
    tool = m.group(1).lower()
    if tool not in TOOLS:
        return ParseFailure(f"unknown tool {tool[:20]!r}")
    argument = " ".join(m.group(2).split())
    if not argument:
        return ParseFailure(f"{tool}[] needs an argument")
    return ToolCall(tool, argument)
