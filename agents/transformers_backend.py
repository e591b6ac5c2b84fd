"""``TransformersBackend``: batched sampling from any Hugging Face causal LM, with per-token log-probs.

Prompts are left-padded into one batch and sampled with a KV cache. The default decoder
(``decoding="loop"``) is a lean loop of the model's own forward: the distinct prompts are
prefilled once (a GRPO group repeats its prompt G times) and their cache gathered to the rows,
then one forward per new token, with the per-row noise drawn in a few chunks instead of one
call per row and token. For Llama-architecture models (Llama, Qwen2) that forward is
``llama_decode.LlamaKVDecoder``, the same arithmetic on the model's weights without the per-call
framework overhead (about half the CPU time of a small model's decode step); others use their own
``model(...)``. ``decoding="hf"`` runs ``model.generate`` with the same per-row
streams instead; both give the same tokens and log-probs (tests/agents/test_transformers_backend.py),
the loop in about two thirds of the CPU time for small models. The reported log-prob of a token is
``log_softmax(logits / T)`` over the full vocabulary (see ``SamplingParams``), which a trainer
recomputes with one teacher-forced forward pass. Responses are cut at EOS or at the first stop
string (e.g. ``</action>``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from hiergym.error import ConfigError
from hiergym.types import Generation

from . import llama_decode
from .backend import FINISH_LENGTH, FINISH_STOP, SamplingParams, require_model_dir, save_model_dir

logger = logging.getLogger(__name__)

STOP_LOOKBACK_TOKENS = 8
"""Extra tokens decoded behind the newest one when looking for a stop string."""
NOISE_CHUNK_ELEMENTS = 1 << 21
"""Upper bound on the per-row noise drawn at once (rows x steps x vocabulary, float64): 16 MB."""
Decoding = Literal["loop", "hf"]
"""``loop``: hiergym's KV-cache loop over the model's forward; ``hf``: ``model.generate``."""


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


class RowNoise:
    """Gumbel noise for row-seeded sampling: row i's t-th draw is the t-th ``rand(V)`` of ``Generator(seeds[i])``.

    The same stream ``_row_sampler`` draws one call per row and token, here drawn ``chunk`` steps
    at a time per row (a CPU generator yields the same numbers for ``rand((k, V))`` as for k
    calls of ``rand(V)``), so the Python work per token is one slice.
    """

    def __init__(self, seeds: Sequence[int], vocab_size: int, max_steps: int, device: Any):
        import torch

        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.vocab_size, self.device = vocab_size, device
        self.chunk = max(1, min(max_steps, NOISE_CHUNK_ELEMENTS // max(1, len(seeds) * vocab_size)))
        self._noise: Any = None
        self._next = 0

    def next(self) -> Any:
        """``[B, V]`` float32 Gumbel noise for the next token of every row."""
        import torch

        if self._noise is None or self._next == self._noise.shape[0]:
            uniform = torch.stack([torch.rand((self.chunk, self.vocab_size), generator=g, dtype=torch.float64) for g in self.generators], 1)
            self._noise = -torch.log(-torch.log(uniform.clamp(min=1e-300))).to(device=self.device, dtype=torch.float32)
            self._next = 0
        self._next += 1
        return self._noise[self._next - 1]


def _positions(attention_mask: Any) -> Any:
    """Position ids of left-padded rows: 0 at each row's first real token (padding gets 1, as ``generate`` does)."""
    return (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)


def _cache_of(output: Any) -> Any:
    """The KV cache a forward returned (``cache`` in newer transformers, ``past_key_values`` before)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


class TransformersBackend:
    """Samples from a causal LM in-process (CPU or CUDA); the trainer updates the same ``model`` object.

    Args:
        model: a ``PreTrainedModel`` for causal LM.
        tokenizer: its tokenizer; padding is switched to the left for batched generation.
        device: ``"cpu"``, ``"cuda"``, or ``"auto"``.
        decoding: ``"loop"`` (default: hiergym's KV-cache loop over the model's forward) or ``"hf"``
            (``model.generate``; for architectures whose cache the loop cannot drive, e.g. encoder-decoders).
    """

    def __init__(self, model: Any, tokenizer: Any, *, device: str = "auto", decoding: Decoding = "loop"):
        if decoding not in ("loop", "hf"):
            raise ConfigError("decoding", decoding, "'loop' or 'hf'")
        self.decoding = decoding
        self._forward_params: tuple[str, bool] | None = None
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token_id is None:
                raise ConfigError("tokenizer.pad_token", None, "a tokenizer with a pad or eos token")
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        self.tokenizer = tokenizer

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str = "auto", decoding: Decoding = "loop", **model_kwargs: Any) -> TransformersBackend:
        """Load model and tokenizer from a local directory written by ``save_pretrained``."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = require_model_dir(path)
        model = AutoModelForCausalLM.from_pretrained(path, **model_kwargs)
        return cls(model, AutoTokenizer.from_pretrained(path), device=device, decoding=decoding)

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
        enc = self._encode(prompts)
        # eval mode only for the model's own forward (dropout): the Llama forward has none, and a Hugging
        # Face model's train()/eval() costs ~1 ms each (it re-checks hub kernels), twice a call
        switch = self.model.training and not (self.decoding == "loop" and llama_decode.supports(self.model))
        if switch:
            self.model.eval()
        try:
            if self.decoding == "loop":
                with torch.inference_mode(), torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.device.startswith("cuda")):
                    new_tokens, logprobs = self._decode(enc["input_ids"], enc["attention_mask"], sampling, seeds)
            else:
                new_tokens, logprobs = self._generate_hf(enc, sampling, seeds)
        finally:
            if switch:
                self.model.train(True)
        results = []
        for row in range(len(prompts)):
            prompt_ids = enc["input_ids"][row][enc["attention_mask"][row].bool()].tolist()
            results.append(self._finish(prompt_ids, new_tokens[row].tolist(), logprobs[row].tolist(), sampling, role))
        return results

    def _encode(self, prompts: Sequence[str]) -> Any:
        """Left-padded ``input_ids``/``attention_mask`` of ``prompts``; a group's repeated prompt is tokenised once."""
        distinct = list(dict.fromkeys(prompts))
        enc = self.tokenizer(distinct, return_tensors="pt", padding=True)
        if len(distinct) < len(prompts):
            where = {p: i for i, p in enumerate(distinct)}
            rows = [where[p] for p in prompts]
            enc = {key: value[rows] for key, value in enc.items()}
        return {key: value.to(self.device) for key, value in enc.items()}

    def _generate_hf(self, enc: Any, sampling: SamplingParams, seeds: Sequence[int] | None) -> tuple[Any, Any]:
        """``([B, T] new token ids, [B, T] their log-probs)`` from ``model.generate`` (``decoding="hf"``)."""
        import torch

        prompt_len = enc["input_ids"].shape[1]
        with torch.no_grad(), torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.device.startswith("cuda")):
            out = self.model.generate(**enc, **self._generate_kwargs(sampling, prompt_len, seeds))
        new_tokens = out.sequences[:, prompt_len:]
        logits = torch.stack(out.logits, dim=1).float() / sampling.logprob_temperature
        return new_tokens, torch.log_softmax(logits, dim=-1).gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)

    def _forward_kwargs(self) -> tuple[str, bool]:
        """(name of the forward's cache argument, whether it takes ``logits_to_keep``), looked up once."""
        if self._forward_params is None:
            params = inspect.signature(self.model.forward).parameters
            self._forward_params = ("cache" if "cache" in params else "past_key_values", "logits_to_keep" in params)
        return self._forward_params

    def _decode(self, input_ids: Any, attention_mask: Any, sampling: SamplingParams, seeds: Sequence[int] | None) -> tuple[Any, Any]:
        """``([B, T] new token ids, [B, T] their log-probs)``: KV-cache sampling, one model forward per token.

        Rows sharing a prompt are prefilled once. A row that ended (EOS or a stop string) gets pad
        tokens from then on (cut off by ``_finish``); the loop ends when every row has ended or
        after ``max_new_tokens``. Per token, row i draws from its own stream ``seeds[i]``
        (``RowNoise``), or from torch's global RNG without seeds, or takes the argmax when greedy.
        """
        import torch

        batch, width = input_ids.shape
        rows = torch.cat([input_ids, attention_mask.to(input_ids.dtype)], dim=1)
        keys, inverse = torch.unique(rows, dim=0, return_inverse=True)
        distinct = keys.shape[0] < batch
        prefill_ids, prefill_mask = (keys[:, :width], keys[:, width:].to(attention_mask.dtype)) if distinct else (input_ids, attention_mask)
        if llama_decode.supports(self.model):
            decoder = llama_decode.LlamaKVDecoder(self.model, batch, width + sampling.max_new_tokens)
            logits = decoder.prefill(prefill_ids, prefill_mask, _positions(prefill_mask), inverse if distinct else None)
            advance = decoder.step
        else:
            logits, advance = self._generic_prefill(prefill_ids, prefill_mask, inverse if distinct else None, attention_mask)
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        stops = [s for s in sampling.stop if s]
        window = max((len(s) for s in stops), default=0) + STOP_LOOKBACK_TOKENS
        noise = RowNoise(seeds, logits.shape[-1], sampling.max_new_tokens, logits.device) if seeds is not None and not sampling.greedy else None
        tokens = torch.full((batch, sampling.max_new_tokens), pad, dtype=torch.long, device=input_ids.device)
        logprobs = torch.zeros((batch, sampling.max_new_tokens), dtype=torch.float32, device=input_ids.device)
        done = torch.zeros(batch, dtype=torch.bool, device=input_ids.device)
        position = _positions(attention_mask)[:, -1]
        steps = 0
        for t in range(sampling.max_new_tokens):
            scores = logits.float()
            if sampling.greedy:
                chosen = scores.argmax(-1)
            else:
                warped = top_p_filter(scores if sampling.temperature == 1.0 else scores / sampling.temperature, sampling.top_p)
                if noise is not None:
                    chosen = (warped + noise.next()).argmax(-1)
                else:
                    chosen = torch.multinomial(torch.softmax(warped, dim=-1), 1).squeeze(1)
            chosen = chosen.masked_fill(done, pad)
            tokens[:, t] = chosen
            temperature = sampling.logprob_temperature
            logprobs[:, t] = torch.log_softmax(scores if temperature == 1.0 else scores / temperature, dim=-1).gather(-1, chosen[:, None]).squeeze(-1)
            steps = t + 1
            done |= chosen == eos
            if stops:
                live = (~done).nonzero().squeeze(1)
                if live.numel():
                    tails = self.tokenizer.batch_decode(tokens[live, max(0, steps - window) : steps])
                    hit = torch.tensor([any(s in tail for s in stops) for tail in tails], dtype=torch.bool, device=done.device)
                    done[live[hit]] = True
            if steps == sampling.max_new_tokens or bool(done.all()):
                break
            position = position + 1
            logits = advance(chosen, position)
        return tokens[:, :steps], logprobs[:, :steps]

    def _generic_prefill(self, prompt_ids: Any, prompt_mask: Any, rows: Any | None, attention_mask: Any) -> tuple[Any, Any]:
        """Prefill through the model's own forward: (``[B, V]`` last logits, ``advance(token_ids, position_ids) -> [B, V]``).

        ``rows`` maps batch rows to the distinct prompts prefilled; later steps run ``model(...)`` with its cache.
        """
        import torch

        cache_arg, keeps_logits = self._forward_kwargs()
        extra = {"logits_to_keep": 1} if keeps_logits else {}
        out = self.model(input_ids=prompt_ids, attention_mask=prompt_mask, position_ids=_positions(prompt_mask), use_cache=True, **extra)
        state = {"cache": _cache_of(out), "mask": attention_mask}
        logits = out.logits[:, -1]
        if rows is not None:  # every row reads its prompt's keys/values
            state["cache"].reorder_cache(rows)
            logits = logits[rows]

        def advance(token_ids: Any, position_ids: Any) -> Any:
            mask = state["mask"] = torch.cat([state["mask"], state["mask"].new_ones((token_ids.shape[0], 1))], dim=1)
            out = self.model(input_ids=token_ids[:, None], attention_mask=mask, position_ids=position_ids[:, None], use_cache=True, **{cache_arg: state["cache"]})
            state["cache"] = _cache_of(out)
            return out.logits[:, -1]

        return logits, advance

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
