"""Learning diagnostics: hand-computed shares and per-class advantage statistics."""

import math

import numpy as np
import pytest
import torch

from hiergym.algos.diagnostics import gradient_cosine, signal_stats, split_by_group, token_class_stats, token_id_mask
from hiergym.types import Batch, Trajectory, Turn


def _traj(group, ret, success, n_turns=2):
    turns = [Turn("o", "a", reward=0.0) for _ in range(n_turns)]
    return Trajectory(group, "env", 0, turns=turns, episode_return=ret, success=success)


def test_signal_stats_counts_groups_without_signal():
    trajs = [
        _traj("a", 1.0, True), _traj("a", 1.0, True),      # all solved: no episode signal
        _traj("b", -1.0, False), _traj("b", -1.0, False),  # all failed
        _traj("c", 1.0, True), _traj("c", -1.0, False),    # mixed: signal
        _traj("d", 0.5, False), _traj("d", 0.2, False),    # both failed, different returns: signal
    ]
    advantages = [np.zeros(2), np.zeros(2), np.zeros(2), np.array([0.0, 0.3]), np.ones(2), -np.ones(2), np.ones(2), -np.ones(2)]
    stats = signal_stats(trajs, advantages)
    assert stats["groups_same_return"] == 0.5
    assert stats["groups_solved_all"] == 0.25
    assert stats["groups_failed_all"] == 0.5  # b and d
    assert stats["groups_zero_advantage"] == 0.25  # only a: b has a step-level signal left (GiGPO)
    assert stats["turns_zero_advantage"] == 7 / 16


def test_signal_stats_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 trajectories but 1"):
        signal_stats([_traj("a", 0, False), _traj("a", 1, True)], [np.zeros(2)])


def test_token_class_stats_by_hand():
    ids = torch.tensor([[5, 7, 8, 9], [5, 7, 9, 0]])
    response = torch.tensor([[0, 1, 1, 1], [0, 1, 1, 0]])
    adv = torch.tensor([[0.0, 1.0, 1.0, 1.0], [0.0, -2.0, -2.0, 0.0]])
    batch = Batch(ids, torch.ones_like(ids), response, torch.zeros(2, 4), adv, "policy")
    is_tag = token_id_mask(ids, [7, 9])
    stats = token_class_stats(batch, {"format": is_tag, "content": ~is_tag})
    # format tokens on the response: row0 7, 9 (+1, +1), row1 7, 9 (-2, -2); content: row0 8 (+1)
    assert stats["token_share/format"] == 4 / 5 and stats["token_share/content"] == 1 / 5
    assert stats["adv_mean/format"] == pytest.approx(-0.5)
    assert stats["adv_std/format"] == pytest.approx(1.5)
    assert stats["adv_mean/content"] == 1.0 and stats["adv_std/content"] == 0.0


def test_entropy_matches_the_distribution_of_each_token():
    from hiergym.algos.logprobs import token_logprobs, token_logprobs_and_entropy

    torch.manual_seed(0)
    transformers = pytest.importorskip("transformers")
    cfg = transformers.Qwen2Config(vocab_size=16, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, intermediate_size=32)
    model = transformers.AutoModelForCausalLM.from_config(cfg).float()
    ids = torch.tensor([[1, 2, 3, 4]])
    mask = torch.ones_like(ids)
    logp, ent = token_logprobs_and_entropy(model, ids, mask)
    assert torch.equal(logp, token_logprobs(model, ids, mask))
    with torch.no_grad():
        p = torch.softmax(model(ids).logits[0, :-1].float(), -1)
    expected = -(p * p.log()).sum(-1)
    torch.testing.assert_close(ent[0, 1:], expected, atol=1e-5, rtol=0)
    assert ent[0, 0] == 0 and float(ent.max()) <= math.log(16) + 1e-5


def test_split_by_group_halves_the_task_groups_in_order():
    trajs = [_traj(g, 0.0, False) for g in "aabbcc"]
    assert split_by_group(trajs) == ([0, 1, 2, 3], [4, 5])


def test_gradient_cosine_is_one_for_the_same_signal_and_minus_one_for_the_opposite():
    from hiergym.algos import Trainer, TrainerConfig

    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.Qwen2Config(vocab_size=16, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, intermediate_size=32)
    model = transformers.AutoModelForCausalLM.from_config(cfg).float()
    trainer = Trainer(model, TrainerConfig(lr=1e-3))
    ids = torch.tensor([[1, 2, 3, 4], [1, 5, 6, 7]])
    response = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1]])
    adv = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, -1.0, -1.0]])
    batch = Batch(ids, torch.ones_like(ids), response, torch.zeros(2, 4), adv, "policy")
    flipped = Batch(ids, torch.ones_like(ids), response, torch.zeros(2, 4), -adv, "policy")
    before = [p.detach().clone() for p in model.parameters()]
    assert gradient_cosine(trainer, batch, batch) == pytest.approx(1.0, abs=1e-5)
    assert gradient_cosine(trainer, batch, flipped) == pytest.approx(-1.0, abs=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # no update made
