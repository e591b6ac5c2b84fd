"""Wrappers: anchor-state hashing, subgoal hooks, LLM text actions, history prompts.

Each is a thin ``gymnasium.Wrapper`` with one job; they compose in any order, though the
usual stack (inner to outer) is ``AnchorHash -> TextActions -> SubgoalHooks -> History``.
"""

from hiergym.wrappers.anchor_hash import AnchorHash, ParallelAnchorHash, anchor_of
from hiergym.wrappers.canonical import canonical, state_digest
from hiergym.wrappers.history import History, PromptTemplate
from hiergym.wrappers.parsing import ParsedAction, parse_llm_output
from hiergym.wrappers.subgoal_hooks import SubgoalHooks, match_subgoal
from hiergym.wrappers.text_actions import MALFORMED_COMMAND, TextActions

__all__ = [
    "AnchorHash",
    "History",
    "MALFORMED_COMMAND",
    "ParallelAnchorHash",
    "ParsedAction",
    "PromptTemplate",
    "SubgoalHooks",
    "TextActions",
    "anchor_of",
    "canonical",
    "match_subgoal",
    "parse_llm_output",
    "state_digest",
]
