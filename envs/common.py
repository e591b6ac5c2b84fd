"""Conventions every hiergym env shares: text spaces, the invalid-action penalty, action flags.

Text spaces get an explicit printable charset: Gymnasium's default Text charset is
alphanumeric only, so ``Text(n).contains("go north")`` would be False and
``check_env`` would fail on any sentence.
"""

from __future__ import annotations

import re
import string
from typing import Any

from gymnasium import spaces

from hiergym.info_keys import InfoKeys

INVALID_ACTION_PENALTY = -0.1
"""Default reward for an action that is malformed or not admissible (docs/design.md, section 3)."""

TEXT_CHARSET = frozenset(string.printable)
"""Characters an env may emit in a text observation and must accept in a text action."""

MAX_OBS_CHARS = 8192
MAX_ACTION_CHARS = 512


def text_space(max_length: int, *, min_length: int = 0) -> spaces.Text:
    """A ``spaces.Text`` over printable ASCII that bounds every string the env emits or accepts."""
    return spaces.Text(max_length=max_length, min_length=min_length, charset=TEXT_CHARSET)


_NOT_PRINTABLE = re.compile("[^" + re.escape(string.printable) + "]")


def clip_text(text: str, max_length: int = MAX_OBS_CHARS) -> str:
    """Map text into ``text_space``: non-printable characters become '?', length is capped."""
    return _NOT_PRINTABLE.sub("?", text[:max_length])


def normalize_command(action: Any) -> str | None:
    """Lower-case, whitespace-collapsed command string, or None for non-strings."""
    if isinstance(action, bytes):
        action = action.decode("utf-8", errors="replace")
    if not isinstance(action, str):
        return None
    return " ".join(action.lower().split())


def action_flags(*, format_ok: bool, admissible: bool, effective: bool) -> dict[str, bool]:
    """The three separate validity flags plus ``action_valid`` = format ok and admissible."""
    return {
        InfoKeys.ACTION_FORMAT_OK: bool(format_ok),
        InfoKeys.ACTION_ADMISSIBLE: bool(admissible),
        InfoKeys.ACTION_EFFECTIVE: bool(effective),
        InfoKeys.ACTION_VALID: bool(format_ok and admissible),
    }
