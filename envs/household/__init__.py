"""Household: ALFWorld-style household tasks on our own fast engine (``hiergym/Household-v0``)."""

from hiergym.envs.household.demos import expert_trajectory
from hiergym.envs.household.env import HouseholdEnv
from hiergym.envs.household.solver import bfs_plan, expert_plan
from hiergym.envs.household.tasks import TASK_TYPES, Task

__all__ = ["TASK_TYPES", "HouseholdEnv", "Task", "bfs_plan", "expert_plan", "expert_trajectory"]
