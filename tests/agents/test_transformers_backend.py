import pytest
import torch

from hiergym.agents import FINISH_LENGTH, FINISH_STOP, Backend, SamplingParams, TransformersBackend
from hiergym.error import ConfigError

PROMPTS = ["#@ $.#\nup", "#####\n#@ $.# left right down", "Push the box", "#"]


def teacher_forced_logprobs(model, gen, temperature):
    ids = torch.tensor([gen.prompt_ids + gen.response_ids])
    with torch.no_grad():
        logits = model(ids).logits[0, len(gen.prompt_ids) - 1 : -1].float() / temperature
    return torch.log_softmax(logits, -1).gather(-1, torch.tensor(gen.response_ids)[:, None]).squeeze(-1)


def test_backend_satisfies_protocol(tiny_backend):
    assert isinstance(tiny_backend, Backend)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampling_logprobs_match_teacher_forced_forward(tiny_backend, temperature):
    torch.manual_seed(0)
    gens = tiny_backend.generate(PROMPTS, SamplingParams(max_new_tokens=12, temperature=temperature, top_p=0.9))
    assert len(gens) == len(PROMPTS)
    for gen in gens:
        assert len(gen.logprobs) == len(gen.response_ids) > 0
        expected = teacher_forced_logprobs(tiny_backend.model, gen, temperature)
        assert torch.allclose(torch.tensor(gen.logprobs), expected, atol=1e-4)


def test_prompt_ids_exclude_left_padding(tiny_backend):
    gens = tiny_backend.generate(PROMPTS, SamplingParams(max_new_tokens=2, stop=()))
    for prompt, gen in zip(PROMPTS, gens):
        assert gen.prompt_ids == tiny_backend.tokenizer(prompt)["input_ids"]


def test_responses_end_at_stop_string_or_report_length(tiny_backend):
    torch.manual_seed(1)
    gens = tiny_backend.generate(PROMPTS * 8, SamplingParams(max_new_tokens=16, stop=("</action>",)))
    reasons = {g.finish_reason for g in gens}
    assert reasons <= {FINISH_STOP, FINISH_LENGTH}
    for g in gens:
        if g.finish_reason == FINISH_LENGTH:
            assert len(g.response_ids) == 16 and "</action>" not in g.text
        elif g.response_ids[-1] != tiny_backend.tokenizer.eos_token_id:
            assert g.text.endswith("</action>") and g.text.count("</action>") == 1
    assert FINISH_STOP in reasons  # a random 30-token model emits the tag within 16 tokens


def test_finish_cuts_overshoot_after_stop_string(tiny_backend):
    tok = tiny_backend.tokenizer
    ids = tok("<action> up</action> down down")["input_ids"]
    gen = tiny_backend._finish([1], ids, [-1.0] * len(ids), SamplingParams(), "policy")
    assert gen.text == "<action> up</action>" and gen.finish_reason == FINISH_STOP
    assert gen.response_ids == tok("<action> up</action>")["input_ids"] and len(gen.logprobs) == len(gen.response_ids)


def test_greedy_is_deterministic(tiny_backend):
    sp = SamplingParams(max_new_tokens=8, temperature=0)
    a = [g.response_ids for g in tiny_backend.generate(PROMPTS, sp)]
    b = [g.response_ids for g in tiny_backend.generate(PROMPTS, sp)]
    assert a == b


def test_missing_model_dir_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        TransformersBackend.from_pretrained(tmp_path / "nope")
    assert e.value.field == "model_path"


@pytest.mark.parametrize("kwargs", [{"max_new_tokens": 0}, {"temperature": -1}, {"top_p": 0}])
def test_bad_sampling_params_name_the_field(kwargs):
    with pytest.raises(ConfigError) as e:
        SamplingParams(**kwargs)
    assert e.value.field == next(iter(kwargs))


# --- per-row sampling streams (issue 11: same seed, same run) ----------------------------------


def test_seeded_row_does_not_depend_on_the_rest_of_the_batch(tiny_backend):
    sp = SamplingParams(max_new_tokens=10, temperature=1.0, stop=())
    together = tiny_backend.generate(PROMPTS, sp, seeds=[11, 12, 13, 14])
    torch.manual_seed(123)  # the global RNG must not matter
    alone = tiny_backend.generate([PROMPTS[2]], sp, seeds=[13])
    reordered = tiny_backend.generate([PROMPTS[3], PROMPTS[2], PROMPTS[0]], sp, seeds=[14, 13, 11])
    assert alone[0].response_ids == together[2].response_ids == reordered[1].response_ids
    assert reordered[0].response_ids == together[3].response_ids and reordered[2].response_ids == together[0].response_ids
    torch.testing.assert_close(torch.tensor(alone[0].logprobs), torch.tensor(together[2].logprobs), atol=1e-4, rtol=0)


def test_seeded_rows_differ_by_seed_and_repeat_by_seed(tiny_backend):
    sp = SamplingParams(max_new_tokens=10, temperature=1.0, stop=())
    a = tiny_backend.generate([PROMPTS[0]] * 8, sp, seeds=list(range(8)))
    b = tiny_backend.generate([PROMPTS[0]] * 8, sp, seeds=list(range(8)))
    assert [g.response_ids for g in a] == [g.response_ids for g in b]
    assert len({tuple(g.response_ids) for g in a}) > 1


@pytest.mark.parametrize(("temperature", "top_p"), [(1.0, 1.0), (0.5, 1.0), (1.0, 0.6)])
def test_seeded_sampling_follows_the_model_distribution(tiny_backend, temperature, top_p):
    """First-token frequencies over 4,000 seeds match softmax(logits / T) (top-p renormalised)."""
    from hiergym.agents.transformers_backend import top_p_filter

    n = 4000
    sp = SamplingParams(max_new_tokens=1, temperature=temperature, top_p=top_p, stop=())
    gens = tiny_backend.generate([PROMPTS[1]] * n, sp, seeds=list(range(n)))
    enc = tiny_backend.tokenizer([PROMPTS[1]], return_tensors="pt")
    with torch.no_grad():
        logits = tiny_backend.model(**enc).logits[:, -1].float() / temperature
    probs = torch.softmax(top_p_filter(logits, top_p), -1)[0]
    counts = torch.bincount(torch.tensor([g.response_ids[0] for g in gens]), minlength=probs.numel()).float()
    assert counts[probs == 0].sum() == 0  # nothing outside the top-p set
    expected = probs * n
    big = expected > 20
    chi2 = float((((counts - expected) ** 2)[big] / expected[big]).sum())
    assert chi2 < 3 * int(big.sum()) + 30, chi2  # ~ dof on average; far above only when the sampler is biased


def test_top_p_filter_keeps_the_smallest_set_reaching_top_p():
    from hiergym.agents.transformers_backend import top_p_filter

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(top_p_filter(logits, 0.75))[0].tolist()
    assert kept == [True, True, False, False]
    assert torch.isfinite(top_p_filter(logits, 0.1))[0].tolist() == [True, False, False, False]


def test_seeds_must_match_prompts(tiny_backend):
    with pytest.raises(ConfigError, match="seeds"):
        tiny_backend.generate(PROMPTS, SamplingParams(), seeds=[1])


# --- the KV-cache decode loop gives model.generate's records (issue 15: throughput) ------------


def _records(gens):
    return [(g.prompt_ids, g.response_ids, g.text, g.finish_reason, g.role) for g in gens]


@pytest.mark.parametrize(
    ("temperature", "top_p", "stop", "seeded"),
    [(1.0, 1.0, (), True), (0.7, 0.9, ("</action>",), True), (0.0, 1.0, ("</action>",), False), (1.0, 1.0, ("</action>",), False)],
)
@pytest.mark.parametrize("lean", [True, False], ids=["llama-forward", "model-forward"])
def test_decode_loop_equals_hf_generate(tiny_backend, temperature, top_p, stop, seeded, lean, monkeypatch):
    """Same tokens, text, finish reasons and log-probs as ``model.generate`` with the same streams.

    Prompts of different lengths (left padding) with repeats (the loop prefills each distinct
    prompt once), stop strings, seeded / unseeded (same global seed) / greedy sampling; through
    the Llama forward of ``llama_decode`` and through the model's own forward (other architectures).
    """
    from hiergym.agents import TransformersBackend, llama_decode

    assert llama_decode.supports(tiny_backend.model)
    if not lean:
        monkeypatch.setattr(llama_decode, "supports", lambda model: False)
    hf = TransformersBackend(tiny_backend.model, tiny_backend.tokenizer, device="cpu", decoding="hf")
    assert tiny_backend.decoding == "loop"
    prompts = [p for p in PROMPTS for _ in range(3)]
    sp = SamplingParams(max_new_tokens=14, temperature=temperature, top_p=top_p, stop=stop)
    seeds = list(range(100, 100 + len(prompts))) if seeded else None
    torch.manual_seed(7)
    loop = tiny_backend.generate(prompts, sp, seeds=seeds)
    torch.manual_seed(7)
    ref = hf.generate(prompts, sp, seeds=seeds)
    assert _records(loop) == _records(ref)
    for a, b in zip(loop, ref):
        torch.testing.assert_close(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=1e-5, rtol=0)
    if stop and temperature > 0:  # the stop-string path ran (greedy answers of this model never reach the tag)
        assert {g.finish_reason for g in loop} == {FINISH_STOP, FINISH_LENGTH}


def test_row_noise_is_the_per_call_stream():
    """Chunked draws equal one ``rand(V)`` per row and token from the row's own generator."""
    from hiergym.agents.transformers_backend import RowNoise

    noise = RowNoise([3, 4], vocab_size=7, max_steps=5, device="cpu")
    noise.chunk = 2  # force a refill mid-way
    got = torch.stack([noise.next() for _ in range(5)])
    gens = [torch.Generator().manual_seed(s) for s in (3, 4)]
    want = torch.stack([torch.stack([torch.rand(7, generator=g, dtype=torch.float64) for g in gens]) for _ in range(5)])
    torch.testing.assert_close(got, (-torch.log(-torch.log(want))).float(), atol=0, rtol=0)


def test_unknown_decoding_is_a_config_error(tiny_backend):
    from hiergym.agents import TransformersBackend

    with pytest.raises(ConfigError) as e:
        TransformersBackend(tiny_backend.model, tiny_backend.tokenizer, device="cpu", decoding="fast")
    assert e.value.field == "decoding"
