"""A tiny question env, fake search tools and a scripted backend for MainSubAgents tests (no model needed)."""

from __future__ import annotations

import re

import gymnasium as gym

from hiergym.envs.common import text_space
from hiergym.info_keys import InfoKeys
from hiergym.types import Generation

CAPITALS = {0: ("Zorbland", "Quelp"), 1: ("Varnia", "Oslet"), 2: ("Brisk", "Tamo")}


class CapitalQA(gym.Env):
    """'What is the capital of X?'; answer[...] ends the episode (reward 1 if right); anything else 'Nothing happens.'; 3 steps max."""

    def __init__(self):
        self.observation_space = text_space(512)
        self.action_space = text_space(512)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.country, self.capital = CAPITALS[seed % 3]
        self.t = 0
        return f"Question: what is the capital of {self.country}?", {InfoKeys.ANCHOR_STATE: (seed, 0)}

    def step(self, action):
        self.t += 1
        m = re.search(r"<action>\s*answer\[(.*)\]\s*</action>", action or "")
        info = {InfoKeys.ANCHOR_STATE: (self.country, self.t), InfoKeys.ACTION_VALID: m is not None}
        if m:
            won = m.group(1).strip().lower() == self.capital.lower()
            info[InfoKeys.WON] = won
            return "Done.", float(won), True, False, info
        return "Nothing happens.", 0.0, False, self.t >= 3, info


def fake_tools():
    def search(q):
        for country, capital in CAPITALS.values():
            if country.lower() in q.lower():
                return f"[d-{country}] {country}: its capital is {capital}."
        return "No results."

    def open_(doc_id):
        if doc_id == "boom":
            raise RuntimeError("index offline")
        return f"Document {doc_id}."

    return {"search": search, "open": open_}


class ScriptedBackend:
    """Answers by ``rule(prompt, role) -> text``; token ids are word codes (a fixed vocabulary grows as needed)."""

    def __init__(self, rule, tokenizer=None):
        self.rule = rule
        self.tokenizer = tokenizer
        self.vocab: dict[str, int] = {}
        self.calls: list[tuple[str, int]] = []
        self.pad_token_id = 0

    def encode(self, text):
        if self.tokenizer is not None:
            return self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return [self.vocab.setdefault(w, len(self.vocab) + 1) for w in re.findall(r"\S+|\s", text)]

    def generate(self, prompts, sampling, *, role="policy", seeds=None):
        self.calls.append((role, len(prompts)))
        out = []
        for k, p in enumerate(prompts):
            text = self.rule(p, role) if self.rule.__code__.co_argcount == 2 else self.rule(p, role, k)
            ids = self.encode(text)
            out.append(Generation(self.encode(p), ids, [-1.0] * len(ids), text, role=role))
        return out


def capital_of(prompt):
    for country, capital in CAPITALS.values():
        if f"its capital is {capital}" in prompt:
            return capital
    return None


def good_rule(prompt, role):
    """Main: call the searcher, then answer what the report says. Searcher: search the country, then answer."""
    if role == "main":
        if "Report from searcher" in prompt:
            return f"<action>answer[{capital_of(prompt) or 'unknown'}]</action>"
        country = re.search(r"capital of (\w+)", prompt).group(1)
        return f"<action>call[searcher: capital of {country}]</action>"
    found = capital_of(prompt)
    if found:
        return f"<action>answer[its capital is {found}]</action>"
    country = re.search(r"Query: capital of (\w+)", prompt).group(1)
    return f"<action>search[{country}]</action>"


def coin_rule(prompt, role, row):
    """As ``good_rule``, but the searcher reports a wrong capital in odd rows of its batch (one of the two copies of a task)."""
    if role != "main" and row % 2 and "Query:" in prompt:
        return "<action>answer[its capital is Nowhere]</action>"
    return good_rule(prompt, role)
