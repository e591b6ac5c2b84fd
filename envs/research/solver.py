"""The expert: answer a question by following its relation chain with the env's own tools.

For each hop it searches the current entity's name, opens that entity's page (which states
the fact leading to the next entity) and moves on; then it answers with the last entity's
name. Every query is checked against the index: the page it opens is among the results the
search shows (the name alone finds it; the relation's words are added when it does not).
"""

from __future__ import annotations

from collections.abc import Collection

from hiergym.envs.research.kb import KnowledgeBase
from hiergym.envs.research.questions import Question
from hiergym.envs.research.world import RELATIONS


def hop_query(kb: KnowledgeBase, entity_id: int, relation: str, k: int) -> str:
    """A query whose top-``k`` results include a passage of ``entity_id``'s page (name first, then name + relation words)."""
    name = kb.name(entity_id)
    page = kb.world.page_of[entity_id]
    for query in (name, f"{name} {RELATIONS[relation].search_hint}"):
        if any(p.doc_id == page for p in kb.search(query, k)):
            return query
    return name  # not reached on generated worlds (tests check); open[...] accepts any id anyway


def expert_plan(kb: KnowledgeBase, question: Question, *, k: int, done_hops: Collection[int] = (), open_pages: bool = True) -> list[str]:
    """Actions that gather the evidence of every hop not in ``done_hops`` and answer.

    With ``open_pages`` (default) a hop is ``search[<entity>]`` then ``open[<its page>]``
    (2 * hops + 1 actions). Without, a hop is one search whose results show the fact itself
    (``search[<entity> <relation words>]``; hops + 1 actions).
    """
    plan: list[str] = []
    for i, rel in enumerate(question.relations):
        if i in done_hops:
            continue
        subject = question.path[i]
        if open_pages:
            plan += [f"search[{hop_query(kb, subject, rel, k)}]", f"open[{kb.world.page_of[subject]}]"]
        else:
            plan.append(f"search[{fact_query(kb, subject, rel, k)}]")
    plan.append(f"answer[{kb.name(question.answer_id)}]")
    return plan


def fact_query(kb: KnowledgeBase, entity_id: int, relation: str, k: int) -> str:
    """A query whose top-``k`` results include a passage stating ``(entity_id, relation)``."""
    name = kb.name(entity_id)
    for query in (f"{name} {RELATIONS[relation].search_hint}", name):
        if any((entity_id, relation) in p.facts for p in kb.search(query, k)):
            return query
    return f"{name} {RELATIONS[relation].search_hint}"
