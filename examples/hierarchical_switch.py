"""A hierarchical agent in switch mode (HiPER style) trained with HRPO on a Household task, tiny model, CPU.

Every step is one generation ``<switch>KEEP|SWITCH</switch><subgoal>...</subgoal><action>...</action>``:
SWITCH (or a subgoal while none is open) opens a new segment that ``SubgoalHooks`` checks and records.
The generation is split at the end of its switch/subgoal part into a planner record and an executor
record, so HRPO trains the decision to switch and the subgoal text with the macro advantage and the
action with the micro advantage. One shared model plays both parts.

    python examples/hierarchical_switch.py                    # small: ~26 CPU-seconds (measured; wall time grows with load)
    python examples/hierarchical_switch.py --iterations 40 --warm-start-steps 300

Same run from the command line:

    hiergym train llm --agent hierarchical --mode switch --algo.name hrpo --env.env-id hiergym/Household-PickClean-v0 ...

A runnable recipe, not a measurement (see hierarchical_blueprint.py for the flags).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hierarchical_blueprint import main  # noqa: E402  (one recipe, two modes)

if __name__ == "__main__":
    main(mode="switch")
