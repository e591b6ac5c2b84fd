"""VLLMBackend against a stand-in engine with vLLM's offline API surface (no GPU, no vllm install).

The stand-in (``StandInLLM``) follows the parts of vLLM the backend relies on: ``LLM.generate``
with token-id prompts and one ``SamplingParams`` or one per request, per-request ``seed``,
``logprobs=0`` giving one ``{token_id: Logprob}`` per generated token under
``logprobs_mode="processed_logprobs"`` (log_softmax(logits / T); plain for greedy), EOS kept in
``token_ids`` but not in ``text``, stop strings checked after each token with
``include_stop_str_in_output``, ``finish_reason`` "stop"/"length"; and for weight sync the
in-process ``llm_engine.model_executor.driver_worker.model_runner.model.load_weights`` path,
``collective_rpc(callable, args)`` and ``reset_prefix_cache``. It samples from its own copy of
the tiny model, so the records can be compared with ``TransformersBackend``'s on the same prompts.
"""

from __future__ import annotations

import copy
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from hiergym.agents import Backend, SamplingParams, TransformersBackend
from hiergym.agents.vllm_backend import VLLM_LOGPROBS_MODE, VLLMBackend
from hiergym.algos import Trainer, TrainerConfig, build_batch
from hiergym.error import ConfigError
from hiergym.types import Trajectory, Turn

PROMPTS = ["#@ $.#\nup", "#####\n#@ $.# left right down", "Push the box", "#"]


# --- the stand-in engine ----------------------------------------------------------------------
@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool = True


class StandInSamplingParams:
    """vllm.SamplingParams' keywords that the backend uses; an unknown keyword is a TypeError, as in vLLM."""

    def __init__(self, n=1, temperature=1.0, top_p=1.0, max_tokens=16, stop=None, include_stop_str_in_output=False, seed=None, logprobs=None):
        self.n, self.temperature, self.top_p, self.max_tokens = n, temperature, top_p, max_tokens
        self.stop = list(stop or [])
        self.include_stop_str_in_output, self.seed, self.logprobs = include_stop_str_in_output, seed, logprobs


class EngineModel:
    """vLLM's model object: its own copy of the weights, loaded by name."""

    def __init__(self, hf_model):
        self.hf = hf_model

    def load_weights(self, weights):
        params = dict(self.hf.named_parameters())
        loaded = set()
        with torch.no_grad():
            for name, tensor in weights:
                params[name].copy_(tensor)  # an unknown name raises, as vLLM's loader does
                loaded.add(name)
        return loaded


class StandInLLM:
    """Token-by-token sampling with the model's full forward; one request at a time (batching changes nothing)."""

    def __init__(self, hf_model, tokenizer, *, in_process=True, model=None, logprobs_mode=VLLM_LOGPROBS_MODE, **kwargs):
        self.engine_model = EngineModel(copy.deepcopy(hf_model).eval())
        self.tokenizer = tokenizer
        self.logprobs_mode, self.kwargs, self.model_path = logprobs_mode, kwargs, model
        self.global_generator = torch.Generator().manual_seed(0)
        self.calls: list[list[StandInSamplingParams]] = []
        self.prefix_cache_resets = 0
        self.rpc_calls = 0
        if in_process:
            worker = types.SimpleNamespace(model_runner=types.SimpleNamespace(model=self.engine_model))
            self.llm_engine = types.SimpleNamespace(model_executor=types.SimpleNamespace(driver_worker=worker))

    def generate(self, prompts, sampling_params=None, use_tqdm=True):
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        assert len(params) == len(prompts)
        self.calls.append(params)
        return [self._request(str(i), p["prompt_token_ids"], sp) for i, (p, sp) in enumerate(zip(prompts, params))]

    @torch.no_grad()
    def _request(self, request_id, prompt_ids, sp):
        assert sp.n == 1 and sp.logprobs == 0 and self.logprobs_mode == VLLM_LOGPROBS_MODE
        gen = torch.Generator().manual_seed(sp.seed) if sp.seed is not None else self.global_generator
        eos = self.tokenizer.eos_token_id
        ids, tokens, entries, finish, text = list(prompt_ids), [], [], "length", ""
        for _ in range(sp.max_tokens):
            logits = self.engine_model.hf(torch.tensor([ids])).logits[0, -1].float()
            if sp.temperature == 0:
                logp = torch.log_softmax(logits, -1)
                tok = int(logits.argmax())
            else:
                logp = torch.log_softmax(logits / sp.temperature, -1)
                tok = int(torch.multinomial(logp.exp(), 1, generator=gen))
            ids.append(tok)
            tokens.append(tok)
            entries.append({tok: Logprob(float(logp[tok]), rank=1)})
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            if tok == eos:
                finish = "stop"
                break
            hits = [text.find(s) + len(s) for s in sp.stop if s in text]
            if hits:
                text, finish = text[: min(hits)] if sp.include_stop_str_in_output else text[: min(hits) - 1], "stop"
                break
        completion = CompletionOutput(0, text, tokens, sum(float(e[t].logprob) for e, t in zip(entries, tokens)), entries, finish)
        return RequestOutput(request_id, None, list(prompt_ids), [completion])

    def collective_rpc(self, method, timeout=None, args=(), kwargs=None):
        self.rpc_calls += 1
        worker = types.SimpleNamespace(model_runner=types.SimpleNamespace(model=self.engine_model))
        return [method(worker, *args, **(kwargs or {}))]

    def reset_prefix_cache(self):
        self.prefix_cache_resets += 1
        return True


def standin_module(hf_model, tokenizer, *, in_process=True):
    """A namespace with ``LLM`` and ``SamplingParams``, as the ``vllm`` module offers them."""
    return types.SimpleNamespace(LLM=lambda **kw: StandInLLM(hf_model, tokenizer, in_process=in_process, **kw), SamplingParams=StandInSamplingParams)


@pytest.fixture
def pair(tiny_backend):
    """(TransformersBackend, VLLMBackend) over the same weights; the vLLM one has its own trainer copy."""
    trainer_model = copy.deepcopy(tiny_backend.model)
    module = standin_module(trainer_model, tiny_backend.tokenizer)
    llm = module.LLM(model="tiny")
    return tiny_backend, VLLMBackend(llm, tiny_backend.tokenizer, model=trainer_model, device="cpu", vllm_module=module)


# --- records --------------------------------------------------------------------------------
def test_backend_satisfies_protocol(pair):
    assert isinstance(pair[1], Backend)


@pytest.mark.parametrize("stop", [("</action>",), ()])
def test_greedy_records_equal_transformers_backend(pair, stop):
    hf, vl = pair
    sp = SamplingParams(max_new_tokens=12, temperature=0, stop=stop)
    expected, got = hf.generate(PROMPTS, sp, role="planner"), vl.generate(PROMPTS, sp, role="planner")
    for e, g in zip(expected, got):
        assert (g.prompt_ids, g.response_ids, g.text, g.finish_reason, g.role) == (e.prompt_ids, e.response_ids, e.text, e.finish_reason, "planner")
        torch.testing.assert_close(torch.tensor(g.logprobs), torch.tensor(e.logprobs), atol=1e-4, rtol=0)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampled_logprobs_match_teacher_forced_forward(pair, temperature):
    from tests.agents.test_transformers_backend import teacher_forced_logprobs

    _, vl = pair
    gens = vl.generate(PROMPTS * 4, SamplingParams(max_new_tokens=12, temperature=temperature), seeds=list(range(16)))
    for gen in gens:
        assert len(gen.logprobs) == len(gen.response_ids) > 0
        torch.testing.assert_close(torch.tensor(gen.logprobs), teacher_forced_logprobs(vl.model, gen, temperature), atol=1e-4, rtol=0)


def test_stop_string_ends_text_and_tokens_like_transformers_backend(pair):
    hf, vl = pair
    gens = vl.generate(PROMPTS * 8, SamplingParams(max_new_tokens=16, stop=("</action>",)), seeds=list(range(32)))
    assert {g.finish_reason for g in gens} == {"stop", "length"}  # a random tiny model hits both within 16 tokens
    for g in gens:
        if g.finish_reason == "length":
            assert len(g.response_ids) == 16 and "</action>" not in g.text
        elif g.response_ids[-1] != hf.tokenizer.eos_token_id:
            assert g.text.endswith("</action>") and g.text.count("</action>") == 1
            # the last token completes the stop string: the same cut TransformersBackend makes
            assert hf._finish(g.prompt_ids, g.response_ids + [5, 6], [0.0] * (len(g.response_ids) + 2), SamplingParams(), "policy").response_ids == g.response_ids
        else:
            assert g.text == hf.tokenizer.decode(g.response_ids, skip_special_tokens=True)


def test_every_request_carries_its_own_seed_and_asks_for_sampled_logprobs(pair):
    _, vl = pair
    sp = SamplingParams(max_new_tokens=10, stop=())
    together = vl.generate(PROMPTS, sp, seeds=[11, 12, 13, 14])
    sent = vl.llm.calls[-1]
    assert [p.seed for p in sent] == [11, 12, 13, 14]
    assert all(p.n == 1 and p.logprobs == 0 and p.top_p == 1.0 and p.max_tokens == 10 and p.include_stop_str_in_output for p in sent)
    reordered = vl.generate([PROMPTS[3], PROMPTS[2]], sp, seeds=[14, 13])
    assert reordered[1].response_ids == together[2].response_ids and reordered[0].response_ids == together[3].response_ids
    assert len({tuple(g.response_ids) for g in vl.generate([PROMPTS[0]] * 8, sp, seeds=list(range(8)))}) > 1


def test_unseeded_requests_share_one_params_object(pair):
    _, vl = pair
    vl.generate(PROMPTS, SamplingParams(max_new_tokens=3))
    sent = vl.llm.calls[-1]
    assert all(p is sent[0] for p in sent) and sent[0].seed is None


def test_records_train_without_logprob_mismatch(pair):
    """vLLM's sampling-time log-probs are what the trainer's forward recomputes (ratio 1 at the first update)."""
    _, vl = pair
    gens = vl.generate(PROMPTS * 2, SamplingParams(max_new_tokens=8, temperature=0.8), seeds=list(range(8)))
    trajs = [Trajectory(f"g{i % 2}", "standin", 0, turns=[Turn("obs", g.text, reward=float(i % 3), generations=[g])], episode_return=float(i % 3)) for i, g in enumerate(gens)]
    batch = build_batch(trajs, [[t.episode_return - 1.0] for t in trajs], pad_token_id=vl.pad_token_id)
    metrics = Trainer(vl.model, TrainerConfig(lr=1e-3, temperature=0.8), device="cpu").step(batch)
    assert metrics["logprob_mismatch_mean"] < 1e-4


# --- weight sync ---------------------------------------------------------------------------
@pytest.mark.parametrize("in_process", [True, False], ids=["driver_worker", "collective_rpc"])
def test_sync_weights_pushes_the_trainer_update_into_the_engine(tiny_backend, in_process):
    trainer_model = copy.deepcopy(tiny_backend.model)
    module = standin_module(trainer_model, tiny_backend.tokenizer, in_process=in_process)
    vl = VLLMBackend(module.LLM(model="tiny"), tiny_backend.tokenizer, model=trainer_model, device="cpu", vllm_module=module)
    with torch.no_grad():
        for p in trainer_model.parameters():
            p.add_(torch.randn_like(p) * 0.5)  # stands for an optimiser step
    engine = dict(vl.llm.engine_model.hf.named_parameters())
    assert any(not torch.equal(engine[n], p) for n, p in trainer_model.named_parameters())
    assert vl.sync_weights() == 1 and vl.policy_version == 1
    assert all(torch.equal(engine[n], p) for n, p in trainer_model.named_parameters())
    assert vl.llm.prefix_cache_resets == 1 and vl.llm.rpc_calls == (0 if in_process else 1)
    # generation now follows the updated weights: greedy records equal a TransformersBackend on the trainer model
    sp = SamplingParams(max_new_tokens=8, temperature=0)
    reference = TransformersBackend(trainer_model, tiny_backend.tokenizer, device="cpu").generate(PROMPTS, sp)
    assert [g.response_ids for g in vl.generate(PROMPTS, sp)] == [g.response_ids for g in reference]


def test_sync_without_a_trainer_model_needs_weights(tiny_backend):
    module = standin_module(tiny_backend.model, tiny_backend.tokenizer)
    vl = VLLMBackend(module.LLM(model="tiny"), tiny_backend.tokenizer, vllm_module=module)
    with pytest.raises(ConfigError, match="model"):
        vl.sync_weights()
    name, p = next(iter(tiny_backend.model.named_parameters()))
    assert vl.sync_weights([(name, torch.zeros_like(p))]) == 1
    assert float(dict(vl.llm.engine_model.hf.named_parameters())[name].detach().abs().sum()) == 0.0


# --- configuration errors -------------------------------------------------------------------
def test_top_p_below_one_is_refused(pair):
    with pytest.raises(ConfigError) as e:
        pair[1].generate(PROMPTS, SamplingParams(top_p=0.9))
    assert e.value.field == "sampling.top_p"


def test_seeds_must_match_prompts(pair):
    with pytest.raises(ConfigError, match="seeds"):
        pair[1].generate(PROMPTS, SamplingParams(), seeds=[1])


def test_without_vllm_the_error_names_the_extra(tiny_backend, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError, installed or not
    with pytest.raises(ConfigError, match=r"hiergym\[vllm\]"):
        VLLMBackend(object(), tiny_backend.tokenizer)


def test_from_pretrained_builds_the_engine_with_processed_logprobs(tiny_lm_dir, tiny_backend):
    module = standin_module(tiny_backend.model, tiny_backend.tokenizer)
    vl = VLLMBackend.from_pretrained(tiny_lm_dir, device="cpu", vllm_module=module, gpu_memory_utilization=0.5)
    assert vl.llm.model_path == str(tiny_lm_dir) and vl.llm.logprobs_mode == VLLM_LOGPROBS_MODE
    assert vl.llm.kwargs == {"gpu_memory_utilization": 0.5} and vl.model is not None
    with pytest.raises(ConfigError, match="logprobs_mode"):
        VLLMBackend.from_pretrained(tiny_lm_dir, vllm_module=module, logprobs_mode="raw_logprobs")


def test_engine_calls_from_two_threads_do_not_overlap(pair):
    """Async rollouts sync weights on their thread while evaluation generates on the caller's: one engine call at a time."""
    import threading
    import time

    _, vl = pair
    active, overlaps = [0], []
    inner_generate = vl.llm.generate

    def generate(*a, **k):
        active[0] += 1
        overlaps.append(active[0])
        time.sleep(0.05)
        try:
            return inner_generate(*a, **k)
        finally:
            active[0] -= 1

    vl.llm.generate = generate
    inner_reset = vl.llm.reset_prefix_cache
    vl.llm.reset_prefix_cache = lambda: (overlaps.append(active[0] + 1), inner_reset())[1]
    threads = [threading.Thread(target=vl.generate, args=(PROMPTS, SamplingParams(max_new_tokens=2))) for _ in range(3)]
    threads.append(threading.Thread(target=vl.sync_weights))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(overlaps) == 4 and max(overlaps) == 1


# --- selected from the training config (hiergym train llm --model.backend vllm) ---------------
def _vllm_run_config(out, iterations):
    import dataclasses

    from hiergym.training.configs import ModelConfig
    from tests.core.test_runs_resume import MICRO, tiny_config

    config = tiny_config(out, iterations)
    return dataclasses.replace(config, model=ModelConfig(tiny=MICRO, backend="vllm"), eval_every=10)


def test_training_config_without_vllm_names_the_extra_before_the_run_dir(tmp_path, monkeypatch):
    from hiergym.training.loop import train

    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError, installed or not
    with pytest.raises(ConfigError) as e:
        train(_vllm_run_config(tmp_path / "run", 1))
    assert e.value.field == "model.backend" and "hiergym[vllm]" in str(e.value)
    assert not (tmp_path / "run").exists()


def test_training_with_the_vllm_backend_pushes_every_update_into_the_engine(tmp_path, monkeypatch):
    """The loop samples from the engine and syncs it after the warm start and after each of the 2 updates."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hiergym.training.loop import TrainLoop

    def llm(model, **kwargs):
        return StandInLLM(AutoModelForCausalLM.from_pretrained(model), AutoTokenizer.from_pretrained(model), model=model, **kwargs)

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=llm, SamplingParams=StandInSamplingParams))
    loop = TrainLoop(_vllm_run_config(tmp_path / "run", 2))
    assert isinstance(loop.backend, VLLMBackend)
    before = [p.detach().clone() for p in loop.backend.llm.engine_model.hf.parameters()]
    loop()
    engine = dict(loop.backend.llm.engine_model.hf.named_parameters())
    trained = dict(loop.backend.model.named_parameters())
    assert all(torch.equal(engine[name], p) for name, p in trained.items())
    assert any(not torch.equal(a, b) for a, b in zip(before, engine.values()))
    assert loop.backend.policy_version == 3 and loop.backend.llm.prefix_cache_resets == 3
    assert loop.backend.llm.calls  # the engine generated the rollouts
