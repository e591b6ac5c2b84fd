"""``VLLMBackend``: batched generation with vLLM's offline engine (``vllm.LLM``), weights pushed from the trainer.

The records it returns are the ones ``TransformersBackend`` returns for the same prompts: prompt
ids from the same tokenizer, response ids cut at EOS or right after the first stop string,
one sampling-time log-prob per response token, the role, and ``"stop"``/``"length"``.

Two copies of the policy exist: the Hugging Face ``model`` the trainer updates (``backend.model``),
and vLLM's. ``sync_weights()`` pushes the trainer's parameters into vLLM after an update (the
path TRL's colocate mode takes: the engine's ``model.load_weights``), resets vLLM's prefix cache
(KV computed with the old weights is stale) and bumps ``policy_version``.

Log-probs: the engine is built with ``logprobs_mode="processed_logprobs"`` so a log-prob is
``log_softmax(logits / T)``, the value ``SamplingParams`` promises. vLLM applies top-p before it
takes that log-softmax (log-probs renormalised over the nucleus), so ``top_p < 1`` is refused
rather than silently giving log-probs a trainer cannot recompute.

vLLM is an optional extra (``pip install hiergym[vllm]``, CUDA, its own torch pin) imported only
when a backend is built. The GPU path has not been run in this repository's CI: the tests drive
this class through a stand-in engine with vLLM's API surface (tests/agents/test_vllm_backend.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hiergym.error import ConfigError
from hiergym.types import Generation

from .backend import FINISH_LENGTH, FINISH_STOP, SamplingParams, require_model_dir, save_model_dir

logger = logging.getLogger(__name__)

VLLM_LOGPROBS_MODE = "processed_logprobs"
"""vLLM's ``logprobs_mode`` that reports log-probs after temperature scaling (its default reports raw ones)."""


def import_vllm() -> Any:
    """The ``vllm`` module, or a ``ConfigError`` naming the optional extra to install."""
    try:
        import vllm
    except ImportError as e:
        raise ConfigError("backend", "vllm", "an installed vLLM: `pip install hiergym[vllm]` (optional extra; needs a CUDA machine)") from e
    return vllm


def load_weights_on_worker(worker: Any, weights: list[tuple[str, Any]]) -> None:
    """Run inside a vLLM worker (``LLM.collective_rpc``): load named tensors into its model."""
    worker.model_runner.model.load_weights(weights=weights)


def _in_process_model(llm: Any) -> Any | None:
    """vLLM's model object when the engine runs in this process (``external_launcher``, V0), else None."""
    try:
        return llm.llm_engine.model_executor.driver_worker.model_runner.model
    except AttributeError:
        return None


class VLLMBackend:
    """Samples with a ``vllm.LLM``; ``model`` is the Hugging Face copy the trainer updates.

    Args:
        llm: a ``vllm.LLM`` built with ``logprobs_mode="processed_logprobs"`` (``from_pretrained`` does).
        tokenizer: the model's Hugging Face tokenizer; prompts are tokenized with it (the ids the
            trainer sees) and sent to vLLM as token ids.
        model: the trainer's ``PreTrainedModel``; None for generation only (``sync_weights`` then
            needs explicit weights).
        device: device of ``model`` (``"auto"``: cuda when available).
        vllm_module: the module providing ``SamplingParams``; default ``import vllm`` (a test seam).
    """

    def __init__(self, llm: Any, tokenizer: Any, *, model: Any = None, device: str = "auto", vllm_module: Any = None):
        from .transformers_backend import resolve_device

        self._vllm = vllm_module if vllm_module is not None else import_vllm()
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token_id is None:
                raise ConfigError("tokenizer.pad_token", None, "a tokenizer with a pad or eos token")
            tokenizer.pad_token = tokenizer.eos_token
        self.llm = llm
        self.tokenizer = tokenizer
        self.device = resolve_device(device)
        self.model = model.to(self.device) if model is not None else None
        self.policy_version = 0
        """How many times weights were pushed into the engine (0: the weights it was built with)."""
        self._engine_lock = threading.Lock()  # one engine call at a time (async rollouts and evaluation share it)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str = "auto", vllm_module: Any = None, **llm_kwargs: Any) -> VLLMBackend:
        """vLLM engine, tokenizer and trainer model from one local ``save_pretrained`` directory.

        ``llm_kwargs`` go to ``vllm.LLM`` (e.g. ``gpu_memory_utilization``, ``dtype``, ``seed``).
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = require_model_dir(path)
        vllm = vllm_module if vllm_module is not None else import_vllm()
        mode = llm_kwargs.setdefault("logprobs_mode", VLLM_LOGPROBS_MODE)
        if mode != VLLM_LOGPROBS_MODE:
            raise ConfigError("logprobs_mode", mode, f"'{VLLM_LOGPROBS_MODE}' (log-probs after temperature, what the trainer recomputes)")
        llm = vllm.LLM(model=str(path), **llm_kwargs)
        return cls(llm, AutoTokenizer.from_pretrained(path), model=AutoModelForCausalLM.from_pretrained(path), device=device, vllm_module=vllm)

    def save_pretrained(self, path: str | Path) -> Path:
        """Write the trainer model and tokenizer (what ``from_pretrained`` loads back)."""
        if self.model is None:
            raise ConfigError("model", None, "a trainer model (VLLMBackend(..., model=...)) to save")
        return save_model_dir(self.model, self.tokenizer, path)

    @property
    def pad_token_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    # --- generation -------------------------------------------------------------------
    def _check(self, sampling: SamplingParams) -> None:
        if sampling.top_p < 1:
            raise ConfigError("sampling.top_p", sampling.top_p, "1.0 with the vLLM backend (vLLM renormalises log-probs over the top-p nucleus, which a trainer cannot recompute)")
        if sampling.greedy and sampling.greedy_logprob_temperature != 1:
            raise ConfigError("sampling.greedy_logprob_temperature", sampling.greedy_logprob_temperature, "1.0 with the vLLM backend (greedy requests report plain log-probs)")

    def _params(self, sampling: SamplingParams, seed: int | None) -> Any:
        return self._vllm.SamplingParams(
            n=1,
            temperature=sampling.temperature,
            top_p=1.0,
            max_tokens=sampling.max_new_tokens,
            stop=[s for s in sampling.stop if s],
            include_stop_str_in_output=True,  # the text ends with its stop string, as TransformersBackend's does
            seed=seed,
            logprobs=0,  # only the sampled token's log-prob
        )

    def generate(
        self, prompts: Sequence[str], sampling: SamplingParams, *, role: str = "policy", seeds: Sequence[int] | None = None
    ) -> list[Generation]:
        """One response per prompt; with ``seeds``, row i is a request with its own vLLM ``seed``."""
        if not prompts:
            return []
        if seeds is not None and len(seeds) != len(prompts):
            raise ConfigError("seeds", len(seeds), f"one seed per prompt ({len(prompts)} prompts)")
        self._check(sampling)
        prompt_ids = [list(ids) for ids in self.tokenizer(list(prompts))["input_ids"]]
        requests = [{"prompt_token_ids": ids} for ids in prompt_ids]  # a vllm TokensPrompt is this TypedDict
        if seeds is None:
            params: Any = self._params(sampling, None)
        else:
            params = [self._params(sampling, int(s)) for s in seeds]
        with self._engine_lock:
            outputs = self.llm.generate(requests, sampling_params=params, use_tqdm=False)
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
        return [self._record(ids, out.outputs[0], role) for ids, out in zip(prompt_ids, outputs)]

    def _record(self, prompt_ids: list[int], completion: Any, role: str) -> Generation:
        """A ``Generation`` from one vLLM ``CompletionOutput`` (``logprobs``: one ``{token_id: Logprob}`` per token)."""
        tokens = [int(t) for t in completion.token_ids]
        if completion.logprobs is None or len(completion.logprobs) != len(tokens):
            got = None if completion.logprobs is None else len(completion.logprobs)
            raise RuntimeError(f"vLLM returned {got} log-prob entries for {len(tokens)} tokens; build requests with logprobs=0")
        logprobs = [float(entry[tok].logprob) for entry, tok in zip(completion.logprobs, tokens)]
        if completion.finish_reason not in (FINISH_STOP, FINISH_LENGTH):
            raise RuntimeError(f"vLLM request ended with finish_reason={completion.finish_reason!r} (aborted?)")
        return Generation(prompt_ids=prompt_ids, response_ids=tokens, logprobs=logprobs, text=completion.text, role=role, finish_reason=completion.finish_reason)

    # --- weight sync ------------------------------------------------------------------
    def sync_weights(self, weights: Iterable[tuple[str, Any]] | None = None) -> int:
        """Push ``weights`` (default: the trainer model's parameters) into vLLM; returns the new ``policy_version``.

        In-process engines load them directly (TRL's colocate path); otherwise each worker loads
        them through ``LLM.collective_rpc``. The prefix cache is reset afterwards.
        """
        if weights is None:
            if self.model is None:
                raise ConfigError("model", None, "a trainer model (VLLMBackend(..., model=...)) or explicit weights to push")
            weights = ((name, p.detach()) for name, p in self.model.named_parameters())
        named = list(weights)
        with self._engine_lock:
            engine_model = _in_process_model(self.llm)
            if engine_model is not None:
                engine_model.load_weights(named)
            else:
                self.llm.collective_rpc(load_weights_on_worker, args=([(n, t.cpu()) for n, t in named],))
            self.llm.reset_prefix_cache()
            self.policy_version += 1
        logger.debug("pushed %d tensors into vLLM (policy version %d)", len(named), self.policy_version)
        return self.policy_version
