"""Sokoban: reverse-play level generation, an optimal solver and a text/RGB Gymnasium env.

``SokobanEnv`` is registered as ``hiergym/Sokoban-v0`` and size presets; ``solve`` gives
move-optimal expert demonstrations for any level.
"""

from hiergym.envs.sokoban.env import SokobanEnv
from hiergym.envs.sokoban.generator import GeneratedLevel, LevelGenerationError, generate_level
from hiergym.envs.sokoban.level import LEGEND, Level, LevelFormatError
from hiergym.envs.sokoban.solver import ACTIONS, SearchResult, search, solve

__all__ = [
    "ACTIONS",
    "LEGEND",
    "GeneratedLevel",
    "Level",
    "LevelFormatError",
    "LevelGenerationError",
    "SearchResult",
    "SokobanEnv",
    "generate_level",
    "search",
    "solve",
]
