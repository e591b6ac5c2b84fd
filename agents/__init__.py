"""hiergym.agents: LLM backends and agents (and the multi-agent value learners under ``marl``).

Importing this package does not import torch or transformers; the backends load them when built.
"""

from hiergym.agents.backend import FINISH_LENGTH, FINISH_STOP, Backend, SamplingParams
from hiergym.agents.llm_agent import AgentAction, LLMAgent
from hiergym.agents.tiny import TinyModelSpec, build_tokenizer, save_tiny_lm
from hiergym.agents.transformers_backend import TransformersBackend, resolve_device

__all__ = [
    "AgentAction",
    "Backend",
    "FINISH_LENGTH",
    "FINISH_STOP",
    "LLMAgent",
    "SamplingParams",
    "TinyModelSpec",
    "TransformersBackend",
    "build_tokenizer",
    "resolve_device",
    "save_tiny_lm",
]
