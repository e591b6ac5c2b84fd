"""The throughput benchmark's hiergym side (benchmarks/trainer_throughput.py), small: its speed-ups change no sample."""

from __future__ import annotations

import argparse

import pytest

from tests.benchmark_scripts import benchmark_module

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _args(model, *, decoding: str, shared_prefix: bool) -> argparse.Namespace:
    return argparse.Namespace(model=model, steps=3, prompts=2, group=3, max_new_tokens=6, lr=1e-3, seed=0,
                              hiergym_old_logprobs="current", hiergym_shared_prefix=shared_prefix, hiergym_decoding=decoding)


def test_decode_loop_and_shared_prefix_train_on_the_same_samples(tmp_path):
    """``model.generate`` + plain forward vs the decode loop + shared-prefix forward: the same rewards
    step after step (same sampled answers; updates equal up to float rounding), and the counts add up."""
    from hiergym.agents import save_tiny_lm

    with benchmark_module("trainer_throughput") as bench:
        model = save_tiny_lm(tmp_path / "model", bench.CORPUS, seed=0)
        before = bench.run_hiergym(_args(model, decoding="hf", shared_prefix=False))
        after = bench.run_hiergym(_args(model, decoding="loop", shared_prefix=True))
    assert after["rewards"] == before["rewards"] and len(after["rewards"]) == 3
    assert after["steps_timed"] == 2 and after["samples_per_cpu_s"] > 0 and after["tokens_per_cpu_s"] >= after["samples_per_cpu_s"]
    assert (after["shared_prefix"], after["decoding"]) == (True, "loop")
