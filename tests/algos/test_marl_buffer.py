"""Episode replay buffer: insert, ring overwrite, uniform sampling, time cropping, exact state restore."""

import numpy as np
import pytest

from hiergym.algos.marl.buffer import EpisodeBuffer, Field, episode_fields

FIELDS = {"x": Field((2,), np.float32, per_state=True), "mask": Field((), np.float32)}


def episodes(lengths, start=0, max_steps=5):
    n = len(lengths)
    x = np.zeros((n, max_steps + 1, 2), np.float32)
    x[:, :, 0] = np.arange(start, start + n)[:, None]
    mask = (np.arange(max_steps)[None] < np.array(lengths)[:, None]).astype(np.float32)
    return {"x": x, "mask": mask}


def test_insert_sample_and_crop_to_longest_episode():
    buf = EpisodeBuffer(4, 5, FIELDS)
    buf.insert(episodes([2, 3]))
    batch = buf.sample(2, np.random.default_rng(0))
    assert batch["mask"].shape == (2, 3) and batch["x"].shape == (2, 4, 2)
    assert sorted(batch["x"][:, 0, 0]) == [0.0, 1.0]


def test_ring_buffer_overwrites_oldest():
    buf = EpisodeBuffer(3, 5, FIELDS)
    buf.insert(episodes([1, 1], start=0))
    buf.insert(episodes([1, 1], start=2))
    assert len(buf) == 3 and buf.episodes_seen == 4
    assert sorted(buf.data["x"][:, 0, 0]) == [1.0, 2.0, 3.0]


def test_sampling_is_uniform_without_replacement():
    buf = EpisodeBuffer(10, 5, FIELDS)
    buf.insert(episodes([1] * 10))
    rng = np.random.default_rng(0)
    counts = np.zeros(10)
    for _ in range(2000):
        ids = buf.sample(3, rng)["x"][:, 0, 0].astype(int)
        assert len(set(ids)) == 3
        counts[ids] += 1
    assert counts.min() > 0.8 * counts.mean() and counts.max() < 1.2 * counts.mean()


def test_bad_input_is_a_clear_error():
    buf = EpisodeBuffer(3, 5, FIELDS)
    with pytest.raises(ValueError, match="cannot sample"):
        buf.sample(1, np.random.default_rng(0))
    with pytest.raises(KeyError, match="lacks buffer fields"):
        buf.insert({"mask": np.zeros((1, 5), np.float32)})
    with pytest.raises(ValueError, match="field 'x' has shape"):
        buf.insert({"x": np.zeros((1, 4, 2)), "mask": np.zeros((1, 5))})


def test_state_dict_round_trip():
    buf = EpisodeBuffer(3, 5, FIELDS)
    buf.insert(episodes([2, 4]))
    other = EpisodeBuffer(3, 5, FIELDS)
    other.load_state_dict({k: (dict((n, a.copy()) for n, a in v.items()) if k == "data" else v) for k, v in buf.state_dict().items()})
    a, b = buf.sample(2, np.random.default_rng(1)), other.sample(2, np.random.default_rng(1))
    assert all(np.array_equal(a[k], b[k]) for k in a) and other.pos == buf.pos


def test_episode_fields_add_subgoal_columns_only_for_hrl():
    assert "subgoal" not in episode_fields(2, 3, 4, 5)
    hrl = episode_fields(2, 3, 4, 5, n_subgoals=6)
    assert hrl["subgoal_avail"].shape == (2, 6) and hrl["subgoal_avail"].per_state
