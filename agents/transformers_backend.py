"""``TransformersBackend``: batched sampling from any Hugging Face causal LM, with per-token log-probs.

Prompts are left-padded into one batch and sampled with ``model.generate`` (KV
cache); the raw logits of every step are kept, and the reported log-prob of a
token is ``log_softmax(logits / T)`` over the full vocabulary (see
``SamplingParams``), which a trainer recomputes with one teacher-forced forward
pass. Responses are cut at EOS or at the first stop string (e.g. ``</action>``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hiergym.error import ConfigError
from hiergym.types import Generation

from .backend import FINISH_LENGTH, FINISH_STOP, SamplingParams, require_model_dir, save_model_dir

logger = logging.getLogger(__name__)

STOP_LOOKBACK_TOKENS = 8
"""Extra tokens decoded behind the newest one when looking for a stop string."""


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is visible, else ``"cpu"``; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _stop_criteria(tokenizer: Any, stops: Sequence[str], prompt_len: int) -> Any:
    """A per-row ``StoppingCriteria`` that fires once a row's generated text contains a stop string."""
    import torch
    from transformers import StoppingCriteria

    window = max(len(s) for s in stops) + STOP_LOOKBACK_TOKENS

    class StopStrings(StoppingCriteria):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
            tails = tokenizer.batch_decode(input_ids[:, max(prompt_len, input_ids.shape[1] - window) :])
            return torch.tensor([any(s in t for s in stops) for t in tails], dtype=torch.bool, device=input_ids.device)

    return StopStrings()


def top_p_filter(logits: Any, top_p: float) -> Any:
    """``[B, V]`` logits with every token outside the smallest set of probability mass >= ``top_p`` set to -inf."""
    import torch

    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    mass_before = torch.softmax(sorted_logits, dim=-1).cumsum(-1) - torch.softmax(sorted_logits, dim=-1)
    drop_sorted = mass_before >= top_p  # the most likely token always stays (mass before it is 0)
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def _row_sampler(seeds: Sequence[int], temperature: float, top_p: float) -> Any:
    """A ``LogitsProcessor`` that samples row i from its own ``torch.Generator(seeds[i])`` (Gumbel-max).

    It returns logits that are -inf everywhere but the chosen token, so ``generate``'s own sampling
    step (and any warper after this one) can only pick that token. The row's t-th token uses the
    t-th draw of its own stream: a row's sample does not depend on which other rows share the batch.
    """
    import torch
    from transformers import LogitsProcessor

    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]

    class RowStreams(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            logits = top_p_filter(scores.float() / temperature, top_p)
            uniform = torch.stack([torch.rand(scores.shape[-1], generator=g, dtype=torch.float64) for g in generators])
            gumbel = -torch.log(-torch.log(uniform.clamp(min=1e-300))).to(device=scores.device, dtype=torch.float32)
            choice = (logits + gumbel).argmax(dim=-1, keepdim=True)
            return torch.full_like(scores, float("-inf")).scatter(-1, choice, 0.0)

    return RowStreams()


class TransformersBackend:
    """Samples from a causal LM in-process (CPU or CUDA); the trainer updates the same ``model`` object.

    Args:
        model: a ``PreTrainedModel`` for causal LM.
        tokenizer: its tokenizer; padding is switched to the left for batched generation.
        device: ``"cpu"``, ``"cuda"``, or ``"auto"``.
    """

    def __init__(self, model: Any, tokenizer: Any, *, device: str = "auto"):
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token_id is None:
                raise ConfigError("tokenizer.pad_token", None, "a tokenizer with a pad or eos token")
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        self.tokenizer = tokenizer

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str = "auto", **model_kwargs: Any) -> TransformersBackend:
        """Load model and tokenizer from a local directory written by ``save_pretrained``."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = require_model_dir(path)
        return cls(AutoModelForCausalLM.from_pretrained(path, **model_kwargs), AutoTokenizer.from_pretrained(path), device=device)

    def save_pretrained(self, path: str | Path) -> Path:
        """Write model and tokenizer to ``path`` so ``from_pretrained(path)`` (or ``model.path``) loads them back."""
        return save_model_dir(self.model, self.tokenizer, path)

    @property
    def pad_token_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    def _generate_kwargs(self, sampling: SamplingParams, prompt_len: int, seeds: Sequence[int] | None = None) -> dict[str, Any]:
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        config = GenerationConfig(
            max_new_tokens=sampling.max_new_tokens,
            do_sample=not sampling.greedy,
            temperature=sampling.temperature if not sampling.greedy else None,
            top_p=sampling.top_p if not sampling.greedy else None,
            top_k=None,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            output_logits=True,
            return_dict_in_generate=True,
        )
        stops = [s for s in sampling.stop if s]
        criteria = StoppingCriteriaList([_stop_criteria(self.tokenizer, stops, prompt_len)] if stops else [])
        kwargs = {"generation_config": config, "stopping_criteria": criteria}
        if seeds is not None and not sampling.greedy:
            kwargs["logits_processor"] = LogitsProcessorList([_row_sampler(seeds, sampling.temperature, sampling.top_p)])
        return kwargs

    def generate(
        self, prompts: Sequence[str], sampling: SamplingParams, *, role: str = "policy", seeds: Sequence[int] | None = None
    ) -> list[Generation]:
        """One sampled response per prompt, with token ids and sampling-time log-probs.

        ``seeds`` (one per prompt): row i samples from its own stream seeded with ``seeds[i]``, so
        the same (prompt, seed) gives the same response whatever else is in the batch (up to float
        rounding of the batched forward); without seeds, sampling draws from torch's global RNG.
        """
        import torch

        if not prompts:
            return []
        if seeds is not None and len(seeds) != len(prompts):
            raise ConfigError("seeds", len(seeds), f"one seed per prompt ({len(prompts)} prompts)")
        enc = self.tokenizer(list(prompts), return_tensors="pt", padding=True).to(self.device)
        prompt_len = enc["input_ids"].shape[1]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.device.startswith("cuda")):
                out = self.model.generate(**enc, **self._generate_kwargs(sampling, prompt_len, seeds))
        finally:
            self.model.train(was_training)
        new_tokens = out.sequences[:, prompt_len:]
        logits = torch.stack(out.logits, dim=1).float() / sampling.logprob_temperature
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)
        results = []
        for row in range(len(prompts)):
            prompt_ids = enc["input_ids"][row][enc["attention_mask"][row].bool()].tolist()
            results.append(self._finish(prompt_ids, new_tokens[row].tolist(), logprobs[row].tolist(), sampling, role))
        return results

    def _finish(self, prompt_ids: list[int], tokens: list[int], logprobs: list[float], sampling: SamplingParams, role: str) -> Generation:
        """Cut one row at EOS or at the first stop string; everything after it was padding or overshoot."""
        eos = self.tokenizer.eos_token_id
        end, reason, text_end = len(tokens), FINISH_LENGTH, None
        if eos in tokens:
            end, reason = tokens.index(eos) + 1, FINISH_STOP
        stops = [s for s in sampling.stop if s]
        if stops:
            for k in range(1, end + 1):
                text = self.tokenizer.decode(tokens[:k], skip_special_tokens=True)
                hits = [text.find(s) + len(s) for s in stops if s in text]
                if hits:
                    end, reason, text_end = k, FINISH_STOP, min(hits)
                    break
        text = self.tokenizer.decode(tokens[:end], skip_special_tokens=True)
        if text_end is not None:
            text = text[:text_end]
        return Generation(prompt_ids=prompt_ids, response_ids=tokens[:end], logprobs=logprobs[:end], text=text, role=role, finish_reason=reason)
