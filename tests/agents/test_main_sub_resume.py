"""Checkpoint/resume of M-GRPO runs: a run killed mid-way and resumed ends exactly like an uninterrupted one."""

import csv

import pytest
import torch

from hiergym.error import ConfigError
from hiergym.runs import CheckpointError
from hiergym.training.main_sub import MainSubTrainConfig, MainSubTrainer
from tests.agents.main_sub_fixtures import CapitalQA, ScriptedBackend, coin_rule, fake_tools
from tests.agents.test_main_sub_train import small


class Killed(RuntimeError):
    pass


def build(cfg, *, kill_at=None, scripted=True):
    """A trainer on CapitalQA; ``scripted``: the agents act by the coin rule (in the model's tokens) so sub-agent calls happen."""
    t = MainSubTrainer(cfg, tools=fake_tools(), env_fns=(lambda _: CapitalQA(), lambda _: CapitalQA()))
    if scripted:
        tok = t.backends["main"].tokenizer
        t.agent.main = ScriptedBackend(coin_rule, tokenizer=tok)
        t.agent.subs = {"searcher": ScriptedBackend(coin_rule, tokenizer=tok)}
    if kill_at is not None:
        iteration = t.iteration

        def dying(it):
            if it == kill_at:
                raise Killed(f"killed at iteration {it}")
            return iteration(it)

        t.iteration = dying
    return t


def weights(t):
    return {role: torch.cat([p.detach().flatten() for p in b.model.parameters()]).clone() for role, b in t.backends.items()}


def metrics_rows(run):
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


CASES = {
    # two models (main, searcher), two learners, scripted calls: the sub-agent learner's state is restored too
    "main-sub-two-models": dict(shared_model=False, scripted=True),
    # the real tiny model samples its actions: what it generates after the resume depends on the restored weights and RNG
    "main-only-sampled": dict(agent="main-only", scripted=False),
}


@pytest.mark.parametrize("case", CASES)
def test_killed_run_resumes_from_its_checkpoint_and_ends_like_an_uninterrupted_run(tmp_path, case, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    kw = dict(CASES[case])
    scripted = kw.pop("scripted")
    common = dict(iterations=5, checkpoint_every=2, eval_every=2, warm_start_episodes=0, **kw)
    whole = build(small(out=tmp_path / "whole", **common), scripted=scripted)
    expected = whole()
    expected_weights = weights(whole)

    run = tmp_path / "killed"
    with pytest.raises(Killed):
        build(small(out=run, **common), kill_at=3, scripted=scripted)()
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*.pt")) == ["step-000002.pt"]
    assert len(metrics_rows(run)) == 3  # iteration 2 was logged after the checkpoint: the resume drops it and redoes it

    resumed_trainer = build(small(out=run, resume=True, **common), scripted=scripted)
    resumed = resumed_trainer()
    assert resumed_trainer.start == 2
    assert resumed.rows == expected.rows and resumed.eval_curve == expected.eval_curve
    assert (resumed.tokens, resumed.iterations) == (expected.tokens, expected.iterations) == (resumed.tokens, 5)
    for role, w in weights(resumed_trainer).items():
        assert torch.equal(w, expected_weights[role]), role
    assert metrics_rows(run) == metrics_rows(tmp_path / "whole")
    assert [r["iteration"] for r in metrics_rows(run)] == ["0", "1", "2", "3", "4"]
    assert len((run / "throughput.csv").read_text().splitlines()) == 6  # header + one row per iteration, like TrainLoop


def test_resume_falls_back_to_the_previous_checkpoint_when_the_newest_is_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    common = dict(iterations=4, checkpoint_every=1, eval_every=2)
    expected = build(small(out=tmp_path / "whole", **common))()
    run = tmp_path / "killed"
    with pytest.raises(Killed):
        build(small(out=run, **common), kill_at=3)()
    newest = run / "checkpoints" / "step-000003.pt"
    newest.write_bytes(newest.read_bytes()[:100])  # a torn write of the last checkpoint
    t = build(small(out=run, resume=True, **common))
    result = t()
    assert t.start == 2 and result.rows == expected.rows and result.eval_curve == expected.eval_curve


def test_resume_without_a_checkpoint_starts_afresh_and_refuses_bad_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    common = dict(iterations=2, checkpoint_every=5)
    expected = build(small(out=tmp_path / "whole", **common))()
    run = tmp_path / "killed"
    with pytest.raises(Killed):
        build(small(out=run, **common), kill_at=1)()
    assert not list((run / "checkpoints").glob("step-*.pt")) and len(metrics_rows(run)) == 1
    t = build(small(out=run, resume=True, **common))
    assert t().rows == expected.rows and t.start == 0 and len(metrics_rows(run)) == 2
    with pytest.raises(ConfigError, match="resume"):
        MainSubTrainConfig(resume=True)  # nothing to resume without a run dir
    with pytest.raises(ConfigError, match="out"):
        build(small(out=run, **common))  # a run dir that holds a run is not overwritten without resume
    for ckpt in (run / "checkpoints").glob("step-*.pt"):
        ckpt.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="no usable checkpoint"):
        build(small(out=run, resume=True, **common))()


def test_warm_start_is_checkpointed_and_not_redone(tmp_path, monkeypatch):
    """A run killed after its warm start resumes from the step-0 checkpoint (the warm-started weights), without a second warm start."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    calls = []
    monkeypatch.setattr(MainSubTrainer, "warm_start", lambda self: (calls.append(1), {"warm_start/demos": 1.0})[1])
    common = dict(iterations=2, checkpoint_every=5, warm_start_episodes=2, warm_start_steps=1)
    expected = build(small(out=tmp_path / "whole", **common))()
    run = tmp_path / "killed"
    with pytest.raises(Killed):
        build(small(out=run, **common), kill_at=0)()
    assert [p.name for p in (run / "checkpoints").glob("step-*.pt")] == ["step-000000.pt"] and len(calls) == 2
    result = build(small(out=run, resume=True, **common))()
    assert len(calls) == 2 and result.warm_start == {"warm_start/demos": 1.0}
    assert result.rows == expected.rows and result.eval_curve == expected.eval_curve and result.init_eval == expected.init_eval
