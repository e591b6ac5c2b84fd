"""The search tools as a stateless function: ``run_tool(kb, action, top_k)``.

The env's ``step`` runs every action through it, and a sub-agent that searches outside the
env's step loop (a searcher called by a main agent) can run the very same tools on the same
knowledge base: same parsing, same observations, same invalid-action rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hiergym.envs.research.actions import USAGE, ParseFailure, ToolCall, parse_action
from hiergym.envs.research.index import query_terms
from hiergym.envs.research.kb import KnowledgeBase, View


@dataclass(frozen=True)
class ToolResult:
    """What one action did.

    ``observation`` is the text to show. ``call`` is the parsed call (None when malformed);
    ``admissible`` says whether it could run (False for an unknown document id or a query with
    no words). ``view`` is what a search or open showed (its facts, entities and documents);
    ``terms`` the query words of a search; ``doc_id`` the document opened. An ``answer`` call is
    admissible with no view: scoring it is the caller's job (the env's reward).
    """

    observation: str
    call: ToolCall | None
    admissible: bool
    view: View | None = None
    terms: tuple[str, ...] = ()
    doc_id: str | None = None

    @property
    def format_ok(self) -> bool:
        return self.call is not None


def run_tool(kb: KnowledgeBase, action: Any, top_k: int = 5, *, example_doc: str | None = None) -> ToolResult:
    """Parse ``action`` and run it on ``kb``; never raises. ``example_doc`` is suggested when an open fails."""
    call = parse_action(action)
    if isinstance(call, ParseFailure):
        return ToolResult(f"Invalid action: {call.reason}. {USAGE}", None, False)
    if call.tool == "search":
        terms = query_terms(call.argument)
        if not terms:
            return ToolResult(f"No results: {call.argument[:80]!r} has no words to search for. {USAGE}", call, False)
        view = kb.search_view(terms, top_k)
        return ToolResult(view.text, call, True, view, terms=terms)
    if call.tool == "open":
        doc = kb.document(call.argument)
        if doc is None:
            example = example_doc or next(iter(kb.world.documents))
            return ToolResult(f"No document with id {call.argument[:40]!r}. Open an id that search results list, e.g. open[{example}].", call, False)
        view = kb.document_view(doc)
        return ToolResult(view.text, call, True, view, doc_id=doc.id)
    return ToolResult("", call, True)
