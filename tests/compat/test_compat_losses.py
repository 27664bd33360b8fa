"""fastreid's loss functions: the same values without reading the device back."""
import os
import sys

import pytest
import torch

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal import compat


def reads(fn, *args):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "modeling"))
    from host_reads import HostReads
    counter = HostReads()
    with counter:
        out = fn(*args)
    return out, sum(counter.where.values())


@pytest.mark.parametrize("eps", [0.1, 0.0, -1.0])
def test_cross_entropy_is_fastreids_value_without_a_host_read(eps):
    import fastreid.modeling.losses.cross_entroy_loss as module
    from fastreid.modeling.meta_arch import baseline
    torch.manual_seed(0)
    logits = torch.randn(6, 5, requires_grad=True)
    targets = torch.tensor([0, 1, 2, 3, 4, 0])
    if eps == 0.0:  # rows the model gets exactly right have a zero loss and are not counted
        logits = logits.detach().clone()
        logits[:2] = torch.tensor([[200., 0, 0, 0, 0], [0, 200., 0, 0, 0]])
        logits.requires_grad_(True)
    stock = compat.original(module, "cross_entropy_loss")
    expected, stock_reads = reads(stock, logits, targets, eps)
    value, fixed_reads = reads(module.cross_entropy_loss, logits, targets, eps)
    assert torch.equal(value, expected) and (stock_reads, fixed_reads) == (1, 0)
    assert baseline.cross_entropy_loss is module.cross_entropy_loss  # the Baseline uses the fix too
    if eps == 0.0:
        per_row = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
        assert (per_row[:2] == 0).all() and torch.allclose(value, per_row.sum() / 4)


@pytest.mark.parametrize("margin,norm_feat,hard", [(0.0, False, True), (0.3, False, True),
                                                   (0.0, True, False)])
def test_triplet_is_fastreids_value_without_a_host_read(margin, norm_feat, hard):
    module = sys.modules["fastreid.modeling.losses.triplet_loss"]  # (the package's name is the function)
    torch.manual_seed(0)
    emb, targets = torch.randn(8, 4), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    stock = compat.original(module, "triplet_loss")
    expected, stock_reads = reads(stock, emb, targets, margin, norm_feat, hard)
    value, fixed_reads = reads(module.triplet_loss, emb, targets, margin, norm_feat, hard)
    assert torch.equal(value, expected) and fixed_reads == 0
    assert stock_reads == (1 if margin == 0 else 0)  # the soft margin's `loss == inf`


def test_an_overflowing_soft_margin_falls_back_as_fastreids_does():
    module = sys.modules["fastreid.modeling.losses.triplet_loss"]  # (the package's name is the function)
    emb = torch.tensor([[0.], [100.], [1.], [2.]])  # d_an - d_ap = -99: exp(99) overflows
    targets = torch.tensor([0, 0, 1, 1])
    expected = compat.original(module, "triplet_loss")(emb, targets, 0.0, False, True)
    value = module.triplet_loss(emb, targets, 0.0, False, True)
    assert torch.isfinite(expected) and torch.equal(value, expected)
