"""Value-based multi-agent agents: shared recurrent Q networks and epsilon-greedy action selection.

``QMixAgents`` act for IQL, VDN and QMIX; ``SubgoalQMixAgents`` pair a high-level subgoal
selector with a low-level subgoal-conditioned executor. Learners live in ``hiergym.algos.marl``.
"""

from hiergym.agents.marl.action_selection import LinearSchedule, epsilon_greedy, masked_argmax
from hiergym.agents.marl.controller import QMixAgents, SubgoalQMixAgents
from hiergym.agents.marl.networks import RecurrentQNet

__all__ = [
    "LinearSchedule",
    "QMixAgents",
    "RecurrentQNet",
    "SubgoalQMixAgents",
    "epsilon_greedy",
    "masked_argmax",
]
