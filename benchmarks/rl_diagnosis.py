"""Why RL does (not) improve a warm-started demo policy: the measurements behind docs/learning.md.

    python benchmarks/rl_diagnosis.py probe RUN/model_warm_start          # greedy vs sampled, direction entropy, failures
    python benchmarks/rl_diagnosis.py grad-noise RUN/model_warm_start     # cosine between gradients of independent batches
    python benchmarks/rl_diagnosis.py rl-from RUN/model_warm_start --out runs/x --kl-beta 0.1 --lr-warmup-steps 20

A model dir is any ``save_pretrained`` dir of a demo run (``hiergym demo --iterations 0`` writes
``model_warm_start/``). ``rl-from`` runs the demo's RL schedule from those weights with the
variant given by the flags (everything else as ``hiergym demo``).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import itertools
from pathlib import Path

import numpy as np

from hiergym.demo import DEMO_ENV_ID, DEMO_MAX_STEPS, DemoConfig

EVAL_SEED_START = 1_000_000


def _agent_and_collector(model: str):
    import torch

    from hiergym.agents.backend import SamplingParams
    from hiergym.agents.llm_agent import LLMAgent
    from hiergym.agents.transformers_backend import TransformersBackend
    from hiergym.collector import Collector
    from hiergym.training.env_stack import TextEnvMaker

    torch.set_num_threads(1)
    backend = TransformersBackend.from_pretrained(model, device="cpu")
    agent = LLMAgent(backend, sampling=SamplingParams(max_new_tokens=6))
    maker = TextEnvMaker.from_config(DemoConfig().to_train_config().env)  # the demo's env stack
    return backend, agent, maker, Collector(maker, agent, num_slots=64, max_turns=DEMO_MAX_STEPS)


def probe(args: argparse.Namespace) -> None:
    """Success at three temperatures, the direction token's uncertainty, and how the failures end."""
    import torch

    import hiergym
    from hiergym.agents.backend import SamplingParams

    backend, _, _, collector = _agent_and_collector(args.model)
    tasks = [(DEMO_ENV_ID, EVAL_SEED_START + j) for j in range(args.episodes)]
    sampled = None
    for temperature in (0.0, 0.5, 1.0):
        trajs, _ = collector.collect(tasks, 1, sampling=SamplingParams(max_new_tokens=6, temperature=temperature), stream=7)
        print(f"T={temperature}: success {np.mean([t.success for t in trajs]):.3f}")
        sampled = trajs
    entropy, top = [], []
    for traj in sampled[:64]:
        for turn in traj.turns:
            gen = turn.generations[0]
            with torch.no_grad():
                logits = backend.model(torch.tensor([gen.prompt_ids + gen.response_ids])).logits[0].float()
            for k, token in enumerate(gen.response_ids):  # the first non-tag token is the direction
                if not backend.tokenizer.convert_ids_to_tokens(token).startswith("<"):
                    p = torch.softmax(logits[len(gen.prompt_ids) - 1 + k], -1)
                    entropy.append(float(-(p * p.clamp_min(1e-12).log()).sum()))
                    top.append(float(p.max()))
                    break
    print(f"direction token: mean entropy {np.mean(entropy):.3f} nats, mean top probability {np.mean(top):.3f}, top > 0.9 on {np.mean(np.array(top) > 0.9):.2f} of steps")
    env = hiergym.make(DEMO_ENV_ID)
    by_length: dict[int, list[bool]] = collections.defaultdict(list)
    ends = collections.Counter()
    for traj in sampled:
        env.reset(seed=traj.seed)
        by_length[len(env.unwrapped.solve() or [])].append(traj.success)
        if not traj.success:
            ends[f"failed after {len(traj)} steps"] += 1
            ends["failed with a malformed answer on the way"] += any(not t.info.get("action_format_ok", True) for t in traj.turns)
    print("success by optimal solution length:", {k: f"{np.mean(v):.2f} (n={len(v)})" for k, v in sorted(by_length.items())})
    print("failures:", dict(ends))


def grad_noise(args: argparse.Namespace) -> None:
    """Mean pairwise cosine of the policy gradients of independent batches: RL (GiGPO, GRPO) vs supervised."""
    from hiergym.algos import GiGPOConfig, GRPOConfig, Trainer, TrainerConfig, build_batch, compute_advantages
    from hiergym.algos.diagnostics import gradient_cosine
    from hiergym.training.warm_start import expert_demonstrations

    backend, agent, maker, collector = _agent_and_collector(args.model)
    trainer = Trainer(backend.model, TrainerConfig(lr=1e-4))

    def report(name: str, batches: list) -> None:
        cos = [gradient_cosine(trainer, a, b) for a, b in itertools.combinations(batches, 2)]
        print(f"{name}: mean pairwise cosine {np.mean(cos):.3f} (sd {np.std(cos):.3f}, {len(cos)} pairs)")

    for name, config in (("gigpo", GiGPOConfig()), ("grpo", GRPOConfig())):
        batches = []
        for i in range(args.batches):
            tasks = [(DEMO_ENV_ID, 10_000 + i * args.tasks + j) for j in range(args.tasks)]
            trajs, _ = collector.collect(tasks, 8, stream=i)
            batches.append(build_batch(trajs, compute_advantages(trajs, config), pad_token_id=backend.pad_token_id))
        report(f"{name}, {args.tasks} tasks x 8 rollouts", batches)
    demo = DemoConfig().to_train_config()
    demo = dataclasses.replace(demo, warm_start=dataclasses.replace(demo.warm_start, seed_start=700_000, episodes=args.batches * 16))
    demos = expert_demonstrations(demo, agent, maker)
    batches = [build_batch(d, [np.ones(len(t)) for t in d], pad_token_id=backend.pad_token_id) for d in (demos[i * 16 : (i + 1) * 16] for i in range(args.batches))]
    report("supervised, 16 demonstration episodes", batches)


def rl_from(args: argparse.Namespace) -> None:
    """The demo's RL schedule from saved weights, with one variant."""
    from hiergym.training import WarmStartConfig, train

    demo = DemoConfig(
        seed=args.seed, lr=args.lr, iterations=args.iterations, eval_every=args.eval_every, out=args.out, progress=False,
        tasks_per_iteration=args.tasks, group_size=args.group_size, kl_beta=args.kl_beta, lr_warmup_steps=args.lr_warmup_steps, algo=args.algo, num_minibatches=args.num_minibatches, step_credit=args.step_credit, ppo_epochs=args.ppo_epochs,
    )
    config = demo.to_train_config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, path=args.model), warm_start=WarmStartConfig())
    result = train(config)
    print("held-out success by iteration:", {k: round(v, 3) for k, v in sorted(result.eval_success.items())})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("probe")
    a.add_argument("model")
    a.add_argument("--episodes", type=int, default=256)
    a.set_defaults(run=probe)
    a = sub.add_parser("grad-noise")
    a.add_argument("model")
    a.add_argument("--batches", type=int, default=6)
    a.add_argument("--tasks", type=int, default=8)
    a.set_defaults(run=grad_noise)
    a = sub.add_parser("rl-from")
    a.add_argument("model")
    a.add_argument("--out", type=Path, required=True)
    d = DemoConfig()
    for name in ("seed", "iterations", "eval_every", "tasks_per_iteration", "group_size", "lr_warmup_steps", "num_minibatches", "ppo_epochs"):
        a.add_argument(f"--{name.replace('_', '-')}", dest={"tasks_per_iteration": "tasks"}.get(name, name), type=int, default=getattr(d, name))
    for name in ("lr", "kl_beta"):
        a.add_argument(f"--{name.replace('_', '-')}", dest=name, type=float, default=getattr(d, name))
    a.add_argument("--algo", default=d.algo)
    a.add_argument("--step-credit", default=d.step_credit, choices=("visit", "action"))
    a.set_defaults(run=rl_from)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
