"""Anchor facts and subgoals of a TextWorld game, derived from TextWorld's own logic.

Facts are TextWorld propositions such as ``at(P, r_1)`` written canonically with
entity ids (``r_1``), so a world state has one spelling whatever command order led
to it. Subgoals come from the game's winning policy (the walkthrough TextWorld plans
for the quest): one subgoal per policy command, whose check is "the facts this
command made true hold now". Following the walkthrough therefore achieves every
subgoal, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hiergym.types import Subgoal

SUBGOAL_ID_PREFIX = "tw"


def fact_key(prop: Any) -> str:
    """Canonical text of one TextWorld proposition: ``name(arg_id, ...)`` with entity ids, no types."""
    return f"{prop.name}({','.join(v.name for v in prop.arguments)})"


class FactSpeller:
    """Spells propositions as ``fact_key`` strings, memoised (the same propositions recur every step)."""

    def __init__(self) -> None:
        self._memo: dict[Any, str] = {}

    def __call__(self, facts: Iterable[Any]) -> frozenset[str]:
        memo = self._memo
        out = []
        for prop in facts:
            key = memo.get(prop)
            if key is None:
                key = memo[prop] = fact_key(prop)
            out.append(key)
        return frozenset(out)


def anchor_of(facts: frozenset[str]) -> tuple[str, ...]:
    """The anchor state: the true facts as a sorted tuple (hashable, order-independent)."""
    return tuple(sorted(facts))


@dataclass(frozen=True)
class FactsHold:
    """Subgoal check: every fact of ``target`` is true in the env's current state.

    A picklable callable (not a lambda) so subgoals can cross process boundaries.
    ``env`` is the unwrapped ``TextWorldEnv`` (anything with a ``true_facts`` frozenset).
    """

    target: frozenset[str]

    def __call__(self, env: Any) -> bool:
        return self.target <= env.true_facts


@dataclass(frozen=True)
class PolicyStep:
    """One command of the winning policy and the facts it made true."""

    command: str
    added: frozenset[str]


def policy_steps(game: Any) -> list[PolicyStep]:
    """Replay the game's winning policy on TextWorld's logic engine (no interpreter, milliseconds).

    ``game`` is a ``textworld.Game``. Steps that add no fact (none in generated games) are dropped,
    since nothing could check them.
    """
    from textworld.generator.game import GameProgression
    from textworld.generator.inform7 import Inform7Game

    inform7 = Inform7Game(game)
    progression = GameProgression(game, track_quests=True)
    actions = list(progression.winning_policy or ())
    commands = inform7.gen_commands_from_actions(actions)
    speller = FactSpeller()
    replay = GameProgression(game, track_quests=False)
    steps = []
    for action, command in zip(actions, commands):
        before = speller(replay.state.facts)
        replay.update(action)
        added = speller(replay.state.facts) - before
        if added:
            steps.append(PolicyStep(command, added))
    return steps


def subgoals_from_policy(steps: Sequence[PolicyStep]) -> list[Subgoal]:
    """One ``Subgoal`` per policy step: text is the command, target the sorted facts it makes true."""
    return [
        Subgoal(id=f"{SUBGOAL_ID_PREFIX}-{i}", text=step.command, check=FactsHold(step.added), target=tuple(sorted(step.added)))
        for i, step in enumerate(steps)
    ]


def advance_progress(subgoals: Sequence[Subgoal], done: int, env: Any) -> int:
    """Number of subgoals achieved after this step, given ``done`` achieved before.

    Subgoals are a plan and count in order: the next one is achieved when its check holds
    (several can complete on one step). Returns the new count.
    """
    while done < len(subgoals) and subgoals[done].check(env):
        done += 1
    return done
