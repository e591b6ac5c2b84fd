"""TD(lambda), n-step, SMDP and double-Q targets against hand-computed numbers."""

import pytest
import torch

from hiergym.algos.marl.targets import double_q_values, max_q_values, n_step_targets, smdp_targets, td_lambda_targets

T = torch.tensor


def test_one_step_target_is_lambda_zero():
    # r = [1, 2], V(s1) = 10, V(s2) = 20, not terminated, gamma 0.5
    out = td_lambda_targets(T([[1.0, 2.0]]), T([[0.0, 0.0]]), T([[1.0, 1.0]]), T([[0.0, 10.0, 20.0]]), 0.5, 0.0)
    assert torch.allclose(out, T([[1 + 0.5 * 10, 2 + 0.5 * 20]]))


def test_td_lambda_hand_numbers():
    # G_1 = 2 + .5*20 = 12; G_0 = 1 + .5*((1-.5)*10 + .5*12) = 1 + .5*11 = 6.5
    out = td_lambda_targets(T([[1.0, 2.0]]), T([[0.0, 0.0]]), T([[1.0, 1.0]]), T([[0.0, 10.0, 20.0]]), 0.5, 0.5)
    assert torch.allclose(out, T([[6.5, 12.0]]))


def test_td_lambda_termination_and_padding():
    # episode of 2 real steps terminated at t=1, then a padded step: no bootstrap past the end
    r, d, m = T([[1.0, 2.0, 0.0]]), T([[0.0, 1.0, 0.0]]), T([[1.0, 1.0, 0.0]])
    v = T([[0.0, 10.0, 99.0, 99.0]])
    out = td_lambda_targets(r, d, m, v, 0.5, 1.0)  # Monte-Carlo: G_1 = 2, G_0 = 1 + .5*2
    assert torch.allclose(out[:, :2], T([[2.0, 2.0]]))


def test_td_lambda_truncation_bootstraps_from_final_state():
    r, d, m = T([[1.0, 0.0]]), T([[0.0, 0.0]]), T([[1.0, 0.0]])
    v = T([[0.0, 4.0, 99.0]])  # the episode was cut after step 0; V(final obs) = 4
    out = td_lambda_targets(r, d, m, v, 0.5, 1.0)
    assert out[0, 0].item() == pytest.approx(1 + 0.5 * 4)


def test_td_lambda_broadcasts_per_agent_values():
    v = T([[[0.0, 0.0], [10.0, 20.0]]])  # [B=1, T+1=2, N=2]
    out = td_lambda_targets(T([[1.0]]), T([[0.0]]), T([[1.0]]), v, 0.5, 0.0)
    assert torch.allclose(out, T([[[6.0, 11.0]]]))


def test_n_step_hand_numbers():
    r, d, m = T([[1.0, 2.0, 3.0]]), T([[0.0, 0.0, 0.0]]), T([[1.0, 1.0, 1.0]])
    v = T([[0.0, 10.0, 20.0, 30.0]])
    out = n_step_targets(r, d, m, v, 0.5, 2)
    # t0: 1 + .5*2 + .25*V2 = 2 + 5 = 7; t1: 2 + .5*3 + .25*V3 = 3.5 + 7.5 = 11; t2 (end): 3 + .5*V3 = 18
    assert torch.allclose(out, T([[7.0, 11.0, 18.0]]))
    assert torch.allclose(n_step_targets(r, d, m, v, 0.5, 1), td_lambda_targets(r, d, m, v, 0.5, 0.0))


def test_n_step_stops_at_termination():
    r, d, m = T([[1.0, 2.0, 0.0]]), T([[0.0, 1.0, 0.0]]), T([[1.0, 1.0, 0.0]])
    v = T([[0.0, 10.0, 99.0, 99.0]])
    out = n_step_targets(r, d, m, v, 0.5, 3)
    assert torch.allclose(out[:, :2], T([[1 + 0.5 * 2, 2.0]]))


def test_smdp_target_sums_reward_over_the_period_and_bootstraps_gamma_k():
    # decisions at t=0 (period of 2 steps) and t=2 (period of 1 step, episode truncated after it)
    r, d = T([[1.0, 2.0, 3.0]]), T([[0.0, 0.0, 0.0]])
    dec, m = T([[1.0, 0.0, 1.0]]), T([[1.0, 1.0, 1.0]])
    v = T([[10.0, 20.0, 30.0, 40.0]])  # V(s_t) at every index
    out = smdp_targets(r, d, dec, m, v, 0.5)
    assert out[0, 0].item() == pytest.approx(1 + 0.5 * 2 + 0.25 * 30)  # k = 2: bootstrap V(s_2)
    assert out[0, 2].item() == pytest.approx(3 + 0.5 * 40)  # k = 1: the final state after truncation


def test_smdp_target_no_bootstrap_after_termination():
    r, d = T([[1.0, 2.0, 0.0]]), T([[0.0, 1.0, 0.0]])
    dec, m = T([[1.0, 0.0, 0.0]]), T([[1.0, 1.0, 0.0]])
    out = smdp_targets(r, d, dec, m, T([[10.0, 20.0, 30.0, 40.0]]), 0.9)
    assert out[0, 0].item() == pytest.approx(1 + 0.9 * 2)


def test_double_q_uses_online_argmax_among_available_actions():
    online = T([[1.0, 5.0, 3.0]])
    target = T([[10.0, 20.0, 30.0]])
    avail = T([[1, 0, 1]])  # action 1 (online best) is masked -> online argmax among {0, 2} is 2
    assert double_q_values(online, target, avail).item() == 30.0
    assert max_q_values(T([[10.0, 50.0, 30.0]]), avail).item() == 30.0  # masked 50 excluded


def test_targets_do_not_mutate_inputs():
    r, d, m, v = T([[1.0, 2.0]]), T([[0.0, 1.0]]), T([[1.0, 1.0]]), T([[1.0, 2.0, 3.0]])
    copies = [x.clone() for x in (r, d, m, v)]
    td_lambda_targets(r, d, m, v, 0.9, 0.6)
    smdp_targets(r, d, m, m, v, 0.9)
    assert all(torch.equal(a, b) for a, b in zip((r, d, m, v), copies))
