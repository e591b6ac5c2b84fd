"""The anchor fallback has one home (``wrappers.anchor_hash.anchor_of``) and the learner's config decides it.

An env that gives no true state yields turns with ``anchor=None``; GiGPO then keys them by their
observation (``anchor_fallback="observation"``, verl-agent's choice) or makes each its own step
group (``"none"``). Before, the collector always filled the anchor, so ``"none"`` never applied.
"""

import itertools

from hiergym.algos.configs import GiGPOConfig
from hiergym.algos.estimators import gigpo_trajectory_parts
from hiergym.collector import Collector
from hiergym.info_keys import InfoKeys
from hiergym.wrappers import AnchorHash, TextActions
from tests.core.collector_fixtures import ScriptedAgent
from tests.fixtures_envs import SwitchesEnv


class NoStateSwitches(SwitchesEnv):
    def _info(self):
        info = super()._info()
        del info[InfoKeys.ANCHOR_STATE]
        return info


class CyclingAgent(ScriptedAgent):
    """Flips switch 0, 1, 0, 1, ... across calls, so two copies of a task soon differ."""

    def __init__(self):
        super().__init__()
        self.moves = itertools.cycle(["flip 0", "flip 1", "wait"])

    def act(self, observations, sampling=None):
        out = super().act(observations, sampling)
        for a in out:
            a.text = f"<action>{next(self.moves)}</action>"
        return out


def collect(env_cls):
    with Collector(lambda env_id: TextActions(AnchorHash(env_cls(n=2, max_steps=3))), CyclingAgent(), num_slots=2) as c:
        trajs, _ = c.collect([("switches", 0), ("switches", 1)], group_size=2)
    return trajs


def test_turns_without_a_state_have_no_anchor_and_the_config_decides():
    trajs = collect(NoStateSwitches)
    assert all(t.anchor is None for tr in trajs for t in tr.turns)
    by_observation = gigpo_trajectory_parts(trajs, GiGPOConfig(group_size=2))
    singletons = gigpo_trajectory_parts(trajs, GiGPOConfig(group_size=2, anchor_fallback="none"))
    assert by_observation.step_group_size.max() >= 2  # the copies' first turns share their observation
    assert singletons.step_group_size.tolist() == [1] * len(singletons.total) and not singletons.step.any()


def test_turns_with_a_state_keep_its_anchor_whatever_the_fallback():
    trajs = collect(SwitchesEnv)
    assert all(t.anchor is not None for tr in trajs for t in tr.turns)
    a = gigpo_trajectory_parts(trajs, GiGPOConfig(group_size=2))
    b = gigpo_trajectory_parts(trajs, GiGPOConfig(group_size=2, anchor_fallback="none"))
    assert a.step_group_size.tolist() == b.step_group_size.tolist() and a.step_group_size.max() >= 2
