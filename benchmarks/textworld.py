"""TextWorld speed: raw ``textworld.gym`` vs hiergym's TextWorld env (bare and fully wrapped), and game generation.

Step rates: every env plays the same games with the same policy, a uniformly random admissible
command each step (seeded), reset on episode end; only ``step`` calls are timed, in CPU seconds
of this process (``time.process_time``: TextWorld's interpreter runs in-process, and CPU time is
less distorted than wall time when others share the machine). The baseline requests only
admissible commands, the least an agent needs; the hiergym env adds facts (anchors), subgoal
progress, score/won/lost and action flags on top; "wrapped" is the usual stack
``History(SubgoalHooks(TextActions(AnchorHash(env))))`` fed ``<action>...</action>`` text.
The hiergym rows also time TextWorld's interpreter inside the same steps, so their notes give
the CPU time our code adds per interpreter second: unlike the ratio of two rates measured one
after the other, that split is not moved by load that changes between measurements.

Generation: seconds to make one game in a fresh process (what a training run's first reset
of a new seed costs): cold (empty cache; TextWorld parses its text grammars), warm (the parsed
grammars are cached on disk, the game is new), and cached (the game file exists).

    python benchmarks/textworld.py                # everything
    python benchmarks/textworld.py --no-generation --rounds 5

Other text envs add a row with ``step_rate_row(name, make_env)`` (see ``MEASUREMENTS``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hiergym.info_keys import InfoKeys

# Run as a script, this file's folder is sys.path[0] and its name would shadow the `textworld` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

CHALLENGES = {"tw-simple": {}, "tw-cooking": {"go": 6, "open": True, "cook": True, "cut": True}}
STEP_SECONDS = 3.0
ROUNDS = 3  # the envs take turns, ROUNDS times, so a burst of load hits all of them alike


@dataclass
class Row:
    """One line of the result table."""

    name: str
    value: float
    unit: str
    note: str = ""


def random_walk_steps_per_s(reset: Callable[[int], list[str]], step: Callable[[str], tuple[list[str], bool]],
                            seconds: float, seed: int = 0) -> float:
    """Steps per CPU second of a random admissible walk. ``reset(seed) -> admissible``,
    ``step(command) -> (admissible, done)``; only ``step`` is timed."""
    rng = np.random.default_rng(seed)
    episode, admissible = 0, reset(seed)
    steps, timed = 0, 0.0
    while timed < seconds:
        command = admissible[int(rng.integers(len(admissible)))]
        start = time.process_time()
        admissible, done = step(command)
        timed += time.process_time() - start
        steps += 1
        if done:
            episode += 1
            admissible = reset(seed + episode)
    return steps / timed


def gym_env_stepper(env, wrap_action: Callable[[str], str] = str):
    """``reset``/``step`` callables for ``random_walk_steps_per_s`` over any hiergym text env."""
    def reset(seed: int) -> list[str]:
        return env.reset(seed=seed)[1][InfoKeys.ADMISSIBLE_ACTIONS]

    def step(command: str) -> tuple[list[str], bool]:
        _, _, terminated, truncated, info = env.step(wrap_action(command))
        return info[InfoKeys.ADMISSIBLE_ACTIONS], terminated or truncated

    return reset, step


def step_rate(make_env: Callable[[], object], wrap_action: Callable[[str], str] = str, seed: int = 0) -> float:
    """Steps/s of one hiergym text env (made by ``make_env``) under the random admissible walk."""
    env = make_env()
    try:
        return random_walk_steps_per_s(*gym_env_stepper(env, wrap_action), seconds=STEP_SECONDS, seed=seed)
    finally:
        env.close()


def textworld_step_rate(make_env: Callable[[], object], wrap_action: Callable[[str], str] = str, seed: int = 0) -> tuple[float, float]:
    """``step_rate`` of a hiergym TextWorld env, plus the CPU time spent outside TextWorld's interpreter
    per second inside it, over the same steps (the interpreter's ``step`` is timed in place)."""
    env = make_env()
    reset, step = gym_env_stepper(env, wrap_action)
    inside, total, timed = [0.0], [0.0], set()

    def timed_reset(seed: int) -> list[str]:
        admissible = reset(seed)
        interpreter = env.unwrapped._game.interpreter
        if id(interpreter) not in timed:
            timed.add(id(interpreter))
            original = interpreter.step

            def interpreter_step(command: str):
                start = time.process_time()
                try:
                    return original(command)
                finally:
                    inside[0] += time.process_time() - start

            interpreter.step = interpreter_step
        return admissible

    def timed_step(command: str) -> tuple[list[str], bool]:
        start = time.process_time()
        try:
            return step(command)
        finally:
            total[0] += time.process_time() - start

    try:
        rate = random_walk_steps_per_s(timed_reset, timed_step, seconds=STEP_SECONDS, seed=seed)
    finally:
        env.close()
    return rate, (total[0] - inside[0]) / inside[0]


def raw_textworld_rate(game_file: Path, max_steps: int, seed: int = 0) -> float:
    """The baseline: ``textworld.gym`` on the same game, admissible commands requested."""
    import textworld
    import textworld.gym

    from hiergym.envs.tw.games import quiet_jericho

    infos = textworld.EnvInfos(admissible_commands=True)
    env_id = textworld.gym.register_game(str(game_file), request_infos=infos, max_episode_steps=max_steps)
    with quiet_jericho():
        env = textworld.gym.make(env_id)

        def reset(seed: int) -> list[str]:
            return env.reset()[1]["admissible_commands"]

        def step(command: str) -> tuple[list[str], bool]:
            _, _, done, info = env.step(command)
            return info["admissible_commands"], done

        try:
            return random_walk_steps_per_s(reset, step, seconds=STEP_SECONDS, seed=seed)
        finally:
            env.close()


def raw_interpreter_rate(game_file: Path, seed: int = 0) -> float:
    """The floor: ``textworld.start`` (interpreter + state tracking, no gym layer), what our env builds on."""
    import textworld

    from hiergym.envs.tw.games import quiet_jericho

    with quiet_jericho():
        env = textworld.start(str(game_file), request_infos=textworld.EnvInfos(admissible_commands=True))

        def reset(seed: int) -> list[str]:
            return env.reset()["admissible_commands"]

        def step(command: str) -> tuple[list[str], bool]:
            state, _, done = env.step(command)
            return state["admissible_commands"], done

        try:
            return random_walk_steps_per_s(reset, step, seconds=STEP_SECONDS, seed=seed)
        finally:
            env.close()


def rates_row(name: str, rates: list[float], note: str = "") -> Row:
    """A steps/s row: the median over rounds, with the range in the note."""
    spread = f"range {min(rates):,.0f}-{max(rates):,.0f} over {len(rates)} rounds"
    return Row(name, statistics.median(rates), "steps/s", f"{note}; {spread}" if note else spread)


def textworld_step_rows(challenge: str, settings: dict) -> list[Row]:
    """Raw textworld.gym, our env bare and our env fully wrapped, on one generated game."""
    from hiergym.envs.tw.env import TextWorldEnv
    from hiergym.wrappers import AnchorHash, History, SubgoalHooks, TextActions

    max_steps = 100
    make = lambda: TextWorldEnv(challenge, num_games=1, max_steps=max_steps, **settings)  # noqa: E731
    probe = make()
    probe.reset(seed=0)
    game_file = probe.game_path
    probe.close()
    wrapped = lambda: History(SubgoalHooks(TextActions(AnchorHash(make()))))  # noqa: E731
    raw, floor, bare, full, bare_own, full_own = [], [], [], [], [], []
    for seed in range(ROUNDS):  # same walk (seed) for all in a round
        raw.append(raw_textworld_rate(game_file, max_steps, seed))
        floor.append(raw_interpreter_rate(game_file, seed))
        rate, own = textworld_step_rate(make, seed=seed)
        bare.append(rate)
        bare_own.append(own)
        rate, own = textworld_step_rate(wrapped, wrap_action=lambda c: f"<action>{c}</action>", seed=seed)
        full.append(rate)
        full_own.append(own)
    raw_median, floor_median = statistics.median(raw), statistics.median(floor)

    def overhead(rates: list[float], own: list[float]) -> str:
        per_step = 1 / statistics.median(rates)
        return (f"time per step {100 * (per_step * raw_median - 1):+.1f}% vs textworld.gym, {100 * (per_step * floor_median - 1):+.1f}% vs textworld.start; "
                f"in the same steps, CPU time outside the interpreter {100 * statistics.median(own):+.1f}% of the time inside "
                f"(range {100 * min(own):+.1f}% to {100 * max(own):+.1f}%)")

    return [
        Row(f"{challenge} {settings or ''}".strip(), float("nan"), ""),
        rates_row("raw textworld.gym (admissible commands)", raw),
        rates_row("raw textworld.start (admissible commands, no gym layer)", floor),
        rates_row("hiergym TextWorldEnv (bare)", bare, overhead(bare, bare_own)),
        rates_row("hiergym TextWorldEnv + AnchorHash/TextActions/SubgoalHooks/History", full, overhead(full, full_own)),
    ]


_GENERATE = "import json, sys, time; from hiergym.envs.tw.games import GameKey, ensure_game; " \
            "t = time.perf_counter(); ensure_game(GameKey.of(sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])), sys.argv[4]); " \
            "print(time.perf_counter() - t)"


def _generation_seconds(challenge: str, settings: dict, seed: int, root: Path) -> float:
    out = subprocess.run([sys.executable, "-c", _GENERATE, challenge, json.dumps(settings), str(seed), str(root)],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def generation_rows(challenge: str, settings: dict, warm_games: int = 2) -> list[Row]:
    """Seconds per game in a fresh process: cold cache, warm grammar cache (new games), cached game."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cold = _generation_seconds(challenge, settings, 0, root)
        warm = [_generation_seconds(challenge, settings, seed, root) for seed in range(1, 1 + warm_games)]
        cached = _generation_seconds(challenge, settings, 0, root)
    return [
        Row(f"make {challenge} game, cold cache", cold, "s"),
        Row(f"make {challenge} game, grammars cached", statistics.median(warm), "s", f"median of {warm_games}"),
        Row(f"{challenge} game already cached", cached, "s"),
    ]


MEASUREMENTS: list[Callable[[], list[Row]]] = [
    *(lambda c=c, s=s: textworld_step_rows(c, s) for c, s in CHALLENGES.items()),
]
"""Step-rate measurements; another family appends a function returning rows (e.g. Household)."""


def household_step_rows() -> list[Row]:
    """Household (ALFWorld-style tasks on our own engine) under the same walk: bare and fully wrapped."""
    import gymnasium as gym

    import hiergym  # noqa: F401  (registers the ids)
    from hiergym.wrappers import AnchorHash, History, SubgoalHooks, TextActions

    make = lambda: gym.make("hiergym/Household-v0")  # noqa: E731
    wrapped = lambda: History(SubgoalHooks(TextActions(AnchorHash(make()))))  # noqa: E731
    bare, full = [], []
    for seed in range(ROUNDS):
        bare.append(step_rate(make, seed=seed))
        full.append(step_rate(wrapped, wrap_action=lambda c: f"<action>{c}</action>", seed=seed))
    return [
        Row("hiergym/Household-v0 (ALFWorld-style, own engine)", float("nan"), ""),
        rates_row("HouseholdEnv via gymnasium.make", bare),
        rates_row("HouseholdEnv + AnchorHash/TextActions/SubgoalHooks/History", full),
    ]


MEASUREMENTS.append(household_step_rows)

GENERATION: list[Callable[[], list[Row]]] = [*(lambda c=c, s=s: generation_rows(c, s) for c, s in CHALLENGES.items())]


def format_table(rows: list[Row]) -> str:
    """A Markdown table of ``rows`` (a row with a NaN value is a section header)."""
    lines = ["| measurement | value | note |", "|---|---:|---|"]
    for r in rows:
        if r.value != r.value:  # NaN: section header
            lines.append(f"| **{r.name}** | | |")
        else:
            lines.append(f"| {r.name} | {r.value:,.{0 if r.unit == 'steps/s' else 2}f} {r.unit} | {r.note} |")
    return "\n".join(lines)


def main() -> None:
    global ROUNDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-generation", action="store_true", help="skip the game generation timings")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"interleaved rounds per step-rate row (default {ROUNDS})")
    args = parser.parse_args()
    ROUNDS = args.rounds
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {git or '?'}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (timings are noisy when shared)")
    rows = [row for measure in MEASUREMENTS for row in measure()]
    if not args.no_generation:
        rows += [row for measure in GENERATION for row in measure()]
    print(format_table(rows))


if __name__ == "__main__":
    main()
