"""``LLMAgent``: a prompt template (data), a backend and an action parser.

``act`` renders one prompt per observation and makes ONE batched backend call
for all of them, so the collector's per-tick cost is a single model call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hiergym.types import Generation
from hiergym.wrappers.parsing import ParsedAction, parse_llm_output

from .backend import Backend, SamplingParams

DEFAULT_TEMPLATE = "{observation}\n"
"""Prompt = the observation (``History`` already renders task and recent turns into it)."""


@dataclass
class AgentAction:
    """What the agent answers for one observation: the text the env receives, its parse and the LLM calls."""

    text: str
    action: str | None
    format_ok: bool
    generations: list[Generation] = field(default_factory=list)


class LLMAgent:
    """Acts for many envs at once with one backend call.

    Args:
        backend: anything implementing ``Backend``.
        sampling: sampling parameters for acting (``SamplingParams(temperature=0)`` for greedy eval).
        template: a ``str.format`` template with an ``{observation}`` field.
        parser: text -> ``ParsedAction``; default the wrappers' ``parse_llm_output``, the same function
            ``TextActions`` applies in the env, so the agent's ``AgentAction.action`` / ``format_ok``
            agree with what the env executes (the collector prefers the env's ``parsed_action``).
        role: the generation role recorded in every ``Generation``.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        sampling: SamplingParams | None = None,
        template: str = DEFAULT_TEMPLATE,
        parser: Callable[[str], ParsedAction] = parse_llm_output,
        role: str = "policy",
    ):
        if "{observation}" not in template:
            from hiergym.error import ConfigError

            raise ConfigError("template", template, "a str.format template containing '{observation}'")
        self.backend = backend
        self.sampling = sampling or SamplingParams()
        self.template = template
        self.parser = parser
        self.role = role

    def prompt(self, observation: str) -> str:
        return self.template.format(observation=observation)

    def act(self, observations: Sequence[str], *, sampling: SamplingParams | None = None, seeds: Sequence[int] | None = None) -> list[AgentAction]:
        """One ``AgentAction`` per observation, from a single batched ``backend.generate`` call.

        ``seeds``: one per observation; row i is sampled from its own stream seeded with ``seeds[i]``
        (the collector derives them per episode and turn), so a row's sample does not depend on the
        other rows of the batch.
        """
        if not observations:
            return []
        kwargs = {} if seeds is None else {"seeds": seeds}
        gens = self.backend.generate([self.prompt(o) for o in observations], sampling or self.sampling, role=self.role, **kwargs)
        out = []
        for g in gens:
            parsed = self.parser(g.text)
            out.append(AgentAction(text=g.text, action=parsed.action, format_ok=bool(parsed.format_ok), generations=[g]))
        return out
