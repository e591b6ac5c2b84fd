"""Mixers: VDN is the sum; QMIX is monotonic in every agent's Q (dQ_tot/dQ_a >= 0) and has the right shapes."""

import torch

from hiergym.algos.marl.mixers import QMixer, VDNMixer


def test_vdn_is_the_sum():
    q = torch.tensor([[[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]]])
    assert torch.allclose(VDNMixer()(q, None), torch.tensor([[6.0, -0.5]]))


def test_qmix_shapes():
    mixer = QMixer(3, 7, embed_dim=8, hypernet_embed=16)
    assert mixer(torch.randn(4, 5, 3), torch.randn(4, 5, 7)).shape == (4, 5)


def test_qmix_is_monotonic_in_agent_qs_on_random_inputs():
    torch.manual_seed(0)
    for _ in range(5):
        mixer = QMixer(4, 6)
        for p in mixer.parameters():  # random, large weights: monotonicity must not depend on init
            torch.nn.init.normal_(p, std=2.0)
        q = (torch.randn(64, 4) * 5).requires_grad_(True)
        (grad,) = torch.autograd.grad(mixer(q, torch.randn(64, 6)).sum(), q)
        assert (grad >= 0).all()
        assert (grad > 0).any()


def test_qmix_is_state_dependent():
    torch.manual_seed(1)
    mixer = QMixer(2, 3)
    q = torch.tensor([[1.0, 2.0]])
    assert not torch.allclose(mixer(q, torch.zeros(1, 3)), mixer(q, torch.ones(1, 3)))
