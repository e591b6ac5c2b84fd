"""MainSubAgents: sub-agent calls as tools, reports spliced into the main prompt, call trajectories linked to their
rollout, bad input with defined costs; collected through the shared Collector and turned into an M-GRPO batch."""

import numpy as np
import pytest

from hiergym.agents.main_sub import BadCall, MainSubAgents, SubCall, parse_call, split_rollouts
from hiergym.algos.mgrpo import MGRPOConfig, mgrpo_advantages
from hiergym.collector import Collector
from hiergym.error import ConfigError
from tests.agents.main_sub_fixtures import CapitalQA, ScriptedBackend, fake_tools, good_rule


def collect(agent, seeds=(0, 1), group_size=2, **kw):
    with Collector(lambda env_id: CapitalQA(), agent, num_slots=4, max_turns=3) as c:
        trajs, stats = c.collect([("qa", s) for s in seeds], group_size, stream=7, **kw)
    return trajs, stats


def test_parse_call():
    assert parse_call("call[searcher: who made X]") == SubCall("searcher", "who made X")
    assert parse_call(" CALL [ Searcher :  a   b ] ", ["searcher"]) == SubCall("searcher", "a b")
    assert parse_call("answer[x]") is None and parse_call(None) is None
    assert isinstance(parse_call("call[searcher]"), BadCall)
    assert isinstance(parse_call("call[: q]"), BadCall)
    assert isinstance(parse_call("call searcher: q"), BadCall)
    assert "unknown sub-agent 'reader'" in parse_call("call[reader: q]", ["searcher"]).reason


def test_main_calls_searcher_report_is_spliced_and_calls_become_linked_trajectories():
    backend = ScriptedBackend(good_rule)
    agent = MainSubAgents(backend, backend, tools=fake_tools())
    trajs, stats = collect(agent)
    assert [t.success for t in trajs] == [True] * 4  # the report carried the answer
    # per tick: one batched main call for all 4 slots, one batched searcher call per step, one more main call
    assert backend.calls == [("main", 4), ("sub:searcher", 4), ("sub:searcher", 4), ("main", 4)]
    turn = trajs[0].turns[0]
    assert [g.role for g in turn.generations] == ["main", "main"]
    assert "Report from searcher on capital of Zorbland: its capital is Quelp" in _prompt_text(backend, turn.generations[1])
    assert "Report from" not in _prompt_text(backend, turn.generations[0])
    assert turn.info["format_ok"] and turn.info["main_calls"] == 2 and turn.info["bad_calls"] == 0
    mains, subs = split_rollouts(trajs)
    assert len(mains) == 4 and len(subs) == 4
    assert [s.meta["parent"] for s in subs] == [m.meta["rollout_id"] for m in mains] == ["qa#0/0", "qa#0/1", "qa#1/0", "qa#1/1"]
    call = subs[0]
    assert call.group_id == "qa#0" and call.meta["sub_agent"] == "searcher" and call.meta["returned"] is True
    assert [t.action for t in call.turns] == ["search[Zorbland]", "answer[its capital is Quelp]"]
    assert all(g.role == "sub:searcher" for t in call.turns for g in t.generations)
    assert "sub_calls" not in mains[0].turns[0].info and mains[0].turns[0].info["sub_calls_n"] == 1
    assert stats.generated_tokens > 0


def _prompt_text(backend, gen):
    inv = {v: k for k, v in backend.vocab.items()}
    return "".join(inv[i] for i in gen.prompt_ids)


def test_reports_stay_in_the_episode_memory_for_later_steps():
    # main: call, then a non-answer action (episode goes on), then answers from the remembered report
    def rule(prompt, role):
        if role == "main":
            if "Report from searcher" not in prompt:
                return good_rule(prompt, role)
            return "<action>think more</action>" if "Nothing happens." not in prompt else f"<action>answer[{prompt.split('its capital is ')[1].split()[0]}]</action>"
        return good_rule(prompt, role)

    backend = ScriptedBackend(rule)
    trajs, _ = collect(MainSubAgents(backend, backend, tools=fake_tools()), seeds=(0,), group_size=1)
    t = trajs[0]
    assert len(t.turns) == 2 and t.success
    assert t.turns[1].info["main_calls"] == 1  # no new call: the report came from the memory


def test_unknown_sub_agent_and_malformed_call_cost_format_not_a_crash():
    def rule(prompt, role):
        if "must look like" in prompt:
            return "<action>answer[Quelp]</action>"
        if "unknown sub-agent" in prompt:
            return "<action>call[searcher capital]</action>"  # malformed on the second try
        return "<action>call[oracle: capital please]</action>"

    backend = ScriptedBackend(rule)
    agent = MainSubAgents(backend, backend, tools=fake_tools(), max_calls_per_step=3)
    trajs, _ = collect(agent, seeds=(0,), group_size=2)
    turn = trajs[0].turns[0]
    assert turn.info["format_ok"] is False and turn.info["bad_calls"] == 2 and turn.info["main_calls"] == 3
    assert trajs[0].success  # the episode went on; the cost is the format term
    mains, subs = split_rollouts(trajs)
    assert subs == []
    res = mgrpo_advantages(mains, subs, MGRPOConfig(group_size=2))
    assert res.main.format.tolist() == [0.0, 0.0] and res.sub.alignment == {}


def test_sub_agent_that_never_answers_is_cut_with_an_empty_report():
    def rule(prompt, role):
        if role == "main":
            return "<action>answer[gave up]</action>" if "(empty report)" in prompt else "<action>call[searcher: capital of Zorbland]</action>"
        return "<action>open[d1]</action>"  # searches forever

    backend = ScriptedBackend(rule)
    agent = MainSubAgents(backend, backend, tools=fake_tools(), max_sub_steps=3)
    trajs, _ = collect(agent, seeds=(0,), group_size=2)
    _, subs = split_rollouts(trajs)
    assert len(subs) == 2
    for call in subs:
        assert call.meta["returned"] is False and len(call.turns) == 3 and call.turns[-1].truncated
    assert trajs[0].turns[0].raw_action == "<action>answer[gave up]</action>"


def test_call_limit_sends_the_last_call_to_the_env_and_tool_errors_are_observations():
    def rule(prompt, role):
        if role == "main":
            return "<action>call[searcher: capital of Zorbland]</action>"
        return "<action>answer[done]</action>" if "Tool error" in prompt else "<action>open[boom]</action>"

    backend = ScriptedBackend(rule)
    agent = MainSubAgents(backend, backend, tools=fake_tools(), max_calls_per_step=1)
    acts = agent.act(["Question: what is the capital of Zorbland?"], seeds=[3])
    a = acts[0]
    assert a.env_action == "<action>call[searcher: capital of Zorbland]</action>" and a.info["call_limit"] is True
    call = a.info["sub_calls"][0]
    assert call["turns"][0]["info"]["format_ok"] is False and call["turns"][1]["action"] == "answer[done]"
    assert [r.text for r in a.memory] == ["done"]


def test_separate_models_per_role():
    main, sub = ScriptedBackend(good_rule), ScriptedBackend(good_rule)
    agent = MainSubAgents(main, {"searcher": sub}, tools=fake_tools())
    agent.act(["Question: what is the capital of Varnia?"])
    assert {r for r, _ in main.calls} == {"main"} and {r for r, _ in sub.calls} == {"sub:searcher"}
    assert agent.backends() == {"main": main, "sub:searcher": sub}


@pytest.mark.parametrize(
    "kwargs,field",
    [(dict(subs={}), "subs"), (dict(subs={"Bad Name": None}), "subs"), (dict(tools={"answer": str}), "tools"),
     (dict(max_sub_steps=0), "max_sub_steps"), (dict(main_template="{observation}"), "main_template")],
)
def test_bad_configuration_is_a_config_error(kwargs, field):
    b = ScriptedBackend(good_rule)
    args = dict(main=b, subs=b, tools=fake_tools()) | kwargs
    with pytest.raises(ConfigError, match=field):
        MainSubAgents(**args)


def test_mgrpo_batch_from_collected_rollouts_masks_reports_out_of_the_main_loss(tiny_lm_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hiergym.algos import Trainer, TrainerConfig, build_batch

    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    backend = ScriptedBackend(good_rule, tokenizer=tok)
    trajs, _ = collect(MainSubAgents(backend, backend, tools=fake_tools()), seeds=(0, 1))
    mains, subs = split_rollouts(trajs)
    res = mgrpo_advantages(mains, subs, MGRPOConfig(group_size=2, max_sub_calls=2), seed=0)
    assert len(res.sub.trajectories) == 4 * 2 and res.sub.alignment["searcher"].duplicated == 4
    batch = build_batch([*mains, *res.sub.trajectories], [*res.main_advantages, *res.sub.advantages], pad_token_id=tok.pad_token_id)
    assert batch.role.count("main") == 8 and batch.role.count("sub:searcher") == 8 * 2
    report_ids = tok("its capital is", add_special_tokens=False)["input_ids"]
    second_main = 1  # row 1: the main agent's answer after the report
    row, mask = batch.input_ids[second_main].tolist(), batch.response_mask[second_main].tolist()
    starts = [k for k in range(len(row)) if row[k : k + len(report_ids)] == report_ids]
    assert starts, "the report is in the main agent's second prompt"
    assert all(mask[k] == 0 for s in starts for k in range(s, s + len(report_ids)))  # ... and out of its loss
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_dir)
    out = Trainer(model, TrainerConfig(lr=1e-4)).step(batch)
    assert np.isfinite(out["pg_loss"])
