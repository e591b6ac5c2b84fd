"""hiergym.agents: LLM backends and agents (and the multi-agent value learners under ``marl``).

Importing this package does not import torch or transformers; the backends load them when built.
"""

from hiergym.agents.backend import FINISH_LENGTH, FINISH_STOP, Backend, SamplingParams
from hiergym.agents.hierarchical import HierarchicalAction, HierarchicalAgent, HierarchyConfig
from hiergym.agents.hierarchical_prompts import HierarchicalPrompts, format_blueprint, parse_blueprint
from hiergym.agents.llm_agent import AgentAction, LLMAgent
from hiergym.agents.tiny import TinyModelSpec, build_tokenizer, save_tiny_lm
from hiergym.agents.transformers_backend import TransformersBackend, resolve_device

__all__ = [
    "AgentAction",
    "Backend",
    "FINISH_LENGTH",
    "FINISH_STOP",
    "HierarchicalAction",
    "HierarchicalAgent",
    "HierarchicalPrompts",
    "HierarchyConfig",
    "LLMAgent",
    "SamplingParams",
    "TinyModelSpec",
    "TransformersBackend",
    "build_tokenizer",
    "format_blueprint",
    "parse_blueprint",
    "resolve_device",
    "save_tiny_lm",
]
