"""The CA-Classifier's background rule, attention and L_aux on constructed inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from larvseg.train.ca.attention import (
    CAClassifierLoss,
    attention_maps,
    ca_auxiliary_loss,
    select_background,
)
from larvseg.train.ca.memory_bank import MemoryBank
from larvseg.train.losses import image_label_loss, label_pairs, other_labels, pair_label_losses


def test_select_background_single_label_rules() -> None:
    fg = [0.9, 0.8, 0.1, 0.0]
    maps = [
        fg,  # 0: the label
        [0.0, 0.1, 0.8, 0.9],  # 1: confident, different map -> background
        [0.8, 0.7, 0.2, 0.1],  # 2: confident, same map shape as fg -> rejected
        [0.0, 0.1, 0.3, 0.3],  # 3: different but below 0.35 -> rejected
        [0.1, 0.0, 0.9, 0.8],  # 4: confident, different, bank not ready -> rejected
    ]
    cosine = torch.tensor(maps).reshape(1, 5, 2, 2)
    labels = torch.tensor([[0]])
    ready = torch.tensor([True, True, True, True, False])
    selected = select_background(cosine, labels, ready)
    assert selected.tolist() == [[False, True, False, False, False]]
    all_ready = select_background(cosine, labels, torch.ones(5, dtype=torch.bool))
    assert all_ready.tolist() == [[False, True, False, False, True]]


def test_select_background_multi_label_uses_other_ready_labels() -> None:
    cosine = torch.zeros(2, 4, 2, 2)  # image 1: every class below the score threshold
    labels = torch.tensor([[0, 2, 3], [1, -1, -1]])
    ready = torch.tensor([True, True, True, False])
    selected = select_background(cosine, labels, ready)
    assert selected.tolist() == [
        [False, False, True, False],  # pair (0, 0): label 2 (3 not ready)
        [True, False, False, False],  # pair (0, 2): label 0
        [True, False, True, False],  # pair (0, 3): labels 0 and 2
        [False, False, False, False],  # pair (1, 1): one label, no class scores high
    ]


def test_select_background_one_label_image_of_a_multi_label_batch_uses_scores() -> None:
    """An image with a single label takes the score rule, whatever its neighbours hold."""
    fg, other = [0.9, 0.8, 0.1, 0.0], [0.0, 0.1, 0.8, 0.9]
    cosine = torch.tensor([[fg, other, fg], [other, fg, fg]]).reshape(2, 3, 2, 2)
    labels = torch.tensor([[0, 2], [1, -1]])
    selected = select_background(cosine, labels, torch.ones(3, dtype=torch.bool))
    assert selected.tolist() == [
        [False, False, True],  # image 0 has two labels: the other one
        [True, False, False],
        [True, False, False],  # image 1, label 1: class 0 is confident and anti-correlated
    ]


def test_attention_maps_equal_direct_formula() -> None:
    generator = torch.Generator().manual_seed(3)
    pixels = F.normalize(torch.randn(2, 6, 3, 4, generator=generator), dim=1)
    means = torch.randn(5, 6, generator=generator)
    image_index = torch.tensor([0, 1, 1])
    label = torch.tensor([2, 0, 4])
    bg = torch.tensor(
        [[True, False, False, True, False], [False, False, False, False, False], [1, 1, 0, 0, 0]]
    ).bool()
    got = attention_maps(pixels, image_index, means[label], means, bg)
    for p in range(3):
        f = pixels[image_index[p]]
        s_fg = torch.einsum("dhw,d->hw", f, means[label[p]])
        bg_classes = bg[p].nonzero().flatten().tolist()
        scores = [torch.einsum("dhw,d->hw", f, means[b]) for b in bg_classes]
        s_bg = torch.stack(scores).mean(0) if scores else 1 - s_fg
        diff = s_fg - s_bg
        z = (diff - diff.mean()) / (diff.std(unbiased=False) + 1e-5)
        torch.testing.assert_close(got[p], torch.sigmoid(z), atol=1e-5, rtol=0)


def test_aux_loss_with_unit_attention_is_image_label_loss() -> None:
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 5, 3, 3, generator=generator, requires_grad=True)
    labels = torch.tensor([[0, 3], [4, -1]])
    ones = torch.ones(3, 3, 3)
    loss = ca_auxiliary_loss(logits, ones, labels, torch.ones(3, dtype=torch.bool))
    torch.testing.assert_close(loss, image_label_loss(logits, labels))
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_aux_loss_warm_up_pairs_contribute_zero() -> None:
    generator = torch.Generator().manual_seed(5)
    logits = torch.randn(2, 5, 3, 3, generator=generator)
    labels = torch.tensor([[0, 3], [4, -1]])
    attention = torch.rand(3, 3, 3, generator=generator)
    image_index, label = label_pairs(labels)
    weighted = logits[image_index] * attention[:, None]
    per_pair = pair_label_losses(weighted, label, other_labels(labels, 5))
    active = torch.tensor([True, False, True])
    loss = ca_auxiliary_loss(logits, attention, labels, active)
    torch.testing.assert_close(loss, (per_pair[0] + per_pair[2]) / 3)
    assert float(ca_auxiliary_loss(logits, attention, labels, torch.zeros(3).bool())) == 0


def test_ca_classifier_loss_warm_up_update_and_gradients() -> None:
    generator = torch.Generator().manual_seed(6)
    pixels = F.normalize(torch.randn(2, 8, 4, 4, generator=generator), dim=1).requires_grad_()
    cosine = torch.rand(2, 3, 4, 4, generator=generator)
    logits = torch.randn(2, 3, 4, 4, generator=generator, requires_grad=True)
    labels = torch.tensor([[0, 2], [1, -1]])
    class_ids = torch.tensor([7, 3, 9])
    bank = MemoryBank(10, 8, size=2, topk=3)
    ca = CAClassifierLoss()
    for step in range(3):
        loss, (ids, entries) = ca(pixels, cosine, logits, labels, class_ids, bank)
        assert (float(loss.detach()) > 0) == (step == 2)  # banks full after 2 updates
        assert ids.tolist() == [7, 9, 3] and entries.shape == (3, 8)
        assert not entries.requires_grad
        bank.update(ids, entries)
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert pixels.grad is None  # attention and bank entries are not trained


def test_ca_classifier_loss_single_label_bf16_inputs() -> None:
    generator = torch.Generator().manual_seed(7)
    pixels = F.normalize(torch.randn(2, 8, 4, 4, generator=generator), dim=1).bfloat16()
    cosine = torch.rand(2, 4, 4, 4, generator=generator).bfloat16()
    logits = torch.randn(2, 4, 4, 4, generator=generator).bfloat16().requires_grad_()
    labels = torch.tensor([[1], [3]])
    bank = MemoryBank(4, 8, size=1, topk=2)
    bank.update(torch.arange(4), torch.randn(4, 8, generator=generator))
    loss, (_, entries) = CAClassifierLoss()(pixels, cosine, logits, labels, torch.arange(4), bank)
    assert loss.dtype == torch.float32 and torch.isfinite(loss) and float(loss.detach()) > 0
    assert entries.dtype == torch.float32


def test_ca_classifier_loss_without_labels() -> None:
    logits = torch.randn(2, 4, 3, 3, requires_grad=True)
    pixels = F.normalize(torch.randn(2, 8, 3, 3), dim=1)
    loss, (ids, entries) = CAClassifierLoss()(
        pixels,
        torch.rand(2, 4, 3, 3),
        logits,
        torch.full((2, 1), -1),
        torch.arange(4),
        MemoryBank(5, 8, size=1),
    )
    assert float(loss.detach()) == 0 and loss.requires_grad
    assert ids.shape == (0,) and entries.shape == (0, 8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_ca_classifier_loss_cuda_bf16_autocast() -> None:
    device = torch.device("cuda")
    generator = torch.Generator().manual_seed(8)
    features = torch.randn(2, 8, 4, 4, generator=generator).to(device)
    class_embed = torch.randn(4, 8, generator=generator).to(device).requires_grad_()
    labels = torch.tensor([[1, 2], [3, -1]], device=device)
    bank = MemoryBank(6, 8, size=1, topk=2).to(device)
    bank.update(torch.arange(6, device=device), torch.randn(6, 8, device=device))
    with torch.autocast("cuda", torch.bfloat16):
        pixels = F.normalize(features, dim=1)
        cosine = torch.einsum("bdhw,cd->bchw", pixels, F.normalize(class_embed, dim=1))
        logits = cosine * 10
    loss, (ids, entries) = CAClassifierLoss()(
        pixels, cosine, logits, labels, torch.arange(4, device=device), bank
    )
    loss.backward()
    assert torch.isfinite(loss) and class_embed.grad is not None
    bank.update(ids, entries)
    assert bank.storage.is_cuda and entries.dtype == torch.float32
