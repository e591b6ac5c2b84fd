"""The boundaries of the data flow (docs/design.md, section 1), checked statically on every module.

Rules, each checked over the AST of every library module (found through ``pyproject.toml``'s
``package-dir``, so ``envs/`` is ``hiergym.envs`` and so on):

1. **Layers.** Modules of ``hiergym.envs`` and ``hiergym.wrappers`` import nothing from
   ``hiergym.agents`` or ``hiergym.algos``: absolute imports, relative imports (resolved
   against the module's own package) and ``importlib.import_module("...")`` /
   ``__import__("...")`` with a literal name all count, at any depth (inside functions too).
2. **One rollout loop.** Only the collector package (``hiergym.collector``) may both call a
   policy and step an env. A module outside it fails when it contains a call ``<x>.act(...)``
   *and* a call ``<y>.step(...)`` where ``<y>`` is not an optimiser, LR scheduler, grad scaler,
   trainer or learner (judged by the last name of the receiver, e.g. ``self.optimizer.step()``,
   ``trainer.step(batch)``). Any other ``.step`` receiver counts as an env, so an env named
   ``game`` or ``e`` is caught too; the check is per module, not per function, so splitting a
   hand-written rollout loop over two functions does not hide it.
3. **Optimiser owners.** Only modules under ``hiergym.algos`` (trainers and learners) construct
   a ``torch.optim`` optimiser (``torch.optim.AdamW(...)``, ``optim.Adam(...)``, or a class
   imported from ``torch.optim``).
4. **Light import.** ``import hiergym`` (and the packages that promise it) loads no torch,
   transformers, textworld, web server, ray or vllm: checked in a fresh interpreter.

Each checker is also run on small synthetic modules that break its rule, so it cannot pass
by finding nothing.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_FOR_LOW_LAYERS = ("hiergym.agents", "hiergym.algos")
LOW_LAYERS = ("hiergym.envs", "hiergym.wrappers")
COLLECTOR = "hiergym.collector"
OPTIMISER_OWNERS = "hiergym.algos"
NON_ENV_STEPPERS = ("optim", "sched", "scaler", "trainer", "learner")
HEAVY_MODULES = ("torch", "transformers", "textworld", "fastapi", "uvicorn", "ray", "vllm")
LIGHT_PACKAGES = (
    "hiergym",
    "hiergym.envs",
    "hiergym.wrappers",
    "hiergym.agents",
    "hiergym.algos",
    "hiergym.algos.marl",
    "hiergym.collector",
    "hiergym.training",
)


@dataclass(frozen=True)
class Module:
    """A library module: its dotted name, whether it is a package ``__init__``, and its source."""

    name: str
    is_package: bool
    source: str
    path: Path

    @property
    def package(self) -> str:
        """The package relative imports resolve against."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


def library_modules(root: Path = ROOT) -> list[Module]:
    """Every ``.py`` file of the installed packages, named as it is imported."""
    with open(root / "pyproject.toml", "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    modules: dict[str, Module] = {}
    for package, folder in mapping.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("").parts
            is_package = rel[-1] == "__init__"
            parts = rel[:-1] if is_package else rel
            if any(p.startswith(".") or p == "__pycache__" for p in parts):
                continue
            name = ".".join((package, *parts))
            if name in modules:  # a nested package-dir entry owns it
                continue
            modules[name] = Module(name, is_package, path.read_text(encoding="utf-8"), path)
    return sorted(modules.values(), key=lambda m: m.name)


def in_package(name: str, package: str) -> bool:
    """``name`` is ``package`` or inside it."""
    return name == package or name.startswith(package + ".")


# ------------------------------------------------------------------ rule 1: layers


def imported_names(module: Module) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in the module, relative ones resolved."""
    found = []
    for node in ast.walk(ast.parse(module.source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def layer_violations(modules: list[Module]) -> list[str]:
    """Imports from agents/algos inside envs/wrappers modules."""
    bad = []
    for module in modules:
        if not any(in_package(module.name, layer) for layer in LOW_LAYERS):
            continue
        for line, target in imported_names(module):
            if any(in_package(target, forbidden) for forbidden in FORBIDDEN_FOR_LOW_LAYERS):
                bad.append(f"{module.name}:{line} imports {target}")
    return sorted(set(bad))


# ------------------------------------------------------------------ rule 2: one rollout loop


def _receiver_name(node: ast.expr) -> str:
    """The last name of a call receiver: ``self.env`` -> ``env``, ``envs[i]`` -> ``envs``, ``make()`` -> ``make``."""
    while True:
        if isinstance(node, ast.Attribute):
            return node.attr
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Subscript, ast.Call)):
            node = node.value if isinstance(node, ast.Subscript) else node.func
            continue
        return ""


def act_and_env_step_calls(module: Module) -> tuple[list[int], list[int]]:
    """Lines of ``<x>.act(...)`` calls and of ``<y>.step(...)`` calls on anything but an optimiser/trainer/learner."""
    acts, steps = [], []
    for node in ast.walk(ast.parse(module.source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr == "act":
            acts.append(node.lineno)
        elif node.func.attr == "step":
            receiver = _receiver_name(node.func.value).lower()
            if not any(word in receiver for word in NON_ENV_STEPPERS):
                steps.append(node.lineno)
    return acts, steps


def rollout_loop_violations(modules: list[Module]) -> list[str]:
    """Modules outside the collector that both call a policy's ``act`` and step an env."""
    bad = []
    for module in modules:
        if in_package(module.name, COLLECTOR):
            continue
        acts, steps = act_and_env_step_calls(module)
        if acts and steps:
            bad.append(f"{module.name}: .act( at lines {acts} and env .step( at lines {steps}; rollouts belong in {COLLECTOR}")
    return bad


# ------------------------------------------------------------------ rule 3: optimiser owners


def optimiser_constructions(module: Module) -> list[int]:
    """Lines that construct a ``torch.optim`` optimiser."""
    tree = ast.parse(module.source)
    from_optim = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("torch.optim") and not node.module.startswith("torch.optim.lr_scheduler")
        for alias in node.names
        if alias.name[:1].isupper()
    }
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr[:1].isupper() and _receiver_name(func.value) == "optim":
            lines.append(node.lineno)
        elif isinstance(func, ast.Name) and func.id in from_optim:
            lines.append(node.lineno)
    return lines


def optimiser_owner_violations(modules: list[Module]) -> list[str]:
    """Optimisers constructed outside ``hiergym.algos``."""
    return [
        f"{m.name}: constructs an optimiser at lines {lines}; only learners/trainers in {OPTIMISER_OWNERS} own optimisers"
        for m in modules
        if not in_package(m.name, OPTIMISER_OWNERS) and (lines := optimiser_constructions(m))
    ]


# ------------------------------------------------------------------ the rules on the real code


@pytest.fixture(scope="module")
def modules() -> list[Module]:
    return library_modules()


def test_module_discovery_uses_installed_names(modules: list[Module]) -> None:
    names = {m.name for m in modules}
    assert {"hiergym", "hiergym.envs", "hiergym.wrappers.anchor_hash", "hiergym.algos.loss", "hiergym.agents.llm_agent"} <= names
    assert any(in_package(n, COLLECTOR) for n in names)
    assert len(modules) > 60


def test_envs_and_wrappers_import_nothing_from_agents_or_algos(modules: list[Module]) -> None:
    assert layer_violations(modules) == []


def test_only_the_collector_both_acts_and_steps_envs(modules: list[Module]) -> None:
    assert rollout_loop_violations(modules) == []


def test_the_collector_is_where_acting_and_stepping_happen(modules: list[Module]) -> None:
    # The rule must see real calls: the collector package does call policy.act and env.step.
    collector = [m for m in modules if in_package(m.name, COLLECTOR)]
    acts = [line for m in collector for line in act_and_env_step_calls(m)[0]]
    steps = [line for m in collector for line in act_and_env_step_calls(m)[1]]
    assert acts and steps


def test_only_algos_construct_optimisers(modules: list[Module]) -> None:
    assert optimiser_owner_violations(modules) == []
    assert any(optimiser_constructions(m) for m in modules if in_package(m.name, OPTIMISER_OWNERS))


@pytest.mark.parametrize("package", LIGHT_PACKAGES)
def test_import_loads_no_heavy_module(package: str) -> None:
    code = f"import sys, {package}; print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"import {package} loaded {proc.stdout.strip()}"


# ------------------------------------------------------------------ the checkers on bad examples


def synthetic(name: str, source: str, *, is_package: bool = False) -> Module:
    return Module(name, is_package, textwrap.dedent(source), Path(f"<{name}>"))


@pytest.mark.parametrize(
    "source",
    [
        "from hiergym.agents import LLMAgent\n",
        "import hiergym.algos.loss\n",
        "from hiergym import algos\n",
        "from ...algos import trainer\n",
        "from ... import agents\n",
        "from ...agents.llm_agent import LLMAgent\n",
        "def f():\n    from hiergym.algos.marl import QMixer\n",
        "import importlib\nM = importlib.import_module('hiergym.agents.tiny')\n",
    ],
)
def test_layer_checker_flags_bad_imports(source: str) -> None:
    module = synthetic("hiergym.envs.sokoban.bad", source)
    assert layer_violations([module]), source


@pytest.mark.parametrize(
    "source",
    [
        "from hiergym.types import Turn\n",
        "from .level import Level\n",
        "from ..common import text_space\n",
        "from ..algos import nothing_here\n",  # hiergym.envs.algos, not hiergym.algos
        "from hiergym.error import ConfigError\nimport numpy as np\n",
    ],
)
def test_layer_checker_allows_good_imports(source: str) -> None:
    assert layer_violations([synthetic("hiergym.envs.sokoban.good", source)]) == []


def test_layer_checker_resolves_relative_imports_from_a_package_init() -> None:
    # In hiergym/wrappers/__init__.py, "from ..agents import x" is hiergym.agents.
    module = synthetic("hiergym.wrappers", "from ..agents import backend\n", is_package=True)
    assert layer_violations([module]) == ["hiergym.wrappers:1 imports hiergym.agents", "hiergym.wrappers:1 imports hiergym.agents.backend"]
    # The same import in agents/ itself is not the checker's business.
    assert layer_violations([synthetic("hiergym.agents.x", "from hiergym.algos import loss\n")]) == []


HAND_ROLLED_LOOP = """
def rollout(agent, env):
    obs, info = env.reset(seed=0)
    while True:
        action = agent.act([obs])[0]
        obs, reward, terminated, truncated, info = env.step(action.text)
        if terminated or truncated:
            return
"""

SPLIT_LOOP = """
class Runner:
    def decide(self, obs):
        return self.policy.act(obs)

    def advance(self, action):
        return self.games[0].step(action)
"""

TRAINER_ONLY = """
def update(agent, trainer, optimizer, scheduler, batch):
    actions = agent.act(batch.observations)
    trainer.step(batch)
    optimizer.step()
    scheduler.step()
    self_lr_scheduler = None
"""


def test_rollout_checker_flags_a_hand_rolled_loop() -> None:
    assert rollout_loop_violations([synthetic("hiergym.training.bad", HAND_ROLLED_LOOP)])
    assert rollout_loop_violations([synthetic("hiergym.algos.bad", SPLIT_LOOP)])


def test_rollout_checker_allows_the_collector_and_non_env_steps() -> None:
    assert rollout_loop_violations([synthetic("hiergym.collector.loop", HAND_ROLLED_LOOP)]) == []
    assert rollout_loop_violations([synthetic("hiergym.training.ok", TRAINER_ONLY)]) == []
    # Stepping an env without acting (a wrapper, an expert replay) is fine.
    assert rollout_loop_violations([synthetic("hiergym.wrappers.ok", "def step(self, a):\n    return self.env.step(a)\n")]) == []


def test_optimiser_checker_flags_optimisers_outside_algos() -> None:
    for source in (
        "import torch\nopt = torch.optim.AdamW(params, lr=1e-3)\n",
        "from torch import optim\nopt = optim.Adam(params)\n",
        "from torch.optim import SGD as Plain\nopt = Plain(params, lr=0.1)\n",
    ):
        assert optimiser_owner_violations([synthetic("hiergym.training.bad", source)]), source
        assert optimiser_owner_violations([synthetic("hiergym.algos.trainer", source)]) == []
    assert optimiser_owner_violations([synthetic("hiergym.training.ok", "from torch.optim import Optimizer\ndef f(o: Optimizer): o.zero_grad()\n")]) == []
