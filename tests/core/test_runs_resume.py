"""A tiny training run end to end: run dir contents, exact resume, fail-fast config errors."""

import csv
import dataclasses

import numpy as np
import pytest

from hiergym.agents.tiny import TinyModelSpec
from hiergym.algos.configs import GiGPOConfig, GRPOConfig
from hiergym.error import ConfigError
from hiergym.training import AlgoConfig, EnvConfig, ModelConfig, TrainConfig, WarmStartConfig, train
from hiergym.types import load_jsonl

MICRO = TinyModelSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)


def tiny_config(out, iterations, **kw):
    return TrainConfig(
        env=EnvConfig(env_id="hiergym/Sokoban-6x6-1box-v0", max_episode_steps=3),
        model=ModelConfig(tiny=MICRO),
        algo=AlgoConfig(gigpo=GiGPOConfig(group_size=2)),
        warm_start=WarmStartConfig(expert="hiergym.demo:sokoban_expert", episodes=2, steps=1),
        out=out,
        iterations=iterations,
        tasks_per_iteration=2,
        num_slots=4,
        eval_every=2,
        eval_episodes=2,
        checkpoint_every=2,
        tensorboard=False,
        progress=False,
        **kw,
    )


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_resumed_run_reproduces_the_uninterrupted_run_exactly(tmp_path):
    straight = train(tiny_config(tmp_path / "straight", 4))
    train(tiny_config(tmp_path / "split", 2))
    resumed = train(tiny_config(tmp_path / "split", 4, resume=True))
    assert rows(tmp_path / "split" / "metrics.csv") == rows(tmp_path / "straight" / "metrics.csv")
    assert resumed.eval_success == straight.eval_success and sorted(straight.eval_success) == [0, 2, 4]
    assert resumed.init_eval_success == straight.init_eval_success is not None
    run = tmp_path / "straight"
    for name in ("config.json", "metrics.csv", "throughput.csv", "curve.png", "samples.jsonl", "model_init/config.json", "model_warm_start/config.json"):
        assert (run / name).is_file(), name
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == ["step-000002.pt", "step-000002.pt.sha256", "step-000004.pt", "step-000004.pt.sha256"]
    samples = load_jsonl(run / "samples.jsonl")
    assert len(samples) == 4 * 2 and all(t.turns[0].generations for t in samples)


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: EnvConfig(env_id="hiergym/Sokoban-6x6-1boxx-v0"), "env.env_id"),
        (lambda: GRPOConfig(group_size=1), "group_size"),
        (lambda: ModelConfig(path="/nonexistent/model"), "model.path"),
        (lambda: train(TrainConfig(warm_start=WarmStartConfig(steps=3))), "warm_start.expert"),
        (lambda: TrainConfig(iterations=10, tasks_per_iteration=8, eval_seed_start=40), "eval_seed_start"),
        (lambda: TrainConfig(num_slots=0), "num_slots"),
        (lambda: TrainConfig(iterations=-1), "iterations"),
        (lambda: train(TrainConfig(warm_start=WarmStartConfig(expert="hiergym.demo:sokoban_expert", steps=1, batch_size=-1))), "warm_start.batch_size"),
    ],
)
def test_bad_config_fails_fast_naming_the_field(make, field):
    with pytest.raises(ConfigError) as e:
        make()
    assert e.value.field == field


def test_unknown_env_error_suggests_the_close_id():
    with pytest.raises(ConfigError, match="did you mean 'hiergym/Sokoban-6x6-1box-v0'"):
        EnvConfig(env_id="hiergym/Sokoban-6x6-1boxx-v0")


def test_configs_are_plain_dataclasses():
    cfg = TrainConfig()
    assert dataclasses.replace(cfg, iterations=3).iterations == 3 and cfg.group_size == 8


def test_config_file_then_flags_on_top(tmp_path):
    from pathlib import Path

    from hiergym.training import load_config, merge_config_file

    example = Path(__file__).parents[2] / "examples" / "configs" / "grpo_sokoban.toml"
    from_file = load_config(example)
    assert from_file.algo.name == "grpo" and from_file.algo.grpo.group_size == 8 and from_file.iterations == 60
    merged = merge_config_file(TrainConfig(iterations=3, warm_start=WarmStartConfig(steps=0)), example)
    assert merged.iterations == 3 and merged.algo.name == "grpo" and merged.warm_start.steps == 800  # a default flag keeps the file's value
    bad = tmp_path / "bad.toml"
    bad.write_text("iterations = 2\nbogus = 1\n")
    with pytest.raises(ConfigError) as e:
        load_config(bad)
    assert e.value.field == "bogus"


def test_warm_start_minibatches_are_shuffled_epochs():
    from hiergym.training import minibatch_indices

    batches = list(minibatch_indices(10, 4, 5, seed=0))
    assert [len(b) for b in batches] == [4] * 5
    seen = np.concatenate(batches)
    # 20 draws over 10 rows = two whole epochs: every row exactly twice
    assert np.bincount(seen, minlength=10).tolist() == [2] * 10
    assert all((np.diff(b) >= 0).all() for b in batches)  # sorted (a batch spanning two epochs may repeat a row)
    assert [len(b) for b in minibatch_indices(3, 0, 2, seed=0)] == [3, 3]  # 0 = full batch
    assert [b.tolist() for b in minibatch_indices(10, 4, 5, seed=0)] == [b.tolist() for b in batches]  # seeded


def test_content_only_warm_start_masks_exactly_the_format_tags():
    import torch

    from hiergym.agents.tiny import build_tokenizer
    from hiergym.training import without_format_tags
    from hiergym.types import Batch

    tok = build_tokenizer(["#P_\n up down"])
    prompt = tok("#P_\n")["input_ids"]
    response = tok("<action>up</action>", add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt + response])
    resp = torch.tensor([[0] * len(prompt) + [1] * len(response)])
    batch = Batch(ids, torch.ones_like(ids), resp, torch.full(ids.shape, -0.5) * resp, resp.float(), ["policy"])
    content = without_format_tags(batch, tok)
    assert content.response_mask[0].tolist() == [0] * len(prompt) + [0, 1, 0]
    assert content.advantages[0].tolist() == [0.0] * len(prompt) + [0.0, 1.0, 0.0]
    assert batch.response_mask.sum() == 3  # the input batch is left as it was


def test_content_only_steps_must_fit_the_warm_start():
    with pytest.raises(ConfigError) as e:
        WarmStartConfig(expert="hiergym.demo:sokoban_expert", steps=5, content_only_steps=6).check()
    assert e.value.field == "warm_start.content_only_steps"


def test_warm_start_only_run_then_rl_from_its_saved_weights(tmp_path):
    """iterations=0 warm-starts and evaluates; model_warm_start/ then seeds a run through model.path."""
    import torch

    from hiergym.agents.transformers_backend import TransformersBackend
    from hiergym.training import WARM_START_MODEL_DIR

    warm = train(tiny_config(tmp_path / "warm", 0))
    assert sorted(warm.eval_success) == [0] and warm.init_eval_success is not None
    saved = tmp_path / "warm" / WARM_START_MODEL_DIR
    cfg = tiny_config(tmp_path / "rl", 2)
    cfg = dataclasses.replace(cfg, model=ModelConfig(path=str(saved)), warm_start=WarmStartConfig(steps=0))
    rl = train(cfg)
    assert sorted(rl.eval_success) == [0, 2] and rl.init_eval_success is None  # no warm start: no init eval
    init = TransformersBackend.from_pretrained(tmp_path / "warm" / "model_init").model.state_dict()
    warmed = TransformersBackend.from_pretrained(saved).model.state_dict()
    assert any(not torch.equal(init[k], warmed[k]) for k in init)  # the saved weights are the trained ones


def test_kl_to_the_starting_policy_runs_and_resumes_exactly(tmp_path):
    """trainer.kl_beta > 0: the reference is the warm-started policy, read back from the run dir on resume."""
    from hiergym.algos.configs import TrainerConfig

    kl = {"trainer": TrainerConfig(kl_beta=0.1, lr=1e-2)}
    train(tiny_config(tmp_path / "straight", 4, **kl))
    train(tiny_config(tmp_path / "split", 2, **kl))
    train(tiny_config(tmp_path / "split", 4, resume=True, **kl))
    straight, split = rows(tmp_path / "straight" / "metrics.csv"), rows(tmp_path / "split" / "metrics.csv")
    assert split == straight
    header = straight[0]
    kl_values = [float(r[header.index("train/kl")]) for r in straight[1:] if r[header.index("train/kl")]]
    assert kl_values[0] == pytest.approx(0.0, abs=1e-7) and max(kl_values) > 0  # starts at the reference, then moves
