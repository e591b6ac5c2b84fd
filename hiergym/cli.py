"""The ``hiergym`` command line. Each subcommand is a small function; tyro builds the flags.

Only this layer prints (rich); library code logs. The usage line lists every command, groups
(``train``, ``serve``) included; a group's ``-h`` is compact (one line per flag, grouped by config
section) and ``-H``/``--help-verbose`` gives every flag's full description.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Union

import tyro

from hiergym.error import HierGymError
from hiergym.training.configs import TrainConfig  # light: dataclasses only, no torch


def list_envs() -> None:
    """List registered environment ids with one-line descriptions."""
    from rich.console import Console
    from rich.table import Table

    from hiergym.registration import env_table

    table = Table(title="hiergym environments")
    table.add_column("id", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("what it is", ratio=1)
    for row in env_table():  # the same rows as the docs' env table (scripts/env_table.py)
        table.add_row(*row)
    Console().print(table)


def play(env_id: str, /, seed: int = 0, max_turns: int = 500) -> None:
    """Play a text env in the terminal: read the observation, type a command, `quit` leaves."""
    from hiergym.play import play_text_env

    play_text_env(env_id, seed=seed, max_turns=max_turns)


def train_command(config: Annotated[TrainConfig, tyro.conf.arg(name="")] = TrainConfig(), config_file: Path | None = None) -> None:  # noqa: B008
    """Train an LLM agent with GiGPO/GRPO, or HRPO with --agent hierarchical (flags, or --config-file run.toml|yaml)."""
    from rich.console import Console

    from hiergym.training import merge_config_file, train

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = train(merge_config_file(config, config_file))
    curve = ", ".join(f"{it}: {s:.0%}" for it, s in sorted(result.eval_success.items()))
    Console().print(f"[bold]held-out success by iteration[/bold] {curve}\nrun dir: {result.run_dir}")


TRAIN_COMMANDS: dict[str, Callable[..., Any]] = {}
"""``hiergym train <kind>``: ``llm`` (token algorithms), ``marl`` (value-based multi-agent), ``main-sub`` (M-GRPO)."""

from hiergym.demo import demo_command  # noqa: E402  (light: no torch at import)

TRAIN_COMMANDS["llm"] = train_command

SERVE_COMMANDS: dict[str, Callable[..., Any]] = {}
"""``hiergym serve <site>``: e.g. ``webshop``."""


def _train_marl_command() -> Callable[..., Any]:
    from hiergym.algos.marl.command import train_marl  # light: configs only; torch loads when it runs

    return train_marl


TRAIN_COMMANDS["marl"] = _train_marl_command()


def _train_main_sub_command() -> Callable[..., Any]:
    from hiergym.training.main_sub_command import train_main_sub_command  # light: configs only; torch loads when it runs

    return train_main_sub_command


TRAIN_COMMANDS["main-sub"] = _train_main_sub_command()


def serve_webshop(host: str = "127.0.0.1", port: int = 3000, num_products: int = 1000, catalogue_seed: int = 0) -> None:
    """Serve the WebShop site and JSON API (open http://HOST:PORT in a browser); Ctrl-C stops it."""
    import logging

    from rich.console import Console

    from hiergym.envs.webshop.server import serve

    logging.basicConfig(level=logging.INFO)
    Console().print(f"WebShop: http://{host}:{port}  (API docs: http://{host}:{port}/api/docs)")
    serve(host=host, port=port, num_products=num_products, catalogue_seed=catalogue_seed)


SERVE_COMMANDS["webshop"] = serve_webshop

GROUP_HELP: dict[str, str] = {
    "train": "Train an agent: a text-env LLM policy (GiGPO/GRPO), multi-agent values (IQL/VDN/QMIX) or a main agent with sub-agents (M-GRPO)",
    "serve": "Serve a text env as a website with a JSON API",
}
"""One line per command group for the top-level help (its subcommands are appended)."""

COMMANDS: dict[str, Callable[..., Any] | dict[str, Callable[..., Any]]] = {
    "list": list_envs,
    "play": play,
    "demo": demo_command,
    "train": TRAIN_COMMANDS,
    "serve": SERVE_COMMANDS,
}


DEBUG_FLAG = "--debug"
"""Anywhere on the command line: show the full traceback of an error instead of one line."""


def main(argv: list[str] | None = None) -> None:
    """Run ``hiergym <command> [<sub>] [flags]``; a hiergym error is one line on stderr (exit 2), ``--debug`` shows its traceback."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    argv = [a for a in argv if a != DEBUG_FLAG]
    try:
        _dispatch(argv)
    except HierGymError as e:
        if debug:
            raise
        print(f"error: {e}  (add {DEBUG_FLAG} for the traceback)", file=sys.stderr)
        raise SystemExit(2) from None


def _dispatch(argv: list[str]) -> None:
    """Dispatch to a command; a dict value in ``COMMANDS`` is a command group."""
    group = COMMANDS.get(argv[0]) if argv else None
    if isinstance(group, dict):
        _run_group(argv[0], argv[1:])
        return
    top = {k: v if callable(v) else _group_entry(k, v) for k, v in COMMANDS.items()}
    _subcommand_cli(top, argv, prog="hiergym", compact=False)


def _run_group(name: str, argv: list[str]) -> None:
    """``hiergym <group> <sub> [flags]``: compact ``-h`` (one line per flag), full text with ``-H``."""
    group = COMMANDS[name]
    assert isinstance(group, dict)
    _subcommand_cli(group, argv, prog=f"hiergym {name}", compact=True)


def _group_entry(name: str, group: dict[str, Callable[..., Any]]) -> Callable[[], None]:
    """A stand-in so the top-level usage line lists the group; ``_dispatch`` runs the real group."""

    def run_group() -> None:
        _run_group(name, [])

    run_group.__doc__ = f"{GROUP_HELP[name]}: " + ", ".join(f"{name} {sub}" for sub in group) + "."
    return run_group


def _subcommand_cli(commands: dict[str, Callable[..., Any]], argv: list[str], prog: str, compact: bool) -> None:
    """``tyro.extras.subcommand_cli_from_dict`` with ``compact_help`` (which that helper does not pass on)."""
    options = tuple(Annotated[Any, tyro.conf.subcommand(name=k, constructor=f)] for k, f in commands.items())
    tyro.cli(Union[options + (Annotated[None, tyro.conf.Suppress],)], args=argv, prog=prog, compact_help=compact)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
