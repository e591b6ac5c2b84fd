"""TextWorld game generation and the on-disk cache: validated settings, stable keys, safe concurrent use."""

import json
import subprocess
import sys
import textwrap
import time

import pytest

pytest.importorskip("textworld")

from hiergym.envs.tw.games import GAME_DATA_FILE, GameKey, cached_game_path, challenge_settings, ensure_game
from hiergym.error import EnvSpecError


def test_settings_fill_defaults_and_accept_short_challenge_names():
    assert challenge_settings("coin_collector", {"level": 3}) == {"level": 3}
    assert challenge_settings("tw-simple", {})["rewards"] == "dense"


@pytest.mark.parametrize(
    "challenge, params, field",
    [
        ("tw-mystery", {}, "challenge"),
        ("tw-simple", {"rewards": "lots"}, "rewards"),
        ("tw-simple", {"level": 2}, "level"),
        ("tw-treasure_hunter", {"level": 31}, "level"),
        ("tw-coin_collector", {"level": "1"}, "level"),
        ("tw-cooking", {"go": 2}, "go"),
        ("tw-cooking", {"recipe": 1, "take": 2}, "take"),
    ],
)
def test_bad_settings_name_the_field_and_what_is_allowed(challenge, params, field):
    with pytest.raises(EnvSpecError, match=field) as err:
        GameKey.of(challenge, params, 0)
    assert err.value.field == field


def test_bad_seed_is_a_typed_error():
    with pytest.raises(EnvSpecError, match="seed"):
        GameKey.of("tw-simple", {}, -1)


def test_digest_is_stable_across_processes_and_sensitive_to_every_part():
    key = GameKey.of("tw-cooking", {"recipe": 2, "take": 1}, 7)
    code = "from hiergym.envs.tw.games import GameKey; print(GameKey.of('cooking', {'take': 1, 'recipe': 2}, 7).digest())"
    other_process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other_process == key.digest()
    assert len({key.digest(), GameKey.of("tw-cooking", {"recipe": 2, "take": 1}, 8).digest(),
                GameKey.of("tw-cooking", {"recipe": 2, "take": 2}, 7).digest()}) == 3


def test_real_game_is_made_once_then_read_from_cache(hiergym_cache):
    key = GameKey.of("tw-coin_collector", {"level": 1}, 0)
    path = ensure_game(key)
    assert path.is_file() and path.with_name(GAME_DATA_FILE).is_file()
    assert json.loads(path.with_name("key.json").read_text())["seed"] == 0
    start = time.perf_counter()
    assert ensure_game(key) == path
    assert time.perf_counter() - start < 0.1


_RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import hiergym.envs.tw.games as games

    root, log = sys.argv[1], Path(sys.argv[2])

    def slow_generate(key, game_file, grammar_file):  # stands in for tw-make: slow, writes files one by one
        with open(log, "a") as f:
            f.write("generate\\n")
        game_file.with_suffix(".json").write_text("{}")
        time.sleep(1.0)
        game_file.write_bytes(b"z8" * 1000)

    games._generate = slow_generate
    path = games.ensure_game(games.GameKey.of("tw-simple", {}, 3), root)
    print(path, len(path.read_bytes()), path.with_suffix(".json").is_file())
    """
)


def test_two_processes_asking_for_one_game_make_it_once_and_both_read_it_whole(tmp_path):
    log = tmp_path / "generations.log"
    procs = [
        subprocess.Popen([sys.executable, "-c", _RACER, str(tmp_path / "cache"), str(log)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    expected = str(cached_game_path(GameKey.of("tw-simple", {}, 3), tmp_path / "cache"))
    assert outputs == [[expected, "2000", "True"]] * 2
    assert log.read_text().splitlines() == ["generate"]
    leftovers = [p.name for p in (tmp_path / "cache" / "tw-simple").iterdir() if p.name.startswith(".")]
    assert leftovers == [], "temporary directories must be renamed or removed"


_FINGERPRINT = textwrap.dedent(
    """
    import hashlib, json, sys
    from hiergym.envs.tw.games import GameKey, ensure_game
    path = ensure_game(GameKey.of("tw-treasure_hunter", {"level": 3}, int(sys.argv[2])), sys.argv[1])
    print(hashlib.blake2b(path.read_bytes() + path.with_suffix(".json").read_bytes()).hexdigest())
    """
)


def _fingerprint(root, seed):
    return subprocess.run([sys.executable, "-c", _FINGERPRINT, str(root), str(seed)],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.slow
def test_a_key_makes_the_same_game_in_any_process_with_or_without_the_grammar_cache(tmp_path):
    cold = _fingerprint(tmp_path / "a", 11)  # empty cache: grammars parsed from TextWorld's files
    other = _fingerprint(tmp_path / "b", 12)  # fills b's grammar cache
    warm = _fingerprint(tmp_path / "b", 11)  # same key, grammars read from the pickle
    assert cold == warm != other
    assert list((tmp_path / "b").glob("grammars-*.pkl"))
