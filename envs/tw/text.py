"""Cleaning TextWorld's interpreter output and screening commands before they reach it."""

from __future__ import annotations

import re
import string

BANNER_CHARS = frozenset(" _|$\\/<>")
"""Characters of the ASCII-art "TextWorld" title printed at the start of every game."""

_STATUS_LINE = re.compile(r"\n*>?[ \t]*-= [^\n]* =-[^\n]*\Z")
"""The interpreter's prompt and status bar (``>   -= Kitchen =-3/12``) glued to the end of the text."""

_BLANK_RUNS = re.compile(r"\n{3,}")

DICTIONARY_WORD_ZCHARS = 9
"""Z-machine v5+ dictionary words hold 9 Z-characters: the game's parser reads only that much of a
typed word, so ``transcriptxyz`` and ``transcripts`` both are the dictionary word ``transcrip``."""
_ALPHABET_A0 = frozenset(string.ascii_lowercase)  # 1 Z-character each
_ALPHABET_A2 = frozenset("^0123456789.,!?_#'\"/\\-:()")  # a shift plus the character: 2 each
_ZSCII_ESCAPE_ZCHARS = 4  # anything else: shift, escape and two 5-bit halves

META_VERBS = frozenset({
    # Inform 7 Standard Rules: out-of-world actions (files, interpreter settings, score report)
    "quit", "q", "die", "restart", "restore", "save", "verify", "version",
    "script", "transcript", "unscript", "noscript",
    "superbrief", "short", "verbose", "long", "brief", "normal",
    "notify", "nouns", "pronouns", "score", "fullscore", "full",
    # words the parser acts on itself before any verb: undo, correct the last command, repeat it
    "undo", "oops", "o", "again", "g",
    # TextWorld's debug command that prints the whole hidden world state
    "print_state",
})
"""First words the game handles outside its world: file access (``save``, ``script``/``transcript``),
restarts and undo that TextWorld's state tracking cannot follow, and commands that change or
repeat earlier input. Matched as the game's parser matches them (``META_FORMS``)."""


def dictionary_form(word: str) -> str:
    """``word`` as the game's dictionary stores it: cut after ``DICTIONARY_WORD_ZCHARS`` Z-characters."""
    used = 0
    for i, ch in enumerate(word):
        used += 1 if ch in _ALPHABET_A0 else 2 if ch in _ALPHABET_A2 else _ZSCII_ESCAPE_ZCHARS
        if used > DICTIONARY_WORD_ZCHARS:
            return word[:i]
    return word


META_FORMS = frozenset(dictionary_form(v) for v in META_VERBS)
"""Dictionary forms of ``META_VERBS``: a typed first word with one of these forms is refused."""

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
    if dictionary_form(verb) in META_FORMS or verb.startswith(TRACKER_PREFIX):
        return META_COMMAND_FEEDBACK
    if COMMAND_SEPARATORS.search(command):
        return MULTI_COMMAND_FEEDBACK
    if len(command) > MAX_COMMAND_CHARS:
        return LONG_COMMAND_FEEDBACK
    if not set(command) <= COMMAND_CHARSET:
        return ODD_COMMAND_FEEDBACK
    return None
