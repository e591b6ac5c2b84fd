"""LLM training runs: config dataclasses and the one loop collector -> advantages -> batch -> trainer.

``hiergym train llm`` builds ``TrainConfig`` from flags or a YAML/TOML file; ``train(config)``
runs it into a run dir (``hiergym.runs``) and can resume a stopped run exactly (CPU).

Seeds: iteration ``i`` trains on tasks ``train_seed_start + i * tasks_per_iteration + j``; held-out
evaluation uses ``eval_episodes`` seeds from ``eval_seed_start`` (a disjoint range, checked).
An optional warm start fits the model to expert demonstrations first (``WarmStartConfig``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

import numpy as np

from hiergym.agents.backend import SamplingParams
from hiergym.agents.tiny import TinyModelSpec
from hiergym.algos.configs import GiGPOConfig, GRPOConfig, TrainerConfig
from hiergym.error import ConfigError
from hiergym.types import Generation, Trajectory, Turn

logger = logging.getLogger(__name__)

EVAL_SEED_START = 1_000_000
"""Held-out seeds start here; training seeds must stay below."""
VOCAB_SEEDS = 64
"""Episodes of random play whose prompts define a tiny model's vocabulary."""
WARM_START_MODEL_DIR = "model_warm_start"
"""Run-dir subdirectory with the policy right after the warm start (save_pretrained): later runs can
start from it through ``model.path`` (e.g. GiGPO and GRPO from the same weights)."""


# ----------------------------------------------------------------------------- configs


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
    """Env worker processes (0 = envs in the trainer process)."""

    def __post_init__(self) -> None:
        from hiergym.registration import all_entries

        known = [e.id for e in all_entries() if not e.multi_agent]
        if self.env_id not in known:
            import difflib

            close = difflib.get_close_matches(self.env_id, known, n=3, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError("env.env_id", self.env_id, f"{hint}a registered single-agent id (run `hiergym list`)")
        if self.history_k < 0:
            raise ConfigError("env.history_k", self.history_k, "an integer >= 0")
        if self.template is not None and not Path(self.template).is_file():
            raise ConfigError("env.template", self.template, "an existing PromptTemplate .toml/.json file")


@dataclass(frozen=True)
class TextEnvMaker:
    """Picklable ``env_id -> env`` for the collector: the env wrapped to take LLM text and give prompts."""

    max_episode_steps: int | None = None
    history_k: int = 0
    template: str | None = None

    def __call__(self, env_id: str) -> Any:
        import hiergym
        from hiergym.wrappers import AnchorHash, History, PromptTemplate, TextActions

        kwargs = {} if self.max_episode_steps is None else {"max_episode_steps": self.max_episode_steps}
        env = TextActions(AnchorHash(hiergym.make(env_id, **kwargs)))
        template = PromptTemplate.from_file(self.template) if self.template else None
        return History(env, k=self.history_k, template=template)

    @classmethod
    def from_config(cls, env: EnvConfig) -> TextEnvMaker:
        return cls(env.max_episode_steps, env.history_k, env.template)


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

    def __post_init__(self) -> None:
        if self.path is not None and not (Path(self.path) / "config.json").is_file():
            raise ConfigError("model.path", self.path, "a local model directory with config.json (save_pretrained), or unset for a tiny model")


@dataclass(frozen=True)
class AlgoConfig:
    """Which advantage estimator; each has its own config (group size lives there)."""

    name: Literal["gigpo", "grpo"] = "gigpo"
    """GiGPO (episode + anchor-state step groups) or GRPO (episode groups only)."""
    gigpo: GiGPOConfig = field(default_factory=GiGPOConfig)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)

    @property
    def selected(self) -> GiGPOConfig | GRPOConfig:
        return self.gigpo if self.name == "gigpo" else self.grpo


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

    def check(self) -> None:
        """Cross-field check, run when training starts (a config file may supply the expert after flags)."""
        if self.steps > 0 and not self.expert:
            raise ConfigError("warm_start.expert", self.expert, "an entry point 'module:function' when warm_start.steps > 0")
        if self.batch_size < 0:
            raise ConfigError("warm_start.batch_size", self.batch_size, "an integer >= 0 (0 = full batch)")
        if not 0 <= self.content_only_steps <= self.steps:
            raise ConfigError("warm_start.content_only_steps", self.content_only_steps, f"an integer in [0, steps={self.steps}]")


@dataclass(frozen=True)
class TrainConfig:
    """One LLM RL run."""

    env: EnvConfig = field(default_factory=EnvConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(lr=1e-4))
    sampling: SamplingParams = field(default_factory=lambda: SamplingParams(max_new_tokens=8))
    warm_start: WarmStartConfig = field(default_factory=WarmStartConfig)
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
        if self.iterations < 0:
            raise ConfigError("iterations", self.iterations, "an integer >= 0 (0 = warm start and evaluation only)")
        for name in ("tasks_per_iteration", "num_slots", "eval_every", "eval_episodes", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(name, getattr(self, name), "an integer >= 1")
        last_train_seed = self.train_seed_start + self.iterations * self.tasks_per_iteration
        if last_train_seed > self.eval_seed_start:
            raise ConfigError("eval_seed_start", self.eval_seed_start, f">= {last_train_seed}, so held-out seeds never appear in training")

    @property
    def group_size(self) -> int:
        return self.algo.selected.group_size

    def train_tasks(self, iteration: int) -> list[tuple[str, int]]:
        first = self.train_seed_start + iteration * self.tasks_per_iteration
        return [(self.env.env_id, first + j) for j in range(self.tasks_per_iteration)]

    def eval_tasks(self) -> list[tuple[str, int]]:
        return [(self.env.env_id, self.eval_seed_start + j) for j in range(self.eval_episodes)]


# ----------------------------------------------------------------------------- pieces


def load_entry_point(spec: str, field_name: str) -> Callable[..., Any]:
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(field_name, spec, f"an importable 'module:function' ({e})") from e


def env_corpus(make_env: Callable[[str], Any], env_id: str, seeds: Sequence[int], *, max_steps: int = 30) -> list[str]:
    """Prompts and messages an env shows under random play (plus a malformed answer): a tiny model's vocabulary."""
    texts = []
    for seed in seeds:
        env = make_env(env_id)
        obs, info = env.reset(seed=int(seed))
        texts.append(obs)
        rng = np.random.default_rng(seed)
        actions = list(info.get("admissible_actions") or ["noop"])
        for step in range(max_steps):
            answer = "" if step == 0 else f"<action>{actions[rng.integers(len(actions))]}</action>"
            obs, _, terminated, truncated, info = env.step(answer)
            texts.append(obs)
            texts.extend(info.get("admissible_actions") or [])
            if terminated or truncated:
                break
        env.close()
    return texts


def build_backend(config: TrainConfig, run_path: Path, make_env: Callable[[str], Any]) -> Any:
    """A ``TransformersBackend`` from ``model.path``, or from a tiny model written once into the run dir."""
    import torch

    from hiergym.agents.tiny import save_tiny_lm
    from hiergym.agents.transformers_backend import TransformersBackend

    if config.model.threads:
        torch.set_num_threads(config.model.threads)
    path = Path(config.model.path) if config.model.path else run_path / "model_init"
    if config.model.path is None and not (path / "config.json").is_file():
        corpus = env_corpus(make_env, config.env.env_id, range(config.train_seed_start, config.train_seed_start + VOCAB_SEEDS), max_steps=config.env.max_episode_steps or 30)
        save_tiny_lm(path, corpus, spec=config.model.tiny, seed=config.model.init_seed)
    return TransformersBackend.from_pretrained(path, device=config.model.device)


def expert_demonstrations(config: TrainConfig, agent: Any, make_env: Callable[[str], Any]) -> list[Trajectory]:
    """Run the expert on ``warm_start.episodes`` seeds; each turn holds one Generation of the expert's answer."""
    expert = load_entry_point(config.warm_start.expert, "warm_start.expert")
    tok = agent.backend.tokenizer
    trajectories = []
    for seed in range(config.warm_start.seed_start, config.warm_start.seed_start + config.warm_start.episodes):
        env = make_env(config.env.env_id)
        obs, _ = env.reset(seed=seed)
        traj = Trajectory(group_id=f"expert#{seed}", env_id=config.env.env_id, seed=seed)
        for action in expert(env.unwrapped) or []:
            answer = f"<action>{action}</action>"
            response = tok(answer, add_special_tokens=False)["input_ids"]
            prompt = tok(agent.prompt(obs))["input_ids"]
            gen = Generation(prompt, response, [0.0] * len(response), answer, role=agent.role)
            obs, reward, terminated, truncated, _ = env.step(answer)
            traj.turns.append(Turn(observation=obs, action=action, raw_action=answer, reward=reward, terminated=terminated, truncated=truncated, generations=[gen]))
            if terminated or truncated:
                break
        env.close()
        trajectories.append(traj)
    return trajectories


def minibatch_indices(num_rows: int, batch_size: int, steps: int, seed: int) -> Iterator[np.ndarray]:
    """Row indices for ``steps`` minibatches: consecutive shuffled epochs (every row once per epoch)."""
    rng = np.random.default_rng(seed)
    size = num_rows if batch_size <= 0 else min(batch_size, num_rows)
    order = np.empty(0, dtype=np.int64)
    for _ in range(steps):
        if len(order) < size:
            order = np.concatenate([order, rng.permutation(num_rows)])
        yield np.sort(order[:size])
        order = order[size:]


def without_format_tags(batch: Any, tokenizer: Any) -> Any:
    """``batch`` with the action-format tag tokens taken off the response mask (only the content is trained)."""
    import torch

    from hiergym.agents.tiny import FORMAT_TAGS
    from hiergym.types import Batch

    ids = [i for i in tokenizer.convert_tokens_to_ids(list(FORMAT_TAGS)) if i is not None and i != tokenizer.unk_token_id]
    is_tag = torch.isin(batch.input_ids, torch.tensor(ids, dtype=batch.input_ids.dtype))
    mask = batch.response_mask * (~is_tag).to(batch.response_mask.dtype)
    return Batch(batch.input_ids, batch.attention_mask, mask, batch.old_logprobs * mask, batch.advantages * mask, batch.role)


def warm_start(config: TrainConfig, agent: Any, make_env: Callable[[str], Any], device: str) -> dict[str, float]:
    """Fit the policy to expert answers (token-mean NLL through the Trainer, advantage 1); returns the last metrics."""
    from hiergym.algos import Trainer, build_batch
    from hiergym.algos.batching import select_rows

    demos = expert_demonstrations(config, agent, make_env)
    batch = build_batch(demos, [np.ones(len(t)) for t in demos], pad_token_id=agent.backend.pad_token_id)
    content = without_format_tags(batch, agent.backend.tokenizer)
    sft = Trainer(agent.backend.model, replace(config.trainer, lr=config.warm_start.lr, ppo_epochs=1, num_minibatches=1, kl_beta=0.0, old_logprobs="current"), device=device)
    metrics: dict[str, float] = {}
    for step, rows in enumerate(minibatch_indices(len(batch), config.warm_start.batch_size, config.warm_start.steps, config.seed)):
        source = content if step < config.warm_start.content_only_steps else batch
        metrics = sft.step(source if len(rows) == len(batch) else select_rows(source, rows.tolist()))
    mask = batch.response_mask.to(sft.device)
    metrics["nll"] = float(-(sft.logprobs(batch) * mask).sum() / mask.sum())
    logger.info("warm start: %d demonstrations, %d rows, %d steps, token NLL %.4f", len(demos), len(batch), config.warm_start.steps, metrics["nll"])
    return metrics


def rollout_metrics(trajectories: Sequence[Trajectory], prefix: str = "") -> dict[str, float]:
    """Success rate, mean return, mean length and the share of well-formed/valid actions."""
    turns = [t for tr in trajectories for t in tr.turns]
    n_turns = max(len(turns), 1)
    return {
        f"{prefix}success": float(np.mean([t.success for t in trajectories])),
        f"{prefix}return": float(np.mean([t.episode_return for t in trajectories])),
        f"{prefix}length": float(np.mean([len(t) for t in trajectories])),
        f"{prefix}valid_action": sum(t.action_valid for t in turns) / n_turns,
        f"{prefix}format_ok": sum(bool(t.info.get("action_format_ok", True)) for t in turns) / n_turns,
    }


# ----------------------------------------------------------------------------- the loop


@dataclass
class TrainResult:
    """What a run produced: its dir, held-out success per evaluated iteration, and warm-start numbers."""

    run_dir: Path
    eval_success: dict[int, float]
    init_eval_success: float | None = None
    warm_start_metrics: dict[str, float] = field(default_factory=dict)


class TrainLoop:
    """Wires env maker, backend, agent, collector, advantage estimator, trainer and run dir."""

    def __init__(self, config: TrainConfig):
        from hiergym.agents.llm_agent import LLMAgent
        from hiergym.collector import Collector
        from hiergym.runs import RunDir, seed_everything

        config.warm_start.check()
        self.config = config
        self.run = RunDir(config.out, config, resume=config.resume, tensorboard=config.tensorboard)
        seed_everything(config.seed)
        self.make_env = TextEnvMaker.from_config(config.env)
        self.backend = build_backend(config, self.run.path, self.make_env)
        self.device = self.backend.device
        self.agent = LLMAgent(self.backend, sampling=config.sampling)
        self.eval_sampling = replace(config.sampling, temperature=config.eval_temperature)
        self.trainer: Any = None  # built once the starting policy is known (after warm start or restore)
        self.collector = Collector(self.make_env, self.agent, num_slots=config.num_slots, num_workers=config.env.num_workers, max_turns=(config.env.max_episode_steps or 1000))
        self.start = 0
        self.result = TrainResult(self.run.path, {})

    def evaluate(self) -> dict[str, float]:
        trajs, _ = self.collector.collect(self.config.eval_tasks(), group_size=1, sampling=self.eval_sampling)
        return rollout_metrics(trajs, prefix="eval_")

    def _restore(self) -> bool:
        from hiergym.runs import restore_rng

        state = self.run.latest_checkpoint()
        if state is None:
            return False
        self.trainer = self._build_trainer()
        self.trainer.load_state_dict(state["trainer"])
        restore_rng(state["rng"])
        self.start = int(state["step"])
        self.result.eval_success = {int(k): v for k, v in state.get("eval_success", {}).items()}
        self.result.init_eval_success = state.get("init_eval_success")
        self.run.metrics.truncate(self.start)
        self.run.throughput.truncate(self.start)
        logger.info("resumed %s at iteration %d", self.run.path, self.start)
        return True

    def _checkpoint(self, step: int) -> None:
        self.run.save_checkpoint(step, {"trainer": self.trainer.state_dict(), "eval_success": self.result.eval_success, "init_eval_success": self.result.init_eval_success})

    def _build_trainer(self) -> Any:
        """The RL trainer; with ``trainer.kl_beta > 0`` its reference is a frozen copy of the policy RL starts from."""
        from hiergym.algos import Trainer

        ref = self._reference_model() if self.config.trainer.kl_beta > 0 else None
        return Trainer(self.backend.model, self.config.trainer, ref_model=ref, device=self.device)

    def _reference_model(self) -> Any:
        """The starting policy read back from disk (the warm-started one if any), so a resumed run gets the same reference."""
        from transformers import AutoModelForCausalLM

        warm = self.run.path / WARM_START_MODEL_DIR
        if (warm / "config.json").is_file():
            return AutoModelForCausalLM.from_pretrained(warm)
        return AutoModelForCausalLM.from_pretrained(self.config.model.path or self.run.path / "model_init")

    def _warm_start(self) -> None:
        cfg = self.config
        if cfg.warm_start.steps <= 0:
            return
        self.result.init_eval_success = self.evaluate()["eval_success"]
        self.result.warm_start_metrics = warm_start(cfg, self.agent, self.make_env, self.device)
        self.backend.save_pretrained(self.run.path / WARM_START_MODEL_DIR)

    def iteration(self, it: int) -> dict[str, float]:
        """Evaluate (when due), collect G copies of this iteration's tasks, one trainer step, log."""
        from hiergym.algos import build_batch, compute_advantages

        cfg = self.config
        row: dict[str, float] = {}
        if it % cfg.eval_every == 0:
            row.update(self.evaluate())
            self.result.eval_success[it] = row["eval_success"]
        trajs, stats = self.collector.collect(cfg.train_tasks(it), cfg.group_size)
        advantages = compute_advantages(trajs, cfg.algo.selected)
        batch = build_batch(trajs, advantages, pad_token_id=self.backend.pad_token_id)
        row.update(rollout_metrics(trajs))
        row.update({f"train/{k}": v for k, v in self.trainer.step(batch).items()})
        self.run.log(it, row, stats.as_dict())
        self.run.save_samples(trajs[: cfg.samples_per_iteration])
        return row

    def __call__(self) -> TrainResult:
        cfg = self.config
        if not (cfg.resume and self._restore()):
            self._warm_start()
            self.trainer = self._build_trainer()
        bar = _progress(cfg.iterations, self.start, enabled=cfg.progress)
        try:
            for it in range(self.start, cfg.iterations):
                row = self.iteration(it)
                bar.update(1)
                bar.set_postfix(success=f"{row['success']:.2f}", ret=f"{row['return']:.2f}", eval=f"{self.result.eval_success.get(max(self.result.eval_success, default=0), float('nan')):.2f}")
                if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == cfg.iterations:
                    self._checkpoint(it + 1)
            final = self.evaluate()
            self.result.eval_success[cfg.iterations] = final["eval_success"]
            self.run.metrics.truncate(cfg.iterations)
            self.run.log(cfg.iterations, final)
            init = self.result.init_eval_success
            self.run.plot(baselines={"eval_success": {"before warm start": init}} if init is not None else None)
        finally:
            bar.close()
            self.collector.close()
            self.run.close()
        return self.result


def _progress(total: int, initial: int, *, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", disable=not enabled, dynamic_ncols=True)


def train(config: TrainConfig) -> TrainResult:
    """Run (or resume) one training run; returns held-out success per evaluated iteration."""
    return TrainLoop(config)()


# ----------------------------------------------------------------------------- config files and CLI


def dataclass_from_dict(cls: type, data: dict[str, Any], *, prefix: str = "") -> Any:
    """Build a (nested, frozen) config dataclass from plain data; unknown keys raise ConfigError naming them."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}", data[unknown[0]], f"a field of {cls.__name__}: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = dataclass_from_dict(hint, value, prefix=f"{prefix}{key}.")
        elif isinstance(value, list):
            value = tuple(value)
        elif hint is Path or (isinstance(value, str) and key == "out"):
            value = Path(value)
        kwargs[key] = value
    return cls(**kwargs)


RELATIVE_PATH_FIELDS = (("env", "template"), ("model", "path"))
"""Config-file fields holding paths, resolved against the file's directory."""


def load_config(path: str | Path) -> TrainConfig:
    """A ``TrainConfig`` from a .toml, .yaml/.yml or .json file (nested tables = nested configs)."""
    import json
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise ConfigError("config_file", str(path), "an existing .toml, .yaml or .json file")
    text = path.read_text()
    if path.suffix == ".toml":
        data = tomllib.loads(text)
    elif path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text) or {}
    elif path.suffix == ".json":
        data = json.loads(text)
    else:
        raise ConfigError("config_file", str(path), "a file ending in .toml, .yaml, .yml or .json")
    for section, key in RELATIVE_PATH_FIELDS:  # relative paths in a file are relative to the file
        value = data.get(section, {}).get(key)
        if isinstance(value, str) and not Path(value).is_absolute():
            data[section][key] = str((path.parent / value).resolve())
    return dataclass_from_dict(TrainConfig, data)


def _changed(value: Any, default: Any) -> dict[str, Any]:
    """The fields of ``value`` (a nested asdict) that differ from ``default``."""
    out = {}
    for key, v in value.items():
        d = default.get(key)
        if isinstance(v, dict) and isinstance(d, dict):
            sub = _changed(v, d)
            if sub:
                out[key] = sub
        elif v != d:
            out[key] = v
    return out


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, v in top.items():
        out[key] = _merge(out[key], v) if isinstance(v, dict) and isinstance(out.get(key), dict) else v
    return out


def merge_config_file(flags: TrainConfig, config_file: str | Path | None) -> TrainConfig:
    """File values over the defaults, then every flag that differs from its default over the file."""
    import dataclasses

    if config_file is None:
        return flags
    from_file = dataclasses.asdict(load_config(config_file))
    overrides = _changed(dataclasses.asdict(flags), dataclasses.asdict(TrainConfig()))
    return dataclass_from_dict(TrainConfig, _merge(from_file, overrides))


def train_command(config: Annotated[TrainConfig, tyro.conf.arg(name="")] = TrainConfig(), config_file: Path | None = None) -> None:  # noqa: B008
    """Train an LLM agent with GiGPO or GRPO (flags, or --config-file run.toml|yaml with flags on top).

    CLI layer: prints a short summary with rich.
    """
    from rich.console import Console

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = train(merge_config_file(config, config_file))
    curve = ", ".join(f"{it}: {s:.0%}" for it, s in sorted(result.eval_success.items()))
    Console().print(f"[bold]held-out success by iteration[/bold] {curve}\nrun dir: {result.run_dir}")
