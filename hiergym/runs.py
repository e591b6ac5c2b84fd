"""A training run on disk: config, metrics (CSV + TensorBoard), learning curve, trajectory samples, checkpoints.

Layout of a run dir::

    config.json          the full run config (written once; a resume checks it is unchanged)
    metrics.csv          one row per iteration: learning metrics only, so a resumed run's rows
                         equal an uninterrupted run's rows exactly (CPU)
    throughput.csv       wall-clock numbers (steps/s, tokens/s, time shares): they differ run to run
    tb/                  TensorBoard events of both
    curve.png            learning curve (training and held-out success, return)
    samples.jsonl        a few sampled trajectories per iteration (``hiergym.types.save_jsonl``),
                         each tagged with its iteration in ``meta["iteration"]``
    checkpoints/step-N.pt  model, trainer (optimizer, scheduler, shuffle RNG), RNG states, step

Checkpoints are written atomically (a temporary file in the same directory, fsync, ``os.replace``)
with a SHA-256 digest beside them (``step-N.pt.sha256``), and verified when loaded: a checkpoint
that does not load (truncated), does not match its digest (bytes changed after it was written:
``torch.load`` reads flipped tensor bytes without complaint) or names another step is skipped with a
warning naming the file and why, and the previous one is used; when checkpoints exist but none is
good, resuming is a ``CheckpointError`` naming them (never a silent restart from step 0). Resuming from step N (``RunDir.resume_at``) cuts
every log back to N: rows and samples of iterations >= N go, so a resumed run's files equal an
uninterrupted run's; a run killed before its first checkpoint resumes from step 0 (fresh logs).
TensorBoard event files are append-only: the events written after step N stay in the old file but
the writer records a purge marker (``SummaryWriter(purge_step=N)``), so TensorBoard hides them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from hiergym.error import ConfigError, HierGymError
from hiergym.types import Trajectory, save_jsonl

logger = logging.getLogger(__name__)

STEP_KEY = "iteration"
"""Column of the step in metrics.csv / throughput.csv, and ``Trajectory.meta`` key of a sample's step."""
CHECKPOINT_GLOB = "step-*.pt"
DIGEST_SUFFIX = ".sha256"
"""A checkpoint's digest file: ``step-N.pt.sha256`` holds the SHA-256 of ``step-N.pt``'s bytes."""
KEEP_CHECKPOINTS = 2
CURVE_KEYS = ("success", "eval_success", "return")
CURVE_LABELS = {
    "success": ("training batches: success", "success rate"),
    "eval_success": ("held-out: success", "success rate"),
    "return": ("training batches: return", "mean episode return"),
}
"""Panel title and y-axis label per metric key (other keys are shown as they are named)."""


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


class CheckpointError(HierGymError, RuntimeError):
    """A checkpoint that cannot be trusted (truncated, changed since written, another step's), or no good one to resume from."""


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
        def write(f: Any) -> None:
            writer = csv.DictWriter(f, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(self.rows)

        atomic_write(self.path, write, text=True)


def atomic_write(path: Path, write: Callable[[Any], None], *, text: bool = False) -> Path:
    """Write ``path`` all-or-nothing: ``write(f)`` fills a temporary file in the same directory,
    which is flushed, fsynced and renamed over ``path`` (``os.replace`` is atomic on POSIX and Windows)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w" if text else "wb", **({"newline": "", "encoding": "utf-8"} if text else {})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return path


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def truncate_samples(path: Path, step: int) -> int:
    """Drop the trajectories of iterations >= ``step`` from a samples.jsonl file; returns how many were dropped.

    Lines without an iteration tag (written by other tools) are kept.
    """
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            it = json.loads(line).get("meta", {}).get(STEP_KEY)
            if it is not None and int(it) >= step:
                dropped += 1
            else:
                kept.append(line if line.endswith("\n") else line + "\n")
    if dropped:
        atomic_write(path, lambda f: f.writelines(kept), text=True)
    return dropped


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
        self.samples_path = self.path / "samples.jsonl"
        self._tb_enabled = tensorboard
        self._tb: Any = None
        self._tb_purge_step: int | None = None

    def resume_at(self, step: int) -> None:
        """Cut every log back to ``step`` (the checkpoint a resume starts from; 0 = start afresh).

        Rows of metrics.csv / throughput.csv and samples of iterations >= ``step`` are dropped;
        TensorBoard hides its events from ``step`` on (purge marker; the event files are append-only).
        """
        self.metrics.truncate(step)
        self.throughput.truncate(step)
        dropped = truncate_samples(self.samples_path, step)
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        self._tb_purge_step = step
        logger.info("%s: logs cut back to step %d (%d samples dropped)", self.path, step, dropped)

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

            self._tb = SummaryWriter(str(self.path / "tb"), purge_step=self._tb_purge_step)
        return self._tb

    def save_samples(self, trajectories: Iterable[Trajectory], step: int | None = None) -> None:
        """Append trajectories to samples.jsonl; ``step`` tags each (``meta["iteration"]``) so a resume can cut them."""
        if step is not None:
            trajectories = [replace(t, meta={**t.meta, STEP_KEY: int(step)}) for t in trajectories]
        save_jsonl(trajectories, self.samples_path, append=True)

    def plot(self, keys: Sequence[str] = CURVE_KEYS, baselines: Mapping[str, Mapping[str, float]] | None = None, title: str | None = None) -> Path:
        """Write ``curve.png`` (matplotlib Agg) from the metrics rows; returns its path."""
        return plot_curve(self.metrics.rows, self.path / "curve.png", keys, baselines, title=title)

    # -- checkpoints ----------------------------------------------------------------------

    def save_checkpoint(self, step: int, state: Mapping[str, Any]) -> Path:
        """Atomically write ``{step, rng, **state}`` (temp file, fsync, rename) and its SHA-256 digest file;
        keeps the newest ``KEEP_CHECKPOINTS``."""
        import torch

        path = self.ckpt_dir / f"step-{step:06d}.pt"
        payload = {"step": step, "rng": capture_rng(), **state}
        atomic_write(path, lambda f: torch.save(payload, f))
        atomic_write(digest_path(path), lambda f: f.write(f"{file_digest(path)}  {path.name}\n"), text=True)
        for old in sorted(self.ckpt_dir.glob(CHECKPOINT_GLOB))[:-KEEP_CHECKPOINTS]:
            old.unlink()
            digest_path(old).unlink(missing_ok=True)
        return path

    def latest_checkpoint(self) -> dict[str, Any] | None:
        """The newest good checkpoint (loads, matches its digest, names its own step), or None when there is none.

        A bad one is skipped with a warning naming the file and why; if checkpoints exist but none is
        good, ``CheckpointError`` lists them (resuming from step 0 would silently throw the run away).
        """
        errors = []
        for path in sorted(self.ckpt_dir.glob(CHECKPOINT_GLOB), reverse=True):
            try:
                return read_checkpoint(path)
            except CheckpointError as e:
                logger.warning("%s; falling back to the previous one", e)
                errors.append(str(e))
        if errors:
            raise CheckpointError(
                f"no usable checkpoint in {self.ckpt_dir}: " + "; ".join(errors)
                + ". Delete the bad files to start the run afresh, or restore them from a copy."
            )
        return None

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def digest_path(path: Path) -> Path:
    """Where the SHA-256 digest of checkpoint ``path`` is kept (``step-N.pt.sha256``)."""
    return path.with_name(path.name + DIGEST_SUFFIX)


def file_digest(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's state, verified; ``CheckpointError`` naming the file when it is truncated, changed since it
    was written (digest mismatch) or holds another step. A checkpoint without a digest file (written by an
    older version) is loaded unverified, with a warning."""
    import torch

    path = Path(path)
    digest_file = digest_path(path)
    if digest_file.is_file():
        want = digest_file.read_text().split()[0] if digest_file.read_text().strip() else ""
        got = file_digest(path)
        if got != want:
            raise CheckpointError(
                f"checkpoint {path} does not match its digest in {digest_file.name} (sha256 {got[:12]}... != {want[:12]}...): "
                "it was truncated or changed after it was written"
            )
    else:
        logger.warning("checkpoint %s has no digest file; loading it unverified", path)
    try:
        state = torch.load(path, weights_only=False, map_location="cpu")
    except Exception as e:  # torch raises RuntimeError, EOFError, UnpicklingError, ... for a damaged file
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
    expected = int(path.stem.split("-")[-1])
    if not isinstance(state, dict) or state.get("step") != expected:
        raise CheckpointError(f"checkpoint {path} does not hold step {expected} (it says {state.get('step') if isinstance(state, dict) else type(state).__name__})")
    return state


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """A checkpoint's state, or None (with a warning naming the file and why) when it cannot be trusted."""
    try:
        return read_checkpoint(path)
    except CheckpointError as e:
        logger.warning("%s", e)
        return None


def _as_dict(config: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    return asdict(config) if is_dataclass(config) else config


def plot_curve(
    rows: Sequence[Mapping[str, Any]],
    out: Path,
    keys: Sequence[str] = CURVE_KEYS,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
    *,
    title: str | None = None,
) -> Path:
    """Write the learning-curve PNG of ``curve_figure`` to ``out``; returns ``out``."""
    import matplotlib.pyplot as plt

    fig = curve_figure(rows, keys, baselines, title=title)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def curve_figure(
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str] = CURVE_KEYS,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
    *,
    title: str | None = None,
) -> Any:
    """A matplotlib figure with one panel per metric in ``keys`` that the rows have, x = iteration.

    ``baselines[key]`` maps labels to values drawn as dashed lines in that panel (e.g. success
    before training); success-rate panels span 0..1 so small wiggles do not look like trends.
    Panels are titled and labelled from ``CURVE_LABELS``; ``title`` names the run (task, algorithm).
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
        panel_title, y_label = CURVE_LABELS.get(key, (key, key))
        ax.set_xlabel(STEP_KEY)
        ax.set_ylabel(y_label)
        ax.set_title(panel_title)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
