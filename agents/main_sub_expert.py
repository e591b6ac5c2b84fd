"""Expert demonstrations for MultiHop with or without sub-agents: a scripted ``Backend`` that answers like the solver.

The expert reads only its prompt (stateless, so it runs inside the ordinary collector and agents,
and the demonstrations see exactly the prompts the policy will see):

- ``main`` with sub-agents: ``call[searcher: <question>]``, then ``answer[<the report>]`` once a
  report is in the prompt;
- ``main`` alone, and ``sub:<name>``: the env solver's plan for the question (``search`` each hop,
  then ``answer``), the next step being the one after the last plan action the prompt's history
  shows (``> action`` lines).

Its token ids come from the policy's tokenizer (the prompt as the backend encodes it, the answer
without special tokens, as the supervised warm start of ``hiergym.training.warm_start`` does).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hiergym.types import Generation

_REPORT_RE = re.compile(r"Report from (\w[\w-]*) on .*?: (.*)")
_QUERY_RE = re.compile(r"Query: (.*)")


class MultiHopExpert:
    """A Backend answering with expert actions for MultiHop questions (``mode``: ``main-sub`` or ``main-only``)."""

    def __init__(self, kb: Any, tokenizer: Any, *, mode: str = "main-sub", top_k: int = 5, sub_name: str = "searcher"):
        from hiergym.envs.research.questions import MAX_HOPS, MIN_HOPS, SPLITS

        self.kb, self.tokenizer, self.mode, self.top_k, self.sub_name = kb, tokenizer, mode, top_k, sub_name
        self.questions = {q.text: q for split in SPLITS for h in range(MIN_HOPS, MAX_HOPS + 1) for q in kb.questions(split, h)}
        self._plans: dict[str, list[str]] = {}

    def plan(self, question_text: str) -> list[str]:
        from hiergym.envs.research.solver import expert_plan

        if question_text not in self._plans:
            q = self.questions.get(question_text.strip())
            self._plans[question_text] = expert_plan(self.kb, q, k=self.top_k, open_pages=False) if q is not None else ["answer[unknown]"]
        return self._plans[question_text]

    def _question_in(self, prompt: str) -> str:
        for line in prompt.splitlines():
            line = line.strip()
            if line.startswith("Question: "):
                line = line[len("Question: "):]
            if line in self.questions:
                return line
        return prompt.splitlines()[0].strip() if prompt else ""

    def _next_of_plan(self, plan: list[str], prompt: str) -> str:
        done = [i for i, a in enumerate(plan) if f"> {a}" in prompt]
        return plan[min(max(done) + 1, len(plan) - 1)] if done else plan[0]

    def answer(self, prompt: str, role: str) -> str:
        if role.startswith("sub:"):
            m = _QUERY_RE.search(prompt)
            query = m.group(1).strip() if m else ""
            return self._next_of_plan(self.plan(query), prompt)
        if self.mode == "main-sub":
            reports = _REPORT_RE.findall(prompt)
            if reports:
                return f"answer[{reports[-1][1].strip()}]"
            return f"call[{self.sub_name}: {self._question_in(prompt)}]"
        return self._next_of_plan(self.plan(self._question_in(prompt)), prompt)

    def generate(self, prompts: Sequence[str], sampling: Any, *, role: str = "policy", seeds: Sequence[int] | None = None) -> list[Generation]:
        out = []
        for p in prompts:
            text = f"<action>{self.answer(p, role)}</action>"
            response = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            out.append(Generation(self.tokenizer(p)["input_ids"], response, [0.0] * len(response), text, role=role))
        return out
