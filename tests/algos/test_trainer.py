"""Trainer and token_logprobs on a tiny random-init Qwen2 (CPU): learning direction, micro-batch equivalence, resume."""

import copy

import pytest
import torch

from hiergym.algos import Trainer, TrainerConfig, token_logprobs
from hiergym.error import ConfigError
from hiergym.types import Batch

transformers = pytest.importorskip("transformers")

VOCAB = 64


def tiny_lm(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    cfg = transformers.Qwen2Config(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
        intermediate_size=64, max_position_embeddings=64,
    )
    return transformers.AutoModelForCausalLM.from_config(cfg).float()


def make_batch(lengths=((3, 4), (5, 2), (2, 6), (4, 3), (6, 1), (1, 5)), advantages=None, seed=1) -> Batch:
    """Right-padded rows of ``prompt + response`` random tokens; response_mask on the response part."""
    g = torch.Generator().manual_seed(seed)
    width = max(p + r for p, r in lengths)
    n = len(lengths)
    input_ids = torch.zeros(n, width, dtype=torch.long)
    attention, response = torch.zeros(n, width, dtype=torch.long), torch.zeros(n, width, dtype=torch.long)
    adv = torch.zeros(n, width)
    for i, (p, r) in enumerate(lengths):
        input_ids[i, : p + r] = torch.randint(1, VOCAB, (p + r,), generator=g)
        attention[i, : p + r] = 1
        response[i, p : p + r] = 1
        a = (1.0 if i % 2 == 0 else -0.5) if advantages is None else advantages[i]
        adv[i, p : p + r] = a
    return Batch(input_ids, attention, response, torch.zeros(n, width), adv, ["policy"] * n)


def test_token_logprobs_alignment_and_padding():
    model = tiny_lm().eval()
    ids = torch.tensor([[5, 9, 12, 3]])
    lp = token_logprobs(model, ids, torch.ones_like(ids))
    with torch.no_grad():
        logits = model(input_ids=ids[:, :3]).logits  # predicting tokens 1..3 from their prefixes
    manual = torch.log_softmax(logits[0], -1)[torch.arange(3), ids[0, 1:]]
    torch.testing.assert_close(lp[0, 1:], manual, atol=1e-5, rtol=1e-5)
    assert lp[0, 0] == 0
    # right padding does not change the real tokens' log-probs
    padded = torch.tensor([[5, 9, 12, 3, 0, 0]])
    lp_pad = token_logprobs(model, padded, torch.tensor([[1, 1, 1, 1, 0, 0]]))
    torch.testing.assert_close(lp_pad[0, :4], lp[0], atol=1e-5, rtol=1e-5)
    # temperature divides the logits
    lp_t = token_logprobs(model, ids, torch.ones_like(ids), temperature=2.0)
    manual_t = torch.log_softmax(logits[0] / 2.0, -1)[torch.arange(3), ids[0, 1:]]
    torch.testing.assert_close(lp_t[0, 1:], manual_t, atol=1e-5, rtol=1e-5)


def _sequence_logprob(trainer: Trainer, batch: Batch) -> torch.Tensor:
    return trainer.logprobs(batch).sum(-1)


def test_positive_advantage_raises_sequence_logprob():
    batch = make_batch(advantages=[1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    trainer = Trainer(tiny_lm(), TrainerConfig(lr=1e-2, max_grad_norm=None))
    before = _sequence_logprob(trainer, batch)
    metrics = trainer.step(batch)
    after = _sequence_logprob(trainer, batch)
    up = after - before
    assert (up[0::2] > 0).all() and (up[1::2] < 0).all(), up
    # first (and only) update with recomputed old log-probs: the ratio is exactly 1, nothing clipped
    assert metrics["ratio_mean"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["clipfrac"] == 0.0 and metrics["approx_kl"] == pytest.approx(0.0, abs=1e-7)
    assert metrics["updates"] == 1 and metrics["grad_norm"] > 0


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"])
def test_micro_batching_gives_the_full_batch_gradient(agg):
    batch = make_batch()
    grads = []
    for budget in (10_000, 16):  # one micro-batch vs several (rows are 7-8 tokens: 2 rows per micro-batch)
        model = tiny_lm()
        trainer = Trainer(model, TrainerConfig(loss_agg=agg, max_tokens_per_microbatch=budget))
        trainer.compute_gradients(batch)
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    from hiergym.algos.batching import microbatch_indices

    assert len(list(microbatch_indices(batch.attention_mask, 16))) == 3
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], atol=1e-6, rtol=1e-4)


def test_sampling_mismatch_is_reported_and_recompute_is_used():
    batch = make_batch()
    batch.old_logprobs = batch.response_mask * -0.25  # pretend the sampler saw different log-probs
    trainer = Trainer(tiny_lm(), TrainerConfig())
    true_lp = trainer.logprobs(batch)
    expected = ((true_lp + 0.25).abs() * batch.response_mask).sum() / batch.response_mask.sum()
    metrics = trainer.step(batch)
    assert metrics["logprob_mismatch_mean"] == pytest.approx(float(expected), rel=1e-5)
    assert metrics["ratio_mean"] == pytest.approx(1.0, abs=1e-6)  # the recomputed ones were the old log-probs
    sampling = Trainer(tiny_lm(), TrainerConfig(old_logprobs="sampling")).step(batch)
    assert sampling["ratio_mean"] != pytest.approx(1.0, abs=1e-3)


def test_current_old_logprobs_give_the_recompute_update_without_its_forward():
    """One update per batch: taking the old log-probs from the update's own forward (detached) is the
    same step as recomputing them first, one forward pass cheaper."""
    batch = make_batch()
    params = []
    for source in ("recompute", "current"):
        model = tiny_lm()
        metrics = Trainer(model, TrainerConfig(lr=1e-2, old_logprobs=source)).step(batch)
        assert metrics["ratio_mean"] == pytest.approx(1.0, abs=1e-6) and metrics["clipfrac"] == 0.0
        params.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert "logprob_mismatch_mean" not in metrics  # nothing was recomputed to compare against
    torch.testing.assert_close(params[1], params[0], atol=1e-6, rtol=1e-5)
    with pytest.raises(ConfigError, match="old_logprobs"):
        TrainerConfig(old_logprobs="current", num_minibatches=2)


def test_epochs_and_minibatches_count_updates():
    trainer = Trainer(tiny_lm(), TrainerConfig(lr=1e-3, ppo_epochs=2, num_minibatches=3))
    metrics = trainer.step(make_batch())
    assert metrics["updates"] == 6 and trainer.num_updates == 6
    assert metrics["ratio_mean"] != 1.0  # later updates see a moved policy


def test_reference_model_kl():
    model = tiny_lm()
    trainer = Trainer(model, TrainerConfig(lr=1e-2, kl_beta=0.1), ref_model=copy.deepcopy(model))
    first = trainer.step(make_batch())
    second = trainer.step(make_batch())
    assert first["kl"] == pytest.approx(0.0, abs=1e-7) and second["kl"] > 0
    with pytest.raises(ConfigError, match="kl_beta=0.1.*ref_model"):
        Trainer(tiny_lm(), TrainerConfig(kl_beta=0.1))


def test_state_dict_resume_continues_identically():
    batch = make_batch()
    cfg = TrainerConfig(lr=1e-2, num_minibatches=2, lr_warmup_steps=3)
    a = Trainer(tiny_lm(), cfg)
    a.step(batch)
    state = copy.deepcopy(a.state_dict())
    a.step(batch)
    b = Trainer(tiny_lm(seed=123), cfg)  # different init: everything must come from the state dict
    b.load_state_dict(state)
    b.step(batch)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        torch.testing.assert_close(pa, pb)
    assert b.num_steps == 2 and b.num_updates == 4 and "state" in state["optimizer"]


def test_out_of_vocabulary_token_is_a_clear_error():
    batch = make_batch()
    batch.input_ids[2, 1] = VOCAB + 5
    with pytest.raises(ValueError, match="row 2 position 1 has token id 69"):
        Trainer(tiny_lm(), TrainerConfig()).step(batch)
