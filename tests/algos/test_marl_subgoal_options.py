"""Subgoal-QMIX options: per-agent re-decisions (redecide="ended"), relabelled executor updates, Watkins Q(lambda) executors,
and the benchmark's held-out final evaluation."""

import numpy as np
import pytest
import torch

from hiergym.agents.marl.controller import SubgoalQMixAgents, held_subgoal_avail
from hiergym.algos.marl.configs import MarlRunConfig, SubgoalQMIXConfig, make_algo_config
from hiergym.algos.marl.episodes import agent_trajectories, episode_columns
from hiergym.algos.marl.hrl import SubgoalQLearner
from hiergym.algos.marl.learner import to_tensors
from hiergym.algos.marl.mixers import QMixer
from hiergym.algos.marl.targets import td_lambda_targets, watkins_traces
from hiergym.algos.marl.train import build_collector
from hiergym.error import ConfigError
from tests.algos.marl_fixtures import Corridor

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N, OBS, A, G, S = 2, 5, 4, 2, 3
T = torch.tensor


def _act_steps(agents, steps, achieved_at, rows=1, epsilon=1.0, state=False):
    """Act ``steps`` times; agent 0 achieves its subgoal on the steps in ``achieved_at``. Returns per-step records."""
    carry, out = agents.initial_carry(rows), []
    for t in range(steps):
        kw = {"state": np.zeros((rows, S), np.float32)} if state else {}
        _, record, carry = agents.act(
            np.zeros((rows, N, OBS), np.float32), np.ones((rows, N, A), np.int8), carry, epsilon=epsilon,
            generator=torch.Generator().manual_seed(t), subgoal_avail=np.ones((rows, N, G), np.int8), **kw,
        )
        out.append(record)
        carry = agents.observe_achieved(carry, np.array([[t in achieved_at, False]] * rows))
    return out


def test_ended_redecides_only_the_agent_whose_subgoal_ended():
    team = _act_steps(SubgoalQMixAgents(N, OBS, A, G, goal_horizon=3), 6, achieved_at={0})
    assert [r["redecided"][0].tolist() for r in team] == [[True, True], [True, True], [False, False], [False, False], [True, True], [False, False]]
    ended = _act_steps(SubgoalQMixAgents(N, OBS, A, G, goal_horizon=3, redecide="ended"), 6, achieved_at={0})
    # agent 0 achieves at t=0 and picks again at t=1 (then its own 3 steps end at t=4); agent 1 keeps its subgoal until t=3
    assert [r["redecided"][0].tolist() for r in ended] == [[True, True], [True, False], [False, False], [False, True], [True, False], [False, False]]
    assert [bool(r["decision"][0]) for r in ended] == [True, True, False, True, True, False]
    held = _act_steps(SubgoalQMixAgents(N, OBS, A, G, goal_horizon=3, redecide="ended"), 2, achieved_at={0}, rows=64)
    assert (held[1]["subgoal"][:, 1] == held[0]["subgoal"][:, 1]).all(), "agent 1 did not pick, so it keeps its subgoal"
    assert (held[1]["subgoal"][:, 0] != held[0]["subgoal"][:, 0]).any(), "agent 0 picked afresh (random at epsilon 1)"
    with pytest.raises(ValueError, match="redecide"):
        SubgoalQMixAgents(N, OBS, A, G, goal_horizon=3, redecide="never")
    with pytest.raises(ConfigError, match="redecide"):
        make_algo_config("subgoal-qmix", redecide="never")


def test_a_joint_pick_keeps_the_agents_that_do_not_pick_and_avoids_their_shared_subgoal():
    torch.manual_seed(0)
    agents = SubgoalQMixAgents(N, OBS, A, G, goal_horizon=3, joint_scorer=QMixer(N, S), shared_subgoals=[True, True], redecide="ended")
    for epsilon in (0.0, 1.0):
        records = _act_steps(agents, 2, achieved_at={0}, rows=64, epsilon=epsilon, state=True)
        first, second = records[0]["subgoal"], records[1]["subgoal"]
        assert (second[:, 1] == first[:, 1]).all() and (second[:, 0] != second[:, 1]).all()
    avail = torch.ones(1, N, G, dtype=torch.int8)
    assert held_subgoal_avail(avail, T([[0, 1]]), T([[True, False]])).tolist() == [[[1, 1], [0, 1]]]


def test_the_high_level_bootstrap_keeps_agents_that_did_not_pick():
    b = {
        "subgoal_avail": torch.ones(1, 4, N, G, dtype=torch.int8),  # T = 3 steps, 4 states
        "subgoal": T([[[0, 1], [0, 1], [1, 1]]]),
        "redecided": T([[[1.0, 1.0], [0.0, 0.0], [1.0, 0.0]]]),
        "mask": T([[1.0, 1.0, 0.0]]),  # 2 real steps: state 2 is the final one
    }
    avail = SubgoalQLearner.bootstrap_avail(b)
    assert avail[0, 0].tolist() == [[1, 1], [1, 1]]
    assert avail[0, 1].tolist() == [[1, 0], [0, 1]], "nobody picked: both keep their subgoal"
    assert avail[0, 2].tolist() == [[1, 1], [1, 1]] and avail[0, 3].tolist() == [[1, 1], [1, 1]], "after the last real step all are free"


def _subgoal_batch(**algo):
    torch.manual_seed(0)
    config = SubgoalQMIXConfig(goal_horizon=2, subgoal_features=False, batch_size=8, buffer_size=8, **algo)
    collector, spec, policy = build_collector(MarlRunConfig(n_envs=4), config, env_fn=Corridor)
    trajs, _ = collector.collect([("corridor", s) for s in range(8)], 1, sampling=1.0, stream=0)
    collector.close()
    return config, spec, policy.agents, trajs, episode_columns(trajs, spec)


def test_hooks_check_every_subgoal_for_every_agent():
    _, spec, _, _, ep = _subgoal_batch()
    cells = Corridor().subgoal_cells
    lengths = ep["mask"].sum(1).astype(int)
    seen_other = False
    for e, n in enumerate(lengths):
        pursued = np.take_along_axis(ep["subgoal_achieved"][e, :n], ep["subgoal"][e, :n, :, None], axis=-1)[..., 0]
        np.testing.assert_array_equal(pursued, ep["subgoal_done"][e, :n])
        for t in range(n - 1):  # the observation after step t (not the last: done agents observe zeros)
            pos = ep["obs"][e, t + 1, :, :4].argmax(-1)
            np.testing.assert_array_equal(ep["subgoal_achieved"][e, t], pos[:, None] == np.array(cells)[None, :])
            seen_other |= bool((ep["subgoal_achieved"][e, t] > ep["subgoal_done"][e, t, :, None]).any())
    assert seen_other, "some step achieved a subgoal the agent was not pursuing"


def test_ended_episodes_record_who_picked_and_cut_each_agents_segments_at_its_own_picks():
    _, spec, _, trajs, ep = _subgoal_batch(redecide="ended")
    real = ep["mask"] > 0
    assert (ep["redecided"][real].any(-1) == (ep["decision"][real] > 0)).all()
    assert (ep["redecided"][real].sum(-1) == 1).any(), "some decision let only one agent pick"
    for e, traj in enumerate(trajs):
        for i, record in enumerate(agent_trajectories(traj, spec)):
            starts = [s.start for s in record.segments]
            assert starts == np.flatnonzero(ep["redecided"][e, : len(traj.turns), i]).tolist()


def test_relabelled_executor_updates_train_the_subgoals_not_pursued():
    def low_loss(relabel, flip):
        config, spec, agents, _, ep = _subgoal_batch(relabel_subgoals=relabel)
        learner = SubgoalQLearner(agents, config, state_dim=spec.state_dim)
        b = to_tensors(ep)
        if flip:  # change only what the subgoals NOT pursued would have paid
            pursued = torch.nn.functional.one_hot(b["subgoal"], G).float()
            b["subgoal_achieved"] = torch.where(pursued > 0, b["subgoal_achieved"], 1.0 - b["subgoal_achieved"])
        return float(learner.low_loss(b)[0].detach())

    assert low_loss(False, False) == pytest.approx(low_loss(False, True))
    assert low_loss(True, False) != pytest.approx(low_loss(True, True))
    config, spec, agents, _, ep = _subgoal_batch(relabel_subgoals=True, low_td_lambda=0.6)
    cols = SubgoalQLearner(agents, config, state_dim=spec.state_dim).executor_columns(to_tensors(ep))
    assert cols["goals"].shape[-1] == G and torch.equal(cols["reward"] > 0, torch.as_tensor(ep["subgoal_achieved"]) > 0)
    assert np.isfinite(SubgoalQLearner(agents, config, state_dim=spec.state_dim).train(ep)["low_loss"])


def test_watkins_traces_stop_at_non_greedy_actions_and_new_subgoals():
    q = T([[[0.0, 1.0, 0.5], [2.0, 0.0, 0.0], [0.0, 0.0, 3.0]]])  # [B=1, T=3, A=3]
    avail = T([[[1, 1, 1], [1, 1, 1], [1, 1, 0]]])  # action 2 masked at t=2: greedy there is 0 or 1 (tie: 0)
    actions = T([[1, 1, 0]])
    trace = watkins_traces(q, actions, avail, torch.ones(1, 3))
    assert trace.tolist() == [[1.0, 0.0, 1.0]]
    assert watkins_traces(q, actions, avail, T([[1.0, 1.0, 0.0]])).tolist() == [[1.0, 0.0, 0.0]]
    # lambda = 1 with the trace cut at t=1: G_1 = r_1 + V_2 runs on into G_0 only where the trace allows
    r, d, v = T([[1.0, 2.0, 4.0]]), torch.zeros(1, 3), T([[0.0, 10.0, 20.0, 30.0]])
    full = td_lambda_targets(r, d, torch.ones(1, 3), v, 1.0, 1.0)
    cut = td_lambda_targets(r, d, T([[1.0, 0.0, 1.0]]), v, 1.0, 1.0)
    assert full[0, 0].item() == pytest.approx(1 + 2 + 4 + 30) and cut[0, 0].item() == pytest.approx(1 + 10)


def test_low_lambda_is_validated():
    with pytest.raises(ConfigError, match="low_td_lambda"):
        make_algo_config("subgoal-qmix", low_td_lambda=1.5)


def test_benchmark_scores_a_run_on_the_held_out_final_evaluation(tmp_path):
    from tests.benchmark_scripts import benchmark_module

    with benchmark_module("marl") as marl:
        result = marl.run_one(("GoalGrid", "subgoal-qmix-joint-relabel-ended", 0, 160, str(tmp_path), 1, 20))
    assert result["final_eval"]["episodes"] == 20 and result["score"] == result["final_eval"]["return"]
    assert result["last_evals"]["return"] == pytest.approx(np.mean([r["eval_return"] for r in result["rows"][-2:]]))
