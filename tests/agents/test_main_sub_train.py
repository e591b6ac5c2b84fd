"""M-GRPO training wiring: collect -> store -> learners -> trainer steps, with shared and separate models, and main-only GRPO."""

import pytest
import torch

from hiergym.training.main_sub import MainSubTrainConfig, MainSubTrainer, publish, records_to_batch
from hiergym.agents.main_sub import split_rollouts
from hiergym.agents.tiny import TinyModelSpec
from hiergym.algos.mgrpo import MGRPOConfig, mgrpo_advantages
from hiergym.error import ConfigError
from hiergym.store import QueueStore
from tests.agents.main_sub_fixtures import CapitalQA, ScriptedBackend, coin_rule, fake_tools

SPEC = TinyModelSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)


def small(**kw):
    base = dict(mgrpo=MGRPOConfig(group_size=2, max_sub_calls=2), iterations=2, tasks_per_iteration=2, num_slots=4, eval_every=1,
                eval_episodes=2, tiny=SPEC, max_sub_steps=2, max_calls_per_step=1)
    return MainSubTrainConfig(**(base | kw))


def trainer_for(cfg, tmp_path):
    return MainSubTrainer(cfg, tools=fake_tools(), env_fns=(lambda _: CapitalQA(), lambda _: CapitalQA()))


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()]).clone()


@pytest.mark.parametrize("shared", [True, False])
def test_main_sub_run_trains_every_model_through_the_store(tmp_path, shared):
    t = trainer_for(small(out=tmp_path / "run", shared_model=shared), tmp_path)
    assert len(t.learners) == (1 if shared else 2)
    # the random tiny model never writes a well-formed call: act with scripted text in its own tokens instead
    tok = t.backends["main"].tokenizer
    t.agent.main = ScriptedBackend(coin_rule, tokenizer=tok)
    t.agent.subs = {"searcher": ScriptedBackend(coin_rule, tokenizer=tok)}
    seen = []
    for learner in t.learners:
        step = learner.trainer.step
        learner.trainer.step = lambda batch, step=step: (seen.append((sorted(set(batch.role)), float(batch.advantages.abs().sum()))), step(batch))[1]
    before = {role: weights(b.model) for role, b in t.backends.items()}
    result = t()
    expected_roles = [["main", "sub:searcher"]] if shared else [["main"], ["sub:searcher"]]
    assert [r for r, _ in seen] == expected_roles * 2 and all(a > 0 for _, a in seen)
    assert result.iterations == 2 and result.tokens > 0
    assert [c[0] for c in result.eval_curve][0] == 0 and len(result.eval_curve) == 3
    for role, b in t.backends.items():
        assert not torch.equal(before[role], weights(b.model)), f"{role} did not train"
    for topic in ("main", "sub:searcher"):
        stats = t.store.stats(topic, f"learner:{topic}")
        assert stats["records"] == 4 and stats["acked"] == 4 and stats["in_flight"] == 0  # 2 iterations x 2 queries
    row = result.rows[0]
    assert "mgrpo/main_correct" in row and "train/pg_loss" in row
    assert row["sub_calls"] == 4 and row["mgrpo/align/searcher/rows"] == 4 * 2  # 4 rollouts x D_max 2, one call each
    assert 0 < row["mgrpo/main_correct"] < 1
    assert (tmp_path / "run" / "metrics.csv").is_file() and (tmp_path / "run" / "eval_curve.json").is_file()


def test_main_only_grpo_and_token_budget(tmp_path):
    t = trainer_for(small(agent="main-only", iterations=50, token_budget=1), tmp_path)
    result = t()
    assert result.iterations == 1  # the budget is spent after the first iteration
    assert t.store.stats("main")["records"] == 2 and result.rows[0]["sub_calls"] == 0.0


def test_store_records_give_the_same_advantages_as_the_direct_computation():
    from tests.agents.main_sub_fixtures import ScriptedBackend, good_rule
    from hiergym.agents.main_sub import MainSubAgents
    from hiergym.collector import Collector

    backend = ScriptedBackend(good_rule)
    with Collector(lambda _: CapitalQA(), MainSubAgents(backend, backend, tools=fake_tools()), num_slots=4) as c:
        trajs, _ = c.collect([("qa", 0), ("qa", 1)], 2, stream=1)
    mains, subs = split_rollouts(trajs)
    cfg = MGRPOConfig(group_size=2)
    store = QueueStore()
    counts = publish(store, 0, mains, subs, cfg)
    assert counts == {"main": 2, "sub:searcher": 2}
    assert publish(QueueStore(), 0, mains, [], cfg, ["searcher"]) == {"main": 2, "sub:searcher": 2}  # no call: still one record per query
    direct = mgrpo_advantages(mains, subs, cfg, seed=5)
    via_main = records_to_batch(store.records("main"), "main", cfg)
    via_sub = records_to_batch(store.records("sub:searcher"), "sub:searcher", cfg, seed=5)
    assert [a.tolist() for a in via_main.advantages] == [a.tolist() for a in direct.main_advantages]
    assert [a.tolist() for a in via_sub.advantages] == [a.tolist() for a in direct.sub.advantages]
    assert [t.to_dict() for t in via_sub.trajectories] == [t.to_dict() for t in direct.sub.trajectories]


def test_config_errors():
    with pytest.raises(ConfigError, match="agent"):
        MainSubTrainConfig(agent="solo")
    with pytest.raises(ConfigError, match="token_budget"):
        MainSubTrainConfig(token_budget=0)
    with pytest.raises(ConfigError, match="iterations"):
        MainSubTrainConfig(iterations=0)


class RecordingTrainer:
    def __init__(self):
        self.batches = []

    def step(self, batch):
        self.batches.append(batch)
        return {"pg_loss": 0.0}


def test_sub_learner_in_another_thread_restarts_and_resumes_from_its_last_ack():
    import threading

    from hiergym.agents.main_sub import MainSubAgents
    from hiergym.training.main_sub import Learner
    from hiergym.collector import Collector

    backend = ScriptedBackend(coin_rule)
    store = QueueStore()
    cfg = MGRPOConfig(group_size=2, max_sub_calls=1)
    with Collector(lambda _: CapitalQA(), MainSubAgents(backend, backend, tools=fake_tools()), num_slots=4) as c:
        for it in range(2):
            trajs, _ = c.collect([("qa", 2 * it), ("qa", 2 * it + 1)], 2, stream=it)
            mains, subs = split_rollouts(trajs)
            publish(store, it, mains, subs, cfg, ["searcher"])
    topic = "sub:searcher"
    first = Learner(store, [topic], RecordingTrainer(), 0, cfg, name="sub-0")
    got = first.consumers[topic].get(max_records=2)  # received iteration 0, crashed before training and acking
    assert [d.id for d in got] == ["0/qa#0", "0/qa#1"]
    results = {}

    def restarted():
        learner = Learner(store, [topic], RecordingTrainer(), 0, cfg, name="sub-0")  # same name: a restart
        results["redelivered"] = learner.consumers[topic].redelivered
        results["stats"] = [learner.step({topic: 2}, seed=k) for k in range(2)]
        results["batches"] = learner.trainer.batches

    thread = threading.Thread(target=restarted)
    thread.start()
    thread.join(timeout=60)
    assert results["redelivered"] == 2
    # 4 rollouts x D_max 1 calls per iteration; the searcher answers right in 2 turns (even rows) or wrong in 1: 6 generation rows
    assert [len(b) for b in results["batches"]] == [6, 6]
    assert all(set(b.role) == {"sub:searcher"} for b in results["batches"])
    assert store.stats(topic, f"learner:{topic}") == {"records": 4, "acked": 4, "in_flight": 0, "pending": 0}


def test_eval_at_start_off_starts_the_curve_at_the_first_evaluation(tmp_path):
    t = trainer_for(small(agent="main-only", iterations=2, eval_every=1, eval_at_start=False), tmp_path)
    calls = []
    evaluate = t.evaluate
    t.evaluate = lambda episodes=None: (calls.append(episodes), evaluate(episodes))[1]
    result = t()
    assert len(calls) == 2 and [p[0] for p in result.eval_curve] == [r["tokens_total"] for r in result.rows]


def test_token_budget_counts_the_sub_agents_tokens(tmp_path):
    """The budget is main + sub-agent responses: sub-agent calls run inside the main agent's act, outside the collector's count."""
    t = trainer_for(small(iterations=1), tmp_path)
    tok = t.backends["main"].tokenizer
    t.agent.main = ScriptedBackend(coin_rule, tokenizer=tok)
    t.agent.subs = {"searcher": ScriptedBackend(coin_rule, tokenizer=tok)}
    seen = {}
    split = __import__("hiergym.training.main_sub", fromlist=["split_rollouts"]).split_rollouts

    def spy(trajs):
        mains, subs = split(trajs)
        seen["main"] = sum(len(g.response_ids) for m in mains for turn in m.turns for g in turn.generations)
        seen["sub"] = sum(len(g.response_ids) for c in subs for turn in c.turns for g in turn.generations)
        return mains, subs

    import hiergym.training.main_sub as module

    module.split_rollouts, original = spy, module.split_rollouts
    try:
        result = t()
    finally:
        module.split_rollouts = original
    assert seen["sub"] > 0 and result.rows[0]["sub_tokens"] == seen["sub"]
    assert result.tokens == result.rows[0]["tokens"] == seen["main"] + seen["sub"]
