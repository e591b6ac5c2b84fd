"""Training a main agent with sub-agents by M-GRPO (or the main agent alone by GRPO) on a text env.

One iteration: the shared :class:`~hiergym.collector.Collector` runs K copies of each query with
:class:`~hiergym.agents.main_sub.MainSubAgents`; :func:`publish` puts the rollouts on the shared
store (topic ``main``: the main rollouts of a query; topic ``sub:<name>``: that sub-agent's calls of
the query plus the reward statistics it needs, the parent rollouts' correctness); one
:class:`Learner` per model consumes its topics, computes its M-GRPO part, takes one trainer step
and acknowledges the records. With one shared model (default) a single learner reads every topic
and takes one step on the main and sub rows together; with separate models each role's learner
trains its own model, and could run in another process on a :class:`~hiergym.store.RayStore`.

``agent="main-only"``: the same main agent acts in the env itself (``search``/``open``/``answer``)
with no sub-agents; its advantage is GRPO on the same main reward (a1*format + a2*correct), so the
two arms differ only by the sub-agents. Runs stop at ``iterations`` or once ``token_budget``
generated tokens (main and sub-agent responses) are spent, whichever comes first.

With a run dir (``out``) the run keeps checkpoints like ``hiergym train llm`` does (the same
``RunDir``: atomic writes, SHA-256 digests, fallback to the previous good checkpoint) every
``checkpoint_every`` iterations and right after the warm start; ``resume=True`` continues a killed
run from its last good checkpoint and ends with the metrics an uninterrupted run has (on CPU; the
store is not checkpointed: the learners acknowledge every record before a checkpoint, so a resumed
run starts with an empty in-process store).

Command line: ``hiergym train main-sub --help`` (or ``python -m hiergym.training.main_sub``, the same
flags and ``--config-file``); ``--resume`` continues the run in ``--out``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hiergym.agents.backend import SamplingParams
from hiergym.agents.main_sub import MAIN_TEMPLATE, REPORT_LINE, SUB_TEMPLATE, MainSubAgents, split_rollouts
from hiergym.agents.tiny import TinyModelSpec
from hiergym.algos.configs import TrainerConfig
from hiergym.algos.mgrpo import MGRPOConfig, main_part, sub_part
from hiergym.error import ConfigError
from hiergym.store import Consumer, QueueStore, Store
from hiergym.types import Trajectory

logger = logging.getLogger(__name__)

MAIN_TOPIC = "main"
MAIN_ROLE_OF = {MAIN_TOPIC: "main"}
"""Store topic -> generation role (a sub-agent's topic is its role, ``sub:<name>``)."""
WARM_START_SEED_START = 500_000
"""Expert demonstrations use training-split seeds from here (disjoint from the RL tasks of short runs)."""
WARM_START_MODEL_DIR = "model_warm_start"
"""Run-dir subdirectory of the policy right after the warm start (the same name as ``hiergym train llm``'s)."""
INIT_MODEL_DIR = "model_init"
"""Run-dir subdirectory of the tiny random-init model a run builds (tokenizer + weights before any training)."""
EVAL_SEED_START = 1_000_000
"""Held-out evaluation uses seeds from here (and the env's test split when ``eval_env_kwargs`` says so)."""


@dataclass(frozen=True)
class MainSubTrainConfig:
    """One M-GRPO (main + sub-agents) or GRPO (main only) run on a text env."""

    env_id: str = "hiergym/MultiHop-v0"
    env_kwargs: dict[str, Any] = field(default_factory=lambda: {"max_hops": 2, "max_steps": 6})
    """Keyword arguments of the training env."""
    eval_env_kwargs: dict[str, Any] = field(default_factory=lambda: {"split": "test"})
    """Overrides for the held-out env (MultiHop: questions about entities no training question starts from)."""
    agent: Literal["main-sub", "main-only"] = "main-sub"
    sub_agents: tuple[str, ...] = ("searcher",)
    mgrpo: MGRPOConfig = field(default_factory=lambda: MGRPOConfig(group_size=4))
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(lr=1e-4))
    sampling: SamplingParams = field(default_factory=lambda: SamplingParams(max_new_tokens=16))
    shared_model: bool = True
    """One model for the main agent and every sub-agent (roles in the prompt), or one model per role."""
    max_calls_per_step: int = 2
    max_sub_steps: int = 3
    iterations: int = 20
    tasks_per_iteration: int = 4
    token_budget: int | None = None
    """Stop once this many tokens were generated in training rollouts (None: run every iteration)."""
    num_slots: int = 16
    eval_every: int = 5
    eval_episodes: int = 32
    eval_temperature: float = 0.0
    eval_at_start: bool = True
    """Measure held-out accuracy before the first iteration (False: a start whose accuracy is known, e.g. a shared warm-started model)."""
    init_eval_episodes: int | None = None
    """Held-out episodes for the accuracy before the warm start (None: ``eval_episodes``; a random model's episodes are long and near 0)."""
    history_k: int = 2
    """Past turns the env's History wrapper shows in the main prompt (the main-only agent needs them to see its searches)."""
    template: str | None = None
    """A prompt template file (``.toml``/``.json``, ``hiergym.wrappers.PromptTemplate``) for the env's History wrapper; None = the default."""
    sub_history: int = 2
    """Past tool calls (with their results) a sub-agent's prompt shows."""
    warm_start_episodes: int = 0
    """Expert episodes (``MultiHopExpert``, through the same agent and prompts) for a supervised warm start; 0 = none."""
    warm_start_steps: int = 0
    """Supervised steps on the successful expert episodes (every role of each model), before RL."""
    warm_start_lr: float = 2e-3
    warm_start_batch: int = 32
    """Rows per supervised step (0 = all)."""
    model_path: str | None = None
    """A Hugging Face causal LM directory; None builds a tiny random-init model over the env's words."""
    tiny: TinyModelSpec = field(default_factory=TinyModelSpec)
    init_seed: int = 0
    seed: int = 0
    out: Path | None = None
    """Run dir (config.json, metrics.csv, samples.jsonl, checkpoints/); None keeps the metrics in memory only."""
    checkpoint_every: int = 5
    """Iterations between checkpoints (with ``out``); one more is written after the warm start and at the end."""
    resume: bool = False
    """Continue the run in ``out`` from its last good checkpoint (a run without one starts afresh)."""

    def __post_init__(self) -> None:
        if self.agent not in ("main-sub", "main-only"):
            raise ConfigError("agent", self.agent, "'main-sub' (M-GRPO) or 'main-only' (GRPO, the main agent searches itself)")
        if not self.sub_agents and self.agent == "main-sub":
            raise ConfigError("sub_agents", self.sub_agents, "at least one sub-agent name for agent='main-sub'")
        for name in ("iterations", "tasks_per_iteration", "num_slots", "eval_every", "eval_episodes", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, value, "an integer >= 1")
        if self.token_budget is not None and self.token_budget < 1:
            raise ConfigError("token_budget", self.token_budget, "None or a positive number of tokens")
        if self.init_eval_episodes is not None and (isinstance(self.init_eval_episodes, bool) or not isinstance(self.init_eval_episodes, int) or self.init_eval_episodes < 1):
            raise ConfigError("init_eval_episodes", self.init_eval_episodes, "None or an integer >= 1")
        if self.eval_temperature < 0:
            raise ConfigError("eval_temperature", self.eval_temperature, ">= 0 (0 = greedy)")
        if self.resume and self.out is None:
            raise ConfigError("resume", self.resume, "False, or set out to the run dir to resume")


# ----------------------------------------------------------------------------- store records


def publish(
    store: Store, iteration: int, mains: Sequence[Trajectory], subs: Sequence[Trajectory], config: MGRPOConfig, sub_names: Sequence[str] = ()
) -> dict[str, int]:
    """Put one record per query on ``main`` and on ``sub:<name>`` (with the parents' correctness); returns records per topic.

    Every name in ``sub_names`` (and every name that made a call) gets a record per query, also when
    the query's rollouts made no call of it, so a sub-agent learner always knows how many records to read.
    """
    part = main_part(mains, config)
    correct, query = part.correct_by_rollout(), part.query_by_rollout()
    by_query: dict[str, list[Trajectory]] = {}
    for t in mains:
        by_query.setdefault(t.group_id, []).append(t)
    counts = {MAIN_TOPIC: len(store.put(MAIN_TOPIC, [
        {"id": f"{iteration}/{q}", "kind": "main_rollouts", "data": {"trajectories": [t.to_dict() for t in ts]}} for q, ts in by_query.items()
    ]))}
    names = sorted({*sub_names, *(str(s.meta["sub_agent"]) for s in subs)})
    for name in names:
        records = []
        for q, ts in by_query.items():
            rids = [r for r, qq in query.items() if qq == q]
            calls = [s for s in subs if s.group_id == q and s.meta["sub_agent"] == name]
            records.append({"id": f"{iteration}/{q}", "kind": "sub_calls", "data": {
                "trajectories": [c.to_dict() for c in calls],
                "parent_correct": {r: correct[r] for r in rids},  # the reward statistic a sub learner needs
                "parent_query": {r: q for r in rids},
            }})
        counts[f"sub:{name}"] = len(store.put(f"sub:{name}", records))
    return counts


@dataclass
class LearnerBatch:
    """What a learner made of the records it read: trajectories and one advantage array per trajectory, and stats."""

    trajectories: list[Trajectory]
    advantages: list[np.ndarray]
    stats: dict[str, float]


def records_to_batch(records: Sequence[Mapping[str, Any]], topic: str, config: MGRPOConfig, *, seed: int = 0) -> LearnerBatch:
    """M-GRPO part of one topic's records: A^main for ``main``, A^sub + alignment for ``sub:<name>``."""
    if topic == MAIN_TOPIC:
        trajs = [Trajectory.from_dict(d) for r in records for d in r["data"]["trajectories"]]
        part = main_part(trajs, config)
        stats = {"mgrpo/main_reward_mean": float(part.reward.mean()), "mgrpo/main_correct": float(part.correct.mean()),
                 "mgrpo/main_format": float(part.format.mean()), "mgrpo/main_adv_std": float(part.advantage.std())} if trajs else {}
        return LearnerBatch(trajs, part.per_turn(trajs), stats)
    trajs = [Trajectory.from_dict(d) for r in records for d in r["data"]["trajectories"]]
    correct = {k: v for r in records for k, v in r["data"]["parent_correct"].items()}
    query = {k: v for r in records for k, v in r["data"]["parent_query"].items()}
    part = sub_part(trajs, correct, query, config, seed=seed, sub_names=[topic.removeprefix("sub:")])
    return LearnerBatch(part.trajectories, part.advantages, part.stats())


class Learner:
    """Consumes its topics from the store, trains one model on them, acknowledges what it trained on."""

    def __init__(self, store: Store, topics: Sequence[str], trainer: Any, pad_token_id: int, config: MGRPOConfig, *, name: str = "learner"):
        self.topics, self.trainer, self.pad_token_id, self.config = list(topics), trainer, pad_token_id, config
        self.consumers = {t: Consumer(store, t, group=f"learner:{t}", name=name) for t in self.topics}

    def step(self, expected: Mapping[str, int], *, seed: int = 0, timeout: float = 60.0) -> dict[str, float]:
        """Read ``expected[topic]`` records of each topic, one trainer step on all their rows, then ack them."""
        from hiergym.algos import build_batch

        deliveries = {}
        trajs: list[Trajectory] = []
        advs: list[np.ndarray] = []
        stats: dict[str, float] = {}
        for topic in self.topics:
            got = _take(self.consumers[topic], expected.get(topic, 0), timeout)
            deliveries[topic] = got
            batch = records_to_batch([d.record for d in got], topic, self.config, seed=seed)
            trajs += batch.trajectories
            advs += batch.advantages
            stats.update(batch.stats)
        has_tokens = any(len(g.response_ids) for t in trajs for turn in t.turns for g in turn.generations)
        if has_tokens:
            out = self.trainer.step(build_batch(trajs, advs, pad_token_id=self.pad_token_id))
            stats.update({f"train/{k}": v for k, v in out.items()})
        for topic, got in deliveries.items():
            self.consumers[topic].ack(got)
        return stats


def _take(consumer: Consumer, n: int, timeout: float) -> list:
    import time

    out: list = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        got = consumer.get(max_records=n - len(out), timeout=max(deadline - time.monotonic(), 0.0))
        if not got:
            raise TimeoutError(f"store topic {consumer.topic!r}: got {len(out)} of {n} records within {timeout} s")
        out += got
    return out


# ----------------------------------------------------------------------------- the run


def multihop_tools(env: Any) -> dict[str, Callable[[str], str]]:
    """Sub-agent tools over a MultiHop env's knowledge base (``run_tool``: what the env's own search/open show)."""
    from hiergym.envs.research.tools import run_tool

    base = env.unwrapped
    kb, k = base.kb, base.top_k
    return {"search": lambda q: run_tool(kb, f"search[{q}]", k).observation, "open": lambda d: run_tool(kb, f"open[{d}]", k).observation}


@dataclass
class RunResult:
    """Metrics per iteration and held-out accuracy by tokens spent."""

    rows: list[dict[str, float]]
    eval_curve: list[tuple[int, float]]
    """(generated training tokens so far, held-out accuracy)."""
    tokens: int
    iterations: int
    init_eval: float | None = None
    """Held-out accuracy before the warm start (None without one)."""
    warm_start: dict[str, float] = field(default_factory=dict)


class MainSubTrainer:
    """Wires env, model(s), agent, collectors, store and learners for one run."""

    def __init__(
        self,
        config: MainSubTrainConfig,
        *,
        store: Store | None = None,
        tools: Mapping[str, Callable[[str], str]] | None = None,
        env_fns: tuple[Callable[[str], Any], Callable[[str], Any]] | None = None,
    ):
        """``store``: default a new in-process ``QueueStore``; ``tools``: the sub-agents' tools (default: the
        MultiHop env's search and open); ``env_fns``: (train, held-out) ``env_id -> env`` instead of the registered env."""
        import hiergym
        from hiergym.agents.llm_agent import LLMAgent
        from hiergym.agents.transformers_backend import TransformersBackend
        from hiergym.algos import Trainer
        from hiergym.collector import Collector
        from hiergym.runs import seed_everything
        from hiergym.training.env_stack import TextEnvMaker

        self.config = cfg = config
        self.run = None
        if cfg.out is not None:  # first: a run dir that holds a run already is refused before anything is written into it
            from hiergym.runs import RunDir

            self.run = RunDir(cfg.out, _jsonable_config(cfg), resume=cfg.resume, tensorboard=False)
        seed_everything(cfg.seed)
        maker = TextEnvMaker(max_episode_steps=None, history_k=cfg.history_k, template=cfg.template)
        train_kwargs, eval_kwargs = dict(cfg.env_kwargs), {**cfg.env_kwargs, **cfg.eval_env_kwargs}
        self.make_train, self.make_eval = env_fns or (_EnvFn(maker, train_kwargs), _EnvFn(maker, eval_kwargs))
        path = Path(cfg.model_path) if cfg.model_path else self._tiny_model()
        self.backends = {"main": TransformersBackend.from_pretrained(path, device="cpu")}
        if cfg.agent == "main-sub":
            if tools is None:
                probe = hiergym.make(cfg.env_id, **train_kwargs)
                tools = multihop_tools(probe)
            for name in cfg.sub_agents:
                self.backends[f"sub:{name}"] = self.backends["main"] if cfg.shared_model else TransformersBackend.from_pretrained(path, device="cpu")
            subs = {n: self.backends[f"sub:{n}"] for n in cfg.sub_agents}
            self.agent: Any = MainSubAgents(self.backends["main"], subs, tools=tools, sampling=cfg.sampling,
                                            max_calls_per_step=cfg.max_calls_per_step, max_sub_steps=cfg.max_sub_steps, sub_history=cfg.sub_history)
        else:
            self.agent = LLMAgent(self.backends["main"], sampling=cfg.sampling, role="main")
        self.store = store if store is not None else QueueStore()
        models: dict[int, list[str]] = {}
        for role, b in self.backends.items():
            models.setdefault(id(b), []).append(MAIN_TOPIC if role == "main" else role)
        self.learners = []
        for topics in models.values():
            backend = self.backends["main" if MAIN_TOPIC in topics else topics[0]]
            trainer = Trainer(backend.model, cfg.trainer, device="cpu")
            self.learners.append(Learner(self.store, topics, trainer, backend.pad_token_id, cfg.mgrpo, name=f"{cfg.seed}"))
        self.collector = Collector(self.make_train, self.agent, num_slots=cfg.num_slots, max_turns=1000)
        self.eval_collector = Collector(self.make_eval, self.agent, num_slots=cfg.num_slots, max_turns=1000)
        self.init_eval: float | None = None
        self.warm_start_metrics: dict[str, float] = {}
        self.rows: list[dict[str, float]] = []
        self.curve: list[tuple[int, float]] = []
        self.spent = 0
        self.start = 0
        """Iterations done when this process started (> 0 after a resume)."""

    def _tiny_model(self) -> Path:
        import tempfile

        from hiergym.agents.tiny import save_tiny_lm
        from hiergym.training.env_stack import env_corpus

        cfg = self.config
        if cfg.resume and cfg.out is not None and (Path(cfg.out) / INIT_MODEL_DIR / "config.json").is_file():
            return Path(cfg.out) / INIT_MODEL_DIR  # the run's own initial model (its tokenizer is the vocabulary of the checkpoints)
        corpus = env_corpus(self.make_train, cfg.env_id, range(32), max_steps=8) + env_corpus(self.make_eval, cfg.env_id, range(8), max_steps=8)
        corpus += [MAIN_TEMPLATE, SUB_TEMPLATE, REPORT_LINE, "call[searcher: query] answer[report] (empty report) unknown sub-agent", *cfg.sub_agents]
        kb = getattr(self.make_train(cfg.env_id).unwrapped, "kb", None)
        if kb is not None:  # every document of the knowledge base: entity names (answers) must be tokens, not <unk>
            corpus += [kb.document_text(doc) for doc in kb.world.documents.values()]
        root = Path(cfg.out) if cfg.out is not None else Path(tempfile.mkdtemp(prefix="mgrpo-tiny-"))
        return save_tiny_lm(root / INIT_MODEL_DIR, corpus, spec=cfg.tiny, seed=cfg.init_seed)

    def warm_start(self) -> dict[str, float]:
        """Supervised steps on successful expert episodes collected through this run's own agent (so its prompts)."""
        from hiergym.agents.main_sub_expert import MultiHopExpert
        from hiergym.algos import Trainer, build_batch
        from hiergym.algos.batching import select_rows
        from hiergym.training.warm_start import minibatch_indices, token_nll

        cfg = self.config
        probe = self.make_train(cfg.env_id).unwrapped
        expert = MultiHopExpert(probe.kb, self.backends["main"].tokenizer, mode=cfg.agent, top_k=probe.top_k, sub_name=cfg.sub_agents[0] if cfg.sub_agents else "searcher")
        saved = self._swap_backends(expert)
        try:
            tasks = [(cfg.env_id, WARM_START_SEED_START + i) for i in range(cfg.warm_start_episodes)]
            trajs, _ = self.collector.collect(tasks, 1)
        finally:
            self._swap_backends(saved)
        mains, subs = split_rollouts(trajs) if cfg.agent == "main-sub" else (trajs, [])
        good = {t.meta.get("rollout_id") for t in mains if t.success}
        demos = [t for t in mains if t.success] + [s for s in subs if s.meta.get("parent") in good]
        metrics = {"warm_start/expert_success": float(np.mean([t.success for t in mains])) if mains else 0.0, "warm_start/demos": float(len(good) if cfg.agent == "main-sub" else len(demos))}
        if not demos or cfg.warm_start_steps == 0:
            return metrics
        for learner in self.learners:
            roles = {MAIN_ROLE_OF.get(t, t) for t in learner.topics}
            batch = build_batch(demos, [np.ones(len(t)) for t in demos], pad_token_id=learner.pad_token_id, roles=roles)
            sft = Trainer(learner.trainer.model, replace(cfg.trainer, lr=cfg.warm_start_lr, ppo_epochs=1, num_minibatches=1, kl_beta=0.0, old_logprobs="current"), device="cpu")
            for rows in minibatch_indices(len(batch), cfg.warm_start_batch, cfg.warm_start_steps, cfg.seed):
                sft.step(batch if len(rows) == len(batch) else select_rows(batch, rows.tolist()))
            metrics[f"warm_start/{'+'.join(sorted(roles))}/token_nll"] = token_nll(sft, batch)
        return metrics

    def _swap_backends(self, new: Any) -> Any:
        """Put ``new`` (one backend, or the dict ``_swap_backends`` returned) in the agent's place; returns what was there."""
        if isinstance(self.agent, MainSubAgents):
            old = {"main": self.agent.main, "subs": dict(self.agent.subs)}
            if isinstance(new, dict):
                self.agent.main, self.agent.subs = new["main"], new["subs"]
            else:
                self.agent.main, self.agent.subs = new, {n: new for n in self.agent.subs}
            return old
        old = {"main": self.agent.backend}
        self.agent.backend = new["main"] if isinstance(new, dict) else new
        return old

    def train_tasks(self, it: int) -> list[tuple[str, int]]:
        n = self.config.tasks_per_iteration
        return [(self.config.env_id, self.config.seed * 1_000_003 + it * n + i) for i in range(n)]

    def evaluate(self, episodes: int | None = None) -> float:
        """Held-out success (greedy by default) on the first ``episodes`` (default ``eval_episodes``) evaluation seeds."""
        from hiergym.training.loop import run_stream

        cfg = self.config
        tasks = [(cfg.env_id, EVAL_SEED_START + i) for i in range(episodes or cfg.eval_episodes)]
        sampling = replace(cfg.sampling, temperature=cfg.eval_temperature)
        trajs, _ = self.eval_collector.collect(tasks, 1, sampling=sampling, stream=run_stream(cfg.seed, "eval"))
        return float(np.mean([t.success for t in trajs]))

    def iteration(self, it: int) -> tuple[dict[str, float], Any]:
        """Collect K copies of this iteration's queries, publish them, one step per learner; returns the row and CollectStats."""
        from hiergym.training.loop import rollout_metrics, run_stream

        cfg = self.config
        trajs, stats = self.collector.collect(self.train_tasks(it), cfg.mgrpo.group_size, stream=run_stream(cfg.seed, "train", it))
        mains, subs = split_rollouts(trajs) if cfg.agent == "main-sub" else (trajs, [])
        # the collector counts the main agent's generations; the sub-agents' run inside its act call and count too
        sub_tokens = sum(len(g.response_ids) for s in subs for turn in s.turns for g in turn.generations)
        stats.generated_tokens += sub_tokens
        counts = publish(self.store, it, mains, subs, cfg.mgrpo, cfg.sub_agents if cfg.agent == "main-sub" else ())
        row: dict[str, float] = {**rollout_metrics(mains), "tokens": float(stats.generated_tokens), "sub_tokens": float(sub_tokens), "sub_calls": float(len(subs))}
        for learner in self.learners:
            row.update(learner.step(counts, seed=it))
        if self.run is not None:
            self.run.save_samples(mains[:1] + subs[:1], step=it)
        return row, stats

    def __call__(self) -> RunResult:
        cfg = self.config
        try:
            if not (cfg.resume and self._restore()):
                if cfg.warm_start_episodes:
                    self.init_eval = self.evaluate(cfg.init_eval_episodes)
                    self.warm_start_metrics = self.warm_start()
                    self.save_models(WARM_START_MODEL_DIR)
                if cfg.eval_at_start:
                    self.curve.append((0, self.evaluate()))
                if cfg.warm_start_episodes:
                    self._checkpoint(0)  # the warm start is the costly part of a short run: keep it
            it = self.start
            while it < cfg.iterations and (cfg.token_budget is None or self.spent < cfg.token_budget):
                row, stats = self.iteration(it)
                self.spent += stats.generated_tokens
                row["tokens_total"] = float(self.spent)
                if (it + 1) % cfg.eval_every == 0:
                    self.curve.append((self.spent, self.evaluate()))
                    row["eval_success"] = self.curve[-1][1]
                self.rows.append(row)
                if self.run is not None:
                    self.run.log(it, {k: float(v) for k, v in sorted(row.items())}, stats.as_dict())
                logger.info("iteration %d: tokens %d, success %.3f", it + 1, self.spent, row["success"])
                it += 1
                if (it % cfg.checkpoint_every == 0 or it == cfg.iterations) and it > self.start:
                    self._checkpoint(it)
            if it > self.start and it % cfg.checkpoint_every and it != cfg.iterations:
                self._checkpoint(it)  # stopped by the token budget between checkpoints
            if not self.curve or self.curve[-1][0] != self.spent:
                self.curve.append((self.spent, self.evaluate()))
        finally:
            self.collector.close()
            self.eval_collector.close()
            if self.run is not None:
                (self.run.path / "eval_curve.json").write_text(json.dumps({"curve": self.curve, "init_eval": self.init_eval, "warm_start": self.warm_start_metrics}))
                self.run.close()
        return RunResult(list(self.rows), list(self.curve), self.spent, it, self.init_eval, self.warm_start_metrics)

    def save_models(self, name: str) -> list[Path]:
        """``save_pretrained`` every model of the run into ``<out>/<name>`` (a separate sub-agent model: ``<name>-sub-<agent>``).

        Like ``hiergym train llm``'s ``model_warm_start``: later runs can start from it through ``model_path``."""
        if self.run is None:
            return []
        saved = []
        for role, backend in self.backends.items():
            if role != "main" and backend is self.backends["main"]:
                continue
            path = self.run.path / (name if role == "main" else f"{name}-sub-{role.removeprefix('sub:')}")
            saved.append(backend.save_pretrained(path))
        return saved

    # -- checkpoints (hiergym.runs.RunDir: atomic write, SHA-256 digest, previous good one on failure) ----------

    def _checkpoint(self, it: int) -> None:
        """After ``it`` iterations: every learner's trainer (model, optimiser, scheduler, shuffle RNG) and the run's progress."""
        if self.run is None:
            return
        trainers = [learner.trainer.state_dict() for learner in self.learners]
        self.run.save_checkpoint(it, {
            "trainer": trainers[0], "role_trainers": {"+".join(l.topics): t for l, t in zip(self.learners, trainers)},
            "eval_curve": list(self.curve), "init_eval_success": self.init_eval, "warm_start_metrics": self.warm_start_metrics,
            "tokens": self.spent, "rows": list(self.rows),
        })

    def _restore(self) -> bool:
        """Load the newest good checkpoint; False (logs cut back to 0) when the run has none yet."""
        from hiergym.runs import restore_rng

        assert self.run is not None  # resume needs out (checked by the config)
        state = self.run.latest_checkpoint()
        if state is None:
            self.run.resume_at(0)
            return False
        saved = state["role_trainers"]
        for learner in self.learners:
            key = "+".join(learner.topics)
            if key not in saved:
                raise ConfigError("resume", str(self.run.path), f"a checkpoint of the same models: it has {sorted(saved)}, this run trains {key!r}")
            learner.trainer.load_state_dict(saved[key])
        restore_rng(state["rng"])
        self.start = int(state["step"])
        self.curve = [tuple(p) for p in state["eval_curve"]]
        self.init_eval, self.warm_start_metrics = state["init_eval_success"], dict(state["warm_start_metrics"])
        self.spent, self.rows = int(state["tokens"]), [dict(r) for r in state["rows"]]
        self.run.resume_at(self.start)
        logger.info("resumed %s at iteration %d (%d tokens spent)", self.run.path, self.start, self.spent)
        return True


@dataclass(frozen=True)
class _EnvFn:
    """Picklable ``env_id -> env``: the registered env with kwargs under the LLM text stack."""

    maker: Any
    kwargs: dict[str, Any]

    def __call__(self, env_id: str) -> Any:
        import hiergym
        from hiergym.wrappers import AnchorHash, History, PromptTemplate, TextActions

        template = PromptTemplate.from_file(self.maker.template) if self.maker.template else None
        env = TextActions(AnchorHash(hiergym.make(env_id, **self.kwargs)), require_tags=self.maker.require_tags)
        return History(env, k=self.maker.history_k, template=template)


def _jsonable_config(cfg: MainSubTrainConfig) -> dict[str, Any]:
    from hiergym.types import to_jsonable

    return to_jsonable({k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()})


def train_main_sub(config: MainSubTrainConfig, **kwargs: Any) -> RunResult:
    """Run one M-GRPO (``agent="main-sub"``) or main-only GRPO run; returns metrics and the held-out curve."""
    return MainSubTrainer(config, **kwargs)()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m hiergym.training.main_sub``: ``hiergym train main-sub`` (same flags, ``--config-file``, one-line errors)."""
    import sys

    from hiergym.cli import main as cli_main

    cli_main(["train", "main-sub", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
