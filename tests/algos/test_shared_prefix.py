"""The shared-prefix training forward gives the plain forward's log-probs, entropies, loss and gradients."""

import pytest
import torch

from hiergym.agents import llama_forward
from hiergym.algos import build_batch
from hiergym.algos.logprobs import token_logprobs_and_entropy
from hiergym.algos.shared_prefix import prompt_groups, shared_prefix_logprobs_and_entropy
from hiergym.types import Generation, Trajectory, Turn

transformers = pytest.importorskip("transformers")

VOCAB = 40


def tiny_llama(dtype, kind: str = "llama"):
    """Llama with grouped-query attention (hiergym's tiny model), or Qwen2 with q/k/v biases, one KV head and a tied head."""
    torch.manual_seed(0)
    if kind == "llama":
        cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    else:
        cfg = transformers.Qwen2Config(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=64, tie_word_embeddings=True)
    model = transformers.AutoModelForCausalLM.from_config(cfg).to(dtype)
    with torch.no_grad():  # non-trivial norms and biases (init leaves them at 1 and 0)
        for name, param in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                param.add_(0.3 * torch.randn_like(param))
    return model


@pytest.fixture(params=["plain-ops", "model-forward"])
def path(request, monkeypatch):
    """The shared-prefix forward's two bodies: plain ops on a Llama's weights, or the model's own forward and cache."""
    if request.param == "model-forward":
        monkeypatch.setattr(llama_forward, "supports_training", lambda model: False)
    return request.param


def grouped_batch():
    """Three task groups (prompts of 5, 9 and 3 tokens, the first also in the third group's turn 2), 4 rows each, ragged responses."""
    gen = torch.Generator().manual_seed(1)
    prompts = [torch.randint(3, VOCAB, (n,), generator=gen).tolist() for n in (5, 9, 3)]
    trajs = []
    for g, prompt in enumerate(prompts):
        for copy in range(4):
            turns = []
            for t, p in enumerate([prompt, prompts[0]] if g == 2 else [prompt]):
                resp = torch.randint(3, VOCAB, (1 + (copy + t) % 4,), generator=gen).tolist()
                turns.append(Turn("obs", "a", generations=[Generation(p, resp, [0.0] * len(resp), "x")]))
            trajs.append(Trajectory(f"g{g}", "toy", g, turns=turns, episode_return=float(copy)))
    advantages = [[float(i % 5) - 2.0] * len(t.turns) for i, t in enumerate(trajs)]
    return build_batch(trajs, advantages, pad_token_id=0)


def loss_and_grads(model, batch, forward):
    model.zero_grad(set_to_none=True)
    logprobs, entropy = forward(model, batch)
    mask = batch.response_mask.to(logprobs.dtype)
    loss = -(logprobs * batch.advantages.to(logprobs.dtype) * mask).sum() / mask.sum()  # a policy-gradient loss over response tokens
    loss.backward()
    return logprobs * mask, entropy * mask, loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def plain(model, batch):
    if next(model.parameters()).dtype == torch.float64:  # token_logprobs_and_entropy's own code, minus its float32 cast
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1] / 0.7
        log_norm = torch.logsumexp(logits, dim=-1)
        picked = torch.gather(logits, -1, batch.input_ids[:, 1:].unsqueeze(-1)).squeeze(-1) - log_norm
        ent = (log_norm - (torch.softmax(logits, -1) * logits).sum(-1)).detach()
        return torch.nn.functional.pad(picked, (1, 0)), torch.nn.functional.pad(ent, (1, 0))
    return token_logprobs_and_entropy(model, batch.input_ids, batch.attention_mask, temperature=0.7)


def shared(model, batch):
    return shared_prefix_logprobs_and_entropy(model, batch.input_ids, batch.attention_mask, batch.response_mask, temperature=0.7)


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
@pytest.mark.parametrize(("dtype", "atol"), [(torch.float64, 1e-6), (torch.float32, 2e-5)])
def test_same_logprobs_entropy_loss_and_gradients_as_the_plain_forward(dtype, atol, kind, path):
    """Equal up to float rounding: HF's RMSNorm computes in float32 even in a float64 model, so float64
    agrees to ~1e-8 (a wrong position id alone is off by ~1e-3)."""
    model, batch = tiny_llama(dtype, kind), grouped_batch()
    want, got = loss_and_grads(model, batch, plain), loss_and_grads(model, batch, shared)
    for w, g in zip(want[:3], got[:3]):
        torch.testing.assert_close(g, w, atol=atol, rtol=0)
    assert want[3].keys() == got[3].keys()
    for name in want[3]:
        torch.testing.assert_close(got[3][name], want[3][name], atol=atol, rtol=0, msg=name)
    assert float(want[2]) != 0.0


def test_one_token_answers(path):
    """Bare one-token answers (the demo's --bare-answers): every log-prob is read at a prompt's last token."""
    gen = torch.Generator().manual_seed(2)
    prompts = [torch.randint(3, VOCAB, (n,), generator=gen).tolist() for n in (4, 7)]
    trajs = [Trajectory(f"g{g}", "toy", g, turns=[Turn("obs", "a", generations=[Generation(p, [3 + c], [0.0], "x")])], episode_return=float(c))
             for g, p in enumerate(prompts) for c in range(3)]
    batch = build_batch(trajs, [[float(c) - 1.0] for _ in prompts for c in range(3)], pad_token_id=0)
    model = tiny_llama(torch.float64)
    want, got = loss_and_grads(model, batch, plain), loss_and_grads(model, batch, shared)
    for w, g in zip(want[:3], got[:3]):
        torch.testing.assert_close(g, w, atol=1e-6, rtol=0)
    for name in want[3]:
        torch.testing.assert_close(got[3][name], want[3][name], atol=1e-6, rtol=0, msg=name)


def test_each_distinct_prompt_runs_once(path, monkeypatch):
    batch = grouped_batch()
    lengths, rows, prompts = prompt_groups(batch.input_ids, batch.response_mask)
    assert len(batch.input_ids) == 16 and len(prompts) == 3  # the third group's second turn reuses the first group's prompt
    assert sorted(len(p) for p in prompts) == [3, 5, 9]
    seen = []
    model = tiny_llama(torch.float32)
    if path == "model-forward":
        model.model.embed_tokens.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    else:
        layers = llama_forward.decoder_layers
        monkeypatch.setattr(llama_forward, "decoder_layers", lambda model, ids, *a: seen.append(tuple(ids.shape)) or layers(model, ids, *a))
    with torch.no_grad():
        shared(model, batch)
    if path == "model-forward":  # 3 prompts (27 slots) + 16 responses (64 slots) instead of 16 rows of 13
        assert seen == [(3, 9), (16, 4)]
    else:  # packed: the 17 real prompt tokens, and each response but its last token (whose prediction no log-prob reads)
        assert seen == [(17,), (int((batch.response_mask.sum(-1) - 1).sum()),)] and seen[1][0] == 24


def test_plain_ops_only_where_they_reproduce_the_model():
    """Attention dropout while training, activation checkpointing and adapter-wrapped projections keep the model's own forward."""
    model = tiny_llama(torch.float32)
    assert llama_forward.supports_training(model.train())
    model.config.attention_dropout = 0.1
    assert not llama_forward.supports_training(model) and llama_forward.supports_training(model.eval())
    model.config.attention_dropout = 0.0
    (getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable)()  # renamed in newer transformers
    assert not llama_forward.supports_training(model.train())
    model = tiny_llama(torch.float32)

    class Adapted(torch.nn.Linear):  # what a LoRA layer looks like from outside: a Linear whose output is not weight @ x alone
        pass

    q = model.model.layers[1].self_attn.q_proj
    model.model.layers[1].self_attn.q_proj = Adapted(q.in_features, q.out_features, bias=False)
    assert not llama_forward.supports(model) and not llama_forward.supports_training(model)


def test_rows_without_prompt_or_response_are_refused():
    ids = torch.tensor([[5, 6, 7]])
    with pytest.raises(ValueError, match="response token"):
        prompt_groups(ids, torch.zeros_like(ids))
    with pytest.raises(ValueError, match="prompt"):
        prompt_groups(ids, torch.ones_like(ids))


def test_trainer_with_shared_prefix_matches_the_plain_trainer(path):
    """Old and reference log-probs, two minibatches, KL: the same step metrics and the same batch gradient.

    (Weights after AdamW are not compared: its first steps move each weight by ~lr * sign(grad), so a
    gradient entry that is ~0 flips with float rounding.)"""
    import copy

    from hiergym.algos import Trainer, TrainerConfig

    batch = grouped_batch()
    results = []
    for shared_prefix in (False, True):
        model = tiny_llama(torch.float32)
        config = TrainerConfig(lr=1e-2, num_minibatches=2, kl_beta=0.1, max_tokens_per_microbatch=64, shared_prefix=shared_prefix)
        trainer = Trainer(model, config, ref_model=copy.deepcopy(model))
        trainer.compute_gradients(batch)
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        results.append((trainer.step(batch), grads))
    (m_plain, g_plain), (m_shared, g_shared) = results
    assert m_plain.keys() == m_shared.keys() and "kl" in m_plain
    for key in m_plain:
        assert m_shared[key] == pytest.approx(m_plain[key], abs=1e-5), key
    for name in g_plain:
        torch.testing.assert_close(g_shared[name], g_plain[name], atol=1e-6, rtol=0, msg=name)
    assert max(float(g.abs().max()) for g in g_plain.values()) > 1e-3
