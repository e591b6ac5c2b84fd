"""The one protocol every policy the collector drives implements (LLM agents, multi-agent controllers, ...).

Per tick the collector calls ``policy.act`` once with the current observation of every active
env slot and steps each slot's env with ``action.env_action``. Two optional parts:

- ``seeds``: when the collector is given a ``stream`` it passes one seed per row,
  ``sampling_seed(stream, task seed, copy, turn)``; a policy that draws every random number of
  row ``i`` from ``seeds[i]`` samples the same episode whatever the slot order, the number of slots
  or a worker restart.
- ``memories``: a policy with ``recurrent = True`` gets the ``memory`` its previous action returned
  for the same episode (``None`` on an episode's first step), so per-episode state such as a GRU
  hidden state lives with the episode's slot in the collector, never inside the policy, and is
  reset exactly when a slot starts (or re-runs) an episode.
- ``infos``: a policy with ``wants_info = True`` also gets, per row, the ``info`` of the slot's last
  reset or step (what the env reported after the previous action), e.g. the ``subgoal_done`` and
  ``segment_end`` flags of ``SubgoalHooks`` a hierarchical agent needs to move to its next subgoal.
- ``action.info``: a dict an action may carry (policy-side annotations such as the blueprint a planner
  wrote); the collector merges it into the recorded ``Turn.info`` after the env's own keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class PolicyAction(Protocol):
    """What a policy answers for one observation.

    ``env_action`` is what ``env.step`` receives (an LLM's answer text, a joint action of a team);
    ``text`` the raw LLM text (``""`` for non-LLM policies), ``action`` the parsed action that a
    ``Turn`` records, ``format_ok`` whether it parsed, ``generations`` the LLM calls behind it.
    An action may also carry ``memory`` (recurrent policies, see the module docstring) and ``info``
    (a dict merged into the recorded ``Turn.info``).
    """

    text: str
    action: Any
    format_ok: bool
    generations: list

    @property
    def env_action(self) -> Any: ...


@runtime_checkable
class Policy(Protocol):
    """``act(observations) -> one PolicyAction per observation``, in one batched call."""

    def act(self, observations: Sequence[Any], *, sampling: Any = None, seeds: Sequence[int] | None = None) -> Sequence[PolicyAction]: ...


@runtime_checkable
class RecurrentPolicy(Protocol):
    """A policy with per-episode state: ``recurrent = True`` and ``act(..., memories=...)``."""

    recurrent: bool

    def act(
        self,
        observations: Sequence[Any],
        *,
        sampling: Any = None,
        seeds: Sequence[int] | None = None,
        memories: Sequence[Any] | None = None,
    ) -> Sequence[PolicyAction]: ...


@runtime_checkable
class InfoPolicy(Protocol):
    """A policy that reads the env's last ``info`` per row: ``wants_info = True`` and ``act(..., infos=...)``."""

    wants_info: bool

    def act(
        self,
        observations: Sequence[Any],
        *,
        sampling: Any = None,
        seeds: Sequence[int] | None = None,
        memories: Sequence[Any] | None = None,
        infos: Sequence[dict[str, Any]] | None = None,
    ) -> Sequence[PolicyAction]: ...


def env_action_of(action: Any) -> Any:
    """``action.env_action``; LLM actions that predate the attribute send their ``text``."""
    return action.env_action if hasattr(action, "env_action") else action.text
