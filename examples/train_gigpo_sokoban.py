"""GiGPO on Sokoban 6x6 with a tiny LM, written out top to bottom (CPU, about 8 minutes).

The same steps ``hiergym.training`` runs, spelled out: env stack -> backend -> agent ->
collector -> warm start on the solver's moves -> [collect G copies per task -> GiGPO advantages
-> token batch -> one clipped policy-gradient step] x N, with held-out evaluation.

    python examples/train_gigpo_sokoban.py

It prints held-out success at init, after the warm start and along the RL iterations. The
measured figures of this recipe (over 5 seeds, with the commit and command) are in
docs/learning.md; this script is for reading, not a benchmark.
"""

import logging
import tempfile
from dataclasses import replace

import numpy as np
import torch

from hiergym.agents import LLMAgent, SamplingParams, TransformersBackend, save_tiny_lm
from hiergym.algos import GiGPOConfig, Trainer, TrainerConfig, build_batch, compute_advantages
from hiergym.collector import Collector
from hiergym.demo import DEMO_MODEL, DEMO_PROMPT
from hiergym.training import TextEnvMaker, TrainConfig, WarmStartConfig, env_corpus, rollout_metrics, warm_start

ENV_ID = "hiergym/Sokoban-6x6-1box-v0"
ITERATIONS, TASKS_PER_ITERATION, EVAL_SEEDS = 40, 8, range(1_000_000, 1_000_064)
GIGPO = GiGPOConfig(group_size=8, gamma=0.95, omega=1.0)

logging.basicConfig(level=logging.INFO)
torch.manual_seed(0)
torch.set_num_threads(1)

# 1. the env as an LLM sees it: prompts (here the grid alone) in, <action>...</action> text out, anchors for GiGPO
make_env = TextEnvMaker(max_episode_steps=12, history_k=0, template=str(DEMO_PROMPT))

# 2. a tiny random-init model whose vocabulary is the env's words (saved, then loaded like any checkpoint)
model_dir = save_tiny_lm(tempfile.mkdtemp(), env_corpus(make_env, ENV_ID, range(64)), spec=DEMO_MODEL)
backend = TransformersBackend.from_pretrained(model_dir, device="auto")
agent = LLMAgent(backend, sampling=SamplingParams(max_new_tokens=6, temperature=1.0))
sampled = agent.sampling  # held-out success of the policy RL trains (temperature 1), as the demo reports
collector = Collector(make_env, agent, num_slots=64)


def held_out_success() -> float:
    trajectories, _ = collector.collect([(ENV_ID, s) for s in EVAL_SEEDS], group_size=1, sampling=sampled)
    return rollout_metrics(trajectories)["success"]


# 3. supervised warm start on the optimal solver's moves: the direction word first, then the whole answer
print(f"held-out success at init: {held_out_success():.0%}")
expert = WarmStartConfig(expert="hiergym.demo:sokoban_expert", episodes=2000, steps=800, batch_size=64, content_only_steps=600, lr=2e-3)
warm = replace(TrainConfig(), warm_start=expert)
warm_start(warm, agent, make_env, backend.device)
print(f"held-out success after warm start: {held_out_success():.0%}")

# 4. GiGPO: episode-level z-score + anchor-state step groups, one trainer step per iteration
trainer = Trainer(backend.model, TrainerConfig(lr=5e-4, num_minibatches=4), device=backend.device)
for it in range(ITERATIONS):
    tasks = [(ENV_ID, it * TASKS_PER_ITERATION + j) for j in range(TASKS_PER_ITERATION)]
    trajectories, stats = collector.collect(tasks, GIGPO.group_size)
    advantages = compute_advantages(trajectories, GIGPO)
    metrics = trainer.step(build_batch(trajectories, advantages, pad_token_id=backend.pad_token_id))
    success = np.mean([t.success for t in trajectories])
    print(f"iter {it:3d}  train success {success:.2f}  loss {metrics['loss']:+.4f}  {stats.as_dict()['env_steps_per_s']:.0f} steps/s")
    if (it + 1) % 10 == 0:
        print(f"iter {it:3d}  held-out success {held_out_success():.0%}")
collector.close()
