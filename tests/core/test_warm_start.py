"""Expert demonstrations for the warm start: what each recorded turn holds."""

from types import SimpleNamespace

from hiergym.training import EnvConfig, TextEnvMaker, TrainConfig, WarmStartConfig, expert_demonstrations
from hiergym.types import group_id_of

ENV_ID = "hiergym/Sokoban-6x6-1box-v0"


class WordTokenizer:
    """Maps each whitespace word to a stable id; enough for prompt/response ids of a Generation."""

    def __init__(self):
        self.vocab: dict[str, int] = {}

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [self.vocab.setdefault(w, len(self.vocab)) for w in text.split()]}


def fake_agent():
    return SimpleNamespace(backend=SimpleNamespace(tokenizer=WordTokenizer()), prompt=lambda obs: f"P: {obs}", role="policy")


def test_each_turn_holds_the_observation_the_expert_answered():
    config = TrainConfig(env=EnvConfig(env_id=ENV_ID, max_episode_steps=12), warm_start=WarmStartConfig(expert="hiergym.demo:sokoban_expert", episodes=3, steps=1))
    make_env = TextEnvMaker.from_config(config.env)
    agent = fake_agent()
    demos = expert_demonstrations(config, agent, make_env)
    assert len(demos) == 3
    for traj in demos:
        env = make_env(ENV_ID)
        obs, _ = env.reset(seed=traj.seed)
        assert traj.group_id == group_id_of(ENV_ID, traj.seed)
        assert traj.turns and traj.success and traj.episode_return == sum(traj.rewards)
        for turn in traj.turns:
            assert turn.observation == obs  # the state the action was taken from
            assert turn.generations[0].prompt_ids == agent.backend.tokenizer(agent.prompt(obs))["input_ids"]
            assert turn.action_valid
            obs, *_ = env.step(turn.raw_action)
        env.close()


def noisy_config(noise, episodes=20):
    return TrainConfig(env=EnvConfig(env_id=ENV_ID, max_episode_steps=12), warm_start=WarmStartConfig(expert="hiergym.demo:sokoban_expert", episodes=episodes, steps=1, expert_noise=noise))


def test_noisy_demonstrations_replace_some_moves_and_replan_from_there():
    config = noisy_config(0.5)
    make_env = TextEnvMaker.from_config(config.env)
    demos = expert_demonstrations(config, fake_agent(), make_env)
    again = expert_demonstrations(config, fake_agent(), make_env)
    assert [[t.action for t in d.turns] for d in demos] == [[t.action for t in d.turns] for d in again]  # seeded by the level
    off_plan = 0
    for traj in demos:
        env = make_env(ENV_ID)
        obs, info = env.reset(seed=traj.seed)
        for turn in traj.turns:
            assert turn.observation == obs
            assert turn.action in info["admissible_actions"]
            off_plan += turn.action != env.unwrapped.solve()[0]
            obs, _, terminated, truncated, info = env.step(turn.raw_action)
        # an episode ends solved, cut by the step limit, or where the noise led into a dead end
        assert traj.success or len(traj.turns) == 12 or env.unwrapped.solve() is None
        env.close()
    assert off_plan > 0
    clean = expert_demonstrations(noisy_config(0.0), fake_agent(), make_env)
    assert all(t.success for t in clean) and sum(map(len, clean)) < sum(map(len, demos))


def test_expert_noise_must_be_a_probability():
    import pytest

    from hiergym.error import ConfigError

    with pytest.raises(ConfigError, match="warm_start.expert_noise"):
        WarmStartConfig(expert_noise=1.0)
    with pytest.raises(ConfigError, match="warm_start.expert_noise"):
        WarmStartConfig(expert_noise=-0.1)
