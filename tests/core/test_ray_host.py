"""Env workers as Ray actors behind the collector's host interface: the same trajectories as envs in
this process, for LLM agents on text envs and for multi-agent controllers on PettingZoo team envs."""

import numpy as np
import pytest

pytest.importorskip("ray")

from hiergym.collector import Collector  # noqa: E402
from hiergym.collector.ray_host import RayHost  # noqa: E402
from tests.core.collector_fixtures import ScriptedAgent, make_countdown  # noqa: E402
from tests.core.ray_fixtures import ray_local  # noqa: E402, F401
from tests.core.test_same_seed import TASKS, _answers, agent  # noqa: E402, F401

pytestmark = pytest.mark.usefixtures("ray_local")


def summary(trajs):
    return [(t.group_id, t.meta["copy"], [(turn.observation, turn.raw_action, turn.reward) for turn in t.turns], t.success) for t in trajs]


def test_slots_are_spread_over_ray_actors_and_groups_come_back_complete():
    with Collector(make_countdown, ScriptedAgent(), num_slots=3, num_workers=2, host="ray") as c:
        assert [type(h) for h in c.hosts] == [RayHost, RayHost] and c.slot_host == [0, 1, 0]
        assert len({h.pid for h in c.hosts}) == 2  # two actor processes
        trajs, stats = c.collect(TASKS, group_size=2)
    with Collector(make_countdown, ScriptedAgent(), num_slots=3) as c:
        expected, _ = c.collect(TASKS, group_size=2)
    assert summary(trajs) == summary(expected) and stats.episodes == 12 and stats.restarts == 0


@pytest.mark.slow
def test_llm_answers_are_the_same_on_ray_actors_as_in_process(agent):  # noqa: F811
    """Same seeds, same sampled answers: the per-episode streams do not depend on where envs live."""
    with Collector(make_countdown, agent, num_slots=4) as c:
        reference, _ = _answers(c)
    with Collector(make_countdown, agent, num_slots=4, num_workers=2, host="ray") as c:
        answers, stats = _answers(c)
    assert answers == reference and stats.restarts == 0


def test_team_envs_on_ray_actors_give_the_same_episodes():
    """A PettingZoo env as one TeamEnv per slot, driven by a QMIX controller: same episodes as in process."""
    import torch

    from hiergym.algos.marl.configs import MarlRunConfig, make_algo_config
    from hiergym.algos.marl.episodes import episode_columns
    from hiergym.algos.marl.train import build_collector

    torch.manual_seed(0)
    run = MarlRunConfig(env_id="hiergym/TwoStepMatrix-v0", episode_limit=2, n_envs=3)
    in_process, spec, policy = build_collector(run, make_algo_config("qmix"))
    on_ray = Collector(in_process.hosts[0].env_fn, policy, num_slots=3, num_workers=2, host="ray", max_turns=3, keep_final_observation=True)
    try:
        job = [("hiergym/TwoStepMatrix-v0", s) for s in range(6)]
        a = episode_columns(in_process.collect(job, 1, sampling=1.0, stream=3)[0], spec)
        b = episode_columns(on_ray.collect(job, 1, sampling=1.0, stream=3)[0], spec)
    finally:
        on_ray.close()
        in_process.close()
    for name in ("actions", "obs", "state", "reward"):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.slow
def test_training_run_on_ray_actors_has_the_same_metrics_as_in_process(tmp_path):
    """The whole loop (env.host='ray', 2 actors): metrics.csv equals the in-process run's."""
    import dataclasses

    from hiergym.training import train
    from tests.core.test_runs_resume import tiny_config
    from tests.core.test_same_seed import _metrics

    base = tiny_config(tmp_path / "a", 2)
    train(base)
    train(dataclasses.replace(base, out=tmp_path / "b", env=dataclasses.replace(base.env, num_workers=2, host="ray")))
    ra, rb = _metrics(tmp_path / "a" / "metrics.csv"), _metrics(tmp_path / "b" / "metrics.csv")
    assert len(ra) == len(rb) > 0
    for x, y in zip(ra, rb):
        assert x.keys() == y.keys()
        for key in x:
            if key.startswith("train/logprob_mismatch") or x[key] == y[key]:
                continue  # float rounding of differently padded sampling batches, not a different sample
            assert float(x[key]) == pytest.approx(float(y[key]), rel=1e-5, abs=1e-6), key


def test_collector_passes_ray_actor_options_to_every_actor(ray_local):
    """``Collector(host="ray", ray_actor_options=...)`` (``env.ray_actor_options`` in a training config):
    with num_cpus=1 each of the 2 actors reserves one of the 2 CPUs (by default an actor reserves none)."""
    import time

    with Collector(make_countdown, ScriptedAgent(), num_slots=2, num_workers=2, host="ray", ray_actor_options={"num_cpus": 1}) as c:
        assert [h.actor_options for h in c.hosts] == [{"num_cpus": 1}] * 2
        trajs, stats = c.collect(TASKS, group_size=1)
        deadline = time.monotonic() + 30
        while ray_local.available_resources().get("CPU", 0) > 0 and time.monotonic() < deadline:
            time.sleep(0.2)  # resource reports reach the driver with a short delay
        assert ray_local.available_resources().get("CPU", 0) == 0
    assert stats.episodes == len(TASKS) and stats.restarts == 0


def test_ray_actor_options_without_ray_host_are_a_config_error():
    from hiergym.collector import make_hosts
    from hiergym.error import ConfigError
    from hiergym.training.configs import EnvConfig

    with pytest.raises(ConfigError) as e:
        make_hosts(make_countdown, "process", 1, 2, ray_actor_options={"num_cpus": 1})
    assert e.value.field == "ray_actor_options"
    with pytest.raises(ConfigError) as e:
        EnvConfig(num_workers=2, host="process", ray_actor_options={"num_cpus": 1})
    assert e.value.field == "env.ray_actor_options"
    assert EnvConfig(num_workers=2, host="ray", ray_actor_options={"num_cpus": 1}).ray_actor_options == {"num_cpus": 1}
