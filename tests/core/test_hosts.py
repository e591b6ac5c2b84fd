"""Host selection and worker start-up: bad host kinds and missing extras are clear errors; a worker that
cannot start is an error at once (not a loop of restarts); the step timeout does not count start-up."""

import builtins
import time

import pytest

from hiergym.collector import Collector
from hiergym.collector.hosts import InProcessHost, ProcessHost, WorkerStartError, make_hosts
from hiergym.error import ConfigError
from tests.core.collector_fixtures import ScriptedAgent, make_countdown

TASKS = [("Countdown-v0", s) for s in range(4)]


def _explode():
    raise ImportError("this maker cannot be rebuilt in a worker")


class UnbuildableMaker:
    """Pickles, but unpickling it in the worker raises (like a maker whose module is missing there)."""

    def __call__(self, env_id):
        return make_countdown(env_id)

    def __reduce__(self):
        return (_explode, ())


class SlowToImport:
    """A maker whose unpickling in the worker takes ``delay`` seconds (heavy imports)."""

    def __init__(self, delay):
        self.delay = delay

    def __call__(self, env_id):
        return make_countdown(env_id)

    def __reduce__(self):
        return (_slow_rebuild, (self.delay,))


def _slow_rebuild(delay):
    time.sleep(delay)
    return SlowToImport.__new__(SlowToImport)


@pytest.mark.parametrize(
    "kind,workers,field",
    [("threads", 2, "host"), ("process", 0, "num_workers"), ("ray", 0, "num_workers")],
)
def test_bad_host_choice_names_the_field(kind, workers, field):
    with pytest.raises(ConfigError) as e:
        make_hosts(make_countdown, kind, workers, 4)
    assert e.value.field == field


def test_auto_host_is_processes_with_workers_else_this_process():
    hosts = make_hosts(make_countdown, "auto", 0, 4)
    assert [type(h) for h in hosts] == [InProcessHost]
    hosts = make_hosts(make_countdown, "auto", 3, 2)  # never more workers than slots
    try:
        assert [type(h) for h in hosts] == [ProcessHost, ProcessHost]
    finally:
        for h in hosts:
            h.close()


def test_ray_host_without_ray_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ConfigError, match=r"hiergym\[ray\]") as e:
        Collector(make_countdown, ScriptedAgent(), num_slots=2, num_workers=2, host="ray")
    assert e.value.field == "host"


def test_worker_that_cannot_start_is_an_error_not_a_restart_loop():
    with Collector(UnbuildableMaker(), ScriptedAgent(), num_slots=2, num_workers=1, host="process") as c:
        with pytest.raises(WorkerStartError, match="did not start"):
            c.collect(TASKS, group_size=1)


def test_step_timeout_does_not_count_worker_start_up():
    """A worker that takes 3 s to start (imports) with a 1 s step timeout: no restart, every episode once."""
    with Collector(SlowToImport(3.0), ScriptedAgent(), num_slots=2, num_workers=2, step_timeout=1.0) as c:
        trajs, stats = c.collect(TASKS, group_size=1)
    assert stats.restarts == 0 and [t.seed for t in trajs] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "kwargs,field",
    [({"host": "threads"}, "env.host"), ({"host": "ray"}, "env.num_workers"), ({"num_workers": 2, "step_timeout": 0}, "env.step_timeout")],
)
def test_bad_env_host_config_names_the_field(kwargs, field):
    from hiergym.training import EnvConfig

    with pytest.raises(ConfigError) as e:
        EnvConfig(**kwargs)
    assert e.value.field == field
