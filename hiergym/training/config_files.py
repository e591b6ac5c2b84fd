"""Config files and config strings: build nested config dataclasses from TOML/YAML/JSON, merge flags on top.

Generic over the config class, so every training command (``hiergym train llm``, ``hiergym train
marl``) reads files the same way: nested tables are nested dataclasses, unknown keys are a
``ConfigError`` naming them, relative paths in a file are relative to the file.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hiergym.error import ConfigError

C = TypeVar("C")

def load_entry_point(spec: str, field_name: str) -> Callable[..., Any]:
    """The object named by a config string ``'module:attribute'``; a ConfigError naming ``field_name`` if it does not import."""
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(field_name, spec, f"an importable 'module:function' ({e})") from e


def dataclass_from_dict(cls: type[C], data: dict[str, Any], *, prefix: str = "") -> C:
    """Build a (nested, frozen) config dataclass from plain data; unknown keys raise ConfigError naming them."""
    import typing

    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}", data[unknown[0]], f"a field of {cls.__name__}: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = dataclass_from_dict(hint, value, prefix=f"{prefix}{key}.")
        elif isinstance(value, list):
            value = tuple(value)
        elif hint is Path or (isinstance(value, str) and key == "out"):
            value = Path(value)
        kwargs[key] = value
    return cls(**kwargs)


def read_config_data(path: str | Path, relative_paths: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """Plain data of a .toml, .yaml/.yml or .json file; ``(section, key)`` paths made absolute against the file's dir."""
    import json
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise ConfigError("config_file", str(path), "an existing .toml, .yaml or .json file")
    text = path.read_text()
    if path.suffix == ".toml":
        data = tomllib.loads(text)
    elif path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text) or {}
    elif path.suffix == ".json":
        data = json.loads(text)
    else:
        raise ConfigError("config_file", str(path), "a file ending in .toml, .yaml, .yml or .json")
    for section, key in relative_paths:  # relative paths in a file are relative to the file
        value = data.get(section, {}).get(key)
        if isinstance(value, str) and not Path(value).is_absolute():
            data[section][key] = str((path.parent / value).resolve())
    return data


def load_config(path: str | Path, cls: type[C] | None = None) -> C:
    """A config dataclass (default ``TrainConfig``) from a .toml, .yaml/.yml or .json file (nested tables = nested configs).

    Paths listed in the class's ``RELATIVE_PATH_FIELDS`` (``(section, key)`` pairs) are resolved
    against the file's directory.
    """
    if cls is None:
        from hiergym.training.configs import TrainConfig

        cls = TrainConfig  # type: ignore[assignment]
    return dataclass_from_dict(cls, read_config_data(path, getattr(cls, "RELATIVE_PATH_FIELDS", ())))


def _changed(value: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``value`` (a nested asdict) that differ from ``default``."""
    out = {}
    for key, v in value.items():
        d = default.get(key)
        if isinstance(v, dict) and isinstance(d, dict):
            sub = _changed(v, d)
            if sub:
                out[key] = sub
        elif v != d:
            out[key] = v
    return out


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, v in top.items():
        out[key] = _merge(out[key], v) if isinstance(v, dict) and isinstance(out.get(key), dict) else v
    return out


def merge_config_file(flags: C, config_file: str | Path | None) -> C:
    """File values over the defaults, then every flag that differs from its default over the file.

    ``flags`` is the config the CLI built from flags alone; its class must build with no arguments.
    """
    if config_file is None:
        return flags
    cls = type(flags)
    from_file = dataclasses.asdict(load_config(config_file, cls))
    overrides = _changed(dataclasses.asdict(flags), dataclasses.asdict(cls()))
    return dataclass_from_dict(cls, _merge(from_file, overrides))
