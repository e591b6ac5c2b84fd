"""Core data types shared by envs, wrappers, agents, the collector and algorithms.

Plain dataclasses without framework magic. Trajectories serialise to JSON Lines
(and Parquet when ``pyarrow`` is installed) losslessly: ``Trajectory.from_dict(
t.to_dict()) == t`` for every trajectory the collector records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # keep `import hiergym` free of torch
    import torch

ROLES_FIXED = ("policy", "planner", "executor", "main")


def validate_role(role: str) -> str:
    """Return ``role`` if it is a known role name (``sub:<name>`` included), else raise ValueError."""
    if role in ROLES_FIXED or (role.startswith("sub:") and len(role) > 4):
        return role
    raise ValueError(f"role={role!r} is not allowed: one of {ROLES_FIXED} or 'sub:<name>'")


@dataclass(frozen=True)
class Subgoal:
    """A task subgoal: ``text`` is what a planner (LLM or human) reads, ``check`` is evaluated by the env.

    ``check(env)`` is a predicate over the true state of ``env`` (the *unwrapped* env that made
    the subgoal; multi-agent envs call ``check(env, agent)``). Envs evaluate their checks each
    step and report ids in ``info["subgoals_achieved"]`` (first-achievement order);
    ``SubgoalHooks`` evaluates the current one directly. ``check`` is not serialised.
    """

    id: str
    text: str
    check: Callable[[Any], bool] | None = field(default=None, compare=False, repr=False)
    target: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "target": to_jsonable(self.target)}


def to_jsonable(x: Any) -> Any:
    """Convert numpy / torch / tuples / Subgoals into plain JSON values (tuples become lists)."""
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, Subgoal):
        return x.to_dict()
    if isinstance(x, dict):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        items = sorted(x, key=repr) if isinstance(x, (set, frozenset)) else x
        return [to_jsonable(v) for v in items]
    if hasattr(x, "tolist"):  # numpy arrays/scalars and torch tensors
        return x.tolist()
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"cannot serialise {type(x).__name__} value {x!r} to JSON; store plain data in info")


def _as_list(x: Any) -> list:
    return x.tolist() if hasattr(x, "tolist") else list(x)


@dataclass
class Generation:
    """One LLM call: prompt and response token ids, sampling-time log-probs per response token."""

    prompt_ids: list[int]
    response_ids: list[int]
    logprobs: list[float]
    text: str
    role: str = "policy"
    finish_reason: str = "stop"  # "stop" | "length"
    policy_version: int | None = None
    """Trainer updates behind the weights that sampled it (set by async rollouts; None: not tracked)."""

    def __post_init__(self) -> None:
        validate_role(self.role)
        if len(self.logprobs) != len(self.response_ids):
            raise ValueError(
                f"logprobs has {len(self.logprobs)} entries but response_ids has {len(self.response_ids)}; "
                "there must be one sampling-time log-prob per response token"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_ids": _as_list(self.prompt_ids),
            "response_ids": _as_list(self.response_ids),
            "logprobs": [float(v) for v in _as_list(self.logprobs)],
            "text": self.text,
            "role": self.role,
            "finish_reason": self.finish_reason,
        } | ({"policy_version": self.policy_version} if self.policy_version is not None else {})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Generation:
        return cls(**d)


@dataclass
class Turn:
    """One env step of one agent."""

    observation: str
    action: str | None
    raw_action: str = ""
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    anchor: str | None = None
    subgoal: str | None = None
    subgoal_done: bool = False
    action_valid: bool = True
    generations: list[Generation] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("generations", "info")}
        d["reward"] = float(d["reward"])
        d["generations"] = [g.to_dict() for g in self.generations]
        d["info"] = to_jsonable(self.info)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Turn:
        d = dict(d)
        d["generations"] = [Generation.from_dict(g) for g in d.get("generations", [])]
        return cls(**d)


def group_id_of(env_id: str, seed: int) -> str:
    """The group id of a task: episodes of the same env and seed share it (``"<env_id>#<seed>"``).

    Every producer of trajectories (the collector, expert demonstrations, scripted baselines) uses
    this one format, so groups from different sources line up.
    """
    return f"{env_id}#{int(seed)}"


class Segment(NamedTuple):
    """A hierarchical executor segment over turn indices ``[start, end)``."""

    subgoal: str
    start: int
    end: int
    achieved: bool


@dataclass
class Trajectory:
    """One episode of one agent. ``group_id`` is shared by the G copies of the same task and seed."""

    group_id: str
    env_id: str
    seed: int
    agent_id: str = "agent_0"
    turns: list[Turn] = field(default_factory=list)
    episode_return: float = 0.0
    success: bool = False
    segments: list[Segment] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.turns)

    @property
    def rewards(self) -> list[float]:
        return [t.reward for t in self.turns]

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "env_id": self.env_id,
            "seed": int(self.seed),
            "agent_id": self.agent_id,
            "turns": [t.to_dict() for t in self.turns],
            "episode_return": float(self.episode_return),
            "success": bool(self.success),
            "segments": [list(s) for s in self.segments],
            "meta": to_jsonable(self.meta),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trajectory:
        d = dict(d)
        d["turns"] = [Turn.from_dict(t) for t in d.get("turns", [])]
        d["segments"] = [Segment(*s) for s in d.get("segments", [])]
        return cls(**d)


def save_jsonl(trajectories: Iterable[Trajectory], path: str | Path, *, append: bool = False) -> Path:
    """Write one JSON object per line; ``append=True`` adds to an existing file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as f:
        for t in trajectories:
            f.write(json.dumps(t.to_dict(), ensure_ascii=False) + "\n")
    return path


def load_jsonl(path: str | Path) -> list[Trajectory]:
    """Read trajectories written by ``save_jsonl``; a malformed line raises with its line number."""
    out = []
    with Path(path).open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(Trajectory.from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError, KeyError) as e:
                raise ValueError(f"{path}:{lineno}: not a trajectory record ({e})") from e
    return out


def save_parquet(trajectories: Sequence[Trajectory], path: str | Path) -> Path:
    """One row per trajectory; nested turns are stored as a JSON column so the round trip is exact."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [t.to_dict() for t in trajectories]
    table = pa.table(
        {
            "group_id": [r["group_id"] for r in rows],
            "env_id": [r["env_id"] for r in rows],
            "seed": [r["seed"] for r in rows],
            "agent_id": [r["agent_id"] for r in rows],
            "episode_return": [r["episode_return"] for r in rows],
            "success": [r["success"] for r in rows],
            "num_turns": [len(r["turns"]) for r in rows],
            "record": [json.dumps(r, ensure_ascii=False) for r in rows],
        }
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def load_parquet(path: str | Path) -> list[Trajectory]:
    import pyarrow.parquet as pq

    return [Trajectory.from_dict(json.loads(r)) for r in pq.read_table(path, columns=["record"])["record"].to_pylist()]


@dataclass
class Batch:
    """What the trainer consumes: right-padded token rows, masks and per-token advantages.

    Shapes: ``input_ids``, ``attention_mask``, ``response_mask``, ``old_logprobs``,
    ``advantages`` are ``[B, T]``; ``response_mask`` is 1 only on tokens the policy generated.
    ``role`` names the generation role of each row.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    response_mask: torch.Tensor
    old_logprobs: torch.Tensor
    advantages: torch.Tensor
    role: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def to(self, device: Any) -> Batch:
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return Batch(**{k: v.to(device) if hasattr(v, "to") else v for k, v in moved.items()})
