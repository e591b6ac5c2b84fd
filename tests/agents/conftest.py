"""A tiny random-init LM saved to disk once per test session (no downloads)."""

import pytest

SAMPLE_TEXTS = ["#####\n#@ $.#\n#####\nPush the box onto the target. up down left right", "Unknown command. Nothing happens."]


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    from hiergym.agents.tiny import save_tiny_lm

    return save_tiny_lm(tmp_path_factory.mktemp("tiny_lm"), SAMPLE_TEXTS, seed=0)


@pytest.fixture(scope="session")
def tiny_backend(tiny_lm_dir):
    import torch

    from hiergym.agents import TransformersBackend

    torch.set_num_threads(1)
    return TransformersBackend.from_pretrained(tiny_lm_dir, device="cpu")
