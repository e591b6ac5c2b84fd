"""Single-agent LLM training: configs, the env stack, the policy model, warm start, the loop, config files.

One module per job:

- ``configs``: ``TrainConfig`` and its parts (``EnvConfig``, ``ModelConfig``, ``AlgoConfig``, ``WarmStartConfig``);
- ``env_stack``: ``TextEnvMaker`` (the wrapped env an LLM plays) and ``env_corpus`` (a tiny model's words);
- ``model``: ``build_backend`` (a checkpoint, or a tiny model built over the env's words);
- ``warm_start``: supervised fit to expert demonstrations before RL;
- ``hierarchy``: the hierarchical agent in a run (co-evolution schedule, metrics, demonstrations for both roles);
- ``loop``: ``TrainLoop`` / ``train`` (collect -> advantages -> trainer step -> run dir);
- ``config_files``: TOML/YAML/JSON config files and flag merging, for every training command.
- ``main_sub``: a main agent with sub-agents by M-GRPO (``hiergym train main-sub``; imported on use, not here).

Importing this package loads no torch; the loop loads it when it runs.
"""

from hiergym.training.config_files import dataclass_from_dict, load_config, load_entry_point, merge_config_file
from hiergym.training.configs import EVAL_SEED_START, AlgoConfig, EnvConfig, HierarchyTrainConfig, ModelConfig, TrainConfig, WarmStartConfig
from hiergym.training.env_stack import TextEnvMaker, env_corpus
from hiergym.training.hierarchy import expert_actions, hierarchical_demonstrations, hierarchy_metrics, roles_to_train
from hiergym.training.loop import TrainLoop, TrainResult, rollout_metrics, train
from hiergym.training.model import build_backend
from hiergym.training.warm_start import WARM_START_MODEL_DIR, expert_demonstrations, minibatch_indices, warm_start, without_format_tags

__all__ = [
    "EVAL_SEED_START",
    "WARM_START_MODEL_DIR",
    "AlgoConfig",
    "EnvConfig",
    "HierarchyTrainConfig",
    "ModelConfig",
    "TextEnvMaker",
    "TrainConfig",
    "TrainLoop",
    "TrainResult",
    "WarmStartConfig",
    "build_backend",
    "dataclass_from_dict",
    "env_corpus",
    "expert_actions",
    "expert_demonstrations",
    "hierarchical_demonstrations",
    "hierarchy_metrics",
    "load_config",
    "load_entry_point",
    "merge_config_file",
    "minibatch_indices",
    "roles_to_train",
    "rollout_metrics",
    "train",
    "warm_start",
    "without_format_tags",
]
