"""Tiny random-init causal LMs (Llama architecture) with a word-level tokenizer built locally (no downloads).

Used by tests and ``hiergym demo``. The tokenizer's vocabulary is collected from
sample texts of an env (observations, prompts, action strings) plus the action
format tags, so every token the env can show is known. Both are written with
``save_pretrained`` and loaded back through ``from_pretrained``, the same path a
real checkpoint takes.

Tokenization: ``<tag>`` markup, lower-case or capitalised words, numbers, and every
other character (each space, newline, and each letter of an upper-case run) are
separate tokens, so ASCII grids keep their layout (a Sokoban row ``##_XO#`` is six
tokens, one a cell, not ``XO`` as one word); decoding concatenates tokens (``Fuse``),
so decode(encode(x)) == x for text made of known tokens.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TOKEN_PATTERN = r"</?[A-Za-z_]+>|[A-Z]?[a-z]+|\d+|\s|\S"
"""What one word-level token is: a tag, a (capitalised) word, a number, or one other character."""
PAD, UNK, EOS = "<|pad|>", "<|unk|>", "<|end|>"
SPECIAL_TOKENS = (PAD, UNK, EOS)
FORMAT_TAGS = ("<think>", "</think>", "<action>", "</action>", "<switch>", "</switch>", "<subgoal>", "</subgoal>")
"""Tags of the action format (wrappers/parsing.py) that every tiny vocabulary contains."""


@dataclass(frozen=True)
class TinyModelSpec:
    """Shape of a tiny Llama-style model (2 layers x 128 runs ~5k tokens/s on 2 CPU threads)."""

    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = True


def words_of(texts: Iterable[str]) -> list[str]:
    """Distinct tokens of ``texts`` under ``TOKEN_PATTERN``, in first-seen order."""
    pattern = re.compile(TOKEN_PATTERN)
    seen: dict[str, None] = {}
    for text in texts:
        for tok in pattern.findall(text):
            seen.setdefault(tok, None)
    return list(seen)


def build_tokenizer(texts: Iterable[str], *, extra_tokens: Iterable[str] = FORMAT_TAGS) -> Any:
    """A ``PreTrainedTokenizerFast`` whose word-level vocabulary covers ``texts`` and ``extra_tokens``."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for tok in [*SPECIAL_TOKENS, *extra_tokens, *words_of(texts)]:
        vocab.setdefault(tok, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(TOKEN_PATTERN), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, unk_token=UNK, eos_token=EOS)


def build_tiny_model(vocab_size: int, *, pad_token_id: int, eos_token_id: int, spec: TinyModelSpec | None = None, seed: int = 0) -> Any:
    """A random-init ``LlamaForCausalLM``; the same ``seed`` gives the same weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    spec = spec or TinyModelSpec()
    config = LlamaConfig(vocab_size=vocab_size, pad_token_id=pad_token_id, eos_token_id=eos_token_id, bos_token_id=eos_token_id, **asdict(spec))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlamaForCausalLM(config)


def save_tiny_lm(out_dir: str | Path, texts: Iterable[str], *, spec: TinyModelSpec | None = None, seed: int = 0) -> Path:
    """Build a tokenizer over ``texts`` and a random-init model, ``save_pretrained`` both into ``out_dir``."""
    out_dir = Path(out_dir)
    tokenizer = build_tokenizer(texts)
    model = build_tiny_model(len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, spec=spec, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    logger.info("tiny LM: %d tokens, %d parameters -> %s", len(tokenizer), sum(p.numel() for p in model.parameters()), out_dir)
    return out_dir
