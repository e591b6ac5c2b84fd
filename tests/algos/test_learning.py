"""Slow end-to-end learning check: sample -> trajectories -> advantages -> build_batch -> Trainer, on a token bandit.

Task: after a fixed prompt the policy writes RESPONSE_LEN tokens; each token from GOOD earns +1.
A random-init tiny LM starts near len(GOOD) / VOCAB = 1/16 per token; GRPO and GiGPO must both
lift the mean reward well above that within a few dozen steps.
"""

import pytest
import torch

from hiergym.algos import GiGPOConfig, GRPOConfig, Trainer, TrainerConfig, build_batch, compute_advantages
from hiergym.types import Generation, Trajectory, Turn

transformers = pytest.importorskip("transformers")

VOCAB, GOOD, PROMPT, RESPONSE_LEN = 64, frozenset(range(10, 14)), [1, 2, 3], 3
GROUPS, GROUP_SIZE, STEPS = 4, 8, 40


def _tiny_lm():
    torch.manual_seed(0)
    cfg = transformers.Qwen2Config(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
        intermediate_size=64, max_position_embeddings=32,
    )
    return transformers.AutoModelForCausalLM.from_config(cfg).float()


@torch.no_grad()
def _sample(model, n, gen):
    ids = torch.tensor([PROMPT] * n)
    logprobs = []
    for _ in range(RESPONSE_LEN):
        logp = torch.log_softmax(model(input_ids=ids).logits[:, -1].float(), -1)
        tok = torch.multinomial(logp.exp(), 1, generator=gen)
        logprobs.append(logp.gather(-1, tok))
        ids = torch.cat([ids, tok], 1)
    return ids[:, len(PROMPT):].tolist(), torch.cat(logprobs, 1).tolist()


def _rollouts(model, gen):
    responses, logprobs = _sample(model, GROUPS * GROUP_SIZE, gen)
    trajs = []
    for i, (resp, lps) in enumerate(zip(responses, logprobs)):
        reward = float(sum(t in GOOD for t in resp))
        turn = Turn("prompt", str(resp), reward=reward, anchor="start", generations=[Generation(PROMPT, resp, lps, "")])
        trajs.append(Trajectory(f"task{i // GROUP_SIZE}", "bandit", 0, turns=[turn], episode_return=reward))
    return trajs


@pytest.mark.slow
@pytest.mark.parametrize("adv_config", [GRPOConfig(), GiGPOConfig()], ids=["grpo", "gigpo"])
def test_policy_learns_the_good_tokens(adv_config):
    model = _tiny_lm()
    trainer = Trainer(model, TrainerConfig(lr=3e-3, num_minibatches=2))
    gen = torch.Generator().manual_seed(0)
    curve = []
    for _ in range(STEPS):
        trajs = _rollouts(model, gen)
        curve.append(sum(t.episode_return for t in trajs) / len(trajs) / RESPONSE_LEN)
        metrics = trainer.step(build_batch(trajs, compute_advantages(trajs, adv_config), pad_token_id=0))
        assert metrics["logprob_mismatch_mean"] < 1e-4  # our sampler and the training forward agree
    start, end = sum(curve[:5]) / 5, sum(curve[-5:]) / 5
    assert start < 0.2 and end > 0.6, curve


# --- a case with a known answer: a one-token contextual bandit from a 50/50 start -------------

CTX, ARMS = (0, 1), (2, 3)
"""Tokens 0/1 are the two contexts, tokens 2/3 the two arms; arm 2 pays in context 0, arm 3 in context 1."""


class TabularPolicy(torch.nn.Module):
    """next-token logits = table[previous token]: a softmax policy per context, in the Trainer's model interface."""

    def __init__(self):
        super().__init__()
        table = torch.full((4, 4), -30.0)
        table[:, list(ARMS)] = 0.0  # 50/50 between the arms in every context
        self.table = torch.nn.Parameter(table)

    def forward(self, input_ids, attention_mask=None):
        from types import SimpleNamespace

        return SimpleNamespace(logits=self.table[input_ids])


def _bandit_round(policy, gen, groups_per_ctx=4, group_size=8):
    trajs = []
    for ctx in CTX:
        for g in range(groups_per_ctx):
            with torch.no_grad():
                probs = torch.softmax(policy.table[ctx], -1)
            arms = torch.multinomial(probs, group_size, replacement=True, generator=gen).tolist()
            for arm in arms:
                reward = float(arm == ARMS[ctx])
                gen_rec = Generation([ctx], [arm], [float(torch.log(probs[arm]))], "")
                turn = Turn(str(ctx), str(arm), reward=reward, anchor=str(ctx), generations=[gen_rec])
                trajs.append(Trajectory(f"ctx{ctx}#{g}", "bandit", ctx, turns=[turn], episode_return=reward, success=reward > 0))
    return trajs


@pytest.mark.parametrize("adv_config", [GRPOConfig(), GiGPOConfig()], ids=["grpo", "gigpo"])
def test_contextual_bandit_converges_to_the_known_optimum(adv_config):
    """From 50/50 the clipped loss + group advantages reach p(best arm) > 0.95 in both contexts within 60 updates."""
    policy = TabularPolicy()
    trainer = Trainer(policy, TrainerConfig(lr=0.05, weight_decay=0.0))
    gen = torch.Generator().manual_seed(0)
    p_best = []
    for _ in range(60):
        trajs = _bandit_round(policy, gen)
        trainer.step(build_batch(trajs, compute_advantages(trajs, adv_config), pad_token_id=0))
        with torch.no_grad():
            p_best.append([float(torch.softmax(policy.table[c], -1)[ARMS[c]]) for c in CTX])
        if min(p_best[-1]) > 0.95:
            break
    assert min(p_best[-1]) > 0.95, p_best[-5:]
    assert len(p_best) <= 60
