"""A private working directory for TextWorld's interpreter, so nothing it writes lands anywhere else.

The Z-machine interpreter (Jericho's frotz) writes save files and transcripts to paths relative
to the process's current directory. Commands that would do so are refused before they reach the
game (``hiergym.envs.tw.text.refusal``); as a second line of defence every call into the
interpreter runs with the current directory switched to a fresh temporary directory owned by the
env, which is removed when the env is closed or garbage-collected.

The current directory is per process, so the switch is made under a lock and undone right after
the call; other threads doing relative-path file I/O during an interpreter call would see the
private directory (hiergym itself does not).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

PRIVATE_DIR_PREFIX = "hiergym-tw-"
_CWD_LOCK = threading.RLock()


class PrivateDir:
    """A temporary directory made on first use; ``inside()`` runs a block with it as current directory."""

    def __init__(self) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def path(self) -> Path | None:
        """The directory, or None before first use and after ``remove()``."""
        return None if self._dir is None else Path(self._dir.name)

    @contextlib.contextmanager
    def inside(self) -> Iterator[Path]:
        """Run the block with the private directory as working directory (created on first use)."""
        if self._dir is None:  # TemporaryDirectory removes itself when garbage-collected or at exit
            self._dir = tempfile.TemporaryDirectory(prefix=PRIVATE_DIR_PREFIX)
        with _CWD_LOCK:
            before = os.getcwd()
            os.chdir(self._dir.name)
            try:
                yield Path(self._dir.name)
            finally:
                os.chdir(before)

    def remove(self) -> None:
        """Delete the directory and everything in it (a later ``inside()`` makes a new one)."""
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
