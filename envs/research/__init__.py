"""Research tasks for main + sub-agents: multi-hop questions over a generated knowledge base (``hiergym/MultiHop-v0``)."""

from hiergym.envs.research.env import MultiHopEnv
from hiergym.envs.research.index import FTS5UnavailableError, query_terms
from hiergym.envs.research.kb import KnowledgeBase
from hiergym.envs.research.questions import Question
from hiergym.envs.research.scoring import exact_match, f1_score, normalize_answer
from hiergym.envs.research.solver import expert_plan
from hiergym.envs.research.tools import ToolResult, run_tool


def multihop_expert(env: MultiHopEnv) -> list[str]:
    """Expert actions from the current state of an unwrapped ``MultiHopEnv`` (a warm-start ``expert`` entry point)."""
    return env.solve()


__all__ = [
    "FTS5UnavailableError",
    "KnowledgeBase",
    "MultiHopEnv",
    "Question",
    "ToolResult",
    "exact_match",
    "expert_plan",
    "f1_score",
    "multihop_expert",
    "normalize_answer",
    "query_terms",
    "run_tool",
]
