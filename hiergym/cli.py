"""The ``hiergym`` command line. Each subcommand is a small function; tyro builds the flags.

Only this layer prints (rich); library code logs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tyro


def list_envs() -> None:
    """List registered environment ids with one-line descriptions."""
    from rich.console import Console
    from rich.table import Table

    from hiergym.registration import all_entries

    table = Table(title="hiergym environments")
    table.add_column("id")
    table.add_column("kind")
    table.add_column("description")
    for e in all_entries():
        table.add_row(e.id, "parallel (PettingZoo)" if e.multi_agent else "gymnasium", e.description)
    Console().print(table)


def play(env_id: str, /, seed: int = 0, max_turns: int = 500) -> None:
    """Play a text env in the terminal: read the observation, type a command, `quit` leaves."""
    from hiergym.play import play_text_env

    play_text_env(env_id, seed=seed, max_turns=max_turns)


COMMANDS: dict[str, Callable[..., Any]] = {
    "list": list_envs,
    "play": play,
}


def main(argv: list[str] | None = None) -> None:
    tyro.extras.subcommand_cli_from_dict(COMMANDS, args=argv, prog="hiergym")


if __name__ == "__main__":
    main()
