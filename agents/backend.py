"""The ``Backend`` protocol: turn a batch of prompts into ``Generation`` records.

A backend owns a model and samples from it; it knows nothing about envs. The
collector only ever calls ``generate``, so another engine (vLLM) plugs in
without touching the collector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from hiergym.error import ConfigError
from hiergym.types import Generation

FINISH_STOP = "stop"
"""The response ended with EOS or a stop string."""
FINISH_LENGTH = "length"
"""The response hit ``max_new_tokens`` without a stop."""


@dataclass(frozen=True)
class SamplingParams:
    """How to sample one response per prompt.

    ``temperature=0`` means greedy decoding. Log-probs reported in a ``Generation`` are always
    the log-softmax of the logits divided by ``temperature`` (``greedy_logprob_temperature`` when
    greedy) over the FULL vocabulary
    (top-p is applied to sampling only), so a trainer can recompute them from a teacher-forced
    forward pass; with ``temperature=1`` they are the model's plain log-probs.
    """

    max_new_tokens: int = 32
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ("</action>",)
    greedy_logprob_temperature: float = 1.0
    """Temperature used for the reported log-probs when ``temperature == 0``."""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError("max_new_tokens", self.max_new_tokens, "an integer >= 1")
        if self.temperature < 0:
            raise ConfigError("temperature", self.temperature, "a float >= 0 (0 means greedy)")
        if not 0 < self.top_p <= 1:
            raise ConfigError("top_p", self.top_p, "a float in (0, 1]")
        if isinstance(self.stop, str):  # a lone string is a common slip; keep it one stop string
            object.__setattr__(self, "stop", (self.stop,))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def logprob_temperature(self) -> float:
        """The temperature that scales the logits of the reported log-probs."""
        return self.greedy_logprob_temperature if self.greedy else self.temperature


@runtime_checkable
class Backend(Protocol):
    """Samples one response per prompt; returns token ids and sampling-time log-probs."""

    def generate(
        self, prompts: Sequence[str], sampling: SamplingParams, *, role: str = "policy", seeds: Sequence[int] | None = None
    ) -> list[Generation]:
        """One ``Generation`` per prompt, in order; with ``seeds``, row i samples from its own stream ``seeds[i]``."""
        ...


def require_model_dir(path: str | Path) -> Path:
    """``path`` as a Path if it is a saved model directory (``config.json`` inside), else a ConfigError naming it."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ConfigError("model_path", str(path), "a local directory holding config.json, weights and tokenizer files (save_pretrained)")
    return path


def save_model_dir(model: Any, tokenizer: Any, path: str | Path) -> Path:
    """Write ``model`` and ``tokenizer`` with ``save_pretrained`` into ``path``, so ``from_pretrained(path)`` loads both back."""
    path = Path(path)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
