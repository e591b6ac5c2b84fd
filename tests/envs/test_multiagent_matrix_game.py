"""The QMIX two-step matrix game: payoffs, transitions and the PettingZoo API."""

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from hiergym.envs.multiagent.matrix_game import OPTIMAL_RETURN, TwoStepMatrixGame


def _play(first, second):
    env = TwoStepMatrixGame()
    env.reset(seed=0)
    _, r1, term1, _, _ = env.step({"agent_0": first[0], "agent_1": first[1]})
    state_mid = env.state()
    _, r2, term2, _, infos = env.step({"agent_0": second[0], "agent_1": second[1]})
    assert not any(term1.values()) and all(term2.values()) and env.agents == []
    assert r1 == {"agent_0": 0.0, "agent_1": 0.0} and r2["agent_0"] == r2["agent_1"]
    return state_mid, r2["agent_0"], infos


@pytest.mark.parametrize("agent_1_first", [0, 1])
@pytest.mark.parametrize("joint", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_matrix_2a_pays_seven_whatever_agent_2_did(agent_1_first, joint):
    state_mid, ret, _ = _play((0, agent_1_first), joint)
    np.testing.assert_array_equal(state_mid, [0, 1, 0])
    assert ret == 7.0


@pytest.mark.parametrize(("joint", "payoff"), [((0, 0), 0.0), ((0, 1), 1.0), ((1, 0), 1.0), ((1, 1), 8.0)])
def test_matrix_2b_payoffs(joint, payoff):
    state_mid, ret, infos = _play((1, 0), joint)
    np.testing.assert_array_equal(state_mid, [0, 0, 1])
    assert ret == payoff
    assert infos["agent_0"]["won"] == (payoff == OPTIMAL_RETURN)


def test_api():
    parallel_api_test(TwoStepMatrixGame(), num_cycles=10)
    env = TwoStepMatrixGame()
    obs, infos = env.reset(seed=1)
    np.testing.assert_array_equal(obs["agent_0"], env.state())
    assert env.state_space.contains(env.state())
    assert infos["agent_1"]["action_mask"].dtype == np.int8
