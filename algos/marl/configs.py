"""One config dataclass per algorithm (PyMARL2 defaults) and the run config of a training job.

Every field has a default and a one-line help (its docstring, which tyro shows as ``--help``).
``__post_init__`` checks ranges and cross-field consistency and raises
:class:`hiergym.error.ConfigError` naming the field, the value and what is allowed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from hiergym.error import ConfigError

Algo = Literal["iql", "vdn", "qmix", "subgoal-qmix"]
ALGOS: tuple[str, ...] = ("iql", "vdn", "qmix", "subgoal-qmix")


def _check(cond: bool, name: str, value: object, allowed: str) -> None:
    if not cond:
        raise ConfigError(name, value, allowed)


@dataclass
class ValueLearnerConfig:
    """Fields every value-based learner shares (PyMARL2 defaults)."""

    lr: float = 1e-3
    """Adam learning rate."""
    batch_size: int = 128
    """Episodes per gradient step."""
    buffer_size: int = 5000
    """Replay buffer capacity in episodes."""
    gamma: float = 0.99
    """Discount factor."""
    epsilon_start: float = 1.0
    """Exploration rate at step 0."""
    epsilon_finish: float = 0.05
    """Exploration rate after the anneal."""
    epsilon_anneal_steps: int = 100_000
    """Env steps over which epsilon decays linearly."""
    target_update_episodes: int = 200
    """Copy online -> target networks every this many collected episodes."""
    grad_clip: float = 10.0
    """Max global gradient norm."""
    double_q: bool = True
    """Bootstrap with the target net at the online net's (masked) argmax."""
    hidden_dim: int = 64
    """GRU width of the shared agent network."""
    agent_id: bool = True
    """Append the agent-id one-hot to each agent's input (parameter sharing)."""
    last_action: bool = True
    """Append the agent's previous action one-hot to its input."""

    def __post_init__(self) -> None:
        _check(self.lr > 0, "lr", self.lr, "a positive float, e.g. 1e-3")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, "an int >= 1")
        _check(
            self.buffer_size >= self.batch_size,
            "buffer_size",
            self.buffer_size,
            f"an int >= batch_size={self.batch_size} (the buffer must hold one batch)",
        )
        _check(0.0 <= self.gamma <= 1.0, "gamma", self.gamma, "a float in [0, 1]")
        for name in ("epsilon_start", "epsilon_finish"):
            _check(0.0 <= getattr(self, name) <= 1.0, name, getattr(self, name), "a float in [0, 1]")
        _check(self.epsilon_anneal_steps >= 0, "epsilon_anneal_steps", self.epsilon_anneal_steps, "an int >= 0")
        _check(self.target_update_episodes >= 1, "target_update_episodes", self.target_update_episodes, "an int >= 1")
        _check(self.grad_clip > 0, "grad_clip", self.grad_clip, "a positive float")
        _check(self.hidden_dim >= 1, "hidden_dim", self.hidden_dim, "an int >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FlatLearnerConfig(ValueLearnerConfig):
    """Fields of the flat (one-level) learners: IQL, VDN, QMIX."""

    target: Literal["td_lambda", "n_step"] = "td_lambda"
    """Return used as the TD target: TD(lambda) (lambda 0 = one-step) or n-step."""
    td_lambda: float = 0.6
    """Lambda of the TD(lambda) target (PyMARL2's tuned QMIX uses 0.6; 0 = one-step Q-learning)."""
    n_step: int = 3
    """Horizon of the n-step target (used when target = n_step)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.target in ("td_lambda", "n_step"), "target", self.target, "'td_lambda' or 'n_step'")
        _check(0.0 <= self.td_lambda <= 1.0, "td_lambda", self.td_lambda, "a float in [0, 1]")
        _check(self.n_step >= 1, "n_step", self.n_step, "an int >= 1")


@dataclass
class IQLConfig(FlatLearnerConfig):
    """Independent Q-learning: each agent's own Q trained on the team reward, no mixer."""

    algo: Literal["iql"] = "iql"


@dataclass
class VDNConfig(FlatLearnerConfig):
    """VDN: Q_tot = sum of agent Qs."""

    algo: Literal["vdn"] = "vdn"


@dataclass
class QMIXConfig(FlatLearnerConfig):
    """QMIX: monotonic hypernetwork mixer on the global state."""

    algo: Literal["qmix"] = "qmix"
    mixing_embed_dim: int = 32
    """Width of the mixing network's hidden layer."""
    hypernet_embed: int = 64
    """Hidden width of the hypernetworks."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.mixing_embed_dim >= 1, "mixing_embed_dim", self.mixing_embed_dim, "an int >= 1")
        _check(self.hypernet_embed >= 1, "hypernet_embed", self.hypernet_embed, "an int >= 1")


@dataclass
class SubgoalQMIXConfig(ValueLearnerConfig):
    """QMIX-style subgoal HRL: QMIX-mixed high-level subgoal Qs (SMDP targets) + subgoal-conditioned executors."""

    algo: Literal["subgoal-qmix"] = "subgoal-qmix"
    mixing_embed_dim: int = 32
    """Width of the high-level mixing network's hidden layer."""
    hypernet_embed: int = 64
    """Hidden width of the high-level hypernetworks."""
    goal_horizon: int = 4
    """k: new subgoals are chosen every k steps, or earlier when any agent achieves its subgoal."""
    subgoal_ids: tuple[str, ...] = ()
    """Subgoal set: ids from the env's per-agent subgoal lists to use (empty = all the env offers)."""
    mask_achieved: bool = False
    """Hide subgoals the env reports as already achieved (info subgoals_achieved) from the selector.

    Off by default: many subgoals are state predicates an agent must keep true (stand on goal j)."""
    subgoal_choice: Literal["independent", "joint"] = "independent"
    """How the team picks subgoals: each agent its own argmax (independent), or the argmax of the mixed Q_tot over joint picks
    in which no two agents claim the same shared subgoal (joint; the high level then reads the global state when acting)."""
    redecide: Literal["team", "ended"] = "team"
    """Who picks at a decision step: every agent (team), or only the agents whose own subgoal ended (ended: achieved, or their
    own goal_horizon steps elapsed); the others keep theirs, and a joint choice then picks among the joint picks that keep them."""
    subgoal_features: bool = True
    """Show both levels where each subgoal is (offset to its target cell) when the env is a grid with cell targets.

    Without it a label like goal_j (a different cell every episode) cannot be told apart from the observation."""
    subgoal_bonus: float = 1.0
    """Intrinsic reward to an executor on the step it achieves its subgoal."""
    step_cost: float = 0.01
    """Intrinsic cost per executor step that does not achieve the subgoal."""
    low_gamma: float = 0.95
    """Discount of the executors' intrinsic return."""
    low_lr: float = 1e-3
    """Adam learning rate of the executors."""
    low_td_lambda: float = 0.0
    """Lambda of the executors' target (Watkins Q(lambda): the trace stops where the subgoal changes or the taken action is not
    the executor's greedy one for that subgoal); 0 = one-step Q-learning."""
    relabel_subgoals: bool = False
    """Train the executors on every available subgoal at every step (hindsight relabelling: the intrinsic reward each subgoal
    would have paid), not only on the subgoal being pursued."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.goal_horizon >= 1, "goal_horizon", self.goal_horizon, "an int >= 1")
        _check(self.subgoal_choice in ("independent", "joint"), "subgoal_choice", self.subgoal_choice, "'independent' or 'joint'")
        _check(self.step_cost >= 0, "step_cost", self.step_cost, "a float >= 0")
        _check(self.subgoal_bonus > 0, "subgoal_bonus", self.subgoal_bonus, "a positive float")
        _check(0.0 <= self.low_gamma <= 1.0, "low_gamma", self.low_gamma, "a float in [0, 1]")
        _check(self.low_lr > 0, "low_lr", self.low_lr, "a positive float")
        _check(self.redecide in ("team", "ended"), "redecide", self.redecide, "'team' or 'ended'")
        _check(0.0 <= self.low_td_lambda <= 1.0, "low_td_lambda", self.low_td_lambda, "a float in [0, 1]")
        _check(len(set(self.subgoal_ids)) == len(self.subgoal_ids), "subgoal_ids", self.subgoal_ids, "distinct ids")
        self.subgoal_ids = tuple(self.subgoal_ids)


LearnerConfig = IQLConfig | VDNConfig | QMIXConfig | SubgoalQMIXConfig
"""The config of one value-based learner (what ``QLearner`` / ``SubgoalQLearner`` read)."""
CONFIGS: dict[str, type] = {"iql": IQLConfig, "vdn": VDNConfig, "qmix": QMIXConfig, "subgoal-qmix": SubgoalQMIXConfig}


def make_algo_config(algo: str, **overrides: Any) -> LearnerConfig:
    """The config of ``algo`` with ``overrides``; unknown algos or fields raise ConfigError."""
    _check(algo in CONFIGS, "algo", algo, f"one of {ALGOS}")
    cls = CONFIGS[algo]
    known = {f.name for f in fields(cls)} - {"algo"}
    for key in overrides:
        _check(key in known, key, overrides[key], f"a field of {cls.__name__}: {sorted(known)}")
    return cls(**overrides)


@dataclass
class MarlRunConfig:
    """A training run: env, budget, parallel env copies, evaluation, logging and checkpoints."""

    env_id: str = "hiergym/GoalGrid-v0"
    """Registered PettingZoo env id (built with hiergym.make_parallel)."""
    env_kwargs: dict[str, int | float | bool | str] = field(default_factory=dict)
    """Keyword arguments for the env constructor."""
    seed: int = 0
    """Seeds torch, the sampler and the env seed stream (train seeds seed*10^6 + i; eval seeds offset)."""
    total_env_steps: int = 200_000
    """Stop after this many env steps (summed over env copies)."""
    n_envs: int = 8
    """Env copies stepped together (PyMARL2 batch_size_run)."""
    episode_limit: int = 0
    """Truncate episodes at this many steps (0 = the env's own max_steps/max_cycles)."""
    train_steps_per_collect: int = 1
    """Gradient steps after each collection of n_envs episodes."""
    eval_interval_steps: int = 10_000
    """Greedy evaluation every this many env steps."""
    eval_episodes: int = 32
    """Episodes per greedy evaluation (eval seeds, disjoint from training seeds)."""
    checkpoint_interval_steps: int = 50_000
    """Save a checkpoint every this many env steps (and at the end)."""
    run_dir: str = "runs/marl"
    """Run directory (hiergym.runs.RunDir): config.json, metrics.csv, throughput.csv, tb/, curve.png, samples.jsonl, checkpoints/."""
    resume: bool = False
    """Continue from the latest checkpoint in run_dir."""
    num_workers: int = 0
    """0: envs in this process; N > 0: env slots spread over N worker processes (restarted if they crash)."""
    samples_per_eval: int = 2
    """Greedy evaluation episodes written to samples.jsonl per evaluation (one record per agent)."""
    tensorboard: bool = True
    """Also write metrics as TensorBoard events (run_dir/tb)."""
    save_buffer: bool = True
    """Keep the replay buffer in the checkpoint (compactly) so a resumed run continues exactly; off: small checkpoints, resume refills the buffer."""
    plot: bool = True
    """Draw learning_curve.png at the end (matplotlib; benchmarks turn it off to save its import time)."""
    torch_threads: int = 1
    """torch.set_num_threads for the run (small nets: 1 is fastest and fair to other jobs)."""

    def __post_init__(self) -> None:
        for name in ("total_env_steps", "n_envs", "train_steps_per_collect", "eval_interval_steps", "checkpoint_interval_steps", "torch_threads"):
            _check(getattr(self, name) >= 1, name, getattr(self, name), "an int >= 1")
        _check(self.eval_episodes >= 0, "eval_episodes", self.eval_episodes, "an int >= 0")
        _check(self.num_workers >= 0, "num_workers", self.num_workers, "an int >= 0 (0 = envs in this process)")
        _check(self.samples_per_eval >= 0, "samples_per_eval", self.samples_per_eval, "an int >= 0")
        _check(self.episode_limit >= 0, "episode_limit", self.episode_limit, "an int >= 0 (0 = env default)")
        _check(isinstance(self.env_kwargs, dict), "env_kwargs", self.env_kwargs, "a dict of constructor kwargs")


@dataclass
class MarlAlgoConfig:
    """Which value-based learner to train (``name``) and the settings of each (only the selected one is used)."""

    name: Algo = "qmix"
    """Learner: iql, vdn, qmix or subgoal-qmix."""
    iql: IQLConfig = field(default_factory=IQLConfig)
    vdn: VDNConfig = field(default_factory=VDNConfig)
    qmix: QMIXConfig = field(default_factory=QMIXConfig)
    subgoal_qmix: SubgoalQMIXConfig = field(default_factory=SubgoalQMIXConfig)

    def __post_init__(self) -> None:
        _check(self.name in CONFIGS, "algo.name", self.name, f"one of {ALGOS}")

    @property
    def selected(self) -> LearnerConfig:
        return getattr(self, self.name.replace("-", "_"))


@dataclass
class MarlTrainConfig(MarlRunConfig):
    """``hiergym train marl``: the run settings plus the learner (flags, or a .toml/.yaml/.json file)."""

    algo: MarlAlgoConfig = field(default_factory=MarlAlgoConfig)

    def run_config(self) -> MarlRunConfig:
        """The run settings alone (what ``MarlTrainer`` takes next to ``algo.selected``)."""
        return MarlRunConfig(**{f.name: getattr(self, f.name) for f in fields(MarlRunConfig)})
