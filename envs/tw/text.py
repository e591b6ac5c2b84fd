"""Cleaning TextWorld's interpreter output and screening commands before they reach it."""

from __future__ import annotations

import re
import string

BANNER_CHARS = frozenset(" _|$\\/<>")
"""Characters of the ASCII-art "TextWorld" title printed at the start of every game."""

_STATUS_LINE = re.compile(r"\n*>?[ \t]*-= [^\n]* =-[^\n]*\Z")
"""The interpreter's prompt and status bar (``>   -= Kitchen =-3/12``) glued to the end of the text."""

_BLANK_RUNS = re.compile(r"\n{3,}")

META_VERBS = frozenset({"quit", "q", "restart", "restore", "save", "undo", "script", "unscript", "transcript", "noscript"})
"""Interpreter commands that would leave TextWorld's state tracking behind (or wait for a yes/no)."""

TRACKER_PREFIX = "tw-"  # TextWorld's own debug commands (tw-trace-actions, tw-extra-infos)
COMMAND_SEPARATORS = re.compile(r"[.;,]|\bthen\b")  # Inform would run several commands in one step

MAX_COMMAND_CHARS = 120
"""Longest command sent to the interpreter (TextWorld's own commands are under 60 characters)."""
COMMAND_CHARSET = frozenset(string.ascii_lowercase + string.digits + " -'")
"""Characters of TextWorld commands (after lower-casing); anything else never reaches the interpreter."""

EMPTY_COMMAND_FEEDBACK = "I beg your pardon?"
ODD_COMMAND_FEEDBACK = "I only understand commands made of words, such as 'open the door'."
LONG_COMMAND_FEEDBACK = "That command is too long."
META_COMMAND_FEEDBACK = "That command is not available in this game."
MULTI_COMMAND_FEEDBACK = "One command at a time, please."


def clean_feedback(text: str) -> str:
    """Interpreter output without the title banner, the status bar, indentation and runs of blank lines."""
    # A status-line match holds no newline but its leading run, so it lies in the last line and the
    # newlines just before it: searching only there gives the same result without scanning every line.
    cut = len(text[: text.rfind("\n") + 1].rstrip("\n"))
    text = text[:cut] + _STATUS_LINE.sub("", text[cut:])
    lines = [line.strip() for line in text.split("\n")]
    start = 0
    while start < len(lines) and set(lines[start]) <= BANNER_CHARS:
        start += 1
    text = "\n".join(lines[start:])
    return (_BLANK_RUNS.sub("\n\n", text) if "\n\n\n" in text else text).strip()


def refusal(command: str) -> str | None:
    """Feedback for a command that must not be sent to the interpreter, or None when it may be sent.

    ``command`` is already normalised (lower case, single spaces).
    """
    if not command:
        return EMPTY_COMMAND_FEEDBACK
    verb = command.split(" ", 1)[0]
    if verb in META_VERBS or verb.startswith(TRACKER_PREFIX):
        return META_COMMAND_FEEDBACK
    if COMMAND_SEPARATORS.search(command):
        return MULTI_COMMAND_FEEDBACK
    if len(command) > MAX_COMMAND_CHARS:
        return LONG_COMMAND_FEEDBACK
    if not set(command) <= COMMAND_CHARSET:
        return ODD_COMMAND_FEEDBACK
    return None
