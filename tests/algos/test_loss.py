"""The clipped policy loss against hand-computed numbers (every agg mode, both clip sides, dual clip, k3)."""

import math

import pytest
import torch

from hiergym.algos import agg_loss, kl_k3, policy_loss

# Two rows, old log-probs 0, so ratio = exp(logp). eps_low 0.2, eps_high 0.28 -> clip to [0.8, 1.28].
# row 0, A = +1, ratios 1.5, 0.5, 1.1:
#   1.5: unclipped -1.5, clipped -1.28 -> max = -1.28   (upper clip active)
#   0.5: unclipped -0.5, clipped -0.8  -> max = -0.5    (pessimistic branch is the unclipped one)
#   1.1: -1.1 both
# row 1, A = -2, ratios 0.5, 1.5, (masked, ratio 1e30):
#   0.5: unclipped 1.0, clipped 2 * 0.8 = 1.6 -> 1.6     (lower clip active)
#   1.5: unclipped 3.0, clipped 2 * 1.28 = 2.56 -> 3.0
RATIOS = torch.tensor([[1.5, 0.5, 1.1], [0.5, 1.5, 1.0]])
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])
ADV = torch.tensor([[1.0, 1.0, 1.0], [-2.0, -2.0, -2.0]])
TOKEN_LOSS_SUM = -1.28 - 0.5 - 1.1 + 1.6 + 3.0  # = 1.72


def _logp(ratios=RATIOS, masked_value=1e30):
    lp = torch.log(ratios.clone())
    lp[1, 2] = math.log(masked_value)  # a huge ratio under the mask must not matter
    return lp.requires_grad_(True)


@pytest.mark.parametrize(
    ("agg", "expected"),
    [
        ("token-mean", TOKEN_LOSS_SUM / 5),  # 1.72 / 5 = 0.344
        ("seq-mean-token-mean", ((-1.28 - 0.5 - 1.1) / 3 + (1.6 + 3.0) / 2) / 2),  # (-0.96 + 2.3) / 2 = 0.67
        ("seq-mean-token-sum", ((-1.28 - 0.5 - 1.1) + (1.6 + 3.0)) / 2),  # (-2.88 + 4.6) / 2 = 0.86
    ],
)
def test_policy_loss_agg_modes(agg, expected):
    loss, m = policy_loss(_logp(), torch.zeros(2, 3), ADV, MASK, agg=agg)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert m["clipfrac"] == pytest.approx(2 / 5)  # row 0 token 0 (upper) and row 1 token 0 (lower)
    assert m["ratio_mean"] == pytest.approx((1.5 + 0.5 + 1.1 + 0.5 + 1.5) / 5)
    assert m["response_tokens"] == 5


def test_clipped_tokens_get_no_gradient():
    lp = _logp()
    loss, _ = policy_loss(lp, torch.zeros(2, 3), ADV, MASK)
    loss.backward()
    # d/dlogp of -A * rho = -A * rho, divided by 5 tokens; clipped tokens and masked tokens: 0
    expected = torch.tensor([[0.0, -0.5 / 5, -1.1 / 5], [0.0, 2 * 1.5 / 5, 0.0]])
    torch.testing.assert_close(lp.grad, expected)


def test_dual_clip_caps_negative_advantage_loss():
    # A = -2, ratio 4: unclipped 8, clipped 2.56 -> 8; dual clip 3 caps at 3 * |A| = 6. ratio 0.5 -> 1.6 as above.
    lp = torch.log(torch.tensor([[4.0, 0.5]]))
    adv = torch.tensor([[-2.0, -2.0]])
    mask = torch.ones(1, 2)
    no_cap, _ = policy_loss(lp, torch.zeros(1, 2), adv, mask)
    capped, m = policy_loss(lp, torch.zeros(1, 2), adv, mask, dual_clip=3.0)
    assert no_cap.item() == pytest.approx((8 + 1.6) / 2)
    assert capped.item() == pytest.approx((6 + 1.6) / 2)
    assert m["clipfrac_dual"] == pytest.approx(0.5)
    # A > 0 is untouched by the dual clip: ratio 4 -> -1.28 either way
    pos = torch.tensor([[1.0, 1.0]])
    a, _ = policy_loss(lp, torch.zeros(1, 2), pos, mask)
    b, _ = policy_loss(lp, torch.zeros(1, 2), pos, mask, dual_clip=3.0)
    assert a.item() == pytest.approx(b.item()) == pytest.approx((-1.28 - 0.5) / 2)


def test_k3_and_kl_penalty():
    # k3 = exp(ref - logp) - (ref - logp) - 1: ref - logp = ln 2 -> 2 - ln 2 - 1 = 0.30685;
    # ref - logp = -ln 2 -> 0.5 + ln 2 - 1 = 0.19315
    logp = torch.zeros(1, 2)
    ref = torch.tensor([[math.log(2.0), -math.log(2.0)]])
    torch.testing.assert_close(kl_k3(logp, ref), torch.tensor([[1 - math.log(2), math.log(2) - 0.5]]))
    # with ratio 1 and A = 0 the policy term is 0, so the loss is beta * mean k3
    loss, m = policy_loss(logp, logp, torch.zeros(1, 2), torch.ones(1, 2), ref_logprobs=ref, kl_beta=0.1)
    mean_k3 = (1 - math.log(2) + math.log(2) - 0.5) / 2
    assert loss.item() == pytest.approx(0.1 * mean_k3)
    assert m["kl"] == pytest.approx(mean_k3)
    assert m["approx_kl"] == 0.0


def test_approx_kl_of_old_vs_new():
    # k3 of ratio r: r - 1 - ln r; ratios 1.5 and 0.5 -> (0.5 - ln 1.5 + -0.5 - ln 0.5) / 2
    lp = torch.log(torch.tensor([[1.5, 0.5]]))
    _, m = policy_loss(lp, torch.zeros(1, 2), torch.ones(1, 2), torch.ones(1, 2))
    assert m["approx_kl"] == pytest.approx((0.5 - math.log(1.5) - 0.5 - math.log(0.5)) / 2)


def test_denominator_makes_micro_batch_losses_add_up():
    token_loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])
    for agg in ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum"):
        full = agg_loss(token_loss, MASK, agg)
        denom = 5.0 if agg == "token-mean" else 2.0
        parts = agg_loss(token_loss[:1], MASK[:1], agg, denom) + agg_loss(token_loss[1:], MASK[1:], agg, denom)
        assert parts.item() == pytest.approx(full.item())


def test_rows_without_response_tokens_do_not_count():
    token_loss = torch.tensor([[2.0, 4.0], [9.0, 9.0]])
    mask = torch.tensor([[1, 1], [0, 0]])
    assert agg_loss(token_loss, mask, "seq-mean-token-sum").item() == 6.0
    assert agg_loss(token_loss, mask, "seq-mean-token-mean").item() == 3.0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="agg='mean'"):
        agg_loss(torch.zeros(1, 1), torch.ones(1, 1), "mean")
    with pytest.raises(ValueError, match="ref_logprobs"):
        policy_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1, 1), kl_beta=0.1)
    with pytest.raises(ValueError, match="dual_clip"):
        policy_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1, 1), dual_clip=0.5)
