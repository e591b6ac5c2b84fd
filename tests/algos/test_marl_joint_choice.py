"""Joint (conflict-free) subgoal choice of subgoal-QMIX: the pure parts on hand-computed numbers, acting, the learner's bootstrap, the env probe."""

import numpy as np
import pytest
import torch

from hiergym.agents.marl.controller import SubgoalQMixAgents
from hiergym.agents.marl.joint_choice import (
    best_joint,
    duplicate_claims,
    feasible_choices,
    joint_agent_qs,
    joint_choices,
    random_feasible,
)
from hiergym.algos.marl.configs import make_algo_config
from hiergym.algos.marl.env_stack import probe_env, shared_subgoal_indices
from hiergym.algos.marl.hrl import SubgoalQLearner
from hiergym.algos.marl.mixers import QMixer, VDNMixer
from hiergym.error import ConfigError
from hiergym.registration import make_parallel

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHOICES_2x2 = [[0, 0], [0, 1], [1, 0], [1, 1]]


def test_joint_choices_enumerate_every_pick_in_order():
    assert joint_choices(2, 2).tolist() == CHOICES_2x2
    assert joint_choices(3, 2).shape == (8, 3) and joint_choices(3, 2)[5].tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="joint choices"):
        joint_choices(13, 2)  # 8192 > MAX_JOINT_CHOICES


def test_duplicates_count_only_shared_subgoals():
    choices = joint_choices(2, 2)
    assert duplicate_claims(choices, [True, True]).tolist() == [1, 0, 0, 1]
    assert duplicate_claims(choices, [False, False]).tolist() == [0, 0, 0, 0]  # KeyDoor: private subgoals never conflict
    assert duplicate_claims(choices, [True, False]).tolist() == [1, 0, 0, 0]
    three = joint_choices(3, 2)  # (0,0,0) has two repeats of goal 0, (0,1,0) one
    assert duplicate_claims(three, [True, True]).tolist() == [2, 1, 1, 1, 1, 1, 1, 2]


def test_feasible_picks_are_available_with_fewest_duplicates():
    choices = joint_choices(2, 2)
    dup = duplicate_claims(choices, [True, True])
    both = torch.ones(2, 2)
    assert feasible_choices(choices, dup, both).tolist() == [False, True, True, False]
    only_first_for_agent_1 = torch.tensor([[1, 1], [1, 0]])  # agent 1 may pick subgoal 0 only -> agent 0 takes 1
    assert feasible_choices(choices, dup, only_first_for_agent_1).tolist() == [False, False, True, False]
    padding = torch.zeros(2, 2)  # past an episode's end: nothing available, every pick allowed (masked out later)
    assert feasible_choices(choices, dup, padding).tolist() == [True] * 4
    three = joint_choices(3, 2)  # 3 agents, 2 goals: one repeat is unavoidable, two are not
    feasible = feasible_choices(three, duplicate_claims(three, [True, True]), torch.ones(3, 2))
    assert feasible.tolist() == [False, True, True, True, True, True, True, False]


def test_best_joint_avoids_the_conflict_the_independent_argmax_makes():
    # both agents rate goal 0 highest: independent argmax = (0, 0), a conflict
    q = torch.tensor([[1.0, 0.2], [0.9, 0.5]])
    choices = joint_choices(2, 2)
    agent_qs = joint_agent_qs(q, choices)
    assert torch.allclose(agent_qs, torch.tensor([[1.0, 0.9], [1.0, 0.5], [0.2, 0.9], [0.2, 0.5]]))
    q_tot = agent_qs.sum(-1)  # VDN scorer: [1.9, 1.5, 1.1, 0.7]
    feasible = feasible_choices(choices, duplicate_claims(choices, [True, True]), torch.ones(2, 2))
    assert choices[best_joint(q_tot, feasible)].tolist() == [0, 1]  # 1.5 > 1.1
    assert choices[best_joint(q_tot, torch.ones(4, dtype=torch.bool))].tolist() == [0, 0]


def test_random_feasible_maps_the_uniform_onto_feasible_picks():
    feasible = torch.tensor([[False, True, True, False]] * 4)
    assert random_feasible(feasible, torch.tensor([0.0, 0.49, 0.5, 0.999])).tolist() == [1, 1, 2, 2]


def test_without_shared_subgoals_the_joint_argmax_of_a_monotonic_mixer_is_the_independent_argmax():
    torch.manual_seed(0)
    n, g, s = 3, 3, 5
    mixer = QMixer(n, s)
    choices = joint_choices(n, g)
    no_conflicts = feasible_choices(choices, duplicate_claims(choices, [False] * g), torch.ones(n, g))
    for _ in range(50):
        q, state = torch.randn(n, g), torch.randn(s)
        q_tot = mixer(joint_agent_qs(q, choices), state.expand(len(choices), s))
        assert choices[best_joint(q_tot, no_conflicts)].tolist() == q.argmax(-1).tolist()


N, OBS, A, G, S = 2, 4, 3, 2, 5


def _joint_agents(scorer=None):
    torch.manual_seed(1)
    return SubgoalQMixAgents(N, OBS, A, G, goal_horizon=2, joint_scorer=scorer or QMixer(N, S), shared_subgoals=[True, True])


def test_joint_agents_never_pick_one_shared_subgoal_twice_explored_or_greedy():
    agents = _joint_agents()
    rng = np.random.default_rng(0)
    for epsilon in (0.0, 0.5, 1.0):
        carry = agents.initial_carry(16)
        for t in range(6):
            obs = rng.standard_normal((16, N, OBS)).astype(np.float32)
            kw = dict(subgoal_avail=np.ones((16, N, G), np.int8), state=rng.standard_normal((16, S)).astype(np.float32))
            _, record, carry = agents.act(obs, np.ones((16, N, A), np.int8), carry, epsilon=epsilon, generator=torch.Generator().manual_seed(t), **kw)
            assert (record["subgoal"][:, 0] != record["subgoal"][:, 1]).all()
    with pytest.raises(ValueError, match="state"):
        agents.act(obs, np.ones((16, N, A), np.int8), agents.initial_carry(16), epsilon=0.0, subgoal_avail=np.ones((16, N, G), np.int8))
    with pytest.raises(ValueError, match="shared_subgoals"):
        SubgoalQMixAgents(N, OBS, A, G, goal_horizon=2, joint_scorer=VDNMixer(), shared_subgoals=[True])


def test_learner_bootstraps_from_the_best_conflict_free_pick():
    agents = _joint_agents(VDNMixer())  # a sum scorer keeps the numbers by hand
    learner = SubgoalQLearner(agents, make_algo_config("subgoal-qmix", subgoal_choice="joint"), state_dim=S)
    assert learner.mixer is agents.joint_scorer
    online = torch.tensor([[1.0, 0.2], [0.9, 0.5]]).view(1, 1, N, G)
    target = torch.tensor([[0.3, 0.7], [0.4, 0.1]]).view(1, 1, N, G)
    state, avail = torch.zeros(1, 1, S), torch.ones(1, 1, N, G)
    # double Q: online's best conflict-free pick is (0, 1) (1.5 vs 1.1); the target scores it 0.3 + 0.1
    assert learner.joint_bootstrap(online, target, state, avail).item() == pytest.approx(0.4)
    learner.config.double_q = False  # the target's own best conflict-free pick: (1, 0) = 0.7 + 0.4
    assert learner.joint_bootstrap(online, target, state, avail).item() == pytest.approx(1.1)


def test_probe_marks_goalgrid_goals_shared_and_keydoor_subgoals_private():
    grid = probe_env(make_parallel("hiergym/GoalGrid-v0", size=5), subgoals=True)
    assert grid.shared_subgoals == (True, True)
    door = probe_env(make_parallel("hiergym/KeyDoor-v0", size=5), subgoals=True)
    assert door.shared_subgoals == (False, False)
    assert shared_subgoal_indices({}, ("a", "b"), 3, subgoal_ids=("x", "y", "z")) == (True, True, True)


def test_subgoal_choice_is_validated():
    with pytest.raises(ConfigError, match="subgoal_choice"):
        make_algo_config("subgoal-qmix", subgoal_choice="greedy")


def test_joint_training_run_collects_no_conflicting_picks(tmp_path):
    from hiergym.algos.marl.configs import MarlRunConfig
    from hiergym.algos.marl.train import MarlTrainer
    from tests.algos.marl_fixtures import Corridor

    run = MarlRunConfig(env_id="corridor", total_env_steps=120, n_envs=4, eval_interval_steps=100, eval_episodes=4,
                        checkpoint_interval_steps=10**6, run_dir=str(tmp_path), plot=False, tensorboard=False)
    algo = make_algo_config("subgoal-qmix", subgoal_choice="joint", batch_size=8, buffer_size=64, epsilon_anneal_steps=200, hidden_dim=16)
    trainer = MarlTrainer(run, algo, env_fn=lambda: Corridor())
    rows = trainer.train()
    assert trainer.spec.shared_subgoals == (True, True) and rows[-1]["t_env"] >= 120
    data, size = trainer.buffer.data, trainer.buffer.size
    real = data["mask"][:size] > 0
    picks = data["subgoal"][:size][real]  # [steps, N], exploring at epsilon ~1
    assert len(picks) > 50 and (picks[:, 0] != picks[:, 1]).all()
