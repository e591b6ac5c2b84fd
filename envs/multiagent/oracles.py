"""Scripted oracle policies: they solve the grid tasks, so tests can show every task is solvable.

Also useful as expert demonstrations and as a ceiling for learners. Each oracle maps the
unwrapped env's true state to ``{agent: action index}``; moves follow BFS shortest paths that
go around other agents where possible, and an agent whose way is blocked side-steps at random.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from .foraging import LOAD, ForagingEnv
from .goal_grid import GoalGridEnv
from .grid import DELTAS, NOOP, Cell, first_step, manhattan, neighbours, shifted
from .key_door import FETCHER, INTERACT, KeyDoorEnv


def _towards(env, agent: str, targets: set[Cell], rng: np.random.Generator) -> int:
    """Next move of ``agent`` towards ``targets``, around other agents when it can; else a random legal move."""
    here = env.position(agent)
    others = {env.position(a) for a in env.agents if a != agent}
    action = first_step(here, targets - others, lambda c: not env.blocked(c) and c not in others)
    if action is None:
        action = first_step(here, targets, lambda c: not env.blocked(c))
    mask = env.action_mask(agent)
    if action is None or mask[action]:
        return NOOP if action is None else action
    moves = [a for a in DELTAS if mask[a]]
    return int(rng.choice(moves)) if moves else NOOP


def _give_way(env, actions: dict[str, int]) -> dict[str, int]:
    """Agents whose move targets a cell an earlier agent also targets wait this step (no stalemate)."""
    claimed: set[Cell] = set()
    out = {}
    for agent, action in actions.items():
        target = shifted(env.position(agent), action)
        out[agent] = NOOP if action in DELTAS and target in claimed else action
        claimed.add(target if out[agent] in DELTAS else env.position(agent))
    return out


def goal_grid_oracle(env: GoalGridEnv, rng: np.random.Generator) -> dict[str, int]:
    """Agents take the goal assignment with the least total distance and walk there."""
    agents = env.agents
    best = min(
        permutations(range(len(agents)), env.n_goals),
        key=lambda perm: sum(manhattan(env.position(agents[a]), env.goals[g]) for g, a in enumerate(perm)),
    )
    targets = {agents[a]: env.goals[g] for g, a in enumerate(best)}
    return _give_way(env, {a: _towards(env, a, {targets[a]}, rng) if a in targets else NOOP for a in agents})


def foraging_oracle(env: ForagingEnv, rng: np.random.Generator) -> dict[str, int]:
    """Everyone goes to the first item left and loads once next to it (all levels together suffice)."""
    item = int(np.flatnonzero(env.food_present)[0])
    cell = env.food_cells[item]
    actions = {}
    for agent in env.agents:
        if manhattan(env.position(agent), cell) == 1:
            actions[agent] = LOAD
        else:
            actions[agent] = _towards(env, agent, {n for n in neighbours(cell) if not env.blocked(n)}, rng)
    return _give_way(env, actions)


def key_door_oracle(env: KeyDoorEnv, rng: np.random.Generator) -> dict[str, int]:
    """The fetcher gets the key and unlocks; the runner waits at the door, then goes to the goal."""
    actions = {}
    for agent in env.agents:
        if agent == FETCHER:
            target = env.key_cell if env.key_cell is not None else env.lock
            done = env.door_open
        else:
            target, done = env.goal, False
            if not env.door_open:
                target = next(n for n in neighbours(env.door) if n[0] < env.door[0])
        here = env.position(agent)
        if done:
            actions[agent] = NOOP
        elif here == target and env.action_mask(agent)[INTERACT]:
            actions[agent] = INTERACT
        else:
            actions[agent] = _towards(env, agent, {target}, rng)
    return _give_way(env, actions)
