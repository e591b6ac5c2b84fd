"""A training run on disk: config, metrics (CSV + TensorBoard), learning curve, trajectory samples, checkpoints.

Layout of a run dir::

    config.json          the full run config (written once; a resume checks it is unchanged)
    metrics.csv          one row per iteration: learning metrics only, so a resumed run's rows
                         equal an uninterrupted run's rows exactly (CPU)
    throughput.csv       wall-clock numbers (steps/s, tokens/s, time shares): they differ run to run
    tb/                  TensorBoard events of both
    curve.png            learning curve (training and held-out success, return)
    samples.jsonl        a few sampled trajectories per iteration (``hiergym.types.save_jsonl``)
    checkpoints/step-N.pt  model, trainer (optimizer, scheduler, shuffle RNG), RNG states, step

Checkpoints are written to a temporary file and renamed, so a crash mid-write never
leaves a truncated ``latest`` checkpoint.
"""

from __future__ import annotations

import csv
import json
import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hiergym.error import ConfigError
from hiergym.types import Trajectory, save_jsonl

logger = logging.getLogger(__name__)

STEP_KEY = "iteration"
CHECKPOINT_GLOB = "step-*.pt"
KEEP_CHECKPOINTS = 2
CURVE_KEYS = ("success", "eval_success", "return")


def capture_rng() -> dict[str, Any]:
    """Python, numpy and torch (CPU and CUDA) generator states."""
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class CsvLog:
    """Rows of scalars kept in memory and rewritten whole on each append (columns may grow; files are small)."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if path.is_file():
            with path.open(newline="") as f:
                self.rows = [{k: _parse(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]

    def append(self, row: Mapping[str, Any]) -> None:
        self.rows.append(dict(row))
        self._write()

    def truncate(self, step: int) -> None:
        """Drop rows of iterations >= ``step`` (they were logged after the checkpoint a resume starts from)."""
        self.rows = [r for r in self.rows if int(r[STEP_KEY]) < step]
        self._write()

    def _write(self) -> None:
        columns: dict[str, None] = {}
        for row in self.rows:
            columns.update(dict.fromkeys(row))
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)


def _parse(value: str) -> float | int | str:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


class RunDir:
    """Owns every file of one run; ``resume=True`` reopens an existing run, else the dir must be new or empty."""

    def __init__(self, path: str | Path, config: Any, *, resume: bool = False, tensorboard: bool = True):
        self.path = Path(path)
        self.ckpt_dir = self.path / "checkpoints"
        config_json = json.dumps(_as_dict(config), indent=2, sort_keys=True, default=str)
        config_file = self.path / "config.json"
        if resume:
            if not config_file.is_file():
                raise ConfigError("resume", str(self.path), "an existing run dir (config.json missing); drop --resume to start a new run")
            if config_file.read_text() != config_json:
                logger.warning("config of %s differs from the one it was started with; resuming with the new one", self.path)
        elif config_file.exists():
            raise ConfigError("out", str(self.path), "a new run dir; this one holds a run already (pass --resume to continue it)")
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        config_file.write_text(config_json)
        self.metrics = CsvLog(self.path / "metrics.csv")
        self.throughput = CsvLog(self.path / "throughput.csv")
        self._tb_enabled = tensorboard
        self._tb: Any = None

    # -- logging --------------------------------------------------------------------------

    def log(self, step: int, metrics: Mapping[str, float], throughput: Mapping[str, float] | None = None) -> None:
        self.metrics.append({STEP_KEY: step, **metrics})
        if throughput:
            self.throughput.append({STEP_KEY: step, **throughput})
        writer = self._writer()
        if writer is not None:
            for key, value in {**metrics, **(throughput or {})}.items():
                writer.add_scalar(key, float(value), step)
            writer.flush()

    def _writer(self) -> Any:
        if self._tb is None and self._tb_enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.path / "tb"))
        return self._tb

    def save_samples(self, trajectories: Iterable[Trajectory]) -> None:
        save_jsonl(trajectories, self.path / "samples.jsonl", append=True)

    def plot(self, keys: Sequence[str] = CURVE_KEYS, baselines: Mapping[str, Mapping[str, float]] | None = None) -> Path:
        """Write ``curve.png`` (matplotlib Agg) from the metrics rows; returns its path."""
        return plot_curve(self.metrics.rows, self.path / "curve.png", keys, baselines)

    # -- checkpoints ----------------------------------------------------------------------

    def save_checkpoint(self, step: int, state: Mapping[str, Any]) -> Path:
        """Atomically write ``{step, rng, **state}``; keeps the newest ``KEEP_CHECKPOINTS``."""
        import torch

        path = self.ckpt_dir / f"step-{step:06d}.pt"
        tmp = path.with_suffix(".tmp")
        torch.save({"step": step, "rng": capture_rng(), **state}, tmp)
        tmp.replace(path)
        for old in sorted(self.ckpt_dir.glob(CHECKPOINT_GLOB))[:-KEEP_CHECKPOINTS]:
            old.unlink()
        return path

    def latest_checkpoint(self) -> dict[str, Any] | None:
        import torch

        found = sorted(self.ckpt_dir.glob(CHECKPOINT_GLOB))
        if not found:
            return None
        return torch.load(found[-1], weights_only=False)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _as_dict(config: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    return asdict(config) if is_dataclass(config) else config


def plot_curve(
    rows: Sequence[Mapping[str, Any]],
    out: Path,
    keys: Sequence[str] = CURVE_KEYS,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
) -> Path:
    """Write the learning-curve PNG of ``curve_figure`` to ``out``; returns ``out``."""
    import matplotlib.pyplot as plt

    fig = curve_figure(rows, keys, baselines)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def curve_figure(
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str] = CURVE_KEYS,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
) -> Any:
    """A matplotlib figure with one panel per metric in ``keys`` that the rows have, x = iteration.

    ``baselines[key]`` maps labels to values drawn as dashed lines in that panel (e.g. success
    before training); success-rate panels span 0..1 so small wiggles do not look like trends.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [k for k in keys if any(k in r for r in rows)]
    fig, axes = plt.subplots(1, max(len(present), 1), figsize=(4.5 * max(len(present), 1), 3.2), squeeze=False)
    for ax, key in zip(axes[0], present):
        pts = [(r[STEP_KEY], r[key]) for r in rows if key in r]
        ax.plot(*zip(*pts), marker="o" if len(pts) < 30 else None)
        for i, (label, value) in enumerate((baselines or {}).get(key, {}).items()):
            ax.axhline(value, linestyle="--", color=f"C{i + 1}", label=f"{label}: {value:.2f}")
            ax.legend(loc="best", fontsize="small")
        if key.endswith("success"):
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(STEP_KEY)
        ax.set_title(key)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
