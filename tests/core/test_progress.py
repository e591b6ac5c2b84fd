"""Progress bars of the long phases: off unless asked (tests run with them off), drawn on stderr when on."""

from types import SimpleNamespace

import pytest

import hiergym.progress
from hiergym.agents.tiny import TinyModelSpec
from hiergym.algos.configs import GiGPOConfig
from hiergym.progress import episode_progress, progress_bar
from hiergym.training import AlgoConfig, EnvConfig, ModelConfig, TrainConfig, WarmStartConfig, train

MICRO = TinyModelSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)


def test_a_disabled_bar_writes_nothing_and_an_enabled_one_names_its_phase(capsys):
    with progress_bar(3, "quiet phase", enabled=False) as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""
    with progress_bar(3, "loud phase", enabled=True, leave=True) as bar:
        bar.update(3)
    assert "loud phase" in capsys.readouterr().err


def test_episode_progress_counts_finished_episodes_and_removes_its_hook(capsys):
    collector = SimpleNamespace(on_episode=[print])
    with episode_progress(collector, 3, "eval", enabled=True) as bar:
        assert len(collector.on_episode) == 2
        for won in (True, False, True):
            collector.on_episode[-1](SimpleNamespace(success=won))
        assert bar.n == 3 and bar.postfix == "success=0.67"
    assert collector.on_episode == [print]
    assert "eval" in capsys.readouterr().err


def test_episode_progress_removes_its_hook_when_the_collect_fails():
    collector = SimpleNamespace(on_episode=[])
    with pytest.raises(RuntimeError), episode_progress(collector, 1, "eval", enabled=False):
        raise RuntimeError("env crashed")
    assert collector.on_episode == []


def _catalogue(n: int) -> None:
    from hiergym.envs.webshop.catalogue import generate_catalogue

    assert len(list(generate_catalogue(n, seed=0))) == n


def test_catalogue_bar_follows_the_build_switch(capsys, monkeypatch):
    monkeypatch.setattr(hiergym.progress, "BUILD_DELAY_S", 0.0)
    monkeypatch.setattr(hiergym.progress, "BUILD_PROGRESS", None)  # default: only on a terminal (pytest's stderr is not)
    _catalogue(20)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(hiergym.progress, "BUILD_PROGRESS", True)
    _catalogue(20)
    assert "WebShop catalogue" in capsys.readouterr().err


def tiny_run(out, progress: bool) -> TrainConfig:
    return TrainConfig(
        env=EnvConfig(env_id="hiergym/Sokoban-6x6-1box-v0", max_episode_steps=3),
        model=ModelConfig(tiny=MICRO),
        algo=AlgoConfig(gigpo=GiGPOConfig(group_size=2)),
        warm_start=WarmStartConfig(expert="hiergym.demo:sokoban_expert", episodes=2, steps=2),
        out=out, iterations=0, num_slots=2, eval_episodes=2, tensorboard=False, progress=progress,
    )


def test_warm_start_and_evaluation_draw_bars_only_with_progress_on(tmp_path, capsys):
    train(tiny_run(tmp_path / "quiet", progress=False))
    quiet = capsys.readouterr().err  # transformers' own bars (weights saved/loaded) may be here
    assert not any(phase in quiet for phase in ("expert demonstrations", "warm start", "eval"))
    train(tiny_run(tmp_path / "loud", progress=True))
    err = capsys.readouterr().err
    for phase in ("expert demonstrations", "warm start", "nll=", "eval", "success="):
        assert phase in err, phase


@pytest.mark.slow  # one uncached tw-make: ~10 s alone, ~60 s on a busy machine
def test_textworld_game_generation_draws_its_stages(tmp_path, capsys, monkeypatch):
    pytest.importorskip("textworld")
    from hiergym.envs.tw.games import GameKey, ensure_game

    monkeypatch.setattr(hiergym.progress, "BUILD_PROGRESS", True)
    assert ensure_game(GameKey.of("tw-simple", {}, 5), tmp_path).is_file()
    err = capsys.readouterr().err
    assert "TextWorld tw-simple seed=5" in err and "3/3" in err
