"""Every registered id passes Gymnasium's / PettingZoo's own checkers and is deterministic under a seed.

Families add fast kwargs for their ids in ``FAST_KWARGS`` (e.g. tiny games) so the suite stays quick.
"""

import warnings

import gymnasium
import numpy as np
import pytest

import hiergym
from hiergym.info_keys import InfoKeys
from hiergym.registration import all_entries

SINGLE = [e.id for e in all_entries() if not e.multi_agent]
MULTI = [e.id for e in all_entries() if e.multi_agent]
FAST_KWARGS: dict[str, dict] = {}
FAST_KWARGS.update(  # TextWorld: one small game per id (the cache in conftest.py makes each once per session)
    {
        "hiergym/TextWorld-v0": {"num_games": 1},
        "hiergym/TextWorld-Simple-v0": {"num_games": 1},
        "hiergym/TextWorld-Cooking-v0": {"num_games": 1, "go": 1, "open": False, "cook": False, "cut": False},
        "hiergym/TextWorld-TreasureHunter-v0": {"num_games": 1, "level": 1},
        "hiergym/TextWorld-CoinCollector-v0": {"num_games": 1, "level": 1},
    }
)


def _make(env_id):
    return gymnasium.make(env_id, **FAST_KWARGS.get(env_id, {}))


@pytest.mark.parametrize("env_id", SINGLE)
def test_check_env(env_id):
    from gymnasium.utils.env_checker import check_env

    env = _make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=UserWarning)
        check_env(env.unwrapped, skip_render_check=True)
    env.close()


def _rollout(env_id, seed, n=25):
    env = _make(env_id)
    obs, info = env.reset(seed=seed)
    out = [(repr(obs) if not isinstance(obs, np.ndarray) else obs.tobytes(), repr(info.get(InfoKeys.ANCHOR_STATE)))]
    rng = np.random.default_rng(0)
    for _ in range(n):
        acts = info.get(InfoKeys.ADMISSIBLE_ACTIONS) or ["noop"]
        obs, r, term, trunc, info = env.step(acts[int(rng.integers(len(acts)))])
        out.append((repr(obs) if not isinstance(obs, np.ndarray) else obs.tobytes(), r, term, trunc, repr(info.get(InfoKeys.ANCHOR_STATE))))
        if term or trunc:
            break
    env.close()
    return out


@pytest.mark.parametrize("env_id", SINGLE)
def test_same_seed_same_trajectory(env_id):
    assert _rollout(env_id, 3) == _rollout(env_id, 3)


@pytest.mark.parametrize("env_id", SINGLE)
def test_standard_info_keys(env_id):
    env = _make(env_id)
    _, info = env.reset(seed=0)
    for key in (InfoKeys.ANCHOR_STATE, InfoKeys.WON, InfoKeys.SUBGOALS, InfoKeys.SUBGOALS_ACHIEVED):
        assert key in info, f"{env_id} reset info lacks {key!r}"
    env.close()


@pytest.mark.parametrize("env_id", MULTI)
def test_parallel_api(env_id):
    from pettingzoo.test import parallel_api_test

    env = hiergym.make_parallel(env_id, **FAST_KWARGS.get(env_id, {}))
    parallel_api_test(env, num_cycles=200)
