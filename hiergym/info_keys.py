"""The one table of every ``info`` key hiergym envs and wrappers write.

Envs, wrappers and the collector use these constants, never string literals,
so a key is documented exactly once (``InfoKeys.describe()`` prints the table).
"""

from __future__ import annotations


class InfoKeys:
    """Documented ``info`` dict keys. Values are the literal key strings."""

    # --- written by environments -------------------------------------------------
    ADMISSIBLE_ACTIONS = "admissible_actions"
    WON = "won"
    LOST = "lost"
    ACTION_VALID = "action_valid"
    ACTION_FORMAT_OK = "action_format_ok"
    ACTION_ADMISSIBLE = "action_admissible"
    ACTION_EFFECTIVE = "action_effective"
    ANCHOR_STATE = "anchor_state"
    SUBGOALS = "subgoals"
    SUBGOALS_ACHIEVED = "subgoals_achieved"
    OPTIMAL_LENGTH = "optimal_length"
    SCORE = "score"
    MAX_SCORE = "max_score"
    TASK = "task"
    ACTION_MASK = "action_mask"
    # --- written by wrappers -----------------------------------------------------
    ANCHOR = "anchor"
    RAW_ACTION = "raw_action"
    PARSED_ACTION = "parsed_action"
    SUBGOAL = "subgoal"
    SUBGOAL_DONE = "subgoal_done"
    SEGMENT_START = "segment_start"
    SEGMENT_END = "segment_end"
    INTRINSIC_REWARD = "intrinsic_reward"
    ENV_REWARD = "env_reward"
    SWITCH = "switch"
    THINK = "think"
    PROPOSED_SUBGOAL = "proposed_subgoal"
    PARSE_ERROR = "parse_error"
    RAW_OBSERVATION = "raw_observation"
    # --- written by agents (merged into Turn.info by the collector) ------------------
    PLAN = "plan"
    PLAN_FORMAT_OK = "plan_format_ok"
    PLAN_ERROR = "plan_error"
    PLANNER_PENALTY = "planner_penalty"

    _DOCS: dict[str, str] = {
        ADMISSIBLE_ACTIONS: "list[str]: commands that are legal in the current state (when the env knows them)",
        WON: "bool: the task was completed successfully",
        LOST: "bool: the episode ended in failure inside the task (e.g. TextWorld death)",
        ACTION_VALID: "bool: action_format_ok and action_admissible",
        ACTION_FORMAT_OK: "bool: the LLM text parsed into a command",
        ACTION_ADMISSIBLE: "bool: the command is legal in this state",
        ACTION_EFFECTIVE: "bool: the command changed the true state",
        ANCHOR_STATE: "str | tuple: canonical, hashable description of the true state",
        SUBGOALS: "list[Subgoal]: the task's subgoals, in intended order",
        SUBGOALS_ACHIEVED: "list[str]: ids of subgoals achieved so far, in order of achievement",
        OPTIMAL_LENGTH: "int: length of a shortest solution from the start state (when a solver exists)",
        SCORE: "float: the game's own score so far (TextWorld)",
        MAX_SCORE: "float: the game's maximum score (TextWorld)",
        TASK: "str: the task / goal description an agent must read (instruction, quest)",
        ACTION_MASK: "np.ndarray[int8]: 1 for legal discrete actions (multi-agent envs)",
        ANCHOR: "str: blake2b hex digest of anchor_state (AnchorHash), the GiGPO step-group key",
        RAW_ACTION: "str: the unparsed LLM text (TextActions)",
        PARSED_ACTION: "str | None: the command parsed from the LLM text, None when malformed (TextActions)",
        SUBGOAL: "str | None: the subgoal pursued on this step (SubgoalHooks; None at reset and outside segments)",
        SUBGOAL_DONE: "bool: the current subgoal was achieved on this step (SubgoalHooks)",
        SEGMENT_START: "bool: an executor segment starts on this step (SubgoalHooks)",
        SEGMENT_END: "bool: the executor segment ends on this step (subgoal done or k steps) (SubgoalHooks)",
        INTRINSIC_REWARD: "float: the subgoal bonus and step cost added on this step (SubgoalHooks)",
        ENV_REWARD: "float: the env's reward before any wrapper reshaped it",
        SWITCH: "str | None: KEEP or SWITCH decision parsed from <switch> (TextActions)",
        THINK: "str | None: the <think> text, kept for logging (TextActions)",
        PROPOSED_SUBGOAL: "str | None: subgoal text parsed from <subgoal> (TextActions); SubgoalHooks may adopt it",
        PARSE_ERROR: "str | None: why the LLM text did not parse, None when it did (TextActions)",
        RAW_OBSERVATION: "str: the env observation before History rendered it into a prompt (History)",
        PLAN: "list[str]: the blueprint a planner wrote on this step, subgoals matched to the env's texts (HierarchicalAgent)",
        PLAN_FORMAT_OK: "bool: the planner's answer on this step held a usable plan (HierarchicalAgent)",
        PLAN_ERROR: "str | None: what was wrong with the plan: unparsable, empty, repeats or too long (HierarchicalAgent)",
        PLANNER_PENALTY: "float: format penalty (<= 0) of the planner's answer on this step, added to the plan's return by HRPO",
    }

    @classmethod
    def all(cls) -> list[str]:
        """Every documented key."""
        return list(cls._DOCS)

    @classmethod
    def describe(cls) -> str:
        """The table as text: one ``key: meaning`` line per key."""
        return "\n".join(f"{k}: {v}" for k, v in cls._DOCS.items())
