"""Learners: the QMIX paper's two-step matrix game (QMIX 8, VDN 7), IQL and subgoal-QMIX updates, configs."""

import numpy as np
import pytest
import torch

from hiergym.agents.marl import QMixAgents, SubgoalQMixAgents
from hiergym.algos.marl.buffer import EpisodeBuffer
from hiergym.algos.marl.configs import MarlRunConfig, SubgoalQMIXConfig, make_algo_config
from hiergym.algos.marl.hrl import SubgoalQLearner
from hiergym.algos.marl.learner import QLearner
from hiergym.algos.marl.configs import MarlRunConfig as RunConfig
from hiergym.algos.marl.episodes import episode_columns
from hiergym.algos.marl.train import build_collector
from hiergym.envs.multiagent.matrix_game import OPTIMAL_RETURN, TwoStepMatrixGame
from hiergym.error import ConfigError
from tests.algos.marl_fixtures import Corridor

MATRIX_TRAIN_STEPS = 200
MATRIX_EPISODES = 256


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def matrix_game_greedy_return(algo: str, seed: int = 0) -> float:
    """The paper's setup: uniform (eps = 1) data, then greedy evaluation of the learned Q_tot."""
    torch.manual_seed(seed)
    overrides = dict(batch_size=32, buffer_size=MATRIX_EPISODES, td_lambda=0.0, hidden_dim=32, lr=1e-2, target_update_episodes=10)
    if algo == "qmix":
        overrides |= dict(mixing_embed_dim=16, hypernet_embed=32)
    config = make_algo_config(algo, **overrides)
    collector, spec, policy = build_collector(RunConfig(n_envs=8, episode_limit=2, seed=seed), config, env_fn=TwoStepMatrixGame)
    learner = QLearner(policy.agents, config, state_dim=spec.state_dim)
    buffer = EpisodeBuffer(config.buffer_size, spec.episode_limit, spec.buffer_fields())
    trajs, _ = collector.collect([("matrix", s) for s in range(MATRIX_EPISODES)], 1, sampling=1.0, stream=seed)
    buffer.insert(episode_columns(trajs, spec))
    rng = np.random.default_rng(seed)
    for step in range(MATRIX_TRAIN_STEPS):
        learner.train(buffer.sample(config.batch_size, rng))
        learner.maybe_update_targets(step)  # target copy every 10 gradient steps
    greedy, _ = collector.collect([("matrix", s) for s in range(4)], 1, sampling=0.0)
    return float(np.mean([t.episode_return for t in greedy]))


def test_qmix_solves_the_two_step_matrix_game_and_vdn_does_not():
    assert matrix_game_greedy_return("qmix") == OPTIMAL_RETURN
    assert matrix_game_greedy_return("vdn") == 7.0


def corridor_batch(hierarchical: bool, n=16):
    torch.manual_seed(0)
    algo = SubgoalQMIXConfig(goal_horizon=2, subgoal_features=False) if hierarchical else make_algo_config("qmix")
    collector, spec, policy = build_collector(RunConfig(n_envs=4), algo, env_fn=Corridor)
    assert isinstance(policy.agents, SubgoalQMixAgents if hierarchical else QMixAgents)
    buffer = EpisodeBuffer(n, spec.episode_limit, spec.buffer_fields())
    trajs, _ = collector.collect([("corridor", s) for s in range(n)], 1, sampling=1.0, stream=0)
    buffer.insert(episode_columns(trajs, spec))
    return spec, policy.agents, buffer.sample(n, np.random.default_rng(0))


def test_iql_regresses_each_agent_and_reduces_the_loss():
    spec, agents, batch = corridor_batch(False)
    learner = QLearner(agents, make_algo_config("iql", batch_size=16, buffer_size=16, lr=3e-3), state_dim=spec.state_dim)
    assert learner.mixer is None
    losses = [learner.train(batch)["loss"] for _ in range(30)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_subgoal_learner_updates_both_levels():
    spec, agents, batch = corridor_batch(True)
    learner = SubgoalQLearner(agents, SubgoalQMIXConfig(batch_size=16, buffer_size=16, lr=3e-3, low_lr=3e-3), state_dim=spec.state_dim)
    before = {k: v.clone() for k, v in agents.state_dict().items()}
    stats = [learner.train(batch) for _ in range(30)]
    assert stats[-1]["low_loss"] < stats[0]["low_loss"] and stats[-1]["loss"] < stats[0]["loss"]
    changed = {k.split(".")[0] for k, v in agents.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"high", "low"}


def test_target_networks_update_on_schedule_only():
    spec, agents, batch = corridor_batch(False)
    learner = QLearner(agents, make_algo_config("qmix", batch_size=16, buffer_size=16, target_update_episodes=10), state_dim=spec.state_dim)
    learner.train(batch)
    target = learner.nets.target["agents"]
    differs = lambda: any(not torch.equal(a, b) for a, b in zip(agents.parameters(), target.parameters()))  # noqa: E731
    assert differs() and not learner.maybe_update_targets(9)
    assert learner.maybe_update_targets(10) and not differs()


@pytest.mark.parametrize(
    ("algo", "field", "value"),
    [("qmix", "lr", 0.0), ("vdn", "gamma", 1.5), ("iql", "td_lambda", -0.1), ("qmix", "buffer_size", 10), ("subgoal-qmix", "goal_horizon", 0)],
)
def test_bad_config_names_field_and_value(algo, field, value):
    with pytest.raises(ConfigError) as err:
        make_algo_config(algo, **{field: value})
    assert err.value.field == field and repr(value) in str(err.value)


def test_unknown_algo_and_field_are_config_errors():
    with pytest.raises(ConfigError, match="one of"):
        make_algo_config("qmixx")
    with pytest.raises(ConfigError, match="a field of VDNConfig"):
        make_algo_config("vdn", mixing_embed_dim=8)
    with pytest.raises(ConfigError, match="n_envs"):
        MarlRunConfig(n_envs=0)
