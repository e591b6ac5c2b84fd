"""GRPO on Sokoban 6x6 with a tiny LM, from a ready config file (CPU, ~10 minutes).

GRPO gives every turn of an episode the same advantage, z(R_i) within its group of G copies
of the task; compare with examples/train_gigpo_sokoban.py (GiGPO adds anchor-state step groups).
The config file holds every knob; flags of `hiergym train llm` override it:

    hiergym train llm --config-file examples/configs/grpo_sokoban.toml --iterations 20
"""

import logging
from pathlib import Path

from hiergym.training import load_config, train

logging.basicConfig(level=logging.INFO)
config = load_config(Path(__file__).parent / "configs" / "grpo_sokoban.toml")
result = train(config)
for iteration, success in sorted(result.eval_success.items()):
    print(f"iteration {iteration:3d}: held-out success {success:.0%}")
print(f"learning curve: {result.run_dir / 'curve.png'}")
