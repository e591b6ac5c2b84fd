"""TextWorld games made offline with TextWorld's own ``tw-make`` challenges, cached on disk.

A game is identified by ``(challenge, settings, seed)``; its files live in
``<cache root>/textworld/<challenge>/<digest>/`` where ``digest`` is a blake2b hash of
that triple and the TextWorld version (never ``hash()``, which changes per process).
Making a game writes into a temporary sibling directory that is renamed into place,
under an ``fcntl.flock`` on a per-game lock file: two processes asking for the same
game make it once and both read a complete copy.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hiergym.error import EnvSpecError

logger = logging.getLogger(__name__)

CACHE_ENV_VAR = "HIERGYM_CACHE"
"""Environment variable naming the hiergym cache root (default ``~/.cache/hiergym``)."""

CACHE_SUBDIR = "textworld"
GAME_FILE = "game.z8"
GAME_DATA_FILE = "game.json"  # TextWorld's state-tracking data; must sit beside the .z8
CACHE_FORMAT = 1  # bump when the directory layout changes, so old entries are not reused
MAX_TEXTWORLD_SEED = 2**31 - 1
GRAMMAR_CACHE_FILE = "grammars-{version}.pkl"
JERICHO_UNSUPPORTED_WARNING = r"Game .* is not fully supported"
"""Jericho cannot read score/moves of Inform 7 games itself; TextWorld tracks them, so the warning is noise."""


@dataclass(frozen=True)
class Param:
    """One challenge setting: its default and the values allowed (a tuple, or an inclusive int range)."""

    default: Any
    choices: tuple | None = None
    int_range: tuple[int, int] | None = None

    def check(self, challenge: str, name: str, value: Any) -> Any:
        """``value`` if ``challenge`` allows it for setting ``name``; else an ``EnvSpecError`` saying what is allowed."""
        if self.choices is not None and value not in self.choices:
            raise EnvSpecError(name, value, f"one of {self.choices} for {challenge}")
        if self.int_range is not None:
            lo, hi = self.int_range
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise EnvSpecError(name, value, f"an int in [{lo}, {hi}] for {challenge}")
        return value


_BOOL = (False, True)

CHALLENGES: dict[str, dict[str, Param]] = {
    "tw-simple": {
        "rewards": Param("dense", choices=("dense", "balanced", "sparse")),
        "goal": Param("detailed", choices=("detailed", "brief", "none")),
        "test": Param(False, choices=_BOOL),
    },
    "tw-cooking": {
        "recipe": Param(1, int_range=(1, 5)),
        "take": Param(1, int_range=(0, 5)),
        "go": Param(1, choices=(1, 6, 9, 12)),
        "open": Param(False, choices=_BOOL),
        "cook": Param(False, choices=_BOOL),
        "cut": Param(False, choices=_BOOL),
        "drop": Param(False, choices=_BOOL),
        "recipe_seed": Param(0, int_range=(0, MAX_TEXTWORLD_SEED)),
        "split": Param(None, choices=(None, "train", "valid", "test")),
    },
    "tw-treasure_hunter": {"level": Param(1, int_range=(1, 30))},
    "tw-coin_collector": {"level": Param(1, int_range=(1, 300))},
}
"""Every ``tw-make`` challenge with its settings (names as in ``tw-make <challenge> --help``)."""


def challenge_settings(challenge: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Full, validated settings for ``challenge``: defaults overridden by ``params``.

    Raises ``EnvSpecError`` naming the bad field and what is allowed.
    """
    challenge = challenge if challenge.startswith("tw-") else f"tw-{challenge}"
    if challenge not in CHALLENGES:
        raise EnvSpecError("challenge", challenge, f"one of {sorted(CHALLENGES)}")
    schema = CHALLENGES[challenge]
    unknown = sorted(set(params) - set(schema))
    if unknown:
        raise EnvSpecError(unknown[0], params[unknown[0]], f"settings of {challenge} are {sorted(schema)}")
    settings = {name: p.check(challenge, name, params.get(name, p.default)) for name, p in schema.items()}
    if challenge == "tw-cooking":
        _check_cooking(settings)
    return settings


def _check_cooking(settings: dict[str, Any]) -> None:
    if settings["take"] > settings["recipe"]:
        raise EnvSpecError("take", settings["take"], f"at most recipe={settings['recipe']} ingredients to find")
    if settings["recipe_seed"] > 0 and settings["take"] == 0:
        raise EnvSpecError("recipe_seed", settings["recipe_seed"], "0 unless take >= 1 (a shuffled recipe needs the take skill)")


@dataclass(frozen=True)
class GameKey:
    """What identifies a generated game: the challenge, its full settings and the generation seed."""

    challenge: str
    settings: tuple[tuple[str, Any], ...]
    seed: int

    @classmethod
    def of(cls, challenge: str, params: Mapping[str, Any], seed: int) -> GameKey:
        """The key of a game: the challenge, its checked settings and the generator seed."""
        settings = challenge_settings(challenge, params)
        name = challenge if challenge.startswith("tw-") else f"tw-{challenge}"
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_TEXTWORLD_SEED:
            raise EnvSpecError("seed", seed, f"an int in [0, {MAX_TEXTWORLD_SEED}]")
        return cls(name, tuple(sorted(settings.items())), int(seed))

    def digest(self) -> str:
        """Stable hex id of this game (blake2b over a canonical JSON, TextWorld version included)."""
        payload = {
            "format": CACHE_FORMAT,
            "textworld": _textworld_version(),
            "challenge": self.challenge,
            "settings": dict(self.settings),
            "seed": self.seed,
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.blake2b(blob, digest_size=16).hexdigest()


@functools.cache
def _textworld_version() -> str:
    from importlib.metadata import version  # reads package metadata from disk: memoised

    return version("textworld")


def cache_root(override: str | os.PathLike | None = None) -> Path:
    """The TextWorld game cache: ``override``, else ``$HIERGYM_CACHE/textworld``, else ``~/.cache/hiergym/textworld``."""
    if override is not None:
        return Path(override)
    base = os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "hiergym"
    return Path(base) / CACHE_SUBDIR


def cached_game_path(key: GameKey, root: str | os.PathLike | None = None) -> Path:
    """Where ``key``'s ``.z8`` file lives (whether or not it exists yet)."""
    return cache_root(root) / key.challenge / key.digest() / GAME_FILE


def ensure_game(key: GameKey, root: str | os.PathLike | None = None) -> Path:
    """Path of the game for ``key``, making it first if it is not cached (safe across processes)."""
    path = cached_game_path(key, root)
    if path.is_file():  # renamed into place whole, so existence means complete
        return path
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path.parent.with_suffix(".lock")):
        if path.is_file():  # another process made it while we waited
            return path
        _make_into(key, path.parent, cache_root(root) / GRAMMAR_CACHE_FILE.format(version=_textworld_version()))
    return path


@contextlib.contextmanager
def _file_lock(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_into(key: GameKey, final_dir: Path, grammar_file: Path) -> None:
    """Generate and compile the game in a temp dir beside ``final_dir``, then rename it into place."""
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.", dir=final_dir.parent))
    try:
        _generate(key, tmp_dir / GAME_FILE, grammar_file)
        (tmp_dir / "key.json").write_text(json.dumps(
            {"challenge": key.challenge, "settings": dict(key.settings), "seed": key.seed}, indent=1, sort_keys=True))
        if final_dir.exists():  # a stale, incomplete entry from a killed process (no game file)
            shutil.rmtree(final_dir)
        os.rename(tmp_dir, final_dir)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


@contextlib.contextmanager
def quiet_jericho() -> Iterator[None]:
    """Silence Jericho's "not fully supported" warning, which every TextWorld game triggers."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=JERICHO_UNSUPPORTED_WARNING)
        yield


def _generate(key: GameKey, game_file: Path, grammar_file: Path) -> None:
    """Run TextWorld's challenge generator (what ``tw-make <challenge> --seed S`` does) and compile to ``.z8``."""
    import textworld
    import textworld.challenges
    from textworld.generator import compile_game

    options = textworld.GameOptions()
    options.seeds = key.seed
    options.path = str(game_file)
    options.file_ext = ".z8"
    options.force_recompile = True
    _, make_game, _ = textworld.challenges.CHALLENGES[key.challenge]
    logger.info("making TextWorld game %s %s seed=%d", key.challenge, dict(key.settings), key.seed)
    from hiergym.progress import build_progress  # bar per hiergym.progress.BUILD_PROGRESS (terminal only by default)

    with build_progress(3, f"TextWorld {key.challenge} seed={key.seed}", unit="stage", delay=0.0) as bar:
        bar.set_postfix_str("grammars")
        known = _load_grammars(grammar_file)
        bar.update(1)
        bar.set_postfix_str("generate")
        with quiet_jericho():
            game = make_game(settings=dict(key.settings), options=options)
            bar.update(1)
            bar.set_postfix_str("compile")
            compiled = Path(compile_game(game, options))
        bar.update(1)
    _save_grammars(grammar_file, known)
    if compiled != game_file:
        raise RuntimeError(f"TextWorld wrote {compiled}, expected {game_file}")
    for leftover in game_file.parent.glob("*.ni"):  # Inform 7 source, not needed to play
        leftover.unlink()


def _load_grammars(path: Path) -> set[str]:
    """Fill TextWorld's in-process cache of parsed text grammars from ``path``; returns the files it holds.

    Parsing the ``.twg`` grammar files is most of the time of a first ``tw-make`` in a process
    (TextWorld caches it only in memory); the parsed grammars are pickled beside the games, so
    trust this cache directory as you trust the game files in it.
    """
    from textworld.generator.text_grammar import Grammar

    if not path.is_file():
        return set()
    try:
        with open(path, "rb") as handle:
            parsed = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError) as err:
        logger.warning("ignoring unreadable grammar cache %s: %s", path, err)
        return set()
    for name, grammar in parsed.items():
        Grammar._cache.setdefault(name, grammar)
    return set(parsed)


def _save_grammars(path: Path, known: set[str]) -> None:
    """Write TextWorld's parsed grammars to ``path`` (atomically) when it learned new ones."""
    from textworld.generator.text_grammar import Grammar

    if set(Grammar._cache) <= known:
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(dict(Grammar._cache), handle)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
