"""hiergym: train LLM-backed and multi-agent hierarchical agents in Gym-style environments.

``import hiergym`` is light: it registers every env id with string entry points
and imports no torch, textworld, web server, ray or vllm.
"""

from hiergym.error import ConfigError, HierGymError, UnknownEnvError
from hiergym.info_keys import InfoKeys
from hiergym.registration import all_entries, make, make_parallel, register_envs
from hiergym.types import Batch, Generation, Segment, Subgoal, Trajectory, Turn

__version__ = "0.1.0"

register_envs()

__all__ = [
    "Batch",
    "ConfigError",
    "Generation",
    "HierGymError",
    "InfoKeys",
    "Segment",
    "Subgoal",
    "Trajectory",
    "Turn",
    "UnknownEnvError",
    "all_entries",
    "make",
    "make_parallel",
    "register_envs",
    "__version__",
]
