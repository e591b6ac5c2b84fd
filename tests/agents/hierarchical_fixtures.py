"""A scripted backend for hierarchical-agent tests: answers chosen by a function of (role, prompt), real token ids."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hiergym.agents.backend import SamplingParams
from hiergym.types import Generation

WORDS = [
    "<plan> </plan> <done> <action> </action> <switch> </switch> <subgoal> </subgoal> KEEP SWITCH",
    "find take clean put look go to the soapbar apple in/on toilet with sinkbasin 1 2 3 4 5 6 7 8 9 0 . ; up down left right",
    "a box on target at ( , ) garbagecan from inventory cabinet countertop drawer shelf",
]


class ScriptedBackend:
    """``generate`` answers ``answer(role, prompt)`` for each prompt; records every call as (role, prompts)."""

    def __init__(self, answer: Callable[[str, str], str], tokenizer=None):
        from hiergym.agents.tiny import build_tokenizer

        self.answer = answer
        self.tokenizer = tokenizer or build_tokenizer(WORDS)
        self.calls: list[tuple[str, list[str]]] = []
        self.pad_token_id = self.tokenizer.pad_token_id

    def generate(self, prompts: Sequence[str], sampling: SamplingParams, *, role: str = "policy", seeds: Sequence[int] | None = None) -> list[Generation]:
        self.calls.append((role, list(prompts)))
        out = []
        for prompt in prompts:
            text = self.answer(role, prompt)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"][:8] or [0]
            out.append(Generation(prompt_ids, ids, [-0.5] * len(ids), text, role=role))
        return out
