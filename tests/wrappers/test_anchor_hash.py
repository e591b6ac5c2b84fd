import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hiergym.info_keys import InfoKeys
from hiergym.error import ConfigError
from hiergym.wrappers import AnchorHash, ParallelAnchorHash, anchor_of, canonical, state_digest
from tests.fixtures_envs import SwitchesEnv


def test_same_state_by_different_paths_shares_anchor():
    a, b = AnchorHash(SwitchesEnv(n=3)), AnchorHash(SwitchesEnv(n=3))
    a.reset(seed=1)
    b.reset(seed=1)
    for cmd in ("flip 0", "flip 1", "wait"):
        *_, info_a = a.step(cmd)
    for cmd in ("flip 1", "wait", "flip 0"):
        *_, info_b = b.step(cmd)
    assert info_a[InfoKeys.ANCHOR] == info_b[InfoKeys.ANCHOR]
    *_, info_c = b.step("flip 2")
    assert info_c[InfoKeys.ANCHOR] != info_b[InfoKeys.ANCHOR]


def test_anchor_at_reset_and_fallback_to_observation():
    env = AnchorHash(SwitchesEnv())
    _, info = env.reset(seed=0)
    assert len(info[InfoKeys.ANCHOR]) == 32

    class NoState(SwitchesEnv):
        def _info(self):
            info = super()._info()
            del info[InfoKeys.ANCHOR_STATE]
            return info

    # without a state the learner decides (GiGPOConfig.anchor_fallback): the anchor is None ...
    obs, info2 = AnchorHash(NoState()).reset(seed=0)
    assert info2[InfoKeys.ANCHOR] is None and anchor_of(obs, info2, "none") is None
    # ... unless the wrapper is asked to key states by their observation
    obs, info3 = AnchorHash(NoState(), fallback="observation").reset(seed=0)
    assert info3[InfoKeys.ANCHOR] == state_digest(("obs", obs)) == anchor_of(obs, info2, "observation")
    with pytest.raises(ConfigError, match="fallback"):
        AnchorHash(NoState(), fallback="text")


def test_anchor_of_prefers_the_wrapper_anchor_then_the_state_then_the_fallback():
    assert anchor_of("obs", {InfoKeys.ANCHOR: "abc", InfoKeys.ANCHOR_STATE: (1,)}) == "abc"
    assert anchor_of("obs", {InfoKeys.ANCHOR_STATE: (1,)}, "none") == state_digest(("state", (1,)))
    # a state and an observation that render alike never share a key
    assert anchor_of((1,), {}) != anchor_of("obs", {InfoKeys.ANCHOR_STATE: (1,)})
    with pytest.raises(ValueError, match="fallback"):
        anchor_of("obs", {}, "text")


def test_digest_is_stable_across_processes():
    state = {"player": (1, 2), "boxes": frozenset({(3, 4), (2, 2)}), "page": "item", "arr": np.arange(3, dtype=np.int16)}
    code = (
        "import numpy as np\n"
        "from hiergym.wrappers import state_digest\n"
        "print(state_digest({'arr': np.arange(3, dtype=np.int16), 'page': 'item', 'boxes': frozenset({(2, 2), (3, 4)}), 'player': (1, 2)}))\n"
    )
    digests = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout.strip()
        for seed in (1, 2)
    }
    assert digests == {state_digest(state)}


def test_canonical_orders_sets_and_dicts():
    assert canonical({"b": 1, "a": {2, 1}}) == canonical({"a": {1, 2}, "b": 1})
    assert canonical((1, 2)) != canonical((2, 1))
    with pytest.raises(TypeError, match="anchor_state contains"):
        canonical(object())


@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4)),
    lambda c: st.one_of(st.lists(c, max_size=4), st.lists(c, max_size=4).map(tuple), st.dictionaries(st.text(max_size=3), c, max_size=3)),
    max_leaves=12,
))
def test_canonical_is_the_compact_json_of_the_normalised_value(state):
    import json

    from hiergym.wrappers.canonical import _normalise

    assert canonical(state) == json.dumps(_normalise(state), separators=(",", ":"), ensure_ascii=True)


@pytest.mark.parametrize("strings", [["a", "b"], ("at(P,r_1)",), ["a", 'b"c', "d"], ["a\\", "b"], ["\u00e9", "x"], ["\x01", "y"], ["a", "\x7f"], ["a", 1, "b"], ["a", "", "b"]])
def test_string_lists_serialise_like_json(strings):
    import json

    assert canonical(strings) == json.dumps(list(strings), separators=(",", ":"), ensure_ascii=True)


def test_digest_is_reused_only_for_the_same_immutable_state():
    class Scripted(SwitchesEnv):
        """Hands out the anchor states in ``queue``, one per reset/step."""

        queue: list = []

        def _info(self):
            info = super()._info()
            info[InfoKeys.ANCHOR_STATE] = self.queue.pop(0)
            return info

    fixed, mutable = ("a", ("b", 1)), ["a"]
    Scripted.queue = [fixed, fixed, mutable, mutable, ("a", ["b"]), ("a", ["b"])]
    env = AnchorHash(Scripted())
    _, info = env.reset(seed=0)
    assert info[InfoKeys.ANCHOR] == state_digest(("state", fixed))
    assert env.step("wait")[-1][InfoKeys.ANCHOR] == state_digest(("state", fixed))  # same object: digest reused
    assert env._last[0] is fixed
    assert env.step("wait")[-1][InfoKeys.ANCHOR] == state_digest(("state", ["a"]))
    mutable.append("b")  # changed in place between steps: a list is never cached
    assert env.step("wait")[-1][InfoKeys.ANCHOR] == state_digest(("state", ["a", "b"]))
    assert env.step("wait")[-1][InfoKeys.ANCHOR] == state_digest(("state", ("a", ["b"])))
    assert env._last[0] is fixed  # a tuple holding a list is not hashable, so not cached either


@given(st.sets(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=6))
def test_set_order_never_changes_digest(boxes):
    assert state_digest(frozenset(boxes)) == state_digest(set(sorted(boxes, reverse=True)))


def test_parallel_anchor_hash_annotates_every_agent():
    class TwoAgents:
        possible_agents = ["a", "b"]

        def reset(self, seed=None, options=None):
            return {"a": 0, "b": 0}, {"a": {}, "b": {}}

        def step(self, actions):
            return {"a": 0, "b": 0}, {"a": 0.0, "b": 0.0}, {"a": False, "b": False}, {"a": False, "b": False}, {"a": {}, "b": {InfoKeys.ANCHOR_STATE: (1,)}}

        def state(self):
            return np.zeros(2, dtype=np.float32)

    env = ParallelAnchorHash(TwoAgents())
    _, infos = env.reset(seed=0)
    assert infos["a"][InfoKeys.ANCHOR] == infos["b"][InfoKeys.ANCHOR] == state_digest(("global", np.zeros(2, dtype=np.float32)))
    *_, infos = env.step({"a": 0, "b": 0})
    assert infos["a"][InfoKeys.ANCHOR] == state_digest(("state", (1,)))
    assert env.possible_agents == ["a", "b"]
