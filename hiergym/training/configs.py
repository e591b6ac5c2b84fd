"""The config dataclasses of one LLM training run (``TrainConfig`` and its parts).

Every field is checked when the dataclass is built (``__post_init__``); checks that need the
machine (is CUDA there?) or several parts at once run in ``TrainConfig.validate()``, which
``train()`` calls before anything is written to disk.

Seeds: iteration ``i`` trains on tasks ``train_seed_start + i * tasks_per_iteration + j``; held-out
evaluation uses ``eval_episodes`` seeds from ``eval_seed_start`` (a disjoint range, checked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from hiergym.agents.backend import SamplingParams
from hiergym.agents.tiny import TinyModelSpec
from hiergym.agents.hierarchical import HierarchyConfig, HierarchyLimits, HierarchyMode
from hiergym.algos.configs import GiGPOConfig, GRPOConfig, HRPOConfig, TrainerConfig
from hiergym.error import ConfigError
from hiergym.training.async_rollouts import AsyncRolloutConfig

EVAL_SEED_START = 1_000_000
"""Held-out seeds start here; training seeds must stay below."""
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
"""Devices a run can name (``auto`` = cuda when available, else cpu)."""


@dataclass(frozen=True)
class EnvConfig:
    """Which env and how it is wrapped for an LLM (AnchorHash -> TextActions -> History)."""

    env_id: str = "hiergym/Sokoban-6x6-1box-v0"
    """A registered single-agent text env id (`hiergym list`)."""
    max_episode_steps: int | None = 20
    """Time limit (Gymnasium TimeLimit); None keeps the env's own."""
    history_k: int = 0
    """Past turns shown in the prompt (0: the current observation only)."""
    template: str | None = None
    """A PromptTemplate .toml/.json file; None = the History default."""
    num_workers: int = 0
    """Env workers (0 = envs in the trainer process)."""
    host: Literal["auto", "inprocess", "process", "ray"] = "auto"
    """Where the env workers live: `process` (worker processes; what `auto` picks when num_workers > 0) or `ray`
    (Ray actors, the `ray` extra; a local Ray instance is started unless ray.init ran)."""
    step_timeout: float = 120.0
    """Seconds an env worker may take for one step before it counts as hung: it is restarted and its episodes are
    re-run from their seeds (envs in the trainer process cannot be interrupted)."""
    ray_actor_options: dict[str, float] = field(default_factory=dict)
    """With host `ray`: Ray options for every env actor (`ActorClass.options`), e.g. num_cpus 1 reserves a CPU per
    actor (Ray's default reserves none while an actor runs); also memory, num_gpus."""
    subgoals: Literal["off", "env", "proposed"] = "off"
    """SubgoalHooks in the stack: `env` pursues the env's subgoals in order, `proposed` takes the LLM's
    <subgoal> (HiPER style, <switch>SWITCH</switch> replaces it); reaching one adds subgoal_bonus and the
    episode's segments land in Trajectory.segments. `off`: no SubgoalHooks."""
    subgoal_bonus: float = 1.0
    """Intrinsic reward for reaching the pursued subgoal (added to the env reward)."""
    subgoal_step_cost: float = 0.0
    """Intrinsic cost of every step inside a segment (>= 0, subtracted)."""
    subgoal_max_steps: int | None = None
    """A segment ends after this many steps even if its subgoal is not reached (k); None = no limit."""
    require_tags: bool = True
    """The answer must wrap its command in <action>...</action>; False also takes a bare answer (`up`) as
    the command: a format a random-init model can hit, for RL from scratch."""

    def __post_init__(self) -> None:
        from hiergym.registration import all_entries

        known = [e.id for e in all_entries() if not e.multi_agent]
        if self.env_id not in known:
            import difflib

            close = difflib.get_close_matches(self.env_id, known, n=3, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError("env.env_id", self.env_id, f"{hint}a registered single-agent id (run `hiergym list`)")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ConfigError("env.max_episode_steps", self.max_episode_steps, "an integer >= 1, or None for the env's own limit")
        if self.history_k < 0:
            raise ConfigError("env.history_k", self.history_k, "an integer >= 0")
        if self.num_workers < 0:
            raise ConfigError("env.num_workers", self.num_workers, "0 (envs in the trainer process) or a number of worker processes")
        if self.host not in ("auto", "inprocess", "process", "ray"):
            raise ConfigError("env.host", self.host, "'auto', 'inprocess', 'process' (worker processes) or 'ray' (Ray actors)")
        if self.host in ("process", "ray") and self.num_workers < 1:
            raise ConfigError("env.num_workers", self.num_workers, f"an integer >= 1 with env.host={self.host!r}")
        if not self.step_timeout > 0:
            raise ConfigError("env.step_timeout", self.step_timeout, "a number of seconds > 0")
        if self.ray_actor_options and self.host != "ray":
            raise ConfigError("env.ray_actor_options", dict(self.ray_actor_options), f"empty with env.host={self.host!r} (Ray actor options need env.host='ray')")
        if self.subgoals not in ("off", "env", "proposed"):
            raise ConfigError("env.subgoals", self.subgoals, "'off', 'env' (the env's subgoals in order) or 'proposed' (the LLM's <subgoal>)")
        if self.subgoal_step_cost < 0:
            raise ConfigError("env.subgoal_step_cost", self.subgoal_step_cost, "a cost >= 0 (it is subtracted each step)")
        if self.subgoal_max_steps is not None and self.subgoal_max_steps < 1:
            raise ConfigError("env.subgoal_max_steps", self.subgoal_max_steps, "an integer >= 1, or None for no limit")
        if self.template is not None and not Path(self.template).is_file():
            raise ConfigError("env.template", self.template, "an existing PromptTemplate .toml/.json file")


@dataclass(frozen=True)
class ModelConfig:
    """The policy model: a local checkpoint dir, or a tiny random-init model built for the env."""

    path: str | None = None
    """A local directory written by save_pretrained; None builds a tiny model over the env's words."""
    tiny: TinyModelSpec = field(default_factory=TinyModelSpec)
    """Shape of the tiny model (used when path is None)."""
    init_seed: int = 0
    """Seed of the tiny model's random weights."""
    device: str = "auto"
    """cuda when available, else cpu (`auto`), or an explicit device."""
    threads: int | None = 1
    """torch CPU threads; 1 is robust on a shared machine (oversubscribed OpenMP threads spin, measured 15x
    slower under load); None keeps torch's default."""
    backend: Literal["transformers", "vllm"] = "transformers"
    """Sampling engine: `transformers` (in-process, CPU or GPU) or `vllm` (the `vllm` extra, a CUDA machine;
    weights pushed into the engine after every update; GPU path untested in this repository)."""

    def __post_init__(self) -> None:
        if self.path is not None and not (Path(self.path) / "config.json").is_file():
            raise ConfigError("model.path", self.path, "a local model directory with config.json (save_pretrained), or unset for a tiny model")
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ConfigError("model.device", self.device, "'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps'")
        if self.threads is not None and self.threads < 1:
            raise ConfigError("model.threads", self.threads, "an integer >= 1, or None for torch's default")
        if self.backend not in ("transformers", "vllm"):
            raise ConfigError("model.backend", self.backend, "'transformers' or 'vllm' (the vllm extra)")
        _check_tiny(self.tiny)

    def check_device(self) -> None:
        """The device exists on this machine (imports torch: run when training starts, not at parse time)."""
        if self.device in ("auto", "cpu"):
            return
        import torch

        if self.device.startswith("cuda"):
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            index = int(self.device.partition(":")[2] or 0)
            if index >= count:
                found = f"this machine has {count} CUDA device(s)" if count else "CUDA is not available on this machine"
                raise ConfigError("model.device", self.device, f"an available device ({found}); use 'auto' or 'cpu'")
        elif self.device == "mps" and not torch.backends.mps.is_available():
            raise ConfigError("model.device", self.device, "an available device (MPS is not available on this machine); use 'auto' or 'cpu'")


def _check_tiny(spec: TinyModelSpec) -> None:
    """Shapes a tiny Llama can be built with (else transformers fails deep inside with a shape error)."""
    for name in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "max_position_embeddings"):
        if getattr(spec, name) < 1:
            raise ConfigError(f"model.tiny.{name}", getattr(spec, name), "an integer >= 1")
    if spec.hidden_size % spec.num_attention_heads:
        raise ConfigError("model.tiny.num_attention_heads", spec.num_attention_heads, f"a divisor of hidden_size={spec.hidden_size}")
    if spec.num_attention_heads % spec.num_key_value_heads:
        raise ConfigError("model.tiny.num_key_value_heads", spec.num_key_value_heads, f"a divisor of num_attention_heads={spec.num_attention_heads}")


@dataclass(frozen=True)
class AlgoConfig:
    """Which advantage estimator; each has its own config (group size lives there)."""

    name: Literal["gigpo", "grpo", "hrpo"] = "gigpo"
    """GiGPO (episode + anchor-state step groups), GRPO (episode groups only) or HRPO (macro advantages on
    planner tokens, micro on executor tokens; needs --agent hierarchical)."""
    gigpo: GiGPOConfig = field(default_factory=GiGPOConfig)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    hrpo: HRPOConfig = field(default_factory=HRPOConfig)

    @property
    def selected(self) -> GiGPOConfig | GRPOConfig | HRPOConfig:
        return {"gigpo": self.gigpo, "grpo": self.grpo, "hrpo": self.hrpo}[self.name]


Schedule = Literal["joint", "co-evolution"]


@dataclass(frozen=True)
class HierarchyTrainConfig(HierarchyLimits):
    """The hierarchical agent (``--agent hierarchical``): segment limits, planning, models and training schedule."""

    plan_max_new_tokens: int = 48
    """Token budget of one planner answer."""
    two_models: bool = False
    """Planner and executor are two models (two backends, two optimisers); default one shared model with role prompts."""
    schedule: Schedule = "joint"
    """joint: both roles learn every iteration; co-evolution: planner_iterations with the executor frozen, then
    executor_iterations with the planner frozen, repeated (HiMAC). With one shared model 'frozen' means the
    frozen role's tokens carry no loss (the shared weights still move through the other role)."""
    planner_iterations: int = 5
    """P: iterations of each planner phase (co-evolution)."""
    executor_iterations: int = 5
    """E: iterations of each executor phase (co-evolution)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("planner_iterations", "executor_iterations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"hierarchy.{name}", getattr(self, name), "an integer >= 1")
        if self.schedule not in ("joint", "co-evolution"):
            raise ConfigError("hierarchy.schedule", self.schedule, "'joint' or 'co-evolution'")

    def agent_config(self, mode: HierarchyMode) -> HierarchyConfig:
        """The ``HierarchyConfig`` of the agent in ``mode``."""
        return HierarchyConfig(mode=mode, **self.limits())


@dataclass(frozen=True)
class WarmStartConfig:
    """Supervised warm start on expert demonstrations before RL (0 steps = off).

    The loss is the token-mean NLL of the expert's answers, computed by the same ``Trainer``
    with advantage 1 and old log-probs taken from the update's own forward (``old_logprobs="current"``):
    ratio = 1, so the clipped surrogate's gradient is exactly the NLL gradient.
    """

    expert: str | None = None
    """Entry point 'module:function' mapping the unwrapped env (after reset) to an action list."""
    episodes: int = 64
    """Expert episodes (seeds from seed_start)."""
    steps: int = 0
    """Gradient steps (0 = no warm start)."""
    batch_size: int = 0
    """Demonstration turns per step, drawn as shuffled epochs (0 = all of them every step)."""
    content_only_steps: int = 0
    """The first this many steps leave the format tags (``<action>``, ...) out of the loss. Measured on
    the demo: with the tags in the loss from step 0 the direction token sat at chance for 800 steps on
    2 of 3 seeds (Adam's second moment is set by the large early tag gradients, so the small content
    gradient moves slowly); on the content alone it leaves chance within ~150 steps."""
    lr: float = 2e-3
    seed_start: int = 500_000
    """Demonstration seeds (kept apart from RL training and eval seeds)."""
    expert_noise: float = 0.0
    """Imperfect demonstrations: the share of moves replaced by a uniformly random admissible action
    (the expert then plans again from where that move led, so it must plan from the env's current
    state). A warm start from them leaves RL something to add that clean demonstrations do not."""

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ConfigError("warm_start.episodes", self.episodes, "an integer >= 1")
        if self.steps < 0:
            raise ConfigError("warm_start.steps", self.steps, "an integer >= 0 (0 = no warm start)")
        if not self.lr > 0:
            raise ConfigError("warm_start.lr", self.lr, "a positive learning rate")
        if not 0.0 <= self.expert_noise < 1.0:
            raise ConfigError("warm_start.expert_noise", self.expert_noise, "a probability in [0, 1)")

    def check(self) -> None:
        """Cross-field check, run when training starts (a config file may supply the expert after flags)."""
        if self.steps > 0 and not self.expert:
            raise ConfigError("warm_start.expert", self.expert, "an entry point 'module:function' when warm_start.steps > 0")
        if self.batch_size < 0:
            raise ConfigError("warm_start.batch_size", self.batch_size, "an integer >= 0 (0 = full batch)")
        if not 0 <= self.content_only_steps <= self.steps:
            raise ConfigError("warm_start.content_only_steps", self.content_only_steps, f"an integer in [0, steps={self.steps}]")
        if self.steps > 0:
            from hiergym.training.config_files import load_entry_point

            load_entry_point(self.expert, "warm_start.expert")


@dataclass(frozen=True)
class TrainConfig:
    """One LLM RL run."""

    RELATIVE_PATH_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("env", "template"), ("model", "path"))
    """Fields holding paths: in a config file they are relative to the file (``load_config``)."""

    env: EnvConfig = field(default_factory=EnvConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    agent: Literal["flat", "hierarchical"] = "flat"
    """flat: one LLM policy; hierarchical: a planner and an executor (HierarchicalAgent; train it with --algo.name hrpo)."""
    mode: HierarchyMode = "blueprint"
    """With --agent hierarchical: blueprint (a subgoal list up front, HiMAC) or switch (KEEP/SWITCH + subgoal each step, HiPER)."""
    hierarchy: HierarchyTrainConfig = field(default_factory=HierarchyTrainConfig)
    """With --agent hierarchical: segments, planning, models and schedule."""
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(lr=1e-4))
    sampling: SamplingParams = field(default_factory=lambda: SamplingParams(max_new_tokens=8))
    """How the policy samples its answers (temperature 0 = greedy)."""
    warm_start: WarmStartConfig = field(default_factory=WarmStartConfig)
    """Supervised warm start on expert demonstrations before RL (0 steps = off)."""
    async_rollouts: AsyncRolloutConfig = field(default_factory=AsyncRolloutConfig)
    """Collect iteration n+1 while the trainer updates on n (off by default), with a staleness bound."""
    out: Path = Path("runs/llm")
    """Run directory."""
    iterations: int = 50
    """RL iterations (collect, then one trainer step); 0 = warm start and evaluation only."""
    tasks_per_iteration: int = 8
    """Task groups per iteration; each runs group_size times."""
    num_slots: int = 32
    """Envs stepped together (the batch of each LLM call)."""
    eval_every: int = 10
    """Evaluate on held-out seeds every this many iterations (and at start and end)."""
    eval_episodes: int = 32
    eval_temperature: float = 0.0
    """Sampling temperature for evaluation (0 = greedy)."""
    train_seed_start: int = 0
    eval_seed_start: int = EVAL_SEED_START
    checkpoint_every: int = 10
    grad_cosine_every: int = 0
    """Every this many iterations log ``signal/grad_cosine_halves``: the cosine between the policy gradients
    of the two halves of the batch's task groups (two extra backward passes; 0 = off). Near 0: the batch
    gradient is mostly noise, and a bigger batch or a lower learning rate is needed."""
    samples_per_iteration: int = 2
    """Trajectories per iteration written to samples.jsonl."""
    seed: int = 0
    """Seed of python/numpy/torch RNGs (sampling)."""
    resume: bool = False
    """Continue the run in `out` from its latest checkpoint."""
    tensorboard: bool = True
    progress: bool = True
    """Show a progress bar with live success rate and return."""

    def __post_init__(self) -> None:
        self._check_agent()
        if self.grad_cosine_every < 0:
            raise ConfigError("grad_cosine_every", self.grad_cosine_every, "an integer >= 0 (0 = off)")
        if self.iterations < 0:
            raise ConfigError("iterations", self.iterations, "an integer >= 0 (0 = warm start and evaluation only)")
        for name in ("tasks_per_iteration", "num_slots", "eval_every", "eval_episodes", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(name, getattr(self, name), "an integer >= 1")
        for name in ("samples_per_iteration", "eval_temperature"):
            if getattr(self, name) < 0:
                raise ConfigError(name, getattr(self, name), "a value >= 0")
        last_train_seed = self.train_seed_start + self.iterations * self.tasks_per_iteration
        if last_train_seed > self.eval_seed_start:
            raise ConfigError("eval_seed_start", self.eval_seed_start, f">= {last_train_seed}, so held-out seeds never appear in training")

    def _check_agent(self) -> None:
        """The agent, its mode, the estimator and the env's subgoal handling fit together."""
        if self.agent not in ("flat", "hierarchical"):
            raise ConfigError("agent", self.agent, "'flat' (one LLM policy) or 'hierarchical' (planner + executor)")
        if self.mode not in ("blueprint", "switch"):
            raise ConfigError("mode", self.mode, "'blueprint' (a subgoal list up front) or 'switch' (KEEP/SWITCH each step)")
        if self.algo.name == "hrpo" and self.agent != "hierarchical":
            raise ConfigError("algo.name", self.algo.name, "'gigpo' or 'grpo' for a flat agent; HRPO needs --agent hierarchical (planner and executor tokens)")
        if self.agent != "hierarchical":
            return
        if self.env.subgoals == "env":
            raise ConfigError("env.subgoals", self.env.subgoals, "'off' or 'proposed' with --agent hierarchical (the planner names the subgoals; the env stack adopts them)")
        if self.mode == "switch" and self.hierarchy.two_models:
            raise ConfigError("hierarchy.two_models", True, "False in switch mode: one generation holds the switch decision, the subgoal and the action")

    @property
    def hierarchical(self) -> bool:
        return self.agent == "hierarchical"

    def validate(self) -> None:
        """The checks that need the whole config or the machine (expert importable, device present).

        ``train()`` runs them before it creates or touches the run dir, so a bad value writes nothing
        and the corrected command can use the same ``out``.
        """
        self.warm_start.check()
        self.model.check_device()
        if self.model.backend == "vllm":
            from hiergym.agents.vllm_backend import import_vllm

            try:
                import_vllm()
            except ConfigError as e:  # vLLM not installed: name the field and the extra
                raise ConfigError("model.backend", "vllm", e.allowed) from e
        if self.env.template is not None:
            from hiergym.wrappers import PromptTemplate

            try:
                PromptTemplate.from_file(self.env.template)
            except ConfigError:
                raise
            except Exception as e:  # a syntax error in the file, a missing field, ...
                raise ConfigError("env.template", self.env.template, f"a readable PromptTemplate .toml/.json file ({type(e).__name__}: {e})") from e

    @property
    def group_size(self) -> int:
        return self.algo.selected.group_size

    def train_tasks(self, iteration: int) -> list[tuple[str, int]]:
        first = self.train_seed_start + iteration * self.tasks_per_iteration
        return [(self.env.env_id, first + j) for j in range(self.tasks_per_iteration)]

    def eval_tasks(self) -> list[tuple[str, int]]:
        return [(self.env.env_id, self.eval_seed_start + j) for j in range(self.eval_episodes)]
