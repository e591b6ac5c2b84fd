"""The MultiHop expert answers through the ordinary agents and collector and solves the questions, with and without sub-agents."""

import pytest

import hiergym
from hiergym.agents.llm_agent import LLMAgent
from hiergym.agents.main_sub import MainSubAgents, split_rollouts
from hiergym.agents.main_sub_expert import MultiHopExpert
from hiergym.training.main_sub import multihop_tools
from hiergym.collector import Collector
from hiergym.wrappers import AnchorHash, History, TextActions

ENV = "hiergym/MultiHop-v0"
KW = dict(max_hops=3, max_steps=8)


class WordTokenizer:
    def __init__(self):
        self.vocab = {}

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [self.vocab.setdefault(w, len(self.vocab)) for w in text.split()]}


def make_env(_):
    return History(TextActions(AnchorHash(hiergym.make(ENV, **KW))), k=2)


@pytest.fixture(scope="module")
def kb_env():
    return hiergym.make(ENV, **KW)


@pytest.mark.parametrize("mode", ["main-sub", "main-only"])
def test_expert_solves_multihop_through_the_agents(kb_env, mode):
    base = kb_env.unwrapped
    expert = MultiHopExpert(base.kb, WordTokenizer(), mode=mode, top_k=base.top_k)
    if mode == "main-sub":
        agent = MainSubAgents(expert, expert, tools=multihop_tools(kb_env), max_sub_steps=6)
    else:
        agent = LLMAgent(expert, role="main")
    with Collector(make_env, agent, num_slots=4) as c:
        trajs, _ = c.collect([(ENV, s) for s in range(6)], 1)
    assert [t.success for t in trajs] == [True] * 6
    if mode == "main-sub":
        mains, subs = split_rollouts(trajs)
        assert len(subs) == 6 and all(s.meta["returned"] for s in subs)
        assert all(len(m.turns) == 1 and m.turns[0].info["main_calls"] == 2 for m in mains)
    else:
        assert all(len(t.turns) >= 3 for t in trajs)  # searches each hop, then answers
