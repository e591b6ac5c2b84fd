"""``hiergym demo``: GiGPO trains a tiny LM to play Sokoban on CPU, from nothing, in minutes.

What it does, end to end, with no arguments and no downloads:

1. builds a tiny random-init Llama (2 layers, hidden 128) and a word-level tokenizer over the
   words of ``hiergym/Sokoban-6x6-1box-v0`` (saved and reloaded with ``from_pretrained``);
2. measures held-out success of the random model (it cannot even write ``<action>...</action>``);
3. warm start: supervised steps on the optimal solver's actions (expert demonstrations), first on
   the direction word alone, then on the whole answer; this is where the model learns to read
   the grid (0% -> 62-76% held-out over 5 seeds, docs/learning.md);
4. GiGPO reinforcement learning on training seeds (64 tasks x 8 rollouts behind one update an
   iteration, KL 0.1 to the warm start, lr warm-up), evaluating on held-out seeds (a disjoint
   range) along the way: +11.5 points over the warm start (IQM of 5 seeds, 95% CI [+9.8, +12.8];
   docs/learning.md has the table and why it took a large batch);
5. prints a summary (success at init, after the warm start, after RL) and writes the learning
   curve PNG into the run dir.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import tyro

from hiergym.agents.backend import SamplingParams
from hiergym.agents.tiny import TinyModelSpec
from hiergym.algos.configs import GiGPOConfig, GRPOConfig, StepCredit, TrainerConfig
from hiergym.training import AlgoConfig, EnvConfig, ModelConfig, TrainConfig, TrainResult, WarmStartConfig, train

logger = logging.getLogger(__name__)

DEMO_ENV_ID = "hiergym/Sokoban-6x6-1box-v0"
DEMO_MAX_STEPS = 12
"""Episode limit: the 6x6 levels have optimal solutions of a few moves."""
DEMO_PROMPT = Path(__file__).with_name("demo_prompt.json")
"""Prompt = the grid alone (the tiny model needs no instructions; fewer tokens = faster on CPU)."""


DEMO_MODEL = TinyModelSpec(num_attention_heads=8, num_key_value_heads=8)
"""2 layers, hidden 128, 8 heads of 16: with 4 heads (2 KV) the model stayed near chance on the
direction for hundreds of supervised steps; reading where player, box and target sit in the grid
needs a head per thing to find."""


def sokoban_expert(env: Any) -> list[str]:
    """Optimal action list from the current state of an unwrapped ``SokobanEnv`` (its solver)."""
    return list(env.solve() or [])


@dataclass(frozen=True)
class DemoConfig:
    """Knobs of the demo; the defaults are the full demo (about 9 CPU-minutes; docs/learning.md has the measured times)."""

    iterations: int = 80
    """RL iterations (one update each by default)."""
    seed: int = 0
    """Seed of the model init, sampling and task order."""
    out: Path = Path("runs/demo")
    """Run directory (a taken one is left alone: the demo writes into runs/demo-2, ...; --resume continues it)."""
    algo: str = "gigpo"
    """gigpo or grpo."""
    group_size: int = 8
    tasks_per_iteration: int = 64
    """Tasks per RL iteration (x group_size rollouts): 512 episodes feed each update. Per-update gradient
    noise was the limit (docs/learning.md): 8 tasks with 4 updates an iteration added +3.8 points over 5
    seeds, 32 tasks behind one update +9.9, 64 tasks +11.5 [+9.8, +12.8] (paired to 32: +1.8 [-2.1, +4.3])."""
    step_credit: StepCredit = "visit"
    """GiGPO's step part: ``visit`` (the paper's z of each turn's return-to-go) or ``action`` (the mean
    return-to-go of the step group's turns that made the same move: Q(s, a) - V(s))."""
    warm_start_steps: int = 800
    """Supervised steps on solver demonstrations (0 = pure RL from the random model)."""
    warm_start_episodes: int = 2000
    warm_start_batch_size: int = 64
    """Demonstration turns per warm-start step (0 = all)."""
    warm_start_content_only_steps: int = 600
    """First warm-start steps on the direction word alone (the <action> tags join the loss after;
    capped at warm_start_steps)."""
    warm_start_lr: float = 2e-3
    warm_start_expert_noise: float = 0.0
    """Imperfect demonstrations: share of the solver's moves replaced by a random direction (it re-plans
    from there). 0.3 leaves a warm start at ~38% held-out where RL has more to add (docs/learning.md)."""
    eval_every: int = 20
    eval_episodes: int = 256
    """Held-out episodes per evaluation (64 gave a standard error of ~5 points: too coarse to see RL's effect)."""
    eval_temperature: float = 1.0
    """Held-out success of the sampled policy (the one RL trains); 0 = greedy."""
    lr: float = 5e-4
    """RL learning rate (AdamW) of the tiny model. Measured from the same warm starts (2 seeds, 30
    iterations): 3e-4 barely moves the policy (approx KL ~1e-4 a step), 1e-3 and 2e-3 overshoot
    (KL 0.1-0.2, the answer format breaks and held-out success falls), 5e-4 keeps or adds."""
    num_minibatches: int = 1
    """Optimiser updates per pass over the batch (the batch is split; the PPO clip keeps later ones near)."""
    ppo_epochs: int = 1
    """Passes over each iteration's batch (PPO's data reuse: ppo_epochs * num_minibatches updates an iteration)."""
    kl_beta: float = 0.1
    """KL penalty to the policy RL starts from (the warm-started one; with --warm-start-steps 0 pass
    --kl-beta 0, or RL is held near the random init). Measured from one warm start (seed 0): the share of
    well-formed answers in training batches averaged 0.944 (lowest 0.81) over 30 iterations without it
    and 0.963-0.969 (lowest 0.83-0.86) over 30-100 iterations with 0.1 and the warm-up below; negative
    advantages push probability onto the ``<action>`` tag where the direction belongs. Held-out
    success moved within evaluation noise either way (docs/learning.md)."""
    lr_warmup_steps: int = 20
    """Linear learning-rate warm-up over the first RL updates: a fresh Adam's first step is a full-size
    step on every weight (approx KL 0.03 at lr 5e-4 and 0.47 at 1e-3 in the first iteration without it)."""
    bare_answers: bool = False
    """Answer with the bare direction word in one token, no ``<action>`` tags: a format a random-init model
    hits (one valid move in ~8 answers), so with ``--warm-start-steps 0`` RL alone does the learning."""
    num_slots: int = 64
    resume: bool = False
    progress: bool = True

    def to_train_config(self) -> TrainConfig:
        from hiergym.error import ConfigError

        if self.algo not in ("gigpo", "grpo"):
            raise ConfigError("algo", self.algo, "'gigpo' or 'grpo'")
        if self.bare_answers and self.warm_start_steps > 0:
            raise ConfigError("warm_start_steps", self.warm_start_steps, "0 with --bare-answers (the solver demonstrations are written with <action> tags)")
        return TrainConfig(
            env=EnvConfig(env_id=DEMO_ENV_ID, max_episode_steps=DEMO_MAX_STEPS, template=str(DEMO_PROMPT), require_tags=not self.bare_answers),
            model=ModelConfig(init_seed=self.seed, tiny=DEMO_MODEL),
            algo=AlgoConfig(name=self.algo, gigpo=GiGPOConfig(group_size=self.group_size, step_credit=self.step_credit), grpo=GRPOConfig(group_size=self.group_size)),
            trainer=TrainerConfig(lr=self.lr, num_minibatches=self.num_minibatches, ppo_epochs=self.ppo_epochs, shared_prefix=True, old_logprobs="current" if self.ppo_epochs * self.num_minibatches == 1 else "recompute", seed=self.seed, kl_beta=self.kl_beta, lr_warmup_steps=self.lr_warmup_steps),
            sampling=SamplingParams(max_new_tokens=1, temperature=1.0, stop=()) if self.bare_answers else SamplingParams(max_new_tokens=6, temperature=1.0),
            warm_start=WarmStartConfig(expert="hiergym.demo:sokoban_expert", episodes=self.warm_start_episodes, steps=self.warm_start_steps, batch_size=self.warm_start_batch_size, content_only_steps=min(self.warm_start_content_only_steps, self.warm_start_steps), lr=self.warm_start_lr, expert_noise=self.warm_start_expert_noise),
            out=self.out,
            iterations=self.iterations,
            tasks_per_iteration=self.tasks_per_iteration,
            num_slots=self.num_slots,
            eval_every=self.eval_every,
            eval_episodes=self.eval_episodes,
            eval_temperature=self.eval_temperature,
            checkpoint_every=self.eval_every,
            seed=self.seed,
            resume=self.resume,
            progress=self.progress,
        )


@dataclass
class DemoSummary:
    """Held-out success at the three stages and where the run lives."""

    init: float | None
    after_warm_start: float
    after_rl: float
    curve: dict[int, float] = field(default_factory=dict)
    run_dir: Path = Path()

    def lines(self) -> list[str]:
        init = "n/a (resumed)" if self.init is None else f"{self.init:.0%}"
        return [
            f"held-out success (random init):   {init}",
            f"held-out success (after warm start): {self.after_warm_start:.0%}",
            f"held-out success (after RL):       {self.after_rl:.0%}",
            f"run dir: {self.run_dir}",
            f"learning curve: {self.run_dir / 'curve.png'}",
        ]


def fresh_run_dir(path: Path) -> Path:
    """``path`` if it holds no run yet, else the first free ``path-2``, ``path-3``, ... (a second demo just works)."""
    if not (path / "config.json").exists():
        return path
    n = 2
    while (path.with_name(f"{path.name}-{n}") / "config.json").exists():
        n += 1
    return path.with_name(f"{path.name}-{n}")


def run_demo(config: DemoConfig) -> DemoSummary:
    """Train and evaluate; returns the summary (the CLI prints it).

    Without ``resume`` a run dir that already holds a run is left alone and the demo writes into
    the next free numbered one (``runs/demo-2``, ...); the summary says where.
    """
    if not config.resume:
        config = replace(config, out=fresh_run_dir(config.out))
    result: TrainResult = train(config.to_train_config())
    curve = dict(sorted(result.eval_success.items()))
    return DemoSummary(init=result.init_eval_success, after_warm_start=curve[min(curve)], after_rl=curve[max(curve)], curve=curve, run_dir=result.run_dir)


def demo_command(config: Annotated[DemoConfig, tyro.conf.arg(name="")] = DemoConfig()) -> None:  # noqa: B008
    """Train GiGPO with a tiny model on Sokoban 6x6 (CPU, ~10 min), evaluate on held-out seeds, plot the curve."""
    # CLI layer: prints the summary with rich (tyro shows the docstring as help, so notes live here).
    import time

    from rich.console import Console

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("httpx", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    start = time.perf_counter()
    summary = run_demo(config)
    console = Console()
    console.rule("hiergym demo: GiGPO on Sokoban 6x6, tiny LM")
    for line in summary.lines():
        console.print(line)
    console.print(f"wall time: {time.perf_counter() - start:.0f} s")
