"""One local Ray instance per test module (2 CPUs, no dashboard); tests that use it skip without ray."""

import pytest

RAY_INIT = {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False, "configure_logging": False}


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        yield ray
        return
    for attempt in range(3):  # Ray waits a fixed 30 s for its raylet: try again on a machine too loaded to start it in time
        try:
            ray.init(**RAY_INIT)
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    try:
        yield ray
    finally:
        ray.shutdown()
