"""hiergym.algos: advantage estimators (pure numpy functions), the clipped policy loss and the token trainer.

The numpy parts (advantages, returns, configs, ``compute_advantages``) import without torch;
the torch parts (``policy_loss``, ``build_batch``, ``token_logprobs``, ``Trainer``) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hiergym.algos.advantages import GiGPOParts, gigpo_advantages, grpo_advantages
from hiergym.algos.configs import GiGPOConfig, GRPOConfig, HRPOConfig, TrainerConfig
from hiergym.algos.estimators import compute_advantages, gigpo_stats, gigpo_trajectory_parts
from hiergym.algos.hrpo import HRPOParts, hrpo_advantages, hrpo_parts, hrpo_stats, hrpo_trajectory_parts
from hiergym.algos.returns import discounted_returns, episode_returns

if TYPE_CHECKING:
    from hiergym.algos.batching import build_batch
    from hiergym.algos.logprobs import token_logprobs
    from hiergym.algos.loss import agg_loss, kl_k3, policy_loss
    from hiergym.algos.trainer import Trainer

_LAZY = {
    "build_batch": "hiergym.algos.batching",
    "token_logprobs": "hiergym.algos.logprobs",
    "agg_loss": "hiergym.algos.loss",
    "kl_k3": "hiergym.algos.loss",
    "policy_loss": "hiergym.algos.loss",
    "Trainer": "hiergym.algos.trainer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hiergym.algos' has no attribute {name!r}")


__all__ = [
    "GRPOConfig",
    "GiGPOConfig",
    "GiGPOParts",
    "HRPOConfig",
    "HRPOParts",
    "Trainer",
    "TrainerConfig",
    "agg_loss",
    "build_batch",
    "compute_advantages",
    "discounted_returns",
    "episode_returns",
    "gigpo_advantages",
    "gigpo_stats",
    "gigpo_trajectory_parts",
    "grpo_advantages",
    "hrpo_advantages",
    "hrpo_parts",
    "hrpo_stats",
    "hrpo_trajectory_parts",
    "kl_k3",
    "policy_loss",
    "token_logprobs",
]
