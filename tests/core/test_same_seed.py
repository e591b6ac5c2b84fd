"""Same seed, same run: sampling must not depend on slot order, worker count, load or a worker restart (issue 11).

Every episode samples from its own stream (``sampling_seed(stream, task seed, copy, turn)``), so
a run's numbers are a function of its config alone.
"""

import csv
import dataclasses
import functools

import pytest

from hiergym.agents.backend import SamplingParams
from hiergym.agents.llm_agent import LLMAgent
from hiergym.collector import Collector
from tests.core.collector_fixtures import make_countdown
from tests.core.test_runs_resume import tiny_config

TASKS = [("Countdown-v0", s) for s in range(6)]


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    import torch

    from hiergym.agents import TransformersBackend
    from hiergym.agents.tiny import save_tiny_lm

    torch.set_num_threads(1)
    path = save_tiny_lm(tmp_path_factory.mktemp("lm"), ["left 0 1 2 3 4 go wait", "<action>go</action>"], seed=0)
    return LLMAgent(TransformersBackend.from_pretrained(path, device="cpu"), sampling=SamplingParams(max_new_tokens=4))


def _answers(collector, stream=5):
    trajs, stats = collector.collect(TASKS, group_size=3, stream=stream)
    return [(t.group_id, t.meta["copy"], [turn.raw_action for turn in t.turns]) for t in trajs], stats


def test_answers_do_not_depend_on_slots_workers_or_restarts(agent, tmp_path):
    with Collector(make_countdown, agent, num_slots=5) as c:
        reference, _ = _answers(c)
    with Collector(make_countdown, agent, num_slots=2) as c:  # other batch mates, other serving order
        assert _answers(c)[0] == reference
    crashing = functools.partial(make_countdown, crash_marker=str(tmp_path / "crashed"), crash_seed=4, hard_exit=False)
    with Collector(crashing, agent, num_slots=5) as c:  # one episode crashes mid-way and is re-run
        answers, stats = _answers(c)
    assert stats.restarts == 1 and answers == reference
    with Collector(make_countdown, agent, num_slots=5) as c:
        other, _ = _answers(c, stream=6)
    assert other != reference  # the stream is what fixes the samples


def test_answers_do_not_depend_on_worker_processes(agent):
    with Collector(make_countdown, agent, num_slots=4) as c:
        reference, _ = _answers(c)
    with Collector(make_countdown, agent, num_slots=4, num_workers=2) as c:
        assert _answers(c)[0] == reference




def _metrics(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_training_run_does_not_depend_on_slots_or_workers(tmp_path):
    """The whole loop: same metrics.csv with 4 in-process slots, and with 3 slots over 2 env worker processes."""
    base = tiny_config(tmp_path / "a", 3)
    from hiergym.training import train

    train(base)
    other = dataclasses.replace(base, out=tmp_path / "b", num_slots=3, env=dataclasses.replace(base.env, num_workers=2))
    train(other)
    ra, rb = _metrics(tmp_path / "a" / "metrics.csv"), _metrics(tmp_path / "b" / "metrics.csv")
    assert len(ra) == len(rb) > 0
    for x, y in zip(ra, rb):
        for key in x:
            if key.startswith("train/logprob_mismatch"):
                continue  # float rounding of differently padded sampling batches, not a different sample
            if x[key] == y[key]:
                continue
            assert float(x[key]) == pytest.approx(float(y[key]), rel=1e-5, abs=1e-6), key
