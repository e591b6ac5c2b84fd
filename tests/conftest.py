"""Shared fixtures. Odd test envs live in tests/fixtures_envs.py."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Randomised tests are reproducible: the same examples on every run (CI runs plain `pytest`), with
# no timing-based failures on a loaded machine. HYPOTHESIS_PROFILE=explore searches afresh each run.
settings.register_profile("repro", derandomize=True, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repro"))


@pytest.fixture
def one_torch_thread():
    """Tiny nets: one thread is fastest, and spinning OpenMP threads crawl on a shared, loaded CPU.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
