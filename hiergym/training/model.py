"""The policy model of a run: a ``TransformersBackend`` from a checkpoint, or a tiny model over the env's words."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hiergym.training.configs import TrainConfig
from hiergym.training.env_stack import env_corpus

VOCAB_SEEDS = 64
"""Episodes of random play whose prompts define a tiny model's vocabulary."""
INIT_MODEL_DIR = "model_init"
"""Run-dir subdirectory holding the tiny model built for the run (written once, reused on resume)."""


def initial_model_path(config: TrainConfig, run_path: Path) -> Path:
    """Where the run's starting model lives: ``model.path`` or the run dir's tiny model."""
    return Path(config.model.path) if config.model.path else run_path / INIT_MODEL_DIR


def build_backend(config: TrainConfig, run_path: Path, make_env: Callable[[str], Any]) -> Any:
    """A ``TransformersBackend`` (or with ``model.backend="vllm"`` a ``VLLMBackend``) from ``model.path``, or from a tiny model written once into the run dir."""
    import torch

    from hiergym.agents.tiny import save_tiny_lm
    from hiergym.agents.transformers_backend import TransformersBackend

    if config.model.threads:
        torch.set_num_threads(config.model.threads)
    path = initial_model_path(config, run_path)
    if config.model.path is None and not (path / "config.json").is_file():
        seeds = range(config.train_seed_start, config.train_seed_start + VOCAB_SEEDS)
        corpus = env_corpus(make_env, config.env.env_id, seeds, max_steps=config.env.max_episode_steps or 30)
        if config.hierarchical:  # the planner/executor prompts, their tags and the env's subgoal texts
            from hiergym.training.hierarchy import vocabulary_texts

            corpus += vocabulary_texts(make_env, config.env.env_id, seeds)
        save_tiny_lm(path, corpus, spec=config.model.tiny, seed=config.model.init_seed)
    if config.model.backend == "vllm":
        from hiergym.agents.vllm_backend import VLLMBackend

        return VLLMBackend.from_pretrained(path, device=config.model.device)
    return TransformersBackend.from_pretrained(path, device=config.model.device)


def build_planner_backend(config: TrainConfig, run_path: Path) -> Any:
    """The planner's own backend when planner and executor are two models: the same starting weights, a separate copy."""
    from hiergym.agents.transformers_backend import TransformersBackend

    return TransformersBackend.from_pretrained(initial_model_path(config, run_path), device=config.model.device)
