import pytest

from hiergym.agents import LLMAgent, SamplingParams
from hiergym.error import ConfigError
from hiergym.types import Generation


class ScriptedBackend:
    """Returns fixed texts and counts calls: the agent must make one call per ``act``."""

    def __init__(self, texts):
        self.texts, self.calls = texts, []

    def generate(self, prompts, sampling, *, role="policy"):
        self.calls.append(list(prompts))
        return [Generation([1], [2], [-0.5], t, role=role, finish_reason="length" if t == "endless" else "stop") for t in self.texts[: len(prompts)]]


def test_act_makes_one_batched_call_and_parses():
    backend = ScriptedBackend(["<think>box</think><action> up </action>", "", "left", "<action>down", "endless"])
    agent = LLMAgent(backend, template="Q: {observation}\nA:")
    out = agent.act(["o1", "o2", "o3", "o4", "o5"])
    assert backend.calls == [[f"Q: o{i}\nA:" for i in range(1, 6)]]
    assert [(a.action, a.format_ok) for a in out] == [("up", True), (None, False), (None, False), (None, False), (None, False)]
    assert out[0].text == backend.texts[0] and out[0].generations[0].role == "policy"


def test_act_on_no_observations_calls_nothing():
    backend = ScriptedBackend([])
    assert LLMAgent(backend).act([]) == [] and backend.calls == []


def test_template_without_observation_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        LLMAgent(ScriptedBackend([]), template="no field")
    assert e.value.field == "template"


def test_agent_with_real_backend_returns_one_generation_each(tiny_backend):
    agent = LLMAgent(tiny_backend, sampling=SamplingParams(max_new_tokens=6))
    out = agent.act(["#@ $.#", "Push the box"])
    assert len(out) == 2 and all(len(a.generations) == 1 for a in out)
