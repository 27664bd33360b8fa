import pytest
import torch
from timm.models.vision_transformer import Block

from fastreid_multimodal.modeling.backbones.vit_parts import padding_bias, run_blocks


def blocks():
    torch.manual_seed(0)
    return torch.nn.ModuleList(Block(16, 2) for _ in range(2)).eval(), torch.nn.LayerNorm(16)


def test_padding_hides_the_padded_keys():
    layers, norm = blocks()
    x = torch.randn(2, 5, 16)
    padding = torch.tensor([[False, False, False, True, True]] * 2)
    changed = x.clone()
    changed[:, 3:] = torch.randn(2, 2, 16)  # what sits at padded positions is never attended to
    out, out_changed = run_blocks(layers, norm, x, padding), run_blocks(layers, norm, changed, padding)
    assert torch.allclose(out[:, :3], out_changed[:, :3], atol=1e-6)
    assert not torch.allclose(run_blocks(layers, norm, changed)[:, :3], out[:, :3])


@pytest.mark.parametrize("skip_if_empty", [True, False])
def test_no_padding_gives_what_no_mask_gives_with_or_without_the_check(skip_if_empty):
    """The GPU path (no .any(): the mask is built even when nothing is padded) and the CPU path
    (no mask at all) compute the same attention."""
    layers, norm = blocks()
    x = torch.randn(2, 5, 16)
    empty = torch.zeros(2, 5, dtype=torch.bool)
    bias = padding_bias(empty, x.dtype, skip_if_empty=skip_if_empty)
    assert (bias is None) == skip_if_empty
    if bias is not None:
        assert bias.shape == (2, 1, 1, 5) and not bias.any()
    out = x
    for block in layers:
        out = block(out, attn_mask=bias)
    assert torch.allclose(norm(out), run_blocks(layers, norm, x), atol=1e-6)
    assert padding_bias(empty, x.dtype) is None  # on the CPU the check skips the mask
