"""Value-based multi-agent learning: IQL, VDN, QMIX and QMIX-style subgoal HRL on PettingZoo envs.

Modules, split by role as in PyMARL: ``configs`` (one dataclass per algorithm, the run and CLI
configs), ``mixers`` (VDN, QMIX), ``targets`` (pure TD / SMDP / double-Q maths), ``buffer`` (episode
replay), ``env_stack`` (PettingZoo env -> team env for the shared collector, ``probe_env``),
``episodes`` (collector trajectories -> buffer columns / per-agent records), ``learner`` / ``hrl``
(the only optimiser owners), ``train`` (the loop, writing through ``hiergym.runs.RunDir``) and
``command`` (``hiergym train marl``). Episodes are collected by the one
:class:`hiergym.collector.Collector`; there is no MARL-specific runner.
Importing this package is light; the torch-backed names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EpisodeBuffer": "buffer",
    "EnvSpec": "env_stack",
    "TeamEnvMaker": "env_stack",
    "MarlTrainer": "train",
    "build_collector": "train",
    "episode_columns": "episodes",
    "QLearner": "learner",
    "QMixer": "mixers",
    "SubgoalQLearner": "hrl",
    "VDNMixer": "mixers",
    "probe_env": "env_stack",
    "IQLConfig": "configs",
    "VDNConfig": "configs",
    "QMIXConfig": "configs",
    "SubgoalQMIXConfig": "configs",
    "MarlRunConfig": "configs",
    "MarlAlgoConfig": "configs",
    "MarlTrainConfig": "configs",
    "make_algo_config": "configs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
