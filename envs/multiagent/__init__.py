"""Multi-agent goal tasks as PettingZoo ``ParallelEnv``s: GoalGrid, Foraging, KeyDoor, the QMIX matrix game.

Modules load on demand; ``hiergym.make_parallel("hiergym/GoalGrid-v0")`` imports only what it needs.
"""

from hiergym.registration import register_pettingzoo

register_pettingzoo()
