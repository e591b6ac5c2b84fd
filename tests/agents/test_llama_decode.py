"""The Llama-architecture KV-cache forward gives the model's own logits (issue 15: throughput)."""

import inspect

import pytest
import torch

from hiergym.agents import llama_decode
from hiergym.agents.transformers_backend import _cache_of, _positions


def _model(kind: str):
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    torch.manual_seed(0)
    if kind == "llama-dynamic-rope":  # frequencies rescaled once positions pass max_position_embeddings: no fixed table
        config = LlamaConfig(vocab_size=41, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                             max_position_embeddings=8, rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0})
    elif kind == "llama":  # grouped-query attention, tied head: hiergym's tiny model
        config = LlamaConfig(vocab_size=41, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    elif kind == "llama-biased":  # attention and MLP biases, one KV head per query head
        config = LlamaConfig(vocab_size=41, hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, attention_bias=True, mlp_bias=True, tie_word_embeddings=False)
    else:  # Qwen2: q/k/v biases, untied head
        config = Qwen2Config(vocab_size=41, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, tie_word_embeddings=False)
    model = AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():  # random non-trivial norms and biases (init leaves them at 1 and 0)
        for name, param in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                param.add_(0.3 * torch.randn_like(param))
    return model


@pytest.mark.parametrize("kind", ["llama", "llama-biased", "qwen2", "llama-dynamic-rope"])
def test_prefill_and_steps_match_the_model_forward(kind):
    """Left-padded prompts, a row repeated through ``rows``, 10 decode steps: logits equal up to float rounding."""
    model = _model(kind)
    assert llama_decode.supports(model)
    gen = torch.Generator().manual_seed(1)
    distinct = torch.randint(3, 41, (3, 7), generator=gen)
    distinct_mask = torch.ones_like(distinct)
    distinct_mask[0, :3] = 0
    distinct_mask[2, :6] = 0
    distinct[distinct_mask == 0] = 0
    rows = torch.tensor([0, 0, 1, 2, 2, 1])
    ids, mask = distinct[rows], distinct_mask[rows]
    cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask), use_cache=True)
        expected, cache = out.logits[:, -1], _cache_of(out)
        decoder = llama_decode.LlamaKVDecoder(model, batch=6, max_len=7 + 10)
        assert (decoder.rotary is None) == (kind == "llama-dynamic-rope")  # a fixed rope is looked up, a dynamic one recomputed
        got = decoder.prefill(distinct, distinct_mask, _positions(distinct_mask), rows)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
        position = _positions(mask)[:, -1]
        for _ in range(10):
            token = torch.multinomial(torch.softmax(expected, -1), 1, generator=gen).squeeze(1)
            mask = torch.cat([mask, mask.new_ones((6, 1))], dim=1)
            position = position + 1
            out = model(input_ids=token[:, None], attention_mask=mask, position_ids=position[:, None], use_cache=True, **{cache_arg: cache})
            expected, cache = out.logits[:, -1], _cache_of(out)
            torch.testing.assert_close(decoder.step(token, position), expected, atol=1e-5, rtol=1e-5)


def test_reads_the_weights_in_place():
    """An optimiser step on the model is seen by the next decode: no stale copy of the weights."""
    model = _model("llama")
    ids = torch.randint(3, 41, (2, 5))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        before = llama_decode.LlamaKVDecoder(model, 2, 6).prefill(ids, mask, _positions(mask))
        model.lm_head.weight.mul_(2.0)
        after = llama_decode.LlamaKVDecoder(model, 2, 6).prefill(ids, mask, _positions(mask))
        torch.testing.assert_close(after, model(input_ids=ids).logits[:, -1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(before, after)


def test_other_architectures_are_not_claimed():
    from transformers import AutoModelForCausalLM, GPT2Config, Qwen2Config

    assert not llama_decode.supports(AutoModelForCausalLM.from_config(GPT2Config(vocab_size=41, n_embd=32, n_layer=1, n_head=2)))
    sliding = Qwen2Config(vocab_size=41, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, use_sliding_window=True, sliding_window=4, max_window_layers=0)
    assert not llama_decode.supports(AutoModelForCausalLM.from_config(sliding))
    assert not llama_decode.supports(object())
