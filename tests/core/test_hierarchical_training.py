"""Training a hierarchical agent: config checks, the co-evolution schedule (frozen weights stay bit-identical),
per-role batches, demonstrations for both roles from the solvers, and the CLI flags."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from hiergym.agents.backend import SamplingParams
from hiergym.agents.hierarchical_prompts import parse_blueprint
from hiergym.agents.tiny import TinyModelSpec
from hiergym.algos.configs import HRPOConfig, TrainerConfig
from hiergym.error import ConfigError
from hiergym.training.configs import AlgoConfig, EnvConfig, HierarchyTrainConfig, ModelConfig, TrainConfig, WarmStartConfig
from hiergym.training.hierarchy import expert_segments, phase_of, roles_to_train
from hiergym.types import Subgoal

HOUSEHOLD = "hiergym/Household-PickClean-v0"
SPEC = TinyModelSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)


def _config(tmp_path, *, mode="blueprint", two_models=False, schedule="co-evolution", warm_steps=0, env_id=HOUSEHOLD, **kw) -> TrainConfig:
    return TrainConfig(
        env=EnvConfig(env_id=env_id, max_episode_steps=3),
        model=ModelConfig(tiny=SPEC, device="cpu"),
        algo=AlgoConfig(name="hrpo", hrpo=HRPOConfig(group_size=2)),
        agent="hierarchical",
        mode=mode,
        hierarchy=HierarchyTrainConfig(two_models=two_models, schedule=schedule, planner_iterations=1, executor_iterations=1, plan_max_new_tokens=6),
        trainer=TrainerConfig(lr=5e-2),
        sampling=SamplingParams(max_new_tokens=5),
        warm_start=WarmStartConfig(expert="hiergym.training.hierarchy:expert_actions", episodes=2, steps=warm_steps),
        out=tmp_path / "run",
        iterations=2,
        tasks_per_iteration=1,
        num_slots=2,
        eval_every=100,
        eval_episodes=1,
        progress=False,
        tensorboard=False,
        **kw,
    )


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a, b) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


# --- configs and schedule ------------------------------------------------------------------------


def test_config_checks_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match="algo.name"):
        TrainConfig(algo=AlgoConfig(name="hrpo"))
    with pytest.raises(ConfigError, match="env.subgoals"):
        TrainConfig(agent="hierarchical", env=EnvConfig(subgoals="env"))
    with pytest.raises(ConfigError, match="hierarchy.two_models"):
        TrainConfig(agent="hierarchical", mode="switch", hierarchy=HierarchyTrainConfig(two_models=True))
    with pytest.raises(ConfigError, match="hierarchy.max_segment_steps"):
        HierarchyTrainConfig(max_segment_steps=0)
    with pytest.raises(ConfigError, match="hierarchy.planner_iterations"):
        HierarchyTrainConfig(planner_iterations=0)
    with pytest.raises(ConfigError, match="mode"):
        TrainConfig(agent="hierarchical", mode="tree")  # type: ignore[arg-type]


def test_co_evolution_phases_alternate_p_then_e(tmp_path):
    cfg = replace(_config(tmp_path), hierarchy=HierarchyTrainConfig(schedule="co-evolution", planner_iterations=2, executor_iterations=3))
    assert [phase_of(cfg, it) for it in range(7)] == ["planner", "planner", "executor", "executor", "executor", "planner", "planner"]
    assert roles_to_train(cfg, 0) == {"planner"} and roles_to_train(cfg, 2) == {"executor"}
    joint = replace(cfg, hierarchy=HierarchyTrainConfig(schedule="joint"))
    assert roles_to_train(joint, 0) is None and phase_of(joint, 3) == "joint"


# --- frozen weights ------------------------------------------------------------------------------


def test_two_models_co_evolution_keeps_the_frozen_model_bit_identical(tmp_path):
    from hiergym.training.loop import TrainLoop

    loop = TrainLoop(_config(tmp_path, two_models=True))
    try:
        loop._build_trainers()
        assert loop.planner_backend.model is not loop.backend.model
        executor0, planner0 = _weights(loop.backend.model), _weights(loop.planner_backend.model)
        row = loop.iteration(0)  # planner phase: the executor is frozen
        assert row["hier/planner_phase"] == 1.0 and "train/planner_loss" in row and "train/loss" not in row
        assert _same(executor0, _weights(loop.backend.model))
        planner1 = _weights(loop.planner_backend.model)
        assert not _same(planner0, planner1)
        row = loop.iteration(1)  # executor phase: the planner is frozen
        assert "train/loss" in row and "train/planner_loss" not in row
        assert _same(planner1, _weights(loop.planner_backend.model))
        assert not _same(executor0, _weights(loop.backend.model))
    finally:
        loop.collector.close()
        loop.run.close()


def test_shared_model_co_evolution_trains_only_the_active_roles_tokens(tmp_path):
    from hiergym.algos import compute_advantages
    from hiergym.training.loop import run_stream
    from hiergym.training.loop import TrainLoop

    cfg = _config(tmp_path)
    loop = TrainLoop(cfg)
    try:
        loop._build_trainers()
        assert loop.planner_trainer is None and loop.agent.shared
        # the env stack adopts the agent's subgoals and cuts a segment at k in both modes
        assert (loop.make_env.subgoals, loop.make_env.subgoal_max_steps) == ("proposed", cfg.hierarchy.max_segment_steps)
        trajs, _ = loop.collector.collect(cfg.train_tasks(0), cfg.group_size, stream=run_stream(cfg.seed, "train", 0))
        adv = compute_advantages(trajs, cfg.algo.hrpo)
        roles_by_iteration = {}
        for it in (0, 1):
            updates = loop._updates(trajs, adv, it)
            roles_by_iteration[it] = {r for _, _, batch in updates for r in batch.role}
        assert roles_by_iteration == {0: {"planner"}, 1: {"executor"}}
    finally:
        loop.collector.close()
        loop.run.close()


# --- demonstrations ------------------------------------------------------------------------------


def test_expert_segments_hand_example():
    sgs = [Subgoal("a", "reach A"), Subgoal("b", "reach B"), Subgoal("c", "reach C")]
    # achievements after each of 5 steps: A after step 1, C (out of the env's order) after step 2, B after step 4
    achieved = [[], ["a"], ["a", "c"], ["a", "c"], ["a", "c", "b"]]
    blueprint, per_step = expert_segments(["s0", "s1", "s2", "s3", "s4"], achieved, sgs, "task")
    assert blueprint == ["reach A", "reach C", "reach B"]
    assert per_step == ["reach A", "reach A", "reach C", "reach B", "reach B"]
    _, tail = expert_segments(["s0", "s1", "s2"], [["a"], ["a"], ["a"]], sgs, "task")
    assert tail == ["reach A", "task", "task"]


@pytest.mark.parametrize(("env_id", "mode"), [(HOUSEHOLD, "blueprint"), ("hiergym/Sokoban-8x8-2box-v0", "blueprint"), (HOUSEHOLD, "switch")])
def test_demonstrations_give_a_blueprint_and_executor_answers(tmp_path, env_id, mode):
    from hiergym.training.env_stack import TextEnvMaker
    from hiergym.training.hierarchy import build_hierarchical_agent, hierarchical_demonstrations
    from tests.agents.hierarchical_fixtures import ScriptedBackend

    cfg = replace(_config(tmp_path, mode=mode, env_id=env_id), env=EnvConfig(env_id=env_id, max_episode_steps=60))
    maker = replace(TextEnvMaker.from_config(cfg.env), subgoals="proposed")
    agent = build_hierarchical_agent(cfg, ScriptedBackend(lambda role, prompt: ""))
    demos = hierarchical_demonstrations(cfg, agent, maker)
    env = maker(env_id)
    for traj in demos:
        assert traj.success
        _, info = env.reset(seed=traj.seed)
        env_texts = {sg.text for sg in info["subgoals"]}
        blueprint = traj.meta["blueprint"]
        assert blueprint and set(blueprint) <= env_texts
        roles = [g.role for g in traj.turns[0].generations]
        if mode == "blueprint":
            assert roles == ["planner", "executor"]
            assert parse_blueprint(traj.turns[0].generations[0].text).subgoals == blueprint
            assert all([g.role for g in t.generations] == ["executor"] for t in traj.turns[1:])
            assert all(f"<action>{t.action}</action>" == t.generations[-1].text for t in traj.turns)
        else:
            assert traj.turns[0].generations[0].text.startswith(f"<switch>SWITCH</switch><subgoal>{blueprint[0]}</subgoal>")
        assert [t.subgoal for t in traj.turns][0] == blueprint[0]


def test_warm_start_fits_each_model_on_its_own_role(tmp_path):
    from hiergym.training.loop import TrainLoop

    loop = TrainLoop(_config(tmp_path, two_models=True, warm_steps=2))
    try:
        executor0, planner0 = _weights(loop.backend.model), _weights(loop.planner_backend.model)
        loop._warm_start()
        metrics = loop.result.warm_start_metrics
        assert metrics["planner_rows"] == 2 and metrics["executor_rows"] > 2  # one plan per demonstration, one executor row a step
        assert not _same(executor0, _weights(loop.backend.model)) and not _same(planner0, _weights(loop.planner_backend.model))
        assert (loop.run.path / "planner" / "model_warm_start" / "config.json").is_file()
    finally:
        loop.collector.close()
        loop.run.close()


# --- CLI --------------------------------------------------------------------------------------------


def test_cli_agent_and_mode_flags_reach_the_config(monkeypatch):
    from types import SimpleNamespace

    import hiergym.training
    from hiergym.cli import main

    seen = {}
    monkeypatch.setattr(hiergym.training, "train", lambda config: seen.setdefault("config", config) and SimpleNamespace(eval_success={}, run_dir="x"))
    main(["train", "llm", "--agent", "hierarchical", "--mode", "switch", "--algo.name", "hrpo", "--hierarchy.schedule", "co-evolution", "--hierarchy.max-segment-steps", "4"])
    cfg = seen["config"]
    assert (cfg.agent, cfg.mode, cfg.algo.name, cfg.hierarchy.schedule, cfg.hierarchy.max_segment_steps) == ("hierarchical", "switch", "hrpo", "co-evolution", 4)
    with pytest.raises(SystemExit):
        main(["train", "llm", "--algo.name", "hrpo"])  # HRPO without a hierarchical agent: a one-line ConfigError, exit 2


def test_two_model_checkpoint_restores_both_models(tmp_path):
    from hiergym.training.loop import TrainLoop

    cfg = _config(tmp_path, two_models=True, schedule="joint")
    loop = TrainLoop(cfg)
    try:
        loop._build_trainers()
        loop.iteration(0)
        loop._checkpoint(1)
        executor, planner = _weights(loop.backend.model), _weights(loop.planner_backend.model)
    finally:
        loop.collector.close()
        loop.run.close()
    resumed = TrainLoop(replace(cfg, resume=True))
    try:
        assert not _same(planner, _weights(resumed.planner_backend.model))  # fresh from model_init before the restore
        assert resumed._restore() and resumed.start == 1
        assert _same(executor, _weights(resumed.backend.model)) and _same(planner, _weights(resumed.planner_backend.model))
    finally:
        resumed.collector.close()
        resumed.run.close()
