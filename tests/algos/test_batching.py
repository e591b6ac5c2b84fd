"""build_batch: one row per generation, right padding, masks on policy tokens only, advantages broadcast."""

import numpy as np
import pytest
import torch

from hiergym.algos import build_batch
from hiergym.algos.batching import microbatch_indices, select_rows
from hiergym.types import Generation, Trajectory, Turn

PAD = 0


def _gen(prompt, response, role="policy"):
    return Generation(prompt, response, [-0.1 * (i + 1) for i in range(len(response))], "txt", role=role)


def _trajectories():
    t0 = Trajectory("g0", "env", 0, turns=[
        Turn("obs a", "go", generations=[_gen([11, 12], [13, 14]), _gen([21], [22], role="planner")]),
        Turn("obs b", "go", generations=[_gen([11, 12, 13, 14, 15], [16])]),
    ])
    t1 = Trajectory("g0", "env", 1, turns=[Turn("obs c", "go", generations=[_gen([31], [32, 33, 34])])])
    return [t0, t1]


def test_rows_masks_and_padding():
    batch = build_batch(_trajectories(), [np.array([0.5, -1.0]), np.array([2.0])], pad_token_id=PAD)
    assert batch.role == ["policy", "planner", "policy", "policy"]
    torch.testing.assert_close(batch.input_ids, torch.tensor([
        [11, 12, 13, 14, 0, 0],
        [21, 22, 0, 0, 0, 0],
        [11, 12, 13, 14, 15, 16],
        [31, 32, 33, 34, 0, 0],
    ]))
    torch.testing.assert_close(batch.attention_mask, torch.tensor([
        [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0],
    ]))
    # only the generated tokens are trained on; the prompt (env text) is masked even when it is long
    torch.testing.assert_close(batch.response_mask, torch.tensor([
        [0, 0, 1, 1, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0, 1, 1, 1, 0, 0],
    ]))
    # sampling log-probs sit on their response tokens; the turn's advantage on every response token of its rows
    torch.testing.assert_close(batch.old_logprobs[0], torch.tensor([0, 0, -0.1, -0.2, 0, 0]))
    torch.testing.assert_close(batch.old_logprobs[3], torch.tensor([0, -0.1, -0.2, -0.3, 0, 0]))
    torch.testing.assert_close(batch.advantages[0], torch.tensor([0, 0, 0.5, 0.5, 0, 0]))
    torch.testing.assert_close(batch.advantages[1], torch.tensor([0, 0.5, 0, 0, 0, 0]))  # planner row, same turn
    torch.testing.assert_close(batch.advantages[2], torch.tensor([0, 0, 0, 0, 0, -1.0]))
    torch.testing.assert_close(batch.advantages[3], torch.tensor([0, 2.0, 2.0, 2.0, 0, 0]))


def test_roles_filter_and_errors():
    trajs, adv = _trajectories(), [np.zeros(2), np.zeros(1)]
    assert build_batch(trajs, adv, pad_token_id=PAD, roles={"planner"}).role == ["planner"]
    with pytest.raises(ValueError, match="no generation .* roles \\['executor'\\]"):
        build_batch(trajs, adv, pad_token_id=PAD, roles={"executor"})
    with pytest.raises(ValueError, match="trajectory 1 .* 1 turns but 2 advantages"):
        build_batch(trajs, [np.zeros(2), np.zeros(2)], pad_token_id=PAD)
    with pytest.raises(ValueError, match="1 advantage arrays for 2 trajectories"):
        build_batch(trajs, [np.zeros(2)], pad_token_id=PAD)


def test_empty_responses_are_skipped():
    traj = Trajectory("g", "env", 0, turns=[Turn("o", None, generations=[_gen([1, 2], []), _gen([1], [5])])])
    batch = build_batch([traj], [[1.0]], pad_token_id=PAD)
    assert len(batch) == 1 and batch.input_ids.tolist() == [[1, 5]]


def test_microbatches_respect_the_token_budget():
    attention = torch.tensor([[1] * 4 + [0] * 2, [1] * 2 + [0] * 4, [1] * 6, [1] * 1 + [0] * 5])
    # rows 0+1: 2 x 4 = 8 <= 8; adding row 2 would be 3 x 6 = 18; row 2 alone 6; rows 2+3: 2 x 6 = 12 > 8
    assert list(microbatch_indices(attention, 8)) == [[0, 1], [2], [3]]
    assert list(microbatch_indices(attention, 3)) == [[0], [1], [2], [3]]  # a row over budget goes alone
    assert list(microbatch_indices(attention, 10_000)) == [[0, 1, 2, 3]]


def test_select_rows_trims_trailing_padding():
    batch = build_batch(_trajectories(), [np.zeros(2), np.zeros(1)], pad_token_id=PAD)
    sub = select_rows(batch, [1, 3])
    assert sub.input_ids.tolist() == [[21, 22, 0, 0], [31, 32, 33, 34]] and sub.role == ["planner", "policy"]
