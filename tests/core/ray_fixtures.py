"""One local Ray instance per test module (2 CPUs, no dashboard); tests that use it skip without ray."""

import pytest

RAY_INIT = {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False, "configure_logging": False}


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(**RAY_INIT)
    except Exception:  # Ray waits a fixed 30 s for its raylet: a second try on a machine too loaded to start it in time
        ray.shutdown()
        ray.init(**RAY_INIT)
    try:
        yield ray
    finally:
        ray.shutdown()
