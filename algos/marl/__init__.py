"""Value-based multi-agent learning: IQL, VDN, QMIX and QMIX-style subgoal HRL on PettingZoo envs.

Modules, split by role as in PyMARL: ``configs`` (one dataclass per algorithm), ``mixers``
(VDN, QMIX), ``targets`` (pure TD / SMDP / double-Q maths), ``buffer`` (episode replay),
``runner`` (the collector), ``learner`` / ``hrl`` (the only optimiser owners), ``train`` (the
loop with metrics, plot and checkpoints) and ``command`` (``hiergym train marl``).
Importing this package is light; the torch-backed names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EpisodeBuffer": "buffer",
    "EpisodeRunner": "runner",
    "MarlTrainer": "train",
    "QLearner": "learner",
    "QMixer": "mixers",
    "SubgoalQLearner": "hrl",
    "VDNMixer": "mixers",
    "probe_env": "runner",
    "IQLConfig": "configs",
    "VDNConfig": "configs",
    "QMIXConfig": "configs",
    "SubgoalQMIXConfig": "configs",
    "MarlRunConfig": "configs",
    "make_algo_config": "configs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
