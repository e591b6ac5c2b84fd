"""Prompts and answer formats of the hierarchical agent: the planner's blueprint, the executor's subgoal prompt.

Templates are data (``HierarchicalPrompts``); placeholders are checked when a template is built.
``parse_blueprint`` turns a planner answer into a list of subgoals and never raises: an answer
without a usable plan is reported through ``Blueprint.format_ok`` / ``error`` so the agent can fall
back to one subgoal (the task goal) and count a format penalty.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import NamedTuple

from hiergym.error import ConfigError

PLAN_OPEN, PLAN_CLOSE = "<plan>", "</plan>"
"""The planner writes its blueprint between these tags (``</plan>`` is its stop string)."""
DONE_TAG = "<done>"
"""Written by the executor before its ``<action>``: this action completes the current subgoal."""
ANSWER_TAGS = (PLAN_OPEN, PLAN_CLOSE, DONE_TAG)
"""Tags a tiny model's vocabulary needs for the hierarchical formats (besides the action tags)."""

_FIELDS = {
    "planner": {"task", "observation", "max_subgoals"},
    "executor": {"task", "subgoal", "history", "observation", "admissible"},
    "executor_turn": {"observation", "action"},
    "switch": {"observation", "subgoal"},
}


@dataclass(frozen=True)
class HierarchicalPrompts:
    """Format strings of the planner, executor and switch prompts.

    - ``planner``: ``{task}``, ``{observation}`` (the env's first observation), ``{max_subgoals}``
    - ``executor``: ``{task}``, ``{subgoal}``, ``{history}`` (the segment's last turns rendered with
      ``executor_turn``), ``{observation}``, ``{admissible}`` (comma-separated, may be empty)
    - ``executor_turn``: ``{observation}``, ``{action}``
    - ``switch``: ``{observation}`` (the ``History`` prompt), ``{subgoal}`` (the open one, or ``none``)
    """

    planner: str = (
        "{task}\n{observation}\nPlan: list at most {max_subgoals} subgoals in order, as <plan>1. ... 2. ...</plan>\n"
    )
    executor: str = (
        "{task}\nSubgoal: {subgoal}\n{history}{observation}\nAllowed: {admissible}\n"
        "Answer with <action>...</action>; write <done> before it when this action completes the subgoal.\n"
    )
    executor_turn: str = "{observation}\n> {action}\n"
    switch: str = (
        "{observation}Subgoal: {subgoal}\n"
        "Answer <switch>KEEP</switch> or <switch>SWITCH</switch><subgoal>...</subgoal>, then <action>...</action>.\n"
    )

    def __post_init__(self) -> None:
        for part, allowed in _FIELDS.items():
            text = getattr(self, part)
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
            unknown = used - allowed
            if unknown:
                raise ConfigError(f"HierarchicalPrompts.{part}", text, f"placeholders {sorted(allowed)} only; unknown {sorted(unknown)}")

    def words(self) -> list[str]:
        """Every template's text (with placeholders blanked): what a tiny model's vocabulary must cover."""
        return [getattr(self, part).replace("{", " ").replace("}", " ") for part in _FIELDS]


class Blueprint(NamedTuple):
    """A parsed planner answer: the subgoals in order; ``format_ok`` False means no usable plan was found."""

    subgoals: list[str]
    format_ok: bool
    duplicates: int = 0
    """Subgoals dropped because they repeat an earlier one (case- and space-insensitive)."""
    truncated: int = 0
    """Subgoals dropped beyond ``max_subgoals``."""
    error: str | None = None


_NUMBERING = re.compile(r"^\s*(?:\d+\s*[.):]|[-*])\s*")
_INLINE_NUMBER = re.compile(r"\s(?=\d+\.\s)")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def parse_blueprint(text: str, *, max_subgoals: int = 8) -> Blueprint:
    """The subgoals of a ``<plan>...</plan>`` answer: one per line, per ``;`` or per inline ``N.``, numbering removed.

    Never raises. No closed plan block, or a block without any item, is ``format_ok=False``;
    repeated subgoals (after normalising case and spaces) are dropped and counted, and so are
    items beyond ``max_subgoals``.
    """
    lower = text.lower() if isinstance(text, str) else ""
    start = lower.find(PLAN_OPEN)
    end = lower.find(PLAN_CLOSE, start + len(PLAN_OPEN)) if start >= 0 else -1
    if start < 0 or end < 0:
        return Blueprint([], False, error="no <plan>...</plan> in the answer")
    body = text[start + len(PLAN_OPEN) : end]
    pieces = [p for line in re.split(r"[\n;]", body) for p in _INLINE_NUMBER.split(line)]
    items = [" ".join(_NUMBERING.sub("", p).split()) for p in pieces]
    subgoals: list[str] = []
    seen: set[str] = set()
    duplicates = 0
    for item in items:
        if not item:
            continue
        key = _norm(item)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        subgoals.append(item)
    if not subgoals:
        return Blueprint([], False, duplicates, error="the plan lists no subgoal")
    truncated = max(len(subgoals) - max_subgoals, 0)
    notes = [f"dropped {duplicates} repeated subgoal(s)"] if duplicates else []
    if truncated:
        notes.append(f"dropped {truncated} subgoal(s) beyond max_subgoals={max_subgoals}")
    return Blueprint(subgoals[:max_subgoals], True, duplicates, truncated, "; ".join(notes) or None)


def format_blueprint(subgoals: list[str]) -> str:
    """The answer a planner should give for ``subgoals`` (the inverse of ``parse_blueprint``; used for demonstrations)."""
    return PLAN_OPEN + "\n".join(f"{i}. {s}" for i, s in enumerate(subgoals, 1)) + PLAN_CLOSE
