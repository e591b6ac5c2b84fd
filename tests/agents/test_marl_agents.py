"""Shared recurrent agents: masked epsilon-greedy, shapes, unroll == step-by-step acting, subgoal decisions, seeding."""

import numpy as np
import pytest
import torch

from hiergym.agents.marl import LinearSchedule, QMixAgents, SubgoalQMixAgents, epsilon_greedy, masked_argmax


pytestmark = pytest.mark.usefixtures("one_torch_thread")

N, OBS, A, G = 3, 5, 4, 2


def test_masked_actions_are_never_chosen_greedy_or_random():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(500, A) * 10
    avail = torch.randint(0, 2, (500, A))
    avail[:, 2] = 1  # at least one legal action per row
    for eps in (0.0, 0.5, 1.0):
        actions = epsilon_greedy(q, avail, eps, g)
        assert avail.gather(1, actions[:, None]).all()


def test_greedy_picks_best_available_and_random_covers_all_available():
    q = torch.tensor([[5.0, 1.0, 3.0, 0.0]])
    avail = torch.tensor([[0, 1, 1, 1]])
    assert masked_argmax(q, avail).item() == 2
    g = torch.Generator().manual_seed(0)
    seen = {epsilon_greedy(q, avail, 1.0, g).item() for _ in range(200)}
    assert seen == {1, 2, 3}


def test_empty_mask_row_is_a_clear_error():
    with pytest.raises(ValueError, match="no available action"):
        masked_argmax(torch.zeros(1, A), torch.zeros(1, A))


def test_linear_schedule():
    s = LinearSchedule(1.0, 0.05, 100)
    assert s(0) == 1.0 and s(50) == pytest.approx(0.525) and s(100) == pytest.approx(0.05) and s(10**6) == pytest.approx(0.05)


def test_shapes_and_unroll_matches_acting_step_by_step():
    torch.manual_seed(0)
    agents = QMixAgents(N, OBS, A)
    obs = np.random.default_rng(0).random((2, 4, N, OBS), dtype=np.float32)
    carry = agents.initial_carry(2)
    taken, hiddens = [], []
    for t in range(3):
        actions, record, carry = agents.act(obs[:, t], np.ones((2, N, A), np.int8), carry, epsilon=0.3)
        assert actions.shape == (2, N) and record == {}
        taken.append(actions)
        hiddens.append(carry["hidden"])
    unrolled = agents.unroll(torch.as_tensor(obs[:, :4]), torch.as_tensor(np.stack(taken, axis=1)))
    assert unrolled.shape == (2, 4, N, 64)
    assert torch.allclose(unrolled[:, :3], torch.stack(hiddens, dim=1), atol=1e-6)
    assert agents.q_values(unrolled).shape == (2, 4, N, A)


def test_agent_id_makes_agents_differ_under_parameter_sharing():
    torch.manual_seed(0)
    agents = QMixAgents(N, OBS, A)
    hidden = agents.step(torch.zeros(1, N, OBS), torch.full((1, N), -1), agents.init_hidden(1))
    q = agents.q_values(hidden)[0]
    assert not torch.allclose(q[0], q[1])


def test_seeded_exploration_is_per_row_uniform_over_available_actions():
    from hiergym.agents.marl.action_selection import epsilon_greedy, seeded_uniforms

    u = seeded_uniforms(range(4000), (1, 2))
    assert torch.equal(u[7], seeded_uniforms([7], (1, 2))[0]), "a row depends on its own seed only"
    avail = torch.tensor([[0, 1, 1, 0, 1]]).expand(4000, 1, 5)
    picks = epsilon_greedy(torch.zeros(4000, 1, 5), avail, 1.0, uniforms=u)
    counts = torch.bincount(picks.flatten(), minlength=5)
    assert counts[0] == counts[3] == 0 and all(1200 < int(counts[a]) < 1470 for a in (1, 2, 4))
    greedy = epsilon_greedy(torch.tensor([[[0.0, 0, 0, 0, 9]]]), avail[:1], 0.5, uniforms=torch.tensor([[[0.7, 0.0]]], dtype=torch.float64))
    assert int(greedy) == 4, "u0 >= epsilon keeps the greedy action"


def _run_subgoal_agents(agents, steps, achieved_at=()):
    carry = agents.initial_carry(1)
    decisions, subgoals = [], []
    for t in range(steps):
        _, record, carry = agents.act(
            np.zeros((1, N, OBS), np.float32), np.ones((1, N, A), np.int8), carry, epsilon=1.0,
            generator=torch.Generator().manual_seed(t), subgoal_avail=np.ones((1, N, G), np.int8),
        )
        decisions.append(bool(record["decision"][0]))
        subgoals.append(record["subgoal"][0].copy())
        carry = agents.observe_achieved(carry, np.array([[t in achieved_at] + [False] * (N - 1)]))
    return decisions, subgoals


def test_subgoal_decisions_every_k_steps_or_after_achievement():
    agents = SubgoalQMixAgents(N, OBS, A, G, goal_horizon=3)
    decisions, subgoals = _run_subgoal_agents(agents, 8)
    assert decisions == [True, False, False, True, False, False, True, False]
    assert all((subgoals[t] == subgoals[t - 1]).all() for t in range(8) if not decisions[t])
    decisions, _ = _run_subgoal_agents(agents, 6, achieved_at={0})
    assert decisions == [True, True, False, False, True, False]


def test_subgoal_agents_respect_subgoal_mask():
    agents = SubgoalQMixAgents(N, OBS, A, 3, goal_horizon=1)
    carry = agents.initial_carry(4)
    mask = np.zeros((4, N, 3), np.int8)
    mask[..., 1] = 1
    for _ in range(5):
        _, record, carry = agents.act(np.zeros((4, N, OBS), np.float32), np.ones((4, N, A), np.int8), carry, epsilon=1.0, subgoal_avail=mask)
        assert (record["subgoal"] == 1).all()


def test_same_seed_same_actions():
    def run(seed):
        torch.manual_seed(seed)
        agents = QMixAgents(N, OBS, A)
        carry, g, out = agents.initial_carry(2), torch.Generator().manual_seed(seed), []
        for _ in range(5):
            actions, _, carry = agents.act(np.ones((2, N, OBS), np.float32), np.ones((2, N, A), np.int8), carry, epsilon=0.5, generator=g)
            out.append(actions)
        return np.stack(out)

    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_executor_reads_the_chosen_subgoals_features_and_high_level_reads_all():
    agents = SubgoalQMixAgents(N, OBS, A, G, goal_horizon=2, subgoal_feat_dim=2)
    feat = torch.arange(N * G * 2, dtype=torch.float32).view(1, N, G, 2)
    subgoal = torch.tensor([[1, 0, 1]])
    cond = agents.low_cond(subgoal, feat)
    assert cond.shape == (1, N, G + 2)
    for i in range(N):
        assert cond[0, i, subgoal[0, i]] == 1 and torch.equal(cond[0, i, G:], feat[0, i, subgoal[0, i]])
    assert agents.high_inputs(torch.zeros(1, N, OBS), feat).shape == (1, N, OBS + G * 2)
    carry = agents.initial_carry(1)
    args = (np.zeros((1, N, OBS), np.float32), np.ones((1, N, A), np.int8), carry)
    with pytest.raises(ValueError, match="subgoal_feat"):
        agents.act(*args, epsilon=0.0, subgoal_avail=np.ones((1, N, G), np.int8))
    actions, record, _ = agents.act(*args, epsilon=0.0, subgoal_avail=np.ones((1, N, G), np.int8), subgoal_feat=feat.numpy())
    assert actions.shape == (1, N) and record["subgoal"].shape == (1, N)
